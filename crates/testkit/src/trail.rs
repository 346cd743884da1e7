//! Test-only: a CloudTrail stand-in that writes log files and digest files
//! as CloudTrail documents them, and signs the digests with a test RSA key.
//!
//! - Log files: `{"Records":[...]}`, gzip, at
//!   `<prefix>AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz`.
//! - Digest files: the documented fields (`digestStartTime`,
//!   `digestEndTime`, `digestS3Bucket`, `digestS3Object`,
//!   `digestPublicKeyFingerprint`, `digestSignatureAlgorithm`,
//!   `previousDigest*`, `logFiles[]` with `hashValue` = hex SHA-256 of the
//!   uncompressed log file), gzip, at
//!   `<prefix>AWSLogs/<account>/CloudTrail-Digest/<region>/YYYY/MM/DD/<account>_CloudTrail-Digest_<region>_<trail>_<region>_<YYYYMMDDTHHmmssZ>.json.gz`,
//!   signed SHA256withRSA (PKCS #1 v1.5) over
//!   `digestEndTime \n bucket/key \n hex SHA-256 of the uncompressed digest \n previous signature (or null)`,
//!   the signature hex, for the object's `x-amz-meta-signature`.
//! - The public key as `ListPublicKeys` gives it (base64 DER PKCS #1).
//!
//! What this cannot show: that CloudTrail's own keys and files verify. The
//! format is the documented one; the key is ours.

use std::io::Write;

use base64::Engine;
use flate2::Compression;
use flate2::write::GzEncoder;
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// CloudTrail's key size.
const KEY_BITS: usize = 2048;

/// Milliseconds since the epoch.
pub type Millis = i64;

fn at(ms: Millis) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `2015-08-17T14:52:27Z`.
pub fn rfc3339(ms: Millis) -> String {
    at(ms).format(&Rfc3339).unwrap_or_default()
}

fn day(ms: Millis) -> String {
    let t = at(ms);
    format!("{:04}/{:02}/{:02}", t.year(), u8::from(t.month()), t.day())
}

fn compact(ms: Millis, seconds: bool) -> String {
    let t = at(ms);
    let mut s = format!(
        "{:04}{:02}{:02}T{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    );
    if seconds {
        s.push_str(&format!("{:02}", t.second()));
    }
    s + "Z"
}

/// Gzip, as CloudTrail stores its files.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A test signing key standing in for CloudTrail's regional key.
#[derive(Clone)]
pub struct TrailKey {
    key: RsaPrivateKey,
    /// The fingerprint digests name (32 hex digits, as CloudTrail's; the
    /// verifier only selects the key by it).
    pub fingerprint: String,
}

impl std::fmt::Debug for TrailKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrailKey({})", self.fingerprint)
    }
}

impl TrailKey {
    /// A fresh 2048-bit key.
    pub fn generate() -> TrailKey {
        let mut rng = rand::rngs::StdRng::from_entropy();
        #[allow(clippy::expect_used)]
        let key = RsaPrivateKey::new(&mut rng, KEY_BITS).expect("an RSA key");
        let der = key
            .to_public_key()
            .to_pkcs1_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        TrailKey {
            key,
            fingerprint: sha256_hex(&der)[..32].to_owned(),
        }
    }

    /// The public key as `aws cloudtrail list-public-keys` prints it.
    pub fn list_public_keys(&self) -> String {
        let der = self
            .key
            .to_public_key()
            .to_pkcs1_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        json!({"PublicKeyList": [{
            "Value": base64::engine::general_purpose::STANDARD.encode(der),
            "ValidityStartTime": "2020-01-01T00:00:00Z",
            "ValidityEndTime": "2099-01-01T00:00:00Z",
            "Fingerprint": self.fingerprint,
        }]})
        .to_string()
    }

