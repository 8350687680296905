"""Scenarios of remediations/enable_api_cache_encryption.py, through its real handler.

The stand-in is reset once for this module: every test creates its own REST API (its
own stage ARN), so audit records, idempotency keys and rule results never collide.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections import Counter

import pytest
from apigw_stages import REST, read_ci, rest_stage, run_rule
from conftest import lambda_context, load_event
from faults import swallow_call

from configguard import cibuilder, settings
from configguard.remediation import RemediationFailedError
from configguard.triggers import InvalidTriggerError
from configguard_cli.auditlog import list_records
from configguard_cli.events import rollback_request_event
from configguard_cli.handlers import remediation_module

FIX = "enable-api-cache-encryption"
RULE = "apigw-stage-cache-encrypted"
module = remediation_module(FIX)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{FIX}")
SAMPLE_ARN = "arn:aws:apigateway:us-east-1::/restapis/c4e8n2c6r1/stages/prod"
EVENTS = {
    "config": "config-compliance-change.json",
    "securityhub": "securityhub-custom-action.json",
    "cli": "cli-fix-request.json",
}
CACHE_ON = ("/cacheClusterEnabled", "true")
STAGE_WIDE_CACHES = ("/*/*/caching/enabled", "true")
ORDERS_CACHES = ("/~1orders/GET/caching/enabled", "true")


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


def event(kind: str, arn: str) -> dict:
    """The fix's sample event retargeted at `arn`."""
    text = json.dumps(load_event(f"enable_api_cache_encryption/{EVENTS[kind]}"))
    return json.loads(text.replace(SAMPLE_ARN, arn))


def run(payload: dict) -> dict:
    results = handler(payload, CTX)["results"]
    assert len(results) == 1
    return results[0]


def stage(factory, arn: str) -> dict:
    _, api_id, name = cibuilder.parse_stage_arn(arn)
    return factory.client("apigateway").get_stage(restApiId=api_id, stageName=name)


def encrypted(factory, arn: str) -> dict[str, bool]:
    settings_ = stage(factory, arn)["methodSettings"]
    return {key: value["cacheDataEncrypted"] for key, value in settings_.items()}


def rollback(record: dict, **options) -> dict:
    payload = rollback_request_event(record, actor="carol", reason="INC-9 revert", **options)
    return run(payload)


def test_applies_encryption_verifies_tags_audits_and_rule_is_compliant(factory, standin, api_calls):
    arn = rest_stage(factory, "caching", CACHE_ON, STAGE_WIDE_CACHES, ORDERS_CACHES)
    assert run_rule(RULE, standin, factory, read_ci(factory, REST, arn))[0] == "NON_COMPLIANT"
    api_calls.clear()
    record = run(event("config", arn))
    calls = Counter(api_calls.calls)
    assert record["outcome"] == "applied", record
    assert record["before"] == {"cacheDataEncrypted": {"*/*": False, "~1orders/GET": False}}
    assert record["after"] == {"cacheDataEncrypted": {"*/*": True, "~1orders/GET": True}}
    assert record["details"]["patchOperations"] == [
        {"op": "replace", "path": "/*/*/caching/dataEncrypted", "value": "true"},
        {"op": "replace", "path": "/~1orders/GET/caching/dataEncrypted", "value": "true"},
    ]
    assert encrypted(factory, arn) == {"*/*": True, "~1orders/GET": True}
    assert stage(factory, arn)["tags"][settings.LAST_REMEDIATION_TAG] == record["audit_id"]
    assert calls == {"GetStage": 2, "UpdateStage": 1, "TagResource": 1}
    [stored] = list_records(factory, resource_id=arn)
    assert stored["audit_id"] == record["audit_id"] and stored["source"] == "config"
    assert run_rule(RULE, standin, factory, read_ci(factory, REST, arn))[0] == "COMPLIANT"


def test_override_caching_with_noncaching_stage_wide_encrypts_both(factory):
    arn = rest_stage(factory, "override", CACHE_ON, ("/*/*/metrics/enabled", "true"), ORDERS_CACHES)
    assert encrypted(factory, arn) == {"*/*": False, "~1orders/GET": False}
    record = run(event("config", arn))
    assert record["outcome"] == "applied"
    assert "GET /orders" in record["action"] and "stage-wide */*" in record["action"]
    assert encrypted(factory, arn) == {"*/*": True, "~1orders/GET": True}


def test_dry_run_mode_changes_nothing(factory, monkeypatch):
    monkeypatch.setenv(settings.REMEDIATION_MODE, "dry-run")
    arn = rest_stage(factory, "dry", CACHE_ON, STAGE_WIDE_CACHES)
    record = run(event("config", arn))
    assert record["outcome"] == "dry-run"
    assert "would UpdateStage caching/dataEncrypted=true for stage-wide */*" in record["reason"]
    assert record["after"] == {"cacheDataEncrypted": {"*/*": True}}
    assert encrypted(factory, arn) == {"*/*": False}
    assert settings.LAST_REMEDIATION_TAG not in (stage(factory, arn).get("tags") or {})


def test_opt_out_tag_is_honoured(factory):
    arn = rest_stage(factory, "opted-out", CACHE_ON, STAGE_WIDE_CACHES)
    factory.client("apigateway").tag_resource(
        resourceArn=arn, tags={"configguard:auto-remediate": "false"}
    )
    record = run(event("config", arn))
    assert record["outcome"] == "skipped" and "opted out" in record["reason"]
    assert encrypted(factory, arn) == {"*/*": False}


