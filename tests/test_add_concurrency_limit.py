"""Scenarios of remediations/add_concurrency_limit.py, through its real handler.

One stand-in reset for the module: each test creates its own functions, which are
deleted afterwards (releasing their reserved concurrency), and the switches it touches
(mode override, kill switch, concurrency quota) are put back.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import (
    ACCOUNT,
    REGION,
    CallCounter,
    change_event,
    lambda_context,
    load_event,
    make_function,
    stored_results,
)
from faults import swallow_call

from configguard import cibuilder, settings
from configguard.remediation import RemediationFailedError
from configguard.triggers import InvalidTriggerError
from configguard_cli.auditlog import list_records
from configguard_cli.events import rollback_request_event
from configguard_cli.handlers import remediation_module, rule_module
from configguard_cli.local import gapfills

FIX = "add-concurrency-limit"
handler = remediation_module(FIX).lambda_handler
CTX = lambda_context(f"configguard-{FIX}")
FN = "orders-api"
MODE_PARAMETER = f"/configguard/remediations/{FIX}/mode"


@pytest.fixture(scope="module")
def standin(module_standin):
    return module_standin


@pytest.fixture(scope="module")
def factory(module_factory):
    return module_factory


@pytest.fixture(autouse=True)
def restored(factory) -> Iterator[list[str]]:
    """Functions made with `function()` are deleted and the switches reset after each test."""
    yield CREATED
    lam, ssm = factory.client("lambda"), factory.client("ssm")
    for name in CREATED:
        with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
            lam.delete_function(FunctionName=name)
    CREATED.clear()
    with contextlib.suppress(ssm.exceptions.ParameterNotFound):
        ssm.delete_parameter(Name=MODE_PARAMETER)
    ssm.put_parameter(
        Name=settings.DEFAULT_KILL_SWITCH_PARAMETER, Value="off", Type="String", Overwrite=True
    )
    gapfills.set_lambda_concurrency_quota(
        ACCOUNT, REGION, gapfills.DEFAULT_LAMBDA_CONCURRENCY_QUOTA
    )


CREATED: list[str] = []


@pytest.fixture
def fn(request) -> str:
    """A function name of this test's own (the stand-in is shared by the module)."""
    return "cc-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12]


def function(factory, name: str = FN, **kwargs) -> None:
    make_function(factory, name, **kwargs)
    CREATED.append(name)


def config_event(name: str = FN, **detail_changes) -> dict:
    event = load_event("add_concurrency_limit/config-compliance-change.json")
    event["detail"].update(resourceId=name, **detail_changes)
    qualifier = event["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]
    qualifier["evaluationResultQualifier"]["resourceId"] = name
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


def put_peaks(factory, name: str, values_by_days_ago: dict[float, float]) -> None:
    """Seed AWS/Lambda ConcurrentExecutions datapoints for one function."""
    now = datetime.now(UTC)
    factory.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "ConcurrentExecutions",
                "Dimensions": [{"Name": "FunctionName", "Value": name}],
                "Timestamp": now - timedelta(days=days),
                "Value": value,
            }
            for days, value in values_by_days_ago.items()
        ],
    )


def rollback(record: dict) -> dict:
    event = rollback_request_event(record, actor="carol", reason="INC-4211 revert")
    (result,) = handler(event, CTX)["results"]
    return result


def set_mode(factory, mode: str) -> None:
    factory.client("ssm").put_parameter(
        Name=MODE_PARAMETER, Value=mode, Type="String", Overwrite=True
    )


def drain(sqs, url: str) -> list[dict]:
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for m in got:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture(scope="module")
def oncall_queue(standin, factory) -> str:
    """A queue subscribed to the on-call topic, to read what on-call would receive."""
    sqs = factory.client("sqs")
    url = sqs.create_queue(QueueName="oncall-probe")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    factory.client("sns").subscribe(
        TopicArn=standin.environ()[settings.ONCALL_TOPIC], Protocol="sqs", Endpoint=arn
    )
    return str(url)


@pytest.fixture
def oncall(factory, oncall_queue):
    sqs = factory.client("sqs")
    drain(sqs, oncall_queue)  # what earlier tests sent
    return lambda: [json.loads(m["Message"]) for m in drain(sqs, oncall_queue)]


def test_applies_default_limit_verifies_tags_and_audits(standin, factory, fn, oncall):
    function(factory, fn)
    record = run(config_event(fn))
    assert record["outcome"] == "applied"
    assert record["before"] == {"reservedConcurrentExecutions": None}
    assert record["after"] == {"reservedConcurrentExecutions": 10}
    assert record["details"]["basis"] == "default" and record["details"]["peak14d"] is None
    assert reserved(factory, fn) == 10
    assert tags(factory, fn)[settings.LAST_REMEDIATION_TAG] == record["audit_id"]
    stored = list_records(factory, resource_id=fn)
    assert [r["audit_id"] for r in stored] == [record["audit_id"]]
    assert stored[0]["source"] == "config" and stored[0]["actor"] == "aws.config"
    messages = oncall()
    assert [m["audit_id"] for m in messages] == [record["audit_id"]]


