"""Broken copies for infra/policy/operator.guard (issue 22: the operator roles split by
command, key destinations pinned, decrypting roles bound to their function, code
signing, MFA, attribute-limited reads, tombstones). Imported by prove_rules.py."""

from cases_common import statement, props, resource, key_statement


def _conditional_key_statement(t, sid):
    for s in props(t, "VaultKey")["KeyPolicy"]["Statement"]:
        if "Fn::If" in s and s["Fn::If"][1].get("Sid") == sid:
            return s["Fn::If"][1]
    raise KeyError(sid)


def _drop(t, policy, sid):
    doc = props(t, policy)["PolicyDocument"]
    doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != sid]


def import_scans(t):
    statement(t, "OperatorImportPolicy", "ImportPutsRecordsAndIndexItems")["Action"].append("dynamodb:Scan")


def import_batch_writes_without_its_deny(t):
    statement(t, "OperatorImportPolicy", "ImportPutsRecordsAndIndexItems")["Action"].append("dynamodb:BatchWriteItem")
    _drop(t, "OperatorImportPolicy", "ImportNeverScansOrDeletes")


def import_reads_record_fingerprints(t):
    cond = statement(t, "OperatorImportPolicy", "ImportFindsIndexItemsAndRecords")["Condition"]
    cond["ForAllValues:StringEquals"]["dynamodb:Attributes"].append("fp")


