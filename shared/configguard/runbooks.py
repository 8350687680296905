"""Runbook links: `<CONFIGGUARD_RUNBOOK_BASE_URL>/<rule>.md`, one page per rule in docs/runbooks.

Annotations of NON_COMPLIANT evaluations and on-call notifications carry the link, so
whoever reads the finding lands on what it means and how to fix it. No base URL set, or
a name that is not a configguard rule: no link.
"""

from __future__ import annotations

from configguard import settings
from configguard.registry import RULES
from configguard.verdict import ANNOTATION_LIMIT


def url(rule: str) -> str | None:
    """The runbook URL of `rule`, or None when the setting is unset or the rule unknown."""
    base = settings.optional(settings.RUNBOOK_BASE_URL, "")
    if not base or rule not in RULES:
        return None
    return f"{base.rstrip('/')}/{rule}.md"


def with_link(annotation: str, rule: str) -> str:
    """`annotation` + " Runbook: <url>" when there is a URL and the result still fits."""
    link = url(rule)
    if link is None:
        return annotation
    linked = f"{annotation} Runbook: {link}" if annotation else f"Runbook: {link}"
    return linked if len(linked) <= ANNOTATION_LIMIT else annotation
