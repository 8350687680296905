"""Scenarios of rules/lambda_inside_vpc.py, against the stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from conftest import (
    CallCounter,
    change_event,
    lambda_context,
    load_event,
    make_function,
    stored_results,
    with_token,
)
from faults import inject_error

from configguard import cibuilder
from configguard.parameters import LambdaInsideVpcParameters
from configguard.rulebase import EvaluationError
from configguard.verdict import Compliance
from configguard_cli.handlers import rule_module

RULE = "lambda-inside-vpc"
TYPE = "AWS::Lambda::Function"
rule = rule_module(RULE)
handler = rule.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
EVENT_SUBNETS = ["subnet-0a1b2c3d4e5f60718", "subnet-0b2c3d4e5f6071829"]


def results(factory) -> dict[str, tuple[str, str]]:
    return stored_results(factory, RULE)


def run(standin, factory, item, **kwargs) -> tuple[str, str]:
    handler(change_event(standin, RULE, item, **kwargs), CTX)
    return results(factory)[item["resourceId"]]


@pytest.fixture
def ec2_calls(factory) -> Iterator[CallCounter]:
    counter = CallCounter(factory.client("ec2"))
    yield counter
    counter.close()


def default_subnets(factory) -> list[dict]:
    """moto's default VPC: one default subnet per AZ, sorted by AZ."""
    subnets = factory.client("ec2").describe_subnets()["Subnets"]
    return sorted(
        (s for s in subnets if s.get("DefaultForAz")), key=lambda s: s["AvailabilityZone"]
    )


def vpc_function(factory, name: str, subnet_ids: list[str]) -> None:
    group = factory.client("ec2").describe_security_groups()["SecurityGroups"][0]["GroupId"]
    make_function(factory, name, VpcConfig={"SubnetIds": subnet_ids, "SecurityGroupIds": [group]})


def test_not_in_vpc_and_not_required_is_not_applicable(standin, factory, ec2_calls, lambda_calls):
    make_function(factory, "fn")
    item = cibuilder.read(factory, TYPE, "fn")
    lambda_calls.calls.clear()
    assert run(standin, factory, item) == (
        "NOT_APPLICABLE",
        "The function is not in a VPC and Required is false.",
    )
    assert ec2_calls.calls == [] and lambda_calls.calls == []


def test_not_in_vpc_and_required_is_noncompliant(standin, factory):
    make_function(factory, "orders-api")
    handler(
        with_token(standin, load_event("lambda_inside_vpc/change-not-in-vpc-required.json")), CTX
    )
    compliance, note = results(factory)["orders-api"]
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("The function is not attached to a VPC and Required is true")


def test_vpc_in_two_azs_is_compliant_with_one_call(standin, factory, ec2_calls):
    a, b = default_subnets(factory)[:2]
    vpc_function(factory, "ledger-sync", [a["SubnetId"], b["SubnetId"]])
    event = with_token(standin, load_event("lambda_inside_vpc/change-in-vpc.json"))
    event["invokingEvent"] = (
        event["invokingEvent"]
        .replace(EVENT_SUBNETS[0], a["SubnetId"])
        .replace(EVENT_SUBNETS[1], b["SubnetId"])
    )
    ec2_calls.calls.clear()
    handler(event, CTX)
    assert ec2_calls.calls == ["DescribeSubnets"]
    assert results(factory)["ledger-sync"] == (
        "COMPLIANT",
        f"In a VPC across 2 Availability Zones ({a['AvailabilityZone']}, {b['AvailabilityZone']}).",
    )


def test_vpc_in_one_az_is_noncompliant(standin, factory):
    (a,) = default_subnets(factory)[:1]
    vpc_function(factory, "fn", [a["SubnetId"]])
    compliance, note = run(standin, factory, cibuilder.read(factory, TYPE, "fn"))
    assert compliance == "NON_COMPLIANT"
    assert note.startswith(
        f"Runs in 1 Availability Zone(s) ({a['AvailabilityZone']}), fewer than "
        "MinAvailabilityZones 2"
    )
    params = {"MinAvailabilityZones": "1"}
    assert run(standin, factory, cibuilder.read(factory, TYPE, "fn"), rule_parameters=params)[
        0
    ] == ("COMPLIANT")


