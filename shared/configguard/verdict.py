"""Compliance verdicts and annotations within Config's limits."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from configguard.redact import redact_text

ANNOTATION_LIMIT = 256
_ELLIPSIS = " [...]"


class Compliance(StrEnum):
    COMPLIANT = "COMPLIANT"
    NON_COMPLIANT = "NON_COMPLIANT"
    NOT_APPLICABLE = "NOT_APPLICABLE"


def annotation(text: str) -> str:
    """Scrub secrets, collapse whitespace and cut to Config's 256-character limit."""
    clean = " ".join(redact_text(text).split())
    if len(clean) <= ANNOTATION_LIMIT:
        return clean
    return clean[: ANNOTATION_LIMIT - len(_ELLIPSIS)] + _ELLIPSIS


@dataclass(frozen=True)
class Verdict:
    compliance: Compliance
    reason: str = ""

    @property
    def annotation(self) -> str:
        return annotation(self.reason)

    @classmethod
    def compliant(cls, reason: str = "") -> Verdict:
        return cls(Compliance.COMPLIANT, reason)

    @classmethod
    def non_compliant(cls, reason: str) -> Verdict:
        return cls(Compliance.NON_COMPLIANT, reason)

    @classmethod
    def not_applicable(cls, reason: str = "") -> Verdict:
        return cls(Compliance.NOT_APPLICABLE, reason)
