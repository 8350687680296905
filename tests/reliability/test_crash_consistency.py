"""Crash consistency of strip-env-secrets (issue 10, item 3), through its real handler.

An invocation is cut short right after each AWS call it makes, whatever the service
(SSM, STS, DynamoDB, Lambda, Secrets Manager, IAM, Security Hub, SNS), in vault and
replace mode, two ways:

- killed: the process dies. No handler code sees it (a BaseException) and no AWS call
  follows, as when Lambda stops an invocation at its deadline;
- raised: the call's response is lost (an Exception the engine sees and handles).

The cut run's context has no time left, so a Powertools INPROGRESS record it leaves has
expired (in_progress_expiry is its deadline) when Lambda's retry delivers the same event
again. At the cut, every value of the
function's secrets is in its environment or in Secrets Manager (current or previous
version) and the environment is the old form or the new one, never a mix. After the
retry: one secret with every value, the read grant, the final environment, each change
call (CreateSecret, PutRolePolicy, UpdateFunctionConfiguration) reached AWS exactly
once, exactly one `applied` audit record, the finding RESOLVED with the applied record's
note, and the records the cut run leaves are exactly those listed in `expected_records`.

A sample of points is also killed for real: a subprocess runs the handler against the
stand-in and `os._exit(137)`s right after its Nth call. Its context has the full 300 s, so
an immediate retry is recorded as a duplicate and acts on nothing; once the deadline has
passed (Powertools' clock advanced past it), the retry finishes the job.
"""

from __future__ import annotations

import datetime as real_datetime
import json
import os
import secrets
import subprocess
import sys
import textwrap
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.client
import pytest
from conftest import ACCOUNT, REGION, compliance_change, config_finding, make_function

from configguard import settings
from configguard.clients import ClientFactory
from configguard.remediation import RequestInProgressError
from configguard_cli.auditlog import list_records
from configguard_cli.events import LambdaContext
from configguard_cli.handlers import remediation_module

FIX = "strip-env-secrets"
RULE = "lambda-env-no-plaintext-secrets"
FUNCTION = f"configguard-{FIX}"
MODE_TAG = "configguard:strip-secrets-mode"
PRODUCT = f"arn:aws:securityhub:{REGION}::product/aws/config"
FINDING = "finding-crash-consistency"
SECRET_NAMES = ("API_TOKEN", "DB_PASSWORD", "UPLOAD_KEY")
PLAIN = {"MODE": "live", "TABLE_NAME": "orders"}
CHANGE_CALLS = (
    "secretsmanager.CreateSecret",
    "secretsmanager.PutSecretValue",
    "iam.PutRolePolicy",
    "lambda.UpdateFunctionConfiguration",
)
handler = remediation_module(FIX).lambda_handler

# Every AWS call of one invocation on a function with plaintext secrets and an active
# Security Hub finding, in order. Pinned: the crash points below are these calls.
_HEAD = [
    "ssm.GetParameter",  # kill switch
    "ssm.GetParameter",  # mode override
    "sts.GetCallerIdentity",  # account allowlist
    "dynamodb.PutItem",  # Powertools idempotency record, INPROGRESS
    "dynamodb.GetItem",  # the journal: an earlier attempt of this request?
    "lambda.GetFunction",
    "secretsmanager.DescribeSecret",
    "iam.GetRolePolicy",
    "securityhub.GetFindings",
]
_REREAD = [
    "lambda.GetFunction",
    "secretsmanager.DescribeSecret",
    "secretsmanager.GetSecretValue",
    "iam.GetRolePolicy",
]
_TAIL = [
    "securityhub.BatchUpdateFindings",  # RESOLVED
    "lambda.TagResource",
    "dynamodb.PutItem",  # the applied audit record
    "sns.Publish",  # on-call
    "dynamodb.UpdateItem",  # Powertools idempotency record, COMPLETED
]
_STORE = [
    "dynamodb.UpdateItem",  # blast-radius cap
    "securityhub.BatchUpdateFindings",  # NOTIFIED: applying
    "dynamodb.PutItem",  # the journal: about to change the resource
    "secretsmanager.CreateSecret",
    "secretsmanager.GetSecretValue",  # read-back
    "iam.PutRolePolicy",
]
SEQUENCE = {
    "vault": [*_HEAD, *_STORE, *_REREAD, *_TAIL],
    "replace": [
        *_HEAD,
        "lambda.ListVersionsByFunction",
        *_STORE,
        "lambda.GetFunctionConfiguration",
        "lambda.UpdateFunctionConfiguration",
        "lambda.GetFunctionConfiguration",
        *_REREAD,
        *_TAIL,
    ],
}
# Killed after every call in both modes; a lost answer after every call of replace mode,
# whose calls include all of vault mode's (the engine handles them the same way).
POINTS = [
    *((mode, "killed", at) for mode in SEQUENCE for at in range(len(SEQUENCE[mode]))),
    *(("replace", "raised", at) for at in range(len(SEQUENCE["replace"]))),
]
# Real process kills (replace mode): after these calls of SEQUENCE["replace"].
KILL_AFTER = (
    "dynamodb.PutItem#0",  # only the INPROGRESS record exists
    "secretsmanager.CreateSecret#0",  # stored, not granted
    "lambda.UpdateFunctionConfiguration#0",  # replaced, not recorded
    "dynamodb.PutItem#2",  # the applied record written, Powertools not told
)

