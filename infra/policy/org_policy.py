#!/usr/bin/env python3
"""Checks the organization policy (SCP) shipped in infra/org against the template.

The SCP is what makes a forged principal impossible rather than only detected: no
IAM user or role of the member account (its root user included) may invoke the
vault's functions, change who may invoke them, edit the vault's REST API or pass
the vault's roles, except where a statement names the deployer. API Gateway is
not exempted by a condition because it needs none: SCPs never apply to service
principals, and API Gateway invokes the functions as apigateway.amazonaws.com
(no integration credentials: guard no_integration_credentials), allowed by the
functions' resource policies (guard function_permissions_only_for_this_api).

What is checked, on the document and the template together:
- the document is JSON, Version 2012-10-17, at most 5,120 characters once
  minified and rendered (the SCP size limit), and only Deny statements with no
  Principal (SCPs allow neither a Principal nor NotAction-style exemptions here);
- the invoke statement denies lambda:InvokeFunction, InvokeAsync and
  InvokeFunctionUrl, with no Condition (any condition is an exemption), on every
  function of the template, by the name pattern the template uses
  (${AWS::StackName}-<name>), unqualified and qualified (the live alias);
- the permission statement covers the same functions, AddPermission and the
  function URL calls, exempting only the deployer;
- the function-change statement covers the same functions, their code,
  configuration and code-signing binding, exempting only the deployer (code
  signing cannot be unbound and the code replaced by anyone else);
- the API statement covers both REST APIs (the IAM API and the public capture
  API) and everything under them, for every mutating method, exempting only the
  deployer;
- the PassRole statement covers every role the expanded template creates (named
  ${AWS::StackName}-..., or generated, which CloudFormation prefixes with the
  stack name), exempting only the deployer.

Usage: org_policy.py TEMPLATE SCP_JSON            check
       org_policy.py TEMPLATE SCP_JSON --prove    check, then broken copies must fail
       org_policy.py TEMPLATE SCP_JSON --render STACK DEPLOYER_ARN [API_ID CAPTURE_API_ID]
           print the policy to attach (without the API ids, before the first deploy,
           the API statement is left out: render again with the ApiId and
           CaptureApiId outputs).
"""
import copy
import json
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

SCP_LIMIT = 5120
INVOKE = {"lambda:InvokeFunction", "lambda:InvokeAsync", "lambda:InvokeFunctionUrl"}
PERMISSION = {"lambda:AddPermission", "lambda:RemovePermission",
              "lambda:CreateFunctionUrlConfig", "lambda:UpdateFunctionUrlConfig"}
# Code, configuration (which names the role and layers) and the code-signing binding:
# without this, any administrator could unbind the signing config and upload code.
FUNCTION_CHANGES = {"lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration",
                    "lambda:PutFunctionCodeSigningConfig", "lambda:DeleteFunctionCodeSigningConfig"}
API_WRITES = {"apigateway:PUT", "apigateway:PATCH", "apigateway:POST", "apigateway:DELETE"}
DEPLOYER_ONLY = {"ArnNotEquals": {"aws:PrincipalArn": "{{DeployerArn}}"}}
EXAMPLE = {"StackName": "tessera", "DeployerArn": "arn:aws:iam::111122223333:role/tessera-deployer",
           "ApiId": "a1b2c3d4e5", "CaptureApiId": "f6g7h8i9j0"}
# Each REST API of the template and the placeholder its id renders into.
API_PLACEHOLDERS = {"Api": "ApiId", "CaptureApi": "CaptureApiId"}


def function_names(sam):
    """The suffix of every function's ${AWS::StackName}-<suffix> name."""
    names = []
    for logical, r in sam["Resources"].items():
        if r["Type"] != "AWS::Serverless::Function":
            continue
        name = r.get("Properties", {}).get("FunctionName")
        sub = name.get("Fn::Sub") if isinstance(name, dict) else None
        m = re.fullmatch(r"\$\{AWS::StackName\}-([a-z0-9-]+)", sub if isinstance(sub, str) else "")
        if not m:
            raise AssertionError(f"{logical}: FunctionName is not ${{AWS::StackName}}-<name>")
        names.append(m.group(1))
    if not names:
        raise AssertionError("the template has no functions")
    return names


def function_arns(names):
    arns = set()
    for n in names:
        arns.add(f"arn:*:lambda:*:*:function:{{{{StackName}}}}-{n}")
        arns.add(f"arn:*:lambda:*:*:function:{{{{StackName}}}}-{n}:*")
    return arns


def roles_are_stack_prefixed(expanded):
    for logical, r in expanded["Resources"].items():
        if r["Type"] != "AWS::IAM::Role":
            continue
        name = r.get("Properties", {}).get("RoleName")
        if name is None:
            continue  # generated: <stack name>-<logical id>-<random>
        sub = name.get("Fn::Sub") if isinstance(name, dict) else None
        if not (isinstance(sub, str) and sub.startswith("${AWS::StackName}-")):
            raise AssertionError(f"{logical}: RoleName {name!r} does not start with ${{AWS::StackName}}-")


def as_set(v):
    return set(v) if isinstance(v, list) else {v}


