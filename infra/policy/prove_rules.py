#!/usr/bin/env python3
"""Runs the cfn-guard rules on the template, then proves each rule can fail.

The template is first normalized to long-form JSON (cfn-lint's CloudFormation
YAML loader turns `!GetAtt A.Arn` into `{"Fn::GetAtt": ["A", "Arn"]}`), so the
rules see one representation. Then, for every rule, a deliberately broken copy
of the template is generated and must FAIL that rule: a rule that cannot fail
counts as no rule.

Usage: prove_rules.py TEMPLATE RULES_DIR WORK_DIR GUARD_BINARY
"""
import copy
import json
import pathlib
import re
import subprocess
import sys

from cfnlint.decode import cfn_yaml


def statement(t, policy, sid):
    for s in t["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"]:
        if s.get("Sid") == sid:
            return s
    raise KeyError(f"{policy}/{sid}")


def props(t, name):
    return t["Resources"][name]["Properties"]


def set_role(function, role):
    def mutate(t):
        props(t, function)["Role"] = {"Fn::GetAtt": [role, "Arn"]}
    return mutate


def add_dev_principal_to_function(t):
    props(t, "TokenizeFunction")["Environment"]["Variables"]["TESSERA_DEV_PRINCIPAL"] = "arn:aws:iam::111122223333:role/dev"


def add_dev_principal_to_globals(t):
    t["Globals"]["Function"]["Environment"] = {"Variables": {"TESSERA_DEV_PRINCIPAL": "arn:aws:iam::111122223333:role/dev"}}


def drop_admin_role(t):
    del props(t, "AdminFunction")["Role"]


def wildcard_action(t):
    statement(t, "TokenizePolicy", "ReadDedupIndexItems")["Action"] = ["dynamodb:*"]


def wildcard_resource(t):
    statement(t, "DetokenizePolicy", "ReadRecords")["Resource"] = "*"


def inline_data_access(t):
    props(t, "ApiGatewayLoggingRole")["Policies"][0]["PolicyDocument"]["Statement"][0]["Action"].append("dynamodb:GetItem")


def tokenize_decrypts(t):
    statement(t, "TokenizePolicy", "GenerateDataKeys")["Action"].append("kms:Decrypt")


def tokenize_reads_ciphertext(t):
    cond = statement(t, "TokenizePolicy", "DescribeRecordsWithoutSecrets")["Condition"]
    cond["ForAllValues:StringEquals"]["dynamodb:Attributes"].append("ct")


def detokenize_writes(t):
    statement(t, "DetokenizePolicy", "ReadRecords")["Action"].append("dynamodb:PutItem")


def admin_writes(t):
    statement(t, "AdminPolicy", "DeleteRecordsAndIndexItems")["Action"].append("dynamodb:PutItem")


def table_without_cmk(t):
    del props(t, "VaultTable")["SSESpecification"]["KMSMasterKeyId"]


