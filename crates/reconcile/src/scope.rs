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
    /// The vault id the data keys' encryption context names as `table`
    /// (`TESSERA_VAULT_ID`; the table's name unless set).
    pub vault_id: String,
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

impl FunctionRole {
    /// Parses `name role-arn [log-group]; ...`: the functions' names, roles
    /// and log groups (default `/aws/lambda/<name>`), `;` between functions
    /// (role names may hold `,` and `=`, never `;` or spaces).
    pub fn parse_list(text: &str) -> Result<Vec<FunctionRole>, String> {
        let mut out = Vec::new();
        for item in text.split(';').map(str::trim).filter(|i| !i.is_empty()) {
            let parts: Vec<&str> = item.split_whitespace().collect();
            let (name, role, group) = match parts.as_slice() {
                [name, role] => (*name, *role, format!("/aws/lambda/{name}")),
                [name, role, group] => (*name, *role, (*group).to_owned()),
                _ => return Err(format!("{item:?}: want `name role-arn [log-group]`")),
            };
            if !role.starts_with("arn:") || !role.contains(":role/") {
                return Err(format!("{name}: {role:?} is not a role ARN"));
            }
            out.push(FunctionRole {
                name: name.to_owned(),
                role_arn: role.to_owned(),
                log_group: group,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::FunctionRole;

    #[test]
    fn function_lists_parse() {
        let list = FunctionRole::parse_list(
            "tessera-detokenize arn:aws:iam::1:role/d /logs/d; tessera-forward arn:aws:iam::1:role/f",
        )
        .expect("parses");
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].log_group, "/aws/lambda/tessera-forward");
        assert!(FunctionRole::parse_list("x").is_err());
        assert!(FunctionRole::parse_list("x arn:aws:iam::1:user/u").is_err());
        assert_eq!(FunctionRole::parse_list(" ; ").map(|l| l.len()), Ok(0));
    }
}
