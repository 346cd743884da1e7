"""Broken copies for the principal-forgery rules (issue 20 item 4): function permissions,
other ways to invoke, the API-change alarm. Imported by prove_rules.py."""

from cases_common import props


def permission_for_the_account(t):
    props(t, "DetokenizePermission")["Principal"] = {"Ref": "AWS::AccountId"}


def permission_for_another_api(t):
    props(t, "ForwardPermission")["SourceArn"] = {
        "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${OtherApi}/${StageName}/POST/v1/forward"}


def permission_for_function_url(t):
    props(t, "TokenizePermission")["Action"] = "lambda:InvokeFunctionUrl"


def function_url(t):
    props(t, "AdminFunction")["FunctionUrlConfig"] = {"AuthType": "AWS_IAM"}


def schedule_event(t):
    props(t, "TokenizeFunction")["Events"] = {
        "Tick": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)"}}}


def no_api_change_filter(t):
    del t["Resources"]["ApiChangeFilter"]


def api_change_filter_without_deletes(t):
    f = props(t, "ApiChangeFilter")
    f["FilterPattern"]["Fn::Sub"] = f["FilterPattern"]["Fn::Sub"].replace(' || ($.eventName = "Delete*")', "")


def api_change_filter_any_api(t):
    f = props(t, "ApiChangeFilter")
    f["FilterPattern"]["Fn::Sub"] = f["FilterPattern"]["Fn::Sub"].replace(
        '($.requestParameters.restApiId = "${Api}")', '($.requestParameters.restApiId = "*")')


def no_api_change_alarm(t):
    del t["Resources"]["ApiChangeAlarm"]


CASES = [
    ("forgery.guard", "function_permissions_only_for_this_api", permission_for_the_account, "sam"),
    ("forgery.guard", "function_permissions_only_for_this_api", permission_for_another_api, "sam"),
    ("forgery.guard", "function_permissions_only_for_this_api", permission_for_function_url, "expanded"),
    ("forgery.guard", "no_other_way_to_invoke", function_url, "sam"),
    ("forgery.guard", "no_other_way_to_invoke", function_url, "sam+expand"),
    ("forgery.guard", "no_other_way_to_invoke", schedule_event, "sam"),
    ("expanded/observability.guard", "api_changes_alarm", no_api_change_filter, "sam+expand"),
    ("expanded/observability.guard", "api_changes_alarm", api_change_filter_without_deletes, "sam+expand"),
    ("expanded/observability.guard", "api_changes_alarm", api_change_filter_any_api, "sam+expand"),
    ("expanded/observability.guard", "api_changes_alarm", no_api_change_alarm, "sam+expand"),
]
