"""Broken copies for the rules on what SAM generates (infra/policy/expanded/*.guard: the
API, its stage and WAF, logs, alarms, roll-out). Imported by prove_rules.py."""

from cases_common import props, resource


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


def caller_credentials(t):
    integration = props(t, "Api")["Body"]["paths"]["/v1/tokens"]["post"]["x-amazon-apigateway-integration"]
    integration["credentials"] = "arn:aws:iam::*:user/*"


def permission_for_any_route(t):
    props(t, "DeletePermission")["SourceArn"] = {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*"}


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


# (rules file, rule that must fail, what the broken copy does, where it is broken)
CASES = [
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
    ("expanded/api.guard", "forward_denied_to_non_forwarders", forward_open_to_all, "sam+expand"),
    ("expanded/api.guard", "forward_denied_to_non_forwarders", forward_deny_post_only, "sam+expand"),
    ("expanded/api.guard", "forward_denied_to_non_forwarders", forward_allowed_to_tokenizers, "sam+expand"),
    ("expanded/api.guard", "forward_has_its_own_throttle", forward_shares_stage_throttle, "sam+expand"),
    ("expanded/observability.guard", "forward_is_watched", no_forward_throttle_alarm, "sam+expand"),
    ("expanded/observability.guard", "forward_is_watched", dashboard_without_forward, "sam+expand"),
]
