'use strict';
// Proves, before the matrix is trusted, that the evaluator really evaluates
// each condition operator and key the template's policies use: for each, a
// small policy in which that condition alone decides, evaluated with a
// matching, a non-matching and (where it matters) a missing context value.
// A condition the engine skipped would give the same answer for all of them
// and fail here. Also proves the policy kinds combine as AWS combines them
// (KMS key policies, resource-policy denies, cross-account) and that a
// condition key the request does not supply stops the checker.

const { evaluate } = require('./evaluator');

const ACCOUNT = '111122223333';
const OTHER = '444455556666';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/selftest`;
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/selftest`;
const TABLE = `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/selftest`;
const SECRET = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:selftest-AbCdEf`;
const FN = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:own`;
const FOREIGN_FN = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:foreign`;
const ROOT_KEY_POLICY = doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' });

function doc(...Statement) {
  return { Version: '2012-10-17', Statement };
}

function allow(action, resource, Condition) {
  return doc({ Effect: 'Allow', Action: action, Resource: resource, ...(Condition ? { Condition } : {}) });
}

/** One case: identity statement(s) and optionally a resource policy, and the contexts to try. */
function conditionCase(name, action, resource, Condition, tries, resourcePolicy) {
  return tries.map(([label, context, expect]) => ({
    name: `${name}: ${label}`,
    request: { principal: ROLE, action, resource, account: ACCOUNT, context: { 'aws:PrincipalArn': ROLE, ...context }, absent: ['*'] },
    policies: {
      identity: [{ name: 'selftest', policy: allow(action, resource, Condition) }],
      resource: resourcePolicy ? { name: 'selftest-resource', policy: resourcePolicy } : undefined,
    },
    expect,
  }));
}

const A = 'Allowed';
const I = 'ImplicitlyDenied';
const E = 'ExplicitlyDenied';

function cases() {
  const out = [];
  out.push(...conditionCase('ForAllValues:StringEquals dynamodb:Attributes', 'dynamodb:GetItem', TABLE,
    { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'bin', 'last4'] } }, [
      ['listed attributes', { 'dynamodb:Attributes': ['pk', 'bin'] }, A],
      ['one unlisted attribute', { 'dynamodb:Attributes': ['pk', 'fp'] }, I],
      // IAM: ForAllValues over an empty set is true. The matrix relies on knowing this.
      ['key missing (ForAllValues of nothing)', {}, A],
    ]));
  out.push(...conditionCase('ForAllValues:StringLike dynamodb:LeadingKeys', 'dynamodb:GetItem', TABLE,
    { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['f#*'] } }, [
      ['index key', { 'dynamodb:LeadingKeys': ['f#abc'] }, A],
      ['record key', { 'dynamodb:LeadingKeys': ['t#abc'] }, I],
      ['both keys', { 'dynamodb:LeadingKeys': ['f#abc', 't#abc'] }, I],
    ]));
  out.push(...conditionCase('StringEqualsIfExists dynamodb:Select', 'dynamodb:Scan', TABLE,
    { StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' } }, [
      ['SPECIFIC_ATTRIBUTES', { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' }, A],
      ['ALL_ATTRIBUTES', { 'dynamodb:Select': 'ALL_ATTRIBUTES' }, I],
      ['key missing (IfExists)', {}, A],
    ]));
  out.push(...conditionCase('StringEqualsIfExists dynamodb:ReturnValues', 'dynamodb:PutItem', TABLE,
    { StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' } }, [
      ['NONE', { 'dynamodb:ReturnValues': 'NONE' }, A],
      ['ALL_OLD', { 'dynamodb:ReturnValues': 'ALL_OLD' }, I],
    ]));
  out.push(...conditionCase('StringEquals kms:EncryptionContext:table', 'kms:Decrypt', KEY,
    { StringEquals: { 'kms:EncryptionContext:service': 'tessera', 'kms:EncryptionContext:table': 'vault' } }, [
      ['matching context', { 'kms:EncryptionContext:service': 'tessera', 'kms:EncryptionContext:table': 'vault' }, A],
      ['other table', { 'kms:EncryptionContext:service': 'tessera', 'kms:EncryptionContext:table': 'other' }, I],
      ['table missing', { 'kms:EncryptionContext:service': 'tessera' }, I],
    ], ROOT_KEY_POLICY));
  out.push(...conditionCase('StringEquals kms:ViaService and kms:CallerAccount', 'kms:Decrypt', KEY,
    { StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com', 'kms:CallerAccount': ACCOUNT } }, [
      ['through Secrets Manager', { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com', 'kms:CallerAccount': ACCOUNT }, A],
      ['through DynamoDB', { 'kms:ViaService': 'dynamodb.us-east-1.amazonaws.com', 'kms:CallerAccount': ACCOUNT }, I],
      ['other caller account', { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com', 'kms:CallerAccount': OTHER }, I],
      ['direct call', { 'kms:CallerAccount': ACCOUNT }, I],
    ], ROOT_KEY_POLICY));
  out.push(...conditionCase('ArnEquals lambda:SourceFunctionArn', 'kms:Decrypt', KEY,
    { ArnEquals: { 'lambda:SourceFunctionArn': FN } }, [
      ['own function', { 'lambda:SourceFunctionArn': FN }, A],
      ['foreign function', { 'lambda:SourceFunctionArn': FOREIGN_FN }, I],
      ['outside Lambda', {}, I],
    ], ROOT_KEY_POLICY));
  out.push(...conditionCase('ArnEquals aws:SourceArn', 'sns:Publish', `arn:aws:sns:us-east-1:${ACCOUNT}:topic`,
    { ArnEquals: { 'aws:SourceArn': `arn:aws:cloudtrail:us-east-1:${ACCOUNT}:trail/t` } }, [
      ['the trail', { 'aws:SourceArn': `arn:aws:cloudtrail:us-east-1:${ACCOUNT}:trail/t` }, A],
      ['another trail', { 'aws:SourceArn': `arn:aws:cloudtrail:us-east-1:${ACCOUNT}:trail/u` }, I],
    ]));
  out.push(...conditionCase('ArnLike aws:SourceArn', 'sns:Publish', `arn:aws:sns:us-east-1:${ACCOUNT}:topic`,
    { ArnLike: { 'aws:SourceArn': `arn:aws:execute-api:us-east-1:${ACCOUNT}:api1/*` } }, [
      ['a route of the API', { 'aws:SourceArn': `arn:aws:execute-api:us-east-1:${ACCOUNT}:api1/prod/POST/v1` }, A],
      ['another API', { 'aws:SourceArn': `arn:aws:execute-api:us-east-1:${ACCOUNT}:api2/prod/POST/v1` }, I],
    ]));
  out.push(...conditionCase('ArnEquals aws:PrincipalArn (key policy)', 'kms:Decrypt', KEY, undefined, [
    ['the named role', {}, A],
  ], doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:Decrypt', Resource: '*', Condition: { ArnEquals: { 'aws:PrincipalArn': ROLE } } })));
  out.push(...conditionCase('ArnEquals aws:PrincipalArn (key policy, other role)', 'kms:Decrypt', KEY, undefined, [
    ['another role', {}, I],
  ], doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:Decrypt', Resource: '*', Condition: { ArnEquals: { 'aws:PrincipalArn': ROLE + '-other' } } })));
  out.push(...conditionCase('Bool aws:MultiFactorAuthPresent', 'sts:AssumeRole', ROLE,
    { Bool: { 'aws:MultiFactorAuthPresent': 'true' } }, [
      ['with MFA', { 'aws:MultiFactorAuthPresent': 'true' }, A],
      ['without MFA', { 'aws:MultiFactorAuthPresent': 'false' }, I],
      ['key missing', {}, I],
    ]));
  out.push(...conditionCase('NumericLessThan aws:MultiFactorAuthAge', 'sts:AssumeRole', ROLE,
    { Bool: { 'aws:MultiFactorAuthPresent': 'true' }, NumericLessThan: { 'aws:MultiFactorAuthAge': '43200' } }, [
      ['fresh MFA', { 'aws:MultiFactorAuthPresent': 'true', 'aws:MultiFactorAuthAge': '300' }, A],
      ['MFA a day old', { 'aws:MultiFactorAuthPresent': 'true', 'aws:MultiFactorAuthAge': '86400' }, I],
      ['age missing', { 'aws:MultiFactorAuthPresent': 'true' }, I],
    ]));
  out.push(...conditionCase('Bool kms:ReEncryptOnSameKey', 'kms:ReEncryptFrom', KEY,
    { Bool: { 'kms:ReEncryptOnSameKey': 'true' } }, [
      ['back into the same key', { 'kms:ReEncryptOnSameKey': 'true' }, A],
      ['into another key', { 'kms:ReEncryptOnSameKey': 'false' }, I],
      ['key missing', {}, I],
    ], ROOT_KEY_POLICY));
  // Null "false" on dynamodb:Attributes: a read without a projection must not pass ForAllValues.
  out.push(...conditionCase('ForAllValues dynamodb:Attributes with Null false', 'dynamodb:GetItem', TABLE,
    { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'bin'] }, Null: { 'dynamodb:Attributes': 'false' } }, [
      ['listed attributes', { 'dynamodb:Attributes': ['pk', 'bin'] }, A],
      ['no projection (key missing)', {}, I],
      ['no projection, Select ALL_ATTRIBUTES', { 'dynamodb:Select': 'ALL_ATTRIBUTES' }, I],
    ]));
  // NotResource in a Deny: the "data keys only from the vault key" statements.
  const notResourceDeny = doc(
    { Effect: 'Allow', Action: 'kms:GenerateDataKey', Resource: '*' },
    { Effect: 'Deny', Action: ['kms:GenerateDataKey', 'kms:ReEncryptTo'], NotResource: KEY },
  );
  for (const [label, resource, expect] of [['the vault key', KEY, A], ['another key', KEY + '-other', E]]) {
    out.push({ name: `NotResource in a Deny: ${label}`, expect,
      request: { principal: ROLE, action: 'kms:GenerateDataKey', resource, account: ACCOUNT, context: {}, absent: ['*'] },
      policies: { identity: [{ name: 'selftest', policy: notResourceDeny }], resource: { name: 'key', policy: ROOT_KEY_POLICY } } });
  }
  // Null "false" in a Deny: the rotation operator unwraps nothing inside a Lambda function.
  const inLambdaDeny = doc(
    { Effect: 'Allow', Action: 'kms:Decrypt', Resource: KEY },
    { Effect: 'Deny', Action: 'kms:Decrypt', Resource: KEY, Condition: { Null: { 'lambda:SourceFunctionArn': 'false' } } },
  );
  for (const [label, context, expect] of [['outside Lambda', {}, A], ['inside a function', { 'lambda:SourceFunctionArn': FN }, E]]) {
    out.push({ name: `Null lambda:SourceFunctionArn false in a Deny: ${label}`, expect,
      request: { principal: ROLE, action: 'kms:Decrypt', resource: KEY, account: ACCOUNT, context, absent: ['*'] },
      policies: { identity: [{ name: 'selftest', policy: inLambdaDeny }], resource: { name: 'key', policy: ROOT_KEY_POLICY } } });
  }
  // Null in a Deny: the template's "never decrypt directly" statements.
  const nullDeny = doc(
    { Effect: 'Allow', Action: 'kms:Decrypt', Resource: KEY },
    { Effect: 'Deny', Action: 'kms:Decrypt', Resource: KEY, Condition: { Null: { 'kms:ViaService': 'true' } } },
  );
  for (const [label, context, expect] of [['direct call (key missing)', {}, E], ['through a service', { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' }, A]]) {
    out.push({ name: `Null kms:ViaService in a Deny: ${label}`, expect,
      request: { principal: ROLE, action: 'kms:Decrypt', resource: KEY, account: ACCOUNT, context, absent: ['*'] },
      policies: { identity: [{ name: 'selftest', policy: nullDeny }], resource: { name: 'key', policy: ROOT_KEY_POLICY } } });
  }
  // ForAnyValue:StringLike in a Deny: the capture role's "never read a record" statement.
  const anyRecordDeny = doc(
    { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: TABLE },
    { Effect: 'Deny', Action: 'dynamodb:GetItem', Resource: TABLE, Condition: { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': ['t#*'] } } },
  );
  for (const [label, context, expect] of [
    ['a session key', { 'dynamodb:LeadingKeys': ['s#abc'] }, A],
    ['a record key', { 'dynamodb:LeadingKeys': ['t#abc'] }, E],
    ['a record key among others', { 'dynamodb:LeadingKeys': ['f#abc', 't#abc'] }, E],
    // IAM: ForAnyValue over an empty set is false, so the Deny does not apply (the matrix's Scan shapes rely on this).
    ['key missing (ForAnyValue of nothing)', {}, A],
  ]) {
    out.push({ name: `ForAnyValue:StringLike dynamodb:LeadingKeys in a Deny: ${label}`, expect,
      request: { principal: ROLE, action: 'dynamodb:GetItem', resource: TABLE, account: ACCOUNT, context, absent: ['*'] },
      policies: { identity: [{ name: 'selftest', policy: anyRecordDeny }] } });
  }
  // ArnNotEquals in a Deny with the key missing: negated operators match a missing key.
  const notFnDeny = doc(
    { Effect: 'Allow', Action: 'kms:Decrypt', Resource: KEY },
    { Effect: 'Deny', Action: 'kms:Decrypt', Resource: KEY, Condition: { ArnNotEquals: { 'lambda:SourceFunctionArn': FN } } },
  );
  for (const [label, context, expect] of [['own function', { 'lambda:SourceFunctionArn': FN }, A], ['foreign function', { 'lambda:SourceFunctionArn': FOREIGN_FN }, E], ['outside Lambda', {}, E]]) {
    out.push({ name: `ArnNotEquals lambda:SourceFunctionArn in a Deny: ${label}`, expect,
      request: { principal: ROLE, action: 'kms:Decrypt', resource: KEY, account: ACCOUNT, context, absent: ['*'] },
      policies: { identity: [{ name: 'selftest', policy: notFnDeny }], resource: { name: 'key', policy: ROOT_KEY_POLICY } } });
  }
  // A secret's resource-policy Deny (StringNotEquals aws:PrincipalArn) beats an identity Allow.
  const secretPolicy = doc({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'secretsmanager:GetSecretValue', Resource: '*', Condition: { StringNotEquals: { 'aws:PrincipalArn': [ROLE] } } });
  for (const [label, principal, expect] of [['the listed role', ROLE, A], ['another role', ROLE + '-other', E]]) {
    out.push({ name: `StringNotEquals aws:PrincipalArn in a secret's Deny: ${label}`, expect,
      request: { principal, action: 'secretsmanager:GetSecretValue', resource: SECRET, account: ACCOUNT, context: { 'aws:PrincipalArn': principal }, absent: ['*'] },
      policies: { identity: [{ name: 'admin', policy: allow('*', '*') }], resource: { name: 'secret', policy: secretPolicy } } });
  }
  // KMS: the key policy must allow; an identity policy alone does not.
  const kms = (label, identity, keyPolicy, principal, expect) => out.push({ name: `KMS key policy: ${label}`, expect,
    request: { principal, action: 'kms:Decrypt', resource: KEY, account: ACCOUNT, context: { 'aws:PrincipalArn': principal }, absent: ['*'] },
    policies: { identity: identity ? [{ name: 'identity', policy: identity }] : [], resource: { name: 'key', policy: keyPolicy } } });
  kms('identity allows, key policy silent', allow('kms:*', '*'), doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/x` }, Action: 'kms:Decrypt', Resource: '*' }), ROLE, I);
  kms('key policy delegates to the account, identity allows', allow('kms:Decrypt', KEY), ROOT_KEY_POLICY, ROLE, A);
  kms('key policy delegates to the account, identity silent', null, ROOT_KEY_POLICY, ROLE, I);
  kms('key policy names the role, identity silent', null, doc({ Effect: 'Allow', Principal: { AWS: ROLE }, Action: 'kms:Decrypt', Resource: '*' }), ROLE, A);
  kms('another account, its identity allows, key delegates only to its own account', allow('*', '*'), ROOT_KEY_POLICY, `arn:aws:iam::${OTHER}:role/x`, I);
  // Action wildcards in a statement match the actions they cover.
  out.push(...conditionCase('Action wildcard kms:ReEncrypt*', 'kms:ReEncryptTo', KEY, undefined, [['ReEncryptTo', {}, A]], ROOT_KEY_POLICY)
    .map((c) => ({ ...c, policies: { ...c.policies, identity: [{ name: 'selftest', policy: allow('kms:ReEncrypt*', KEY) }] } })));
  return out;
}

/** Runs every case; returns the list of failures (empty when the evaluator is faithful). */
function selfTest(log) {
  const failures = [];
  const all = cases();
  for (const c of all) {
    let got;
    try {
      got = evaluate(c.request, c.policies).decision;
    } catch (e) {
      got = `error: ${e.message}`;
    }
    if (got !== c.expect) failures.push(`${c.name}: expected ${c.expect}, evaluator said ${got}`);
  }
  // A condition key neither supplied nor declared absent must stop the checker.
  try {
    evaluate({ principal: ROLE, action: 'kms:Decrypt', resource: KEY, account: ACCOUNT, context: { 'aws:PrincipalArn': ROLE }, absent: [] },
      { identity: [{ name: 'selftest', policy: allow('kms:Decrypt', KEY, { StringEquals: { 'kms:EncryptionContext:service': 'tessera' } }) }], resource: { name: 'key', policy: ROOT_KEY_POLICY } });
    failures.push('an unsupplied condition key (kms:EncryptionContext:service) did not stop the checker');
  } catch (e) {
    if (!/neither supplies nor declares absent/.test(e.message)) failures.push(`unsupplied key: unexpected error ${e.message}`);
  }
  log(`self-test: ${all.length + 1} evaluator cases, ${failures.length} failed`);
  return failures;
}

module.exports = { selfTest };
