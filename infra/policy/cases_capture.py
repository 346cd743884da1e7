"""Broken copies for the card-capture rules (issue 21 item 5: infra/policy/capture.guard,
infra/policy/expanded/capture.guard) and for the capture parts of the rules that now cover
two APIs and six functions. Imported by prove_rules.py."""

from cases_common import statement, props, set_role, key_statement

CAPTURE_URI = ("arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
               "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-%s:live/invocations")


def _drop(t, policy, sid):
    doc = props(t, policy)["PolicyDocument"]
    doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != sid]


def _capture_body(t):
    return props(t, "CaptureApi")["DefinitionBody"]


def _iam_body(t):
    return props(t, "Api")["DefinitionBody"]


def _acl_rules(t):
    return props(t, "CaptureWebAcl")["Rules"]


def _acl_rule(t, name):
    for r in _acl_rules(t):
        if r["Name"] == name:
            return r
    raise KeyError(name)


def _gateway_headers(t):
    return _capture_body(t)["x-amazon-apigateway-gateway-responses"]["DEFAULT_4XX"]["responseParameters"]


# --- capture.guard -------------------------------------------------------------------

def sessions_role_carries_capture_policy(t):
    props(t, "CaptureSessionsFunctionRole")["ManagedPolicyArns"].append({"Ref": "CapturePolicy"})


def capture_creates_sessions(t):
    cond = statement(t, "CapturePolicy", "WriteRecordsAndIndexItems")["Condition"]
    cond["ForAllValues:StringLike"]["dynamodb:LeadingKeys"].append("s#*")


def capture_decrypts_data_keys(t):
    statement(t, "CapturePolicy", "GenerateDataKeys")["Action"].append("kms:Decrypt")


def capture_reads_records(t):
    cond = statement(t, "CapturePolicy", "ReadDedupIndexItems")["Condition"]
    cond["ForAllValues:StringLike"]["dynamodb:LeadingKeys"].append("t#*")


def capture_without_record_read_deny(t):
    _drop(t, "CapturePolicy", "NeverReadRecords")


def capture_key_policy_unwraps(t):
    key_statement(t, "VaultKey", "CaptureGeneratesDataKeys")["Action"].append("kms:Decrypt")


def capture_scans(t):
    statement(t, "CapturePolicy", "ReadAndUpdateSessions")["Action"].append("dynamodb:Scan")


def capture_put_returns_old_item(t):
    del statement(t, "CapturePolicy", "WriteRecordsAndIndexItems")["Condition"]["StringEqualsIfExists"]


def sessions_reads_records(t):
    cond = statement(t, "CaptureSessionsPolicy", "ReadSessions")["Condition"]
    cond["ForAllValues:StringLike"]["dynamodb:LeadingKeys"].append("t#*")


