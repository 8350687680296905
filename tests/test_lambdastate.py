"""configguard.lambdastate.wait_until_updated, against the stand-in.

Lambda's in-progress and failed states are scripted into GetFunctionConfiguration through
botocore's event hooks (the stand-in applies updates at once); time is a fake clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from conftest import make_function

from configguard.lambdastate import UpdateNotSettledError, wait_until_updated

SECRET = "do-not-print-me"


@pytest.fixture(scope="module")
def lam(module_factory):
    make_function(module_factory, "settled", Environment={"Variables": {"TOKEN": SECRET}})
    return module_factory.client("lambda")


class FakeTime:
    """A monotonic clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@contextmanager
def scripted(client: Any, *states: dict[str, Any]) -> Iterator[list[str]]:
    """The next GetFunctionConfiguration calls answer `states`; later ones reach the stand-in."""
    queue = list(states)
    seen: list[str] = []

    def answer(**_: Any) -> Any:
        seen.append("GetFunctionConfiguration")
        if not queue:
            return None
        body = {"FunctionName": "settled", "Environment": {"Variables": {"TOKEN": SECRET}}}
        body.update(queue.pop(0))
        return AWSResponse("http://stand-in", 200, {}, None), body

    event = "before-call.lambda.GetFunctionConfiguration"
    client.meta.events.register(event, answer, unique_id="scripted")
    try:
        yield seen
    finally:
        client.meta.events.unregister(event, unique_id="scripted")


def test_settled_function_returns_at_once(lam):
    time = FakeTime()
    conf = wait_until_updated(lam, "settled", sleep=time.sleep, clock=time.clock)
    assert conf["FunctionName"] == "settled"
    assert conf["LastUpdateStatus"] == "Successful"
    assert time.slept == []


def test_in_progress_is_polled_until_successful(lam):
    time = FakeTime()
    in_progress = {"State": "Active", "LastUpdateStatus": "InProgress"}
    with scripted(lam, in_progress, in_progress) as seen:
        conf = wait_until_updated(lam, "settled", interval=2.0, sleep=time.sleep, clock=time.clock)
    assert conf["LastUpdateStatus"] == "Successful"  # the stand-in's own answer
    assert len(seen) == 3 and time.slept == [2.0, 2.0]


def test_pending_state_is_waited_for(lam):
    time = FakeTime()
    with scripted(lam, {"State": "Pending", "LastUpdateStatus": "Successful"}) as seen:
        wait_until_updated(lam, "settled", sleep=time.sleep, clock=time.clock)
    assert len(seen) == 2 and time.slept == [1.0]


def test_missing_status_fields_count_as_settled(lam):
    time = FakeTime()
    with scripted(lam, {}) as seen:
        conf = wait_until_updated(lam, "settled", sleep=time.sleep, clock=time.clock)
    assert len(seen) == 1 and "LastUpdateStatus" not in conf


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (
            {
                "State": "Active",
                "LastUpdateStatus": "Failed",
                "LastUpdateStatusReasonCode": "KMSKeyAccessDenied",
            },
            "KMSKeyAccessDenied",
        ),
        ({"State": "Failed", "StateReasonCode": "InvalidRuntime"}, "InvalidRuntime"),
        ({"State": "Active", "LastUpdateStatus": "Failed"}, "no reason"),
    ],
)
def test_failed_update_raises_with_the_reason_code_only(lam, state, code):
    time = FakeTime()
    with scripted(lam, state), pytest.raises(UpdateNotSettledError) as raised:
        wait_until_updated(lam, "settled", sleep=time.sleep, clock=time.clock)
    assert str(raised.value) == f"function settled update failed ({code})"
    assert SECRET not in str(raised.value)
    assert time.slept == []


def test_update_still_in_progress_after_the_timeout_raises(lam):
    time = FakeTime()
    stuck = [{"State": "Active", "LastUpdateStatus": "InProgress"}] * 20
    with scripted(lam, *stuck) as seen, pytest.raises(UpdateNotSettledError) as raised:
        wait_until_updated(
            lam, "settled", timeout=5.0, interval=1.0, sleep=time.sleep, clock=time.clock
        )
    assert str(raised.value) == "function settled still InProgress/Active after 5 s"
    assert time.slept == [1.0] * 5 and len(seen) == 6
