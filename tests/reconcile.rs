//! `tessera audit reconcile` end to end against moto (S3 and CloudWatch
//! Logs): real traffic through the functions (tokenize, batch, detokenize,
//! forward, delete), each function's DynamoDB and KMS calls written as
//! CloudTrail would log them for its role session, by an SDK interceptor,
//! into trail files and digests in CloudTrail's format signed with a test
//! key (`tessera_testkit::trail`); the functions' audit lines into log
//! groups. A clean window has no finding; every way around the functions is
//! found (docs/audit.md).

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::{Value, json};
use tessera_aws::AwsClients;
use tessera_aws::provision::{Fixture, import_fixtures};
use tessera_aws::trail::{LogsAuditLog, S3TrailStore, s3_client};
use tessera_cli::audit::{ReconcileArgs, plan, run};
use tessera_core::{Clock, SystemClock};
use tessera_e2e::{ADMIN_ROLE, DETOKENIZER_ROLE, Stack, TOKENIZER_ROLE, env_reader, stack};
use tessera_lambda::init::build_app_on;
use tessera_lambda::telemetry::{LogFormat, dispatch};
use tessera_lambda::{Admin, Detokenize, Forward, Function, Serve, Tokenize};
use tessera_reconcile::report::{Finding, TrailIssue};
use tessera_reconcile::{Report, TrailObject, TrailStore};
use tessera_testkit::find_card_numbers;
use tessera_testkit::stub::StubProcessor;
use tessera_testkit::trail::{
    Session, TrailFile, TrailKey, TrailWriter, gzip, key_resources, table_resources,
};
use tracing_subscriber::fmt::MakeWriter;

const EVENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");
const EVENTS_STUB_ORIGIN: &str = "https://processor.localhost:18443";
const FORWARDER_ROLE: &str = "arn:aws:iam::111122223333:role/payments-forwarder";
const ACCOUNT: &str = "111122223333";
/// The functions' execution roles (not their callers').
const ROLE: &str = "arn:aws:iam::111122223333:role/tessera-fn-";
const OPERATOR: &str = "arn:aws:iam::111122223333:role/tessera-operator";

fn trail_key() -> TrailKey {
    static KEY: OnceLock<TrailKey> = OnceLock::new();
    KEY.get_or_init(TrailKey::generate).clone()
}

/// What CloudTrail would log: every DynamoDB and KMS call of one session.
#[derive(Debug, Clone)]
struct Recorder {
    session: Arc<Session>,
    table: String,
    key_arn: String,
    calls: Arc<Mutex<Vec<Value>>>,
}

fn now_ms() -> i64 {
    SystemClock.now_millis()
}

