'use strict';
// The matrix's columns: each sensitive capability as the IAM requests an
// attacker holding the principal's credentials could send for it. A
// capability is a list of alternatives; an alternative is a list of requests
// that must all be allowed (reading the fingerprint secret needs both
// GetSecretValue and the Decrypt Secrets Manager makes for the caller). A
// capability is held when any alternative is fully allowed, so a denied cell
// means every way in is denied.
//
// Each request names the context keys it supplies; `absent` lists the keys
// the request deliberately lacks (the evaluator refuses a deciding condition
// on any other missing key).

const TOKEN = 't#tok_EXAMPLE';
const INDEX = 'f#fp_EXAMPLE';
// A card-capture session (issue 21): its secret's hash, origins, and the token facts
// (token, bin, last4) of each card captured into it.
const SESSION = 's#cs_EXAMPLE';
const SESSION_ATTRIBUTES = ['pk', 'sh', 'own', 'org', 'fmt', 'dd', 'ret', 'meta', 'max', 'n', 'fail', 'burn', 'cards', 'exp', 'created'];
// Records keep no fingerprint: `ln` is a random link their index item shares.
const RECORD_ATTRIBUTES = ['pk', 'ct', 'dk', 'kv', 'fmt', 'bin', 'last4', 'brand', 'len', 'created', 'exp', 'ln', 'meta', 'sc'];
const INDEX_ATTRIBUTES = ['pk', 'tok', 'ln', 'kfv', 'created', 'exp', 'sc'];
const DDB_ABSENT = ['dynamodb:*'];

/**
 * The ways to read attribute `attr` of the item with key `key`:
 * GetItem/BatchGetItem with a projection; without one (modelled twice, as
 * DynamoDB is not documented to set either key then: dynamodb:Select =
 * ALL_ATTRIBUTES, or neither key); Query and Scan with SPECIFIC_ATTRIBUTES,
 * ALL_ATTRIBUTES or nothing; a write that returns the old item; and any
 * conditional request on the item: no IAM condition key limits a condition
 * expression or ReturnValuesOnConditionCheckFailure (ALL_OLD hands back the
 * whole item), so a ConditionCheckItem, PutItem, UpdateItem or DeleteItem on
 * a key reads every attribute of it, a bit per call or all at once.
 */
