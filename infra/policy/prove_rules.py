#!/usr/bin/env python3
"""Runs the cfn-guard rules on the template and on its SAM expansion, then
proves each rule can fail.

Two templates are checked:
- the SAM template, normalized to long-form JSON (cfn-lint's CloudFormation YAML
  loader turns `!GetAtt A.Arn` into `{"Fn::GetAtt": ["A", "Arn"]}`);
- the EXPANDED template: what aws-sam-translator's transform generates from it
  (expand.py, offline), i.e. what CloudFormation actually deploys.

RULES_DIR/*.guard must hold on both; RULES_DIR/expanded/*.guard on the expanded
one (they name the resource types SAM generates). Then, for every rule, a
deliberately broken copy must FAIL that rule: a rule that cannot fail counts as
no rule. A broken copy is made in one of three ways (CASES, column `where`):
- "sam":        break the SAM template, check the rule on it;
- "expanded":   break the expanded template, check the rule on it;
- "sam+expand": break the SAM template, expand it, check the rule on the
                expansion (the rule catches what SAM would generate).

Usage: prove_rules.py TEMPLATE RULES_DIR WORK_DIR GUARD_BINARY
"""
import copy
import json
import pathlib
import re
import subprocess
import sys

from cfnlint.decode import cfn_yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from expand import expand  # noqa: E402


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
    mutate.__name__ = f"{function}_uses_{role}"
    return mutate


def set_log_group(policy, group):
    def mutate(t):
        statement(t, policy, "WriteOwnLogs")["Resource"] = {"Fn::GetAtt": [group, "Arn"]}
    mutate.__name__ = f"{policy}_writes_{group}"
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


# ---- new cases: source template

def resource(t, name):
    return t["Resources"][name]


def key_statement(t, key, sid):
    for s in props(t, key)["KeyPolicy"]["Statement"]:
        if s.get("Sid") == sid:
            return s
    raise KeyError(f"{key}/{sid}")


def admin_wildcard_back(t):
    key_statement(t, "VaultKey", "KeyAdministration")["Action"].append("kms:Create*")


def admin_gets_put_key_policy(t):
    key_statement(t, "PlatformKey", "KeyAdministration")["Action"].append("kms:PutKeyPolicy")


def deployer_loses_put_key_policy(t):
    s = key_statement(t, "PlatformKey", "DeployerMaintainsKeyPolicy")
    s["Action"] = [a for a in s["Action"] if a != "kms:PutKeyPolicy"]


def secret_writer_without_decrypt(t):
    key_statement(t, "VaultKey", "SecretWritersEncrypt")["Action"] = ["kms:GenerateDataKey", "kms:Encrypt"]


def cloudtrail_cannot_decrypt(t):
    stmts = props(t, "PlatformKey")["KeyPolicy"]["Statement"]
    props(t, "PlatformKey")["KeyPolicy"]["Statement"] = [s for s in stmts if s.get("Sid") != "CloudTrailPublishesToEncryptedTopic"]


def secret_writes_open(t):
    stmts = props(t, "FingerprintKeySecretPolicy")["ResourcePolicy"]["Statement"]
    props(t, "FingerprintKeySecretPolicy")["ResourcePolicy"]["Statement"] = [
        s for s in stmts if s.get("Sid") != "OnlyAdministratorsWriteTheFingerprintKey"]


def fixed_table_name(t):
    props(t, "VaultTable")["TableName"] = {"Fn::Sub": "${AWS::StackName}-vault"}


def governance_object_lock(t):
    props(t, "TrailBucket")["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Mode"] = "GOVERNANCE"


def no_backup_selection(t):
    del t["Resources"]["BackupSelection"]


def open_kms_endpoint(t):
    del props(t, "KmsEndpoint")["PolicyDocument"]


def unvalidated_detokenizers(t):
    del t["Parameters"]["DetokenizerRoleArns"]["AllowedPattern"]


def logging_role_deleted_with_stack(t):
    del resource(t, "ApiGatewayLoggingRole")["DeletionPolicy"]


def deployer_may_be_key_admin(t):
    del t["Rules"]["KeyRolesAreSeparate"]


def admin_without_api_id(t):
    del props(t, "AdminFunction")["Environment"]["Variables"]["TESSERA_API_ID"]


def detokenize_with_table_as_vault_id(t):
    props(t, "DetokenizeFunction")["Environment"]["Variables"]["TESSERA_VAULT_ID"] = {"Ref": "VaultTable"}


