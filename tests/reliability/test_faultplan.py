"""The fault-injection harness itself (faultplan.py), against the stand-in.

Each error kind must reach the caller as the ClientError code and HTTP status the
service really uses, in every protocol configguard's clients speak; retryable kinds must
be retried by botocore (and survive one injection), the others must surface at once;
timeouts must be botocore's exceptions, a read timeout after the stand-in got the
request, a connect timeout before; index and per-operation targeting must hit exactly
the attempt named; a seeded rate must be reproducible; back-off must cost virtual time
only; and a detached plan must leave the clients alone.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError
from faultplan import (
    ACCESS_DENIED,
    CONNECT_TIMEOUT,
    ERRORS,
    READ_TIMEOUT,
    RETRYABLE,
    THROTTLING,
    FaultPlan,
    error_for,
)

from configguard.clients import MAX_ATTEMPTS, ClientFactory

# One cheap read per protocol configguard's clients speak (CloudWatch: json that keeps
# its query error codes in x-amzn-query-error; EC2: its own query dialect).
PROBES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "rest-json": ("lambda", "list_functions", {}),
    "query": ("iam", "list_roles", {}),
    "json": ("kms", "list_keys", {}),
    "json+query-errors": ("cloudwatch", "list_metrics", {}),
    "ec2": ("ec2", "describe_subnets", {}),
}
SHAPES = [(protocol, kind) for protocol in PROBES for kind in ERRORS]
FIGURES: dict[str, int] = {
    "error shapes checked": len(SHAPES),  # every error kind in every protocol
    "timeout kinds checked": 2,
}


@pytest.fixture(scope="module")
def session(module_standin) -> boto3.session.Session:
    """One botocore loader for the module; every test gets clients of its own."""
    return boto3.session.Session()


def fresh(session: boto3.session.Session) -> ClientFactory:
    """A factory with new clients: a retry quota and rate limiter of their own."""
    return ClientFactory(session=session)


def operation_name(client: Any, method: str) -> str:
    return str(client.meta.method_to_api_mapping[method])


def check_shape(session: boto3.session.Session, protocol: str, kind: str) -> list[str]:
    """What is wrong with `kind` injected into one call of `protocol` (empty: nothing)."""
    factory = fresh(session)
    service, method, params = PROBES[protocol]
    client = factory.client(service)
    want_code, want_status = error_for(kind, service, protocol.split("+", maxsplit=1)[0])
    plan = FaultPlan().inject(kind, rate=1.0)
    with plan.attached(factory), pytest.raises(ClientError) as caught:
        getattr(client, method)(**params)
    error = caught.value.response
    # Retryable kinds are retried MAX_ATTEMPTS times (botocore's max_attempts counts
    # retries, not the first attempt); the others surface at once.
    tries = MAX_ATTEMPTS + 1 if kind in RETRYABLE else 1
    got = (
        client.meta.service_model.resolved_protocol,
        error["Error"]["Code"],
        error["ResponseMetadata"]["HTTPStatusCode"],
        error["Error"]["Message"],
        error["ResponseMetadata"]["RetryAttempts"],
        [(a.operation, a.fault, a.code, a.status) for a in plan.attempts],
    )
    want = (
        protocol.split("+", maxsplit=1)[0],
        want_code,
        want_status,
        plan.message,
        tries - 1,
        [(operation_name(client, method), kind, want_code, want_status)] * tries,
    )
    return [] if got == want else [f"{protocol} {kind}: got {got}, want {want}"]


def test_each_error_kind_parses_to_the_services_code_and_status_and_retries(session):
    problems: list[str] = []
    for protocol, kind in SHAPES:
        problems += check_shape(session, protocol, kind)
    assert not problems, "\n".join(problems)
    assert len(SHAPES) == FIGURES["error shapes checked"] == 5 * 6


@pytest.mark.parametrize("kind", sorted(RETRYABLE))
def test_one_retryable_fault_is_absorbed_by_a_retry(session, kind):
    factory = fresh(session)
    plan = FaultPlan().inject(kind, at=0)
    with plan.attached(factory):
        factory.client("lambda").list_functions()
    assert [a.fault for a in plan.attempts] == [kind, None]
    assert plan.retries_absorbed == 1
    assert plan.calls[-1].status == 200 and plan.calls[-1].retries == 1


def test_a_read_timeout_reaches_the_stand_in_and_a_connect_timeout_does_not(session):
    factory = fresh(session)
    logs = factory.client("logs")
    plan = FaultPlan().inject(CONNECT_TIMEOUT, at=0)
    with plan.attached(factory):
        logs.create_log_group(logGroupName="/faultplan/connect")  # the retry creates it
    assert [a.fault for a in plan.attempts] == [CONNECT_TIMEOUT, None]
    plan = FaultPlan().inject(READ_TIMEOUT, at=0)
    with plan.attached(factory), pytest.raises(ClientError) as caught:
        logs.create_log_group(logGroupName="/faultplan/read")
    # The first attempt created the group; botocore's retry of the same request finds it.
    assert caught.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    assert [a.fault for a in plan.attempts] == [READ_TIMEOUT, None]
    found = logs.describe_log_groups(logGroupNamePrefix="/faultplan")["logGroups"]
    names = [g["logGroupName"] for g in found]
    assert names == ["/faultplan/connect", "/faultplan/read"]


def test_persistent_timeouts_raise_botocores_exception_after_every_attempt(session):
    raised = []
    for kind, error in ((READ_TIMEOUT, ReadTimeoutError), (CONNECT_TIMEOUT, ConnectTimeoutError)):
        factory = fresh(session)
        plan = FaultPlan().inject(kind, rate=1.0)
        with plan.attached(factory), pytest.raises(error):
            factory.client("sts").get_caller_identity()
        assert [a.fault for a in plan.attempts] == [kind] * (MAX_ATTEMPTS + 1)
        raised.append(kind)
    assert len(raised) == FIGURES["timeout kinds checked"]


SEQUENCE = [
    ("sts", "get_caller_identity", {}),
    ("lambda", "list_functions", {}),
    ("kms", "list_keys", {}),
    ("lambda", "list_functions", {}),
    ("iam", "list_roles", {}),
    ("lambda", "list_functions", {}),
]


def run_sequence(factory: ClientFactory) -> list[str]:
    """Each call's outcome: 'ok' or its error code."""
    outcomes = []
    for service, method, params in SEQUENCE:
        try:
            getattr(factory.client(service), method)(**params)
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])
    return outcomes


