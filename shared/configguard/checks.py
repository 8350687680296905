"""Compliance predicates shared by a rule and its paired fix.

A fix re-checks the live state with the same predicate the rule used, so the
two can never disagree about what "compliant" means.
"""

from __future__ import annotations

from configguard.verdict import Verdict


def reserved_concurrency(reserved: int | None, low: int | None, high: int | None) -> Verdict:
    """Function-level reserved concurrency is set and within the optional bounds."""
    if reserved is None:
        return Verdict.non_compliant("No function-level reserved concurrency is set.")
    if low is not None and reserved < low:
        return Verdict.non_compliant(
            f"Reserved concurrency {reserved} is below ConcurrencyLimitLow {low}."
        )
    if high is not None and reserved > high:
        return Verdict.non_compliant(
            f"Reserved concurrency {reserved} is above ConcurrencyLimitHigh {high}."
        )
    return Verdict.compliant(f"Reserved concurrency is {reserved}.")
