//! The reconciliation of one window, over two ports: the trail bucket
//! ([`TrailStore`]) and the functions' log groups ([`AuditLog`]).
//!
//! 1. The digests: every digest file from the window's start to an hour
//!    past its end plus the delivery lag, each verified (signature, place),
//!    chained to the one before (the first to its named predecessor).
//! 2. The log files, slice by slice in time order: each one's SHA-256
//!    against the digest that lists it, its records classified
//!    ([`crate::cloudtrail::classify`]); and the slice's audit events from
//!    every function's log group. After each slice the matcher's watermark
//!    moves to the slice's end less the lag: CloudTrail delivers a record up
//!    to `lag` after it happened, in a file named for its delivery.
//! 3. Digests' log files never found, and log files in no digest.
//!
//! Memory: one log file, one slice of audit events, the matcher's pending
//! items (the bound plus the lag's worth of traffic) and one entry per log
//! file and digest (hash and key). Never the whole window.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;

use crate::audit::parse_line;
use crate::cloudtrail::{LogFile, classify};
use crate::integrity::{
    IntegrityError, PublicKeys, VerifiedDigest, check_link, file_time, inflate, sha256_hex,
    verify_digest,
};
use crate::matcher::Matcher;
use crate::report::{Finding, Report, TrailIssue};
use crate::scope::{Scope, TrailLocation};
use crate::time::{DAY, HOUR, MINUTE, Millis, day_path};

/// A source failed (not a finding: the reconciliation could not run).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// An object of the trail bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailObject {
    /// Its bytes, as stored (gzip).
    pub body: Vec<u8>,
    /// Its `x-amz-meta-signature` metadata (digest files).
    pub signature: Option<String>,
}

/// The trail bucket, read only.
#[async_trait]
pub trait TrailStore: Send + Sync {
    /// Every key under `prefix`, in key order.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, SourceError>;
    /// One object; `None` when there is none at `key`.
    async fn get(&self, key: &str) -> Result<Option<TrailObject>, SourceError>;
}

/// The functions' log groups, read only.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// The lines of `log_group` with a timestamp in `[start, end)`.
    async fn lines(
        &self,
        log_group: &str,
        start: Millis,
        end: Millis,
    ) -> Result<Vec<String>, SourceError>;
}

/// How far along a reconciliation is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Log files read of those in the window.
    pub files: u64,
    /// Of all.
    pub files_total: u64,
    /// CloudTrail records read so far.
    pub records: u64,
}

/// The default delivery lag: CloudTrail delivers most log files within
/// about five minutes of an API call, with no guarantee; fifteen minutes
/// covers what it documents as typical.
pub const DEFAULT_LAG: Millis = 15 * MINUTE;
/// How often CloudTrail writes a digest file.
pub const DIGEST_PERIOD: Millis = HOUR;
/// The default bound between a read and its audit event: the functions'
/// own timeout is a few seconds; an audit event is written when the request
/// arrives, its reads follow within it.
pub const DEFAULT_BOUND: Millis = 10_000;
/// The slice of log files and audit events read at a time.
pub const SLICE: Millis = 5 * MINUTE;

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The window's start.
    pub from: Millis,
    /// The window's end.
    pub to: Millis,
    /// The delivery lag allowed (files up to `to + lag` are read).
    pub lag: Millis,
    /// The time now, to tell an overdue digest from one not yet due.
    pub now: Millis,
    /// CloudTrail's public keys.
    pub keys: PublicKeys,
}

fn trail_finding(issue: TrailIssue, key: &str, detail: impl ToString) -> Finding {
    Finding::Trail {
        issue,
        key: key.to_owned(),
        detail: detail.to_string(),
    }
}

/// The keys under the day prefixes from `start` to `end` whose file time is
/// in `[start, end)`, in time order.
async fn keys_between(
    store: &dyn TrailStore,
    prefix_of: impl Fn(&str) -> String,
    start: Millis,
    end: Millis,
) -> Result<Vec<(Millis, String)>, SourceError> {
    let mut keys = Vec::new();
    let mut day = start - start.rem_euclid(DAY);
    while day < end {
        for key in store.list(&prefix_of(&day_path(day))).await? {
            if let Some(t) = file_time(&key).filter(|t| *t >= start && *t < end) {
                keys.push((t, key));
            }
        }
        day += DAY;
    }
    keys.sort();
    Ok(keys)
}

async fn read_digest(
    store: &dyn TrailStore,
    trail: &TrailLocation,
    key: &str,
    keys: &PublicKeys,
) -> Result<Result<VerifiedDigest, Finding>, SourceError> {
    let Some(object) = store.get(key).await? else {
        return Ok(Err(trail_finding(TrailIssue::MissingDigest, key, "")));
    };
    let verified = inflate(&object.body).and_then(|inflated| {
        verify_digest(
            &trail.bucket,
            key,
            &inflated,
            object.signature.as_deref(),
            keys,
        )
    });
    Ok(verified.map_err(|e: IntegrityError| trail_finding(TrailIssue::InvalidDigest, key, e)))
}