def test_subnet_outside_allowlist_is_noncompliant(standin, factory):
    a, b, c = (s["SubnetId"] for s in default_subnets(factory)[:3])
    vpc_function(factory, "fn", [a, c])
    params = {"SubnetIds": f"{a},{b}", "Required": "true"}
    compliance, note = run(
        standin, factory, cibuilder.read(factory, TYPE, "fn"), rule_parameters=params
    )
    assert (compliance, note) == ("NON_COMPLIANT", f"Subnets not in SubnetIds: {c}.")


def test_subnet_that_no_longer_exists_is_named(standin, factory, ec2_calls):
    make_function(factory, "ledger-sync")
    ec2_calls.calls.clear()
    handler(with_token(standin, load_event("lambda_inside_vpc/change-in-vpc.json")), CTX)
    compliance, note = results(factory)["ledger-sync"]
    assert compliance == "NON_COMPLIANT"
    assert note.startswith(f"Subnets that no longer exist: {', '.join(EVENT_SUBNETS)}.")
    assert "Runs in 0 Availability Zone(s)" in note
    assert ec2_calls.calls == ["DescribeSubnets", "DescribeSubnets"]


def test_one_missing_subnet_among_existing_ones(standin, factory):
    a, b = (s["SubnetId"] for s in default_subnets(factory)[:2])
    vpc_function(factory, "fn", [a, b])
    item = cibuilder.read(factory, TYPE, "fn")
    item["configuration"]["vpcConfig"]["subnetIds"].append("subnet-0ffffffffffffffff")
    assert run(standin, factory, item) == (
        "NON_COMPLIANT",
        "Subnets that no longer exist: subnet-0ffffffffffffffff.",
    )


def test_deleted_resource_is_not_applicable(standin, factory, ec2_calls):
    handler(with_token(standin, load_event("lambda_inside_vpc/change-deleted.json")), CTX)
    assert results(factory)["ledger-sync"][0] == "NOT_APPLICABLE"
    assert ec2_calls.calls == []


def test_ci_without_vpc_config_for_a_vanished_function_is_not_applicable(
    standin, factory, lambda_calls
):
    make_function(factory, "fn")
    item = cibuilder.read(factory, TYPE, "fn")
    del item["configuration"]["vpcConfig"]
    factory.client("lambda").delete_function(FunctionName="fn")
    lambda_calls.calls.clear()
    assert run(standin, factory, item) == ("NOT_APPLICABLE", "The function no longer exists.")
    assert lambda_calls.calls == ["GetFunction"]


def test_describe_subnets_access_denied_fails_visibly(standin, factory):
    a, b = (s["SubnetId"] for s in default_subnets(factory)[:2])
    vpc_function(factory, "fn", [a, b])
    item = cibuilder.read(factory, TYPE, "fn")
    with (
        inject_error(factory.client("ec2"), "DescribeSubnets", "UnauthorizedOperation", 403),
        pytest.raises(EvaluationError, match="UnauthorizedOperation from DescribeSubnets"),
    ):
        handler(change_event(standin, RULE, item), CTX)
    assert results(factory) == {}


# ------------------------------------------------------------------ pure functions


def params(**values: str) -> LambdaInsideVpcParameters:
    return LambdaInsideVpcParameters.model_validate(values)


def test_all_problems_are_reported_together():
    verdict = rule.judge_vpc(
        ["subnet-1", "subnet-2", "subnet-3"],
        {"subnet-1": "us-east-1a", "subnet-2": "us-east-1a"},
        ["subnet-3"],
        params(SubnetIds='["subnet-1"]', MinAvailabilityZones="2"),
    )
    assert verdict.compliance == Compliance.NON_COMPLIANT
    assert verdict.reason == (
        "Subnets not in SubnetIds: subnet-2, subnet-3. Subnets that no longer exist: subnet-3. "
        "Runs in 1 Availability Zone(s) (us-east-1a), fewer than MinAvailabilityZones 2; "
        "add subnets in other AZs."
    )


@pytest.mark.parametrize(
    ("configuration", "expected"),
    [
        ({"vpcConfig": {"subnetIds": ["subnet-1"], "securityGroupIds": []}}, ["subnet-1"]),
        ({"vpcConfig": json.dumps({"subnetIds": ["subnet-2"]})}, ["subnet-2"]),
        ({"vpcConfig": {"subnetIds": []}}, []),
        ({"vpcConfig": None}, []),
        ({}, None),
    ],
)
def test_subnets_from_ci_tolerates_config_shapes(configuration, expected):
    assert rule.subnets_from_ci({"configuration": configuration}) == expected