def table_without_pitr(t):
    props(t, "VaultTable")["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] = False


def ttl_elsewhere(t):
    props(t, "VaultTable")["TimeToLiveSpecification"]["AttributeName"] = "expires"


def key_without_rotation(t):
    props(t, "PlatformKey")["EnableKeyRotation"] = False


def trail_without_validation(t):
    props(t, "Trail")["EnableLogFileValidation"] = False


def short_log_retention(t):
    props(t, "AdminLogGroup")["RetentionInDays"] = 30


def short_retention_parameter(t):
    t["Parameters"]["LogRetentionDays"]["AllowedValues"].append(90)


def unversioned_bucket(t):
    props(t, "TrailBucket")["VersioningConfiguration"]["Status"] = "Suspended"


# (rules file, rule that must fail, what the broken copy does)
CASES = [
    ("functions.guard", "every_function_has_an_explicit_role", drop_admin_role),
    ("functions.guard", "tokenize_has_its_own_role", set_role("TokenizeFunction", "DetokenizeFunctionRole")),
    ("functions.guard", "detokenize_has_its_own_role", set_role("DetokenizeFunction", "TokenizeFunctionRole")),
    ("functions.guard", "admin_has_its_own_role", set_role("AdminFunction", "DetokenizeFunctionRole")),
    ("functions.guard", "no_dev_principal_in_functions", add_dev_principal_to_function),
    ("functions.guard", "no_dev_principal_in_globals", add_dev_principal_to_globals),
    ("iam.guard", "no_wildcard_data_plane_actions", wildcard_action),
    ("iam.guard", "no_wildcard_data_plane_resources", wildcard_resource),
    ("iam.guard", "inline_policies_have_no_data_plane_access", inline_data_access),
    ("iam.guard", "tokenize_cannot_decrypt", tokenize_decrypts),
    ("iam.guard", "tokenize_cannot_read_pan_ciphertext", tokenize_reads_ciphertext),
    ("iam.guard", "detokenize_cannot_write", detokenize_writes),
    ("iam.guard", "admin_only_deletes", admin_writes),
    ("data.guard", "table_encrypted_with_customer_key", table_without_cmk),
    ("data.guard", "table_recoverable_and_protected", table_without_pitr),
    ("data.guard", "table_ttl_on_exp", ttl_elsewhere),
    ("data.guard", "keys_rotate", key_without_rotation),
    ("data.guard", "trail_is_validated_and_encrypted", trail_without_validation),
    ("data.guard", "log_groups_kept_a_year_and_encrypted", short_log_retention),
    ("data.guard", "retention_parameter_at_least_a_year", short_retention_parameter),
    ("data.guard", "buckets_private_and_versioned", unversioned_bucket),
]


def guard(binary, rules, data):
    """Returns (exit code, {rule: PASS|FAIL|SKIP})."""
    out = subprocess.run(
        [binary, "validate", "--rules", str(rules), "--data", str(data), "--show-summary", "all"],
        capture_output=True, text=True,
    )
    statuses = dict(re.findall(r"^[\w.-]+\.guard/(\w+)\s+(PASS|FAIL|SKIP)\s*$", out.stdout, re.M))
    return out.returncode, statuses, out.stdout + out.stderr


def main():
    template, rules_dir, work, binary = (pathlib.Path(a) for a in sys.argv[1:5])
    work.mkdir(parents=True, exist_ok=True)
    normalized = json.loads(json.dumps(cfn_yaml.load(str(template))))
    good = work / "template.json"
    good.write_text(json.dumps(normalized, indent=1))

    failures = 0
    rule_files = sorted(rules_dir.glob("*.guard"))
    declared = {}
    for rules in rule_files:
        names = re.findall(r"^rule\s+(\w+)", rules.read_text(), re.M)
        declared.update({n: rules.name for n in names})
        code, statuses, text = guard(binary, rules, good)
        bad = [n for n in names if statuses.get(n) == "FAIL"]
        if code != 0 or bad:
            print(f"FAIL {rules.name} on the template: {bad or text}")
            failures += 1
        else:
            print(f"pass {rules.name}: {len(names)} rules hold on the template")

    proven = set()
    for rules_name, rule, mutate in CASES:
        broken = copy.deepcopy(normalized)
        mutate(broken)
        path = work / f"broken-{rule}.json"
        path.write_text(json.dumps(broken, indent=1))
        code, statuses, text = guard(binary, rules_dir / rules_name, path)
        if code != 0 and statuses.get(rule) == "FAIL":
            print(f"pass negative proof: {mutate.__name__} fails {rule}")
            proven.add(rule)
        else:
            print(f"FAIL negative proof: {mutate.__name__} did not fail {rule} (exit {code}, {statuses.get(rule)})")
            failures += 1

    unproven = sorted(set(declared) - proven)
    if unproven:
        print(f"FAIL rules without a negative proof: {unproven}")
        failures += 1
    total = len(rule_files) + len(CASES) + 1
    print(f"cfn-guard: {total - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
