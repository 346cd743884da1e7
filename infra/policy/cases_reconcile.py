"""Broken copies for infra/policy/reconcile.guard (issue 24: the scheduled reconciler
reads the trail and the functions' log groups, nothing of the vault; it runs every 15
minutes and alarms). Imported by prove_rules.py."""

from cases_common import statement, props


def _policy(t):
    return props(t, "ReconcilePolicy")["PolicyDocument"]["Statement"]


def reconcile_reads_records(t):
    _policy(t).append({"Sid": "ReadRecords", "Effect": "Allow", "Action": ["dynamodb:GetItem"],
                       "Resource": {"Fn::GetAtt": ["VaultTable", "Arn"]}})


def reconcile_decrypts_with_the_vault_key(t):
    statement(t, "ReconcilePolicy", "DecryptTrailFilesThroughS3")["Resource"] = {"Fn::GetAtt": ["VaultKey", "Arn"]}


def reconcile_decrypts_outside_s3(t):
    del statement(t, "ReconcilePolicy", "DecryptTrailFilesThroughS3")["Condition"]["StringEquals"]["kms:ViaService"]


def reconcile_reads_any_bucket(t):
    statement(t, "ReconcilePolicy", "ReadTrailFiles")["Resource"] = "*"


def reconcile_reads_the_secret(t):
    _policy(t).append({"Sid": "ReadKey", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                       "Resource": {"Ref": "FingerprintKeySecret"}})


def reconcile_reads_every_log_group(t):
    statement(t, "ReconcilePolicy", "ReadFunctionAuditEvents")["Resource"].append(
        {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"})


def reconcile_without_its_deny(t):
    doc = props(t, "ReconcilePolicy")["PolicyDocument"]
    doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != "NothingOfTheVault"]


def reconcile_runs_as_detokenize(t):
    props(t, "ReconcileFunction")["Role"] = {"Fn::GetAtt": ["DetokenizeFunctionRole", "Arn"]}


def reconcile_role_gets_detokenize_policy(t):
    props(t, "ReconcileFunctionRole")["ManagedPolicyArns"].append({"Ref": "DetokenizePolicy"})


def reconcile_schedule_disabled(t):
    props(t, "ReconcileSchedule")["State"] = "DISABLED"


def reconcile_runs_daily(t):
    props(t, "ReconcileSchedule")["ScheduleExpression"] = "rate(1 day)"


def alarm_tolerates_a_read(t):
    props(t, "UnexplainedReadAlarm")["Threshold"] = 5


def alarm_ignores_a_silent_reconciler(t):
    props(t, "UnexplainedReadAlarm")["TreatMissingData"] = "notBreaching"


def alarm_watches_another_metric(t):
    for m in props(t, "UnexplainedReadAlarm")["Metrics"]:
        if m.get("Id") == "unexplained":
            m["MetricStat"]["Metric"]["MetricName"] = "Requests"


def reconcile_invoked_by_any_rule(t):
    props(t, "ReconcileInvokePermission")["SourceArn"] = {
        "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/*"}


def reconcile_invoked_by_the_account(t):
    props(t, "ReconcileInvokePermission")["Principal"] = {"Ref": "AWS::AccountId"}


def s3_endpoint_open_to_every_function(t):
    del props(t, "TrailS3Endpoint")["PolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]


def s3_endpoint_writes(t):
    props(t, "TrailS3Endpoint")["PolicyDocument"]["Statement"][0]["Action"].append("s3:PutObject")


# (rules file, rule that must fail, what the broken copy does, where it is broken)
CASES = [
    ("reconcile.guard", "reconcile_role_reads_no_vault", reconcile_reads_records, "sam"),
    ("reconcile.guard", "reconcile_role_reads_no_vault", reconcile_decrypts_with_the_vault_key, "sam"),
    ("reconcile.guard", "reconcile_role_reads_no_vault", reconcile_decrypts_outside_s3, "sam"),
    ("reconcile.guard", "reconcile_role_reads_no_vault", reconcile_reads_any_bucket, "sam"),
    ("reconcile.guard", "reconcile_role_reads_no_vault", reconcile_reads_the_secret, "sam"),
    ("reconcile.guard", "reconcile_role_reads_no_vault", reconcile_reads_every_log_group, "sam"),
    ("reconcile.guard", "reconcile_role_reads_no_vault", reconcile_without_its_deny, "sam"),
    ("reconcile.guard", "reconcile_role_reads_no_vault", reconcile_runs_as_detokenize, "sam"),
    ("reconcile.guard", "reconcile_role_reads_no_vault", reconcile_role_gets_detokenize_policy, "expanded"),
    ("reconcile.guard", "reconcile_runs_and_alarms", reconcile_schedule_disabled, "sam"),
    ("reconcile.guard", "reconcile_runs_and_alarms", reconcile_runs_daily, "sam"),
    ("reconcile.guard", "reconcile_runs_and_alarms", alarm_tolerates_a_read, "sam"),
    ("reconcile.guard", "reconcile_runs_and_alarms", alarm_ignores_a_silent_reconciler, "expanded"),
    ("reconcile.guard", "reconcile_runs_and_alarms", alarm_watches_another_metric, "sam"),
    ("reconcile.guard", "reconcile_s3_endpoint_is_its_own", s3_endpoint_open_to_every_function, "sam"),
    ("reconcile.guard", "reconcile_s3_endpoint_is_its_own", s3_endpoint_writes, "expanded"),
    ("forgery.guard", "function_permissions_only_for_this_api", reconcile_invoked_by_any_rule, "sam"),
    ("forgery.guard", "function_permissions_only_for_this_api", reconcile_invoked_by_the_account, "expanded"),
]