def verify_reads_fingerprint_key(t):
    props(t, "OperatorVerifyPolicy")["PolicyDocument"]["Statement"].append(
        {"Sid": "ReadKey", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": {"Ref": "FingerprintKeySecret"}})


def rewrap_scans_whole_items(t):
    del statement(t, "OperatorRewrapPolicy", "RewrapScansWrappedKeys")["Condition"]["ForAllValues:StringEquals"]


def rewrap_scans_fingerprints(t):
    cond = statement(t, "OperatorRewrapPolicy", "RewrapScansWrappedKeys")["Condition"]
    cond["ForAllValues:StringEquals"]["dynamodb:Attributes"].append("fp")


def verify_scans_bin(t):
    cond = statement(t, "OperatorVerifyPolicy", "VerifyScansWhatItCompares")["Condition"]
    cond["ForAllValues:StringEquals"]["dynamodb:Attributes"].append("bin")


def secret_readable_by_verify(t):
    s = props(t, "FingerprintKeySecretPolicy")["ResourcePolicy"]["Statement"][0]
    s["Condition"]["StringNotEquals"]["aws:PrincipalArn"]["Fn::If"][1].append(
        {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-operator-verify"})


def secret_readable_by_rewrap_instead(t):
    s = props(t, "FingerprintKeySecretPolicy")["ResourcePolicy"]["Statement"][0]
    s["Condition"]["StringNotEquals"]["aws:PrincipalArn"]["Fn::If"][1][1] = {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-operator-rewrap"}


def tokenize_seals_with_any_key(t):
    _drop(t, "TokenizePolicy", "DataKeysOnlyFromTheVaultKey")


def rewrap_to_any_key(t):
    statement(t, "OperatorRewrapPolicy", "RewrapReEncryptsToTheVaultOrReplacementKey")["Resource"] = "*"


def rewrap_deny_dropped(t):
    _drop(t, "OperatorRewrapPolicy", "RewrapOnlyIntoItsKeys")


def key_policy_rewraps_elsewhere(t):
    del _conditional_key_statement(t, "RewrapReEncryptsOnThisKey")["Condition"]["Bool"]


def detokenize_decrypts_anywhere(t):
    _drop(t, "DetokenizePolicy", "UnwrapOnlyInTheDetokenizeFunction")


def forward_bound_to_detokenize(t):
    s = statement(t, "ForwardPolicy", "UnwrapOnlyInTheForwardFunction")
    s["Condition"]["ArnNotEquals"]["lambda:SourceFunctionArn"] = {
        "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-detokenize"}


def rotation_unwraps_in_lambda(t):
    _drop(t, "FingerprintRotationOperatorPolicy", "NeverUnwrapInsideLambda")


def code_signing_warns_in_pci(t):
    props(t, "CodeSigningConfig")["CodeSigningPolicies"]["UntrustedArtifactOnDeployment"] = "Warn"


def pci_stage_without_profile(t):
    del t["Rules"]["CodeSigningInPciStages"]


def forward_without_code_signing(t):
    del props(t, "ForwardFunction")["CodeSigningConfigArn"]


def verify_trust_without_mfa(t):
    del props(t, "OperatorVerifyRole")["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["Bool"]


def import_trust_any_mfa_age(t):
    del props(t, "OperatorImportRole")["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["NumericLessThan"]


def import_reads_without_null_guard(t):
    del statement(t, "OperatorImportPolicy", "ImportFindsIndexItemsAndRecords")["Condition"]["Null"]


def describe_without_null_guard(t):
    del statement(t, "TokenizePolicy", "DescribeRecordsWithoutSecrets")["Condition"]["Null"]


def admin_deletes_records(t):
    statement(t, "AdminPolicy", "DeleteIndexItems")["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"].append("t#*")


def admin_updates_index_items(t):
    statement(t, "AdminPolicy", "EraseRecordsIntoTombstones")["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"].append("f#*")


# (rules file, rule that must fail, what the broken copy does, where it is broken)
CASES = [
    ("operator.guard", "import_never_scans_deletes_or_reads_fingerprints", import_scans, "sam"),
    ("operator.guard", "import_never_scans_deletes_or_reads_fingerprints", import_batch_writes_without_its_deny, "sam"),
    ("operator.guard", "import_never_scans_deletes_or_reads_fingerprints", import_reads_record_fingerprints, "sam"),
    ("operator.guard", "rewrap_and_verify_never_read_the_fingerprint_key", verify_reads_fingerprint_key, "sam"),
    ("operator.guard", "rewrap_and_verify_never_read_the_fingerprint_key", rewrap_scans_whole_items, "sam"),
    ("operator.guard", "rewrap_and_verify_never_read_the_fingerprint_key", rewrap_scans_fingerprints, "sam"),
    ("operator.guard", "rewrap_and_verify_never_read_the_fingerprint_key", verify_scans_bin, "expanded"),
    ("operator.guard", "fingerprint_secret_readers_named", secret_readable_by_verify, "sam"),
    ("operator.guard", "fingerprint_secret_readers_named", secret_readable_by_rewrap_instead, "sam"),
    ("operator.guard", "data_keys_only_from_the_vault_key", tokenize_seals_with_any_key, "sam"),
    ("operator.guard", "data_keys_only_from_the_vault_key", rewrap_to_any_key, "sam"),
    ("operator.guard", "data_keys_only_from_the_vault_key", rewrap_deny_dropped, "sam"),
    ("operator.guard", "data_keys_only_from_the_vault_key", key_policy_rewraps_elsewhere, "sam"),
    ("operator.guard", "decrypting_roles_bound_to_their_function", detokenize_decrypts_anywhere, "sam"),
    ("operator.guard", "decrypting_roles_bound_to_their_function", forward_bound_to_detokenize, "sam"),
    ("operator.guard", "decrypting_roles_bound_to_their_function", rotation_unwraps_in_lambda, "sam"),
    ("operator.guard", "code_signing_enforced_in_pci_stages", code_signing_warns_in_pci, "sam"),
    ("operator.guard", "code_signing_enforced_in_pci_stages", pci_stage_without_profile, "sam"),
    ("operator.guard", "code_signing_enforced_in_pci_stages", forward_without_code_signing, "sam+expand"),
    ("operator.guard", "operator_sessions_need_mfa", verify_trust_without_mfa, "sam"),
    ("operator.guard", "operator_sessions_need_mfa", import_trust_any_mfa_age, "sam"),
    ("operator.guard", "attribute_limited_reads_need_the_attributes", import_reads_without_null_guard, "sam"),
    ("operator.guard", "attribute_limited_reads_need_the_attributes", describe_without_null_guard, "expanded"),
    ("operator.guard", "admin_erases_into_tombstones", admin_deletes_records, "sam"),
    ("operator.guard", "admin_erases_into_tombstones", admin_updates_index_items, "sam"),
]
