"""Scenarios of remediations/add_concurrency_limit.py, through its real handler."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import ACCOUNT, REGION, CallCounter, lambda_context, load_event, make_function
from faults import swallow_call

from configguard import settings
from configguard.remediation import RemediationFailedError
from configguard.triggers import InvalidTriggerError
from configguard_cli.auditlog import list_records
from configguard_cli.handlers import remediation_module
from configguard_cli.local import gapfills

FIX = "add-concurrency-limit"
handler = remediation_module(FIX).lambda_handler
CTX = lambda_context(f"configguard-{FIX}")
FN = "orders-api"


def config_event(**detail_changes) -> dict:
    event = load_event("add_concurrency_limit/config-compliance-change.json")
    event["detail"].update(detail_changes)
    return event


def run(event: dict) -> dict:
    results = handler(event, CTX)["results"]
    assert len(results) == 1
    return results[0]


def reserved(factory, name: str = FN) -> int | None:
    return (
        factory.client("lambda")
        .get_function_concurrency(FunctionName=name)
        .get("ReservedConcurrentExecutions")
    )


def tags(factory, name: str = FN) -> dict:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return factory.client("lambda").list_tags(Resource=arn)["Tags"]


def set_mode(factory, mode: str) -> None:
    factory.client("ssm").put_parameter(
        Name=f"/configguard/remediations/{FIX}/mode", Value=mode, Type="String", Overwrite=True
    )


def standin_messages(sqs, standin) -> list[dict]:
    url = standin.oncall_probe_url
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for m in got:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def oncall(standin, factory):
    """Subscribe a queue to the on-call topic to read what on-call would receive."""
    sqs = factory.client("sqs")
    url = sqs.create_queue(QueueName="oncall-probe")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    factory.client("sns").subscribe(
        TopicArn=standin.environ()[settings.ONCALL_TOPIC], Protocol="sqs", Endpoint=arn
    )
    standin.oncall_probe_url = url
    return lambda: [json.loads(m["Message"]) for m in standin_messages(sqs, standin)]


def test_applies_default_limit_verifies_tags_and_audits(standin, factory, oncall):
    make_function(factory, FN)
    record = run(config_event())
    assert record["outcome"] == "applied"
    assert record["before"] == {"reservedConcurrentExecutions": None}
    assert record["after"] == {"reservedConcurrentExecutions": 10}
    assert reserved(factory) == 10
    assert tags(factory)[settings.LAST_REMEDIATION_TAG] == record["audit_id"]
    stored = list_records(factory, resource_id=FN)
    assert [r["audit_id"] for r in stored] == [record["audit_id"]]
    assert stored[0]["source"] == "config" and stored[0]["actor"] == "aws.config"
    messages = oncall()
    assert [m["audit_id"] for m in messages] == [record["audit_id"]]


def test_dry_run_mode_changes_nothing(standin, factory):
    make_function(factory, FN)
    set_mode(factory, "dry-run")
    record = run(config_event())
    assert record["outcome"] == "dry-run"
    assert "would PutFunctionConcurrency 10" in record["reason"]
    assert reserved(factory) is None
    assert settings.LAST_REMEDIATION_TAG not in tags(factory)


def test_stack_mode_dry_run_without_override(standin, factory, monkeypatch):
    monkeypatch.setenv(settings.REMEDIATION_MODE, "dry-run")
    make_function(factory, FN)
    assert run(config_event())["outcome"] == "dry-run"
    assert reserved(factory) is None


def test_opt_out_tag_is_honoured(standin, factory):
    make_function(factory, FN, tags={"configguard:auto-remediate": "false"})
    record = run(config_event())
    assert record["outcome"] == "skipped" and "opted out" in record["reason"]
    assert reserved(factory) is None


def test_already_compliant_is_skipped(standin, factory):
    make_function(factory, FN, reserved=5)
    record = run(config_event())
    assert record["outcome"] == "skipped" and "already compliant" in record["reason"]
    assert reserved(factory) == 5


def test_deleted_function_is_skipped(standin, factory):
    record = run(config_event())
    assert record["outcome"] == "skipped" and "no longer exists" in record["reason"]


def test_duplicate_event_causes_one_change(standin, factory):
    make_function(factory, FN)
    counter = CallCounter(factory.client("lambda"))
    first = run(config_event())
    second = run(config_event())
    counter.close()
    assert first["outcome"] == "applied"
    assert second["outcome"] == "duplicate" and second["related_audit_id"] == first["audit_id"]
    assert counter.calls.count("PutFunctionConcurrency") == 1
    outcomes = sorted(r["outcome"] for r in list_records(factory, resource_id=FN))
    assert outcomes == ["applied", "duplicate"]


def test_unreserved_concurrency_floor_refuses(standin, factory):
    make_function(factory, FN)
    # configguard's own rule functions reserve some concurrency; leave 155 unreserved
    own = factory.client("lambda").get_account_settings()["AccountLimit"]
    taken = own["ConcurrentExecutions"] - own["UnreservedConcurrentExecutions"]
    gapfills.set_lambda_concurrency_quota(ACCOUNT, REGION, taken + 155)
    record = run(config_event())
    assert record["outcome"] == "refused"
    assert "would leave 145 unreserved" in record["reason"] and "floor of 150" in record["reason"]
    assert reserved(factory) is None


def test_kill_switch_blocks(standin, factory):
    make_function(factory, FN)
    factory.client("ssm").put_parameter(
        Name="/configguard/kill-switch", Value="on", Type="String", Overwrite=True
    )
    record = run(config_event())
    assert record["outcome"] == "blocked" and "kill switch" in record["reason"]
    assert reserved(factory) is None


@pytest.mark.parametrize("problem", ["missing", "garbage"])
def test_unreadable_kill_switch_fails_closed(standin, factory, problem):
    make_function(factory, FN)
    ssm = factory.client("ssm")
    if problem == "missing":
        ssm.delete_parameter(Name="/configguard/kill-switch")
    else:
        ssm.put_parameter(
            Name="/configguard/kill-switch", Value="maybe", Type="String", Overwrite=True
        )
    record = run(config_event())
    assert record["outcome"] == "blocked" and record["reason"].startswith("Failed closed")
    assert reserved(factory) is None


@pytest.mark.parametrize(("mode", "reason"), [("off", "mode is off"), ("yolo", "Failed closed")])
def test_mode_off_or_invalid_blocks(standin, factory, mode, reason):
    make_function(factory, FN)
    set_mode(factory, mode)
    record = run(config_event())
    assert record["outcome"] == "blocked" and reason in record["reason"]
    assert reserved(factory) is None


def test_failed_verification_is_recorded_and_raised(standin, factory, capfd):
    make_function(factory, FN)
    with (
        swallow_call(factory.client("lambda"), "PutFunctionConcurrency", {}) as seen,
        pytest.raises(RemediationFailedError, match="failed on"),
    ):
        handler(config_event(), CTX)
    assert seen == ["PutFunctionConcurrency"]
    [record] = list_records(factory, resource_id=FN)
    assert record["outcome"] == "failed"
    assert "verification failed" in record["error"]
    assert '"RemediationsFailed"' in capfd.readouterr().out
    # A retry of the same event runs again (failures are not cached as done).
    assert run(config_event())["outcome"] == "applied"


def test_security_hub_custom_action_is_accepted(standin, factory):
    make_function(factory, FN)
    record = run(load_event("add_concurrency_limit/securityhub-custom-action.json"))
    assert record["outcome"] == "applied" and record["source"] == "securityhub"
    assert reserved(factory) == 10


def test_cli_fix_request_carries_actor_and_reason(standin, factory):
    make_function(factory, FN)
    record = run(load_event("add_concurrency_limit/cli-fix-request.json"))
    assert (record["outcome"], record["actor"], record["source"]) == ("applied", "alice", "cli")


def test_cli_dry_run_request(standin, factory):
    make_function(factory, FN)
    event = load_event("add_concurrency_limit/cli-fix-request.json")
    event["detail"]["dryRun"] = True
    assert run(event)["outcome"] == "dry-run"
    assert reserved(factory) is None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda e: e["detail"]["newEvaluationResult"].update(complianceType="COMPLIANT"),
            "not NON_COMPLIANT",
        ),
        (lambda e: e["detail"].update(configRuleName="some-other-rule"), "does not fix rule"),
        (lambda e: e.update(source="aws.s3"), "unsupported trigger"),
        (lambda e: e.pop("detail"), "not an EventBridge event"),
        (lambda e: e["detail"].pop("resourceId"), "malformed compliance-change"),
    ],
)
def test_invalid_triggers_are_rejected(standin, factory, mutate, message):
    event = copy.deepcopy(load_event("add_concurrency_limit/config-compliance-change.json"))
    mutate(event)
    with pytest.raises(InvalidTriggerError, match=message):
        handler(event, CTX)
    assert list_records(factory) == []
