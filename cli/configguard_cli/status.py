"""`configguard status`: each fix's mode, the kill switch and the blast-radius budget left.

Read-only (Get* calls only). The mode is resolved as the deployed fix resolves it: the
SSM override first, else its function's CONFIGGUARD_REMEDIATION_MODE (the stack
parameter), else the registry default. Parameter names, the cap and the idempotency
table come from the deployed function's environment, as the fix reads them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from configguard import registry, settings
from configguard.clients import ClientFactory
from configguard.reads import error_code
from configguard.registry import RemediationSpec
from configguard.remediation import KILL_SWITCH_OFF, KILL_SWITCH_ON, MODES
from configguard_cli.fixing import caller_account

# Where a mode came from.
SSM, STACK, DEFAULT = "ssm", "stack", "default"
# What a fix does when its mode cannot be read or is not a mode: it fails closed.
BLOCKED = "blocked"
UNREADABLE = "unreadable"
UNKNOWN = "unknown"


@dataclass
class FixStatus:
    """One fix, as its next invocation would see it."""

    remediation: str
    function: str
    mode: str
    mode_source: str
    kill_switch: str
    cap: int | None
    used: int | None
    remaining: int | None
    hour: str
    problems: list[str] = field(default_factory=list)

    @property
    def kill_switch_engaged(self) -> bool:
        """On, or unreadable: the engine treats both as halting every fix."""
        return self.kill_switch != KILL_SWITCH_OFF

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "kill_switch_engaged": self.kill_switch_engaged}


def _code(exc: Exception) -> str:
    return error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__


# Errors about the caller's own credentials: a table of them would describe the caller,
# not the fixes (a fix reads with its own role), so status stops with one clear error.
CALLER_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)


class CallerCannotReadError(LookupError):
    """The credentials status runs with may not make one of its reads."""


def _refuse_denied(exc: ClientError, action: str) -> None:
    if error_code(exc) in CALLER_DENIED:
        raise CallerCannotReadError(
            f"your credentials may not {action} ({error_code(exc)}): status needs "
            "lambda:GetFunctionConfiguration, ssm:GetParameter and dynamodb:GetItem"
        ) from None


class _Reader:
    """The reads status makes, each at most once (kill switch: once per parameter name)."""

    def __init__(self, factory: ClientFactory) -> None:
        self.factory = factory
        self._kill_switch: dict[str, tuple[str, str | None]] = {}
        self._account: str | None = None

    def account(self) -> str:
        if self._account is None:
            self._account = caller_account(self.factory)
        return self._account

    def environment(self, function: str) -> dict[str, str] | None:
        """The function's environment variables; None when it is not deployed."""
        try:
            config = self.factory.client("lambda").get_function_configuration(FunctionName=function)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            _refuse_denied(exc, "lambda:GetFunctionConfiguration")
            raise
        variables = (config.get("Environment") or {}).get("Variables") or {}
        return {str(k): str(v) for k, v in variables.items()}

    def parameter(self, name: str) -> str | None:
        """An SSM parameter's value; None when it does not exist (other errors raise)."""
        try:
            response = self.factory.client("ssm").get_parameter(Name=name)
        except ClientError as exc:
            if error_code(exc) == "ParameterNotFound":
                return None
            _refuse_denied(exc, "ssm:GetParameter")
            raise
        return str(response["Parameter"]["Value"])

    def kill_switch(self, name: str) -> tuple[str, str | None]:
        """`on`, `off` or `unreadable`, and the problem when unreadable."""
        if name not in self._kill_switch:
            state: tuple[str, str | None]
            try:
                raw = self.parameter(name)
            except (ClientError, BotoCoreError) as exc:
                state = (UNREADABLE, f"kill switch {name} unreadable ({_code(exc)})")
            else:
                value = (raw or "").strip().lower()
                if raw is None:
                    state = (UNREADABLE, f"kill switch {name} does not exist")
                elif value in (KILL_SWITCH_OFF, KILL_SWITCH_ON):
                    state = (value, None)
                else:
                    state = (UNREADABLE, f"kill switch {name} has unexpected value")
            self._kill_switch[name] = state
        return self._kill_switch[name]

    def changes_used(self, table: str, spec: RemediationSpec, hour: str) -> int:
        """Applied changes this hour: the blast-radius counter, read without reserving."""
        try:
            item = (
                self.factory.client("dynamodb")
                .get_item(
                    TableName=table,
                    Key={"id": {"S": f"blast-radius#{spec.name}#{self.account()}#{hour}"}},
                    ConsistentRead=True,
                )
                .get("Item")
            )
        except ClientError as exc:
            _refuse_denied(exc, "dynamodb:GetItem")
            raise
        if not item or "changes" not in item:
            return 0
        return int(item["changes"]["N"])


