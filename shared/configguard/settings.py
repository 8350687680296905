"""Names of the environment variables and SSM parameters the functions read.

The template sets these on every function; the local stand-in sets the same
names, so the code paths are identical.
"""

from __future__ import annotations

import os

AUDIT_TABLE = "CONFIGGUARD_AUDIT_TABLE"
IDEMPOTENCY_TABLE = "CONFIGGUARD_IDEMPOTENCY_TABLE"
ONCALL_TOPIC = "CONFIGGUARD_ONCALL_TOPIC_ARN"
KILL_SWITCH_PARAMETER = "CONFIGGUARD_KILL_SWITCH_PARAMETER"
SETTINGS_PREFIX = "CONFIGGUARD_SETTINGS_PREFIX"
REMEDIATION_MODE = "CONFIGGUARD_REMEDIATION_MODE"
OPT_OUT_TAG = "CONFIGGUARD_OPT_OUT_TAG"
DEFAULT_CONCURRENCY = "CONFIGGUARD_DEFAULT_RESERVED_CONCURRENCY"
UNRESERVED_MARGIN = "CONFIGGUARD_UNRESERVED_CONCURRENCY_MARGIN"
ACCOUNT_ALLOWLIST = "CONFIGGUARD_ACCOUNT_ALLOWLIST"
MAX_CHANGES_PER_HOUR = "CONFIGGUARD_MAX_CHANGES_PER_HOUR"
# Central (delegated administrator) mode: the role a fix assumes in a member account to
# change a resource there. Empty: single-account mode, fixes act in their own account.
REMEDIATION_ROLE_NAME = "CONFIGGUARD_REMEDIATION_ROLE_NAME"
# Per-fix settings (each fix's RemediationSpec.settings lists the ones it reads).
KEY_ARN = "CONFIGGUARD_KEY_ARN"
WEB_ACL_ARN = "CONFIGGUARD_WEB_ACL_ARN"
CONCURRENCY_HEADROOM_PERCENT = "CONFIGGUARD_CONCURRENCY_HEADROOM_PERCENT"
CONCURRENCY_MIN = "CONFIGGUARD_CONCURRENCY_MIN"
CONCURRENCY_MAX = "CONFIGGUARD_CONCURRENCY_MAX"
STRIP_SECRETS_MODE = "CONFIGGUARD_STRIP_SECRETS_MODE"
FIX_FUNCTION_URL_AUTH = "CONFIGGUARD_FIX_FUNCTION_URL_AUTH"
API_CLOUDWATCH_ROLE_ARN = "CONFIGGUARD_API_CLOUDWATCH_ROLE_ARN"
API_EXECUTION_LOG_LEVEL = "CONFIGGUARD_API_EXECUTION_LOG_LEVEL"
LOG_RETENTION_DAYS = "CONFIGGUARD_LOG_RETENTION_DAYS"
KEY_ROTATION_PERIOD_DAYS = "CONFIGGUARD_KEY_ROTATION_PERIOD_DAYS"
# Security Hub router: controls (e.g. "KMS.4") or rule names whose imported findings
# start their fix without an analyst (comma-separated; empty = custom action only).
AUTO_TRIGGER_CONTROLS = "CONFIGGUARD_AUTO_TRIGGER_CONTROLS"
# Base URL of docs/runbooks: annotations and notifications link <base>/<rule>.md (unset: no link).
RUNBOOK_BASE_URL = "CONFIGGUARD_RUNBOOK_BASE_URL"

# Every function, rules and fixes alike, reads these (the template sets them in Globals).
GLOBAL_SETTINGS: tuple[str, ...] = (RUNBOOK_BASE_URL,)

# Every remediation function reads these.
COMMON_REMEDIATION_SETTINGS: tuple[str, ...] = (
    AUDIT_TABLE,
    IDEMPOTENCY_TABLE,
    ONCALL_TOPIC,
    KILL_SWITCH_PARAMETER,
    SETTINGS_PREFIX,
    REMEDIATION_MODE,
    OPT_OUT_TAG,
    ACCOUNT_ALLOWLIST,
    MAX_CHANGES_PER_HOUR,
    REMEDIATION_ROLE_NAME,
)

# The Security Hub router reads these.
ROUTER_SETTINGS: tuple[str, ...] = (AUTO_TRIGGER_CONTROLS, REMEDIATION_ROLE_NAME)

DEFAULT_SETTINGS_PREFIX = "/configguard"
DEFAULT_KILL_SWITCH_PARAMETER = "/configguard/kill-switch"
DEFAULT_OPT_OUT_TAG = "configguard:auto-remediate"
LAST_REMEDIATION_TAG = "configguard:last-remediation"
# Applied changes one remediation may make per account per hour (blast-radius cap).
DEFAULT_MAX_CHANGES_PER_HOUR = 20
# Lambda keeps at least this many unreserved concurrent executions per account.
LAMBDA_UNRESERVED_MINIMUM = 100


class ConfigurationError(RuntimeError):
    """A required setting is missing or malformed: fail closed."""


def require(name: str) -> str:
    """Return a required environment variable or fail with a clear message."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


def optional(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def flag(name: str, default: bool = False) -> bool:
    """A true/false setting; anything else fails closed."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false"):
        raise ConfigurationError(f"{name} must be true or false, got {raw[:20]!r}")
    return raw == "true"


def integer(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ConfigurationError(f"{name} must be >= {minimum}, got {value}")
    return value
