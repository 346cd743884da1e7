//! Unit tests of the operator flows' bookkeeping.

use super::*;

#[test]
fn page_counts_add_up_field_by_field() {
    let page = ReindexStats {
        reindexed: 1,
        current: 2,
        unindexed: 3,
        expired: 4,
        unknown_scope: 5,
        conflicts: 6,
        changed: 7,
        failed: 8,
    };
    let mut total = page;
    total.add(&page);
    assert_eq!(
        total,
        ReindexStats {
            reindexed: 2,
            current: 4,
            unindexed: 6,
            expired: 8,
            unknown_scope: 10,
            conflicts: 12,
            changed: 14,
            failed: 16,
        }
    );
    assert_eq!(total.outstanding(), 10 + 12 + 16);
}

#[test]
fn dangling_reasons_read_as_reports_print_them() {
    assert_eq!(Dangling::NoRecord.as_str(), "no record");
    assert_eq!(
        Dangling::FormatMismatch.as_str(),
        "format differs from the record's"
    );
    assert_eq!(
        Dangling::ScopeMismatch.as_str(),
        "scope differs from the record's"
    );
    assert_eq!(Dangling::Stale.as_str(), "record carries another link");
}

fn fingerprint(n: u8) -> crate::record::Fingerprint {
    crate::record::Fingerprint::from_bytes([n; 32])
}

fn link(n: u8) -> Link {
    Link::from_hex(&format!("{n:02x}").repeat(16)).expect("link")
}

fn scope(name: &str) -> Option<DedupScope> {
    Some(DedupScope::new(name).expect("scope"))
}

fn record(
    format: TokenFormat,
    fp: Option<u8>,
    scope: Option<DedupScope>,
    expires_at: Option<i64>,
) -> VaultRecord {
    VaultRecord {
        token: Token::new_opaque(&crate::random::ThreadRandom),
        version: crate::record::RECORD_VERSION,
        ciphertext: vec![1; 8],
        wrapped_key: crate::secret::WrappedKey::new(vec![2; 8]),
        facts: crate::record::TokenFacts {
            format,
            bin: "411111".into(),
            last4: "1111".into(),
            brand: crate::brand::Brand::Visa,
            pan_length: 16,
            created_at: 0,
            expires_at,
        },
        metadata: crate::metadata::Metadata::default(),
        link: fp.map(link),
        scope,
    }
}

fn entry(
    token: &Token,
    format: TokenFormat,
    fp: u8,
    scope: Option<DedupScope>,
    expires_at: Option<i64>,
) -> IndexEntry {
    IndexEntry {
        key: IndexKey {
            format,
            fingerprint: fingerprint(fp),
        },
        token: token.clone(),
        key_version: "v1".into(),
        created_at: 0,
        expires_at,
        scope,
        link: Some(link(fp)),
    }
}

#[test]
fn a_vault_check_judges_every_index_item_against_its_record() {
    use TokenFormat::{Fpe, Opaque};
    let now = 100;
    let indexed = record(Opaque, Some(1), None, None);
    let other_scope = record(Opaque, Some(2), scope("a"), None);
    let stale = record(Opaque, Some(3), None, None);
    let other_format = record(Fpe, Some(5), None, None);
    let expired = record(Opaque, Some(6), None, Some(50));
    let never_indexed = record(Opaque, None, None, None);
    let scopeless_item = record(Opaque, Some(7), scope("a"), None);
    let nobody = Token::new_opaque(&crate::random::ThreadRandom);
    let items = [
        entry(&indexed.token, Opaque, 1, None, None),
        entry(&other_scope.token, Opaque, 2, scope("b"), None),
        entry(&stale.token, Opaque, 4, None, None),
        entry(&other_format.token, Opaque, 5, None, None),
        entry(&nobody, Opaque, 8, None, None),
        entry(&expired.token, Opaque, 6, None, Some(50)),
        entry(&scopeless_item.token, Opaque, 7, None, None),
    ];
    let mut check = VaultCheck::new();
    check.add(
        [
            &indexed,
            &other_scope,
            &stale,
            &other_format,
            &expired,
            &never_indexed,
            &scopeless_item,
        ]
        .into_iter()
        .map(|r| ScannedItem::Record(r.clone()))
        .collect(),
    );
    check.add(items.iter().cloned().map(ScannedItem::Index).collect());
    check.add(vec![
        ScannedItem::Void,
        ScannedItem::Malformed {
            pk: "t#x".into(),
            why: "no ct".into(),
        },
    ]);
    let report = check.finish(now);
    assert_eq!(report.records, 7);
    assert_eq!(report.index_items, 6);
    assert_eq!(report.expired_index_items, 1);
    let dangling: Vec<(Token, Dangling)> = report
        .dangling
        .iter()
        .map(|(e, why)| (e.token.clone(), *why))
        .collect();
    assert_eq!(
        dangling,
        [
            (other_scope.token.clone(), Dangling::ScopeMismatch),
            (stale.token.clone(), Dangling::Stale),
            (other_format.token.clone(), Dangling::FormatMismatch),
            (nobody, Dangling::NoRecord),
        ]
    );
    // The three whose only item dangles; not the expired record, not
    // the one without a fingerprint.
    assert_eq!(report.unindexed_records, 3);
    assert_eq!(report.malformed, [("t#x".to_owned(), "no ct".to_owned())]);
}
