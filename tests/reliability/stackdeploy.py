"""Deploy configguard's own template into the stand-in through moto's CloudFormation.

The SAM template is transformed offline (the StackSet path: samtranslator, code from
`<prefix>-<Region>` by content hash), its zips are uploaded to the member account's
bucket, and the stack is created with CreateStack. moto's CloudFormation has no model
for some resource types; those resources are left out, and every Ref, GetAtt, Sub,
DependsOn and Output that names one is cut. `Deployment.left_out` says which, so the
documentation can say what the stand-in cannot create.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sambuild import fake_sam_build

from configguard.clients import ClientFactory
from configguard_cli import stackset

PREFIX = "configguard-dogfood"
STACK = "configguard"


@dataclass
class Deployment:
    template: dict[str, Any]
    left_out: Counter[str] = field(default_factory=Counter)
    created: Counter[str] = field(default_factory=Counter)
    status: str = ""
    physical: dict[str, str] = field(default_factory=dict)  # logical id -> physical id


def _cut(node: Any, gone: set[str]) -> Any:
    """`node` with every reference to a left-out resource replaced by a marker string."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in gone:
            return f"left-out-{node['Ref']}"
        if set(node) == {"Fn::GetAtt"} and node["Fn::GetAtt"][0] in gone:
            return f"arn:aws:left-out:::{node['Fn::GetAtt'][0]}"
        return {key: _cut(value, gone) for key, value in node.items()}
    if isinstance(node, list):
        return [_cut(value, gone) for value in node]
    if isinstance(node, str) and "${" in node:
        return re.sub(
            r"\$\{([A-Za-z0-9]+)(\.[A-Za-z0-9]+)?\}",
            lambda m: f"left-out-{m[1]}" if m[1] in gone else m[0],
            node,
        )
    return node


def supported_only(template: dict[str, Any]) -> tuple[dict[str, Any], Counter[str]]:
    """The template without the resources moto's CloudFormation cannot create."""
    from moto.cloudformation.parsing import resource_class_from_type

    resources = template["Resources"]
    gone = {lid for lid, r in resources.items() if resource_class_from_type(r["Type"]) is None}
    left_out = Counter(resources[lid]["Type"] for lid in gone)
    kept = {lid: r for lid, r in resources.items() if lid not in gone}
    for resource in kept.values():
        depends = resource.get("DependsOn")
        if depends is not None:
            still = [
                d for d in ([depends] if isinstance(depends, str) else depends) if d not in gone
            ]
            if still:
                resource["DependsOn"] = still
            else:
                resource.pop("DependsOn")
    out = _cut({**template, "Resources": kept}, gone)
    out["Outputs"] = {
        name: value
        for name, value in (out.get("Outputs") or {}).items()
        if "left-out-" not in json.dumps(value)
    }
    return out, left_out


def deploy(
    factory: ClientFactory, workdir: Path, parameters: dict[str, str] | None = None
) -> Deployment:
    """Transform, upload and create the stack in `factory`'s account; wait for the result."""
    build = fake_sam_build(workdir / "build")
    sam = stackset.load_template()
    artifacts = stackset.package(sam, build, workdir / "artifacts")
    # Bucket names are global: one artifact bucket per member account.
    account = factory.client("sts").get_caller_identity()["Account"]
    prefix = f"{PREFIX}-{account}"
    plain, left_out = supported_only(stackset.transform(sam, artifacts, prefix))
    s3 = factory.client("s3")
    bucket = f"{prefix}-{factory.region}"
    s3.create_bucket(Bucket=bucket)
    for artifact in artifacts:
        s3.put_object(Bucket=bucket, Key=artifact.key, Body=artifact.path.read_bytes())
    cloudformation = factory.client("cloudformation")
    cloudformation.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(plain),
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()
        ],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName=STACK, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    stack = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    summaries = cloudformation.get_paginator("list_stack_resources").paginate(StackName=STACK)
    deployment = Deployment(plain, left_out, status=stack["StackStatus"])
    for page in summaries:
        for summary in page["StackResourceSummaries"]:
            deployment.created[summary["ResourceType"]] += 1
            deployment.physical[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
    return deployment
