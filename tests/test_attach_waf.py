"""Scenarios of remediations/attach_waf.py, through its real handler.

The stand-in is reset once for this module: every test creates its own REST API (its
own stage ARN), so audit records, idempotency keys and rule results never collide.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator

import pytest
from apigw_stages import REST, read_ci, rest_stage, run_rule
from conftest import CallCounter, lambda_context, load_event
from faults import swallow_call

from configguard import cibuilder, settings
from configguard.remediation import RemediationFailedError
from configguard.triggers import InvalidTriggerError
from configguard_cli.auditlog import list_records
from configguard_cli.events import rollback_request_event
from configguard_cli.handlers import remediation_module

FIX = "attach-waf"
RULE = "apigw-stage-waf-attached"
handler = remediation_module(FIX).lambda_handler
CTX = lambda_context(f"configguard-{FIX}")
SAMPLE_ARN = "arn:aws:apigateway:us-east-1::/restapis/w2a4f6a8t0/stages/prod"
EVENTS = {
    "config": "config-compliance-change.json",
    "securityhub": "securityhub-custom-action.json",
    "cli": "cli-fix-request.json",
}


@pytest.fixture(scope="module")
def standin(module_standin):
    return module_standin


@pytest.fixture(scope="module")
def factory(module_factory):
    return module_factory


@pytest.fixture(autouse=True)
def no_cap(monkeypatch):
    """Every test applies on its own stage; the hourly cap is tested in test_engine_gates."""
    monkeypatch.setenv(settings.MAX_CHANGES_PER_HOUR, "1000")


@pytest.fixture
def waf_calls(factory) -> Iterator[CallCounter]:
    counter = CallCounter(factory.client("wafv2"))
    yield counter
    counter.close()


@pytest.fixture
def ours(standin) -> str:
    return standin.environ()[settings.WEB_ACL_ARN]


def event(kind: str, arn: str) -> dict:
    """The fix's sample event retargeted at `arn`."""
    text = json.dumps(load_event(f"attach_waf/{EVENTS[kind]}"))
    return json.loads(text.replace(SAMPLE_ARN, arn))


def run(payload: dict) -> dict:
    results = handler(payload, CTX)["results"]
    assert len(results) == 1
    return results[0]


def api_stage(factory, name: str, endpoint: str = "REGIONAL", api_id: str | None = None) -> str:
    """A REST stage (tests/apigw_stages.rest_stage) whose API has the given endpoint type."""
    arn = rest_stage(factory, name, api_id=api_id)
    if endpoint != "EDGE":  # CreateRestApi's default, as in AWS
        _, api, _ = cibuilder.parse_stage_arn(arn)
        factory.client("apigateway").update_rest_api(
            restApiId=api,
            patchOperations=[
                {"op": "replace", "path": "/endpointConfiguration/types/EDGE", "value": endpoint}
            ],
        )
    return arn


def web_acl(factory, name: str) -> str:
    created = factory.client("wafv2").create_web_acl(
        Name=name,
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig={
            "SampledRequestsEnabled": False,
            "CloudWatchMetricsEnabled": False,
            "MetricName": name,
        },
    )
    return str(created["Summary"]["ARN"])


def associated(factory, arn: str) -> str | None:
    found = factory.client("wafv2").get_web_acl_for_resource(ResourceArn=arn).get("WebACL")
    return found["ARN"] if found else None


def stage(factory, arn: str) -> dict:
    _, api_id, name = cibuilder.parse_stage_arn(arn)
    return factory.client("apigateway").get_stage(restApiId=api_id, stageName=name)


def rollback(record: dict) -> dict:
    return run(rollback_request_event(record, actor="carol", reason="INC-11 revert"))


