#!/usr/bin/env python3
"""Expands the SAM template to the plain CloudFormation that AWS deploys, offline.

Runs aws-sam-translator's transform (what `sam validate` and CloudFormation's
AWS::Serverless-2016-10-31 macro run) with no AWS call: CodeUri becomes a
placeholder S3 location (as `sam validate` does), no managed-policy names are
looked up (the template names none), and the Region is fixed. Parameters keep
their defaults; required ones get example values from EXAMPLE_PARAMETERS.

Usage: expand.py SAM_TEMPLATE OUT_JSON
   or: import expand; expand.expand(template_dict) -> dict
"""
import copy
import json
import os
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import boto3  # noqa: E402  (only for the Region/partition the translator asks for; no call is made)
from samtranslator.parser.parser import Parser  # noqa: E402
from samtranslator.translator.translator import Translator  # noqa: E402
from samtranslator.public.exceptions import InvalidDocumentException  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "111122223333"
EXAMPLE_PARAMETERS = {
    "TokenizerRoleArns": f"arn:aws:iam::{ACCOUNT}:role/payments-tokenizer",
    "DescribeRoleArns": f"arn:aws:iam::{ACCOUNT}:role/payments-describer",
    "DetokenizerRoleArns": f"arn:aws:iam::{ACCOUNT}:role/settlement-detokenizer",
    "AdminRoleArns": f"arn:aws:iam::{ACCOUNT}:role/tessera-admin",
    "ForwardRoleArns": f"arn:aws:iam::{ACCOUNT}:role/payments-forwarder",
    "CaptureRoleArns": f"arn:aws:iam::{ACCOUNT}:role/checkout-backend",
    "ForwardDestinations": '[{"name":"acme","host":"api.processor.example","port":443,"methods":["POST"],'
                           '"body_format":"json","paths":[{"prefix":"/v1/charges","card_fields":["/card/number"]}]}]',
    "ForwardGrants": f"arn:aws:iam::{ACCOUNT}:role/payments-forwarder=acme",
    "ForwardDestinationHosts": "api.processor.example",
    "KeyAdminArns": f"arn:aws:iam::{ACCOUNT}:role/key-admin",
    "DeployerArn": f"arn:aws:iam::{ACCOUNT}:role/tessera-deployer",
    "KeyBreakGlassArn": f"arn:aws:iam::{ACCOUNT}:role/break-glass",
}


def _placeholder_code(template):
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = "s3://placeholder-bucket/code.zip"
    glob = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in glob:
        glob["CodeUri"] = "s3://placeholder-bucket/code.zip"


def expand(sam_template):
    template = copy.deepcopy(sam_template)
    _placeholder_code(template)
    session = boto3.Session(region_name=REGION)
    translator = Translator(managed_policy_map={}, sam_parser=Parser(), plugins=[], boto_session=session)
    params = {k: v for k, v in EXAMPLE_PARAMETERS.items() if k in template.get("Parameters", {})}
    try:
        return translator.translate(sam_template=template, parameter_values=params,
                                    get_managed_policy_map=lambda: {})
    except InvalidDocumentException as e:
        raise SystemExit("SAM transform failed: " + " ".join(str(c) for c in e.causes))


def main():
    from cfnlint.decode import cfn_yaml

    source, out = sys.argv[1:3]
    sam = json.loads(json.dumps(cfn_yaml.load(source)))
    expanded = expand(sam)
    with open(out, "w") as f:
        json.dump(expanded, f, indent=1)
    kinds = {}
    for r in expanded["Resources"].values():
        kinds[r["Type"]] = kinds.get(r["Type"], 0) + 1
    print(f"expanded {source}: {len(expanded['Resources'])} resources -> {out}")


if __name__ == "__main__":
    main()
