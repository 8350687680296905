"""API Gateway route keys, method-settings keys and the allowlist patterns rules accept."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any


def route_matches(key: str, patterns: Iterable[str]) -> bool:
    """Whether a route key matches any `METHOD /path` or bare-route-key pattern (fnmatch).

    The method is compared case-insensitively; a pattern without a space (`$connect`)
    matches the whole route key.
    """
    method, space, path = key.partition(" ")
    for raw in patterns:
        pattern = raw.strip()
        p_method, p_space, p_path = pattern.partition(" ")
        if not p_space:
            if fnmatchcase(key, pattern):
                return True
        elif (
            space
            and fnmatchcase(method.upper(), p_method.upper())
            and fnmatchcase(path, p_path.strip())
        ):
            return True
    return False


STAGE_WIDE = "*/*"
"""The REST method-settings key that applies to every method of a stage."""


def method_label(key: str) -> str:
    """A method-settings key as 'VERB /path': '~1orders~1{id}/GET' -> 'GET /orders/{id}'."""
    if key == STAGE_WIDE:
        return "stage-wide */*"
    encoded, _, verb = key.rpartition("/")
    path = encoded.replace("~1", "/").replace("~0", "~")  # JSON-pointer escapes, in order
    return f"{verb} {path or '/'}"


def setting(mapping: Any, name: str) -> Any:
    """`name` from a settings object, camelCase (CI) or PascalCase (apigatewayv2 API)."""
    if not isinstance(mapping, Mapping):
        return None
    if name in mapping:
        return mapping[name]
    return mapping.get(name[:1].upper() + name[1:])
