//! CloudTrail log file records, as the vault sees them.
//!
//! A log file is `{"Records":[...]}` (gzip); each record has the documented
//! fields `eventTime`, `eventSource`, `eventName`, `userIdentity`,
//! `sourceIPAddress`, `userAgent`, `requestParameters`, `resources`. A record
//! that touches the vault becomes a [`VaultCall`]: who (role and session),
//! from where, and, for a read, the hints of the tokens it named (from the
//! record key `t#<token>` in `requestParameters`) and whether it can reveal a
//! PAN. The full token is never kept: an fpe token shows a card's first six
//! and last four digits.

use serde::Deserialize;
use serde_json::Value;

use crate::scope::Scope;
use crate::time::{Millis, parse_rfc3339};

/// The record key prefix of vault records (`pk = t#<token>`).
pub const RECORD_PREFIX: &str = "t#";
/// The attribute that holds a record's ciphertext: a read that projects it
/// (or projects nothing, reading the whole item) can reveal a PAN.
pub const CIPHERTEXT_ATTRIBUTE: &str = "ct";
/// The encryption context every vault data key is bound to.
pub const CONTEXT_SERVICE: (&str, &str) = ("service", "tessera");
/// The encryption context key that names the vault table.
pub const CONTEXT_TABLE: &str = "table";
/// The keys-only token index: a query of it cannot return a ciphertext.
pub const TOKEN_INDEX: &str = "by-token";

/// A log file's top level.
#[derive(Debug, Deserialize)]
pub struct LogFile {
    /// The records, in no guaranteed order.
    #[serde(rename = "Records", default)]
    pub records: Vec<Value>,
}

/// Who made a call.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Caller {
    /// The role ARN of an assumed-role session, else the identity's ARN
    /// (or its type when it has none, e.g. `AWSService`).
    pub principal: String,
    /// The role session name (Lambda's is the function's name).
    pub session: String,
}

/// What kind of vault call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallKind {
    /// A DynamoDB read of records that can return a ciphertext.
    RecordRead,
    /// A KMS `Decrypt` under the vault's encryption context.
    Decrypt,
    /// Any other call on the table or the key (writes, index reads,
    /// projected reads, management calls).
    Other,
}

/// One CloudTrail record that touched the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultCall {
    /// `eventTime`.
    pub time: Millis,
    /// `eventName` (`GetItem`, `BatchGetItem`, `Query`, `Scan`, `Decrypt`, ...).
    pub event_name: String,
    /// Who.
    pub caller: Caller,
    /// `sourceIPAddress`.
    pub source_ip: String,
    /// `userAgent`.
    pub user_agent: String,
    /// Read, decrypt or other.
    pub kind: CallKind,
    /// The hints (last four) of the records a read named; empty for a
    /// `Query` or `Scan`, which name none.
    pub hints: Vec<String>,
    /// A `Query` or `Scan` of records: it names no token, so no audit event
    /// can explain it.
    pub unkeyed: bool,
}

fn text<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut at = v;
    for p in path {
        at = &at[*p];
    }
    at.as_str().unwrap_or("")
}

/// The caller of a record: an assumed role's issuer ARN and session name,
/// or the identity's ARN.
pub fn caller(record: &Value) -> Caller {
    let identity = &record["userIdentity"];
    if identity["type"] == "AssumedRole" {
        let role = text(identity, &["sessionContext", "sessionIssuer", "arn"]);
        let arn = text(identity, &["arn"]);
        let session = arn.rsplit('/').next().unwrap_or("").to_owned();
        let principal = if role.is_empty() { arn } else { role };
        return Caller {
            principal: principal.to_owned(),
            session,
        };
    }
    let arn = text(identity, &["arn"]);
    let principal = if arn.is_empty() {
        let by = text(identity, &["invokedBy"]);
        if by.is_empty() {
            text(identity, &["type"])
        } else {
            by
        }
    } else {
        arn
    };
    Caller {
        principal: principal.to_owned(),
        session: String::new(),
    }
}

/// A DynamoDB key attribute as CloudTrail logs it: a plain string, or the
/// typed form `{"S": "..."}`.
fn key_string(v: &Value) -> Option<&str> {
    v.as_str().or_else(|| v["S"].as_str())
}

