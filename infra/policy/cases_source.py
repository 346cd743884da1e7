"""Broken copies for the rules on the SAM template (functions, IAM, data, keys, network):
each breaks one thing a rule in infra/policy/*.guard must catch. Imported by prove_rules.py."""

from cases_common import statement, props, set_role, set_log_group, resource, key_statement, forward_statement


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


def tokenize_decrypts(t):
    statement(t, "TokenizePolicy", "GenerateDataKeys")["Action"].append("kms:Decrypt")


def tokenize_reads_ciphertext(t):
    cond = statement(t, "TokenizePolicy", "DescribeRecordsWithoutSecrets")["Condition"]
    cond["ForAllValues:StringEquals"]["dynamodb:Attributes"].append("ct")


def detokenize_writes(t):
    statement(t, "DetokenizePolicy", "ReadRecords")["Action"].append("dynamodb:PutItem")


def admin_writes(t):
    statement(t, "AdminPolicy", "DeleteIndexItems")["Action"].append("dynamodb:PutItem")


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
    statement(t, "OperatorImportPolicy", "ImportGeneratesDataKeys")["Action"].append("kms:Decrypt")


def operator_key_policy_decrypt(t):
    for s in props(t, "VaultKey")["KeyPolicy"]["Statement"]:
        if "Fn::If" in s and s["Fn::If"][1].get("Sid") == "ImportSealsDataKeys":
            s["Fn::If"][1]["Action"].append("kms:Decrypt")
            return
    raise KeyError("ImportSealsDataKeys")


def operator_queries(t):
    statement(t, "OperatorVerifyPolicy", "VerifyScansWhatItCompares")["Action"].append("dynamodb:Query")


def rewrap_without_table_context(t):
    del statement(t, "OperatorRewrapPolicy", "RewrapReEncryptsFromTheVaultKey")["Condition"]["StringEquals"]["kms:EncryptionContext:table"]


def operator_role_always_created(t):
    del resource(t, "OperatorVerifyRole")["Condition"]


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
    ("iam.guard", "operator_never_unwraps_data_keys", operator_queries, "sam"),
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
]
