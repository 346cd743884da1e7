//! No error message, Display or Debug print ever shows a PAN's digits.

use std::sync::Arc;

use tessera_core::memory::{MemoryKeyRing, MemoryVault};
use tessera_core::*;

const PAN: &str = "4111111111111111";
/// The digits that must never be printed: the PAN's hidden middle.
const MIDDLE: &str = "111111";

fn assert_clean(text: &str) {
    // The suite's independent finder: the PAN in any writing, test PANs'
    // hidden middles, any Luhn-valid number. Its message never quotes `text`.
    tessera_testkit::assert_no_card_numbers("an error or Debug print", text);
    assert!(!text.contains(&PAN[6..12]), "PAN middle printed");
    // No run of 12+ digits at all.
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        assert!(run < 12, "digit run printed");
    }
    let _ = MIDDLE;
}

#[test]
fn errors_never_print_input() {
    let inputs = [
        PAN,
        "4111111111111112",
        "411111111111111111111",
        "4111a11111111111",
        "41111111111",
    ];
    for input in inputs {
        if let Err(e) = Pan::parse(input) {
            assert_clean(&format!("{e} {e:?}"));
        }
        if let Err(e) = Token::parse(input) {
            assert_clean(&format!("{e} {e:?}"));
        }
    }
    let all: Vec<Box<dyn std::fmt::Debug>> = vec![
        Box::new(Error::NotFound),
        Box::new(Error::BatchTooLarge),
        Box::new(Error::Contention),
        Box::new(Error::Integrity(IntegrityError)),
        Box::new(Error::Expiry(ExpiryError::CardExpired)),
        Box::new(MetadataError::LooksLikePan),
        Box::new(KeyLengthError { got: 3 }),
    ];
    for e in all {
        assert_clean(&format!("{e:?}"));
    }
    let md = std::collections::BTreeMap::from([("note".to_owned(), PAN.to_owned())]);
    let e = Metadata::new(md).expect_err("refused");
    assert_clean(&format!("{e} {e:?}"));
}

#[tokio::test]
async fn debug_of_pan_holding_types_is_redacted() {
    let pan = Pan::parse(PAN).expect("valid");
    let request = TokenizeRequest::new(pan.clone());
    assert_clean(&format!("{pan:?} {pan} {request:?} {request:#?}"));

    let vault = Arc::new(MemoryVault::new());
    let keyring = Arc::new(MemoryKeyRing::new("ctx"));
    let ports = Ports {
        clock: Arc::new(SystemClock),
        rng: Arc::new(OsRandom),
        vault_id: "v".into(),
    };
    let key = FingerprintKey::new(&[1; 32], "v1").expect("key");
    let tokenizer = Tokenizer::new(
        ports.clone(),
        vault.clone(),
        keyring.clone(),
        Fingerprinter::new(&key),
        CacheLimits::default(),
    );
    let fpe = TokenizeRequest {
        format: TokenFormat::Fpe,
        ..TokenizeRequest::new(pan.clone())
    };
    let issued = tokenizer.tokenize(&fpe).await.expect("tokenize");
    let detokenizer = Detokenizer::new(
        ports,
        vault.clone(),
        keyring.clone(),
        CacheLimits::default(),
    );
    let back = detokenizer
        .detokenize(&issued.token)
        .await
        .expect("detokenize");
    let record = vault
        .get(&issued.token)
        .await
        .expect("get")
        .expect("stored");
    let data_key = DataKey::from_slice(&[5; 32]).expect("key");
    assert_clean(&format!(
        "{issued:?} {back:?} {back:#?} {record:?} {key:?} {data_key:?} {keyring:?} {:?} {:?}",
        Fingerprinter::new(&key),
        tokenizer.key_stats()
    ));
}
