'use strict';
// Resolves the CloudFormation intrinsics of the expanded template to concrete
// values for one fixed account, Region, stack name and parameter set, the way
// CloudFormation would at deploy time. Only what IAM documents need is
// supported; anything else throws, so an unresolved value never reaches the
// evaluator as a string that happens not to match.

const NO_VALUE = Symbol('AWS::NoValue');

/** Stand-in physical ids and ARNs, by resource type, for Ref and GetAtt. */
function physical(setup, logicalId, resource, attr) {
  const { account, region, stack } = setup;
  const p = resource.Properties || {};
  const suffix = `${logicalId}-EXAMPLE`;
  const named = (prop) => (p[prop] !== undefined ? setup.resolve(p[prop]) : `${stack}-${suffix}`);
  switch (resource.Type) {
    case 'AWS::IAM::Role': {
      const name = named('RoleName');
      return attr === 'Arn' ? `arn:aws:iam::${account}:role/${name}` : attr === 'RoleId' ? `AROA${logicalId.toUpperCase()}` : name;
    }
    case 'AWS::IAM::ManagedPolicy':
      return `arn:aws:iam::${account}:policy/${named('ManagedPolicyName')}`;
    case 'AWS::KMS::Key': {
      const id = `key-${logicalId}`;
      return attr === 'Arn' ? `arn:aws:kms:${region}:${account}:key/${id}` : id;
    }
    case 'AWS::DynamoDB::Table': {
      const name = named('TableName');
      if (attr === 'Arn') return `arn:aws:dynamodb:${region}:${account}:table/${name}`;
      if (attr === 'StreamArn') return `arn:aws:dynamodb:${region}:${account}:table/${name}/stream/EXAMPLE`;
      return name;
    }
    case 'AWS::SecretsManager::Secret':
      // Ref of a secret is its ARN (with the random suffix Secrets Manager adds).
      return `arn:aws:secretsmanager:${region}:${account}:secret:${stack}-${logicalId}-AbCdEf`;
    case 'AWS::Lambda::Function': {
      const name = named('FunctionName');
      return attr === 'Arn' ? `arn:aws:lambda:${region}:${account}:function:${name}` : name;
    }
    case 'AWS::Lambda::Alias': {
      const fn = setup.resolve(p.FunctionName);
      const base = fn.startsWith('arn:') ? fn : `arn:aws:lambda:${region}:${account}:function:${fn}`;
      return `${base}:${setup.resolve(p.Name)}`;
    }
    case 'AWS::Logs::LogGroup': {
      const name = named('LogGroupName');
      return attr === 'Arn' ? `arn:aws:logs:${region}:${account}:log-group:${name}:*` : name;
    }
    case 'AWS::SNS::Topic': {
      const name = named('TopicName');
      return attr === 'TopicName' ? name : `arn:aws:sns:${region}:${account}:${name}`;
    }
    case 'AWS::S3::Bucket': {
      const name = named('BucketName').toLowerCase();
      return attr === 'Arn' ? `arn:aws:s3:::${name}` : name;
    }
    default:
      return attr ? `${stack}-${suffix}.${attr}` : `${stack}-${suffix}`;
  }
}

/**
 * A resolver for one template and setup: `resolve(value)` returns the value
 * with every intrinsic replaced, `conditionHolds(name)` evaluates a condition.
 */