impl Recorder {
    fn record(
        &self,
        service: &str,
        name: &str,
        input: &aws_smithy_runtime_api::client::interceptors::context::Input,
    ) -> Option<Value> {
        use aws_sdk_dynamodb::operation as ddb;
        let attrs = |m: Option<&HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>| {
            m.map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), json!(v.as_s().ok())))
                    .collect::<serde_json::Map<_, _>>()
            })
        };
        let (source, params, resources) = match service {
            "dynamodb" | "DynamoDB" => {
                let params = if let Some(i) = input.downcast_ref::<ddb::get_item::GetItemInput>() {
                    json!({"tableName": i.table_name(), "key": attrs(i.key()),
                           "projectionExpression": i.projection_expression(),
                           "expressionAttributeNames": i.expression_attribute_names()})
                } else if let Some(i) =
                    input.downcast_ref::<ddb::batch_get_item::BatchGetItemInput>()
                {
                    let items: Vec<Value> = i
                        .request_items()
                        .into_iter()
                        .flatten()
                        .map(|(t, ka)| {
                            json!({"tableName": t,
                               "keys": ka.keys().iter().map(|k| attrs(Some(k))).collect::<Vec<_>>(),
                               "projectionExpression": ka.projection_expression(),
                               "expressionAttributeNames": ka.expression_attribute_names()})
                        })
                        .collect();
                    json!({"requestItems": items})
                } else if let Some(i) = input.downcast_ref::<ddb::query::QueryInput>() {
                    json!({"tableName": i.table_name(), "indexName": i.index_name(), "projectionExpression": i.projection_expression()})
                } else if let Some(i) = input.downcast_ref::<ddb::scan::ScanInput>() {
                    json!({"tableName": i.table_name(), "indexName": i.index_name(), "projectionExpression": i.projection_expression()})
                } else {
                    // Writes: CloudTrail logs their key; only the table matters here.
                    json!({"tableName": self.table})
                };
                (
                    "dynamodb.amazonaws.com",
                    params,
                    table_resources(ACCOUNT, &self.table),
                )
            }
            "kms" | "KMS" => {
                let context = input
                    .downcast_ref::<aws_sdk_kms::operation::decrypt::DecryptInput>()
                    .and_then(|i| i.encryption_context().cloned())
                    .or_else(|| {
                        input
                            .downcast_ref::<aws_sdk_kms::operation::generate_data_key::GenerateDataKeyInput>()
                            .and_then(|i| i.encryption_context().cloned())
                    });
                (
                    "kms.amazonaws.com",
                    json!({"encryptionContext": context, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
                    key_resources(ACCOUNT, &self.key_arn),
                )
            }
            _ => return None,
        };
        let serial = now_ms() as u64;
        Some(
            self.session
                .record(now_ms(), source, name, params, resources, serial),
        )
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "TestCloudTrail"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>()
            && let Some(r) = self.record(meta.service(), meta.name(), context.input())
        {
            self.calls.lock().unwrap_or_else(|p| p.into_inner()).push(r);
        }
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

impl Capture {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner()))
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// One function: its app, its role session's recorder, its log lines.
struct Deployed {
    name: String,
    app: Box<dyn Serve>,
    logs: Capture,
}

fn session(name: &str) -> Session {
    Session::new(&format!("{ROLE}{name}"), &format!("tessera-{name}"))
}

async fn deploy<F: Function>(
    s: &Stack,
    env: HashMap<String, String>,
    calls: &Arc<Mutex<Vec<Value>>>,
) -> Deployed {
    let name = F::NAME.to_owned();
    let recorder = Recorder {
        session: Arc::new(session(&name)),
        table: s.made.table.clone(),
        key_arn: s.made.key_arn.clone(),
        calls: calls.clone(),
    };
    let clients = AwsClients::with_interceptor(&s.sdk, recorder);
    let metrics: tessera_lambda::metrics::MetricsSink = Arc::new(|_line: String| {});
    let app = build_app_on::<F>(env_reader(env), &s.sdk, clients, metrics)
        .await
        .expect("the function starts");
    Deployed {
        name,
        app: Box::new(app),
        logs: Capture::default(),
    }
}

/// A local deployment with its trail: the functions, the calls they made,
/// their audit lines, and the bucket and log groups on moto.
struct World {
    s: Stack,
    calls: Arc<Mutex<Vec<Value>>>,
    functions: Vec<Deployed>,
    bucket: String,
    started: i64,
    _stub: StubProcessor,
}

fn event(name: &str, stub_port: u16) -> Value {
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{EVENTS}/{name}")).expect("event file"),
    )
    .expect("event parses");
    if let Some(body) = event["body"].as_str() {
        event["body"] = body
            .replace(
                EVENTS_STUB_ORIGIN,
                &format!("https://processor.localhost:{stub_port}"),
            )
            .into();
    }
    event
}