def tokenize_without_describe_list(t):
    del props(t, "TokenizeFunction")["Environment"]["Variables"]["TESSERA_DESCRIBE_ROLES"]


def fixed_reserved_concurrency(t):
    props(t, "DetokenizeFunction")["ReservedConcurrentExecutions"] = 50


def no_canary_for_detokenize(t):
    del props(t, "DetokenizeFunction")["DeploymentPreference"]


def tokenize_writes_detokenize_logs(t):
    s = statement(t, "TokenizePolicy", "WriteOwnLogs")
    s["Resource"] = [s["Resource"], {"Fn::GetAtt": ["DetokenizeLogGroup", "Arn"]}]


def unwrap_without_exact_context(t):
    s = statement(t, "DetokenizePolicy", "UnwrapDataKeys")
    s["Condition"] = {"StringEqualsIfExists": s["Condition"]["StringEquals"]}


def vpc_role_without_describe_subnets(t):
    s = statement(t, "FunctionRuntimePolicy", "VpcNetworkInterfaces")
    s["Action"] = [a for a in s["Action"] if a != "ec2:DescribeSubnets"]


# ---- new cases: what SAM generates (mutate the SAM source, then expand)

def implicit_stage(t):
    del props(t, "Api")["OpenApiVersion"]


def api_without_account_dependency(t):
    del resource(t, "Api")["DependsOn"]


def execution_log_group_unencrypted(t):
    del props(t, "ApiExecutionLogGroup")["KmsKeyId"]


def admin_logs_implicitly(t):
    del props(t, "AdminFunction")["LoggingConfig"]


def no_execution_log_group(t):
    del t["Resources"]["ApiExecutionLogGroup"]


def alarm_without_action(t):
    del props(t, "Api5xxAlarm")["AlarmActions"]


def no_trail_tampering_filter(t):
    del t["Resources"]["TrailTamperingFilter"]


def no_denial_alarm(t):
    del t["Resources"]["DetokenizeDenialsAlarm"]


def no_lookup_miss_rule(t):
    del t["Resources"]["LookupMissesByPrincipalRule"]
    del t["Resources"]["LookupMissesAlarm"]


def dashboard_without_cache_hits(t):
    body = props(t, "Dashboard")["DashboardBody"]["Fn::Sub"]
    props(t, "Dashboard")["DashboardBody"]["Fn::Sub"] = body.replace("DataKeyCacheHits", "Requests")


def canary_without_alarms(t):
    del props(t, "AdminFunction")["DeploymentPreference"]["Alarms"]


def sam_default_deployment_role(t):
    del props(t, "TokenizeFunction")["DeploymentPreference"]["Role"]


def trail_selects_exact_function_arns(t):
    for sel in props(t, "Trail")["AdvancedEventSelectors"]:
        for f in sel["FieldSelectors"]:
            if f["Field"] == "resources.ARN" and "StartsWith" in f:
                f["Equals"] = [{"Fn::GetAtt": [n, "Arn"]} for n in ("TokenizeFunction", "DetokenizeFunction", "AdminFunction")]
                del f["StartsWith"]


def access_log_raw_path(t):
    props(t, "Api")["AccessLogSetting"]["Format"] += ',"path":"$context.path"'


def access_log_session_name(t):
    props(t, "Api")["AccessLogSetting"]["Format"] += ',"caller":"$context.identity.userArn"'


def waf_logs_everything(t):
    del props(t, "ApiWebAclLogging")["LoggingFilter"]


def waf_logs_correlation_id(t):
    props(t, "ApiWebAclLogging")["RedactedFields"] = [
        f for f in props(t, "ApiWebAclLogging")["RedactedFields"]
        if f.get("SingleHeader", {}).get("Name") != "x-correlation-id"]


def stage_traced(t):
    props(t, "Api")["TracingEnabled"] = True


def detokenize_shares_stage_throttle(t):
    props(t, "Api")["MethodSettings"] = props(t, "Api")["MethodSettings"][:1]


def default_endpoint_tls10(t):
    del props(t, "Api")["DefinitionBody"]["x-amazon-apigateway-security-policy"]


