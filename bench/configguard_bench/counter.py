"""Count API calls from the stand-in's request log (see configguard_cli.local.requestlog).

Each logged request is named `service:Operation` with botocore's own service models:
the X-Amz-Target header for JSON protocols, the form's Action for query protocols,
and the HTTP method plus the model's request URI template for REST protocols.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session

# Signing name (credential scope) -> the botocore services that sign with it.
_SIGNING_ALIASES = {
    "apigateway": ("apigateway", "apigatewayv2"),
    "execute-api": ("apigateway",),
    "tagging": ("resourcegroupstaggingapi",),
    "monitoring": ("cloudwatch",),
    "states": ("stepfunctions",),
    "email": ("ses",),
}
_LABEL = re.compile(r"\{([^}]+?)(\+?)\}")


@dataclass(frozen=True)
class _Route:
    operation: str
    method: str
    pattern: re.Pattern[str]
    literal: int  # characters that are not labels: the most specific template wins
    query: frozenset[str]  # fixed query keys in the template (`?versioning` style)


def _route(operation: str, method: str, uri: str) -> _Route:
    path, _, query = uri.partition("?")
    literal = len(_LABEL.sub("", path))
    regex = ""
    last = 0
    for match in _LABEL.finditer(path):
        regex += re.escape(path[last : match.start()])
        regex += "(.+)" if match.group(2) else "([^/]+)"
        last = match.end()
    regex += re.escape(path[last:])
    keys = frozenset(k.split("=", 1)[0] for k in query.split("&") if k)
    return _Route(operation, method, re.compile(f"^{regex}/?$"), literal, keys)


@cache
def _routes(service: str) -> tuple[_Route, ...]:
    model = botocore.session.get_session().get_service_model(service)
    routes = [
        _route(name, op.http["method"], op.http["requestUri"])
        for name in model.operation_names
        for op in (model.operation_model(name),)
        if op.http.get("requestUri")
    ]
    return tuple(sorted(routes, key=lambda r: (-r.literal, -len(r.query))))


@cache
def _protocol(service: str) -> str:
    return str(botocore.session.get_session().get_service_model(service).protocol)


@cache
def _services_for(signing: str) -> tuple[str, ...]:
    if signing in _SIGNING_ALIASES:
        return _SIGNING_ALIASES[signing]
    available = set(botocore.session.get_session().get_available_services())
    return (signing,) if signing in available else ()


def operation_name(record: dict[str, Any]) -> str:
    """`service:Operation` for one request record; `service:?` when it cannot be told."""
    signing = str(record.get("service") or "unknown")
    target = str(record.get("target") or "")
    if target:
        return f"{signing}:{target.rsplit('.', 1)[-1]}"
    if record.get("action"):
        return f"{signing}:{record['action']}"
    method, path = str(record.get("method", "")), str(record.get("path", ""))
    query_keys = {k.split("=", 1)[0] for k in str(record.get("query") or "").split("&") if k}
    for service in _services_for(signing):
        if not _protocol(service).startswith("rest"):
            continue
        for route in _routes(service):
            if route.method == method and route.query <= query_keys and route.pattern.match(path):
                return f"{service}:{route.operation}"
    return f"{signing}:?"


def read_records(path: Path, start: int = 0) -> list[dict[str, Any]]:
    """The log's records from line `start` on (0-based)."""
    with path.open(encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    return [json.loads(line) for line in lines[start:] if line.strip()]


def count(records: Iterable[dict[str, Any]]) -> Counter[str]:
    """API calls per `service:Operation`."""
    return Counter(operation_name(record) for record in records)


def line_count(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        return sum(1 for _ in handle)