def test_dry_run_mode_changes_nothing(standin, factory, fn):
    function(factory, fn)
    set_mode(factory, "dry-run")
    record = run(config_event(fn))
    assert record["outcome"] == "dry-run"
    assert "would PutFunctionConcurrency 10" in record["reason"]
    assert reserved(factory, fn) is None
    assert settings.LAST_REMEDIATION_TAG not in tags(factory, fn)


def test_stack_mode_dry_run_without_override(standin, factory, fn, monkeypatch):
    monkeypatch.setenv(settings.REMEDIATION_MODE, "dry-run")
    function(factory, fn)
    assert run(config_event(fn))["outcome"] == "dry-run"
    assert reserved(factory, fn) is None


def test_opt_out_tag_is_honoured(standin, factory, fn):
    function(factory, fn, tags={"configguard:auto-remediate": "false"})
    record = run(config_event(fn))
    assert record["outcome"] == "skipped" and "opted out" in record["reason"]
    assert reserved(factory, fn) is None


def test_already_compliant_is_skipped(standin, factory, fn):
    function(factory, fn, reserved=5)
    record = run(config_event(fn))
    assert record["outcome"] == "skipped" and "already compliant" in record["reason"]
    assert reserved(factory, fn) == 5


def test_deleted_function_is_skipped(standin, factory, fn):
    record = run(config_event(fn))
    assert record["outcome"] == "skipped" and "no longer exists" in record["reason"]


def test_duplicate_event_causes_one_change(standin, factory, fn):
    function(factory, fn)
    counter = CallCounter(factory.client("lambda"))
    first = run(config_event(fn))
    second = run(config_event(fn))
    counter.close()
    assert first["outcome"] == "applied"
    assert second["outcome"] == "duplicate" and second["related_audit_id"] == first["audit_id"]
    assert counter.calls.count("PutFunctionConcurrency") == 1
    outcomes = sorted(r["outcome"] for r in list_records(factory, resource_id=fn))
    assert outcomes == ["applied", "duplicate"]


def test_unreserved_concurrency_floor_refuses(standin, factory, fn):
    function(factory, fn)
    # configguard's own rule functions reserve some concurrency; leave 155 unreserved
    own = factory.client("lambda").get_account_settings()["AccountLimit"]
    taken = own["ConcurrentExecutions"] - own["UnreservedConcurrentExecutions"]
    gapfills.set_lambda_concurrency_quota(ACCOUNT, REGION, taken + 155)
    record = run(config_event(fn))
    assert record["outcome"] == "refused"
    assert "would leave 145 unreserved" in record["reason"] and "floor of 150" in record["reason"]
    assert reserved(factory, fn) is None


def test_kill_switch_blocks(standin, factory, fn):
    function(factory, fn)
    factory.client("ssm").put_parameter(
        Name="/configguard/kill-switch", Value="on", Type="String", Overwrite=True
    )
    record = run(config_event(fn))
    assert record["outcome"] == "blocked" and "kill switch" in record["reason"]
    assert reserved(factory, fn) is None


@pytest.mark.parametrize("problem", ["missing", "garbage"])
def test_unreadable_kill_switch_fails_closed(standin, factory, fn, problem):
    function(factory, fn)
    ssm = factory.client("ssm")
    if problem == "missing":
        ssm.delete_parameter(Name="/configguard/kill-switch")
    else:
        ssm.put_parameter(
            Name="/configguard/kill-switch", Value="maybe", Type="String", Overwrite=True
        )
    record = run(config_event(fn))
    assert record["outcome"] == "blocked" and record["reason"].startswith("Failed closed")
    assert reserved(factory, fn) is None


@pytest.mark.parametrize(("mode", "reason"), [("off", "mode is off"), ("yolo", "Failed closed")])
def test_mode_off_or_invalid_blocks(standin, factory, fn, mode, reason):
    function(factory, fn)
    set_mode(factory, mode)
    record = run(config_event(fn))
    assert record["outcome"] == "blocked" and reason in record["reason"]
    assert reserved(factory, fn) is None


def test_failed_verification_is_recorded_and_raised(standin, factory, fn, capfd):
    function(factory, fn)
    with (
        swallow_call(factory.client("lambda"), "PutFunctionConcurrency", {}) as seen,
        pytest.raises(RemediationFailedError, match="failed on"),
    ):
        handler(config_event(fn), CTX)
    assert seen == ["PutFunctionConcurrency"]
    [record] = list_records(factory, resource_id=fn)
    assert record["outcome"] == "failed"
    assert "verification failed" in record["error"]
    assert '"RemediationsFailed"' in capfd.readouterr().out
    # A retry of the same event runs again (failures are not cached as done).
    assert run(config_event(fn))["outcome"] == "applied"