/// Reconciles one window. `progress` is told after every log file.
pub async fn reconcile(
    scope: &Scope,
    trail: &TrailLocation,
    store: &dyn TrailStore,
    logs: &dyn AuditLog,
    options: &Options,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report, SourceError> {
    let mut findings = Vec::new();
    let files_end = options.to + options.lag;

    // 1. Digests, verified and chained.
    let digest_keys = keys_between(
        store,
        |d| trail.digest_prefix(d),
        options.from,
        files_end + DIGEST_PERIOD,
    )
    .await?;
    let mut listed: BTreeMap<String, String> = BTreeMap::new();
    let mut digests_verified = 0;
    let mut previous: Option<VerifiedDigest> = None;
    let mut newest_end = Millis::MIN;
    for (i, (_, key)) in digest_keys.iter().enumerate() {
        let digest = match read_digest(store, trail, key, &options.keys).await? {
            Ok(d) => d,
            Err(finding) => {
                findings.push(finding);
                previous = None;
                continue;
            }
        };
        digests_verified += 1;
        newest_end = newest_end.max(digest.end);
        match (&previous, &digest.previous) {
            (Some(p), _) => {
                if let Err(e) = check_link(&trail.bucket, p, &digest) {
                    findings.push(trail_finding(TrailIssue::BrokenChain, key, e));
                }
            }
            // The first in the window: its predecessor must exist and match.
            (None, Some(named)) if i == 0 => {
                match read_digest(store, trail, &named.key, &options.keys).await? {
                    Ok(p) => {
                        if let Err(e) = check_link(&trail.bucket, &p, &digest) {
                            findings.push(trail_finding(TrailIssue::BrokenChain, key, e));
                        }
                    }
                    Err(f) => findings.push(f),
                }
            }
            // After a digest that did not verify: already a finding.
            (None, _) => {}
        }
        for f in &digest.log_files {
            if f.bucket == trail.bucket {
                listed.insert(f.key.clone(), f.sha256.clone());
            }
        }
        previous = Some(digest);
    }
    if newest_end < files_end && options.now > files_end + DIGEST_PERIOD + options.lag {
        findings.push(trail_finding(
            TrailIssue::DigestOverdue,
            &trail.digest_prefix(&day_path(files_end)),
            format!(
                "no digest ends after {}",
                crate::time::format_rfc3339(files_end)
            ),
        ));
    }

    // 2. Log files and audit events, slice by slice.
    let log_keys = keys_between(store, |d| trail.log_prefix(d), options.from, files_end).await?;
    let mut matcher = Matcher::new(scope, options.from, options.to);
    let mut seen = BTreeSet::new();
    let mut state = Progress {
        files_total: log_keys.len() as u64,
        ..Progress::default()
    };
    let (mut verified, mut awaiting, mut read) = (0u64, 0u64, 0u64);
    let mut next_file = 0;
    let mut slice_start = options.from - scope.bound;
    while slice_start < files_end {
        let slice_end = (slice_start + SLICE).min(files_end);
        // Audit events of the slice (only up to the window's end and bound).
        let audit_end = slice_end.min(options.to + scope.bound);
        if slice_start < audit_end {
            for f in &scope.functions {
                for line in logs.lines(&f.log_group, slice_start, audit_end).await? {
                    if let Some(record) = parse_line(&f.name, &line) {
                        matcher.audit(record);
                    }
                }
            }
        }
        while next_file < log_keys.len() && log_keys[next_file].0 < slice_end {
            let key = &log_keys[next_file].1;
            next_file += 1;
            let Some(object) = store.get(key).await? else {
                continue;
            };
            seen.insert(key.clone());
            read += 1;
            let inflated = match inflate(&object.body) {
                Ok(b) => b,
                Err(e) => {
                    findings.push(trail_finding(TrailIssue::UnreadableLogFile, key, e));
                    continue;
                }
            };
            match listed.get(key) {
                Some(hash) if *hash == sha256_hex(&inflated) => verified += 1,
                Some(_) => findings.push(trail_finding(TrailIssue::AlteredLogFile, key, "")),
                None if file_time(key).is_some_and(|t| t >= newest_end) => awaiting += 1,
                None => findings.push(trail_finding(TrailIssue::UnlistedLogFile, key, "")),
            }
            // An altered file is still read: what it holds is counted too.
            let parsed: LogFile = match serde_json::from_slice(&inflated) {
                Ok(p) => p,
                Err(e) => {
                    findings.push(trail_finding(TrailIssue::UnreadableLogFile, key, e));
                    continue;
                }
            };
            drop(inflated);
            state.records += parsed.records.len() as u64;
            for record in &parsed.records {
                if let Some(call) = classify(record, scope) {
                    matcher.call(call);
                }
            }
            state.files += 1;
            progress(state);
        }
        matcher.advance(slice_end - options.lag);
        slice_start = slice_end;
    }

    // 3. Listed log files that were never found.
    let window_listed = listed
        .keys()
        .filter(|k| file_time(k).is_some_and(|t| t >= options.from && t < files_end));
    for key in window_listed {
        if !seen.contains(key) {
            findings.push(trail_finding(TrailIssue::MissingLogFile, key, ""));
        }
    }

    let mut report = matcher.finish();
    report.records = state.records;
    report.log_files_read = read;
    report.log_files_verified = verified;
    report.awaiting_digest = awaiting;
    report.digests_verified = digests_verified;
    report.findings.extend(findings);
    Ok(report)
}
