//! The whole reconciliation over in-memory ports, with files written by the
//! test CloudTrail (`tessera_testkit::trail`), signed with a key made here.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use async_trait::async_trait;
use serde_json::{Value, json};
use tessera_testkit::trail::{Session, TrailFile, TrailKey, TrailWriter, gzip, table_resources};

use crate::integrity::{PublicKeys, inflate};
use crate::report::{Finding, Report, TrailIssue};
use crate::run::{AuditLog, Options, Progress, SourceError, TrailObject, TrailStore, reconcile};
use crate::scope::{FunctionRole, Scope, TrailLocation};
use crate::time::{HOUR, MINUTE, Millis, parse_rfc3339};

const ACCOUNT: &str = "111122223333";
const BUCKET: &str = "trail-bucket";
const DETOK: &str = "arn:aws:iam::111122223333:role/detok";
const FUNCTION: &str = "tessera-detokenize";
const GROUP: &str = "/aws/lambda/tessera-detokenize";

/// One key per test binary: 2048-bit generation takes a moment.
fn trail_key() -> TrailKey {
    static KEY: OnceLock<TrailKey> = OnceLock::new();
    KEY.get_or_init(TrailKey::generate).clone()
}

#[derive(Default)]
struct Memory {
    objects: Mutex<BTreeMap<String, TrailObject>>,
    lines: Mutex<BTreeMap<String, Vec<(Millis, String)>>>,
}

impl Memory {
    fn put(&self, f: TrailFile) {
        self.objects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                f.key,
                TrailObject {
                    body: f.body,
                    signature: f.signature,
                },
            );
    }

    fn keys(&self, part: &str) -> Vec<String> {
        let o = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        o.keys().filter(|k| k.contains(part)).cloned().collect()
    }

    fn remove(&self, key: &str) {
        self.objects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    fn edit(&self, key: &str, change: impl FnOnce(&mut Value)) {
        let mut o = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        let object = o.get_mut(key).expect("object");
        let mut v: Value =
            serde_json::from_slice(&inflate(&object.body).expect("gzip")).expect("json");
        change(&mut v);
        object.body = gzip(v.to_string().as_bytes());
    }

    fn audit(&self, time: Millis, hints: &[&str]) {
        let line = json!({"timestamp": crate::time::format_rfc3339(time), "level": "INFO", "target": "audit",
            "event": "audit", "time": crate::time::format_rfc3339(time), "request_id": format!("req-{time}"),
            "operation": "detokenize", "decision": "allow", "status": 200,
            "token_hint": hints.join(","), "tokens": 0})
        .to_string();
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(GROUP.into())
            .or_default()
            .push((time, line));
    }
}

