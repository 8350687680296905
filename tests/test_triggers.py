"""Trigger parsing: resource ARNs from Security Hub, resource types, rollback requests."""

from __future__ import annotations

import copy

import pytest
from conftest import load_event

from configguard import registry
from configguard.triggers import (
    InvalidTriggerError,
    TriggerSource,
    config_resource,
    parse_requests,
)
from configguard_cli.events import rollback_request_event

REGION, ACCOUNT = "us-east-1", "123456789012"


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-api",
            ("AWS::Lambda::Function", "orders-api"),
        ),
        (
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-api:live",
            ("AWS::Lambda::Function", "orders-api"),
        ),
        (
            f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3/stages/prod",
            (
                "AWS::ApiGateway::Stage",
                f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3/stages/prod",
            ),
        ),
        (
            f"arn:aws:apigateway:{REGION}::/apis/x9y8/stages/$default",
            (
                "AWS::ApiGatewayV2::Stage",
                f"arn:aws:apigateway:{REGION}::/apis/x9y8/stages/$default",
            ),
        ),
        (
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/orders:*",
            ("AWS::Logs::LogGroup", "/aws/lambda/orders"),
        ),
        (
            f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            ("AWS::KMS::Key", "1234abcd-12ab-34cd-56ef-1234567890ab"),
        ),
        (
            f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/org-trail",
            ("AWS::CloudTrail::Trail", "org-trail"),
        ),
    ],
)
def test_resource_arns_map_to_config_resources(arn, expected):
    assert config_resource(arn) == expected


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "orders-api",
        f"arn:aws:s3:::bucket-{ACCOUNT}",
        f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3",
        f"arn:aws:apigateway:{REGION}::/restapis//stages/prod",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/app",
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:",
    ],
)
def test_unknown_resources_are_rejected_clearly(arn):
    with pytest.raises(InvalidTriggerError):
        config_resource(arn)


def test_security_hub_finding_of_another_resource_type_is_rejected():
    spec = registry.remediation("add-concurrency-limit")
    event = load_event("add_concurrency_limit/securityhub-custom-action.json")
    event["detail"]["findings"][0]["Resources"][0]["Id"] = (
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    with pytest.raises(InvalidTriggerError, match="does not fix AWS::KMS::Key"):
        parse_requests(spec, event)


def test_config_change_for_another_resource_type_is_rejected():
    spec = registry.remediation("add-concurrency-limit")
    event = load_event("add_concurrency_limit/config-compliance-change.json")
    event["detail"]["resourceType"] = "AWS::::Account"
    with pytest.raises(InvalidTriggerError, match="does not fix AWS::::Account"):
        parse_requests(spec, event)


def test_cli_request_infers_the_stage_type_from_its_arn():
    spec = registry.remediation("enable-api-logging")
    event = load_event("add_concurrency_limit/cli-fix-request.json")
    stage = f"arn:aws:apigateway:{REGION}::/apis/x9y8/stages/prod"
    event["detail"].update(rule="apigw-stage-access-logging", resourceId=stage)
    (request,) = parse_requests(spec, event)
    assert request.resource_type == "AWS::ApiGatewayV2::Stage"


def test_event_patterns_filter_the_fix_resource_types():
    for spec in registry.REMEDIATIONS.values():
        pattern = registry.compliance_change_pattern(spec)
        assert pattern["detail"]["resourceType"] == list(spec.resource_types)  # type: ignore[index]


RECORD = {
    "audit_id": "019a8f3c2b1d0-0123456789ab",
    "account_id": ACCOUNT,
    "region": REGION,
    "rule": "lambda-reserved-concurrency",
    "resource_id": "orders-api",
    "resource_type": "AWS::Lambda::Function",
    "resource_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-api",
}


def test_rollback_request_parses_into_a_rollback():
    spec = registry.remediation("add-concurrency-limit")
    event = rollback_request_event(RECORD, actor="carol", restore_plaintext=True)
    (request,) = parse_requests(spec, event)
    assert request.rollback_of == RECORD["audit_id"]
    assert request.restore_plaintext is True
    assert request.source is TriggerSource.CLI and request.actor == "carol"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"auditId": "x"}, "auditId"),
        ({"rule": "kms-key-rotation-enabled"}, "does not fix rule"),
        ({"resourceType": "AWS::KMS::Key"}, "does not fix AWS::KMS::Key"),
        ({"extra": 1}, "extra"),
    ],
)
def test_malformed_rollback_requests_are_rejected(change, message):
    spec = registry.remediation("add-concurrency-limit")
    event = copy.deepcopy(rollback_request_event(RECORD, actor="carol"))
    event["detail"].update(change)
    with pytest.raises(InvalidTriggerError, match=message):
        parse_requests(spec, event)