def test_associates_web_acl_verifies_tags_audits_and_rule_is_compliant(
    factory, standin, ours, api_calls, waf_calls
):
    arn = api_stage(factory, "public")
    assert run_rule(RULE, standin, factory, read_ci(factory, REST, arn))[0] == "NON_COMPLIANT"
    api_calls.clear()
    waf_calls.calls.clear()
    record = run(event("config", arn))
    calls = Counter(api_calls.calls + waf_calls.calls)
    assert record["outcome"] == "applied", record
    assert (record["before"], record["after"]) == ({"webAclArn": None}, {"webAclArn": ours})
    assert record["action"].startswith("AssociateWebACL configguard-default (")
    assert associated(factory, arn) == ours
    assert stage(factory, arn)["webAclArn"] == ours
    assert stage(factory, arn)["tags"][settings.LAST_REMEDIATION_TAG] == record["audit_id"]
    assert calls == {
        "GetStage": 2,
        "GetRestApi": 2,
        "GetWebACLForResource": 2,
        "GetWebACL": 1,
        "AssociateWebACL": 1,
        "TagResource": 1,
    }
    [stored] = list_records(factory, resource_id=arn)
    assert stored["audit_id"] == record["audit_id"] and stored["outcome"] == "applied"
    compliance, note = run_rule(RULE, standin, factory, read_ci(factory, REST, arn))
    assert compliance == "COMPLIANT" and "configguard-default (" in note


def test_dry_run_mode_changes_nothing(factory, monkeypatch):
    monkeypatch.setenv(settings.REMEDIATION_MODE, "dry-run")
    arn = api_stage(factory, "dry")
    record = run(event("config", arn))
    assert record["outcome"] == "dry-run"
    assert "would AssociateWebACL configguard-default" in record["reason"]
    assert associated(factory, arn) is None and "webAclArn" not in stage(factory, arn)


def test_opt_out_tag_is_honoured(factory):
    arn = api_stage(factory, "opted-out")
    factory.client("apigateway").tag_resource(
        resourceArn=arn, tags={"configguard:auto-remediate": "false"}
    )
    record = run(event("config", arn))
    assert record["outcome"] == "skipped" and "opted out" in record["reason"]
    assert associated(factory, arn) is None


def test_stage_with_our_web_acl_is_already_compliant(factory, ours):
    arn = api_stage(factory, "ours")
    factory.client("wafv2").associate_web_acl(WebACLArn=ours, ResourceArn=arn)
    record = run(event("config", arn))
    assert record["outcome"] == "skipped" and "already compliant" in record["reason"]
    assert associated(factory, arn) == ours


def test_another_web_acl_is_never_replaced(factory, waf_calls):
    arn = api_stage(factory, "theirs")
    theirs = web_acl(factory, "team-orders-acl")
    factory.client("wafv2").associate_web_acl(WebACLArn=theirs, ResourceArn=arn)
    waf_calls.calls.clear()
    record = run(event("config", arn))
    assert record["outcome"] == "refused"
    acl_id = theirs.rsplit("/", 1)[-1]
    assert f"Web ACL team-orders-acl ({acl_id}) is already associated" in record["reason"]
    assert "never replaces another web ACL" in record["reason"]
    assert "AssociateWebACL" not in waf_calls.calls
    assert associated(factory, arn) == theirs


@pytest.mark.parametrize(
    ("endpoint", "message"), [("EDGE", "is EDGE-optimised"), ("PRIVATE", "is PRIVATE")]
)
def test_edge_and_private_apis_are_refused(factory, endpoint, message):
    arn = api_stage(factory, f"api-{endpoint.lower()}", endpoint=endpoint)
    record = run(event("config", arn))
    assert record["outcome"] == "refused" and message in record["reason"]
    assert f"REST API api-{endpoint.lower()} (" in record["reason"]
    assert associated(factory, arn) is None


@pytest.mark.parametrize(
    ("configured", "message"),
    [
        (
            "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/gone/0a1b2c3d-0000-4000-8000-000000000000",
            "gone (0a1b2c3d-0000-4000-8000-000000000000), does not exist",
        ),
        (
            "arn:aws:wafv2:us-east-1:123456789012:global/webacl/edge/0a1b2c3d-0000-4000-8000-000000000001",
            "which is not a regional web ACL in us-east-1",
        ),
        ("arn:aws:waf-regional:us-east-1:123456789012:webacl/abc", "is not a WAFv2 web ACL ARN"),
    ],
    ids=["missing", "cloudfront-scope", "waf-classic"],
)
def test_unusable_configured_web_acl_is_refused(factory, monkeypatch, configured, message):
    monkeypatch.setenv(settings.WEB_ACL_ARN, configured)
    arn = api_stage(factory, f"unusable-{configured[-6:]}")
    record = run(event("config", arn))
    assert record["outcome"] == "refused"
    assert message in record["reason"] and settings.WEB_ACL_ARN in record["reason"]
    assert associated(factory, arn) is None


