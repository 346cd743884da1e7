//! Maps SDK errors onto the core's error types.
//!
//! The SDK's standard retry strategy has already retried throttling, 5xx and
//! timeouts by the time an error reaches here, so these become "retryable"
//! for the caller; nothing here loops.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tessera_core::{KeyError, VaultError};

/// What kind of failure an SDK error is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Throttled, 5xx, timed out or unreachable.
    Transient(String),
    /// Denied by IAM or a key policy.
    Denied(String),
    /// The named resource does not exist.
    Missing(String),
    /// A service error, by code.
    Service(String),
}

const THROTTLING: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
    "InternalServerError",
    "ServiceUnavailable",
    "KMSInternalException",
    "DependencyTimeoutException",
    "InternalServiceError",
];

pub(crate) fn classify<E>(err: &SdkError<E, Response>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error,
{
    let code = err.code().unwrap_or("Unknown").to_owned();
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Failure::Transient(format!("{err}"))
        }
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            if status >= 500 || THROTTLING.contains(&code.as_str()) {
                Failure::Transient(code)
            } else if code.contains("AccessDenied") || code == "UnauthorizedOperation" {
                Failure::Denied(code)
            } else if code == "ResourceNotFoundException" || code == "NotFoundException" {
                Failure::Missing(code)
            } else {
                Failure::Service(code)
            }
        }
        _ => Failure::Service(format!("{err}")),
    }
}

pub(crate) fn vault_error<E>(err: &SdkError<E, Response>) -> VaultError
where
    E: ProvideErrorMetadata + std::error::Error,
{
    match classify(err) {
        Failure::Transient(m) => VaultError::Unavailable(m),
        Failure::Denied(m) => VaultError::AccessDenied(m),
        Failure::Missing(m) => VaultError::TableNotFound(m),
        Failure::Service(m) => VaultError::Other(m),
    }
}

pub(crate) fn key_error<E>(err: &SdkError<E, Response>) -> KeyError
where
    E: ProvideErrorMetadata + std::error::Error,
{
    match classify(err) {
        Failure::Transient(m) => KeyError::Unavailable(m),
        Failure::Denied(m) => KeyError::AccessDenied(m),
        Failure::Missing(m) => KeyError::KeyUnusable(m),
        Failure::Service(code) => match code.as_str() {
            "InvalidCiphertextException" | "IncorrectKeyException" => KeyError::InvalidCiphertext,
            "DisabledException" | "KMSInvalidStateException" | "InvalidKeyUsageException" => {
                KeyError::KeyUnusable(code)
            }
            _ => KeyError::Other(code),
        },
    }
}
