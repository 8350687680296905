"""Waiting for a Lambda function's configuration updates to settle.

Lambda rejects an update while another is in progress (ResourceConflictException), and
an update that fails leaves LastUpdateStatus=Failed. Fixes wait before and after acting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

SETTLED = "Successful"
DEFAULT_TIMEOUT_SECONDS = 120.0


class UpdateNotSettledError(RuntimeError):
    """The function's last update failed or did not finish in time."""


def wait_until_updated(
    lambda_client: Any,
    name: str,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    interval: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """The function's configuration once LastUpdateStatus is Successful.

    Raises UpdateNotSettledError when the update failed (with Lambda's reason code, never
    configuration values) or is still in progress after `timeout` seconds.
    """
    deadline = clock() + timeout
    while True:
        conf: dict[str, Any] = lambda_client.get_function_configuration(FunctionName=name)
        status = conf.get("LastUpdateStatus") or SETTLED
        state = conf.get("State") or "Active"
        if status == "Failed" or state == "Failed":
            code = conf.get("LastUpdateStatusReasonCode") or conf.get("StateReasonCode") or ""
            raise UpdateNotSettledError(f"function {name} update failed ({code or 'no reason'})")
        if status == SETTLED and state not in ("Pending",):
            return conf
        if clock() >= deadline:
            raise UpdateNotSettledError(
                f"function {name} still {status}/{state} after {timeout:.0f} s"
            )
        sleep(interval)