def describe_open_to_tokenizers(t):
    stmts = props(t, "Api")["DefinitionBody"]["x-amazon-apigateway-policy"]["Statement"]
    props(t, "Api")["DefinitionBody"]["x-amazon-apigateway-policy"]["Statement"] = [
        s for s in stmts if s.get("Sid") != "OnlyDescribersDescribe"]


def waf_logs_raw_path(t):
    props(t, "ApiWebAclLogging")["RedactedFields"] = [
        f for f in props(t, "ApiWebAclLogging")["RedactedFields"] if "UriPath" not in f]


def waf_blocks_8k_bodies(t):
    del props(t, "ApiWebAcl")["Rules"][0]["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"]


def integration_uri_by_reference(t):
    integration = props(t, "Api")["DefinitionBody"]["paths"]["/v1/detokenize"]["post"]["x-amazon-apigateway-integration"]
    integration["uri"] = {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${DetokenizeFunction.Arn}/invocations"}


# ---- new cases: break the expanded template directly

def caller_credentials(t):
    integration = props(t, "Api")["Body"]["paths"]["/v1/tokens"]["post"]["x-amazon-apigateway-integration"]
    integration["credentials"] = "arn:aws:iam::*:user/*"


def permission_for_any_route(t):
    props(t, "DeletePermission")["SourceArn"] = {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*"}


# ---- forward, its egress, the operator roles, the rotation schedule

def forward_statement(t, sid):
    return statement(t, "ForwardPolicy", sid)


def forward_deletes(t):
    props(t, "ForwardPolicy")["PolicyDocument"]["Statement"].append(
        {"Sid": "Erase", "Effect": "Allow", "Action": ["dynamodb:DeleteItem"],
         "Resource": {"Fn::GetAtt": ["VaultTable", "Arn"]}})


def forward_reads_fingerprint_key(t):
    props(t, "ForwardPolicy")["PolicyDocument"]["Statement"].append(
        {"Sid": "ReadKey", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": {"Ref": "FingerprintKeySecret"}})


def forward_unwraps_without_table_context(t):
    del forward_statement(t, "UnwrapDataKeys")["Condition"]["StringEquals"]["kms:EncryptionContext:table"]


def forward_reads_index_items(t):
    forward_statement(t, "ReadRecords")["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] = ["t#*", "f#*"]


def forward_dev_ca(t):
    props(t, "ForwardFunction")["Environment"]["Variables"]["TESSERA_FORWARD_DEV_CA"] = "/tmp/dev-ca.pem"


def forward_destinations_literal(t):
    props(t, "ForwardFunction")["Environment"]["Variables"]["TESSERA_FORWARD_DESTINATIONS"] = "[]"


def operator_decrypts(t):
    statement(t, "OperatorPolicy", "ImportGeneratesDataKeys")["Action"].append("kms:Decrypt")


def operator_key_policy_decrypt(t):
    for s in props(t, "VaultKey")["KeyPolicy"]["Statement"]:
        if "Fn::If" in s and s["Fn::If"][1].get("Sid") == "OperatorSealsAndRewrapsDataKeys":
            s["Fn::If"][1]["Action"].append("kms:Decrypt")
            return
    raise KeyError("OperatorSealsAndRewrapsDataKeys")


def operator_reads_ciphertext(t):
    cond = statement(t, "OperatorPolicy", "ImportChecksRecordsExist")["Condition"]
    cond["ForAllValues:StringEquals"]["dynamodb:Attributes"].append("ct")


def rewrap_without_table_context(t):
    del statement(t, "OperatorPolicy", "RewrapReEncryptsDataKeys")["Condition"]["StringEquals"]["kms:EncryptionContext:table"]


def operator_role_always_created(t):
    del resource(t, "OperatorRole")["Condition"]


def forward_route_to_nat(t):
    p = props(t, "ForwardDefaultRouteA")
    del p["VpcEndpointId"]
    p["NatGatewayId"] = {"Ref": "NatGatewayA"}


def forward_route_to_internet_gateway(t):
    t["Resources"]["ForwardIpv6Route"] = {
        "Type": "AWS::EC2::Route", "Condition": "UsePrivateNetwork",
        "Properties": {"RouteTableId": {"Ref": "ForwardRouteTableB"}, "DestinationIpv6CidrBlock": "::/0",
                       "GatewayId": {"Ref": "InternetGateway"}}}


def private_subnets_route_to_nat(t):
    t["Resources"]["PrivateDefaultRoute"] = {
        "Type": "AWS::EC2::Route", "Condition": "UsePrivateNetwork",
        "Properties": {"RouteTableId": {"Ref": "PrivateRouteTable"}, "DestinationCidrBlock": "0.0.0.0/0",
                       "NatGatewayId": {"Ref": "NatGatewayA"}}}


def tokenize_in_forward_subnets(t):
    props(t, "TokenizeFunction")["VpcConfig"] = {"Fn::If": ["UsePrivateNetwork", {
        "SecurityGroupIds": [{"Ref": "FunctionSecurityGroup"}],
        "SubnetIds": [{"Ref": "ForwardSubnetA"}, {"Ref": "ForwardSubnetB"}]}, {"Ref": "AWS::NoValue"}]}


def private_subnet_on_public_table(t):
    props(t, "PrivateSubnetARoutes")["RouteTableId"] = {"Ref": "PublicRouteTableA"}


def firewall_allows_http_host(t):
    props(t, "ForwardDestinationAllowList")["RuleGroup"]["RulesSource"]["RulesSourceList"]["TargetTypes"].append("HTTP_HOST")


def firewall_passes_by_default(t):
    props(t, "ForwardFirewallPolicy")["FirewallPolicy"]["StatefulDefaultActions"] = ["aws:alert_established"]


def firewall_denylist(t):
    props(t, "ForwardDestinationAllowList")["RuleGroup"]["RulesSource"]["RulesSourceList"]["GeneratedRulesType"] = "DENYLIST"


def forward_any_port_out(t):
    props(t, "ForwardSecurityGroup")["SecurityGroupEgress"].append(
        {"IpProtocol": "-1", "CidrIp": "0.0.0.0/0", "Description": "anything"})


def forward_open_to_all(t):
    stmts = props(t, "Api")["DefinitionBody"]["x-amazon-apigateway-policy"]["Statement"]
    props(t, "Api")["DefinitionBody"]["x-amazon-apigateway-policy"]["Statement"] = [
        s for s in stmts if s.get("Sid") != "OnlyForwardersForward"]


def forward_deny_post_only(t):
    for s in props(t, "Api")["DefinitionBody"]["x-amazon-apigateway-policy"]["Statement"]:
        if s.get("Sid") == "OnlyForwardersForward":
            s["Resource"] = ["execute-api:/*/POST/v1/forward"]


def forward_allowed_to_tokenizers(t):
    for s in props(t, "Api")["DefinitionBody"]["x-amazon-apigateway-policy"]["Statement"]:
        if s.get("Sid") == "ForwardCallers":
            s["Principal"] = {"AWS": {"Ref": "TokenizerRoleArns"}}


def forward_shares_stage_throttle(t):
    props(t, "Api")["MethodSettings"] = [
        m for m in props(t, "Api")["MethodSettings"] if m["ResourcePath"] != "/~1v1~1forward"]


def no_forward_throttle_alarm(t):
    del t["Resources"]["ForwardThrottlesAlarm"]


def dashboard_without_forward(t):
    body = props(t, "Dashboard")["DashboardBody"]["Fn::Sub"]
    props(t, "Dashboard")["DashboardBody"]["Fn::Sub"] = body.replace(',["...","forward"]', "")


def rotation_schedule_disabled(t):
    props(t, "FingerprintRotationDue")["State"] = "DISABLED"


def cryptoperiod_two_years(t):
    t["Parameters"]["FingerprintKeyCryptoperiodDays"]["MaxValue"] = 730


# (rules file, rule that must fail, what the broken copy does, where it is broken)
CASES = [
    ("functions.guard", "every_function_has_an_explicit_role", drop_admin_role, "sam"),
    ("functions.guard", "tokenize_has_its_own_role", set_role("TokenizeFunction", "DetokenizeFunctionRole"), "sam"),
    ("functions.guard", "detokenize_has_its_own_role", set_role("DetokenizeFunction", "TokenizeFunctionRole"), "sam"),
    ("functions.guard", "admin_has_its_own_role", set_role("AdminFunction", "DetokenizeFunctionRole"), "sam"),
    ("functions.guard", "no_dev_principal_in_functions", add_dev_principal_to_function, "sam"),
    ("functions.guard", "no_dev_principal_in_globals", add_dev_principal_to_globals, "sam"),
    ("iam.guard", "no_wildcard_data_plane_actions", wildcard_action, "sam"),
    ("iam.guard", "no_wildcard_data_plane_resources", wildcard_resource, "sam"),
    ("iam.guard", "inline_policies_have_no_data_plane_access", inline_data_access, "sam"),
    ("iam.guard", "tokenize_cannot_decrypt", tokenize_decrypts, "sam"),
    ("iam.guard", "tokenize_cannot_read_pan_ciphertext", tokenize_reads_ciphertext, "sam"),
    ("iam.guard", "detokenize_cannot_write", detokenize_writes, "sam"),
    ("iam.guard", "admin_only_deletes", admin_writes, "sam"),
    ("data.guard", "table_encrypted_with_customer_key", table_without_cmk, "sam"),
    ("data.guard", "table_recoverable_and_protected", table_without_pitr, "sam"),
    ("data.guard", "table_ttl_on_exp", ttl_elsewhere, "sam"),
    ("data.guard", "keys_rotate", key_without_rotation, "sam"),
    ("data.guard", "trail_is_validated_and_encrypted", trail_without_validation, "sam"),
    ("data.guard", "log_groups_kept_a_year_and_encrypted", short_log_retention, "sam"),
    ("data.guard", "retention_parameter_at_least_a_year", short_retention_parameter, "sam"),
    ("data.guard", "buckets_private_and_versioned", unversioned_bucket, "sam"),
    ("keys.guard", "key_policies_name_every_action", admin_wildcard_back, "sam"),
    ("keys.guard", "key_admins_cannot_grant_or_repolicy", admin_gets_put_key_policy, "sam"),
    ("keys.guard", "deployer_keeps_key_policy_access", deployer_loses_put_key_policy, "sam"),
    ("keys.guard", "secret_writers_can_validate_key_access", secret_writer_without_decrypt, "sam"),
    ("keys.guard", "services_can_publish_to_encrypted_topics", cloudtrail_cannot_decrypt, "sam"),
    ("keys.guard", "fingerprint_secret_guarded", secret_writes_open, "sam"),
    ("data.guard", "retained_resources_have_generated_names", fixed_table_name, "sam"),
    ("data.guard", "trail_object_lock_compliance", governance_object_lock, "sam"),
    ("data.guard", "vault_table_backed_up", no_backup_selection, "sam"),
    ("data.guard", "vpc_endpoints_scoped_to_account", open_kms_endpoint, "sam"),
    ("data.guard", "parameters_validated", unvalidated_detokenizers, "sam"),
    ("data.guard", "parameters_validated", deployer_may_be_key_admin, "sam"),
    ("data.guard", "stateful_resources_retained", logging_role_deleted_with_stack, "sam"),
    ("functions.guard", "functions_know_their_api", admin_without_api_id, "sam"),
    ("functions.guard", "functions_share_the_vault_id", detokenize_with_table_as_vault_id, "sam"),
    ("functions.guard", "tokenize_has_describe_list_and_scopes", tokenize_without_describe_list, "sam"),
    ("functions.guard", "reserved_concurrency_optional", fixed_reserved_concurrency, "sam"),
    ("functions.guard", "functions_roll_out_safely", no_canary_for_detokenize, "sam"),
    ("iam.guard", "functions_write_only_own_logs", tokenize_writes_detokenize_logs, "sam"),
    ("iam.guard", "vpc_functions_can_describe_subnets", vpc_role_without_describe_subnets, "sam"),
    ("iam.guard", "data_keys_pinned_to_vault_context", unwrap_without_exact_context, "sam"),
    ("expanded/api.guard", "no_integration_credentials", caller_credentials, "expanded"),
    ("expanded/api.guard", "no_integration_credentials", integration_uri_by_reference, "sam+expand"),
    ("expanded/api.guard", "exactly_one_stage", implicit_stage, "sam+expand"),
    ("expanded/api.guard", "stage_waits_for_account_setting", api_without_account_dependency, "sam+expand"),
    ("expanded/api.guard", "permissions_scoped_to_api_route", permission_for_any_route, "expanded"),
    ("expanded/api.guard", "access_log_has_no_raw_path", access_log_raw_path, "sam+expand"),
    ("expanded/api.guard", "access_log_has_no_session_name", access_log_session_name, "sam+expand"),
    ("expanded/api.guard", "waf_logs_only_blocked_requests", waf_logs_everything, "sam+expand"),
    ("expanded/api.guard", "waf_logs_redact_url", waf_logs_correlation_id, "sam+expand"),
    ("expanded/api.guard", "stage_not_traced", stage_traced, "sam+expand"),
    ("expanded/api.guard", "detokenize_has_its_own_throttle", detokenize_shares_stage_throttle, "sam+expand"),
    ("expanded/api.guard", "api_accepts_tls12_only", default_endpoint_tls10, "sam+expand"),
    ("expanded/api.guard", "resource_policy_per_route", describe_open_to_tokenizers, "sam+expand"),
    ("expanded/api.guard", "waf_logs_redact_url", waf_logs_raw_path, "sam+expand"),
    ("expanded/api.guard", "waf_allows_64k_bodies", waf_blocks_8k_bodies, "sam+expand"),
    ("expanded/observability.guard", "expanded_log_groups_encrypted_and_retained", execution_log_group_unencrypted, "sam+expand"),
    ("expanded/observability.guard", "every_function_logs_to_a_declared_group", admin_logs_implicitly, "sam+expand"),
    ("expanded/observability.guard", "execution_log_group_declared", no_execution_log_group, "sam+expand"),
    ("expanded/observability.guard", "every_alarm_notifies", alarm_without_action, "sam+expand"),
    ("expanded/observability.guard", "detection_covers_cloudtrail_events", no_trail_tampering_filter, "sam+expand"),
    ("expanded/observability.guard", "operational_alarms_exist", no_denial_alarm, "sam+expand"),
    ("expanded/observability.guard", "contributor_insights_on_tokenize", no_lookup_miss_rule, "sam+expand"),
    ("expanded/observability.guard", "dashboard_shows_function_metrics", dashboard_without_cache_hits, "sam+expand"),
    ("expanded/observability.guard", "canary_rolls_back_on_alarms", canary_without_alarms, "sam+expand"),
    ("expanded/observability.guard", "trail_logs_alias_invocations", trail_selects_exact_function_arns, "sam+expand"),
    ("expanded/observability.guard", "deployment_role_scoped", sam_default_deployment_role, "sam+expand"),
    ("functions.guard", "forward_has_its_own_role", set_role("ForwardFunction", "DetokenizeFunctionRole"), "sam"),
    ("functions.guard", "no_forward_dev_ca_in_functions", forward_dev_ca, "sam"),
    ("functions.guard", "no_forward_dev_ca_in_functions", forward_dev_ca, "sam+expand"),
    ("functions.guard", "forward_knows_its_destinations", forward_destinations_literal, "sam"),
    ("iam.guard", "forward_cannot_write_or_read_secrets", forward_deletes, "sam"),
    ("iam.guard", "forward_cannot_write_or_read_secrets", forward_reads_fingerprint_key, "sam"),
    ("iam.guard", "forward_reads_as_detokenize", forward_unwraps_without_table_context, "sam"),
    ("iam.guard", "forward_reads_as_detokenize", forward_reads_index_items, "sam"),
    ("iam.guard", "functions_write_only_own_logs", set_log_group("ForwardPolicy", "TokenizeLogGroup"), "sam"),
    ("iam.guard", "operator_never_unwraps_data_keys", operator_decrypts, "sam"),
    ("iam.guard", "operator_never_unwraps_data_keys", operator_key_policy_decrypt, "sam"),
    ("iam.guard", "operator_never_unwraps_data_keys", operator_reads_ciphertext, "sam"),
    ("iam.guard", "data_keys_pinned_to_vault_context", rewrap_without_table_context, "sam"),
    ("keys.guard", "operator_roles_only_when_named", operator_role_always_created, "sam"),
    ("keys.guard", "fingerprint_rotation_is_scheduled", rotation_schedule_disabled, "sam"),
    ("keys.guard", "fingerprint_rotation_is_scheduled", cryptoperiod_two_years, "sam"),
    ("network.guard", "forward_default_route_is_the_firewall", forward_route_to_nat, "sam"),
    ("network.guard", "forward_default_route_is_the_firewall", forward_route_to_internet_gateway, "expanded"),
    ("network.guard", "only_forward_reaches_the_internet", private_subnets_route_to_nat, "sam"),
    ("network.guard", "only_forward_reaches_the_internet", tokenize_in_forward_subnets, "sam+expand"),
    ("network.guard", "only_forward_reaches_the_internet", private_subnet_on_public_table, "expanded"),
    ("network.guard", "forward_egress_allow_list", firewall_allows_http_host, "sam"),
    ("network.guard", "forward_egress_allow_list", firewall_passes_by_default, "sam"),
    ("network.guard", "forward_egress_allow_list", firewall_denylist, "expanded"),
    ("network.guard", "forward_security_group_https_only", forward_any_port_out, "sam"),
    ("expanded/api.guard", "forward_denied_to_non_forwarders", forward_open_to_all, "sam+expand"),
    ("expanded/api.guard", "forward_denied_to_non_forwarders", forward_deny_post_only, "sam+expand"),
    ("expanded/api.guard", "forward_denied_to_non_forwarders", forward_allowed_to_tokenizers, "sam+expand"),
    ("expanded/api.guard", "forward_has_its_own_throttle", forward_shares_stage_throttle, "sam+expand"),
    ("expanded/observability.guard", "forward_is_watched", no_forward_throttle_alarm, "sam+expand"),
    ("expanded/observability.guard", "forward_is_watched", dashboard_without_forward, "sam+expand"),
]


def guard(binary, rules, data):
    """Returns (exit code, {rule: PASS|FAIL|SKIP}, output)."""
    out = subprocess.run(
        [binary, "validate", "--rules", str(rules), "--data", str(data), "--show-summary", "all"],
        capture_output=True, text=True,
    )
    statuses = dict(re.findall(r"^\S*?\.guard/(\w+)\s+(PASS|FAIL|SKIP)\s*$", out.stdout, re.M))
    return out.returncode, statuses, out.stdout + out.stderr


def main():
    template, rules_dir, work, binary = (pathlib.Path(a) for a in sys.argv[1:5])
    work.mkdir(parents=True, exist_ok=True)
    sam = json.loads(json.dumps(cfn_yaml.load(str(template))))
    expanded = expand(sam)
    good = {"sam": work / "template.json", "expanded": work / "expanded.json"}
    good["sam"].write_text(json.dumps(sam, indent=1))
    good["expanded"].write_text(json.dumps(expanded, indent=1))
    print(f"expanded {template} offline: {len(sam['Resources'])} SAM resources -> "
          f"{len(expanded['Resources'])} CloudFormation resources ({good['expanded']})")

    # Which templates each rules file must hold on.
    targets = {}
    for rules in sorted(rules_dir.glob("*.guard")):
        targets[rules] = ["sam", "expanded"]
    for rules in sorted((rules_dir / "expanded").glob("*.guard")):
        targets[rules] = ["expanded"]

    failures = 0
    checks = 0
    declared = {}
    for rules, kinds in targets.items():
        rel = str(rules.relative_to(rules_dir))
        names = re.findall(r"^rule\s+(\w+)", rules.read_text(), re.M)
        declared.update({n: rel for n in names})
        for kind in kinds:
            checks += 1
            code, statuses, text = guard(binary, rules, good[kind])
            bad = [n for n in names if statuses.get(n) == "FAIL"]
            if code != 0 or bad:
                print(f"FAIL {rel} on the {kind} template: {bad or text}")
                failures += 1
            else:
                skipped = [n for n in names if statuses.get(n) == "SKIP"]
                note = f" ({len(skipped)} not applicable)" if skipped else ""
                print(f"pass {rel} on the {kind} template: {len(names)} rules hold{note}")

    proven = set()
    for rules_name, rule, mutate, where in CASES:
        checks += 1
        if where == "expanded":
            broken = copy.deepcopy(expanded)
            mutate(broken)
        else:
            broken = copy.deepcopy(sam)
            mutate(broken)
            if where == "sam+expand":
                broken = expand(broken)
        path = work / f"broken-{rule}-{mutate.__name__}.json"
        path.write_text(json.dumps(broken, indent=1))
        code, statuses, text = guard(binary, rules_dir / rules_name, path)
        if code != 0 and statuses.get(rule) == "FAIL":
            print(f"pass negative proof ({where}): {mutate.__name__} fails {rule}")
            proven.add(rule)
        else:
            print(f"FAIL negative proof ({where}): {mutate.__name__} did not fail {rule} (exit {code}, {statuses.get(rule)})")
            failures += 1

    unproven = sorted(set(declared) - proven)
    checks += 1
    if unproven:
        print(f"FAIL rules without a negative proof: {unproven}")
        failures += 1
    print(f"cfn-guard: {checks - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
