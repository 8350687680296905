"""Rollback through the engine: `configguard rollback <audit-id>` runs the fix's own handler.

Exercised with add-concurrency-limit, whose rollback restores the earlier (absent) limit.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import lambda_context, load_event, make_function

from configguard import audit, settings
from configguard.triggers import InvalidTriggerError
from configguard_cli.auditlog import list_records
from configguard_cli.events import rollback_request_event
from configguard_cli.handlers import remediation_module

FIX = "add-concurrency-limit"
handler = remediation_module(FIX).lambda_handler
CTX = lambda_context(f"configguard-{FIX}")
CLI = [sys.executable, "-m", "configguard_cli.main"]
AS_DAVE = ["--actor", "dave", "--format", "json"]


def fix(resource_id: str) -> dict:
    event = load_event("add_concurrency_limit/cli-fix-request.json")
    event["id"] = f"fix-{resource_id}"
    event["detail"].update(resourceId=resource_id)
    (record,) = handler(event, CTX)["results"]
    return record


def rollback(record: dict, **options) -> dict:
    event = rollback_request_event(record, actor="carol", reason="INC-7 revert", **options)
    (result,) = handler(event, CTX)["results"]
    return result


def reserved(factory, name: str) -> int | None:
    answer = factory.client("lambda").get_function_concurrency(FunctionName=name)
    return answer.get("ReservedConcurrentExecutions")


def test_applied_change_is_rolled_back_verified_and_recorded(standin, factory):
    make_function(factory, "fn")
    applied = fix("fn")
    assert applied["outcome"] == "applied" and reserved(factory, "fn") == 10

    undone = rollback(applied)

    assert undone["outcome"] == "applied"
    assert undone["action"] == "rollback: DeleteFunctionConcurrency"
    assert undone["related_audit_id"] == applied["audit_id"]
    assert undone["actor"] == "carol" and undone["source"] == "cli"
    assert reserved(factory, "fn") is None
    stored = audit.read(factory, undone["audit_id"])
    assert stored is not None and stored["outcome"] == "applied"
    arn = factory.client("lambda").get_function(FunctionName="fn")["Configuration"]["FunctionArn"]
    tags = factory.client("lambda").list_tags(Resource=arn)["Tags"]
    assert tags[settings.LAST_REMEDIATION_TAG] == undone["audit_id"]


def test_rollback_dry_run_changes_nothing(standin, factory):
    make_function(factory, "fn")
    applied = fix("fn")
    planned = rollback(applied, dry_run=True)
    assert planned["outcome"] == "dry-run"
    assert "DeleteFunctionConcurrency" in planned["reason"]
    assert reserved(factory, "fn") == 10


def test_rollback_refused_when_the_resource_changed_since(standin, factory):
    make_function(factory, "fn")
    applied = fix("fn")
    factory.client("lambda").put_function_concurrency(
        FunctionName="fn", ReservedConcurrentExecutions=7
    )
    refused = rollback(applied)
    assert refused["outcome"] == "refused"
    assert "changed since" in refused["reason"]
    assert reserved(factory, "fn") == 7


def test_rollback_of_a_record_that_changed_nothing_is_refused(standin, factory):
    make_function(factory, "fn", reserved=3)
    skipped = fix("fn")
    assert skipped["outcome"] == "skipped"
    refused = rollback(skipped)
    assert refused["outcome"] == "refused"
    assert "not applied" in refused["reason"]
    assert reserved(factory, "fn") == 3


def test_rollback_of_an_unknown_audit_id_is_refused(standin, factory):
    make_function(factory, "fn")
    applied = fix("fn")
    forged = dict(applied, audit_id="0000000000000-000000000000")
    refused = rollback(forged)
    assert refused["outcome"] == "refused"
    assert refused["reason"] == "There is no audit record 0000000000000-000000000000."


def test_rollback_request_must_match_the_record(standin, factory):
    make_function(factory, "fn")
    make_function(factory, "other")
    applied = fix("fn")
    refused = rollback(dict(applied, resource_id="other"))
    assert refused["outcome"] == "refused"
    assert "resource_id" in refused["reason"]
    assert reserved(factory, "other") is None and reserved(factory, "fn") == 10


def test_second_rollback_of_the_same_change_is_refused(standin, factory):
    make_function(factory, "fn")
    applied = fix("fn")
    assert rollback(applied)["outcome"] == "applied"
    again = rollback(applied)
    assert again["outcome"] == "refused" and "changed since" in again["reason"]
    assert reserved(factory, "fn") is None


def test_kill_switch_blocks_rollbacks_too(standin, factory):
    make_function(factory, "fn")
    applied = fix("fn")
    factory.client("ssm").put_parameter(
        Name=settings.DEFAULT_KILL_SWITCH_PARAMETER, Value="on", Type="String", Overwrite=True
    )
    blocked = rollback(applied)
    assert blocked["outcome"] == "blocked"
    assert reserved(factory, "fn") == 10


def test_mode_off_does_not_stop_a_human_rollback(standin, factory):
    make_function(factory, "fn")
    applied = fix("fn")
    factory.client("ssm").put_parameter(
        Name=f"/configguard/remediations/{FIX}/mode", Value="off", Type="String", Overwrite=True
    )
    assert rollback(applied)["outcome"] == "applied"
    assert reserved(factory, "fn") is None


def test_malformed_rollback_request_is_rejected(standin, factory):
    make_function(factory, "fn")
    event = rollback_request_event(fix("fn"), actor="carol")
    event["detail"]["auditId"] = "not-an-id"
    with pytest.raises(InvalidTriggerError, match="auditId"):
        handler(event, CTX)


def test_cli_rollback_end_to_end(standin, factory):
    make_function(factory, "fn")
    applied = fix("fn")
    done = subprocess.run(
        [*CLI, "rollback", applied["audit_id"], "--yes", "--endpoint-url", standin.url, *AS_DAVE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    plan, record = json.loads(done.stdout)  # the plan (a dry run), then the rollback
    assert plan["outcome"] == "dry-run"
    assert record["outcome"] == "applied" and record["actor"] == "dave"
    assert reserved(factory, "fn") is None
    outcomes = [r["outcome"] for r in list_records(factory, resource_id="fn")]
    assert outcomes == ["applied", "dry-run", "applied"]

    missing = subprocess.run(
        [*CLI, "rollback", "0000000000000-000000000000", "--endpoint-url", standin.url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode != 0
    assert "no audit record" in missing.stderr
