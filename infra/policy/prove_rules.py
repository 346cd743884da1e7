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
The broken copies live in cases_*.py, one module per group of rules.

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
import cases_audit_trail  # noqa: E402
import cases_capture  # noqa: E402
import cases_expanded  # noqa: E402
import cases_forgery  # noqa: E402
import cases_operator  # noqa: E402
import cases_oracle  # noqa: E402
import cases_reconcile  # noqa: E402
import cases_source  # noqa: E402

# (rules file, rule that must fail, what the broken copy does, where it is broken)
CASES = (cases_source.CASES + cases_expanded.CASES
         + cases_forgery.CASES + cases_audit_trail.CASES + cases_oracle.CASES
         + cases_operator.CASES + cases_capture.CASES + cases_reconcile.CASES)


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