def sessions_reads_fingerprint_key(t):
    props(t, "CaptureSessionsPolicy")["PolicyDocument"]["Statement"].append(
        {"Sid": "ReadKey", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": {"Ref": "FingerprintKeySecret"}})


def sessions_generates_data_keys(t):
    props(t, "CaptureSessionsPolicy")["PolicyDocument"]["Statement"].append(
        {"Sid": "Seal", "Effect": "Allow", "Action": ["kms:GenerateDataKey"],
         "Resource": {"Fn::GetAtt": ["VaultKey", "Arn"]}})


def waf_without_post_rate_rule(t):
    props(t, "CaptureWebAcl")["Rules"] = [r for r in _acl_rules(t) if r["Name"] != "capture-post-per-ip-rate-limit"]


def waf_rate_rule_counts_only(t):
    _acl_rule(t, "capture-per-ip-rate-limit")["Action"] = {"Count": {}}


def waf_common_rules_overridden(t):
    _acl_rule(t, "aws-common")["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"] = [
        {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]


def waf_allows_64k_capture_bodies(t):
    _acl_rule(t, "capture-body-over-4k")["Statement"]["SizeConstraintStatement"]["Size"] = 65536


def capture_acl_on_the_iam_api(t):
    props(t, "CaptureWebAclAssociation")["ResourceArn"] = {
        "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/${Api.Stage}"}


def capture_waf_logs_the_bearer(t):
    p = props(t, "CaptureWebAclLogging")
    p["RedactedFields"] = [f for f in p["RedactedFields"] if f.get("SingleHeader", {}).get("Name") != "authorization"]


def capture_api_sam_cors_wildcard(t):
    props(t, "CaptureApi")["Cors"] = "'*'"


def gateway_response_allows_any_origin(t):
    _gateway_headers(t)["gatewayresponse.header.Access-Control-Allow-Origin"] = "'*'"


def gateway_response_reflects_origin(t):
    _gateway_headers(t)["gatewayresponse.header.Access-Control-Allow-Origin"] = "method.request.header.origin"


def gateway_response_frame_ancestors_wildcard(t):
    _gateway_headers(t)["gatewayresponse.header.Content-Security-Policy"] = "'frame-ancestors *'"


def gateway_response_resource_cors_wildcard(t):
    t["Resources"]["OpenCors"] = {"Type": "AWS::ApiGateway::GatewayResponse", "Properties": {
        "RestApiId": {"Ref": "CaptureApi"}, "ResponseType": "DEFAULT_4XX",
        "ResponseParameters": {"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"}}}


def gateway_errors_frameable(t):
    del _gateway_headers(t)["gatewayresponse.header.X-Frame-Options"]


# --- expanded/capture.guard -------------------------------------------------------------

def capture_api_serves_tokenize(t):
    _capture_body(t)["paths"]["/v1/tokens"] = {"post": {"x-amazon-apigateway-integration": {
        "type": "aws_proxy", "httpMethod": "POST", "passthroughBehavior": "when_no_match",
        "uri": {"Fn::Sub": CAPTURE_URI % "tokenize"}}}}


def capture_frame_takes_posts(t):
    paths = _capture_body(t)["paths"]
    paths["/capture/v1/frame"]["post"] = paths["/capture/v1/frame"]["get"]


def capture_api_policy_allows_everything(t):
    for s in _capture_body(t)["x-amazon-apigateway-policy"]["Statement"]:
        s["Resource"] = ["execute-api:/*"]


def capture_route_reaches_tokenize(t):
    route = props(t, "CaptureApi")["Body"]["paths"]["/capture/v1/frame.js"]["get"]
    route["x-amazon-apigateway-integration"] = dict(route["x-amazon-apigateway-integration"],
                                                    uri={"Fn::Sub": CAPTURE_URI % "tokenize"})


def iam_api_serves_capture(t):
    _iam_body(t)["paths"]["/v1/capture"] = {"post": {"security": [{"sigv4": []}], "x-amazon-apigateway-integration": {
        "type": "aws_proxy", "httpMethod": "POST", "passthroughBehavior": "when_no_match",
        "uri": {"Fn::Sub": CAPTURE_URI % "capture"}}}}


def iam_route_reaches_capture_function(t):
    route = props(t, "Api")["Body"]["paths"]["/v1/capture-sessions/{id}"]["get"]
    route["x-amazon-apigateway-integration"] = dict(route["x-amazon-apigateway-integration"],
                                                    uri={"Fn::Sub": CAPTURE_URI % "capture"})


def capture_sessions_without_sigv4(t):
    del _iam_body(t)["paths"]["/v1/capture-sessions"]["post"]["security"]


def capture_access_log_raw_path(t):
    props(t, "CaptureApi")["AccessLogSetting"]["Format"] += ',"path":"$context.path"'


def capture_access_log_bearer(t):
    props(t, "CaptureApi")["AccessLogSetting"]["Format"] += ',"auth":"$context.authorizer.principalId"'


def capture_stage_data_trace(t):
    props(t, "CaptureApi")["MethodSettings"][0]["DataTraceEnabled"] = True


def capture_stage_unthrottled(t):
    m = props(t, "CaptureApi")["MethodSettings"][0]
    del m["ThrottlingRateLimit"]
    del m["ThrottlingBurstLimit"]


def no_sessions_burned_alarm(t):
    del t["Resources"]["SessionsBurnedAlarm"]


def no_capture_rate_block_alarm(t):
    del t["Resources"]["CaptureRateBlocksAlarm"]


def dashboard_without_capture_metrics(t):
    body = props(t, "Dashboard")["DashboardBody"]["Fn::Sub"]
    props(t, "Dashboard")["DashboardBody"]["Fn::Sub"] = body.replace('"SessionsBurned"', '"Requests"')


def trail_misses_capture(t):
    for sel in props(t, "Trail")["AdvancedEventSelectors"]:
        for f in sel["FieldSelectors"]:
            if f["Field"] == "resources.ARN" and "StartsWith" in f:
                f["StartsWith"] = [a for a in f["StartsWith"]
                                   if not (isinstance(a, dict) and str(a.get("Fn::Sub", "")).endswith("-capture"))]


def no_capture_api_change_filter(t):
    del t["Resources"]["CaptureApiChangeFilter"]


# --- the capture parts of rules that cover both APIs --------------------------------------

def capture_takes_the_iam_api_id(t):
    props(t, "CaptureFunction")["Environment"]["Variables"]["TESSERA_API_ID"] = {"Ref": "Api"}


def capture_sessions_takes_the_public_api_id(t):
    props(t, "CaptureSessionsFunction")["Environment"]["Variables"]["TESSERA_API_ID"] = {"Ref": "CaptureApi"}


def capture_invoked_by_the_iam_api(t):
    props(t, "CapturePermission")["SourceArn"] = {
        "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/${StageName}/POST/v1/capture"}


def capture_sessions_invoked_by_the_public_api(t):
    props(t, "CreateCaptureSessionPermission")["SourceArn"] = {
        "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${CaptureApi}/${StageName}/POST/v1/capture-sessions"}


def capture_permission_any_route(t):
    props(t, "CapturePermission")["SourceArn"] = {
        "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${CaptureApi}/*"}


def secret_readable_by_capture_sessions(t):
    s = props(t, "FingerprintKeySecretPolicy")["ResourcePolicy"]["Statement"][0]
    branches = s["Condition"]["StringNotEquals"]["aws:PrincipalArn"]["Fn::If"]
    for b in branches[1:]:
        b.append({"Fn::GetAtt": ["CaptureSessionsFunctionRole", "Arn"]})


def no_capture_execution_log_group(t):
    del t["Resources"]["CaptureApiExecutionLogGroup"]


def capture_waf_logs_query_string(t):
    p = props(t, "CaptureWebAclLogging")
    p["RedactedFields"] = [f for f in p["RedactedFields"] if "QueryString" not in f]


def capture_sessions_open_to_all(t):
    pol = _iam_body(t)["x-amazon-apigateway-policy"]
    pol["Statement"] = [s for s in pol["Statement"] if s.get("Sid") != "OnlyCaptureRolesUseSessions"]


def capture_logs_into_tokenize_group(t):
    statement(t, "CapturePolicy", "WriteOwnLogs")["Resource"] = {"Fn::GetAtt": ["TokenizeLogGroup", "Arn"]}


def capture_seals_with_another_key(t):
    _drop(t, "CapturePolicy", "DataKeysOnlyFromTheVaultKey")


def capture_dev_origins(t):
    props(t, "CaptureSessionsFunction")["Environment"]["Variables"]["TESSERA_CAPTURE_DEV_ORIGINS"] = "1"


# (rules file, rule that must fail, what the broken copy does, where it is broken)
CASES = [
    ("capture.guard", "capture_role_is_not_capture_sessions_role", set_role("CaptureFunction", "CaptureSessionsFunctionRole"), "sam"),
    ("capture.guard", "capture_role_is_not_capture_sessions_role", set_role("CaptureSessionsFunction", "CaptureFunctionRole"), "expanded"),
    ("capture.guard", "capture_role_is_not_capture_sessions_role", sessions_role_carries_capture_policy, "sam"),
    ("capture.guard", "capture_role_is_not_capture_sessions_role", capture_creates_sessions, "sam"),
    ("capture.guard", "capture_role_cannot_decrypt_or_read_records", capture_decrypts_data_keys, "sam"),
    ("capture.guard", "capture_role_cannot_decrypt_or_read_records", capture_reads_records, "sam"),
    ("capture.guard", "capture_role_cannot_decrypt_or_read_records", capture_without_record_read_deny, "sam"),
    ("capture.guard", "capture_role_cannot_decrypt_or_read_records", capture_key_policy_unwraps, "sam"),
    ("capture.guard", "capture_role_cannot_decrypt_or_read_records", capture_scans, "expanded"),
    ("capture.guard", "capture_role_cannot_decrypt_or_read_records", capture_put_returns_old_item, "sam"),
    ("capture.guard", "capture_sessions_role_touches_sessions_only", sessions_reads_records, "sam"),
    ("capture.guard", "capture_sessions_role_touches_sessions_only", sessions_reads_fingerprint_key, "sam"),
    ("capture.guard", "capture_sessions_role_touches_sessions_only", sessions_generates_data_keys, "expanded"),
    ("capture.guard", "capture_waf_limits_rate_and_size", waf_without_post_rate_rule, "sam"),
    ("capture.guard", "capture_waf_limits_rate_and_size", waf_rate_rule_counts_only, "sam"),
    ("capture.guard", "capture_waf_limits_rate_and_size", waf_common_rules_overridden, "sam"),
    ("capture.guard", "capture_waf_limits_rate_and_size", waf_allows_64k_capture_bodies, "sam"),
    ("capture.guard", "capture_waf_limits_rate_and_size", capture_acl_on_the_iam_api, "sam"),
    ("capture.guard", "capture_waf_limits_rate_and_size", capture_waf_logs_the_bearer, "expanded"),
    ("capture.guard", "cors_and_frame_ancestors_never_wildcard", capture_api_sam_cors_wildcard, "sam"),
    ("capture.guard", "cors_and_frame_ancestors_never_wildcard", gateway_response_allows_any_origin, "sam"),
    ("capture.guard", "cors_and_frame_ancestors_never_wildcard", gateway_response_allows_any_origin, "sam+expand"),
    ("capture.guard", "cors_and_frame_ancestors_never_wildcard", gateway_response_reflects_origin, "sam+expand"),
    ("capture.guard", "cors_and_frame_ancestors_never_wildcard", gateway_response_frame_ancestors_wildcard, "sam"),
    ("capture.guard", "cors_and_frame_ancestors_never_wildcard", gateway_response_resource_cors_wildcard, "sam"),
    ("capture.guard", "cors_and_frame_ancestors_never_wildcard", gateway_errors_frameable, "sam"),
    ("expanded/capture.guard", "capture_api_serves_only_capture_routes", capture_api_serves_tokenize, "sam+expand"),
    ("expanded/capture.guard", "capture_api_serves_only_capture_routes", capture_frame_takes_posts, "sam+expand"),
    ("expanded/capture.guard", "capture_api_serves_only_capture_routes", capture_api_policy_allows_everything, "sam+expand"),
    ("expanded/capture.guard", "capture_api_serves_only_capture_routes", capture_route_reaches_tokenize, "expanded"),
    ("expanded/capture.guard", "iam_api_serves_no_capture_routes", iam_api_serves_capture, "sam+expand"),
    ("expanded/capture.guard", "iam_api_serves_no_capture_routes", iam_route_reaches_capture_function, "expanded"),
    ("expanded/capture.guard", "iam_api_serves_no_capture_routes", capture_sessions_without_sigv4, "sam+expand"),
    ("expanded/capture.guard", "capture_access_log_omits_secrets", capture_access_log_raw_path, "sam+expand"),
    ("expanded/capture.guard", "capture_access_log_omits_secrets", capture_access_log_bearer, "sam+expand"),
    ("expanded/capture.guard", "capture_access_log_omits_secrets", capture_stage_data_trace, "sam+expand"),
    ("expanded/capture.guard", "capture_access_log_omits_secrets", capture_stage_unthrottled, "sam+expand"),
    ("expanded/capture.guard", "capture_is_watched", no_sessions_burned_alarm, "sam+expand"),
    ("expanded/capture.guard", "capture_is_watched", no_capture_rate_block_alarm, "sam+expand"),
    ("expanded/capture.guard", "capture_is_watched", dashboard_without_capture_metrics, "sam+expand"),
    ("expanded/capture.guard", "capture_is_watched", trail_misses_capture, "sam+expand"),
    ("expanded/capture.guard", "capture_is_watched", no_capture_api_change_filter, "sam+expand"),
    ("functions.guard", "functions_know_their_api", capture_takes_the_iam_api_id, "sam"),
    ("functions.guard", "functions_know_their_api", capture_sessions_takes_the_public_api_id, "sam"),
    ("forgery.guard", "function_permissions_only_for_this_api", capture_invoked_by_the_iam_api, "sam"),
    ("forgery.guard", "function_permissions_only_for_this_api", capture_sessions_invoked_by_the_public_api, "sam"),
    ("expanded/api.guard", "permissions_scoped_to_api_route", capture_permission_any_route, "expanded"),
    ("operator.guard", "fingerprint_secret_readers_named", secret_readable_by_capture_sessions, "sam"),
    ("operator.guard", "data_keys_only_from_the_vault_key", capture_seals_with_another_key, "sam"),
    ("expanded/observability.guard", "execution_log_group_declared", no_capture_execution_log_group, "sam+expand"),
    ("expanded/api.guard", "waf_logs_redact_url", capture_waf_logs_query_string, "sam+expand"),
    ("expanded/api.guard", "resource_policy_per_route", capture_sessions_open_to_all, "sam+expand"),
    ("iam.guard", "functions_write_only_own_logs", capture_logs_into_tokenize_group, "sam"),
    ("functions.guard", "no_forward_dev_ca_in_functions", capture_dev_origins, "sam+expand"),
]