#[async_trait]
impl TrailStore for Memory {
    async fn list(&self, prefix: &str) -> Result<Vec<String>, SourceError> {
        let o = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        Ok(o.keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
    async fn get(&self, key: &str) -> Result<Option<TrailObject>, SourceError> {
        let o = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        Ok(o.get(key).cloned())
    }
}

#[async_trait]
impl AuditLog for Memory {
    async fn lines(
        &self,
        group: &str,
        start: Millis,
        end: Millis,
    ) -> Result<Vec<String>, SourceError> {
        let l = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        Ok(l.get(group)
            .into_iter()
            .flatten()
            .filter(|(t, _)| *t >= start && *t < end)
            .map(|(_, s)| s.clone())
            .collect())
    }
}

fn scope() -> Scope {
    Scope {
        table: "vault".into(),
        vault_id: "vault".into(),
        key_arn: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
        functions: vec![FunctionRole {
            name: FUNCTION.into(),
            role_arn: DETOK.into(),
            log_group: GROUP.into(),
        }],
        operators: vec!["arn:aws:iam::111122223333:role/operator".into()],
        bound: 5_000,
    }
}

fn location() -> TrailLocation {
    TrailLocation {
        bucket: BUCKET.into(),
        prefix: String::new(),
        account: ACCOUNT.into(),
        region: "us-east-1".into(),
    }
}

fn get_item(session: &Session, time: Millis, token: &str, serial: u64) -> Value {
    session.record(
        time,
        "dynamodb.amazonaws.com",
        "GetItem",
        json!({"tableName": "vault", "key": {"pk": format!("t#{token}")}, "consistentRead": true}),
        table_resources(ACCOUNT, "vault"),
        serial,
    )
}

fn t0() -> Millis {
    parse_rfc3339("2026-12-08T10:00:00Z").expect("time")
}

/// Two hours of traffic: `per_file` detokenize reads with their audit
/// events in each five-minute log file, hourly digests, and a digest after.
fn traffic(per_file: u64) -> (Memory, TrailWriter) {
    let store = Memory::default();
    let mut w = TrailWriter::new(BUCKET, ACCOUNT, "us-east-1", trail_key());
    let session = Session::new(DETOK, FUNCTION);
    let mut serial = 0;
    for hour in 0..3 {
        let start = t0() - HOUR + hour * HOUR;
        for slot in 0..12 {
            let file_start = start + slot * 5 * MINUTE;
            let mut records = Vec::new();
            for i in 0..per_file {
                serial += 1;
                let t = file_start + (i as Millis * 5 * MINUTE) / per_file as Millis;
                let token = format!("tok_{serial:026}");
                store.audit(t - 40, &[&token[token.len() - 4..]]);
                records.push(get_item(&session, t, &token, serial));
            }
            store.put(w.log_file(file_start + 5 * MINUTE, &records));
        }
        store.put(w.digest(start, start + HOUR + 90_000));
    }
    (store, w)
}

async fn run(
    store: &Memory,
    from: Millis,
    to: Millis,
    progress: &(dyn Fn(Progress) + Sync),
) -> Report {
    let keys = PublicKeys::from_list_public_keys(&trail_key().list_public_keys()).expect("keys");
    let options = Options {
        from,
        to,
        lag: 15 * MINUTE,
        now: to + 10 * HOUR,
        keys,
    };
    reconcile(&scope(), &location(), store, store, &options, progress)
        .await
        .expect("sources answer")
}

fn trail_issues(r: &Report) -> Vec<TrailIssue> {
    r.findings
        .iter()
        .filter_map(|f| match f {
            Finding::Trail { issue, .. } => Some(*issue),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_clean_window_reconciles_with_no_finding() {
    let (store, _) = traffic(3);
    let r = run(&store, t0(), t0() + HOUR, &|_| ()).await;
    assert!(r.is_clean(), "{}", r.render());
    assert!(
        r.digests_verified >= 2 && r.log_files_verified >= 12,
        "{}",
        r.render()
    );
    assert_eq!(r.callers[DETOK].reads, 36, "{}", r.render());
    assert!(r.render().contains("result: CLEAN"));
}

#[tokio::test]
async fn a_deleted_log_file_is_found() {
    let (store, _) = traffic(2);
    let victim = store.keys("_CloudTrail_us-east-1_20261208T1015Z")[0].clone();
    store.remove(&victim);
    let r = run(&store, t0(), t0() + HOUR, &|_| ()).await;
    assert_eq!(
        trail_issues(&r),
        vec![TrailIssue::MissingLogFile],
        "{}",
        r.render()
    );
    // Its audit events now have no read: found twice over.
    assert!(
        r.findings
            .iter()
            .any(|f| matches!(f, Finding::AuditWithoutRead(_)))
    );
}

#[tokio::test]
async fn an_edited_log_file_is_found() {
    let (store, _) = traffic(2);
    let victim = store.keys("_CloudTrail_us-east-1_20261208T1030Z")[0].clone();
    // The attacker removes their own read from the file.
    store.edit(&victim, |v| {
        v["Records"].as_array_mut().expect("records").pop();
    });
    let r = run(&store, t0(), t0() + HOUR, &|_| ()).await;
    assert!(
        trail_issues(&r).contains(&TrailIssue::AlteredLogFile),
        "{}",
        r.render()
    );
}

#[tokio::test]
async fn an_edited_or_deleted_digest_is_found() {
    let (store, _) = traffic(1);
    let digests = store.keys("CloudTrail-Digest");
    store.edit(&digests[1], |v| {
        v["logFiles"].as_array_mut().expect("files").pop();
    });
    let r = run(&store, t0(), t0() + HOUR, &|_| ()).await;
    assert!(
        trail_issues(&r).contains(&TrailIssue::InvalidDigest),
        "{}",
        r.render()
    );

    let (store, _) = traffic(1);
    let digests = store.keys("CloudTrail-Digest");
    store.remove(&digests[1]);
    let r = run(&store, t0(), t0() + HOUR, &|_| ()).await;
    let issues = trail_issues(&r);
    assert!(issues.contains(&TrailIssue::BrokenChain), "{}", r.render());
    assert!(
        issues.contains(&TrailIssue::UnlistedLogFile),
        "{}",
        r.render()
    );
}

#[tokio::test]
async fn a_read_outside_the_functions_is_found_with_its_caller() {
    let (store, mut w) = traffic(1);
    let mut intruder = Session::new(DETOK, "i-0abc-laptop");
    intruder.source_ip = "203.0.113.66".into();
    intruder.user_agent = "aws-cli/2.15".into();
    let read = get_item(
        &intruder,
        t0() + 20 * MINUTE,
        "tok_99999999999999999999999999",
        9,
    );
    // A late file, listed by the next digest.
    store.put(w.log_file(t0() + 40 * MINUTE, &[read]));
    store.put(w.digest(t0() + 2 * HOUR, t0() + 3 * HOUR));
    let r = run(&store, t0(), t0() + HOUR, &|_| ()).await;
    let text = r.render();
    assert!(text.contains("UNEXPLAINED GetItem x1"), "{text}");
    assert!(
        text.contains("203.0.113.66") && text.contains("aws-cli/2.15"),
        "{text}"
    );
    assert!(
        text.contains("…9999") && !text.contains("tok_9999"),
        "{text}"
    );
}

#[tokio::test]
async fn a_large_window_streams_in_bounded_memory() {
    // 105,000 reads (and as many audit events) over three hours of trail.
    let (store, _) = traffic(3_000);
    let seen = Mutex::new(Vec::new());
    let started = std::time::Instant::now();
    let r = run(&store, t0() - HOUR, t0() + 2 * HOUR - 15 * MINUTE, &|p| {
        seen.lock().unwrap_or_else(|e| e.into_inner()).push(p);
    })
    .await;
    let elapsed = started.elapsed();
    assert!(r.is_clean(), "{}", r.render());
    assert!(r.records >= 100_000, "{}", r.records);
    // The matcher holds the audit events of the lag, one slice and the
    // bound (600 a minute here: 15 + 5 minutes), whatever the window's length.
    assert!(r.peak_pending <= 600 * 21, "peak {}", r.peak_pending);
    assert!(
        r.peak_pending < (r.records / 8) as usize,
        "peak {}",
        r.peak_pending
    );
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    assert!(seen.len() >= 30 && seen.windows(2).all(|w| w[0].records <= w[1].records));
    eprintln!(
        "reconciled {} records in {:?}: {:.0} records/s, peak pending {}",
        r.records,
        elapsed,
        r.records as f64 / elapsed.as_secs_f64(),
        r.peak_pending
    );
}