function readShapes(key, attr) {
  const lk = { 'dynamodb:LeadingKeys': [key] };
  const shapes = [];
  for (const action of ['dynamodb:GetItem', 'dynamodb:BatchGetItem']) {
    shapes.push({ action, context: { ...lk, 'dynamodb:Attributes': ['pk', attr] } });
    shapes.push({ action, context: { ...lk, 'dynamodb:Attributes': [attr] } });
    shapes.push({ action, context: { ...lk, 'dynamodb:Select': 'ALL_ATTRIBUTES' } });
    shapes.push({ action, context: { ...lk } });
  }
  for (const [action, base] of [['dynamodb:Query', lk], ['dynamodb:Scan', {}]]) {
    shapes.push({ action, context: { ...base, 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES', 'dynamodb:Attributes': ['pk', attr] } });
    shapes.push({ action, context: { ...base, 'dynamodb:Select': 'ALL_ATTRIBUTES' } });
    shapes.push({ action, context: { ...base } });
  }
  for (const action of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']) {
    shapes.push({ action, context: { ...lk, 'dynamodb:ReturnValues': 'ALL_OLD' } });
    shapes.push({ action, context: { ...lk, 'dynamodb:ReturnValues': 'NONE' } });
  }
  shapes.push({ action: 'dynamodb:ConditionCheckItem', context: { ...lk } });
  return shapes.map((s) => [{ ...s, resource: 'table', absent: DDB_ABSENT }]);
}

function writeShapes(key, variants) {
  return variants.map(([action, extra]) => [{ action, resource: 'table', context: { 'dynamodb:LeadingKeys': [key], ...extra }, absent: DDB_ABSENT }]);
}

function vaultContext(w, table) {
  return { 'kms:EncryptionContext:service': 'tessera', 'kms:EncryptionContext:table': table || w.vaultId };
}

function kms(action, resource, context, absent = ['kms:ViaService']) {
  return { action, resource, context, absent, kms: true };
}

function viaSecretsManager(w, action) {
  return kms(action, 'vaultKey', {
    'kms:ViaService': `secretsmanager.${w.region}.amazonaws.com`,
    'kms:EncryptionContext:SecretARN': w.secret,
    'kms:EncryptionContext:SecretVersionId': 'EXAMPLE-VERSION',
  }, ['kms:EncryptionContext:*']);
}

/** All capabilities, in matrix column order. `w` is the resolved world (lib/model.js). */
function capabilities(w) {
  const caps = [];
  const add = (name, description, alternatives, appliesTo) => caps.push({ name, description, alternatives, appliesTo });
  for (const attr of ['ct', 'dk', 'ln', 'bin', 'last4', 'len']) {
    add(`read-record:${attr}`, `read the ${attr} attribute of a record (t# item)`, readShapes(TOKEN, attr));
  }
  add('read-index', 'read an index item (f#: fingerprint to token)', readShapes(INDEX, 'tok'));
  add('put-record', 'put a whole record (PutItem)', writeShapes(TOKEN, [
    ['dynamodb:PutItem', { 'dynamodb:Attributes': RECORD_ATTRIBUTES, 'dynamodb:ReturnValues': 'NONE' }],
  ]));
  for (const attr of ['ct', 'dk', 'ln']) {
    add(`update-record:${attr}`, `change the ${attr} attribute of a record (UpdateItem)`, writeShapes(TOKEN, [
      ['dynamodb:UpdateItem', { 'dynamodb:Attributes': ['pk', attr], 'dynamodb:ReturnValues': 'NONE' }],
    ]));
  }
  add('delete-record', 'delete a record (DeleteItem, or BatchWriteItem, which cannot be limited to puts)', writeShapes(TOKEN, [
    ['dynamodb:DeleteItem', { 'dynamodb:ReturnValues': 'NONE' }],
    ['dynamodb:BatchWriteItem', {}],
  ]));
  add('batch-write-record', 'BatchWriteItem on records (no condition expression possible: overwrites and deletes)', writeShapes(TOKEN, [
    ['dynamodb:BatchWriteItem', {}],
  ]));
  add('put-index', 'put an index item', writeShapes(INDEX, [
    ['dynamodb:PutItem', { 'dynamodb:Attributes': INDEX_ATTRIBUTES, 'dynamodb:ReturnValues': 'NONE' }],
    ['dynamodb:BatchWriteItem', {}],
  ]));
  add('delete-index', 'delete an index item', writeShapes(INDEX, [
    ['dynamodb:DeleteItem', { 'dynamodb:ReturnValues': 'NONE' }],
    ['dynamodb:BatchWriteItem', {}],
  ]));
  add('create-session', 'put a card-capture session (PutItem of an s# item)', writeShapes(SESSION, [
    ['dynamodb:PutItem', { 'dynamodb:Attributes': SESSION_ATTRIBUTES, 'dynamodb:ReturnValues': 'NONE' }],
    ['dynamodb:BatchWriteItem', {}],
  ]));
  add('read-session', "read a capture session's cards (token, bin, last4) or secret hash", readShapes(SESSION, 'cards'));
  add('update-session', 'change a capture session (UpdateItem of an s# item: a card entry, its attempt count)', writeShapes(SESSION, [
    ['dynamodb:UpdateItem', { 'dynamodb:Attributes': ['pk', 'cards', 'n', 'fail', 'burn'], 'dynamodb:ReturnValues': 'NONE' }],
  ]));
  add('read-fingerprint-key', 'read the fingerprint (HMAC) secret: GetSecretValue and the Decrypt Secrets Manager makes', [[
    { action: 'secretsmanager:GetSecretValue', resource: 'secret', context: {}, absent: ['secretsmanager:*', 'kms:*'] },
    viaSecretsManager(w, 'kms:Decrypt'),
  ]]);
  add('write-fingerprint-key', 'write a new fingerprint-key version: PutSecretValue and the GenerateDataKey Secrets Manager makes', [[
    { action: 'secretsmanager:PutSecretValue', resource: 'secret', context: {}, absent: ['secretsmanager:*', 'kms:*'] },
    viaSecretsManager(w, 'kms:GenerateDataKey'),
  ]]);
  add('change-secret-policy', "replace the fingerprint secret's resource policy", [[
    { action: 'secretsmanager:PutResourcePolicy', resource: 'secret', context: {}, absent: ['secretsmanager:*', 'kms:*'] },
  ]]);
  add('decrypt-data-key', "unwrap a record's data key (kms:Decrypt, the vault's context), from the principal's own function if it has one",
    [[kms('kms:Decrypt', 'vaultKey', vaultContext(w))]]);
  add('decrypt-data-key-elsewhere', "unwrap a data key with a function role's credentials from another function or outside Lambda", [
    [{ ...kms('kms:Decrypt', 'vaultKey', vaultContext(w)), session: { 'lambda:SourceFunctionArn': w.foreignFunction } }],
    [{ ...kms('kms:Decrypt', 'vaultKey', vaultContext(w), ['kms:ViaService', 'lambda:SourceFunctionArn']), session: { 'lambda:SourceFunctionArn': null } }],
  ], (p) => Boolean(p.function));
  add('decrypt-data-key-other-context', 'kms:Decrypt on the vault key with another table or service in the context', [
    [kms('kms:Decrypt', 'vaultKey', vaultContext(w, 'another-table'))],
    [kms('kms:Decrypt', 'vaultKey', { 'kms:EncryptionContext:service': 'another', 'kms:EncryptionContext:table': w.vaultId })],
  ]);
  add('generate-data-key', 'seal a new record: GenerateDataKey on the vault key, vault context', [[kms('kms:GenerateDataKey', 'vaultKey', vaultContext(w))]]);
  add('generate-data-key-other-context', 'GenerateDataKey on the vault key for another table or service', [
    [kms('kms:GenerateDataKey', 'vaultKey', vaultContext(w, 'another-table'))],
    [kms('kms:GenerateDataKey', 'vaultKey', { 'kms:EncryptionContext:service': 'another', 'kms:EncryptionContext:table': w.vaultId })],
  ]);
  // Another key's use is a question for the principal's own IAM policy: asked only of
  // principals whose policies are all in the template.
  const templateOnly = (p) => !p.standIn;
  add('generate-data-key-foreign-key', 'GenerateDataKey on a key that is not the vault key', [[kms('kms:GenerateDataKey', 'foreignKey', vaultContext(w))]], templateOnly);
  // kms:ReEncryptOnSameKey: true when source and destination are the same key.
  const sameKey = (same) => ({ ...vaultContext(w), 'kms:ReEncryptOnSameKey': same ? 'true' : 'false' });
  add('reencrypt-from-vault-key', 're-wrap a data key out of the vault key and back into it (ReEncryptFrom)', [[kms('kms:ReEncryptFrom', 'vaultKey', sameKey(true))]]);
  add('reencrypt-from-vault-key-elsewhere', "re-wrap a data key out of the vault key into another key (ReEncryptFrom, the vault key's side)",
    [[kms('kms:ReEncryptFrom', 'vaultKey', sameKey(false))]]);
  add('reencrypt-to-vault-key', 're-wrap a data key into the vault key (ReEncryptTo)', [[kms('kms:ReEncryptTo', 'vaultKey', sameKey(true))]]);
  add('reencrypt-to-foreign-key', 're-wrap a data key into a key that is not the vault key (ReEncryptTo on it)', [[kms('kms:ReEncryptTo', 'foreignKey', sameKey(false))]], templateOnly);
  add('decrypt-platform-key-directly', 'kms:Decrypt on the platform key (logs, trail, environments) outside a service', [[kms('kms:Decrypt', 'platformKey', {}, ['kms:ViaService', 'kms:EncryptionContext:*'])]]);
  add('update-function-code', "replace a vault function's code (lambda:UpdateFunctionCode on any of them)",
    w.functions.map((fn) => [{ action: 'lambda:UpdateFunctionCode', resource: fn, context: {}, absent: ['lambda:*'] }]));
  add('pass-vault-role', 'iam:PassRole of a vault role (function or operator) to Lambda',
    w.vaultRoles.map((arn) => [{ action: 'iam:PassRole', resource: arn, context: { 'iam:PassedToService': 'lambda.amazonaws.com' }, absent: ['iam:AssociatedResourceArn'] }]));
  add('assume-operator-role-without-mfa', 'assume an operator role from a session without MFA',
    w.operatorRoles.flatMap((arn) => [
      [{ action: 'sts:AssumeRole', resource: arn, trust: true, context: {}, session: { 'aws:MultiFactorAuthPresent': 'false', 'aws:MultiFactorAuthAge': null }, absent: ['sts:*'] }],
      [{ action: 'sts:AssumeRole', resource: arn, trust: true, context: {}, session: { 'aws:MultiFactorAuthPresent': null, 'aws:MultiFactorAuthAge': null }, absent: ['sts:*'] }],
    ]));
  add('assume-operator-role-with-stale-mfa', 'assume an operator role from a session whose MFA sign-in is a day old',
    w.operatorRoles.map((arn) => [{ action: 'sts:AssumeRole', resource: arn, trust: true, context: {}, session: { 'aws:MultiFactorAuthPresent': 'true', 'aws:MultiFactorAuthAge': '86400' }, absent: ['sts:*'] }]));
  add('assume-operator-role-with-mfa', 'assume an operator role from an MFA session',
    w.operatorRoles.map((arn) => [{ action: 'sts:AssumeRole', resource: arn, trust: true, context: {}, session: { 'aws:MultiFactorAuthPresent': 'true' }, absent: ['sts:*'] }]));
  return caps;
}

module.exports = { capabilities, RECORD_ATTRIBUTES };
