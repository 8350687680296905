"""Issue 10 item 5: no planted secret reaches any output, whole or in part.

Deterministic, secret-shaped canaries (tests/secrets_corpus.py generators) are planted
where secrets live (every seeded function's environment, replacing the scenarios' own
secret values) and where they should not be but sometimes are (function tags and
descriptions, API stage variables, KMS key and log group tags). Then the whole demo runs
in-process; every fix runs again in dry-run, apply and rollback; the failure paths run
(Lambda's 4 KB error, which quotes the plaintext it was sent, on replace and on restore;
an ignored update; refusals; the kill switch; a denied read); a Security Hub custom
action goes through the router; every rule's handler stores evaluations in Config (the
secrets rule for every seeded function); and the CLI's own commands run.

Everything those runs say is captured: log records (the Powertools logger and the root
logger), stdout and stderr (Python and file-descriptor level), warnings, the demo's rich
console, SNS messages, SQS messages, every DynamoDB item, Security Hub findings and
notes, Config's stored evaluations, scan annotations, handler results, exception texts
(str, repr, chained causes and contexts) and the CLI's output. No canary, and no
8-character window of one, may appear anywhere in it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import tempfile
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import ACCOUNT, REGION, scheduled_event
from faults import inject_error, swallow_call
from rich.console import Console
from secrets_corpus import ALNUM, B64, PASSWORD_CHARS, UPPER_DIGITS, fake, fake_jwt, fake_pem
from typer.testing import CliRunner

from configguard import cibuilder, registry, settings
from configguard.audit import Outcome
from configguard.clients import ClientFactory, default_factory
from configguard.redact import redact, redact_text
from configguard.registry import Trigger
from configguard_cli import demo, fixing, main
from configguard_cli.auditlog import AuditFilter, list_records
from configguard_cli.events import config_change_event, context_for, now_iso
from configguard_cli.handlers import invoke, router_module, rule_module
from configguard_cli.local import hubfeed, lambdaservice, scenarios
from configguard_cli.local.standin import StandIn
from configguard_cli.scan import ScanReport

WINDOW = 8  # a leak is any substring of a canary this long or longer
ACTOR = "canary-oncall"
MODE_TAG = "configguard:strip-secrets-mode"
STRIP = "strip-env-secrets"
SECRETS_RULE = "lambda-env-no-plaintext-secrets"
# Fixes whose rollback is refused by design (registry.REMEDIATIONS[...].rollback).
ROLLBACK_REFUSED = frozenset({"cancel-kms-key-deletion", "set-log-retention"})
# The function whose planted values are read back at the end (vault mode left them).
LEFT_IN_PLACE = "scenario-s3-with-source-account"

FIGURES: dict[str, int] = {
    # exact: the canaries and the runs are deterministic
    "canaries planted": 439,
    "places planted": 136,
    "fix and rollback runs after the demo": 49,
    "rule handler runs": 168,
    "CLI commands": 7,
    # minimums: how much the runs say varies a little with timing (e.g. a demo that
    # straddles the hour has a fresh blast-radius budget and applies more)
    "texts scanned": 18000,
    "bytes scanned": 4_500_000,
}


# ------------------------------------------------------------------------ canaries


@dataclass(frozen=True)
class Canary:
    """One planted value: where it went, and the parts of it that must never appear."""

    where: str
    value: str = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False)


Made = tuple[str, tuple[str, ...]]  # the value, and its secret parts


def _whole(value: str) -> Made:
    return value, (value,)


def _pem(seed: int) -> Made:
    label = " ".join(("RSA", "PRIVATE", "KEY"))  # no literal PEM header in the repository
    value = fake_pem(label, seed, lines=3)
    return value, tuple(value.splitlines()[1:-1])  # the body, not the armour


def _jwt(seed: int) -> Made:
    value = fake_jwt(seed)
    return value, tuple(value.split(".")[1:])  # payload and signature, not the header


def _database_url(seed: int) -> Made:
    password = fake("", 24, ALNUM, seed)
    return f"postgres://app:{password}@db.internal:5432/orders", (password,)


# Planted in every seeded function that has an environment.
ENV_MAKERS: dict[str, Callable[[int], Made]] = {
    "UPLOADER_ACCESS_KEY_ID": lambda seed: _whole(fake("AKIA", 16, UPPER_DIGITS, seed)),
    "UPLOADER_SECRET_ACCESS_KEY": lambda seed: _whole(fake("", 40, B64, seed)),
    "DB_PASSWORD": lambda seed: _whole(fake("", 20, PASSWORD_CHARS, seed)),
    "GITHUB_TOKEN": lambda seed: _whole(fake("ghp_", 36, ALNUM, seed)),
    "TLS_PRIVATE_KEY": _pem,
    "SESSION_JWT": _jwt,
    "DATABASE_URL": _database_url,
    # A neutral name: a detector may well miss it, and still nothing may echo it.
    "FEATURE_SALT": lambda seed: _whole(fake("", 32, ALNUM, seed)),
}
ENV_SLOTS = tuple(ENV_MAKERS)
# The scenarios' own secret variables, replaced by canaries of the same shape.
SCENARIO_SECRETS = {"UPLOAD_KEY_ID": ENV_MAKERS["UPLOADER_ACCESS_KEY_ID"]}


def _seed(owner: str, slot: str) -> int:
    return zlib.crc32(f"{owner}/{slot}".encode())


def env_canary(owner: str, slot: str) -> Canary:
    """The canary for one environment variable of one function."""
    make = ENV_MAKERS.get(slot) or SCENARIO_SECRETS[slot]
    value, secrets = make(_seed(owner, slot))
    return Canary(f"{owner}: environment {slot}", value, secrets)


def token_canary(
    owner: str, slot: str, prefix: str = "", length: int = 28, alphabet: str = ALNUM
) -> Canary:
    """A secret valid where AWS restricts characters (tags, stage variables)."""
    value = fake(prefix, length, alphabet, _seed(owner, slot))
    return Canary(f"{owner}: {slot}", value, (value,))


class Planter:
    """Adds canaries to the seeding calls through botocore hooks on the seeding clients."""

    def __init__(self) -> None:
        self.canaries: list[Canary] = []
        self.places: list[str] = []

    def _plant(self, place: str, *canaries: Canary) -> list[str]:
        self.places.append(place)
        self.canaries.extend(canaries)
        return [canary.value for canary in canaries]

    def create_function(self, params: dict[str, Any], **_: Any) -> None:
        name = str(params["FunctionName"])
        variables = (params.get("Environment") or {}).get("Variables")
        if variables is not None:
            slots = [*ENV_SLOTS, *(s for s in SCENARIO_SECRETS if s in variables)]
            values = self._plant(f"{name} environment", *(env_canary(name, slot) for slot in slots))
            variables.update(zip(slots, values, strict=True))
        key, contact = self._plant(
            f"{name} tags",
            token_canary(name, "tag deploy-key", "AKIA", 16, UPPER_DIGITS),
            token_canary(name, "tag contact"),
        )
        params["Tags"] = {**(params.get("Tags") or {}), "deploy-key": key, "contact": contact}
        (login,) = self._plant(f"{name} description", token_canary(name, "description"))
        params["Description"] = f"orders worker; temporary login {login}"

    def create_deployment(self, params: dict[str, Any], **_: Any) -> None:
        owner = f"REST stage {params['restApiId']}/{params.get('stageName')}"
        api_key, password = self._plant(
            f"{owner} variables",
            token_canary(owner, "variable apiKey"),
            token_canary(owner, "variable dbPassword"),
        )
        params["variables"] = {"apiKey": api_key, "dbPassword": password}

    def create_stage(self, params: dict[str, Any], **_: Any) -> None:
        owner = f"HTTP stage {params['ApiId']}/{params['StageName']}"
        (api_key,) = self._plant(f"{owner} variables", token_canary(owner, "variable apiKey"))
        params["StageVariables"] = {**(params.get("StageVariables") or {}), "apiKey": api_key}

    def create_key(self, params: dict[str, Any], **_: Any) -> None:
        owner = f"KMS key {params.get('Description', '')!r}"
        (passphrase,) = self._plant(f"{owner} tags", token_canary(owner, "tag"))
        tag = {"TagKey": "backup-passphrase", "TagValue": passphrase}
        params["Tags"] = [*(params.get("Tags") or []), tag]

    def create_log_group(self, params: dict[str, Any], **_: Any) -> None:
        owner = f"log group {params['logGroupName']}"
        (token,) = self._plant(f"{owner} tags", token_canary(owner, "tag"))
        params["tags"] = {**(params.get("tags") or {}), "ingest-token": token}

    @contextmanager
    def hooks(self, factory: ClientFactory) -> Iterator[None]:
        """While seeding: every create call through `factory` plants canaries."""
        plan: list[tuple[str, str, Callable[..., None]]] = [
            ("lambda", "CreateFunction", self.create_function),
            ("apigateway", "CreateDeployment", self.create_deployment),
            ("apigatewayv2", "CreateStage", self.create_stage),
            ("kms", "CreateKey", self.create_key),
            ("logs", "CreateLogGroup", self.create_log_group),
        ]
        registered = []
        for service, operation, plant in plan:
            client = factory.client(service)
            service_id = client.meta.service_model.service_id.hyphenize()
            event = f"provide-client-params.{service_id}.{operation}"
            client.meta.events.register(event, plant, unique_id=f"canary-{event}")
            registered.append((client, event))
        try:
            yield
        finally:
            for client, event in registered:
                client.meta.events.unregister(event, unique_id=f"canary-{event}")


# ------------------------------------------------------------------------- scanning


class Scanner:
    """Every WINDOW-character window of every canary's secret parts, and whose it is.

    A window two canaries share is generator structure (a JWT payload's encoded
    '{"sub":' prefix), not secret material, so it is left out.
    """

    def __init__(self, canaries: list[Canary]) -> None:
        owners: dict[str, set[str]] = {}
        by_where = {canary.where: canary for canary in canaries}
        for canary in canaries:
            for secret in canary.secrets:
                assert len(secret) >= WINDOW, canary.where
                for start in range(len(secret) - WINDOW + 1):
                    owners.setdefault(secret[start : start + WINDOW], set()).add(canary.where)
        self.windows = {w: by_where[next(iter(o))] for w, o in owners.items() if len(o) == 1}

    def leaks(self, text: str) -> list[Canary]:
        """The canaries with a window in `text` (each once)."""
        found: dict[str, Canary] = {}
        windows = self.windows
        for start in range(len(text) - WINDOW + 1):
            canary = windows.get(text[start : start + WINDOW])
            if canary is not None:
                found.setdefault(canary.where, canary)
        return list(found.values())


# ------------------------------------------------------------------------ capturing


def exception_texts(exc: BaseException) -> list[str]:
    """str and repr of an exception and of every cause and context behind it.

    Stricter than a traceback: suppressed contexts are searched too.
    """
    texts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        texts += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return texts


@dataclass
class Capture:
    """Every text the runs produced (one per log line, message, item, finding...), by source."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    outcomes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    runs: Counter[str] = field(default_factory=Counter)  # handler runs, by kind
    injected: Counter[str] = field(default_factory=Counter)  # faults that were hit

    def add(self, source: str, value: Any) -> None:
        text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
        self.texts.append((source, text))

    def lines(self, source: str, text: str) -> None:
        for line in text.splitlines():
            self.add(source, line)

    def items(self, source: str, values: list[Any]) -> None:
        for value in values:
            self.add(source, value)

    def call(self, source: str, action: Callable[[], Any]) -> Any:
        """Run `action`; keep its result, or every text of the exception it raised."""
        try:
            result = action()
        except Exception as exc:
            self.failures.append(source)
            self.items(f"{source}: exception", exception_texts(exc))
            return None
        self.add(source, result)
        return result

    def records(self, fix: str, step: str, records: list[dict[str, Any]] | None) -> None:
        for record in records or []:
            self.outcomes[fix, step, str(record["outcome"])] += 1


