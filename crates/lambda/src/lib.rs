//! Tessera's API Gateway–fronted Lambda handlers.
//!
//! One binary per function, each with its own IAM role, and one module per
//! function in [`functions`]: its routes, request bodies, handlers and how it
//! is built ([`functions::Tokenize`], [`functions::Detokenize`],
//! [`functions::Admin`], [`functions::Forward`], [`functions::CaptureSessions`],
//! [`functions::Capture`]). Every function runs inside the same small envelope,
//! [`envelope::App`]: correlation id, caller authorization ([`auth`]),
//! routing ([`routing`]), body limits, the function's handler (bodies parsed
//! by [`extract`], fields by [`fields`], answers shaped by [`views`]), then one
//! audit event ([`audit`]) and one EMF metrics line ([`metrics`]). Errors are
//! problem+json ([`problem`]). Cold start is [`init`]. The scheduled
//! [`reconcile`] function checks the audit events against CloudTrail.

pub mod audit;
pub mod auth;
pub mod envelope;
pub mod event;
pub mod extract;
pub mod fields;
pub mod forward;
pub mod functions;
pub mod init;
pub mod metrics;
pub mod problem;
pub mod reconcile;
pub mod routing;
pub mod scopes;
pub mod telemetry;
pub mod views;

pub use envelope::{App, Serve};
pub use functions::{Admin, Capture, CaptureSessions, Detokenize, Forward, Function, Tokenize};
pub use init::{build_app, build_app_on, run};
