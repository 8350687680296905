"""Fault injection against the stand-in: AWS errors and timeouts at chosen requests.

A `FaultPlan` watches every client of one `ClientFactory` (the one the handlers use) at
botocore's `before-send` event, i.e. below the retry handler: an injected answer is
parsed, judged retryable or not, retried and backed off exactly as a real AWS answer
would be. Errors come in each protocol's real shape (json `__type`, rest-json
`x-amzn-ErrorType`, query XML `<ErrorResponse>`), with the status code
and error code the service really uses for that kind of fault. Timeouts are botocore's
own exceptions: a connect timeout never reaches the stand-in, a read timeout does (the
request is sent and its answer dropped, so a retried write runs twice).

Faults are chosen per request (one HTTP attempt): by index across all clients of the
factory (`at`), by any predicate over the attempt (`when`: service, operation, the
nth attempt of an operation, the test's phase label) and/or by a seeded rate. Every
attempt, injection and finished API call is recorded for the tests to assert on.

botocore sleeps between retries (`botocore.endpoint`) and waits for tokens in the
adaptive rate limiter's bucket (`botocore.retries.bucket`); while attached, the plan
counts those waits on a virtual clock instead, so 50 % throttling costs no wall time
and the virtual seconds are reported. Nothing in production code knows about any of this.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import CapacityNotAvailableError, ConnectTimeoutError, ReadTimeoutError
from botocore.httpsession import URLLib3Session
from botocore.retries import bucket

from configguard.clients import ClientFactory

THROTTLING = "throttling"
TOO_MANY_REQUESTS = "too-many-requests"
SERVER_ERROR = "server-error"
ACCESS_DENIED = "access-denied"
NOT_FOUND = "not-found"
CONFLICT = "conflict"
READ_TIMEOUT = "read-timeout"  # the request reached the stand-in; its answer was lost
CONNECT_TIMEOUT = "connect-timeout"  # the request never reached the stand-in
ERRORS = (THROTTLING, TOO_MANY_REQUESTS, SERVER_ERROR, ACCESS_DENIED, NOT_FOUND, CONFLICT)
TIMEOUTS = (READ_TIMEOUT, CONNECT_TIMEOUT)
KINDS = ERRORS + TIMEOUTS
# What botocore's standard/adaptive retry handler retries (the others surface at once).
RETRYABLE = frozenset({THROTTLING, TOO_MANY_REQUESTS, SERVER_ERROR, *TIMEOUTS})

INJECTED_HEADER = "x-faultplan-injected"  # marks an answer the plan made up
READ_PREFIXES = ("Get", "List", "Describe", "BatchGet", "Query", "Scan", "Lookup", "Search")

# (code, HTTP status) per kind: the service's own where it has one, else by protocol.
_BY_SERVICE: dict[str, dict[str, tuple[str, int]]] = {
    THROTTLING: {
        "lambda": ("TooManyRequestsException", 429),
        "apigateway": ("TooManyRequestsException", 429),
        "apigatewayv2": ("TooManyRequestsException", 429),
        "securityhub": ("TooManyRequestsException", 429),
        "iam": ("Throttling", 400),
        "sts": ("Throttling", 400),
        "sns": ("Throttling", 400),
        "dynamodb": ("ProvisionedThroughputExceededException", 400),
        "ec2": ("RequestLimitExceeded", 503),
    },
    SERVER_ERROR: {
        "lambda": ("ServiceException", 500),
        "iam": ("ServiceFailure", 500),
        "dynamodb": ("InternalServerError", 500),
        "kms": ("KMSInternalException", 500),
        "apigateway": ("ServiceUnavailableException", 503),
        "apigatewayv2": ("ServiceUnavailableException", 503),
        "logs": ("ServiceUnavailableException", 503),
        "securityhub": ("InternalException", 500),
        "ec2": ("InternalError", 500),
    },
    ACCESS_DENIED: {"ec2": ("UnauthorizedOperation", 403)},
    NOT_FOUND: {
        "lambda": ("ResourceNotFoundException", 404),
        "apigateway": ("NotFoundException", 404),
        "apigatewayv2": ("NotFoundException", 404),
        "iam": ("NoSuchEntity", 404),
        "kms": ("NotFoundException", 400),
        "cloudtrail": ("TrailNotFoundException", 400),
        "wafv2": ("WAFNonexistentItemException", 400),
        "ssm": ("ParameterNotFound", 400),
        "sns": ("NotFound", 404),
        "securityhub": ("ResourceNotFoundException", 404),
        "config": ("NoSuchConfigRuleException", 400),
        "ec2": ("InvalidSubnetID.NotFound", 400),
    },
    CONFLICT: {
        "lambda": ("ResourceConflictException", 409),
        "dynamodb": ("TransactionConflictException", 400),
        "ec2": ("IncorrectState", 400),
    },
}
_BY_PROTOCOL: dict[str, dict[str, tuple[str, int]]] = {
    THROTTLING: {"query": ("Throttling", 400), "rest-json": ("TooManyRequestsException", 429)},
    SERVER_ERROR: {"query": ("InternalFailure", 500)},
    ACCESS_DENIED: {"query": ("AccessDenied", 403), "rest-json": ("AccessDeniedException", 403)},
    NOT_FOUND: {"rest-json": ("NotFoundException", 404)},
    CONFLICT: {"rest-json": ("ConflictException", 409)},
}
_DEFAULT: dict[str, tuple[str, int]] = {
    THROTTLING: ("ThrottlingException", 400),
    TOO_MANY_REQUESTS: ("TooManyRequestsException", 429),
    SERVER_ERROR: ("InternalFailure", 500),
    ACCESS_DENIED: ("AccessDeniedException", 400),
    NOT_FOUND: ("ResourceNotFoundException", 400),
    CONFLICT: ("ConflictException", 409),
}


def error_for(kind: str, service: str, protocol: str) -> tuple[str, int]:
    """The (error code, HTTP status) `service` answers for a fault of `kind`."""
    if kind not in _DEFAULT:
        raise ValueError(f"{kind!r} is not an error kind")
    found = _BY_SERVICE.get(kind, {}).get(service)
    return found or _BY_PROTOCOL.get(kind, {}).get(protocol) or _DEFAULT[kind]


def is_write(operation: str) -> bool:
    return not operation.startswith(READ_PREFIXES)


# ------------------------------------------------------------------ wire format


class _Raw:
    """The `raw` of an AWSResponse: what botocore streams the body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def error_response(
    url: str,
    protocol: str,
    target_prefix: str,
    code: str,
    status: int,
    message: str,
    *,
    query_compatible: bool = False,
) -> AWSResponse:
    """An HTTP error answer exactly as the protocol carries it."""
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id, INJECTED_HEADER: code}
    if query_compatible:  # a json service that keeps its old query error codes (CloudWatch)
        headers["x-amzn-query-error"] = f"{code};Sender"
    if protocol == "query":
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers["Content-Type"] = "text/xml"
    elif protocol == "ec2":
        body = (
            "<Response><Errors><Error>"
            f"<Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers["Content-Type"] = "text/xml"
    elif protocol == "rest-json":
        headers["x-amzn-ErrorType"] = f"{code}:http://internal.amazon.com/coral/com.amazon.{code}/"
        headers["Content-Type"] = "application/json"
        body = json.dumps({"message": message}).encode()
    elif protocol == "json":
        headers["Content-Type"] = "application/x-amz-json-1.1"
        body = json.dumps({"__type": f"{target_prefix}#{code}", "message": message}).encode()
    else:
        raise ValueError(f"no error shape for protocol {protocol!r}")
    return AWSResponse(url, status, headers, _Raw(body))


# ------------------------------------------------------------------ virtual time


class VirtualClock:
    """Counts the seconds botocore was told to wait (which it then does not wait)."""

    def __init__(self) -> None:
        self.slept = 0.0
        self.sleeps = 0
        self._lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept += max(0.0, float(seconds))
            self.sleeps += 1


class _TimeModule:
    """`time` for botocore.endpoint: everything real except sleep."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        self._clock.sleep(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _virtual_acquire(clock: VirtualClock) -> Callable[..., bool]:
    """TokenBucket._acquire that does not wait for tokens: it counts the wait on `clock`
    and credits what the bucket would have refilled meanwhile. The bucket's own clock
    stays real, so nothing is left in the future when the plan detaches."""

    def acquire(self: Any, amount: int, block: bool) -> bool:
        self._refill()
        if amount > self._current_capacity:
            if not block:
                raise CapacityNotAvailableError()
            clock.sleep(self._sleep_amount(amount))
            self._current_capacity = amount
        self._current_capacity -= amount
        return True

    return acquire


@contextmanager
def virtual_time(clock: VirtualClock) -> Iterator[VirtualClock]:
    """botocore's retry back-off and adaptive rate limiting wait on `clock`, not for real."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.endpoint, "time", _TimeModule(clock))
        patch.setattr(bucket.TokenBucket, "_acquire", _virtual_acquire(clock))
        yield clock


# ------------------------------------------------------------------ the plan


@dataclass(frozen=True)
class Attempt:
    """One HTTP request a client was about to send."""

    index: int  # across every client of the factory, from 0
    service: str  # the client's service name, e.g. "lambda"
    operation: str  # e.g. "UpdateFunctionConfiguration"
    nth: int  # the how-many-th attempt of this service and operation, from 0
    phase: str  # the test's label at the time (FaultPlan.phase)
    fault: str | None = None  # the kind injected, None when the request went through
    code: str | None = None  # the error code injected (None for timeouts)
    status: int | None = None

    @property
    def write(self) -> bool:
        return is_write(self.operation)


@dataclass(frozen=True)
class Call:
    """One API call as the caller saw it (after botocore's retries)."""

    service: str
    operation: str
    status: int
    retries: int
    code: str | None
    injected: bool  # the final answer came from the plan (the retries did not help)


@dataclass
class _Rule:
    kind: str
    at: int | None
    when: Callable[[Attempt], bool] | None
    rate: float | None
    times: int | None
    fired: int = 0


Selector = Callable[[Attempt], bool]


@dataclass
class FaultPlan:
    """Which requests fail and how; what happened. Attach it with `plan.attached(factory)`."""

    seed: int = 0
    message: str = "injected by the fault plan"
    phase: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    clock: VirtualClock = field(default_factory=VirtualClock)
    _rules: list[_Rule] = field(default_factory=list)
    _rng: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _nth: dict[tuple[str, str], int] = field(default_factory=dict)
    _watched: dict[int, Any] = field(default_factory=dict)
    _http: URLLib3Session | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    # ------------------------------------------------------------ choosing

    def inject(
        self,
        kind: str,
        *,
        at: int | None = None,
        when: Selector | None = None,
        rate: float | None = None,
        times: int | None = None,
    ) -> FaultPlan:
        """Fail matching attempts with `kind`: attempt index `at`, those `when` accepts,
        a seeded share `rate` of them, at most `times` times. The first matching rule wins."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        if at is None and when is None and rate is None:
            raise ValueError("say which attempts: at, when or rate")
        self._rules.append(_Rule(kind, at, when, rate, times if at is None else 1))
        return self

    def _choose(self, attempt: Attempt) -> str | None:
        for rule in self._rules:
            if rule.times is not None and rule.fired >= rule.times:
                continue
            if rule.at is not None and attempt.index != rule.at:
                continue
            if rule.when is not None and not rule.when(attempt):
                continue
            # One draw per rated rule and eligible attempt: the sequence depends on the seed only.
            if rule.rate is not None and self._rng.random() >= rule.rate:
                continue
            rule.fired += 1
            return rule.kind
        return None

    # ------------------------------------------------------------ what happened

    @property
    def injections(self) -> list[Attempt]:
        return [a for a in self.attempts if a.fault]

    @property
    def retries_absorbed(self) -> int:
        """Retries after which a call got the service's real answer."""
        return sum(c.retries for c in self.calls if not c.injected)

    def operations(self, *, phase: str | None = None) -> list[str]:
        return [a.operation for a in self.attempts if phase is None or a.phase == phase]

    @contextmanager
    def during(self, phase: str) -> Iterator[None]:
        earlier, self.phase = self.phase, phase
        try:
            yield
        finally:
            self.phase = earlier

    # ------------------------------------------------------------ attaching

    @contextmanager
    def attached(self, factory: ClientFactory) -> Iterator[FaultPlan]:
        """Watch every client `factory` hands out (cached or new) on virtual time."""
        original = factory.client

        def client(service: str, region: str | None = None) -> Any:
            made = original(service, region)
            self._watch(made)
            return made

        with virtual_time(self.clock), pytest.MonkeyPatch.context() as patch:
            patch.setattr(factory, "client", client)
            for cached in list(factory._cache.values()):
                self._watch(cached)
            try:
                yield self
            finally:
                for watched in self._watched.values():
                    watched.meta.events.unregister("before-send", unique_id=self._id("send"))
                    watched.meta.events.unregister("after-call", unique_id=self._id("call"))
                self._watched.clear()
                if self._http is not None:
                    self._http.close()
                    self._http = None

    def _id(self, what: str) -> str:
        return f"faultplan-{what}-{id(self)}"

    def _watch(self, client: Any) -> None:
        with self._lock:
            if id(client) in self._watched:
                return
            self._watched[id(client)] = client
        model = client.meta.service_model
        service = model.service_name
        protocol = model.resolved_protocol
        prefix = str(model.metadata.get("targetPrefix") or model.service_id)
        compatible = "awsQueryCompatible" in model.metadata

        def before_send(request: Any, event_name: str, **_: Any) -> AWSResponse | None:
            return self._before_send(request, event_name, service, protocol, prefix, compatible)

        def after_call(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
            meta = parsed.get("ResponseMetadata") or {}
            code = (parsed.get("Error") or {}).get("Code")
            with self._lock:
                self.calls.append(
                    Call(
                        service,
                        model.name,
                        int(http_response.status_code),
                        int(meta.get("RetryAttempts") or 0),
                        code,
                        INJECTED_HEADER in http_response.headers,
                    )
                )

        client.meta.events.register("before-send", before_send, unique_id=self._id("send"))
        client.meta.events.register("after-call", after_call, unique_id=self._id("call"))

    def _before_send(
        self,
        request: Any,
        event_name: str,
        service: str,
        protocol: str,
        prefix: str,
        query_compatible: bool,
    ) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            nth = self._nth.get((service, operation), 0)
            self._nth[(service, operation)] = nth + 1
            attempt = Attempt(len(self.attempts), service, operation, nth, self.phase)
            kind = self._choose(attempt)
            code, status = (None, None)
            if kind in ERRORS:
                code, status = error_for(kind, service, protocol)
            self.attempts.append(
                Attempt(attempt.index, service, operation, nth, self.phase, kind, code, status)
            )
        if kind is None:
            return None
        if kind == CONNECT_TIMEOUT:
            raise ConnectTimeoutError(endpoint_url=request.url)
        if kind == READ_TIMEOUT:
            self._send_and_drop(request)
            raise ReadTimeoutError(endpoint_url=request.url)
        assert code is not None and status is not None
        return error_response(
            request.url,
            protocol,
            prefix,
            code,
            status,
            self.message,
            query_compatible=query_compatible,
        )

    def _send_and_drop(self, request: Any) -> None:
        """Deliver the request to the stand-in and ignore the answer (it was "lost")."""
        with self._lock:
            if self._http is None:
                self._http = URLLib3Session()
            http = self._http
        http.send(request)