@contextmanager
def captured_output(capture: Capture) -> Iterator[None]:
    """stdout and stderr, at the Python and the file-descriptor level."""
    python = io.StringIO()
    with tempfile.TemporaryFile() as sink:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = (os.dup(1), os.dup(2))
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            with redirect_stdout(python), redirect_stderr(python):
                yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            capture.lines("stdout/stderr (fd)", sink.read().decode(errors="replace"))
            capture.lines("stdout/stderr (python)", python.getvalue())


@contextmanager
def captured_logs(capture: Capture) -> Iterator[None]:
    """Every configguard log record as JSON, at DEBUG; every other record from INFO, with
    its traceback."""
    from configguard.observability import logger

    stream, root_stream = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    root_handler = logging.StreamHandler(root_stream)
    root_handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    previous = root.level, logger.log_level
    logger.addHandler(handler)
    root.addHandler(root_handler)
    root.setLevel(logging.INFO)
    logger.setLevel("DEBUG")
    try:
        yield
    finally:
        logger.removeHandler(handler)
        root.removeHandler(root_handler)
        root.setLevel(previous[0])
        logger.setLevel(previous[1])
        capture.lines("configguard logger", stream.getvalue())
        capture.lines("root logger", root_stream.getvalue())


@contextmanager
def verbose_function_logs() -> Iterator[None]:
    """In place of the demo's quiet_function_logs: every function log line, at DEBUG."""
    from configguard.observability import logger

    previous = logger.log_level
    logger.setLevel("DEBUG")
    try:
        yield
    finally:
        logger.setLevel(previous)


