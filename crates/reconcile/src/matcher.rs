//! Matches every PAN-revealing vault read to the audit event that explains
//! it, streaming.
//!
//! A read is explained by an audit event of the function whose role and
//! role session made it, of an operation that reads records
//! ([`crate::audit::REVEALING_OPERATIONS`]), allowed, within the time bound,
//! naming every token the read named (by hint). A `Decrypt` under the
//! vault's context is explained by any such audit event of its function
//! within the bound (the data-key cache makes Decrypt rarer than reads).
//! An audit event that says records were read must find those reads.
//!
//! Memory: calls and audit events arrive roughly in time order, with a
//! watermark ([`Matcher::advance`]) saying nothing older will come. An item
//! older than the watermark less the bound is final, and is dropped (or
//! reported). So the matcher holds only what lies within the bound and the
//! sources' reordering of the watermark: bounded by traffic rate, never by
//! the window's length.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::audit::AuditRecord;
use crate::cloudtrail::{CallKind, VaultCall};
use crate::report::{AuditWithoutRead, Finding, HINTS_KEPT, LISTED_KEPT, Report, UnexplainedReads};
use crate::scope::Scope;
use crate::time::Millis;

struct PendingAudit {
    record: AuditRecord,
    covered: Vec<bool>,
    counted: bool,
}

struct PendingRead {
    call: VaultCall,
    function: String,
    counted: bool,
}

type GroupKey = (String, String, String, String, String, &'static str);

/// The streaming matcher. Feed it with [`Matcher::call`] and
/// [`Matcher::audit`], move the [`Matcher::advance`] watermark, then
/// [`Matcher::finish`].
pub struct Matcher<'s> {
    scope: &'s Scope,
    from: Millis,
    to: Millis,
    audits: HashMap<String, VecDeque<PendingAudit>>,
    reads: VecDeque<PendingRead>,
    pending: usize,
    unexplained: BTreeMap<GroupKey, UnexplainedReads>,
    foreign: BTreeMap<String, (u64, Vec<String>)>,
    report: Report,
}