/// The hint of a record key `t#<token>`; `None` for any other item.
fn record_hint(key: &Value) -> Option<String> {
    let pk = key_string(&key["pk"])?;
    let token = pk.strip_prefix(RECORD_PREFIX)?;
    let n = token.chars().count();
    Some(token.chars().skip(n.saturating_sub(4)).collect())
}

/// Whether a read with these parameters can return a record's ciphertext:
/// no projection (the whole item), or one that names `ct` directly or
/// through `expressionAttributeNames`.
fn projects_ciphertext(params: &Value) -> bool {
    if params["select"] == "COUNT" {
        return false;
    }
    let Some(expr) = params["projectionExpression"].as_str() else {
        let legacy = params["attributesToGet"].as_array();
        return legacy.is_none_or(|a| a.iter().any(|n| n == CIPHERTEXT_ATTRIBUTE));
    };
    let names = &params["expressionAttributeNames"];
    expr.split(',').any(|part| {
        let name = part.trim();
        let name = name.split(['.', '[']).next().unwrap_or(name);
        let resolved = if name.starts_with('#') {
            names[name].as_str().unwrap_or(name)
        } else {
            name
        };
        resolved == CIPHERTEXT_ATTRIBUTE
    })
}

/// The table a DynamoDB record is about (its parameters, or its resource ARN).
fn table_of(record: &Value) -> Option<String> {
    let params = &record["requestParameters"];
    if let Some(t) = params["tableName"].as_str() {
        return Some(t.to_owned());
    }
    record["resources"].as_array().and_then(|rs| {
        rs.iter().find_map(|r| {
            let arn = r["ARN"].as_str()?;
            let name = arn.split(":table/").nth(1)?;
            Some(name.split('/').next().unwrap_or(name).to_owned())
        })
    })
}

/// `BatchGetItem`'s request items for `table`: CloudTrail logs
/// `requestItems` as a list of `{tableName, keys, projectionExpression...}`;
/// the API's own map form (`{table: {Keys...}}`) is read too.
fn batch_items<'a>(params: &'a Value, table: &str) -> Vec<&'a Value> {
    match &params["requestItems"] {
        Value::Array(items) => items.iter().filter(|i| i["tableName"] == table).collect(),
        Value::Object(map) => map.get(table).into_iter().collect(),
        _ => Vec::new(),
    }
}

fn keys_of(item: &Value) -> impl Iterator<Item = &Value> {
    item["keys"]
        .as_array()
        .or_else(|| item["Keys"].as_array())
        .into_iter()
        .flatten()
}

