"""Broken copies for the audit-trail rules (issue 20 item 9): no inline policies, data
events on the audit buckets without a logging loop, replication under Object Lock, the
access-log chain. Imported by prove_rules.py."""

from cases_common import props


def selector(t, name):
    for s in props(t, "Trail")["AdvancedEventSelectors"]:
        if s["Name"] == name:
            return s
    raise KeyError(name)


def field(sel, name):
    for f in sel["FieldSelectors"]:
        if f["Field"] == name:
            return f
    raise KeyError(name)


def deployment_role_inline(t):
    props(t, "DeploymentRole")["Policies"] = [{"PolicyName": "extra", "PolicyDocument": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["cloudwatch:DescribeAlarms"], "Resource": "*"}]}}]


def function_with_generated_role(t):
    # SAM names the role it generates AdminFunctionRole: the template's goes.
    del t["Resources"]["AdminFunctionRole"]
    p = props(t, "AdminFunction")
    del p["Role"]
    p["Policies"] = [{"Statement": [{"Effect": "Allow", "Action": ["dynamodb:DeleteItem"],
                                     "Resource": {"Fn::GetAtt": ["VaultTable", "Arn"]}}]}]


def inline_policy_resource(t):
    t["Resources"]["ExtraPolicy"] = {"Type": "AWS::IAM::Policy", "Properties": {
        "PolicyName": "extra", "Roles": [{"Ref": "DeploymentRole"}], "PolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "*"}]}}}


def service_policy_data_access(t):
    props(t, "ApiGatewayLoggingPolicy")["PolicyDocument"]["Statement"][0]["Action"].append("dynamodb:GetItem")


def logging_policy_deleted_with_stack(t):
    del t["Resources"]["ApiGatewayLoggingPolicy"]["DeletionPolicy"]


def no_audit_log_reads(t):
    sels = props(t, "Trail")["AdvancedEventSelectors"]
    props(t, "Trail")["AdvancedEventSelectors"] = [s for s in sels if s["Name"] != "Audit log reads"]


def reads_miss_the_replica(t):
    f = field(selector(t, "Audit log reads"), "resources.ARN")
    f["StartsWith"] = [a for a in f["StartsWith"] if a != {"Fn::Sub": "${TrailReplicaBucket.Arn}/"}]


def open_s3_selector_loops(t):
    sel = selector(t, "Audit log reads")
    sel["FieldSelectors"] = [f for f in sel["FieldSelectors"] if f["Field"] != "eventName"]


def changes_record_put_object(t):
    field(selector(t, "Audit log changes"), "eventName")["Equals"].append("PutObject")


def reads_record_replication(t):
    field(selector(t, "Audit log reads"), "eventName")["Equals"].append("GetObjectVersionForReplication")


def access_logs_not_replicated(t):
    del props(t, "TrailAccessLogBucket")["ReplicationConfiguration"]


def replica_governance_lock(t):
    props(t, "TrailReplicaBucket")["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Mode"] = "GOVERNANCE"


def replica_without_kms(t):
    for r in props(t, "TrailBucket")["ReplicationConfiguration"]["Rules"]:
        del r["Destination"]["EncryptionConfiguration"]


def access_log_bucket_unlogged(t):
    del props(t, "TrailAccessLogBucket")["LoggingConfiguration"]


def archive_without_reason(t):
    skips = t["Resources"]["AccessLogArchiveBucket"]["Metadata"]["checkov"]["skip"]
    t["Resources"]["AccessLogArchiveBucket"]["Metadata"]["checkov"]["skip"] = [s for s in skips if s["id"] != "CKV_AWS_18"]


CASES = [
    ("iam.guard", "no_inline_policies", deployment_role_inline, "sam"),
    ("iam.guard", "no_inline_policies", function_with_generated_role, "sam+expand"),
    ("iam.guard", "no_inline_policies", inline_policy_resource, "expanded"),
    ("iam.guard", "service_role_policies_have_no_data_plane_access", service_policy_data_access, "sam"),
    ("data.guard", "stateful_resources_retained", logging_policy_deleted_with_stack, "sam"),
    ("data.guard", "trail_records_audit_log_access", no_audit_log_reads, "sam"),
    ("data.guard", "trail_records_audit_log_access", reads_miss_the_replica, "sam"),
    ("data.guard", "trail_records_audit_log_access", open_s3_selector_loops, "sam"),
    ("data.guard", "trail_records_audit_log_access", changes_record_put_object, "sam"),
    ("data.guard", "trail_records_audit_log_access", reads_record_replication, "expanded"),
    ("data.guard", "audit_logs_replicated", access_logs_not_replicated, "sam"),
    ("data.guard", "audit_logs_replicated", replica_governance_lock, "sam"),
    ("data.guard", "audit_logs_replicated", replica_without_kms, "sam"),
    ("data.guard", "access_log_chain_ends_in_archive", access_log_bucket_unlogged, "sam"),
    ("data.guard", "access_log_chain_ends_in_archive", archive_without_reason, "sam"),
]