def test_security_hub_custom_action_is_accepted(standin, factory):
    function(factory, FN)
    record = run(load_event("add_concurrency_limit/securityhub-custom-action.json"))
    assert record["outcome"] == "applied" and record["source"] == "securityhub"
    assert reserved(factory) == 10


def test_cli_fix_request_carries_actor_and_reason(standin, factory):
    function(factory, FN)
    record = run(load_event("add_concurrency_limit/cli-fix-request.json"))
    assert (record["outcome"], record["actor"], record["source"]) == ("applied", "alice", "cli")


def test_cli_dry_run_request(standin, factory):
    function(factory, FN)
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
def test_invalid_triggers_are_rejected(standin, factory, fn, mutate, message):
    event = copy.deepcopy(load_event("add_concurrency_limit/config-compliance-change.json"))
    mutate(event)
    before = len(list_records(factory))
    with pytest.raises(InvalidTriggerError, match=message):
        handler(event, CTX)
    assert len(list_records(factory)) == before


def test_limit_follows_the_14_day_peak_plus_headroom(standin, factory, fn):
    function(factory, fn)
    function(factory, "noisy-neighbour")
    put_peaks(factory, fn, {1: 3, 2.5: 17, 6: 9, 13.5: 12, 20: 99})  # 20 days: outside
    put_peaks(factory, "noisy-neighbour", {1: 500})
    counter = CallCounter(factory.client("cloudwatch"))
    record = run(config_event(fn))
    counter.close()
    assert record["outcome"] == "applied"
    assert record["after"] == {"reservedConcurrentExecutions": 26}  # ceil(17 * 1.5)
    assert record["details"] == {
        "unreservedBefore": record["details"]["unreservedBefore"],
        "unreservedAfter": record["details"]["unreservedBefore"] - 26,
        "basis": "data",
        "peak14d": 17.0,
        "headroomPercent": 50,
        "clamp": [5, 200],
    }
    assert reserved(factory, fn) == 26
    assert counter.calls == ["GetMetricStatistics"]


@pytest.mark.parametrize(
    ("peak", "env", "expected"),
    [
        (1, {}, 5),  # ceil(1.5) = 2, raised to the minimum 5
        (400, {}, 200),  # 600, lowered to the maximum 200
        (
            10,
            {
                settings.CONCURRENCY_HEADROOM_PERCENT: "10",
                settings.CONCURRENCY_MIN: "1",
                settings.CONCURRENCY_MAX: "30",
            },
            11,  # exactly 11, no float round-up to 12
        ),
        (40, {settings.CONCURRENCY_MAX: "30"}, 30),
    ],
)
def test_data_limit_is_clamped(standin, factory, fn, monkeypatch, peak, env, expected):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    function(factory, fn)
    put_peaks(factory, fn, {1: peak})
    record = run(config_event(fn))
    assert record["outcome"] == "applied" and record["details"]["basis"] == "data"
    assert reserved(factory, fn) == expected


def test_min_above_max_fails_closed(standin, factory, fn, monkeypatch):
    monkeypatch.setenv(settings.CONCURRENCY_MIN, "50")
    monkeypatch.setenv(settings.CONCURRENCY_MAX, "10")
    function(factory, fn)
    with pytest.raises(RemediationFailedError):
        handler(config_event(fn), CTX)
    [record] = list_records(factory, resource_id=fn)
    assert record["outcome"] == "failed"
    assert f"{settings.CONCURRENCY_MIN} (50) must not exceed" in record["error"]
    assert reserved(factory, fn) is None


def test_rollback_restores_no_limit_and_is_refused_when_changed_since(standin, factory, fn):
    function(factory, fn)
    function(factory, "orders-worker")
    applied = run(config_event(fn))
    undone = rollback(applied)
    assert (undone["outcome"], undone["action"]) == (
        "applied",
        "rollback: DeleteFunctionConcurrency",
    )
    assert reserved(factory, fn) is None
    event = load_event("add_concurrency_limit/cli-fix-request.json")
    event["detail"]["resourceId"] = "orders-worker"
    other = run(event)
    factory.client("lambda").put_function_concurrency(
        FunctionName="orders-worker", ReservedConcurrentExecutions=7
    )
    refused = rollback(other)
    assert refused["outcome"] == "refused" and "changed since" in refused["reason"]
    assert reserved(factory, "orders-worker") == 7


def test_rule_is_compliant_after_the_fix(standin, factory, fn):
    rule = "lambda-reserved-concurrency"
    function(factory, fn)
    put_peaks(factory, fn, {2: 8})
    assert run(config_event(fn))["outcome"] == "applied"
    item = cibuilder.read(factory, "AWS::Lambda::Function", fn)
    rule_module(rule).lambda_handler(
        change_event(standin, rule, item), lambda_context(f"configguard-{rule}")
    )
    assert stored_results(factory, rule)[fn][0] == "COMPLIANT"