/// Real traffic through the functions, every kind of read.
async fn world() -> World {
    let s = stack().await;
    let tokenizer = s.tokenizer(Arc::new(SystemClock)).await;
    let fixtures: Vec<Fixture> = serde_json::from_str(
        &std::fs::read_to_string(format!("{EVENTS}/fixtures.json")).expect("fixtures"),
    )
    .expect("fixtures parse");
    // Seeded before the window, by no function: not part of the trail.
    import_fixtures(&tokenizer, &fixtures).await.expect("seed");
    let stub = StubProcessor::start(([127, 0, 0, 1], 0).into(), &["processor.localhost"])
        .await
        .expect("stub");
    // One CA file per world: the tests run in parallel, in one process.
    static WORLDS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = WORLDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let ca = std::env::temp_dir().join(format!(
        "tessera-reconcile-ca-{}-{n}.pem",
        std::process::id()
    ));
    std::fs::write(&ca, &stub.ca_pem).expect("ca");
    let mut forward_env = s.env();
    forward_env.insert("TESSERA_FORWARD_ROLES".into(), FORWARDER_ROLE.into());
    forward_env.insert(
        "TESSERA_FORWARD_DESTINATIONS".into(),
        format!(r#"[{{"name":"stub","host":"processor.localhost","port":{},"methods":["POST"],"body_format":"json","paths":[{{"prefix":"/v1/charges","card_fields":["/card/number","/card"]}}]}}]"#, stub.addr.port()),
    );
    forward_env.insert(
        "TESSERA_FORWARD_GRANTS".into(),
        format!("{FORWARDER_ROLE}=stub"),
    );
    forward_env.insert("TESSERA_FORWARD_DEV_CA".into(), ca.display().to_string());
    let calls = Arc::new(Mutex::new(Vec::new()));
    let started = now_ms();
    let functions = vec![
        deploy::<Tokenize>(&s, s.env(), &calls).await,
        deploy::<Detokenize>(&s, s.env(), &calls).await,
        deploy::<Forward>(&s, forward_env, &calls).await,
        deploy::<Admin>(&s, s.env(), &calls).await,
    ];
    let traffic = [
        ("tokenize", "rest-tokenize-opaque.json", 201),
        ("tokenize", "rest-tokenize-batch-one-bad.json", 200),
        ("detokenize", "rest-detokenize-allowed.json", 200),
        ("detokenize", "rest-detokenize-fpe.json", 200),
        ("detokenize", "rest-detokenize-unknown-token.json", 404),
        ("detokenize", "rest-detokenize-not-listed.json", 403),
        ("detokenize", "rest-detokenize-batch.json", 200),
        ("forward", "rest-forward-stub.json", 200),
        ("forward", "rest-forward-unknown-token.json", 404),
        ("admin", "rest-delete.json", 204),
    ];
    for (i, (function, name, status)) in traffic.iter().enumerate() {
        let f = functions
            .iter()
            .find(|f| f.name == *function)
            .expect("function");
        let logs = dispatch(f.logs.clone(), LogFormat::Json, "info");
        let _guard = tracing::dispatcher::set_default(&logs);
        let mut context = lambda_http::Context::default();
        context.request_id = format!("reconcile-{i}");
        context.invoked_function_arn = tessera_e2e::FUNCTION_ARN.into();
        let response = f
            .app
            .serve(event(name, stub.addr.port()), context)
            .await
            .expect("served");
        assert_eq!(
            response["statusCode"], *status,
            "{name}: {}",
            response["body"]
        );
    }
    let _ = (TOKENIZER_ROLE, DETOKENIZER_ROLE, ADMIN_ROLE);
    let bucket = format!("trail-{}", s.made.table.to_ascii_lowercase());
    World {
        s,
        calls,
        functions,
        bucket,
        started,
        _stub: stub,
    }
}

impl World {
    /// A client that logs its calls as `session` (a bypass).
    fn intruder(&self, session: Session) -> AwsClients {
        AwsClients::with_interceptor(
            &self.s.sdk,
            Recorder {
                session: Arc::new(session),
                table: self.s.made.table.clone(),
                key_arn: self.s.made.key_arn.clone(),
                calls: self.calls.clone(),
            },
        )
    }

    /// Writes the trail (two log files, their digest, and the one before)
    /// and the audit lines, then reconciles; `tamper` may change the bucket
    /// or the logs first.
    async fn reconcile(
        &self,
        extra_audit: Option<Value>,
        tamper: impl AsyncFnOnce(&aws_sdk_s3::Client, &[TrailFile]),
    ) -> Report {
        let s3 = s3_client(&self.s.sdk);
        s3.create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .expect("bucket");
        let end = now_ms() + 1_000;
        let mut w = TrailWriter::new(&self.bucket, ACCOUNT, "us-east-1", trail_key());
        let before = w.digest(self.started - 2 * 3_600_000, self.started - 3_600_000);
        let calls = self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let half = calls.len() / 2;
        let files = vec![
            w.log_file(end + 60_000, &calls[..half]),
            w.log_file(end + 120_000, &calls[half..]),
        ];
        let digest = w.digest(self.started - 3_600_000, end + 600_000);
        for f in [&before, &files[0], &files[1], &digest] {
            let mut put = s3
                .put_object()
                .bucket(&self.bucket)
                .key(&f.key)
                .body(f.body.clone().into());
            if let Some(sig) = &f.signature {
                put = put
                    .metadata("signature", sig)
                    .metadata("signature-algorithm", "SHA256withRSA");
            }
            put.send().await.expect("put");
        }
        let logs = aws_sdk_cloudwatchlogs::Client::new(&self.s.sdk);
        let mut spec = Vec::new();
        for f in &self.functions {
            let group = format!("/test/{}/{}", self.bucket, f.name);
            logs.create_log_group()
                .log_group_name(&group)
                .send()
                .await
                .expect("group");
            logs.create_log_stream()
                .log_group_name(&group)
                .log_stream_name("s")
                .send()
                .await
                .expect("stream");
            let mut lines = f.logs.lines();
            if f.name == "detokenize"
                && let Some(a) = &extra_audit
            {
                lines.push(a.to_string());
            }
            let mut events = Vec::new();
            for line in lines {
                let t = serde_json::from_str::<Value>(&line)
                    .ok()
                    .and_then(|v| {
                        v["time"]
                            .as_str()
                            .and_then(tessera_reconcile::time::parse_rfc3339)
                    })
                    .unwrap_or(self.started);
                events.push(
                    aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                        .timestamp(t)
                        .message(line)
                        .build()
                        .expect("event"),
                );
            }
            events.sort_by_key(|e| e.timestamp());
            if !events.is_empty() {
                logs.put_log_events()
                    .log_group_name(&group)
                    .log_stream_name("s")
                    .set_log_events(Some(events))
                    .send()
                    .await
                    .expect("put events");
            }
            spec.push(format!("tessera-{} {ROLE}{} {group}", f.name, f.name));
        }
        tamper(&s3, &files).await;
        let keys = std::env::temp_dir().join(format!("{}-keys.json", self.bucket));
        std::fs::write(&keys, trail_key().list_public_keys()).expect("keys");
        let args = ReconcileArgs {
            from: tessera_reconcile::time::format_rfc3339(self.started - 1_000),
            to: tessera_reconcile::time::format_rfc3339(end + 1_000),
            bucket: self.bucket.clone(),
            prefix: String::new(),
            account: ACCOUNT.into(),
            region: "us-east-1".into(),
            table: self.s.made.table.clone(),
            vault_id: None,
            key_arn: self.s.made.key_arn.clone(),
            functions: spec.join("; "),
            operators: OPERATOR.into(),
            public_keys: keys,
            lag: 900,
            bound_ms: 10_000,
        };
        let plan = plan(&args, now_ms()).expect("plan");
        // The reconciler's own clients count their calls: each must be one its
        // role may make (moto does not enforce IAM).
        let counter = tessera_aws::CallCounter::default();
        let counted_s3 = aws_sdk_s3::Client::from_conf(
            s3.config()
                .to_builder()
                .interceptor(counter.clone())
                .build(),
        );
        let counted_logs = aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::config::Builder::from(&self.s.sdk)
                .interceptor(counter.clone())
                .build(),
        );
        let store = S3TrailStore::new(counted_s3, &self.bucket);
        let logs = LogsAuditLog::from_client(counted_logs);
        let report = run(&plan, &store, &logs, &|_| ())
            .await
            .expect("reconciled");
        assert_reconcile_role_grants(&counter.snapshot());
        let text = report.render();
        assert!(
            find_card_numbers(&text).is_empty(),
            "a PAN in the report:\n{text}"
        );
        report
    }
}

