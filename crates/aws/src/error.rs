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

#[cfg(test)]
mod tests {
    use aws_sdk_kms::operation::decrypt::DecryptError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn service(code: &str, status: u16) -> SdkError<DecryptError, Response> {
        let err = DecryptError::generic(ErrorMetadata::builder().code(code).build());
        let raw = Response::new(status.try_into().expect("status"), SdkBody::empty());
        SdkError::service_error(err, raw)
    }

    #[test]
    fn transient_failures_are_retryable() {
        let timeout: SdkError<DecryptError, Response> = SdkError::timeout_error("slow");
        assert!(key_error(&timeout).is_retryable());
        assert!(key_error(&service("InternalFailure", 500)).is_retryable());
        assert!(key_error(&service("ThrottlingException", 400)).is_retryable());
        assert!(
            vault_error(&service("ProvisionedThroughputExceededException", 400)).is_retryable()
        );
    }

    #[test]
    fn the_rest_map_to_their_own_errors() {
        assert_eq!(
            key_error(&service("AccessDeniedException", 400)),
            KeyError::AccessDenied("AccessDeniedException".into())
        );
        assert_eq!(
            key_error(&service("InvalidCiphertextException", 400)),
            KeyError::InvalidCiphertext
        );
        assert!(matches!(
            key_error(&service("DisabledException", 400)),
            KeyError::KeyUnusable(_)
        ));
        assert!(matches!(
            key_error(&service("NotFoundException", 400)),
            KeyError::KeyUnusable(_)
        ));
        assert!(matches!(
            vault_error(&service("ResourceNotFoundException", 400)),
            VaultError::TableNotFound(_)
        ));
        assert!(matches!(
            vault_error(&service("ValidationException", 400)),
            VaultError::Other(_)
        ));
    }

    /// Card numbers of several brands, each as written plain, spaced and hyphenated.
    fn card_texts() -> Vec<String> {
        tessera_testkit::TEST_PANS
            .iter()
            .flat_map(|p| {
                let d = p.digits;
                let grouped = |sep: &str| {
                    d.as_bytes()
                        .chunks(4)
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .collect::<Vec<_>>()
                        .join(sep)
                };
                [d.to_owned(), grouped(" "), grouped("-")]
            })
            .collect()
    }

    #[test]
    fn no_mapped_error_carries_what_the_service_said() {
        // A DynamoDB ValidationException quotes the offending value; KMS and
        // Secrets Manager messages are free text. None of it may reach an
        // error we log or map, in any variant.
        let codes = [
            ("ValidationException", 400),
            ("AccessDeniedException", 400),
            ("ResourceNotFoundException", 400),
            ("ThrottlingException", 400),
            ("InternalFailure", 500),
            ("DisabledException", 400),
            ("InvalidCiphertextException", 400),
            ("SomethingNew", 400),
        ];
        for card in card_texts() {
            let said = format!("One or more parameter values were invalid: {card}");
            let mut errors: Vec<SdkError<DecryptError, Response>> = codes
                .iter()
                .map(|(code, status)| {
                    let err = DecryptError::generic(
                        ErrorMetadata::builder().code(*code).message(&said).build(),
                    );
                    let raw =
                        Response::new((*status).try_into().expect("status"), SdkBody::empty());
                    SdkError::service_error(err, raw)
                })
                .collect();
            errors.push(SdkError::timeout_error(said.clone()));
            errors.push(SdkError::construction_failure(said.clone()));
            for err in &errors {
                let (v, k) = (vault_error(err), key_error(err));
                tessera_testkit::assert_no_card_numbers(
                    "a mapped SDK error",
                    &format!("{v} {v:?} {k} {k:?} {:?}", classify(err)),
                );
            }
        }
    }
}
