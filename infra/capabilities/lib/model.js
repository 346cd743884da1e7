'use strict';
// The world a matrix run sees: the expanded template with its policies
// resolved for the matrix's setup, the principals (every IAM role of the
// template, plus the external principals the parameters name), and for each
// request the policies AWS would evaluate: the principal's identity policies
// (inline and managed) and the target's resource policy (key policy, secret
// policy, table policy, function policy, role trust policy).

const { resolver } = require('./cfn');
const { evaluate } = require('./evaluator');

const EVERYTHING = { Version: '2012-10-17', Statement: [{ Sid: 'StandInAllowsEverything', Effect: 'Allow', Action: '*', Resource: '*' }] };

/** Where each policy document lives in a resource, by type. */
const POLICY_PATHS = {
  'AWS::IAM::Role': (p) => [['AssumeRolePolicyDocument'], ...(p.Policies || []).map((_, i) => ['Policies', i, 'PolicyDocument'])],
  'AWS::IAM::ManagedPolicy': () => [['PolicyDocument']],
  'AWS::IAM::Policy': () => [['PolicyDocument']],
  'AWS::KMS::Key': () => [['KeyPolicy']],
  'AWS::SecretsManager::ResourcePolicy': () => [['ResourcePolicy']],
  'AWS::DynamoDB::Table': (p) => (p.ResourcePolicy ? [['ResourcePolicy', 'PolicyDocument']] : []),
};

function getPath(obj, path) {
  return path.reduce((o, k) => (o === undefined ? undefined : o[k]), obj);
}

function setPath(obj, path, value) {
  const last = path[path.length - 1];
  getPath(obj, path.slice(0, -1))[last] = value;
}

/**
 * A copy of the template with every policy document of a live resource
 * resolved to plain JSON (still a valid template), so broken copies can be
 * made by editing statements, and dead resources (Condition false) removed.
 */
function materialize(template, setup) {
  const r = resolver(template, setup);
  const out = JSON.parse(JSON.stringify(template));
  const live = new Set(r.liveResources().map(([id]) => id));
  for (const id of Object.keys(out.Resources)) {
    const res = out.Resources[id];
    if (!live.has(id)) { delete out.Resources[id]; continue; }
    const paths = POLICY_PATHS[res.Type];
    if (!paths) continue;
    for (const path of paths(res.Properties || {})) {
      const doc = r.resolve(getPath(res.Properties, path));
      if (doc.Statement && !Array.isArray(doc.Statement)) doc.Statement = [doc.Statement];
      setPath(res.Properties, path, doc);
    }
  }
  return out;
}

