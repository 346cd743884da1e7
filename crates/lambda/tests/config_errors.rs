//! A setting pasted with a card number in it is refused at cold start, and
//! the error (which is logged) never repeats the number, in any brand or
//! writing.

use tessera_aws::config::EnvReader;
use tessera_lambda::auth::{AllowList, ApiOrigin};
use tessera_lambda::init::InitError;

fn card_texts() -> Vec<String> {
    tessera_testkit::TEST_PANS
        .iter()
        .flat_map(|p| {
            let d = p.digits;
            [
                d.to_owned(),
                format!("{} {}", &d[..4], &d[4..]),
                format!("{}-{}", &d[..8], &d[8..]),
            ]
        })
        .collect()
}

#[test]
fn invalid_settings_never_quote_a_card_number() {
    for card in card_texts() {
        let list = format!("arn:aws:iam::111122223333:role/a, {card}");
        let why = AllowList::parse(&list).expect_err("not an ARN");
        assert!(why.contains("entry 2"), "{why}");
        let mut env = EnvReader::new(|_| None);
        env.invalid("TESSERA_DETOKENIZE_ROLES", why);
        let _ = ApiOrigin::parse(&card, &card).map_err(|why| env.invalid("TESSERA_API_ID", why));
        let err = InitError::from(env.finish().expect_err("invalid"));
        tessera_testkit::assert_no_card_numbers("a configuration error", &format!("{err} {err:?}"));
    }
    // An ordinary mistake is still quoted, for the operator.
    let why = AllowList::parse("payments-tokenizer").expect_err("not an ARN");
    assert!(why.contains("`payments-tokenizer`"), "{why}");
}
