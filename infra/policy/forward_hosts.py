#!/usr/bin/env python3
"""Keeps forward's two egress settings consistent before a deploy.

CloudFormation cannot read the host names out of the ForwardDestinations JSON,
so the Network Firewall's SNI allow-list is a second parameter,
ForwardDestinationHosts. This check (run by scripts/check-infra, and by the
deploy pipeline before every `sam deploy`) fails unless:

- ForwardDestinations is a JSON list of objects with a name and a host;
- the set of their hosts equals the set of ForwardDestinationHosts (a host only
  in the JSON would be blocked by the firewall; one only in the host list would
  open the firewall to a name forward never uses);
- every destination's port is 443 (ForwardSecurityGroup allows TCP 443 only);
- every destination declares its body_format (json or form) and paths, each
  path with its card_fields (there are no default card fields; forward refuses
  to start otherwise, and this says so before the deploy);
- every grant in ForwardGrants names listed destinations, and a role that is in
  ForwardRoleArns (the API resource policy denies every other role).

Parameters come from a CloudFormation parameters file (a JSON list of
{"ParameterKey", "ParameterValue"} or a JSON object), or from the
parameter_overrides of a samconfig.toml environment.

Usage: forward_hosts.py PARAMETERS.json
       forward_hosts.py --samconfig infra/samconfig.toml [--env default]
       forward_hosts.py --prove     (the example parameters pass, broken copies fail)
"""
import json
import pathlib
import shlex
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

KEYS = ("ForwardDestinations", "ForwardDestinationHosts", "ForwardGrants", "ForwardRoleArns")


def problems(params):
    """Every inconsistency between the forward parameters, as sentences."""
    found = []
    missing = [k for k in KEYS if k not in params]
    if missing:
        return [f"missing parameter(s): {', '.join(missing)}"]
    try:
        destinations = json.loads(params["ForwardDestinations"])
    except json.JSONDecodeError as e:
        return [f"ForwardDestinations is not JSON: {e}"]
    if not isinstance(destinations, list) or not all(isinstance(d, dict) for d in destinations):
        return ["ForwardDestinations is not a JSON list of objects"]
    names = set()
    json_hosts = set()
    for d in destinations:
        name, host = d.get("name"), d.get("host")
        if not isinstance(name, str) or not isinstance(host, str):
            found.append(f"destination {d!r} needs a name and a host")
            continue
        names.add(name)
        json_hosts.add(host)
        if d.get("port", 443) != 443:
            found.append(f"destination {name}: port {d.get('port')} (ForwardSecurityGroup allows 443 only)")
        if d.get("body_format") not in ("json", "form"):
            found.append(f"destination {name}: body_format must be json or form (forward parses bodies in it)")
        paths = d.get("paths")
        if not isinstance(paths, list) or not paths or not all(
                isinstance(p, dict) and isinstance(p.get("prefix"), str) and isinstance(p.get("card_fields"), list)
                for p in paths):
            found.append(f"destination {name}: paths must list {{prefix, card_fields}} objects (no default card fields)")
    listed = {h.strip() for h in params["ForwardDestinationHosts"].split(",") if h.strip()}
    for h in sorted(json_hosts - listed):
        found.append(f"host {h} is in ForwardDestinations but not in ForwardDestinationHosts (the firewall would block it)")
    for h in sorted(listed - json_hosts):
        found.append(f"host {h} is in ForwardDestinationHosts but no destination uses it (the firewall would allow it for nothing)")
    roles = {r.strip() for r in params["ForwardRoleArns"].split(",") if r.strip()}
    for entry in (e.strip() for e in params["ForwardGrants"].split(";")):
        if not entry:
            continue
        arn, _, dests = entry.partition("=")
        if arn.strip() not in roles:
            found.append(f"grant for {arn.strip()}: not in ForwardRoleArns (the API resource policy denies it)")
        for n in (x.strip() for x in dests.split(",")):
            if n and n not in names:
                found.append(f"grant for {arn.strip()} names {n}, which is not a destination")
    return found


def from_file(path):
    data = json.loads(pathlib.Path(path).read_text())
    if isinstance(data, list):
        return {p["ParameterKey"]: p["ParameterValue"] for p in data}
    return {k: ",".join(v) if isinstance(v, list) else str(v) for k, v in data.items()}


def from_samconfig(path, env):
    import tomllib

    config = tomllib.loads(pathlib.Path(path).read_text())
    overrides = None
    for command in ("deploy", "global"):
        overrides = config.get(env, {}).get(command, {}).get("parameters", {}).get("parameter_overrides")
        if overrides:
            break
    if not overrides:
        return None
    items = overrides if isinstance(overrides, list) else shlex.split(overrides)
    return dict(item.split("=", 1) for item in items)


def prove():
    from expand import EXAMPLE_PARAMETERS

    good = dict(EXAMPLE_PARAMETERS)
    failures = 0
    if problems(good):
        print(f"FAIL the example parameters: {problems(good)}")
        failures += 1
    else:
        print("pass the example parameters: ForwardDestinations and ForwardDestinationHosts agree")
    broken = {
        "host_missing_from_firewall": {"ForwardDestinationHosts": "api.other.example"},
        "extra_firewall_host": {"ForwardDestinationHosts": "api.processor.example,evil.example"},
        "port_not_443": {"ForwardDestinations": good["ForwardDestinations"].replace('"port":443', '"port":8443')},
        "no_body_format": {"ForwardDestinations": good["ForwardDestinations"].replace('"body_format":"json",', '')},
        "no_card_fields": {"ForwardDestinations": good["ForwardDestinations"].replace(',"card_fields":["/card/number"]', '')},
        "grant_to_unlisted_role": {"ForwardGrants": good["ForwardGrants"].replace("payments-forwarder", "someone-else")},
    }
    for name, change in broken.items():
        found = problems({**good, **change})
        if found:
            print(f"pass negative proof: {name}: {found[0]}")
        else:
            print(f"FAIL negative proof: {name} was not caught")
            failures += 1
    return failures


def main(argv):
    if argv[:1] == ["--prove"]:
        return 1 if prove() else 0
    if argv[:1] == ["--samconfig"]:
        env = argv[argv.index("--env") + 1] if "--env" in argv else "default"
        params = from_samconfig(argv[1], env)
        if params is None:
            print(f"{argv[1]} [{env}] sets no parameter_overrides: nothing to check (sam deploy --guided asks)")
            return 0
    elif len(argv) == 1:
        params = from_file(argv[0])
    else:
        print(__doc__)
        return 2
    found = problems(params)
    for p in found:
        print(f"FAIL {p}")
    if not found:
        print("pass ForwardDestinations, ForwardDestinationHosts, ForwardGrants and ForwardRoleArns agree")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