/** The resolved world of one (materialized) template. */
function world(template, matrix) {
  const setup = matrix.setup;
  const r = resolver(template, setup);
  const res = template.Resources;
  const byType = (type) => Object.entries(res).filter(([, x]) => x.Type === type);
  const arnOf = (id) => r.getAtt(id, 'Arn');
  const fnRole = {};
  for (const [id, fn] of byType('AWS::Lambda::Function')) fnRole[r.resolve(fn.Properties.Role)] = id;
  const managed = {};
  for (const [id, mp] of byType('AWS::IAM::ManagedPolicy')) managed[r.ref(id)] = id;

  const roles = {};
  for (const [id, role] of byType('AWS::IAM::Role')) {
    const arn = arnOf(id);
    const p = role.Properties;
    const identity = (p.Policies || []).map((pol, i) => ({ name: `${id}.Policies[${i}]`, policy: pol.PolicyDocument, at: [id, ['Policies', i, 'PolicyDocument']] }));
    const roleName = r.ref(id);
    for (const m of r.resolve(p.ManagedPolicyArns || [])) {
      if (managed[m]) identity.push({ name: managed[m], policy: res[managed[m]].Properties.PolicyDocument, at: [managed[m], ['PolicyDocument']] });
      else identity.push({ name: `${m} (AWS managed: stand-in)`, policy: EVERYTHING });
    }
    for (const [pid, pol] of [...byType('AWS::IAM::Policy'), ...byType('AWS::IAM::ManagedPolicy')]) {
      if (r.resolve(pol.Properties.Roles || []).includes(roleName)) identity.push({ name: pid, policy: pol.Properties.PolicyDocument, at: [pid, ['PolicyDocument']] });
    }
    const fnId = fnRole[arn];
    roles[id] = { id, arn, identity, trust: p.AssumeRolePolicyDocument, function: fnId ? arnOf(fnId) : undefined };
  }

  const principals = {};
  for (const [name, decl] of Object.entries(matrix.principals)) {
    if (decl.role) {
      const role = roles[decl.role];
      if (!role) { principals[name] = { name, decl, missing: true }; continue; }
      principals[name] = { name, decl, arn: role.arn, identity: role.identity, function: role.function, roleId: decl.role, human: Boolean(decl.human), standIn: role.identity.some((x) => x.policy === EVERYTHING) };
    } else {
      let arn = decl.arn;
      if (decl.parameter) arn = [r.params[decl.parameter]].flat()[0];
      principals[name] = { name, decl, arn, identity: [{ name: `${name} (outside the template: stand-in)`, policy: EVERYTHING }], human: Boolean(decl.human), external: true, standIn: true };
    }
  }
  const unlisted = Object.keys(roles).filter((id) => !Object.values(matrix.principals).some((d) => d.role === id));

  const keyPolicy = (id) => ({ name: `${id}.KeyPolicy`, policy: res[id].Properties.KeyPolicy, at: [id, ['KeyPolicy']] });
  const [vaultKeyId] = byType('AWS::KMS::Key').map(([id]) => id).filter((id) => id === matrix.resources.vaultKey);
  const secretId = matrix.resources.secret;
  const secretArn = r.ref(secretId);
  const secretPolicies = byType('AWS::SecretsManager::ResourcePolicy').filter(([, p]) => r.resolve(p.Properties.SecretId) === secretArn);
  const tableId = matrix.resources.table;
  const functions = byType('AWS::Lambda::Function').map(([id]) => arnOf(id));
  const foreignKeyArn = `arn:aws:kms:${setup.region}:${setup.account}:key/foreign-EXAMPLE`;
  const w = {
    region: setup.region,
    account: setup.account,
    vaultId: r.resolve(matrix.resources.vaultId),
    secret: secretArn,
    functions,
    foreignFunction: `arn:aws:lambda:${setup.region}:${setup.account}:function:not-a-vault-function`,
    vaultRoles: (matrix.resources.vaultRoles || []).filter((id) => roles[id]).map((id) => roles[id].arn),
    operatorRoles: (matrix.resources.operatorRoles || []).filter((id) => roles[id]).map((id) => roles[id].arn),
    principals,
    unlisted,
  };
  const lambdaPolicies = {};
  for (const [pid, perm] of byType('AWS::Lambda::Permission')) {
    const p = r.resolve(perm.Properties);
    const fn = functions.find((f) => p.FunctionName === f || p.FunctionName.startsWith(f + ':') || f.endsWith(':' + p.FunctionName)
      || p.FunctionName.split(':')[0] === f.split(':').pop());
    if (!fn) continue;
    const principal = p.Principal.includes('.amazonaws.com') ? { Service: p.Principal } : { AWS: p.Principal };
    const cond = {};
    if (p.SourceArn) cond.ArnLike = { 'aws:SourceArn': p.SourceArn };
    if (p.SourceAccount) cond.StringEquals = { 'aws:SourceAccount': p.SourceAccount };
    (lambdaPolicies[fn] = lambdaPolicies[fn] || []).push({ Sid: pid, Effect: 'Allow', Principal: principal, Action: p.Action, Resource: fn, ...(Object.keys(cond).length ? { Condition: cond } : {}) });
  }

  /** Resource ARN and resource policy for a request's target. */
  w.target = (request) => {
    switch (request.resource) {
      case 'table': {
        const pol = getPath(res[tableId].Properties, ['ResourcePolicy', 'PolicyDocument']);
        return { arn: arnOf(tableId), policy: pol ? { name: `${tableId}.ResourcePolicy`, policy: pol, at: [tableId, ['ResourcePolicy', 'PolicyDocument']] } : undefined };
      }
      case 'vaultKey': return { arn: arnOf(vaultKeyId), policy: keyPolicy(vaultKeyId) };
      case 'platformKey': return { arn: arnOf(matrix.resources.platformKey), policy: keyPolicy(matrix.resources.platformKey) };
      // A key outside the vault whose policy leaves its use to IAM (the usual default key policy).
      case 'foreignKey': return { arn: foreignKeyArn, policy: { name: 'foreign key (default key policy)', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${setup.account}:root` }, Action: 'kms:*', Resource: '*' }] } } };
      case 'secret': {
        if (secretPolicies.length > 1) throw new Error('more than one resource policy for the fingerprint secret');
        const [[pid, p] = []] = secretPolicies;
        return { arn: secretArn, policy: pid ? { name: pid, policy: p.Properties.ResourcePolicy, at: [pid, ['ResourcePolicy']] } : undefined };
      }
      default: {
        const arn = request.resource;
        if (request.trust) {
          const role = Object.values(roles).find((x) => x.arn === arn);
          return { arn, policy: { name: `${role.id}.AssumeRolePolicyDocument`, policy: role.trust, kind: 'trust', at: [role.id, ['AssumeRolePolicyDocument']] } };
        }
        if (lambdaPolicies[arn]) return { arn, policy: { name: `${arn} (function policy)`, policy: { Version: '2012-10-17', Statement: lambdaPolicies[arn] } } };
        return { arn, policy: undefined };
      }
    }
  };
  return w;
}

/** The session's context keys: what a function role's or a human's credentials carry. */
function sessionContext(w, principal, request) {
  const ctx = { 'aws:PrincipalArn': principal.arn, 'aws:PrincipalAccount': principal.arn.split(':')[4] };
  const absent = ['aws:SourceArn', 'aws:SourceAccount', 'aws:SourceVpce', 'aws:SourceVpc', 'aws:CalledVia*', 'aws:ViaAWSService'];
  if (principal.function) ctx['lambda:SourceFunctionArn'] = principal.function;
  else absent.push('lambda:SourceFunctionArn');
  // A person's session: signed in with MFA five minutes ago.
  if (principal.human) Object.assign(ctx, { 'aws:MultiFactorAuthPresent': 'true', 'aws:MultiFactorAuthAge': '300' });
  else absent.push('aws:MultiFactorAuthPresent', 'aws:MultiFactorAuthAge');
  for (const [k, v] of Object.entries(request.session || {})) {
    if (v === null) { delete ctx[k]; absent.push(k); } else ctx[k] = v;
  }
  if (request.kms) ctx['kms:CallerAccount'] = ctx['aws:PrincipalAccount'];
  return { ctx, absent };
}

/** Evaluates one request for one principal. */
function evaluateRequest(w, principal, request) {
  const target = w.target(request);
  const { ctx, absent } = sessionContext(w, principal, request);
  const full = {
    principal: principal.arn,
    action: request.action,
    resource: target.arn,
    account: target.arn.split(':')[4] || w.account,
    context: { ...ctx, ...request.context },
    absent: [...absent, ...(request.absent || [])],
  };
  if (request.kms) {
    full.context['kms:EncryptionContextKeys'] = Object.keys(request.context).filter((k) => k.startsWith('kms:EncryptionContext:')).map((k) => k.slice('kms:EncryptionContext:'.length));
  }
  const result = evaluate(full, { identity: principal.identity, resource: target.policy });
  return { ...result, request: full, target };
}

/** A cell: is the capability held (any alternative fully allowed)? */
function evaluateCell(w, principal, capability) {
  const tried = [];
  for (const alternative of capability.alternatives) {
    const results = alternative.map((req) => evaluateRequest(w, principal, req));
    tried.push(results);
    if (results.every((x) => x.decision === 'Allowed')) return { allowed: true, via: results, tried };
  }
  return { allowed: false, tried };
}

module.exports = { materialize, world, evaluateCell, evaluateRequest, EVERYTHING, getPath };