    /// Hex SHA256withRSA signature of `message`.
    pub fn sign(&self, message: &str) -> String {
        let signer = SigningKey::<Sha256>::new(self.key.clone());
        hex::encode(signer.sign(message.as_bytes()).to_bytes())
    }
}

use rand::SeedableRng;

/// A file to put in the trail bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailFile {
    /// Its key.
    pub key: String,
    /// Its gzip bytes.
    pub body: Vec<u8>,
    /// `x-amz-meta-signature` (digests only).
    pub signature: Option<String>,
}

struct Delivered {
    key: String,
    sha256: String,
    oldest: Millis,
    newest: Millis,
}

/// Writes a trail: log files, then an hourly digest over what was written.
pub struct TrailWriter {
    /// The bucket.
    pub bucket: String,
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
    /// The trail's name.
    pub trail: String,
    key: TrailKey,
    pending: Vec<Delivered>,
    previous: Option<(String, String, String)>,
    serial: u64,
}

impl TrailWriter {
    /// A writer for `bucket` (no key prefix).
    pub fn new(bucket: &str, account: &str, region: &str, key: TrailKey) -> TrailWriter {
        TrailWriter {
            bucket: bucket.into(),
            account: account.into(),
            region: region.into(),
            trail: "tessera-trail".into(),
            key,
            pending: Vec::new(),
            previous: None,
            serial: 0,
        }
    }

    /// The signing key.
    pub fn key(&self) -> &TrailKey {
        &self.key
    }

    /// A log file delivered at `delivered` holding `records`.
    pub fn log_file(&mut self, delivered: Millis, records: &[Value]) -> TrailFile {
        self.serial += 1;
        let key = format!(
            "AWSLogs/{a}/CloudTrail/{r}/{d}/{a}_CloudTrail_{r}_{t}_{u:016X}.json.gz",
            a = self.account,
            r = self.region,
            d = day(delivered),
            t = compact(delivered, false),
            u = self.serial
        );
        let body = json!({ "Records": records }).to_string();
        let times: Vec<Millis> = records
            .iter()
            .filter_map(|r| r["eventTime"].as_str())
            .filter_map(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            .map(|t| t.unix_timestamp() * 1000)
            .collect();
        self.pending.push(Delivered {
            key: key.clone(),
            sha256: sha256_hex(body.as_bytes()),
            oldest: times.iter().copied().min().unwrap_or(delivered),
            newest: times.iter().copied().max().unwrap_or(delivered),
        });
        TrailFile {
            key,
            body: gzip(body.as_bytes()),
            signature: None,
        }
    }

    /// The digest for `[start, end)` over the log files written since the
    /// last one, chained to it.
    pub fn digest(&mut self, start: Millis, end: Millis) -> TrailFile {
        let key = format!(
            "AWSLogs/{a}/CloudTrail-Digest/{r}/{d}/{a}_CloudTrail-Digest_{r}_{n}_{r}_{t}.json.gz",
            a = self.account,
            r = self.region,
            n = self.trail,
            d = day(end),
            t = compact(end, true)
        );
        let files: Vec<Value> = self
            .pending
            .drain(..)
            .map(|f| {
                json!({
                    "s3Bucket": self.bucket,
                    "s3Object": f.key,
                    "hashValue": f.sha256,
                    "hashAlgorithm": "SHA-256",
                    "newestEventTime": rfc3339(f.newest),
                    "oldestEventTime": rfc3339(f.oldest),
                })
            })
            .collect();
        let (pb, pk, ph, ps) = match &self.previous {
            Some((k, h, s)) => (json!(self.bucket), json!(k), json!(h), json!(s)),
            None => (Value::Null, Value::Null, Value::Null, Value::Null),
        };
        let end_text = rfc3339(end);
        let body = json!({
            "awsAccountId": self.account,
            "digestStartTime": rfc3339(start),
            "digestEndTime": end_text,
            "digestS3Bucket": self.bucket,
            "digestS3Object": key,
            "digestPublicKeyFingerprint": self.key.fingerprint,
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": rfc3339(end),
            "oldestEventTime": rfc3339(start),
            "previousDigestS3Bucket": pb,
            "previousDigestS3Object": pk,
            "previousDigestHashValue": ph,
            "previousDigestHashAlgorithm": if self.previous.is_some() { json!("SHA-256") } else { Value::Null },
            "previousDigestSignature": ps,
            "logFiles": files,
        })
        .to_string();
        let sha = sha256_hex(body.as_bytes());
        let previous_signature = self
            .previous
            .as_ref()
            .map_or("null".to_owned(), |(_, _, s)| s.clone());
        let message = format!(
            "{end_text}\n{}/{key}\n{sha}\n{previous_signature}",
            self.bucket
        );
        let signature = self.key.sign(&message);
        self.previous = Some((key.clone(), sha, signature.clone()));
        TrailFile {
            key,
            body: gzip(body.as_bytes()),
            signature: Some(signature),
        }
    }
}

/// What a CloudTrail record says about its caller: an assumed-role session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The role's ARN.
    pub role_arn: String,
    /// The session name (Lambda's is the function name).
    pub name: String,
    /// `sourceIPAddress`.
    pub source_ip: String,
    /// `userAgent`.
    pub user_agent: String,
}

