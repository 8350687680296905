"""API Gateway route keys and the allowlist patterns rules accept for them."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase


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
