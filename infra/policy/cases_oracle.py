"""Broken copies for the dedup-oracle and token-guessing rules (issue 20 item 3).
Imported by prove_rules.py."""

from cases_common import props


def rule_body(t, name, old, new):
    body = props(t, name)["RuleBody"]["Fn::Sub"]
    assert old in body[0], (name, old)
    body[0] = body[0].replace(old, new)


def tokenize_without_dedup_roles(t):
    del props(t, "TokenizeFunction")["Environment"]["Variables"]["TESSERA_DEDUP_ROLES"]


def dedup_roles_by_default(t):
    t["Parameters"]["DedupRoleArns"]["Default"] = "arn:aws:iam::111122223333:role/payments-tokenizer"


def dedup_hits_counted_not_summed(t):
    rule_body(t, "DedupHitsByPrincipalRule", '"AggregateOn":"Sum"', '"AggregateOn":"Count"')


def new_tokens_without_batches(t):
    rule_body(t, "NewTokensByPrincipalRule", '["tokenize","tokenize_batch"]', '["tokenize"]')


def no_dedup_hits_alarm(t):
    del t["Resources"]["DedupHitsAlarm"]


def dashboard_without_dedup_hits(t):
    body = props(t, "Dashboard")["DashboardBody"]["Fn::Sub"]
    props(t, "Dashboard")["DashboardBody"]["Fn::Sub"] = body.replace('"DedupHits"', '"Requests"')


def no_forward_misses_alarm(t):
    del t["Resources"]["ForwardMissesAlarm"]


def describe_misses_in_forward_group(t):
    props(t, "DescribeMissesByPrincipalRule")["RuleBody"]["Fn::Sub"][1]["Group"] = {"Ref": "ForwardLogGroup"}


CASES = [
    ("functions.guard", "tokenize_dedup_answers_are_granted", tokenize_without_dedup_roles, "sam"),
    ("functions.guard", "tokenize_dedup_answers_are_granted", dedup_roles_by_default, "sam"),
    ("expanded/observability.guard", "dedup_oracle_is_watched", dedup_hits_counted_not_summed, "sam+expand"),
    ("expanded/observability.guard", "dedup_oracle_is_watched", new_tokens_without_batches, "sam+expand"),
    ("expanded/observability.guard", "dedup_oracle_is_watched", no_dedup_hits_alarm, "sam+expand"),
    ("expanded/observability.guard", "dedup_oracle_is_watched", dashboard_without_dedup_hits, "sam+expand"),
    ("expanded/observability.guard", "token_guessing_is_watched", no_forward_misses_alarm, "sam+expand"),
    ("expanded/observability.guard", "token_guessing_is_watched", describe_misses_in_forward_group, "sam+expand"),
]
