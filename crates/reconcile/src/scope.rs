//! What is reconciled: the vault (table, key), the functions and their
//! roles and log groups, the operator roles, and where the trail is.

use crate::time::Millis;

/// One function whose role may touch the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRole {
    /// The function's name (Lambda's role session name is the function name).
    pub name: String,
    /// Its execution role's ARN (`arn:aws:iam::<account>:role/<name>`).
    pub role_arn: String,
    /// The log group its audit events are in (`/aws/lambda/<name>`).
    pub log_group: String,
}

/// Where CloudTrail writes: `s3://<bucket>/<prefix>AWSLogs/<account>/CloudTrail[-Digest]/<region>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailLocation {
    /// The trail bucket.
    pub bucket: String,
    /// The trail's S3 key prefix (empty, or ending in `/`).
    pub prefix: String,
    /// The account the trail logs.
    pub account: String,
    /// The vault's region.
    pub region: String,
}

impl TrailLocation {
    /// The key prefix of log files for the day `YYYY/MM/DD`.
    pub fn log_prefix(&self, day: &str) -> String {
        format!(
            "{}AWSLogs/{}/CloudTrail/{}/{day}/",
            self.prefix, self.account, self.region
        )
    }

    /// The key prefix of digest files for the day `YYYY/MM/DD`.
    pub fn digest_prefix(&self, day: &str) -> String {
        format!(
            "{}AWSLogs/{}/CloudTrail-Digest/{}/{day}/",
            self.prefix, self.account, self.region
        )
    }
}

/// The vault and who may touch it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The vault table's name.
    pub table: String,
    /// The vault's KMS key ARN (a Decrypt with the vault's encryption
    /// context on any key is counted too).
    pub key_arn: String,
    /// The functions that may read records.
    pub functions: Vec<FunctionRole>,
    /// Operator roles (the CLI's): they may touch the vault, but their
    /// PAN-revealing reads have no audit event and are reported.
    pub operators: Vec<String>,
    /// How far apart a read and the audit event that explains it may be.
    pub bound: Millis,
}

impl Scope {
    /// The function whose role is `role_arn`.
    pub fn function_of_role(&self, role_arn: &str) -> Option<&FunctionRole> {
        self.functions.iter().find(|f| f.role_arn == role_arn)
    }

    /// Whether `role_arn` is a function's or an operator's.
    pub fn is_known(&self, role_arn: &str) -> bool {
        self.function_of_role(role_arn).is_some() || self.operators.iter().any(|o| o == role_arn)
    }
}
