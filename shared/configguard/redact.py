"""Keep secret values out of logs, annotations, audit records, notes and errors.

Two layers: values under secret-looking keys (and every Lambda environment
variable value) are replaced wholesale, and free text is scrubbed of
high-signal secret formats. The full detector lives in the secrets rule; this
module is the last line of defence for every outbound string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

REDACTED = "***REDACTED***"

_SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|private[_-]?key|credential)",
    re.IGNORECASE,
)
# Containers whose every leaf value is sensitive (Lambda env vars, tags can be fine).
_SENSITIVE_CONTAINERS = frozenset({"Variables", "variables", "environment_values"})

_TEXT_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[A-Z0-9]{16}\b"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"\b[rs]k_(live|test)_[A-Za-z0-9]{16,}"),
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}"),
    re.compile(r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"),
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),
)


def redact_text(text: str) -> str:
    """Scrub known secret formats from free text."""
    for pattern in _TEXT_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def redact(value: Any, *, key: str | None = None, _inside_sensitive: bool = False) -> Any:
    """Return a copy of `value` with secret values replaced, recursively."""
    if isinstance(value, dict):
        sensitive = _inside_sensitive or key in _SENSITIVE_CONTAINERS
        return {k: redact(v, key=str(k), _inside_sensitive=sensitive) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, key=key, _inside_sensitive=_inside_sensitive) for v in value]
    if isinstance(value, str):
        if _inside_sensitive or (key is not None and _SECRET_KEY.search(key)):
            # ARNs are references to secrets, not secrets: keep them for rollback.
            return value if (not value or value.startswith("arn:")) else REDACTED
        return redact_text(value)
    return value


def shown(text: str, limit: int) -> str:
    """`text` for an error message: non-printable characters escaped, at most `limit` long."""
    clean = text if text.isprintable() else repr(text)[1:-1]
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


def validation_problems(
    errors: Sequence[Mapping[str, Any]], *, most: int = 3, whole: str = "value"
) -> str:
    """pydantic's `errors()` in a few words: where and what, short and printable; the
    input is never quoted. `whole` names an error about the whole value."""
    text = "; ".join(
        f"{shown('.'.join(str(p) for p in error['loc']) or whole, 60)}: "
        f"{shown(str(error['msg']), 150)}"
        for error in errors[:most]
    )
    return text + (f" (+{len(errors) - most} more)" if len(errors) > most else "")
