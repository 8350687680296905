"""Concurrency of the remediation engine (issue 10, item 4), through the real handlers.

Threads released together by a barrier invoke a fix's real Lambda handler, sharing one
process-wide client factory (each boto3 client is shared by the threads), with the
interpreter switching threads every microsecond so that races show. Lambda runs one
invocation per process at a time, and Powertools Metrics keeps one buffer per process;
so that threads can stand in for concurrent sandboxes, that buffer is locked (a flush
would otherwise find another thread's metrics gone). Nothing else is shared or mocked.

- 10 copies of the same event (what at-least-once delivery can produce) make exactly one
  change: one change call reaches the stand-in, one `applied` audit record, and the other
  nine are recorded as duplicates (in progress elsewhere, or already handled) without
  touching the resource;
- N distinct noncompliant functions invoked at once against a blast-radius cap C < N:
  exactly C are applied, N - C are blocked by the cap, and the hour's counter says C.

Each scenario runs ROUNDS times on fresh resources to give races a chance.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from conftest import ACCOUNT, compliance_change, lambda_context, make_function

from configguard import settings
from configguard.clients import ClientFactory
from configguard.observability import metrics
from configguard.remediation import RequestInProgressError
from configguard_cli.auditlog import list_records
from configguard_cli.handlers import remediation_module

ROUNDS = 5
COPIES = 10
CAP, CAP_TARGETS = 3, 7
MODE_TAG = "configguard:strip-secrets-mode"
# The one call that changes the resource, per fix.
CHANGE = {
    "strip-env-secrets": "UpdateFunctionConfiguration",
    "add-concurrency-limit": "PutFunctionConcurrency",
}

FIGURES: dict[str, int] = {
    "duplicate events run": len(CHANGE) * ROUNDS * COPIES,
    "concurrent cap runs": ROUNDS * CAP_TARGETS,
}


# ----------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _races_show(module_standin: Any) -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


@pytest.fixture(autouse=True)
def _one_metrics_buffer_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = threading.RLock()
    provider = metrics.provider

    def locked(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(*args, **kwargs)

        return call

    for name in ("add_metric", "add_dimension", "flush_metrics"):
        monkeypatch.setattr(provider, name, locked(getattr(provider, name)))


@contextlib.contextmanager
def lambda_calls(factory: ClientFactory) -> Iterator[list[str]]:
    """Lambda operations that reached the stand-in (answered), from every thread."""
    calls: list[str] = []

    def answered(model: Any, **_: Any) -> None:
        calls.append(model.name)

    events = factory.client("lambda").meta.events
    events.register("after-call.lambda.*", answered, unique_id="concurrency-calls")
    try:
        yield calls
    finally:
        events.unregister("after-call.lambda.*", unique_id="concurrency-calls")


def at_once(invoke: Callable[[dict[str, Any]], Any], events: list[dict[str, Any]]) -> list[Any]:
    """Invoke with every event from its own thread, all released together; the results
    (or the exception a thread raised) in event order."""
    barrier = threading.Barrier(len(events))

    def one(event: dict[str, Any]) -> Any:
        barrier.wait()
        try:
            return invoke(event)
        except Exception as exc:  # a thread's error is part of the result
            return exc

    with ThreadPoolExecutor(max_workers=len(events)) as pool:
        return list(pool.map(one, events))


def handler_of(fix: str) -> Callable[[dict[str, Any]], Any]:
    handler = remediation_module(fix).lambda_handler
    context = lambda_context(f"configguard-{fix}")
    return lambda event: handler(event, context)


def config_event(fix: str, name: str) -> dict[str, Any]:
    """The fix's sample compliance change, aimed at function `name`."""
    return compliance_change(fix.replace("-", "_"), name)


def noncompliant_function(factory: ClientFactory, fix: str, name: str) -> dict[str, str]:
    """A function the fix would change: plaintext secrets (replace mode) or no reserved
    concurrency. Its environment is returned."""
    if fix == "strip-env-secrets":
        variables = {"MODE": "live", "API_TOKEN": secrets.token_hex(20)}
        make_function(
            factory, name, tags={MODE_TAG: "replace"}, Environment={"Variables": variables}
        )
        return variables
    make_function(factory, name)
    return {}


def raised(results: list[Any]) -> str:
    """The tracebacks of the threads that raised (for the assertion message)."""
    return "\n".join(
        "".join(traceback.format_exception(r)) for r in results if isinstance(r, Exception)
    )


def outcome_of(result: Any) -> str:
    if isinstance(result, RequestInProgressError):
        return "duplicate"  # recorded; the invocation fails so that Lambda retries it
    if isinstance(result, Exception):
        return f"raised {type(result).__name__}"
    [record] = result["results"]
    return str(record["outcome"])


