//! TEST ONLY (cargo feature `fault-injection`): an SDK interceptor that makes
//! chosen operations fail the way AWS fails, so the end-to-end tests can prove
//! what a caller sees when DynamoDB, KMS or Secrets Manager misbehaves.
//!
//! The emulator never throttles, never answers 500 and never disables a key,
//! so the faults are made here, per attempt, inside the SDK's own retry loop:
//! the SDK classifies, retries and times out an injected failure exactly as it
//! would a real one. Three kinds:
//!
//! - [`Fault::Reject`]: the service applies nothing (the attempt's body is
//!   emptied, so the emulator refuses it) and answers with a status and error
//!   code, e.g. `400 ThrottlingException` or `500 InternalServerError`.
//! - [`Fault::LoseReply`]: the service applies the call, then the reply is
//!   lost and replaced by an error: the ambiguous failure where a write
//!   happened but the caller cannot know it.
//! - [`Fault::Hang`]: the attempt goes to an address that accepts and never
//!   answers, so the SDK's attempt timeout fires.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// What an injected fault does to one attempt of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The service applies nothing and answers `status` with error `code`.
    Reject {
        /// HTTP status, e.g. 400 for throttling, 500 or 503 for a failure.
        status: u16,
        /// The AWS error code, e.g. `ThrottlingException`.
        code: &'static str,
    },
    /// The service applies the call; its reply is replaced by `status`/`code`.
    LoseReply {
        /// HTTP status of the replacement reply.
        status: u16,
        /// The AWS error code of the replacement reply.
        code: &'static str,
    },
    /// The attempt is sent to `endpoint` (e.g. `http://127.0.0.1:PORT`, a
    /// listener that never answers) and so times out.
    Hang {
        /// Where the attempt goes instead.
        endpoint: String,
    },
}

impl Fault {
    /// DynamoDB's throttling answer.
    pub fn dynamodb_throttled() -> Fault {
        Fault::Reject {
            status: 400,
            code: "ProvisionedThroughputExceededException",
        }
    }

    /// A service's internal error.
    pub fn internal_error() -> Fault {
        Fault::Reject {
            status: 500,
            code: "InternalServerError",
        }
    }

    /// KMS (and Secrets Manager) throttling.
    pub fn throttled() -> Fault {
        Fault::Reject {
            status: 400,
            code: "ThrottlingException",
        }
    }

    /// KMS's answer for a disabled key.
    pub fn kms_key_disabled() -> Fault {
        Fault::Reject {
            status: 400,
            code: "DisabledException",
        }
    }
}

/// One rule: which operation, which of its attempts, what fault.
#[derive(Debug, Clone)]
struct Rule {
    operation: String,
    /// Only requests whose item key starts with this (`t#` records, `f#`
    /// index items), when set: a tokenize miss makes two `PutItem`s.
    key_prefix: Option<String>,
    /// Attempts of this operation to let through before faulting.
    skip: u32,
    /// Attempts left to fault (`u32::MAX`: every one).
    times: u32,
    fault: Fault,
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<Rule>,
    injected: u64,
}

/// The fault chosen for the current attempt, kept between the interceptor's
/// before-transmit and before-deserialization hooks.
#[derive(Debug, Clone)]
struct ThisAttempt(Option<Fault>);

impl Storable for ThisAttempt {
    type Storer = StoreReplace<Self>;
}

/// An interceptor that injects [`Fault`]s into chosen operations. Clones
/// share their rules, so a test keeps one and installs another.
#[derive(Debug, Clone, Default)]
pub struct FaultInjector(Arc<Mutex<State>>);

impl FaultInjector {
    /// Faults every attempt of `operation` (e.g. `"TransactWriteItems"`).
    pub fn always(&self, operation: &str, fault: Fault) {
        self.add(operation, 0, u32::MAX, fault);
    }

    /// Lets `skip` attempts of `operation` through, then faults the next `times`.
    pub fn add(&self, operation: &str, skip: u32, times: u32, fault: Fault) {
        self.add_rule(operation, None, skip, times, fault);
    }

    /// As [`FaultInjector::add`], for requests on items whose partition key
    /// starts with `key_prefix` only (`"f#"`: dedup index puts).
    pub fn add_on_key(
        &self,
        operation: &str,
        key_prefix: &str,
        skip: u32,
        times: u32,
        fault: Fault,
    ) {
        self.add_rule(operation, Some(key_prefix), skip, times, fault);
    }

    fn add_rule(
        &self,
        operation: &str,
        key_prefix: Option<&str>,
        skip: u32,
        times: u32,
        fault: Fault,
    ) {
        self.lock().rules.push(Rule {
            operation: operation.to_owned(),
            key_prefix: key_prefix.map(|p| format!(r#""pk":{{"S":"{p}"#)),
            skip,
            times,
            fault,
        });
    }

    /// Removes every rule: the dependency recovers.
    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    /// Attempts faulted so far.
    pub fn injected(&self) -> u64 {
        self.lock().injected
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides this attempt's fault, if any, counting it against its rule.
    fn choose(&self, operation: &str, body: &str) -> Option<Fault> {
        let mut state = self.lock();
        let rule = state.rules.iter_mut().find(|r| {
            r.operation == operation
                && r.times > 0
                && r.key_prefix
                    .as_ref()
                    .is_none_or(|p| body.contains(p.as_str()))
        })?;
        if rule.skip > 0 {
            rule.skip -= 1;
            return None;
        }
        if rule.times != u32::MAX {
            rule.times -= 1;
        }
        let fault = rule.fault.clone();
        state.injected += 1;
        Some(fault)
    }
}

/// An AWS JSON-protocol error reply (DynamoDB, KMS and Secrets Manager all
/// read the code from `__type`).
fn error_reply(status: u16, code: &str) -> Result<Response, BoxError> {
    let body = format!(r#"{{"__type":"{code}","message":"injected fault"}}"#);
    let mut reply = Response::new(StatusCode::try_from(status)?, SdkBody::from(body));
    reply
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    Ok(reply)
}

impl Intercept for FaultInjector {
    fn name(&self) -> &'static str {
        "TesseraFaultInjector"
    }

    // Once per attempt, after signing: the last moment to change what is sent.
    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_default();
        let body = context
            .request()
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let fault = self.choose(&operation, &body);
        let request = context.request_mut();
        match &fault {
            Some(Fault::Reject { .. }) => {
                // An empty JSON object names no table, key or secret: the
                // emulator refuses it and changes nothing.
                *request.body_mut() = SdkBody::from("{}");
                request.headers_mut().insert("content-length", "2");
            }
            Some(Fault::Hang { endpoint }) => {
                let path = request
                    .uri()
                    .split_once("://")
                    .map_or("/", |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
                let uri = format!("{}{path}", endpoint.trim_end_matches('/'));
                request.set_uri(uri.as_str())?;
            }
            Some(Fault::LoseReply { .. }) | None => {}
        }
        cfg.interceptor_state().store_put(ThisAttempt(fault));
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let reply = match cfg.load::<ThisAttempt>() {
            Some(ThisAttempt(Some(
                Fault::Reject { status, code } | Fault::LoseReply { status, code },
            ))) => error_reply(*status, code)?,
            _ => return Ok(()),
        };
        *context.response_mut() = reply;
        Ok(())
    }
}