def statement_for(doc, actions):
    found = [s for s in doc["Statement"] if as_set(s.get("Action", [])) & actions]
    if len(found) != 1:
        raise AssertionError(f"expected one statement for {sorted(actions)}, found {len(found)}")
    return found[0]


def check(sam, expanded, text):
    doc = json.loads(text)
    assert doc.get("Version") == "2012-10-17", "Version must be 2012-10-17"
    for s in doc["Statement"]:
        assert s.get("Effect") == "Deny", f"{s.get('Sid')}: only Deny statements"
        assert "Principal" not in s and "NotPrincipal" not in s, f"{s.get('Sid')}: SCPs take no Principal"
        assert "NotAction" not in s and "NotResource" not in s, f"{s.get('Sid')}: no NotAction/NotResource"
    wanted = function_arns(function_names(sam))

    inv = statement_for(doc, INVOKE)
    assert as_set(inv["Action"]) == INVOKE, f"invoke statement denies {sorted(as_set(inv['Action']))}"
    assert "Condition" not in inv, "the invoke deny has a Condition: an exemption from it"
    assert as_set(inv["Resource"]) == wanted, \
        f"invoke deny names {sorted(as_set(inv['Resource']))}, the template's functions are {sorted(wanted)}"

    perm = statement_for(doc, PERMISSION)
    assert as_set(perm["Action"]) == PERMISSION, "permission statement actions"
    assert as_set(perm["Resource"]) == wanted, "permission statement does not cover every function"
    assert perm.get("Condition") == DEPLOYER_ONLY, "permission statement exempts someone but the deployer"

    changes = statement_for(doc, FUNCTION_CHANGES)
    assert as_set(changes["Action"]) == FUNCTION_CHANGES, "function-change statement misses an action"
    assert as_set(changes["Resource"]) == wanted, "function-change statement does not cover every function"
    assert changes.get("Condition") == DEPLOYER_ONLY, "function-change statement exempts someone but the deployer"

    api = statement_for(doc, API_WRITES)
    assert as_set(api["Action"]) == API_WRITES, "API statement misses a mutating method"
    wanted_apis = {f"arn:*:apigateway:*::/restapis/{{{{{ph}}}}}{tail}" for ph in API_PLACEHOLDERS.values() for tail in ("", "/*")}
    assert as_set(api["Resource"]) == wanted_apis, f"API statement resources {sorted(as_set(api['Resource']))}, want {sorted(wanted_apis)}"
    assert api.get("Condition") == DEPLOYER_ONLY, "API statement exempts someone but the deployer"
    apis = {k for k, r in sam["Resources"].items() if r["Type"] in ("AWS::Serverless::Api", "AWS::ApiGateway::RestApi")}
    assert apis == set(API_PLACEHOLDERS), f"the SCP names the REST APIs {sorted(API_PLACEHOLDERS)}; the template has {sorted(apis)}"

    pr = statement_for(doc, {"iam:PassRole"})
    assert as_set(pr["Action"]) == {"iam:PassRole"}
    assert as_set(pr["Resource"]) == {"arn:*:iam::*:role/{{StackName}}-*"}, "PassRole statement resources"
    assert pr.get("Condition") == DEPLOYER_ONLY, "PassRole statement exempts someone but the deployer"
    roles_are_stack_prefixed(expanded)

    rendered = render(text, **EXAMPLE)
    size = len(json.dumps(json.loads(rendered), separators=(",", ":")))
    assert size <= SCP_LIMIT, f"rendered SCP is {size} characters (limit {SCP_LIMIT})"


def render(text, StackName, DeployerArn, ApiId=None, CaptureApiId=None):
    doc = json.loads(text)
    if ApiId is None or CaptureApiId is None:
        doc["Statement"] = [s for s in doc["Statement"] if not as_set(s.get("Action", [])) & API_WRITES]
    out = json.dumps(doc, separators=(",", ":"))
    for k, v in {"StackName": StackName, "DeployerArn": DeployerArn, "ApiId": ApiId, "CaptureApiId": CaptureApiId}.items():
        if v is not None:
            out = out.replace("{{%s}}" % k, v)
    assert "{{" not in out, "a placeholder was left unfilled"
    json.loads(out)
    return out


# ---- broken copies: (what it does, how it breaks the SCP text, how it breaks the template)

def _doc_edit(fn):
    def mutate(text):
        doc = json.loads(text)
        fn(doc)
        return json.dumps(doc, indent=1)
    return mutate


def _stmt(doc, actions):
    return statement_for(doc, actions)