/// The IAM actions `ReconcilePolicy` of infra/template.yaml allows.
fn reconcile_grants() -> Vec<String> {
    let template = include_str!("../infra/template.yaml");
    template
        .lines()
        .skip_while(|l| *l != "  ReconcilePolicy:")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with("   "))
        .take_while(|l| !l.contains("Effect: Deny"))
        .filter_map(|l| l.trim_start().strip_prefix("Action: ["))
        .flat_map(|l| l.trim_end_matches(']').split(','))
        .map(|a| a.trim().to_owned())
        .collect()
}

fn assert_reconcile_role_grants(calls: &tessera_aws::CallCounts) {
    let granted = reconcile_grants();
    assert!(!calls.0.is_empty(), "the reconciler made no call");
    for operation in calls.0.keys() {
        let action = match operation.as_str() {
            "ListObjectsV2" => "s3:ListBucket",
            "GetObject" => "s3:GetObject",
            "FilterLogEvents" => "logs:FilterLogEvents",
            other => panic!("the reconciler made {other}, which its role has no grant for"),
        };
        assert!(
            granted.iter().any(|g| g == action),
            "ReconcilePolicy does not grant {action}: {granted:?}"
        );
    }
}

fn unexplained(r: &Report) -> Vec<(String, String, String)> {
    r.findings
        .iter()
        .filter_map(|f| match f {
            Finding::UnexplainedReads(u) => {
                Some((u.event_name.clone(), u.principal.clone(), u.session.clone()))
            }
            _ => None,
        })
        .collect()
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

async fn untouched(_: &aws_sdk_s3::Client, _: &[TrailFile]) {}

#[tokio::test]
async fn real_traffic_through_every_function_reconciles_clean() {
    let w = world().await;
    let r = w.reconcile(None, untouched).await;
    assert!(r.is_clean(), "{}", r.render());
    let detok = &r.callers[&format!("{ROLE}detokenize")];
    let forward = &r.callers[&format!("{ROLE}forward")];
    assert!(
        detok.reads >= 4 && detok.explained == detok.reads,
        "{}",
        r.render()
    );
    assert!(
        detok.decrypts >= 1 && detok.decrypts_explained == detok.decrypts,
        "{}",
        r.render()
    );
    assert!(
        forward.reads >= 1 && forward.explained == forward.reads,
        "{}",
        r.render()
    );
    assert_eq!(r.log_files_verified, 2, "{}", r.render());
    assert!(r.digests_verified >= 1);
}

#[tokio::test]
async fn a_direct_get_item_with_the_detokenize_role_is_found() {
    let w = world().await;
    // The function's own credentials, used outside a request.
    let thief = w.intruder(session("detokenize"));
    thief
        .dynamodb
        .get_item()
        .table_name(&w.s.made.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("t#tok_0000000000000000000000000b".into()),
        )
        .send()
        .await
        .expect("get");
    let r = w.reconcile(None, untouched).await;
    assert_eq!(
        unexplained(&r),
        vec![(
            "GetItem".into(),
            format!("{ROLE}detokenize"),
            "tessera-detokenize".into()
        )],
        "{}",
        r.render()
    );
}

#[tokio::test]
async fn a_batch_get_by_an_operator_role_is_found() {
    let w = world().await;
    let operator = w.intruder(Session::new(OPERATOR, "alice"));
    let keys = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
        .keys(HashMap::from([(
            "pk".to_owned(),
            aws_sdk_dynamodb::types::AttributeValue::S("t#tok_0000000000000000000000000a".into()),
        )]))
        .build()
        .expect("keys");
    operator
        .dynamodb
        .batch_get_item()
        .request_items(&w.s.made.table, keys)
        .send()
        .await
        .expect("batch get");
    let r = w.reconcile(None, untouched).await;
    assert_eq!(
        unexplained(&r),
        vec![("BatchGetItem".into(), OPERATOR.into(), "alice".into())],
        "{}",
        r.render()
    );
}

#[tokio::test]
async fn a_decrypt_by_another_principal_is_found() {
    let w = world().await;
    let item = w
        .s
        .clients
        .dynamodb
        .get_item()
        .table_name(&w.s.made.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("t#tok_0000000000000000000000000a".into()),
        )
        .send()
        .await
        .expect("read as the harness");
    let dk = item
        .item()
        .and_then(|i| i.get("dk"))
        .and_then(|v| v.as_b().ok())
        .expect("dk")
        .clone();
    let other = "arn:aws:iam::111122223333:role/reporting";
    let mallory = w.intruder(Session::new(other, "etl"));
    mallory
        .kms
        .decrypt()
        .ciphertext_blob(dk)
        .encryption_context("service", "tessera")
        .encryption_context("table", &w.s.made.table)
        .send()
        .await
        .expect("decrypt");
    let r = w.reconcile(None, untouched).await;
    assert_eq!(
        unexplained(&r),
        vec![("Decrypt".into(), other.into(), "etl".into())],
        "{}",
        r.render()
    );
    assert!(
        r.findings.iter().any(
            |f| matches!(f, Finding::ForeignPrincipal { principal, .. } if principal == other)
        )
    );
}

#[tokio::test]
async fn a_deleted_log_file_is_found() {
    let w = world().await;
    let r = w
        .reconcile(
            None,
            async |s3: &aws_sdk_s3::Client, files: &[TrailFile]| {
                s3.delete_object()
                    .bucket(w.bucket.clone())
                    .key(&files[1].key)
                    .send()
                    .await
                    .expect("delete");
            },
        )
        .await;
    assert!(
        trail_issues(&r).contains(&TrailIssue::MissingLogFile),
        "{}",
        r.render()
    );
}

#[tokio::test]
async fn an_edited_log_file_is_found() {
    let w = world().await;
    let r = w
        .reconcile(
            None,
            async |s3: &aws_sdk_s3::Client, files: &[TrailFile]| {
                let store = S3TrailStore::new(s3.clone(), &w.bucket);
                let TrailObject { body, .. } =
                    store.get(&files[0].key).await.expect("get").expect("there");
                let mut v: Value = serde_json::from_slice(
                    &tessera_reconcile::integrity::inflate(&body).expect("gz"),
                )
                .expect("json");
                v["Records"].as_array_mut().expect("records").remove(0);
                s3.put_object()
                    .bucket(w.bucket.clone())
                    .key(&files[0].key)
                    .body(gzip(v.to_string().as_bytes()).into())
                    .send()
                    .await
                    .expect("put");
            },
        )
        .await;
    assert!(
        trail_issues(&r).contains(&TrailIssue::AlteredLogFile),
        "{}",
        r.render()
    );
}

#[tokio::test]
async fn an_audit_event_for_a_read_that_never_happened_is_found() {
    let w = world().await;
    let forged = json!({"timestamp": tessera_reconcile::time::format_rfc3339(now_ms()), "level": "INFO",
        "target": "audit", "event": "audit", "time": tessera_reconcile::time::format_rfc3339(now_ms()),
        "request_id": "forged-1", "operation": "detokenize", "decision": "allow", "status": 200,
        "token_hint": "zzzz", "tokens": 0});
    let r = w.reconcile(Some(forged), untouched).await;
    assert!(
        r.findings
            .iter()
            .any(|f| matches!(f, Finding::AuditWithoutRead(a) if a.request_id == "forged-1")),
        "{}",
        r.render()
    );
}