def _setting(env: dict[str, str] | None, name: str, default: str) -> str:
    """A setting as the function sees it; the CLI's own environment when not deployed."""
    value = (env or {}).get(name, "").strip()
    return value or settings.optional(name, default)


def _mode(
    reader: _Reader, spec: RemediationSpec, env: dict[str, str] | None, env_readable: bool
) -> tuple[str, str, str | None]:
    """The mode, where it came from, and a problem (when the fix would fail closed)."""
    prefix = _setting(env, settings.SETTINGS_PREFIX, settings.DEFAULT_SETTINGS_PREFIX)
    name = f"{prefix.rstrip('/')}/remediations/{spec.name}/mode"
    try:
        override = reader.parameter(name)
    except (ClientError, BotoCoreError) as exc:
        return BLOCKED, SSM, f"mode override {name} unreadable ({_code(exc)}): fixes fail closed"
    if override is not None:
        raw, source = override, SSM
    elif env is not None and env.get(settings.REMEDIATION_MODE, "").strip():
        raw, source = env[settings.REMEDIATION_MODE], STACK
    elif not env_readable:
        return UNKNOWN, UNREADABLE, None
    else:
        raw, source = spec.default_mode, DEFAULT
    mode = raw.strip().lower()
    if mode not in MODES:
        return BLOCKED, source, f"mode {mode[:20]!r} ({source}) is not a mode: fixes fail closed"
    return mode, source, None


def _cap(env: dict[str, str] | None) -> tuple[int | None, str | None]:
    raw = _setting(env, settings.MAX_CHANGES_PER_HOUR, str(settings.DEFAULT_MAX_CHANGES_PER_HOUR))
    try:
        cap = int(raw)
    except ValueError:
        return None, f"{settings.MAX_CHANGES_PER_HOUR} is not an integer"
    if cap < 0:
        return None, f"{settings.MAX_CHANGES_PER_HOUR} is negative"
    return cap, None


def fix_status(reader: _Reader, spec: RemediationSpec, hour: str) -> FixStatus:
    function = registry.fix_function_name(spec)
    problems: list[str] = []
    env: dict[str, str] | None = None
    readable = True
    try:
        env = reader.environment(function)
    except (ClientError, BotoCoreError) as exc:
        readable = False
        problems.append(f"function {function} unreadable ({_code(exc)})")
    if readable and env is None:
        problems.append(f"function {function} is not deployed: stack settings unknown")
    mode, source, mode_problem = _mode(reader, spec, env, readable)
    if mode_problem:
        problems.append(mode_problem)
    kill_switch_name = _setting(
        env, settings.KILL_SWITCH_PARAMETER, settings.DEFAULT_KILL_SWITCH_PARAMETER
    )
    kill_switch, kill_problem = reader.kill_switch(kill_switch_name)
    if kill_problem:
        problems.append(kill_problem)
    cap, cap_problem = _cap(env)
    if cap_problem:
        problems.append(cap_problem)
    used: int | None = None
    table = _setting(env, settings.IDEMPOTENCY_TABLE, "")
    if not table:
        problems.append("no idempotency table known: changes used unknown")
    else:
        try:
            used = reader.changes_used(table, spec, hour)
        except (ClientError, BotoCoreError) as exc:
            problems.append(f"blast-radius counter unreadable ({_code(exc)})")
    remaining = max(cap - used, 0) if cap is not None and used is not None else None
    return FixStatus(
        remediation=spec.name,
        function=function,
        mode=mode,
        mode_source=source,
        kill_switch=kill_switch,
        cap=cap,
        used=used,
        remaining=remaining,
        hour=hour,
        problems=problems,
    )


def status(factory: ClientFactory, *, now: datetime | None = None) -> list[FixStatus]:
    """Every fix's status, in registry order; the counter is this UTC hour's."""
    hour = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H")
    reader = _Reader(factory)
    reader.account()  # first: an unreachable endpoint or bad credentials fail at once
    return [fix_status(reader, spec, hour) for spec in registry.REMEDIATIONS.values()]