function resolver(template, setup) {
  const params = {};
  for (const [name, decl] of Object.entries(template.Parameters || {})) {
    let v = name in setup.parameters ? setup.parameters[name] : decl.Default;
    if (v === undefined) throw new Error(`parameter ${name} has no value in the matrix setup and no default`);
    if (decl.Type === 'CommaDelimitedList' || decl.Type.startsWith('List<')) {
      v = Array.isArray(v) ? v : String(v).split(',');
    } else {
      v = String(v);
    }
    params[name] = v;
  }
  const pseudo = {
    'AWS::AccountId': setup.account,
    'AWS::Region': setup.region,
    'AWS::StackName': setup.stack,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackId': `arn:aws:cloudformation:${setup.region}:${setup.account}:stack/${setup.stack}/EXAMPLE`,
    'AWS::NotificationARNs': [],
  };
  const conditionCache = {};
  const ctx = { ...setup, resolve: (v) => resolve(v) };

  function ref(name) {
    if (name === 'AWS::NoValue') return NO_VALUE;
    if (name in pseudo) return pseudo[name];
    if (name in params) return params[name];
    const r = (template.Resources || {})[name];
    if (!r) throw new Error(`Ref to unknown name ${name}`);
    return physical(ctx, name, r, undefined);
  }

  function getAtt(logicalId, attr) {
    const r = (template.Resources || {})[logicalId];
    if (!r) throw new Error(`GetAtt of unknown resource ${logicalId}`);
    return physical(ctx, logicalId, r, attr);
  }

  function sub(str, vars) {
    return str.replace(/\$\{([^}]+)\}/g, (_, name) => {
      if (name.startsWith('!')) return '${' + name.slice(1) + '}';
      let v;
      if (vars && name in vars) v = vars[name];
      else if (name.includes('.') && !name.startsWith('AWS::')) {
        const [id, ...attr] = name.split('.');
        v = getAtt(id, attr.join('.'));
      } else v = ref(name);
      if (typeof v !== 'string') throw new Error(`Fn::Sub variable ${name} is not a string`);
      return v;
    });
  }

  function conditionHolds(name) {
    if (!(name in conditionCache)) {
      const c = (template.Conditions || {})[name];
      if (c === undefined) throw new Error(`unknown condition ${name}`);
      conditionCache[name] = Boolean(resolve(c));
    }
    return conditionCache[name];
  }

  function resolve(v) {
    if (Array.isArray(v)) {
      return v.map(resolve).filter((x) => x !== NO_VALUE);
    }
    if (v === null || typeof v !== 'object') return v;
    const keys = Object.keys(v);
    if (keys.length === 1) {
      const [k] = keys;
      const a = v[k];
      switch (k) {
        case 'Ref': return ref(a);
        case 'Fn::GetAtt': return Array.isArray(a) ? getAtt(a[0], a[1]) : getAtt(...a.split(/\.(.*)/s));
        case 'Fn::Sub':
          if (typeof a === 'string') return sub(a);
          return sub(a[0], Object.fromEntries(Object.entries(a[1]).map(([n, x]) => [n, resolve(x)])));
        case 'Fn::Join': {
          const list = resolve(a[1]);
          return list.map(String).join(a[0]);
        }
        case 'Fn::Split': return String(resolve(a[1])).split(a[0]);
        case 'Fn::Select': return resolve(a[1])[Number(resolve(a[0]))];
        case 'Fn::If': return resolve(conditionHolds(a[0]) ? a[1] : a[2]);
        case 'Fn::Equals': {
          const [x, y] = a.map(resolve);
          return JSON.stringify(x) === JSON.stringify(y);
        }
        case 'Fn::Not': return !resolve(a[0]);
        case 'Fn::And': return a.every((x) => resolve(x));
        case 'Fn::Or': return a.some((x) => resolve(x));
        case 'Condition': return conditionHolds(a);
        default:
          if (k.startsWith('Fn::')) throw new Error(`unsupported intrinsic ${k}`);
      }
    }
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      const r = resolve(x);
      if (r !== NO_VALUE) out[k] = r;
    }
    return out;
  }

  /** The resources whose Condition holds, by logical id (properties unresolved). */
  function liveResources() {
    return Object.entries(template.Resources || {}).filter(([, r]) => !r.Condition || conditionHolds(r.Condition));
  }

  return { resolve, conditionHolds, liveResources, ref, getAtt, params };
}

module.exports = { resolver };