def spy(capture: Capture, source: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`, unchanged, recording what it returns (one of the demo's steps)."""

    def recorded(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        if isinstance(result, ScanReport):
            capture.items(source, [f.as_json() for f in result.findings])
        elif isinstance(result, list):
            capture.items(source, result)
        else:
            capture.add(source, vars(result) if hasattr(result, "__dict__") else result)
        return result

    return recorded


# ------------------------------------------------------------------ the runs


def _step(step: str) -> tuple[bool, str]:
    return step == "dry-run", f"canary {step}"


def _fix(
    capture: Capture, factory: ClientFactory, fix: str, target: dict[str, Any], step: str
) -> list[dict[str, Any]]:
    """`configguard fix`'s path (fixing.run_fix) for one target; its audit records."""
    dry_run, reason = _step(step)
    capture.runs["fix"] += 1
    records = capture.call(
        f"fix {fix} {step}",
        lambda: fixing.run_fix(
            factory,
            str(target["rule"]),
            str(target["resource_id"]),
            actor=ACTOR,
            reason=reason,
            dry_run=dry_run,
            resource_type=str(target["resource_type"]),
        ),
    )
    capture.records(fix, f"fix {step}", records)
    return list(records or [])


def _rollback(
    capture: Capture,
    factory: ClientFactory,
    record: dict[str, Any],
    step: str,
    restore_plaintext: bool = False,
) -> list[dict[str, Any]]:
    """`configguard rollback`'s path (fixing.run_rollback) for one audit record."""
    fix = str(record["remediation"])
    dry_run, reason = _step(step)
    capture.runs["fix"] += 1
    records = capture.call(
        f"rollback {fix} {step}",
        lambda: fixing.run_rollback(
            factory,
            record,
            actor=ACTOR,
            reason=reason,
            dry_run=dry_run,
            restore_plaintext=restore_plaintext,
        ),
    )
    capture.records(fix, f"rollback {step}", records)
    return list(records or [])


def _changes(factory: ClientFactory, fix: str) -> list[dict[str, Any]]:
    """The fix's applied changes (not rollbacks), newest first."""
    applied = list_records(
        factory, filters=AuditFilter(remediation=fix, outcome=Outcome.APPLIED.value)
    )
    return [r for r in applied if not r.get("related_audit_id")]


def _prepare(factory: ClientFactory, fix: str, target: dict[str, Any]) -> None:
    """What an operator changes so that the demo's refused or blocked fixes can apply."""
    if fix == "attach-waf":  # the demo's APIs are EDGE-optimised: make this one REGIONAL
        _, api_id, _ = cibuilder.parse_stage_arn(str(target["resource_id"]))
        replace = {"op": "replace", "path": "/endpointConfiguration/types/EDGE"}
        factory.client("apigateway").update_rest_api(
            restApiId=api_id, patchOperations=[{**replace, "value": "REGIONAL"}]
        )
    if fix == "cancel-kms-key-deletion":  # off by default: an explicit opt-in
        demo.set_modes(factory, {fix: "apply"})


def every_fix(capture: Capture, factory: ClientFactory) -> None:
    """Each fix on a resource the demo met: roll back the demo's change (dry run, then for
    real) and apply the fix again; a fix the demo did not apply (refused or off) dry-runs,
    applies and is rolled back here."""
    # The demo spent strip-env-secrets' hourly blast-radius budget: the operator raises it.
    stub = registry.fix_function_name(registry.remediation(STRIP))
    variables = {**_env(factory, stub), settings.MAX_CHANGES_PER_HOUR: "100"}
    factory.client("lambda").update_function_configuration(
        FunctionName=stub, Environment={"Variables": variables}
    )
    for fix in sorted(registry.REMEDIATIONS):
        records = list_records(factory, filters=AuditFilter(remediation=fix))
        assert records, f"the demo left no audit record for {fix}"
        target = records[0]
        earlier = _changes(factory, fix)
        for change in earlier[:1]:
            _rollback(capture, factory, change, "dry-run")
            _rollback(capture, factory, change, "apply")
        _prepare(factory, fix, target)
        if not earlier:  # the demo's dry runs planned every other fix
            _fix(capture, factory, fix, target, "dry-run")
        _fix(capture, factory, fix, target, "apply")
        if not earlier:
            for change in _changes(factory, fix)[:1]:
                _rollback(capture, factory, change, "dry-run")
                _rollback(capture, factory, change, "apply")


def _env(factory: ClientFactory, name: str) -> dict[str, str]:
    conf = factory.client("lambda").get_function_configuration(FunctionName=name)
    return dict((conf.get("Environment") or {}).get("Variables") or {})


def _mode_tag(factory: ClientFactory, name: str, mode: str) -> None:
    lam = factory.client("lambda")
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={MODE_TAG: mode})


def _function(rule: str, name: str) -> dict[str, Any]:
    return {"rule": rule, "resource_id": name, "resource_type": registry.LAMBDA}


STRIP = "strip-env-secrets"
SECRETS_RULE = "lambda-env-no-plaintext-secrets"


def _too_large(name: str) -> dict[str, Any]:
    """Lambda's own 4 KB error, which quotes the environment it was sent (the plaintext
    planted in function `name`)."""
    planted = {slot: env_canary(name, slot).value for slot in ENV_SLOTS}
    return {
        "operation": "UpdateFunctionConfiguration",
        "code": "InvalidParameterValueException",
        "message": "Lambda was unable to configure your environment variables because the "
        "environment variables you have provided exceeded the 4KB limit. String measured: "
        + json.dumps({"LOG_LEVEL": "INFO", **planted}),
    }


def _replace(capture: Capture, factory: ClientFactory, name: str) -> dict[str, Any] | None:
    """strip-env-secrets in replace mode on function `name`; its applied record."""
    _mode_tag(factory, name, "replace")
    records = _fix(capture, factory, STRIP, _function(SECRETS_RULE, name), "apply")
    return next((r for r in records if r["outcome"] == Outcome.APPLIED), None)


def failure_paths(capture: Capture, factory: ClientFactory) -> str | None:
    """Replace mode and its rollbacks, AWS errors that echo the environment, an ignored
    update, refusals and the kill switch. The audit id of a replace-mode change left in
    place, for the CLI to plan its rollback."""
    lam = factory.client("lambda")
    # replace mode: rollback refused without --restore-plaintext; the restore fails with
    # an error quoting the plaintext it was sent; then it restores
    record = _replace(capture, factory, "scenario-baseline")
    if record is not None:
        _rollback(capture, factory, record, "apply")
        _rollback(capture, factory, record, "dry-run", restore_plaintext=True)
        with inject_error(lam, **_too_large("scenario-baseline")) as seen:
            _rollback(capture, factory, record, "apply", restore_plaintext=True)
        capture.injected["restore quoting the plaintext"] += len(seen)
        _rollback(capture, factory, record, "apply", restore_plaintext=True)
    kept = _replace(capture, factory, "scenario-cross-account-grant")
    # apply fails with Lambda's 4 KB error quoting the environment
    name = "scenario-tracing-passthrough"
    _mode_tag(factory, name, "replace")
    with inject_error(lam, **_too_large(name)) as seen:
        _fix(capture, factory, STRIP, _function(SECRETS_RULE, name), "apply")
    capture.injected["replace quoting the plaintext"] += len(seen)
    # an update that reports success but changes nothing
    name = "scenario-vpc-two-azs"
    _mode_tag(factory, name, "replace")
    with swallow_call(lam, "UpdateFunctionConfiguration", {}) as seen:
        _fix(capture, factory, STRIP, _function(SECRETS_RULE, name), "apply")
    capture.injected["ignored update"] += len(seen)
    # refusals: an unknown mode tag; a function URL whose grant cannot go alone
    name = "scenario-retries-only-invoke-config"
    _mode_tag(factory, name, "shred")
    _fix(capture, factory, STRIP, _function(SECRETS_RULE, name), "apply")
    url = _function("lambda-public-access-prohibited", "scenario-public-function-url")
    _fix(capture, factory, "remove-lambda-public-access", url, "apply")
    # the kill switch blocks everything
    ssm = factory.client("ssm")
    switch = {"Name": settings.DEFAULT_KILL_SWITCH_PARAMETER, "Type": "String", "Overwrite": True}
    ssm.put_parameter(Value="on", **switch)
    try:
        _fix(
            capture, factory, STRIP, _function(SECRETS_RULE, "scenario-runtime-python312"), "apply"
        )
    finally:
        ssm.put_parameter(Value="off", **switch)
    return str(kept["audit_id"]) if kept else None


def security_hub_round(capture: Capture, factory: ClientFactory, standin: StandIn) -> None:
    """An analyst sends secrets findings of canary functions to the custom action; the
    router starts the fix, which runs from the queue as Lambda would run it."""
    names = ("scenario-container-image", "scenario-vpc-one-az", "scenario-runtime-python312")
    findings = [
        hubfeed.config_finding(SECRETS_RULE, registry.LAMBDA, name, ACCOUNT, REGION)
        for name in names
    ]
    hubfeed.import_findings(factory, findings)
    selected = hubfeed.get_findings(factory, {f["Id"] for f in findings})
    assert standin.resources is not None and len(selected) == len(names)
    event = hubfeed.custom_action_event(
        standin.resources.action_target_arn, selected, ACCOUNT, REGION
    )
    context = context_for(registry.ROUTER_FUNCTION_NAME, ACCOUNT, REGION)
    capture.call("router", lambda: invoke(router_module().lambda_handler, event, context))
    capture.runs["router"] += 1
    for run in lambdaservice.run_queued(standin):
        capture.runs["queued"] += 1
        capture.add(f"queued {run.function_name}", {"result": run.result, "error": run.error})
        capture.records(STRIP, "router", (run.result or {}).get("results"))


LAMBDA_SAMPLE = 8  # functions each Lambda rule that reads no environment evaluates


def _sample(rule: str, resource_type: str, items: list[Any]) -> list[Any]:
    """Every resource, except that Lambda rules which do not read the environment take
    a sample of the functions (each function's CI carries its tag and description
    canaries; the demo's scans ran every rule on every function already)."""
    if resource_type != registry.LAMBDA or rule == SECRETS_RULE:
        return items
    return items[:: max(1, len(items) // LAMBDA_SAMPLE)][:LAMBDA_SAMPLE]


def every_rule(capture: Capture, factory: ClientFactory, standin: StandIn) -> None:
    """Every rule's handler as Config invokes it, on the seeded resources, so Config
    stores their annotations; and one evaluation whose read is denied."""
    listed = {
        resource_type: [
            item
            for item in cibuilder.list_items(factory, resource_type)
            if not str(item["resourceId"]).startswith("configguard-")
        ]
        for resource_type in (registry.REST_STAGE, registry.HTTP_STAGE, registry.KMS_KEY)
    }
    # A function's whole CI, tags included, as Config records it (a listing has no tags).
    listed[registry.LAMBDA] = [
        cibuilder.read(factory, registry.LAMBDA, str(item["resourceId"]))
        for item in cibuilder.list_items(factory, registry.LAMBDA)
        if not str(item["resourceId"]).startswith("configguard-")
    ]
    for name, spec in sorted(registry.RULES.items()):
        handler = rule_module(name).lambda_handler
        context = context_for(f"configguard-{name}", ACCOUNT, REGION)
        if spec.trigger is Trigger.PERIODIC:
            events = [scheduled_event(standin, name, at=now_iso())]
        else:
            events = [
                config_change_event(
                    name,
                    item,
                    standin.issue_result_token(name),
                    rule_parameters={"AssumeRoleMode": "false"},
                )
                for resource_type in spec.resource_types
                for item in _sample(name, resource_type, listed[resource_type])
            ]
        for event in events:
            capture.call(f"rule {name}", lambda h=handler, e=event, c=context: invoke(h, e, c))
            capture.runs["rule"] += 1
    item = cibuilder.read(factory, registry.LAMBDA, "scenario-baseline")
    assert item is not None
    event = config_change_event(SECRETS_RULE, item, standin.issue_result_token(SECRETS_RULE))
    context = context_for(f"configguard-{SECRETS_RULE}", ACCOUNT, REGION)
    denied = (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/configguard-{SECRETS_RULE}/rule is not "
        "authorized to perform: lambda:GetFunctionConfiguration on resource: " + str(item["ARN"])
    )
    with inject_error(
        factory.client("lambda"),
        "GetFunctionConfiguration",
        "AccessDeniedException",
        403,
        message=denied,
    ) as seen:
        handler = rule_module(SECRETS_RULE).lambda_handler
        capture.call(f"rule {SECRETS_RULE} denied", lambda: invoke(handler, event, context))
    capture.runs["rule"] += 1
    capture.injected["rule read denied"] += len(seen)


def cli_commands(capture: Capture, standin: StandIn, replaced: str | None) -> None:
    """The CLI's own commands against the stand-in, in-process, as a user types them."""
    lambda_rules = ["--rule", SECRETS_RULE, "--rule", "lambda-env-cmk-encrypted"]
    baseline = [SECRETS_RULE, "scenario-baseline", "--dry-run", "--actor", ACTOR]
    commands = [
        ["scan", *lambda_rules, "--format", "json"],
        ["scan", *lambda_rules],
        ["audit", "--format", "json"],
        ["audit", "--remediation", STRIP],
        ["status", "--format", "json"],
        ["fix", *baseline],
    ]
    if replaced:
        commands.append(
            ["rollback", replaced, "--dry-run", "--restore-plaintext", "--actor", ACTOR]
        )
    saved = dict(os.environ)  # the CLI points the environment at its endpoint
    runner = CliRunner()
    try:
        for command in commands:
            result = runner.invoke(
                main.app, [*command, "--endpoint-url", standin.url, "--region", REGION]
            )
            source = f"cli {' '.join(command[:2])}"
            capture.lines(f"{source}: stdout", result.stdout)
            capture.lines(f"{source}: stderr", result.stderr)
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                capture.items(f"{source}: exception", exception_texts(result.exception))
            capture.outcomes["cli", command[0], str(result.exit_code)] += 1
            capture.runs["cli"] += 1
    finally:
        os.environ.clear()
        os.environ.update(saved)


def stores(capture: Capture, factory: ClientFactory) -> None:
    """What the account holds afterwards: messages, items, findings, evaluations, log events."""
    from moto.sns.models import sns_backends
    from moto.sqs.models import sqs_backends

    for topic in sns_backends[ACCOUNT][REGION].topics.values():
        capture.items(f"sns {topic.name}", [list(sent) for sent in topic.sent_notifications])
    for queue in sqs_backends[ACCOUNT][REGION].queues.values():
        capture.items(f"sqs {queue.name}", [m.body for m in queue._messages])
    dynamodb = factory.client("dynamodb")
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            capture.items(f"dynamodb {table}", page["Items"])
    for page in factory.client("securityhub").get_paginator("get_findings").paginate():
        capture.items("security hub", page["Findings"])
    config = factory.client("config")
    for name in sorted(registry.RULES):
        token: dict[str, str] = {}
        while True:
            page = config.get_compliance_details_by_config_rule(
                ConfigRuleName=name, Limit=100, **token
            )
            capture.items(f"config {name}", page["EvaluationResults"])
            if not page.get("NextToken"):
                break
            token = {"NextToken": page["NextToken"]}
    logs = factory.client("logs")
    for page in logs.get_paginator("describe_log_groups").paginate():
        for group in page["logGroups"]:
            found = logs.filter_log_events(logGroupName=group["logGroupName"])["events"]
            capture.items(f"log events {group['logGroupName']}", found)


def left_in_place(factory: ClientFactory) -> str:
    """What the account still holds where canaries were planted and no fix removed them:
    a vaulted function's environment, tags and description, and a stage's variables."""
    lam = factory.client("lambda")
    function = lam.get_function(FunctionName=LEFT_IN_PLACE)
    apigateway = factory.client("apigateway")
    api = next(
        a for a in apigateway.get_rest_apis()["items"] if a["name"] == "scenario-shop-secure"
    )
    stage = apigateway.get_stage(restApiId=api["id"], stageName="prod")
    return json.dumps(
        {
            "environment": function["Configuration"]["Environment"]["Variables"],
            "description": function["Configuration"]["Description"],
            "tags": function["Tags"],
            "stage variables": stage.get("variables"),
        }
    )


@dataclass
class Run:
    demo_status: int
    planter: Planter
    capture: Capture
    scanner: Scanner
    leaks: list[tuple[str, Canary]]
    bytes_scanned: int
    audit: list[dict[str, Any]]
    in_place: str = field(repr=False)


def run_everything(standin: StandIn) -> Run:
    """The demo, then every fix, failure path, rule and CLI command, all captured."""
    planter, capture = Planter(), Capture()
    seed_all = scenarios.seed_all

    def planted_seed_all(factory: ClientFactory) -> dict[str, dict[str, str]]:
        with planter.hooks(factory):
            return seed_all(factory)

    console = Console(file=io.StringIO(), width=160, record=True, color_system=None)
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        patch.setattr(scenarios, "seed_all", planted_seed_all)
        patch.setattr(demo, "quiet_function_logs", verbose_function_logs)
        for step in ("scan", "fix_all", "roll_back", "security_hub_round"):
            patch.setattr(demo, step, spy(capture, f"demo {step}", getattr(demo, step)))
        with captured_output(capture), captured_logs(capture):
            status = demo.run_demo(console)
            # The demo's server has stopped; its account lives on in moto's backends,
            # which the shared stand-in serves.
            factory = default_factory()
            every_fix(capture, factory)
            replaced = failure_paths(capture, factory)
            security_hub_round(capture, factory, standin)
            every_rule(capture, factory, standin)
            cli_commands(capture, standin, replaced)
            factory = default_factory()
            stores(capture, factory)
            audit = list_records(factory)
            in_place = left_in_place(factory)
    capture.lines("demo console", console.export_text())
    capture.items("warnings", [f"{w.category.__name__}: {w.message}" for w in caught])
    scanner = Scanner(planter.canaries)
    leaks = [(source, c) for source, text in capture.texts for c in scanner.leaks(text)]
    scanned = sum(len(text.encode()) for _, text in capture.texts)
    return Run(status, planter, capture, scanner, leaks, scanned, audit, in_place)


# ------------------------------------------------------------------------- checks


def the_demo_and_every_fix_ran_for_real(run: Run) -> None:
    """Not vacuous: the demo passed, and every fix dry-ran, applied and was rolled back."""
    assert run.demo_status == 0
    by_fix: dict[str, Counter[tuple[str, bool]]] = {}
    for record in run.audit:
        rollback = bool(record.get("related_audit_id"))
        by_fix.setdefault(record["remediation"], Counter())[record["outcome"], rollback] += 1
    assert set(by_fix) == set(registry.REMEDIATIONS)
    for fix, seen in sorted(by_fix.items()):
        assert seen["dry-run", False] and seen["applied", False], (fix, seen)
        if fix in ROLLBACK_REFUSED:
            assert seen["refused", True] >= 2 and not seen["applied", True], (fix, seen)
        else:
            assert seen["dry-run", True] and seen["applied", True], (fix, seen)


def every_resource_id_the_fixes_met_passes_the_cli_check(run: Run) -> None:
    """`configguard fix` refuses malformed resource ids up front (test_cli_bad_input.py):
    every id the demo and the fixes here acted on is well-formed."""
    for record in run.audit:
        main._check_resource_id(registry.remediation(record["remediation"]), record["resource_id"])


def the_failure_paths_failed_and_refused_as_intended(run: Run) -> None:
    outcomes = run.capture.outcomes
    assert run.capture.injected == {
        "restore quoting the plaintext": 1,
        "replace quoting the plaintext": 1,
        "ignored update": 1,
        "rule read denied": 1,
    }
    assert outcomes[STRIP, "fix apply", "failed"] == 0  # a failed fix raises: no records
    failed = [r for r in run.audit if r["outcome"] == "failed" and r["actor"] == ACTOR]
    assert sorted(r["resource_id"] for r in failed) == [
        "scenario-baseline",  # the restore that Lambda refused
        "scenario-tracing-passthrough",  # the replace that Lambda refused
        "scenario-vpc-two-azs",  # the update that changed nothing
    ]
    assert run.capture.failures.count(f"fix {STRIP} apply") == 2
    assert run.capture.failures.count(f"rollback {STRIP} apply") == 1
    assert f"rule {SECRETS_RULE} denied" in run.capture.failures
    assert outcomes[STRIP, "fix apply", "refused"] >= 1  # the unknown mode tag
    assert outcomes["remove-lambda-public-access", "fix apply", "refused"] == 1
    assert outcomes[STRIP, "fix apply", "blocked"] >= 1  # the kill switch
    assert outcomes[STRIP, "rollback apply", "applied"] == 1  # the plaintext restored
    assert outcomes[STRIP, "fix apply", "applied"] >= 3  # every_fix's, and two replaced
    assert outcomes[STRIP, "router", "applied"] >= 1
    assert set(k for k in outcomes if k[0] == "cli") == {
        ("cli", command, "0") for command in ("scan", "audit", "status", "fix", "rollback")
    }


def the_canaries_sit_where_they_were_planted(run: Run) -> None:
    """Positive control on real data: the planted values are in the account, and the scan
    finds every one of them there."""
    found = {c.where for c in run.scanner.leaks(run.in_place)}
    planted = {
        *(f"{LEFT_IN_PLACE}: environment {slot}" for slot in ENV_SLOTS),
        f"{LEFT_IN_PLACE}: tag deploy-key",
        f"{LEFT_IN_PLACE}: tag contact",
        f"{LEFT_IN_PLACE}: description",
    }
    assert planted <= found
    assert {w.split(":")[1].strip() for w in found - planted} == {
        "variable apiKey",
        "variable dbPassword",
    }


def no_canary_reaches_any_output(run: Run) -> None:
    where = sorted({f"{source} <- {canary.where}" for source, canary in run.leaks})
    assert not where, "planted secrets reached outputs:\n" + "\n".join(where[:40])


def the_figures_hold(run: Run) -> None:
    sources = {source.split(":")[0].split(" ")[0] for source, _ in run.capture.texts}
    assert {
        "stdout/stderr",
        "configguard",
        "root",
        "demo",
        "sns",
        "sqs",
        "dynamodb",
        "security",
        "config",
        "cli",
        "fix",
        "rollback",
        "rule",
    } <= sources
    measured = {
        "canaries planted": len(run.planter.canaries),
        "places planted": len(run.planter.places),
        "fix and rollback runs after the demo": run.capture.runs["fix"],
        "rule handler runs": run.capture.runs["rule"],
        "CLI commands": run.capture.runs["cli"],
    }
    assert measured == {k: FIGURES[k] for k in measured}
    assert len(run.capture.texts) >= FIGURES["texts scanned"]
    assert run.bytes_scanned >= FIGURES["bytes scanned"]


# -------------------------------------------------------------------------- tests


CHECKS: tuple[Callable[[Run], None], ...] = (
    the_demo_and_every_fix_ran_for_real,
    the_failure_paths_failed_and_refused_as_intended,
    every_resource_id_the_fixes_met_passes_the_cli_check,
    the_canaries_sit_where_they_were_planted,
    no_canary_reaches_any_output,
    the_figures_hold,
)


def test_no_planted_secret_reaches_any_output(module_standin: StandIn) -> None:
    """One test, so that `pytest -n 2` runs the demo once: every check, every problem."""
    run = run_everything(module_standin)
    problems = []
    for check in CHECKS:
        try:
            check(run)
        except AssertionError as exc:
            problems.append(f"{check.__name__}: {exc}")
    assert not problems, "\n\n".join(problems)


def test_the_scan_finds_any_fragment_and_nothing_redacted() -> None:
    """Positive and negative controls on synthetic text (the run checks real data)."""
    name = LEFT_IN_PLACE
    neighbour = "scenario-baseline"  # its canaries share generator structure
    scanner = Scanner(
        [env_canary(owner, slot) for owner in (name, neighbour) for slot in ENV_SLOTS]
    )
    for slot in ENV_SLOTS:
        canary = env_canary(name, slot)
        secret = canary.secrets[-1]  # a JWT's payload starts like every other one's
        fragment = secret[-3 - WINDOW : -3]
        assert scanner.leaks(f"error near '{fragment}'") == [canary], slot
        assert scanner.leaks(f"error near '{fragment[:-1]}'") == [], slot
    environment = {slot: env_canary(name, slot).value for slot in ENV_SLOTS}
    assert len(scanner.leaks(json.dumps(environment))) == len(ENV_SLOTS)
    assert scanner.leaks(json.dumps(redact({"Variables": environment}))) == []
    assert scanner.leaks(redact_text(environment["DATABASE_URL"])) == []
