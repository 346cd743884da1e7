//! CloudTrail log file integrity validation, as CloudTrail documents it.
//!
//! Every hour CloudTrail writes a digest file that lists the log files it
//! delivered (each with the SHA-256 of its uncompressed content) and names
//! the previous digest (its key, the SHA-256 of its uncompressed content and
//! its signature). Each digest is signed with the region's private key,
//! SHA256withRSA (PKCS #1 v1.5), over the signing string
//!
//! ```text
//! <digestEndTime>\n<digestS3Bucket>/<digestS3Object>\n<hex SHA-256 of the uncompressed digest>\n<previousDigestSignature, or null>
//! ```
//!
//! and the signature is hex in the object's `x-amz-meta-signature` metadata.
//! The public keys are CloudTrail's (`ListPublicKeys`), supplied by the
//! caller and chosen by `digestPublicKeyFingerprint`. The RSA and SHA-256
//! are RustCrypto's `rsa` and `sha2`; nothing here is hand-written crypto.

use std::io::Read;

use base64::Engine;
use rsa::RsaPublicKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::time::{Millis, parse_rfc3339};

/// The largest uncompressed log or digest file read: CloudTrail's files are
/// far smaller; a larger one is refused rather than held in memory.
pub const MAX_INFLATED_BYTES: u64 = 256 * 1024 * 1024;
/// The only signature algorithm CloudTrail uses.
pub const SIGNATURE_ALGORITHM: &str = "SHA256withRSA";
/// The only hash algorithm CloudTrail uses.
pub const HASH_ALGORITHM: &str = "SHA-256";

/// Why a file did not verify. Carries S3 keys and reasons, never content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrityError {
    /// Not gzip, or larger than [`MAX_INFLATED_BYTES`].
    #[error("not a gzip file of at most {MAX_INFLATED_BYTES} bytes: {0}")]
    Inflate(String),
    /// Not a digest file of the documented shape.
    #[error("malformed digest: {0}")]
    Malformed(String),
    /// The digest names another location than the one it was read from.
    #[error("digest names {named}, found at {found}")]
    Misplaced {
        /// `digestS3Bucket/digestS3Object`.
        named: String,
        /// Where it was.
        found: String,
    },
    /// No `x-amz-meta-signature` on the digest object.
    #[error("digest has no signature metadata")]
    Unsigned,
    /// No supplied public key has the digest's fingerprint.
    #[error("no public key with fingerprint {0}")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
}

/// Inflates a gzip file, at most [`MAX_INFLATED_BYTES`].
pub fn inflate(gz: &[u8]) -> Result<Vec<u8>, IntegrityError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(gz)
        .take(MAX_INFLATED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| IntegrityError::Inflate(e.to_string()))?;
    if out.len() as u64 > MAX_INFLATED_BYTES {
        return Err(IntegrityError::Inflate("too large".into()));
    }
    Ok(out)
}

/// Hex SHA-256, as digests write hashes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One of CloudTrail's public keys, as `ListPublicKeys` gives it.
#[derive(Debug, Clone)]
pub struct PublicKey {
    /// `Fingerprint`.
    pub fingerprint: String,
    /// `Value`: the DER of the RSA public key.
    pub key: RsaPublicKey,
    /// `ValidityStartTime`, if given.
    pub valid_from: Option<Millis>,
    /// `ValidityEndTime`, if given.
    pub valid_to: Option<Millis>,
}

/// The supplied public keys.
#[derive(Debug, Clone, Default)]
pub struct PublicKeys(pub Vec<PublicKey>);

fn time_value(v: &Value) -> Option<Millis> {
    match v {
        Value::String(s) => parse_rfc3339(s),
        Value::Number(n) => n.as_f64().map(|secs| (secs * 1000.0) as Millis),
        _ => None,
    }
}

