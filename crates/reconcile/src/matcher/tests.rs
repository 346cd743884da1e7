use super::*;
use crate::cloudtrail::Caller;
use crate::scope::FunctionRole;

const DETOK: &str = "arn:aws:iam::1:role/detok";
const OPERATOR: &str = "arn:aws:iam::1:role/operator";

fn scope() -> Scope {
    Scope {
        table: "vault".into(),
        vault_id: "vault".into(),
        key_arn: "k".into(),
        functions: vec![FunctionRole {
            name: "tessera-detokenize".into(),
            role_arn: DETOK.into(),
            log_group: "/aws/lambda/tessera-detokenize".into(),
        }],
        operators: vec![OPERATOR.into()],
        bound: 5_000,
    }
}

fn read(t: Millis, role: &str, session: &str, hints: &[&str]) -> VaultCall {
    VaultCall {
        time: t,
        event_name: "GetItem".into(),
        caller: Caller {
            principal: role.into(),
            session: session.into(),
        },
        source_ip: "10.0.0.1".into(),
        user_agent: "sdk".into(),
        kind: CallKind::RecordRead,
        hints: hints.iter().map(|h| (*h).to_owned()).collect(),
        unkeyed: false,
    }
}

fn audit(t: Millis, hints: &[&str]) -> AuditRecord {
    AuditRecord {
        function: "tessera-detokenize".into(),
        time: t,
        request_id: format!("r{t}"),
        operation: "detokenize".into(),
        allowed: true,
        status: 200,
        hints: hints.iter().map(|h| (*h).to_owned()).collect(),
        tokens: 0,
    }
}

#[test]
fn a_read_with_its_audit_event_in_either_order_is_explained() {
    let s = scope();
    let mut m = Matcher::new(&s, 0, 100_000);
    m.audit(audit(1_000, &["000a"]));
    m.call(read(1_200, DETOK, "tessera-detokenize", &["000a"]));
    m.call(read(9_000, DETOK, "tessera-detokenize", &["000b"]));
    m.audit(audit(8_800, &["000b"]));
    let r = m.finish();
    assert!(r.is_clean(), "{}", r.render());
    assert_eq!(r.callers[DETOK].explained, 2);
}

#[test]
fn reads_without_an_audit_event_are_grouped_by_caller() {
    let s = scope();
    let mut m = Matcher::new(&s, 0, 100_000);
    m.call(read(1_000, DETOK, "tessera-detokenize", &["000a"]));
    m.call(read(2_000, DETOK, "tessera-detokenize", &["000b"]));
    // Too far from its audit event.
    m.audit(audit(30_000, &["000c"]));
    m.call(read(40_000, DETOK, "tessera-detokenize", &["000c"]));
    let r = m.finish();
    let groups: Vec<_> = r
        .findings
        .iter()
        .filter_map(|f| match f {
            Finding::UnexplainedReads(u) => Some(u),
            _ => None,
        })
        .collect();
    assert_eq!(groups.len(), 1, "{}", r.render());
    assert_eq!(groups[0].count, 3);
    assert_eq!(groups[0].hints, vec!["000a", "000b", "000c"]);
    // And the audit event's own read never came within the bound.
    assert!(
        r.findings.iter().any(
            |f| matches!(f, Finding::AuditWithoutRead(a) if a.hints == vec!["000c".to_owned()])
        )
    );
}

#[test]
fn the_wrong_session_an_operator_and_a_stranger_are_never_explained() {
    let s = scope();
    let mut m = Matcher::new(&s, 0, 100_000);
    m.audit(audit(1_000, &["000a"]));
    m.call(read(1_100, DETOK, "laptop", &["000a"]));
    m.call(read(1_200, OPERATOR, "alice", &["000a"]));
    m.call(read(1_300, "arn:aws:iam::1:user/mallory", "", &["000a"]));
    let r = m.finish();
    let whys: Vec<_> = r
        .findings
        .iter()
        .filter_map(|f| match f {
            Finding::UnexplainedReads(u) => Some(u.why),
            _ => None,
        })
        .collect();
    assert_eq!(whys.len(), 3, "{}", r.render());
    assert!(r.findings.iter().any(
        |f| matches!(f, Finding::ForeignPrincipal { principal, .. } if principal.ends_with("mallory"))
    ));
    // The audit event's read never came from the function's own session.
    assert!(
        r.findings
            .iter()
            .any(|f| matches!(f, Finding::AuditWithoutRead(_)))
    );
}

#[test]
fn a_batch_read_is_explained_only_by_an_event_naming_all_its_tokens() {
    let s = scope();
    let mut m = Matcher::new(&s, 0, 100_000);
    m.audit(audit(1_000, &["000a", "000b"]));
    m.call(read(1_100, DETOK, "tessera-detokenize", &["000a", "000b"]));
    m.call(read(1_200, DETOK, "tessera-detokenize", &["000a", "000z"]));
    let r = m.finish();
    assert_eq!(r.callers[DETOK].explained, 1, "{}", r.render());
    assert_eq!(r.findings.len(), 1);
}

#[test]
fn memory_is_bounded_by_the_bound_not_the_window() {
    // 100,000 explained reads over ~28 hours; the matcher never holds more
    // than a bound's worth of pending items.
    let s = scope();
    let n = 100_000i64;
    let mut m = Matcher::new(&s, 0, n * 1_000);
    for i in 0..n {
        let t = i * 1_000;
        let hint = format!("{:04}", i % 10_000);
        m.audit(audit(t, &[&hint]));
        m.call(read(t + 300, DETOK, "tessera-detokenize", &[&hint]));
        if i % 100 == 0 {
            m.advance(t - 1_000);
        }
    }
    let r = m.finish();
    assert!(r.is_clean(), "{}", r.render());
    assert_eq!(r.callers[DETOK].explained, n as u64);
    assert!(r.peak_pending < 200, "peak {}", r.peak_pending);
}