@pytest.mark.parametrize(
    "patches",
    [
        (STAGE_WIDE_CACHES,),  # caching configured, but no cache cluster: nothing cached
        (CACHE_ON, STAGE_WIDE_CACHES, ("/*/*/caching/dataEncrypted", "true")),
    ],
    ids=["no-cache-cluster", "all-encrypted"],
)
def test_already_compliant_is_skipped(factory, patches):
    arn = rest_stage(factory, f"compliant-{len(patches)}", *patches)
    before = encrypted(factory, arn)
    record = run(event("config", arn))
    assert record["outcome"] == "skipped" and "already compliant" in record["reason"]
    assert encrypted(factory, arn) == before


def test_failed_verification_is_recorded_and_raised(factory):
    arn = rest_stage(factory, "swallowed", CACHE_ON, STAGE_WIDE_CACHES)
    with (
        swallow_call(factory.client("apigateway"), "UpdateStage", {}) as seen,
        pytest.raises(RemediationFailedError, match="failed on"),
    ):
        handler(event("config", arn), CTX)
    assert seen == ["UpdateStage"]
    [record] = list_records(factory, resource_id=arn)
    assert record["outcome"] == "failed"
    assert "cacheDataEncrypted reads back false for stage-wide */*" in record["error"]
    assert run(event("config", arn))["outcome"] == "applied"


def test_deleted_stage_is_skipped(factory):
    arn = rest_stage(factory, "deleted", CACHE_ON, STAGE_WIDE_CACHES)
    _, api_id, _ = cibuilder.parse_stage_arn(arn)
    factory.client("apigateway").delete_rest_api(restApiId=api_id)
    record = run(event("config", arn))
    assert record["outcome"] == "skipped" and "no longer exists" in record["reason"]


def test_rollback_restores_unencrypted_keys_and_verifies(factory):
    arn = rest_stage(factory, "rollback", CACHE_ON, STAGE_WIDE_CACHES, ORDERS_CACHES)
    applied = run(event("cli", arn))
    assert applied["outcome"] == "applied"
    undone = rollback(applied)
    assert undone["outcome"] == "applied", undone
    assert undone["related_audit_id"] == applied["audit_id"]
    assert undone["action"].startswith("rollback: UpdateStage caching/dataEncrypted=false")
    assert encrypted(factory, arn) == {"*/*": False, "~1orders/GET": False}
    assert stage(factory, arn)["tags"][settings.LAST_REMEDIATION_TAG] == undone["audit_id"]


def test_rollback_reverts_only_keys_still_encrypted(factory):
    arn = rest_stage(factory, "partial", CACHE_ON, STAGE_WIDE_CACHES, ORDERS_CACHES)
    applied = run(event("cli", arn))
    _, api_id, _ = cibuilder.parse_stage_arn(arn)
    factory.client("apigateway").update_stage(
        restApiId=api_id,
        stageName="prod",
        patchOperations=[
            {"op": "replace", "path": "/~1orders/GET/caching/dataEncrypted", "value": "false"}
        ],
    )
    undone = rollback(applied)
    assert undone["outcome"] == "applied"
    assert undone["after"] == {"cacheDataEncrypted": {"*/*": False}}
    assert undone["details"] == {"leftAlone": ["~1orders/GET"]}


def test_rollback_refused_when_every_key_changed_since(factory):
    arn = rest_stage(factory, "changed", CACHE_ON, STAGE_WIDE_CACHES)
    applied = run(event("cli", arn))
    _, api_id, _ = cibuilder.parse_stage_arn(arn)
    factory.client("apigateway").update_stage(
        restApiId=api_id,
        stageName="prod",
        patchOperations=[{"op": "replace", "path": "/*/*/caching/dataEncrypted", "value": "false"}],
    )
    refused = rollback(applied)
    assert refused["outcome"] == "refused" and "changed since" in refused["reason"]
    assert encrypted(factory, arn) == {"*/*": False}


def test_security_hub_custom_action_is_accepted(factory):
    arn = rest_stage(factory, "from-hub", CACHE_ON, STAGE_WIDE_CACHES)
    record = run(event("securityhub", arn))
    assert (record["outcome"], record["source"]) == ("applied", "securityhub")
    assert record["resource_type"] == "AWS::ApiGateway::Stage"


def test_cli_fix_request_carries_actor_and_reason(factory):
    arn = rest_stage(factory, "from-cli", CACHE_ON, STAGE_WIDE_CACHES)
    record = run(event("cli", arn))
    assert (record["outcome"], record["actor"], record["source"]) == ("applied", "alice", "cli")


def test_sample_events_name_the_stage_the_tests_create(factory):
    arn = rest_stage(factory, "orders", CACHE_ON, STAGE_WIDE_CACHES, api_id="c4e8n2c6r1")
    assert arn == SAMPLE_ARN
    assert run(load_event("enable_api_cache_encryption/cli-fix-request.json"))["outcome"] == (
        "applied"
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda e: e["detail"]["newEvaluationResult"].update(complianceType="COMPLIANT"),
            "not NON_COMPLIANT",
        ),
        (lambda e: e["detail"].update(configRuleName="apigw-stage-tracing"), "does not fix rule"),
        (lambda e: e["detail"].update(resourceType="AWS::Lambda::Function"), "does not fix"),
        (lambda e: e.pop("detail"), "not an EventBridge event"),
    ],
)
def test_invalid_triggers_are_rejected(factory, mutate, message):
    payload = copy.deepcopy(event("config", f"{SAMPLE_ARN[:-4]}bad-{uuid.uuid4().hex[:6]}"))
    mutate(payload)
    with pytest.raises(InvalidTriggerError, match=message):
        handler(payload, CTX)


def test_escaped_key_handles_escaped_and_plain_paths():
    assert module.escaped_key("*/*") == "*/*"
    assert module.escaped_key("~1orders~1{id}/GET") == "~1orders~1{id}/GET"
    assert module.escaped_key("/orders/{id}/GET") == "~1orders~1{id}/GET"