impl<'s> Matcher<'s> {
    /// A matcher counting reads and audit events in `[from, to)`; items
    /// outside it only explain (or are explained by) items inside.
    pub fn new(scope: &'s Scope, from: Millis, to: Millis) -> Matcher<'s> {
        Matcher {
            scope,
            from,
            to,
            audits: HashMap::new(),
            reads: VecDeque::new(),
            pending: 0,
            unexplained: BTreeMap::new(),
            foreign: BTreeMap::new(),
            report: Report {
                from,
                to,
                ..Report::default()
            },
        }
    }

    /// The report so far (trail counts are added by the caller).
    pub fn report_mut(&mut self) -> &mut Report {
        &mut self.report
    }

    fn in_window(&self, t: Millis) -> bool {
        t >= self.from && t < self.to
    }

    fn note_pending(&mut self, delta: isize) {
        self.pending = self.pending.saturating_add_signed(delta);
        self.report.peak_pending = self.report.peak_pending.max(self.pending);
    }

    /// One CloudTrail record that touched the vault.
    pub fn call(&mut self, call: VaultCall) {
        if !self.in_window(call.time) {
            // Not counted, but it may be the read an audit event in the
            // window names (a request at the window's edge).
            self.outside(call);
            return;
        }
        self.report.vault_calls += 1;
        let counts = self
            .report
            .callers
            .entry(call.caller.principal.clone())
            .or_default();
        match call.kind {
            CallKind::RecordRead => counts.reads += 1,
            CallKind::Decrypt => counts.decrypts += 1,
            CallKind::Other => counts.other += 1,
        }
        if !self.scope.is_known(&call.caller.principal) {
            let entry = self
                .foreign
                .entry(call.caller.principal.clone())
                .or_default();
            entry.0 += 1;
            if !entry.1.contains(&call.event_name) {
                entry.1.push(call.event_name.clone());
            }
        }
        if call.kind == CallKind::Other {
            return;
        }
        let function = self
            .scope
            .function_of_role(&call.caller.principal)
            .filter(|f| f.name == call.caller.session)
            .map(|f| f.name.clone());
        let Some(function) = function else {
            let why = if self
                .scope
                .function_of_role(&call.caller.principal)
                .is_some()
            {
                "a function's role in a session that is not the function's"
            } else if self.scope.is_known(&call.caller.principal) {
                "an operator role: no audit event is written for its reads"
            } else {
                "not a function's role"
            };
            self.unexplained(call, why);
            return;
        };
        if call.unkeyed {
            self.unexplained(
                call,
                "a query, scan or PartiQL read of records, which no function makes",
            );
            return;
        }
        if self.explain(&call, &function) {
            self.explained(&call);
        } else {
            self.reads.push_back(PendingRead {
                call,
                function,
                counted: true,
            });
            self.note_pending(1);
        }
    }

    fn outside(&mut self, call: VaultCall) {
        if call.kind == CallKind::Other || call.unkeyed {
            return;
        }
        let Some(function) = self
            .scope
            .function_of_role(&call.caller.principal)
            .filter(|f| f.name == call.caller.session)
            .map(|f| f.name.clone())
        else {
            return;
        };
        if !self.explain(&call, &function) {
            self.reads.push_back(PendingRead {
                call,
                function,
                counted: false,
            });
            self.note_pending(1);
        }
    }

    fn explained(&mut self, call: &VaultCall) {
        if let Some(c) = self.report.callers.get_mut(&call.caller.principal) {
            match call.kind {
                CallKind::Decrypt => c.decrypts_explained += 1,
                _ => c.explained += 1,
            }
        }
    }

    /// Finds an audit event for `call`; marks what it covers.
    fn explain(&mut self, call: &VaultCall, function: &str) -> bool {
        let bound = self.scope.bound;
        let Some(audits) = self.audits.get_mut(function) else {
            return false;
        };
        let mut best: Option<(usize, bool)> = None;
        // The queue is in time order: only the bound's slice of it is looked at.
        let first = audits.partition_point(|a| a.record.time < call.time - bound);
        for (i, a) in audits.iter().enumerate().skip(first) {
            if a.record.time > call.time + bound {
                break;
            }
            if !a.record.can_explain() {
                continue;
            }
            let covers = call
                .hints
                .iter()
                .all(|h| a.record.hints.iter().any(|ah| ah == h));
            if !covers {
                continue;
            }
            // Prefer an event whose hinted reads are still missing.
            let fresh = call.hints.iter().any(|h| {
                a.record
                    .hints
                    .iter()
                    .zip(&a.covered)
                    .any(|(ah, c)| ah == h && !c)
            });
            if best.is_none_or(|(_, f)| fresh && !f) {
                best = Some((i, fresh));
            }
            if fresh {
                break;
            }
        }
        let Some((i, _)) = best else {
            return false;
        };
        let a = &mut audits[i];
        for h in &call.hints {
            for (ah, c) in a.record.hints.iter().zip(a.covered.iter_mut()) {
                if ah == h {
                    *c = true;
                }
            }
        }
        true
    }

    /// One audit event.
    pub fn audit(&mut self, record: AuditRecord) {
        let counted = self.in_window(record.time);
        if counted {
            *self
                .report
                .audit_events
                .entry(record.function.clone())
                .or_default() += 1;
        }
        if !record.can_explain() {
            return;
        }
        let covered = vec![false; record.hints.len()];
        let function = record.function.clone();
        let time = record.time;
        let queue = self.audits.entry(function.clone()).or_default();
        let at = queue.partition_point(|a| a.record.time <= time);
        queue.insert(
            at,
            PendingAudit {
                record,
                covered,
                counted,
            },
        );
        self.note_pending(1);
        // Reads that arrived before their audit event.
        let mut i = 0;
        while i < self.reads.len() {
            let (same, near) = {
                let r = &self.reads[i];
                (
                    r.function == function,
                    (r.call.time - time).abs() <= self.scope.bound,
                )
            };
            if same && near {
                let call = self.reads[i].call.clone();
                if self.explain(&call, &function) {
                    if let Some(r) = self.reads.remove(i) {
                        self.note_pending(-1);
                        if r.counted {
                            self.explained(&call);
                        }
                    }
                    continue;
                }
            }
            i += 1;
        }
    }

    /// Nothing older than `watermark` will be fed any more: what lies
    /// beyond the bound before it is final.
    pub fn advance(&mut self, watermark: Millis) {
        let cutoff = watermark.saturating_sub(self.scope.bound);
        // Reads are roughly, not strictly, in time order: sweep them all.
        let mut i = 0;
        while i < self.reads.len() {
            if self.reads[i].call.time < cutoff {
                if let Some(r) = self.reads.remove(i) {
                    self.note_pending(-1);
                    if r.counted {
                        self.unexplained(r.call, "no audit event of its function names it in time");
                    }
                }
            } else {
                i += 1;
            }
        }
        let mut done = Vec::new();
        for queue in self.audits.values_mut() {
            while queue.front().is_some_and(|a| a.record.time < cutoff) {
                if let Some(a) = queue.pop_front() {
                    done.push(a);
                }
            }
        }
        for a in done {
            self.note_pending(-1);
            if a.counted && a.record.must_read() && a.covered.iter().any(|c| !c) {
                let hints = a
                    .record
                    .hints
                    .iter()
                    .zip(&a.covered)
                    .filter(|(_, c)| !**c)
                    .map(|(h, _)| h.clone())
                    .collect();
                let listed = self
                    .report
                    .findings
                    .iter()
                    .filter(|f| matches!(f, Finding::AuditWithoutRead(_)))
                    .count();
                if listed < LISTED_KEPT {
                    self.report
                        .findings
                        .push(Finding::AuditWithoutRead(AuditWithoutRead {
                            function: a.record.function,
                            request_id: a.record.request_id,
                            operation: a.record.operation,
                            time: a.record.time,
                            hints,
                        }));
                } else {
                    self.report.audits_without_read += 1;
                }
            }
        }
    }

    fn unexplained(&mut self, call: VaultCall, why: &'static str) {
        let key = (
            call.caller.principal.clone(),
            call.caller.session.clone(),
            call.source_ip.clone(),
            call.user_agent.clone(),
            call.event_name.clone(),
            why,
        );
        let group = self
            .unexplained
            .entry(key)
            .or_insert_with(|| UnexplainedReads {
                principal: call.caller.principal.clone(),
                session: call.caller.session.clone(),
                source_ip: call.source_ip.clone(),
                user_agent: call.user_agent.clone(),
                event_name: call.event_name.clone(),
                why,
                count: 0,
                first: call.time,
                last: call.time,
                hints: Vec::new(),
            });
        group.count += 1;
        group.first = group.first.min(call.time);
        group.last = group.last.max(call.time);
        for h in call.hints {
            if group.hints.len() < HINTS_KEPT && !group.hints.contains(&h) {
                group.hints.push(h);
            }
        }
    }

    /// Everything is in: the report.
    pub fn finish(mut self) -> Report {
        self.advance(Millis::MAX);
        let mut findings: Vec<Finding> = self
            .unexplained
            .into_values()
            .map(Finding::UnexplainedReads)
            .collect();
        findings.extend(
            self.foreign
                .into_iter()
                .map(|(principal, (count, events))| Finding::ForeignPrincipal {
                    principal,
                    count,
                    events,
                }),
        );
        findings.append(&mut self.report.findings);
        self.report.findings = findings;
        self.report
    }
}

#[cfg(test)]
mod tests;