/// Classifies one record; `None` when it does not touch the vault.
pub fn classify(record: &Value, scope: &Scope) -> Option<VaultCall> {
    let source = record["eventSource"].as_str()?;
    let event_name = record["eventName"].as_str()?.to_owned();
    let time = parse_rfc3339(record["eventTime"].as_str()?)?;
    let params = &record["requestParameters"];
    let (kind, hints, unkeyed) = match source {
        "dynamodb.amazonaws.com" => {
            if table_of(record)? != scope.table {
                return None;
            }
            match event_name.as_str() {
                "GetItem" => match record_hint(&params["key"]) {
                    Some(hint) if projects_ciphertext(params) => {
                        (CallKind::RecordRead, vec![hint], false)
                    }
                    _ => (CallKind::Other, Vec::new(), false),
                },
                "BatchGetItem" => {
                    let mut hints = Vec::new();
                    for item in batch_items(params, &scope.table) {
                        if projects_ciphertext(item) {
                            hints.extend(keys_of(item).filter_map(record_hint));
                        }
                    }
                    if hints.is_empty() {
                        (CallKind::Other, hints, false)
                    } else {
                        (CallKind::RecordRead, hints, false)
                    }
                }
                // Reads of several items in one transaction: each `get` names its key.
                "TransactGetItems" => {
                    let hints: Vec<String> = params["transactItems"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|i| &i["get"])
                        .filter(|g| {
                            g["tableName"] == scope.table.as_str() && projects_ciphertext(g)
                        })
                        .filter_map(|g| record_hint(&g["key"]))
                        .collect();
                    if hints.is_empty() {
                        (CallKind::Other, hints, false)
                    } else {
                        (CallKind::RecordRead, hints, false)
                    }
                }
                // PartiQL: CloudTrail logs the statement with its values redacted, so
                // which records it read cannot be told; no function uses it.
                "ExecuteStatement" | "BatchExecuteStatement" | "ExecuteTransaction" => {
                    (CallKind::RecordRead, Vec::new(), true)
                }
                "Query" | "Scan" => {
                    let keys_only_index = params["indexName"] == TOKEN_INDEX;
                    if !keys_only_index && projects_ciphertext(params) {
                        (CallKind::RecordRead, Vec::new(), true)
                    } else {
                        (CallKind::Other, Vec::new(), false)
                    }
                }
                _ => (CallKind::Other, Vec::new(), false),
            }
        }
        "kms.amazonaws.com" => {
            let context = &params["encryptionContext"];
            let vault_context = context[CONTEXT_SERVICE.0] == CONTEXT_SERVICE.1
                && context[CONTEXT_TABLE] == scope.vault_id.as_str();
            let on_key = record["resources"]
                .as_array()
                .is_some_and(|rs| rs.iter().any(|r| r["ARN"] == scope.key_arn.as_str()))
                || params["keyId"] == scope.key_arn.as_str();
            if !vault_context && !on_key {
                return None;
            }
            if event_name == "Decrypt" && vault_context {
                (CallKind::Decrypt, Vec::new(), false)
            } else {
                (CallKind::Other, Vec::new(), false)
            }
        }
        _ => return None,
    };
    Some(VaultCall {
        time,
        event_name,
        caller: caller(record),
        source_ip: text(record, &["sourceIPAddress"]).to_owned(),
        user_agent: text(record, &["userAgent"]).to_owned(),
        kind,
        hints,
        unkeyed,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn scope() -> Scope {
        Scope {
            table: "vault".into(),
            vault_id: "vault".into(),
            key_arn: "arn:aws:kms:us-east-1:111122223333:key/k1".into(),
            functions: Vec::new(),
            operators: Vec::new(),
            bound: 5_000,
        }
    }

    fn record(source: &str, name: &str, params: Value) -> Value {
        json!({
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLE:tessera-detokenize",
                "arn": "arn:aws:sts::111122223333:assumed-role/detok-role/tessera-detokenize",
                "accountId": "111122223333",
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/detok-role"}}
            },
            "eventTime": "2026-12-08T10:00:00Z",
            "eventSource": source,
            "eventName": name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.9",
            "userAgent": "aws-sdk-rust",
            "requestParameters": params,
            "resources": [{"type": "AWS::DynamoDB::Table", "ARN": "arn:aws:dynamodb:us-east-1:111122223333:table/vault"}],
            "eventType": "AwsApiCall",
            "managementEvent": false,
            "eventCategory": "Data"
        })
    }

    #[test]
    fn a_whole_item_get_of_a_record_is_a_read_with_the_token_hint() {
        let r = record(
            "dynamodb.amazonaws.com",
            "GetItem",
            json!({"tableName": "vault", "key": {"pk": "t#tok_0000000000000000000000000a"}}),
        );
        let call = classify(&r, &scope()).expect("a vault call");
        assert_eq!(call.kind, CallKind::RecordRead);
        assert_eq!(call.hints, vec!["000a".to_owned()]);
        assert_eq!(
            call.caller.principal,
            "arn:aws:iam::111122223333:role/detok-role"
        );
        assert_eq!(call.caller.session, "tessera-detokenize");
        assert_eq!(call.source_ip, "203.0.113.9");
    }

    #[test]
    fn projections_without_the_ciphertext_and_index_items_are_not_reads() {
        let s = scope();
        let projected = record(
            "dynamodb.amazonaws.com",
            "GetItem",
            json!({"tableName": "vault", "key": {"pk": "t#tok_x000a"},
                   "projectionExpression": "#pk, #fmt", "expressionAttributeNames": {"#pk": "pk", "#fmt": "fmt"}}),
        );
        assert_eq!(
            classify(&projected, &s).map(|c| c.kind),
            Some(CallKind::Other)
        );
        let with_ct = record(
            "dynamodb.amazonaws.com",
            "GetItem",
            json!({"tableName": "vault", "key": {"pk": {"S": "t#tok_x000a"}},
                   "projectionExpression": "#pk, #c", "expressionAttributeNames": {"#pk": "pk", "#c": "ct"}}),
        );
        assert_eq!(
            classify(&with_ct, &s).map(|c| c.kind),
            Some(CallKind::RecordRead)
        );
        let index = record(
            "dynamodb.amazonaws.com",
            "GetItem",
            json!({"tableName": "vault", "key": {"pk": "f#opaque#abcd"}}),
        );
        assert_eq!(classify(&index, &s).map(|c| c.kind), Some(CallKind::Other));
        let other_table = record(
            "dynamodb.amazonaws.com",
            "GetItem",
            json!({"tableName": "orders", "key": {"pk": "t#tok_x000a"}}),
        );
        let mut other_table = other_table;
        other_table["resources"] = json!([]);
        assert_eq!(classify(&other_table, &s), None);
    }

    #[test]
    fn batch_gets_name_every_key_and_scans_name_none() {
        let s = scope();
        let batch = record(
            "dynamodb.amazonaws.com",
            "BatchGetItem",
            json!({"requestItems": [{"tableName": "vault", "keys": [{"pk": "t#tok_a1111"}, {"pk": "t#tok_b2222"}], "consistentRead": true}]}),
        );
        let call = classify(&batch, &s).expect("vault call");
        assert_eq!(call.kind, CallKind::RecordRead);
        assert_eq!(call.hints, vec!["1111".to_owned(), "2222".to_owned()]);
        let scan = record(
            "dynamodb.amazonaws.com",
            "Scan",
            json!({"tableName": "vault"}),
        );
        let call = classify(&scan, &s).expect("vault call");
        assert!(call.unkeyed && call.kind == CallKind::RecordRead);
        let index_query = record(
            "dynamodb.amazonaws.com",
            "Query",
            json!({"tableName": "vault", "indexName": "by-token", "keyConditionExpression": "#t = :t"}),
        );
        assert_eq!(
            classify(&index_query, &s).map(|c| c.kind),
            Some(CallKind::Other)
        );
    }

    #[test]
    fn transactions_name_their_keys_and_partiql_names_none() {
        let s = scope();
        let t = record(
            "dynamodb.amazonaws.com",
            "TransactGetItems",
            json!({"transactItems": [{"get": {"tableName": "vault", "key": {"pk": "t#tok_c3333"}}}]}),
        );
        let call = classify(&t, &s).expect("vault call");
        assert_eq!(
            (call.kind, call.hints),
            (CallKind::RecordRead, vec!["3333".to_owned()])
        );
        let p = record(
            "dynamodb.amazonaws.com",
            "ExecuteStatement",
            json!({"tableName": "vault", "statement": "SELECT * FROM vault WHERE pk = ?"}),
        );
        let call = classify(&p, &s).expect("vault call");
        assert!(call.unkeyed && call.kind == CallKind::RecordRead);
    }

    #[test]
    fn a_decrypt_counts_only_under_the_vault_context() {
        let s = scope();
        let mut decrypt = record(
            "kms.amazonaws.com",
            "Decrypt",
            json!({"encryptionContext": {"service": "tessera", "table": "vault"}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
        );
        decrypt["resources"] =
            json!([{"type": "AWS::KMS::Key", "ARN": "arn:aws:kms:us-east-1:111122223333:key/k1"}]);
        assert_eq!(
            classify(&decrypt, &s).map(|c| c.kind),
            Some(CallKind::Decrypt)
        );
        decrypt["requestParameters"]["encryptionContext"]["table"] = json!("other");
        assert_eq!(
            classify(&decrypt, &s).map(|c| c.kind),
            Some(CallKind::Other)
        );
        decrypt["resources"] = json!([]);
        assert_eq!(classify(&decrypt, &s), None);
    }

    #[test]
    fn callers_of_every_identity_type() {
        let user =
            json!({"userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/mallory"}});
        assert_eq!(caller(&user).principal, "arn:aws:iam::1:user/mallory");
        let service =
            json!({"userIdentity": {"type": "AWSService", "invokedBy": "dynamodb.amazonaws.com"}});
        assert_eq!(caller(&service).principal, "dynamodb.amazonaws.com");
    }
}