FIGURES: dict[str, int] = {"crash points covered": 80, "process kills": 4}


# ----------------------------------------------------------------------- helpers


class Killed(BaseException):
    """The process died: nothing in the handler can catch it."""


class Crash(Exception):
    """The response of a call that AWS did carry out never arrived."""


@dataclass
class DeadlineContext(LambdaContext):
    """A Lambda context whose remaining time counts down to a deadline (monotonic)."""

    deadline: float = 0.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def context(seconds: float) -> DeadlineContext:
    return DeadlineContext(
        function_name=FUNCTION,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}",
        deadline=time.monotonic() + seconds,
    )


@dataclass
class Tap:
    """The AWS calls of one invocation, in order; optionally cut right after call `at`."""

    at: int | None = None
    how: str = ""
    calls: list[str] = field(default_factory=list)
    after_death: list[str] = field(default_factory=list)
    resolved_notes: int = 0

    @property
    def dead(self) -> bool:
        return self.how == "killed" and self.at is not None and len(self.calls) > self.at

    def count(self, call: str) -> int:
        return self.calls.count(call)


@contextmanager
def tap(at: int | None = None, how: str = "") -> Iterator[Tap]:
    """Record every call any botocore client makes (and cut after call `at`)."""
    seen = Tap(at, how)
    original: Callable[..., Any] = botocore.client.BaseClient._make_api_call

    def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        call = f"{client.meta.service_model.service_name}.{operation}"
        if seen.dead:
            seen.after_death.append(call)
            raise Killed(f"no call after death: {call}")
        try:
            return original(client, operation, params)
        finally:
            # Reached the stand-in, whatever it answered (an error is an answer too).
            seen.calls.append(call)
            if (params.get("Workflow") or {}).get("Status") == "RESOLVED":
                seen.resolved_notes += 1
            if len(seen.calls) - 1 == seen.at:
                raise (Killed if how == "killed" else Crash)(f"cut after {call}")

    botocore.client.BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


def seed(
    factory: ClientFactory, hub: Any, name: str, mode: str, finding: str = FINDING
) -> dict[str, str]:
    """A function with plaintext secrets (values made now) and an active finding.

    The stand-in's GetFindings ignores filters, so one finding is re-pointed at each new
    function: the engine's lookup then reads one page whatever the number of functions.
    """
    variables = {
        **PLAIN,
        "UPLOAD_KEY": "AKIA" + secrets.token_hex(8).upper(),
        "API_TOKEN": secrets.token_hex(20),
        "DB_PASSWORD": secrets.token_urlsafe(24),
    }
    make_function(factory, name, tags={MODE_TAG: mode}, Environment={"Variables": variables})
    hub.batch_import_findings(Findings=[config_finding(finding, RULE, arn_of(name), PRODUCT)])
    return variables


