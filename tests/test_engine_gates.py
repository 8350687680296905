"""Engine gates shared by every fix: account allowlist and blast-radius cap.

Exercised through a real fix (add-concurrency-limit) and its real handler, so the gate
order and the audit records are the ones on-call engineers will read.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import ACCOUNT, lambda_context, load_event, make_function

from configguard import registry, settings
from configguard.remediation import CapReachedError, reserve_change
from configguard_cli.handlers import remediation_module

FIX = "add-concurrency-limit"
handler = remediation_module(FIX).lambda_handler
CTX = lambda_context(f"configguard-{FIX}")


def request(resource_id: str, *, account: str = ACCOUNT, dry_run: bool = False) -> dict:
    event = load_event("add_concurrency_limit/cli-fix-request.json")
    event["id"] = f"evt-{resource_id}-{account}-{dry_run}"
    event["account"] = account
    event["detail"].update(resourceId=resource_id, dryRun=dry_run)
    return event


def run(event: dict) -> dict:
    (result,) = handler(event, CTX)["results"]
    return result


def reserved(factory, name: str) -> int | None:
    answer = factory.client("lambda").get_function_concurrency(FunctionName=name)
    return answer.get("ReservedConcurrentExecutions")


# ------------------------------------------------------------------ account allowlist


def test_unset_allowlist_allows_only_the_own_account(standin, factory):
    make_function(factory, "fn")
    record = run(request("fn", account="111122223333"))
    assert record["outcome"] == "blocked"
    assert record["reason"] == "Account 111122223333 is not in the account allowlist."
    assert reserved(factory, "fn") is None
    assert run(request("fn"))["outcome"] == "applied"


def test_listed_account_is_allowed(standin, factory, monkeypatch):
    monkeypatch.setenv(settings.ACCOUNT_ALLOWLIST, f"111122223333,{ACCOUNT}")
    make_function(factory, "fn")
    assert run(request("fn"))["outcome"] == "applied"


def test_account_outside_an_explicit_allowlist_is_blocked(standin, factory, monkeypatch):
    monkeypatch.setenv(settings.ACCOUNT_ALLOWLIST, "111122223333")
    make_function(factory, "fn")
    record = run(request("fn"))
    assert record["outcome"] == "blocked" and "not in the account allowlist" in record["reason"]
    assert reserved(factory, "fn") is None


@pytest.mark.parametrize("value", ["12345", "123456789012,abc", ",,"])
def test_malformed_allowlist_fails_closed(standin, factory, monkeypatch, value):
    monkeypatch.setenv(settings.ACCOUNT_ALLOWLIST, value)
    make_function(factory, "fn")
    record = run(request("fn"))
    assert record["outcome"] == "blocked"
    assert record["reason"].startswith("Failed closed:")
    assert reserved(factory, "fn") is None


# ------------------------------------------------------------------ blast-radius cap


def test_cap_stops_applying_and_says_why(standin, factory, monkeypatch):
    monkeypatch.setenv(settings.MAX_CHANGES_PER_HOUR, "2")
    for name in ("fn-1", "fn-2", "fn-3"):
        make_function(factory, name)
    outcomes = [run(request(name))["outcome"] for name in ("fn-1", "fn-2")]
    third = run(request("fn-3"))
    assert outcomes == ["applied", "applied"]
    assert third["outcome"] == "blocked"
    assert "Blast-radius cap reached" in third["reason"] and "2 change(s)" in third["reason"]
    assert reserved(factory, "fn-3") is None


def test_dry_runs_do_not_use_the_cap(standin, factory, monkeypatch):
    monkeypatch.setenv(settings.MAX_CHANGES_PER_HOUR, "1")
    make_function(factory, "fn-1")
    make_function(factory, "fn-2")
    assert run(request("fn-1", dry_run=True))["outcome"] == "dry-run"
    assert run(request("fn-2"))["outcome"] == "applied"


def test_cap_zero_blocks_every_apply(standin, factory, monkeypatch):
    monkeypatch.setenv(settings.MAX_CHANGES_PER_HOUR, "0")
    make_function(factory, "fn")
    record = run(request("fn"))
    assert record["outcome"] == "blocked" and "applying is disabled" in record["reason"]
    assert reserved(factory, "fn") is None


def test_unreadable_cap_counter_fails_closed(standin, factory, monkeypatch):
    from botocore.awsrequest import AWSResponse

    def deny_counter(params, **_):
        # before-call sees the serialised request: match the counter's key in the body.
        if b"blast-radius#" in bytes(params.get("body") or b""):
            error = {"Error": {"Code": "AccessDeniedException", "Message": "injected"}}
            return AWSResponse("http://stand-in", 403, {}, None), error
        return None

    make_function(factory, "fn")
    events = factory.client("dynamodb").meta.events
    events.register("before-call.dynamodb.UpdateItem", deny_counter, unique_id="deny-counter")
    try:
        record = run(request("fn"))
    finally:
        events.unregister("before-call.dynamodb.UpdateItem", unique_id="deny-counter")
    assert record["outcome"] == "blocked"
    assert "blast-radius counter unavailable (AccessDeniedException)" in record["reason"]
    assert reserved(factory, "fn") is None


def test_cap_is_per_remediation_and_account(standin, factory, monkeypatch):
    monkeypatch.setenv(settings.MAX_CHANGES_PER_HOUR, "1")
    spec = registry.remediation(FIX)
    assert reserve_change(factory, spec, ACCOUNT) == 1
    assert reserve_change(factory, spec, "111122223333") == 1
    with pytest.raises(CapReachedError):
        reserve_change(factory, spec, ACCOUNT)


def test_concurrent_reservations_never_exceed_the_cap(standin, factory, monkeypatch):
    monkeypatch.setenv(settings.MAX_CHANGES_PER_HOUR, "5")
    spec = registry.remediation(FIX)

    def attempt(_: int) -> bool:
        try:
            reserve_change(factory, spec, ACCOUNT)
        except CapReachedError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        granted = sum(pool.map(attempt, range(20)))
    assert granted == 5
    item = factory.client("dynamodb").scan(TableName=standin.resources.idempotency_table)
    counters = [i for i in item["Items"] if i["id"]["S"].startswith("blast-radius#")]
    assert [json.loads(c["changes"]["N"]) for c in counters] == [5]
    assert all(int(c["expiration"]["N"]) > 0 for c in counters)
