"""Compliance predicates shared by a rule and its paired fix.

A fix re-checks the live state with the same predicate the rule used, so the
two can never disagree about what "compliant" means.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def kms_key_id(arn: str) -> str:
    """The key id (or alias) part of a KMS ARN, for annotations."""
    return arn.rsplit("/", 1)[-1] if "/" in arn else arn


def has_environment(configuration: Mapping[str, Any]) -> bool:
    """Non-empty Environment.Variables, or an Environment.Error (they exist, undecryptable)."""
    environment = configuration.get("Environment") or {}
    return bool(environment.get("Variables")) or bool(environment.get("Error"))


def env_cmk_encryption(configuration: Mapping[str, Any], allowlist: tuple[str, ...]) -> Verdict:
    """Environment variables (if any) use a customer-managed key, one of `allowlist` if set.

    `configuration` is a GetFunctionConfiguration response; values are never read.
    """
    if not has_environment(configuration):
        return Verdict.compliant("No environment variables.")
    error = (configuration.get("Environment") or {}).get("Error") or {}
    note = (
        f" (Lambda reports {str(error.get('ErrorCode'))[:60]} decrypting them)"
        if error.get("ErrorCode")
        else ""
    )
    key = configuration.get("KMSKeyArn")
    if not key:
        return Verdict.non_compliant(
            f"Environment variables{note} are encrypted with the AWS managed key; "
            "set KMSKeyArn to a customer-managed KMS key."
        )
    if allowlist and str(key) not in allowlist:
        return Verdict.non_compliant(
            f"Environment variables{note} use KMS key {kms_key_id(str(key))}, which is not "
            "one of KmsKeyArns."
        )
    return Verdict.compliant(f"Environment variables{note} use KMS key {kms_key_id(str(key))}.")