def arn_of(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def config_event(name: str) -> dict[str, Any]:
    """The sample compliance change, aimed at `name`; a retry delivers this same event."""
    return compliance_change("strip_env_secrets", name)


def env(factory: ClientFactory, name: str) -> dict[str, str]:
    conf = factory.client("lambda").get_function_configuration(FunctionName=name)
    return dict((conf.get("Environment") or {}).get("Variables") or {})


def stored_versions(
    factory: ClientFactory, name: str, stages: tuple[str, ...] = ("AWSCURRENT", "AWSPREVIOUS")
) -> list[dict[str, str]]:
    """The secret's values by stage (current, previous); empty when there is no secret."""
    client = factory.client("secretsmanager")
    found = []
    for stage in stages:
        try:
            text = client.get_secret_value(
                SecretId=f"configguard/lambda/{name}", VersionStage=stage
            )["SecretString"]
        except client.exceptions.ResourceNotFoundException:
            continue
        found.append(dict(json.loads(text)))
    return found


def secret_count(factory: ClientFactory, name: str) -> int:
    listed = factory.client("secretsmanager").list_secrets(
        Filters=[{"Key": "name", "Values": [f"configguard/lambda/{name}"]}]
    )["SecretList"]
    return sum(1 for s in listed if s["Name"] == f"configguard/lambda/{name}")


def secret_arn(factory: ClientFactory, name: str) -> str:
    client = factory.client("secretsmanager")
    return str(client.describe_secret(SecretId=f"configguard/lambda/{name}")["ARN"])


def replaced_form(original: dict[str, str], arn: str) -> dict[str, str]:
    return {
        **original,
        **dict.fromkeys(SECRET_NAMES, ""),
        **{f"{k}_SECRET_ARN": arn for k in SECRET_NAMES},
    }


def assert_recoverable(factory: ClientFactory, name: str, original: dict[str, str]) -> None:
    """Old or new environment, never a mix; each value in the env or in the secret."""
    now, versions = env(factory, name), stored_versions(factory, name)
    if now != original:
        assert now == replaced_form(original, secret_arn(factory, name)), sorted(now)
    for key in SECRET_NAMES:
        assert original[key] == now.get(key) or any(
            original[key] == v.get(key) for v in versions
        ), key


def assert_finished(
    factory: ClientFactory,
    hub: Any,
    name: str,
    mode: str,
    original: dict[str, str],
    finding_id: str = FINDING,
) -> list[str]:
    """The job is done: one secret with every value, the grant, the final env, one applied
    record (named by the tag and the finding's note, RESOLVED); all records' outcomes."""
    assert secret_count(factory, name) == 1
    arn = secret_arn(factory, name)
    current = stored_versions(factory, name, ("AWSCURRENT",))
    assert current == [{k: original[k] for k in SECRET_NAMES}]
    policy = factory.client("iam").get_role_policy(
        RoleName="app-role", PolicyName=f"configguard-secrets-read-{name}"
    )["PolicyDocument"]
    assert policy["Statement"][0]["Resource"] == arn
    assert env(factory, name) == (original if mode == "vault" else replaced_form(original, arn))
    records = list_records(factory, resource_id=name)
    [applied] = [r for r in records if r["outcome"] == "applied"]
    assert applied["details"]["secretArn"] == arn
    tags = factory.client("lambda").list_tags(Resource=arn_of(name))["Tags"]
    assert tags[settings.LAST_REMEDIATION_TAG] == applied["audit_id"]
    [finding] = [
        found
        for page in hub.get_paginator("get_findings").paginate()
        for found in page["Findings"]
        if found["Id"] == finding_id
    ]
    assert finding["Resources"][0]["Id"] == arn_of(name)
    assert finding["Workflow"]["Status"] == "RESOLVED"
    assert f"(audit {applied['audit_id']})" in finding["Note"]["Text"]
    assert "applied" in finding["Note"]["Text"]
    return sorted(r["outcome"] for r in records)


def one_change(mode: str) -> dict[str, int]:
    """How often each change call reaches AWS for one job: once (PutSecretValue: never)."""
    return {
        "secretsmanager.CreateSecret": 1,
        "secretsmanager.PutSecretValue": 0,
        "iam.PutRolePolicy": 1,
        "lambda.UpdateFunctionConfiguration": int(mode == "replace"),
    }


def index_of(mode: str, call: str, nth: int = 0) -> int:
    return [i for i, c in enumerate(SEQUENCE[mode]) if c == call][nth]


def expected_records(mode: str, how: str, at: int) -> list[str]:
    """Every audit record of the job after the cut run and the retry (sorted outcomes).

    Killed before its applied record: the retry applies, or finds the change done and
    records it (the journal). A lost answer before it: the gates and the idempotency store
    fail closed (blocked), in the fix the engine records the failure; then the retry
    applies or records the change. After the applied record, the retry is a duplicate:
    of the COMPLETED idempotency record or, when Powertools was never told, of the
    journal's attempt.
    """
    if at >= index_of(mode, "dynamodb.PutItem", 2):
        return ["applied", "duplicate"]
    if how == "killed":
        return ["applied"]
    return ["applied", "blocked" if at <= index_of(mode, "dynamodb.PutItem") else "failed"]


def lost_answer_absorbed(mode: str, at: int) -> bool:
    """The handler returns after this lost answer: a gate or the idempotency store failed
    closed (a blocked record), or the best-effort on-call publish. Otherwise it raises."""
    return at <= index_of(mode, "dynamodb.PutItem") or at == index_of(mode, "sns.Publish")


def resolved_notes(mode: str, how: str, at: int) -> int:
    """RESOLVED notes across the cut run and its retry."""
    first, tag = (
        index_of(mode, "securityhub.BatchUpdateFindings", 1),
        index_of(mode, "lambda.TagResource"),
    )
    # A raised cut between the RESOLVED note and the tag is recorded as a failure, which
    # sets the finding back to NOTIFIED; the retry resolves it again.
    return 2 if how == "raised" and first <= at <= tag else 1


# ----------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _env(module_standin: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.MAX_CHANGES_PER_HOUR, "100000")


@pytest.fixture(scope="module")
def hub(module_factory: ClientFactory) -> Any:
    client = module_factory.client("securityhub")
    client.enable_security_hub()
    return client


# ------------------------------------------------------------------------- tests


def test_figures_match_the_points_run() -> None:
    assert FIGURES["crash points covered"] == len(POINTS)
    assert FIGURES["process kills"] == len(KILL_AFTER)
    assert {call.split("#")[0] for call in KILL_AFTER} <= set(SEQUENCE["replace"])


@pytest.mark.parametrize("mode", list(SEQUENCE))
def test_the_invocation_makes_exactly_the_pinned_calls(module_factory, hub, mode):
    name = f"cc-reference-{mode}"
    original = seed(module_factory, hub, name, mode)
    with tap() as seen:
        [result] = handler(config_event(name), context(300))["results"]
    assert result["outcome"] == "applied", result
    assert seen.calls == SEQUENCE[mode]
    assert {call: seen.count(call) for call in CHANGE_CALLS} == one_change(mode)
    assert_finished(module_factory, hub, name, mode, original)


@pytest.mark.parametrize(
    ("mode", "how", "at"), POINTS, ids=[f"{m}-{h}-{a}-{SEQUENCE[m][a]}" for m, h, a in POINTS]
)
def test_cut_after_each_call_loses_nothing_and_the_retry_finishes_once(
    module_factory, hub, mode, how, at
):
    factory = module_factory
    name = f"cc-{mode}-{how}-{at}"
    original = seed(factory, hub, name, mode)
    event = config_event(name)
    # The cut run's deadline has passed by the time it writes the idempotency record.
    with tap(at, how) as cut:
        if how == "killed":
            with pytest.raises(Killed):
                handler(event, context(0))
        else:
            try:
                handler(event, context(0))
            except Exception:
                absorbed = False
            else:
                absorbed = True
            assert absorbed == lost_answer_absorbed(mode, at)
    assert cut.calls[at] == SEQUENCE[mode][at], cut.calls
    assert cut.after_death == []
    if how == "killed":
        assert len(cut.calls) == at + 1
    assert_recoverable(factory, name, original)
    with tap() as retry:
        handler(event, context(300))
    assert assert_finished(factory, hub, name, mode, original) == expected_records(mode, how, at)
    # Each change reached AWS exactly once across the cut run and the retry.
    both = cut.calls + retry.calls
    assert {call: both.count(call) for call in CHANGE_CALLS} == one_change(mode)
    assert cut.resolved_notes + retry.resolved_notes == resolved_notes(mode, how, at)


# ------------------------------------------------------------------ process kills

CHILD = textwrap.dedent(
    """
    import json, os, sys
    import botocore.client
    from configguard_cli.handlers import remediation_module
    from configguard_cli.events import context_for

    event, at = json.loads(sys.argv[1]), int(sys.argv[2])
    original = botocore.client.BaseClient._make_api_call
    calls = []

    def make_api_call(client, operation, params):
        try:
            return original(client, operation, params)
        finally:
            calls.append(f"{client.meta.service_model.service_name}.{operation}")
            if len(calls) - 1 == at:
                sys.stdout.write(json.dumps(calls) + "\\n")
                sys.stdout.flush()
                os._exit(137)

    botocore.client.BaseClient._make_api_call = make_api_call
    handler = remediation_module("strip-env-secrets").lambda_handler
    handler(event, context_for("configguard-strip-env-secrets", "123456789012", "us-east-1"))
    sys.stdout.write(json.dumps(calls) + "\\n")
    """
)


@contextmanager
def clock_advanced(seconds: float) -> Iterator[None]:
    """Powertools' idempotency clock moved on (the deadline of the dead run has passed)."""
    from aws_lambda_powertools.utilities.idempotency.persistence import base, dynamodb

    class Later(real_datetime.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return real_datetime.datetime.now(tz) + real_datetime.timedelta(seconds=seconds)

    shifted = types.SimpleNamespace(datetime=Later, timedelta=real_datetime.timedelta)
    saved = base.dt, dynamodb.dt
    base.dt = dynamodb.dt = shifted  # type: ignore[assignment]
    try:
        yield
    finally:
        base.dt, dynamodb.dt = saved


def test_real_process_kills_then_the_retry_after_the_deadline_finishes_once(
    module_standin, module_factory, hub
):
    factory, mode = module_factory, "replace"
    environ = {
        **os.environ,
        **module_standin.environ(),
        settings.MAX_CHANGES_PER_HOUR: "100000",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    jobs = []
    for label in KILL_AFTER:
        call, nth = label.split("#")
        at = index_of(mode, call, int(nth))
        name = f"cc-kill-{at}"
        original = seed(factory, hub, name, mode, f"finding-{name}")
        event = config_event(name)
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(event), str(at)],
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        jobs.append((at, name, original, event, child))
    kills = 0
    for at, name, original, event, child in jobs:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 137, err[-2000:]
        died_after = json.loads(out.splitlines()[-1])
        assert died_after == SEQUENCE[mode][: at + 1]
        kills += 1
        assert_recoverable(factory, name, original)
        before = list_records(factory, resource_id=name)
        # Lambda's retry inside the dead run's 300 s: recorded as a duplicate, no change,
        # and the invocation fails so that Lambda retries it again later.
        with tap() as early, pytest.raises(RequestInProgressError, match="held by another"):
            handler(event, context(300))
        [result] = [r for r in list_records(factory, resource_id=name) if r not in before]
        assert result["outcome"] == "duplicate", result
        assert "being processed by another invocation" in result["reason"]
        assert not {c for c in early.calls if c in CHANGE_CALLS}
        assert_recoverable(factory, name, original)
        assert len(list_records(factory, resource_id=name)) == len(before) + 1
        # After the dead run's deadline: the same event finishes the job exactly once.
        with clock_advanced(301), tap() as late:
            [result] = handler(event, context(300))["results"]
        calls = died_after + early.calls + late.calls
        assert {call: calls.count(call) for call in CHANGE_CALLS} == one_change(mode)
        applied_written = at >= index_of(mode, "dynamodb.PutItem", 2)
        assert assert_finished(factory, hub, name, mode, original, f"finding-{name}") == sorted(
            ["applied", "duplicate", *(["duplicate"] if applied_written else [])]
        )
        assert result["outcome"] == ("duplicate" if applied_written else "applied")
    assert kills == FIGURES["process kills"]