BROKEN = [
    ("not JSON", lambda t: t.rstrip().rstrip("}"), None),
    ("invoke deny forgets InvokeFunction", _doc_edit(lambda d: _stmt(d, INVOKE)["Action"].remove("lambda:InvokeFunction")), None),
    ("invoke deny forgets the function URL", _doc_edit(lambda d: _stmt(d, INVOKE)["Action"].remove("lambda:InvokeFunctionUrl")), None),
    ("invoke deny forgets forward's alias", _doc_edit(lambda d: _stmt(d, INVOKE)["Resource"].remove(
        "arn:*:lambda:*:*:function:{{StackName}}-forward:*")), None),
    ("invoke deny exempts a role", _doc_edit(lambda d: _stmt(d, INVOKE).update(Condition=DEPLOYER_ONLY)), None),
    ("invoke deny names another pattern", _doc_edit(lambda d: _stmt(d, INVOKE).update(
        Resource=[r.replace("{{StackName}}-", "{{StackName}}-fn-") for r in _stmt(d, INVOKE)["Resource"]])), None),
    ("invoke statement is an Allow", _doc_edit(lambda d: _stmt(d, INVOKE).update(Effect="Allow")), None),
    ("a statement carries a Principal", _doc_edit(lambda d: _stmt(d, INVOKE).update(Principal="*")), None),
    ("AddPermission left to everyone", _doc_edit(lambda d: _stmt(d, PERMISSION)["Action"].remove("lambda:AddPermission")), None),
    ("code-signing config may be unbound by anyone", _doc_edit(lambda d: _stmt(d, FUNCTION_CHANGES)["Action"].remove(
        "lambda:DeleteFunctionCodeSigningConfig")), None),
    ("function code changes exempt any role", _doc_edit(lambda d: _stmt(d, FUNCTION_CHANGES).update(
        Condition={"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}})), None),
    ("function changes miss detokenize", _doc_edit(lambda d: _stmt(d, FUNCTION_CHANGES).update(
        Resource=[r for r in _stmt(d, FUNCTION_CHANGES)["Resource"] if "-detokenize" not in r])), None),
    ("API edits exempt any role", _doc_edit(lambda d: _stmt(d, API_WRITES).update(
        Condition={"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}})), None),
    ("API edits miss PATCH", _doc_edit(lambda d: _stmt(d, API_WRITES)["Action"].remove("apigateway:PATCH")), None),
    ("API edits miss the integrations", _doc_edit(lambda d: _stmt(d, API_WRITES)["Resource"].remove(
        "arn:*:apigateway:*::/restapis/{{ApiId}}/*")), None),
    ("API edits miss the public capture API", _doc_edit(lambda d: _stmt(d, API_WRITES).update(
        Resource=[r for r in _stmt(d, API_WRITES)["Resource"] if "CaptureApiId" not in r])), None),
    ("invoke deny forgets the capture function", _doc_edit(lambda d: _stmt(d, INVOKE).update(
        Resource=[r for r in _stmt(d, INVOKE)["Resource"] if not r.split(":function:")[1].split(":")[0].endswith("-capture")])), None),
    ("template adds a third REST API the SCP does not name", None,
     lambda sam, exp: sam["Resources"].update(OtherApi=copy.deepcopy(sam["Resources"]["CaptureApi"]))),
    ("PassRole on the function roles only", _doc_edit(lambda d: _stmt(d, {"iam:PassRole"}).update(
        Resource=["arn:*:iam::*:role/{{StackName}}-tokenize"])), None),
    ("PassRole statement dropped", _doc_edit(lambda d: d["Statement"].remove(_stmt(d, {"iam:PassRole"}))), None),
    ("over the SCP size limit", _doc_edit(lambda d: d["Statement"].append(
        {"Sid": "Padding", "Effect": "Deny", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::x" * 400]})), None),
    ("template adds a function the SCP does not name", None,
     lambda sam, exp: sam["Resources"].update(ExtraFunction=dict(copy.deepcopy(sam["Resources"]["AdminFunction"]),
         Properties=dict(sam["Resources"]["AdminFunction"]["Properties"], FunctionName={"Fn::Sub": "${AWS::StackName}-extra"})))),
    ("template names a function outside the pattern", None,
     lambda sam, exp: sam["Resources"]["ForwardFunction"]["Properties"].update(FunctionName="vault-forward")),
    ("template names a role outside the stack prefix", None,
     lambda sam, exp: exp["Resources"]["TokenizeFunctionRole"]["Properties"].update(RoleName="vault-tokenize")),
]


def main():
    from cfnlint.decode import cfn_yaml
    from expand import expand

    template, scp = sys.argv[1:3]
    text = pathlib.Path(scp).read_text()
    if sys.argv[3:4] == ["--render"]:
        print(render(text, *sys.argv[4:8]))
        return
    sam = json.loads(json.dumps(cfn_yaml.load(template)))
    expanded = expand(sam)
    check(sam, expanded, text)
    print(f"pass {scp}: denies direct invoke of {', '.join(function_names(sam))}; "
          f"permission, code, configuration, code-signing, API and PassRole changes only by the deployer")
    if sys.argv[3:4] != ["--prove"]:
        return
    failures = 0
    for what, break_text, break_template in BROKEN:
        s, e, t = copy.deepcopy(sam), copy.deepcopy(expanded), text
        try:
            if break_text:
                t = break_text(t)
            if break_template:
                break_template(s, e)
            check(s, e, t)
        except (AssertionError, ValueError, KeyError) as err:
            print(f"pass negative proof: {what}: {str(err).splitlines()[0][:140]}")
        else:
            print(f"FAIL negative proof: {what} passed the check")
            failures += 1
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