def test_failed_verification_is_recorded_and_raised(factory):
    arn = api_stage(factory, "swallowed")
    with (
        swallow_call(factory.client("wafv2"), "AssociateWebACL", {}) as seen,
        pytest.raises(RemediationFailedError, match="failed on"),
    ):
        handler(event("config", arn), CTX)
    assert seen == ["AssociateWebACL"]
    [record] = list_records(factory, resource_id=arn)
    assert record["outcome"] == "failed"
    assert "GetWebACLForResource shows None" in record["error"]
    assert run(event("config", arn))["outcome"] == "applied"


def test_deleted_stage_is_skipped(factory):
    arn = api_stage(factory, "deleted")
    _, api_id, _ = cibuilder.parse_stage_arn(arn)
    factory.client("apigateway").delete_stage(restApiId=api_id, stageName="prod")
    record = run(event("config", arn))
    assert record["outcome"] == "skipped" and "no longer exists" in record["reason"]


def test_rollback_disassociates_our_web_acl_and_verifies(factory, ours):
    arn = api_stage(factory, "rollback")
    applied = run(event("cli", arn))
    assert applied["outcome"] == "applied"
    undone = rollback(applied)
    assert undone["outcome"] == "applied", undone
    assert undone["action"].startswith("rollback: DisassociateWebACL configguard-default")
    assert (undone["before"], undone["after"]) == ({"webAclArn": ours}, {"webAclArn": None})
    assert associated(factory, arn) is None and "webAclArn" not in stage(factory, arn)


@pytest.mark.parametrize("since", ["replaced", "removed"])
def test_rollback_refused_when_the_association_changed_since(factory, since):
    arn = api_stage(factory, f"changed-{since}")
    applied = run(event("cli", arn))
    waf = factory.client("wafv2")
    waf.disassociate_web_acl(ResourceArn=arn)
    theirs = None
    if since == "replaced":
        theirs = web_acl(factory, "replacement-acl")
        waf.associate_web_acl(WebACLArn=theirs, ResourceArn=arn)
    refused = rollback(applied)
    assert refused["outcome"] == "refused" and "changed since" in refused["reason"]
    assert associated(factory, arn) == theirs


def test_security_hub_custom_action_is_accepted(factory, ours):
    arn = api_stage(factory, "from-hub")
    record = run(event("securityhub", arn))
    assert (record["outcome"], record["source"]) == ("applied", "securityhub")
    assert associated(factory, arn) == ours


def test_cli_fix_request_carries_actor_and_reason(factory):
    arn = api_stage(factory, "from-cli")
    record = run(event("cli", arn))
    assert (record["outcome"], record["actor"], record["source"]) == ("applied", "alice", "cli")


def test_sample_events_name_the_stage_the_tests_create(factory, ours):
    arn = api_stage(factory, "orders", api_id="w2a4f6a8t0")
    assert arn == SAMPLE_ARN
    assert run(load_event("attach_waf/config-compliance-change.json"))["outcome"] == "applied"
    assert associated(factory, arn) == ours


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda e: e["detail"]["newEvaluationResult"].update(complianceType="COMPLIANT"),
            "not NON_COMPLIANT",
        ),
        (lambda e: e["detail"].update(configRuleName="apigw-stage-tracing"), "does not fix rule"),
        (
            lambda e: e["detail"].update(resourceType="AWS::ApiGatewayV2::Stage"),
            "does not fix AWS::ApiGatewayV2::Stage",
        ),
        (lambda e: e.pop("detail"), "not an EventBridge event"),
    ],
)
def test_invalid_triggers_are_rejected(factory, mutate, message):
    payload = copy.deepcopy(event("config", SAMPLE_ARN))
    mutate(payload)
    with pytest.raises(InvalidTriggerError, match=message):
        handler(payload, CTX)
