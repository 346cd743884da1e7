'use strict';
// Negative proofs: for each cell that must be denied (and is), a broken copy
// of the materialized template in which it would be allowed, made by editing
// the statements that decided the denial, on which the same cell evaluation
// must report the capability as held. A denied cell whose denial no template
// edit can lift would be proved by nothing: it fails.
//
// The edits, in order, re-evaluating after each round: remove every Deny
// statement that applied; drop the Condition of every Allow statement whose
// action, resource and principal matched but whose condition did not; widen
// a matching Allow's Resource to "*". If still denied: add an Allow for the
// request to the principal's first template policy and to the target's
// resource policy (naming the principal), as a wider grant in either place would.

const { world, evaluateCell, getPath } = require('./model');

function policyAt(template, at) {
  return getPath(template.Resources[at[0]].Properties, at[1]);
}

function statementsOf(tried) {
  const out = [];
  for (const results of tried) {
    for (const r of results) if (r.decision !== 'Allowed') out.push(r);
  }
  return out;
}

/** Applies one round of edits; returns descriptions of what changed. */
function loosen(template, w, principal, cell) {
  const edits = [];
  const byName = {};
  for (const p of principal.identity) if (p.at) byName[p.name] = p.at;
  for (const r of statementsOf(cell.tried)) {
    if (r.target.policy && r.target.policy.at) byName[r.target.policy.name] = r.target.policy.at;
  }
  const touched = new Set();
  for (const r of statementsOf(cell.tried)) {
    for (const ref of [...r.deniedBy, ...r.nearMiss]) {
      if (touched.has(ref)) continue;
      touched.add(ref);
      const [name, sid] = [ref.slice(0, ref.lastIndexOf('#')), ref.slice(ref.lastIndexOf('#') + 1)];
      const at = byName[name];
      if (!at) continue;
      const doc = policyAt(template, at);
      const idx = doc.Statement.findIndex((s, i) => (s.Sid || `statement${i + 1}`) === sid);
      if (idx < 0) continue;
      const s = doc.Statement[idx];
      if (s.Effect === 'Deny') {
        doc.Statement.splice(idx, 1);
        edits.push(`removed Deny ${ref}`);
      } else if (s.Condition) {
        delete s.Condition;
        edits.push(`dropped the condition of ${ref}`);
      } else if (s.Resource !== '*') {
        s.Resource = '*';
        edits.push(`widened the resource of ${ref} to *`);
      }
    }
  }
  return edits;
}

function grant(template, principal, cell) {
  const edits = [];
  const first = principal.identity.find((p) => p.at);
  for (const r of statementsOf(cell.tried)) {
    if (first) {
      policyAt(template, first.at).Statement.push({ Sid: 'BrokenCopyGrant', Effect: 'Allow', Action: r.request.action, Resource: '*' });
      edits.push(`granted ${r.request.action} in ${first.name}`);
    }
    if (r.target.policy && r.target.policy.at) {
      policyAt(template, r.target.policy.at).Statement.push({ Sid: 'BrokenCopyGrant', Effect: 'Allow', Principal: { AWS: principal.arn }, Action: r.request.action, Resource: '*' });
      edits.push(`granted ${r.request.action} to the principal in ${r.target.policy.name}`);
    }
    break;
  }
  return edits;
}

/**
 * Proves one denied cell; returns { ok, edits } where ok means the broken
 * copy's evaluation reports the capability as held.
 */
function prove(materialized, matrix, principalName, capabilityName, capabilitiesOf) {
  const broken = JSON.parse(JSON.stringify(materialized));
  const edits = [];
  for (let round = 0; round < 6; round++) {
    const w = world(broken, matrix);
    const principal = w.principals[principalName];
    const capability = capabilitiesOf(w).find((c) => c.name === capabilityName);
    const cell = evaluateCell(w, principal, capability);
    if (cell.allowed) return { ok: true, edits };
    let step = loosen(broken, w, principal, cell);
    if (!step.length) step = grant(broken, principal, cell);
    if (!step.length) break;
    edits.push(...step);
  }
  return { ok: false, edits };
}

module.exports = { prove };
