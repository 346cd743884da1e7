//! Throughput of the reconciler's pure path, per CloudTrail record: a log
//! file inflated, hashed and parsed, its records classified and matched to
//! their audit events. Not a test; `cargo bench -p tessera-reconcile`
//! (scripts/bench runs it). The figure is in docs/audit.md.

#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use tessera_reconcile::audit::parse_line;
use tessera_reconcile::cloudtrail::{LogFile, classify};
use tessera_reconcile::integrity::{inflate, sha256_hex};
use tessera_reconcile::matcher::Matcher;
use tessera_reconcile::{FunctionRole, Scope};
use tessera_testkit::trail::{Session, TrailKey, TrailWriter, table_resources};

const RECORDS: usize = 10_000;
const ROLE: &str = "arn:aws:iam::111122223333:role/detok";

fn scope() -> Scope {
    Scope {
        table: "vault".into(),
        vault_id: "vault".into(),
        key_arn: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
        functions: vec![FunctionRole {
            name: "tessera-detokenize".into(),
            role_arn: ROLE.into(),
            log_group: "/aws/lambda/tessera-detokenize".into(),
        }],
        operators: Vec::new(),
        bound: 10_000,
    }
}

fn bench(c: &mut Criterion) {
    let t0 = 1_796_000_000_000i64;
    let session = Session::new(ROLE, "tessera-detokenize");
    let mut records = Vec::new();
    let mut audits = Vec::new();
    for i in 0..RECORDS {
        let t = t0 + (i as i64) * 100;
        let token = format!("tok_{i:026}");
        records.push(session.record(
            t,
            "dynamodb.amazonaws.com",
            "GetItem",
            json!({"tableName": "vault", "key": {"pk": format!("t#{token}")}, "consistentRead": true}),
            table_resources("111122223333", "vault"),
            i as u64,
        ));
        audits.push(
            json!({"target": "audit", "event": "audit", "time": tessera_testkit::trail::rfc3339(t),
                   "request_id": format!("r{i}"), "operation": "detokenize", "decision": "allow",
                   "status": 200, "token_hint": &token[token.len() - 4..], "tokens": 0})
            .to_string(),
        );
    }
    // The key is never used to sign here; a small one keeps set-up quick.
    let mut writer = TrailWriter::new("b", "111122223333", "us-east-1", TrailKey::generate());
    let file = writer.log_file(t0, &records);
    let scope = scope();

    let mut group = c.benchmark_group("reconcile");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(10);
    group.bench_function(
        "log file: inflate, hash, parse, classify, match (per record)",
        |b| {
            b.iter(|| {
                let mut m = Matcher::new(&scope, t0 - 60_000, t0 + 3_600_000);
                for line in &audits {
                    if let Some(a) = parse_line("tessera-detokenize", line) {
                        m.audit(a);
                    }
                }
                let inflated = inflate(&file.body).expect("gzip");
                let _ = sha256_hex(&inflated);
                let parsed: LogFile = serde_json::from_slice(&inflated).expect("json");
                for r in &parsed.records {
                    if let Some(call) = classify(r, &scope) {
                        m.call(call);
                    }
                }
                let report = m.finish();
                assert!(report.is_clean());
                report.records
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