impl Session {
    /// An assumed-role session of `role_arn` named `name`.
    pub fn new(role_arn: &str, name: &str) -> Session {
        Session {
            role_arn: role_arn.into(),
            name: name.into(),
            source_ip: "198.51.100.7".into(),
            user_agent: "aws-sdk-rust/1.3 os/linux lang/rust".into(),
        }
    }

    fn identity(&self) -> Value {
        let account = self.role_arn.split(':').nth(4).unwrap_or("");
        let role = self.role_arn.rsplit('/').next().unwrap_or("");
        json!({
            "type": "AssumedRole",
            "principalId": format!("AROAEXAMPLEID:{}", self.name),
            "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{}", self.name),
            "accountId": account,
            "accessKeyId": "ASIAEXAMPLEKEY",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLEID",
                    "arn": self.role_arn,
                    "accountId": account,
                    "userName": role,
                },
                "attributes": {"creationDate": "2026-01-01T00:00:00Z", "mfaAuthenticated": "false"}
            }
        })
    }

    /// A CloudTrail record of `event_name` on `source` by this session.
    pub fn record(
        &self,
        time: Millis,
        source: &str,
        event_name: &str,
        request_parameters: Value,
        resources: Value,
        serial: u64,
    ) -> Value {
        let account = self.role_arn.split(':').nth(4).unwrap_or("");
        let data = source == "dynamodb.amazonaws.com";
        json!({
            "eventVersion": "1.09",
            "userIdentity": self.identity(),
            "eventTime": rfc3339(time),
            "eventSource": source,
            "eventName": event_name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": self.source_ip,
            "userAgent": self.user_agent,
            "requestParameters": request_parameters,
            "responseElements": null,
            "requestID": format!("REQ{serial:012}"),
            "eventID": format!("00000000-0000-4000-8000-{serial:012}"),
            "readOnly": true,
            "resources": resources,
            "eventType": "AwsApiCall",
            "managementEvent": !data,
            "recipientAccountId": account,
            "eventCategory": if data { "Data" } else { "Management" },
        })
    }
}

/// The `resources` of a DynamoDB data event on `table`.
pub fn table_resources(account: &str, table: &str) -> Value {
    json!([{"accountId": account, "type": "AWS::DynamoDB::Table",
            "ARN": format!("arn:aws:dynamodb:us-east-1:{account}:table/{table}")}])
}

/// The `resources` of a KMS event on `key_arn`.
pub fn key_resources(account: &str, key_arn: &str) -> Value {
    json!([{"accountId": account, "type": "AWS::KMS::Key", "ARN": key_arn}])
}
