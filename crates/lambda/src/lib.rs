//! Tessera's API Gateway–fronted Lambda handlers.
//!
//! One binary per function (`tokenize`, `detokenize`, `admin`), each with its
//! own IAM role. A request flows through [`app::App::handle`]: correlation id,
//! caller authorization ([`auth`]), routing ([`routes`]), body limits and
//! parsing ([`api`]), the core operation, then one audit event ([`audit`]) and
//! one EMF metrics line ([`metrics`]). Errors are problem+json ([`problem`]).

pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod event;
pub mod init;
pub mod metrics;
pub mod problem;
pub mod routes;
pub mod telemetry;

pub use app::{App, Service};
pub use init::{build_app, run};
pub use routes::FunctionKind;