@pytest.mark.parametrize("index", range(len(SEQUENCE)))
def test_index_targeting_hits_exactly_that_attempt_across_clients(session, index):
    factory = fresh(session)
    plan = FaultPlan().inject(ACCESS_DENIED, at=index)
    with plan.attached(factory):
        outcomes = run_sequence(factory)
    service = SEQUENCE[index][0]
    protocol = factory.client(service).meta.service_model.resolved_protocol
    denied = error_for(ACCESS_DENIED, service, protocol)[0]
    assert outcomes == ["ok"] * index + [denied] + ["ok"] * (len(SEQUENCE) - index - 1)
    assert [a.index for a in plan.injections] == [index]
    assert [a.index for a in plan.attempts] == list(range(len(SEQUENCE)))


def test_per_operation_targeting_counts_attempts_of_that_operation(session):
    factory = fresh(session)
    plan = FaultPlan().inject(
        ACCESS_DENIED, when=lambda a: a.operation == "ListFunctions" and a.nth == 1
    )
    with plan.attached(factory):
        outcomes = run_sequence(factory)
    assert outcomes == ["ok", "ok", "ok", "AccessDeniedException", "ok", "ok"]
    (hit,) = plan.injections
    assert (hit.index, hit.service, hit.operation, hit.nth) == (3, "lambda", "ListFunctions", 1)


def throttled_run(session: boto3.session.Session, seed: int, calls: int = 60) -> FaultPlan:
    """`calls` ListFunctions with half of all attempts throttled; failures are kept."""
    factory = fresh(session)
    plan = FaultPlan(seed=seed).inject(THROTTLING, rate=0.5)
    with plan.attached(factory):
        for _ in range(calls):
            with contextlib.suppress(ClientError):
                factory.client("lambda").list_functions()
    return plan


def test_a_seeded_rate_is_reproducible_and_near_its_share(session):
    first, again, other = (throttled_run(session, s) for s in (7, 7, 8))
    pattern = [a.fault for a in first.attempts]
    assert pattern == [a.fault for a in again.attempts]
    assert pattern != [a.fault for a in other.attempts]
    share = len(first.injections) / len(first.attempts)
    assert 0.35 <= share <= 0.65
    # A call fails only when every one of its attempts was throttled; every other
    # throttle was absorbed by a retry.
    assert len(first.calls) == 60
    failed = [c for c in first.calls if c.status >= 300]
    assert all(c.retries == MAX_ATTEMPTS and c.code == "TooManyRequestsException" for c in failed)
    absorbed = len(first.injections) - len(failed) * (MAX_ATTEMPTS + 1)
    assert all(c.injected for c in failed)
    assert first.retries_absorbed == absorbed > 0


def test_back_off_runs_on_virtual_time(session):
    started = time.monotonic()
    plan = throttled_run(session, 3)
    elapsed = time.monotonic() - started
    # botocore asked for seconds of back-off and adaptive rate limiting; none were slept.
    assert plan.clock.sleeps >= len(plan.injections)
    assert plan.clock.slept > 5.0
    assert elapsed < plan.clock.slept


def test_a_detached_plan_injects_nothing(session):
    factory = fresh(session)
    plan = FaultPlan().inject(ACCESS_DENIED, rate=1.0)
    with plan.attached(factory), pytest.raises(ClientError):
        factory.client("lambda").list_functions()
    factory.client("lambda").list_functions()
    factory.client("kms").list_keys()  # a client made after detaching
    assert len(plan.attempts) == 1