impl PublicKeys {
    /// Reads the output of `aws cloudtrail list-public-keys`
    /// (`{"PublicKeyList":[{"Value","ValidityStartTime","ValidityEndTime","Fingerprint"}]}`);
    /// `Value` is base64 DER, PKCS #1 `RSAPublicKey` (or SPKI).
    pub fn from_list_public_keys(json: &str) -> Result<PublicKeys, String> {
        let v: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
        let list = v["PublicKeyList"]
            .as_array()
            .ok_or("no PublicKeyList array")?;
        let mut keys = Vec::new();
        for (i, k) in list.iter().enumerate() {
            let fingerprint = k["Fingerprint"]
                .as_str()
                .ok_or(format!("key {i}: no Fingerprint"))?;
            let der = base64::engine::general_purpose::STANDARD
                .decode(k["Value"].as_str().ok_or(format!("key {i}: no Value"))?)
                .map_err(|e| format!("key {i}: Value is not base64: {e}"))?;
            let key = RsaPublicKey::from_pkcs1_der(&der)
                .or_else(|_| RsaPublicKey::from_public_key_der(&der))
                .map_err(|e| format!("key {i}: not an RSA public key: {e}"))?;
            keys.push(PublicKey {
                fingerprint: fingerprint.to_ascii_lowercase(),
                key,
                valid_from: time_value(&k["ValidityStartTime"]),
                valid_to: time_value(&k["ValidityEndTime"]),
            });
        }
        Ok(PublicKeys(keys))
    }

    fn find(&self, fingerprint: &str) -> Option<&PublicKey> {
        let fingerprint = fingerprint.to_ascii_lowercase();
        self.0.iter().find(|k| k.fingerprint == fingerprint)
    }
}

/// A log file a digest lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedLogFile {
    /// `s3Bucket`.
    pub bucket: String,
    /// `s3Object`.
    pub key: String,
    /// `hashValue`: hex SHA-256 of the uncompressed file.
    pub sha256: String,
}

/// The previous digest a digest names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousDigest {
    /// `previousDigestS3Bucket`.
    pub bucket: String,
    /// `previousDigestS3Object`.
    pub key: String,
    /// `previousDigestHashValue`.
    pub sha256: String,
    /// `previousDigestSignature`.
    pub signature: String,
}

/// A digest file whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedDigest {
    /// Where it was read.
    pub key: String,
    /// `digestStartTime`.
    pub start: Millis,
    /// `digestEndTime`.
    pub end: Millis,
    /// The previous digest, `None` for the first of a trail.
    pub previous: Option<PreviousDigest>,
    /// The log files it lists.
    pub log_files: Vec<ListedLogFile>,
    /// Hex SHA-256 of its uncompressed content.
    pub sha256: String,
    /// Its signature (hex), from the object's metadata.
    pub signature: String,
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a str, IntegrityError> {
    v[name]
        .as_str()
        .ok_or_else(|| IntegrityError::Malformed(format!("no {name}")))
}

/// The string CloudTrail signs for a digest.
pub fn signing_string(
    end_time: &str,
    bucket: &str,
    key: &str,
    content_sha256: &str,
    previous_signature: Option<&str>,
) -> String {
    format!(
        "{end_time}\n{bucket}/{key}\n{content_sha256}\n{}",
        previous_signature.unwrap_or("null")
    )
}

