"""Helpers the broken copies of prove_rules.py share: find a resource, its properties,
a policy statement by Sid."""


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


def resource(t, name):
    return t["Resources"][name]


def key_statement(t, key, sid):
    for s in props(t, key)["KeyPolicy"]["Statement"]:
        if s.get("Sid") == sid:
            return s
    raise KeyError(f"{key}/{sid}")


def forward_statement(t, sid):
    return statement(t, "ForwardPolicy", sid)