def cap_counter(factory: ClientFactory, fix: str) -> list[int]:
    table = settings.require(settings.IDEMPOTENCY_TABLE)
    items = factory.client("dynamodb").scan(TableName=table)["Items"]
    prefix = f"blast-radius#{fix}#{ACCOUNT}#"
    return [int(i["changes"]["N"]) for i in items if i["id"]["S"].startswith(prefix)]


def new_hour(factory: ClientFactory, fix: str) -> None:
    """Forget the hour's cap counter (what the next UTC hour does)."""
    table = settings.require(settings.IDEMPOTENCY_TABLE)
    dynamodb = factory.client("dynamodb")
    for item in dynamodb.scan(TableName=table)["Items"]:
        if item["id"]["S"].startswith(f"blast-radius#{fix}#"):
            dynamodb.delete_item(TableName=table, Key={"id": item["id"]})


def cleanup(factory: ClientFactory, names: list[str]) -> None:
    """Delete the round's functions (their reserved concurrency returns to the pool)."""
    lam = factory.client("lambda")
    for name in names:
        lam.delete_function(FunctionName=name)


# ------------------------------------------------------------------------- tests


def test_figures_match_the_runs() -> None:
    assert FIGURES == {"duplicate events run": 100, "concurrent cap runs": 35}
    assert CAP < CAP_TARGETS


@pytest.mark.parametrize("fix", list(CHANGE))
def test_duplicate_events_from_threads_make_exactly_one_change(module_factory, monkeypatch, fix):
    factory = module_factory
    monkeypatch.setenv(settings.MAX_CHANGES_PER_HOUR, "100000")
    invoke, runs = handler_of(fix), 0
    for round_ in range(ROUNDS):
        name = f"dup-{fix}-{round_}"
        original = noncompliant_function(factory, fix, name)
        event = config_event(fix, name)
        with lambda_calls(factory) as calls:
            results = at_once(invoke, [json.loads(json.dumps(event)) for _ in range(COPIES)])
        runs += len(results)
        assert sorted(map(outcome_of, results)) == ["applied"] + ["duplicate"] * (COPIES - 1), (
            raised(results)
        )
        assert calls.count(CHANGE[fix]) == 1, calls
        records = list_records(factory, resource_id=name)
        [applied] = [r for r in records if r["outcome"] == "applied"]
        duplicates = [r for r in records if r["outcome"] == "duplicate"]
        assert len(records) == COPIES and len(duplicates) == COPIES - 1
        for record in duplicates:
            # Still running elsewhere, or already handled (then it names the applied record).
            assert record["reason"] == (
                "The same request is being processed by another invocation."
            ) or (
                record["reason"] == "Already handled (outcome applied)."
                and record["related_audit_id"] == applied["audit_id"]
            ), record
        lam = factory.client("lambda")
        if fix == "strip-env-secrets":
            arn = applied["details"]["secretArn"]
            versions = factory.client("secretsmanager").list_secret_version_ids(SecretId=arn)
            assert len(versions["Versions"]) == 1
            conf = lam.get_function_configuration(FunctionName=name)
            assert conf["Environment"]["Variables"] == {
                **original,
                "API_TOKEN": "",
                "API_TOKEN_SECRET_ARN": arn,
            }
        else:
            reserved = lam.get_function_concurrency(FunctionName=name)
            assert (
                reserved["ReservedConcurrentExecutions"]
                == applied["after"]["reservedConcurrentExecutions"]
            )
        cleanup(factory, [name])
    assert runs == FIGURES["duplicate events run"] // len(CHANGE)


def test_blast_radius_cap_holds_under_concurrent_invocations(module_factory, monkeypatch):
    factory, fix = module_factory, "add-concurrency-limit"
    monkeypatch.setenv(settings.MAX_CHANGES_PER_HOUR, str(CAP))
    invoke, runs = handler_of(fix), 0
    for round_ in range(ROUNDS):
        new_hour(factory, fix)
        names = [f"cap-{round_}-{i}" for i in range(CAP_TARGETS)]
        for name in names:
            noncompliant_function(factory, fix, name)
        with lambda_calls(factory) as calls:
            results = at_once(invoke, [config_event(fix, name) for name in names])
        runs += len(results)
        outcomes = list(map(outcome_of, results))
        assert sorted(outcomes) == ["applied"] * CAP + ["blocked"] * (CAP_TARGETS - CAP), raised(
            results
        )
        assert calls.count(CHANGE[fix]) == CAP
        assert cap_counter(factory, fix) == [CAP]
        lam = factory.client("lambda")
        for name, outcome in zip(names, outcomes, strict=True):
            reserved = lam.get_function_concurrency(FunctionName=name)
            assert ("ReservedConcurrentExecutions" in reserved) == (outcome == "applied")
            [record] = list_records(factory, resource_id=name)
            assert record["outcome"] == outcome
            if outcome == "blocked":
                assert record["reason"].startswith("Blast-radius cap reached"), record
        cleanup(factory, names)
    assert runs == FIGURES["concurrent cap runs"]
