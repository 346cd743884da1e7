'use strict';
// One IAM decision: @cloud-copilot/iam-simulate's core engine (the same
// `authorize` its runSimulation calls) on the request exactly as the checker
// built it. runSimulation itself is not used for the decision: its context
// validation drops keys of the form kms:EncryptionContext:<name> (it matches
// only `/` variables such as aws:PrincipalTag/<name>), so a condition on the
// encryption context would be judged as if the key were missing. The
// self-test (selftest.js) proves this engine evaluates every operator and key
// the matrix relies on; policies are still validated with iam-policy.

const path = require('path');
const { loadPolicy, validateIdentityPolicy, validateResourcePolicy, validateTrustPolicy } = require('@cloud-copilot/iam-policy');

const base = path.dirname(require.resolve('@cloud-copilot/iam-simulate'));
// The package exports only its entry point; these are its own modules, pinned by the lock.
const core = require(path.join(base, 'core_engine/CoreSimulatorEngine.js'));
const { RequestContextImpl } = require(path.join(base, 'requestContext.js'));
const { AwsRequestImpl } = require(path.join(base, 'request/request.js'));
const { DiscoveryContextKeyConstraints } = require(path.join(base, 'context_keys/discoveryContextKeyConstraints.js'));

const validated = new WeakSet();

function validate(kind, name, policy) {
  if (validated.has(policy)) return;
  const fn = { identity: validateIdentityPolicy, resource: validateResourcePolicy, trust: validateTrustPolicy }[kind];
  const errors = fn(policy);
  if (errors.length) {
    throw new Error(`${kind} policy ${name} does not validate: ${JSON.stringify(errors)}`);
  }
  validated.add(policy);
}

function globMatch(pattern, value) {
  const re = new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 'i');
  return re.test(value);
}

/** Condition keys of a statement, lower-cased. */
function conditionKeys(statement) {
  const keys = [];
  for (const c of statement.conditions()) keys.push(c.conditionKey().toLowerCase());
  return keys;
}

/**
 * Evaluates `request` against the policies and returns
 * { decision: 'Allowed'|'ExplicitlyDenied'|'ImplicitlyDenied', allowedBy, deniedBy }.
 * request: { principal, action, resource, account, context, absent: [key patterns] }
 * policies: { identity: [{name, policy}], resource: {name, policy, kind} | undefined }
 *
 * Throws when a statement that applies to the request (action, resource and
 * principal match) has a condition on a key the request neither supplies nor
 * declares absent on purpose: such a cell would be decided by the key's
 * absence, which nobody chose.
 */
function evaluate(request, policies) {
  for (const p of policies.identity) validate('identity', p.name, p.policy);
  if (policies.resource) validate(policies.resource.kind || 'resource', policies.resource.name, policies.resource.policy);
  const context = new RequestContextImpl(request.context);
  const awsRequest = new AwsRequestImpl(request.principal, { resource: request.resource, accountId: request.account }, request.action, context);
  const analysis = core.authorize({
    request: awsRequest,
    sessionPolicy: undefined,
    identityPolicies: policies.identity.map((p) => loadPolicy(p.policy, { name: p.name })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: policies.resource ? loadPolicy(policies.resource.policy, { name: policies.resource.name }) : undefined,
    permissionBoundaries: undefined,
    vpcEndpointPolicies: undefined,
    simulationParameters: { simulationMode: 'Strict', discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([]) },
    serviceSettings: { s3: {} },
  });

  const supplied = new Set(Object.keys(request.context).map((k) => k.toLowerCase()));
  const absent = (request.absent || []).map((k) => k.toLowerCase());
  const describe = (s) => `${s.policyId}#${s.statement.sid() || 'statement' + s.statement.index()}`;
  const applying = [];
  for (const part of [analysis.identityAnalysis, analysis.resourceAnalysis]) {
    if (!part) continue;
    for (const s of [...part.allowStatements, ...part.denyStatements, ...part.unmatchedStatements]) {
      const principalOk = s.principalMatch === 'Match' || s.principalMatch === 'AccountLevelMatch';
      if (s.actionMatch && s.resourceMatch !== false && principalOk) applying.push(s);
    }
  }
  for (const s of applying) {
    for (const key of conditionKeys(s.statement)) {
      if (!supplied.has(key) && !absent.some((pattern) => globMatch(pattern, key))) {
        throw new Error(`${request.action} on ${request.resource} as ${request.principal}: statement ${describe(s)} `
          + `has a condition on ${key}, which the request neither supplies nor declares absent`);
      }
    }
  }
  const pick = (list) => list.map(describe);
  // Allow statements that applied but for their condition or resource: what a broken copy widens.
  const nearMiss = [];
  for (const part of [analysis.identityAnalysis, analysis.resourceAnalysis]) {
    for (const s of (part && part.unmatchedStatements) || []) {
      const principalOk = s.principalMatch === 'Match' || s.principalMatch === 'AccountLevelMatch';
      if (s.statement.isAllow() && s.actionMatch && principalOk) nearMiss.push(describe(s));
    }
  }
  const idA = analysis.identityAnalysis || { allowStatements: [], denyStatements: [] };
  const resA = analysis.resourceAnalysis || { allowStatements: [], denyStatements: [] };
  return {
    decision: analysis.result,
    allowedBy: [...pick(idA.allowStatements), ...pick(resA.allowStatements)],
    deniedBy: [...pick(idA.denyStatements), ...pick(resA.denyStatements)],
    nearMiss,
  };
}

module.exports = { evaluate, globMatch };
