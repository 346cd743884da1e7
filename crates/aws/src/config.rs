//! Configuration from environment variables, each reported by name when missing.

use std::fmt;

/// The DynamoDB table that holds the vault.
pub const TABLE: &str = "TESSERA_TABLE";
/// The KMS key id or ARN used for envelope encryption.
pub const KMS_KEY_ID: &str = "TESSERA_KMS_KEY_ID";
/// The Secrets Manager id or ARN of the fingerprint key.
pub const FINGERPRINT_SECRET_ID: &str = "TESSERA_FINGERPRINT_SECRET_ID";

/// Missing or invalid settings, all of them at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Variables that are unset or empty.
    pub missing: Vec<&'static str>,
    /// Variables that are set but unusable, with why.
    pub invalid: Vec<(&'static str, String)>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!(
                "missing configuration: {}",
                self.missing.join(", ")
            ));
        }
        for (name, why) in &self.invalid {
            parts.push(format!("invalid {name}: {why}"));
        }
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ConfigError {}

/// Looks a variable up by name.
type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// Reads settings through a lookup function (the process environment in
/// production, a map in tests), collecting every problem before failing.
pub struct EnvReader<'a> {
    lookup: Lookup<'a>,
    errors: ConfigError,
}

impl<'a> EnvReader<'a> {
    /// A reader over the process environment.
    pub fn from_env() -> EnvReader<'static> {
        EnvReader::new(|name| std::env::var(name).ok())
    }

    /// A reader over any lookup function.
    pub fn new(lookup: impl Fn(&str) -> Option<String> + 'a) -> EnvReader<'a> {
        EnvReader {
            lookup: Box::new(lookup),
            errors: ConfigError {
                missing: Vec::new(),
                invalid: Vec::new(),
            },
        }
    }

    /// A value that must be present and non-empty; recorded as missing otherwise.
    pub fn required(&mut self, name: &'static str) -> String {
        match self.optional(name) {
            Some(v) => v,
            None => {
                self.errors.missing.push(name);
                String::new()
            }
        }
    }

    /// A value that may be absent; empty counts as absent.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Records that a present value is unusable.
    pub fn invalid(&mut self, name: &'static str, why: impl Into<String>) {
        self.errors.invalid.push((name, why.into()));
    }

    /// `Ok` if nothing was missing or invalid.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.errors.missing.is_empty() && self.errors.invalid.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_missing_name_once() {
        let mut env = EnvReader::new(|name| (name == TABLE).then(|| "vault".to_owned()));
        assert_eq!(env.required(TABLE), "vault");
        env.required(KMS_KEY_ID);
        env.required(FINGERPRINT_SECRET_ID);
        let err = env.finish().expect_err("two missing");
        assert_eq!(
            err.to_string(),
            "missing configuration: TESSERA_KMS_KEY_ID, TESSERA_FINGERPRINT_SECRET_ID"
        );
    }
}
