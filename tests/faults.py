"""Inject AWS errors into a client through botocore's event hooks (no mocks of AWS state)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.awsrequest import AWSResponse


@contextmanager
def inject_error(
    client: Any,
    operation: str,
    code: str,
    status: int = 400,
    message: str = "injected",
    *,
    skip: int = 0,
) -> Iterator[list[str]]:
    """Every call to `operation` on `client` after the first `skip` fails with `code`
    before reaching the server."""
    seen: list[str] = []
    passed: list[str] = []
    event = f"before-call.{client.meta.service_model.service_name}.{operation}"

    def fail(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if len(passed) < skip:
            passed.append(operation)
            return None
        seen.append(operation)
        http = AWSResponse("http://stand-in", status, {}, None)
        parsed = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return http, parsed

    client.meta.events.register(event, fail, unique_id=f"inject-{operation}")
    try:
        yield seen
    finally:
        client.meta.events.unregister(event, unique_id=f"inject-{operation}")


@contextmanager
def swallow_call(client: Any, operation: str, response: dict[str, Any]) -> Iterator[list[str]]:
    """`operation` reports success without reaching the server: a silently ignored update."""
    seen: list[str] = []
    event = f"before-call.{client.meta.service_model.service_name}.{operation}"

    def ignore(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        seen.append(operation)
        return AWSResponse("http://stand-in", 200, {}, None), dict(response)

    client.meta.events.register(event, ignore, unique_id=f"swallow-{operation}")
    try:
        yield seen
    finally:
        client.meta.events.unregister(event, unique_id=f"swallow-{operation}")