/// Verifies one digest file read from `bucket`/`key`: its shape, location
/// and signature. The chain is checked by [`check_link`].
pub fn verify_digest(
    bucket: &str,
    key: &str,
    inflated: &[u8],
    signature_hex: Option<&str>,
    keys: &PublicKeys,
) -> Result<VerifiedDigest, IntegrityError> {
    let v: Value = serde_json::from_slice(inflated)
        .map_err(|e| IntegrityError::Malformed(format!("not JSON: {e}")))?;
    let named_bucket = field(&v, "digestS3Bucket")?;
    let named_key = field(&v, "digestS3Object")?;
    if named_bucket != bucket || named_key != key {
        return Err(IntegrityError::Misplaced {
            named: format!("{named_bucket}/{named_key}"),
            found: format!("{bucket}/{key}"),
        });
    }
    if field(&v, "digestSignatureAlgorithm")? != SIGNATURE_ALGORITHM {
        return Err(IntegrityError::Malformed(
            "digestSignatureAlgorithm is not SHA256withRSA".into(),
        ));
    }
    let end_text = field(&v, "digestEndTime")?;
    let end =
        parse_rfc3339(end_text).ok_or_else(|| IntegrityError::Malformed("digestEndTime".into()))?;
    let start = parse_rfc3339(field(&v, "digestStartTime")?)
        .ok_or_else(|| IntegrityError::Malformed("digestStartTime".into()))?;
    let sha256 = sha256_hex(inflated);
    let previous_signature = v["previousDigestSignature"].as_str();
    let signature_hex = signature_hex.ok_or(IntegrityError::Unsigned)?;
    let fingerprint = field(&v, "digestPublicKeyFingerprint")?;
    let public = keys
        .find(fingerprint)
        .ok_or_else(|| IntegrityError::UnknownKey(fingerprint.to_owned()))?;
    let message = signing_string(end_text, bucket, key, &sha256, previous_signature);
    let signature_bytes = hex::decode(signature_hex).map_err(|_| IntegrityError::BadSignature)?;
    let signature = Signature::try_from(signature_bytes.as_slice())
        .map_err(|_| IntegrityError::BadSignature)?;
    VerifyingKey::<Sha256>::new(public.key.clone())
        .verify(message.as_bytes(), &signature)
        .map_err(|_| IntegrityError::BadSignature)?;
    let previous = match previous_signature {
        None => None,
        Some(sig) => {
            if v["previousDigestHashAlgorithm"] != HASH_ALGORITHM {
                return Err(IntegrityError::Malformed(
                    "previousDigestHashAlgorithm is not SHA-256".into(),
                ));
            }
            Some(PreviousDigest {
                bucket: field(&v, "previousDigestS3Bucket")?.to_owned(),
                key: field(&v, "previousDigestS3Object")?.to_owned(),
                sha256: field(&v, "previousDigestHashValue")?.to_ascii_lowercase(),
                signature: sig.to_ascii_lowercase(),
            })
        }
    };
    let mut log_files = Vec::new();
    for f in v["logFiles"].as_array().into_iter().flatten() {
        if f["hashAlgorithm"] != HASH_ALGORITHM {
            return Err(IntegrityError::Malformed(
                "a log file's hashAlgorithm is not SHA-256".into(),
            ));
        }
        log_files.push(ListedLogFile {
            bucket: field(f, "s3Bucket")?.to_owned(),
            key: field(f, "s3Object")?.to_owned(),
            sha256: field(f, "hashValue")?.to_ascii_lowercase(),
        });
    }
    Ok(VerifiedDigest {
        key: key.to_owned(),
        start,
        end,
        previous,
        log_files,
        sha256,
        signature: signature_hex.to_ascii_lowercase(),
    })
}

/// Why two digests do not chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The later digest names another previous digest.
    #[error("names {0} as its previous digest")]
    OtherPrevious(String),
    /// The later digest names none (a new chain: logging was stopped).
    #[error("starts a new chain (logging or validation was off before it)")]
    NewChain,
    /// The previous digest's content is not the one the later one hashed.
    #[error("the previous digest's hash does not match")]
    Hash,
    /// The previous digest's signature is not the one the later one holds.
    #[error("the previous digest's signature does not match")]
    Signature,
}

/// Checks that `next` names `previous` (in `bucket`), its hash and its signature.
pub fn check_link(
    bucket: &str,
    previous: &VerifiedDigest,
    next: &VerifiedDigest,
) -> Result<(), LinkError> {
    let named = next.previous.as_ref().ok_or(LinkError::NewChain)?;
    if named.bucket != bucket || named.key != previous.key {
        return Err(LinkError::OtherPrevious(named.key.clone()));
    }
    if named.sha256 != previous.sha256 {
        return Err(LinkError::Hash);
    }
    if named.signature != previous.signature {
        return Err(LinkError::Signature);
    }
    Ok(())
}

/// The time in a CloudTrail file name (log: `..._20150817T1445Z_<unique>.json.gz`;
/// digest: `..._20150817T150131Z.json.gz`, or `..._backfill.json.gz`).
pub fn file_time(key: &str) -> Option<Millis> {
    let name = key.rsplit('/').next()?;
    let stem = name.strip_suffix(".json.gz")?;
    stem.split('_').rev().find_map(crate::time::parse_compact)
}
