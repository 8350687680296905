"""Issue 10 item 6: bad input to the CLI gives one clear line and a non-zero exit.

Every AWS command (each command with --endpoint-url) meets an unknown rule or fix, a
malformed resource or audit id, credentials that may do nothing, and an endpoint nobody
listens on. Each answer is exactly one line on stderr, names the problem, exits 2 and
shows no traceback; with --debug the error propagates, so its traceback is shown.

Most cases run in-process with typer's CliRunner against the stand-in. Missing
permissions are AccessDenied answers in AWS's own shape (JSON protocols:
AccessDeniedException; query protocols: AccessDenied) injected with a botocore hook on
every client the CLI builds, except sts:GetCallerIdentity, which AWS never denies. The
unreachable endpoint (a closed 127.0.0.1 port) runs as real subprocesses, in parallel,
since each waits out the client's retries.
"""

from __future__ import annotations

import inspect
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from conftest import ACCOUNT, REGION, load_event
from typer.testing import CliRunner, Result

from configguard import registry
from configguard.clients import ClientFactory
from configguard.registry import UnknownRemediationError, UnknownRuleError
from configguard_cli import main
from configguard_cli.local import scenarios
from configguard_cli.local.standin import StandIn
from configguard_cli.status import CallerCannotReadError

CLI = [sys.executable, "-m", "configguard_cli.main"]
NOBODY = f"arn:aws:iam::{ACCOUNT}:user/intern"  # whose requests are denied
WELL_FORMED_AUDIT_ID = "001a1ffe915f3-ca54c2a4f6e0"  # the shape, but no such record


@dataclass(frozen=True)
class Case:
    """One bad input: the command line, what the one line must say, what --debug raises."""

    name: str
    args: tuple[str, ...]
    says: tuple[str, ...]
    raises: type[BaseException]
    denied: bool = False

    @property
    def command(self) -> str:
        return self.args[0]


FIX = ("--dry-run", "--actor", "oncall")
CASES = [
    # unknown rule or fix
    Case(
        "scan unknown rule",
        ("scan", "--rule", "no-such-rule"),
        ("unknown rule 'no-such-rule'",),
        UnknownRuleError,
    ),
    Case(
        "scan rule that looks like markup",
        ("scan", "--rule", "[/red]"),
        ("unknown rule '[/red]'",),
        UnknownRuleError,
    ),
    Case(
        "fix unknown rule",
        ("fix", "no-such-rule", "fn", *FIX),
        ("unknown rule 'no-such-rule'",),
        UnknownRuleError,
    ),
    Case(
        "fix rule without a fix",
        ("fix", "lambda-runtime-supported", "fn", *FIX),
        ("has no paired remediation",),
        main.CliError,
    ),
    Case(
        "audit unknown rule",
        ("audit", "--rule", "no-such-rule"),
        ("unknown rule 'no-such-rule'",),
        UnknownRuleError,
    ),
    Case(
        "audit unknown fix",
        ("audit", "--remediation", "no-such-fix"),
        ("unknown remediation 'no-such-fix'",),
        UnknownRemediationError,
    ),
    Case(
        "audit malformed time",
        ("audit", "--since", "[bold]yesterday"),
        ("invalid time '[bold]yesterday'",),
        ValueError,
    ),
    # malformed resource ids, one per resource type a fix acts on
    Case(
        "fix function ARN for a name",
        (
            "fix",
            "lambda-reserved-concurrency",
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn",
            *FIX,
        ),
        ("malformed resource id", "a function name"),
        main.CliError,
    ),
    Case(
        "fix name over two lines",
        ("fix", "lambda-reserved-concurrency", "fn\nrm -rf", *FIX),
        ("malformed resource id 'fn\\nrm -rf'",),
        main.CliError,
    ),
    Case(
        "fix stage ARN cut short",
        ("fix", "apigw-stage-waf-attached", f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3", *FIX),
        ("malformed resource id", "stage ARN"),
        main.CliError,
    ),
    Case(
        "fix key alias for a key id",
        ("fix", "kms-key-rotation-enabled", "alias/orders", *FIX),
        ("malformed resource id", "a key id"),
        main.CliError,
    ),
    Case(
        "fix log group with spaces",
        ("fix", "log-group-retention", "orders api logs", *FIX),
        ("malformed resource id", "log group name"),
        main.CliError,
    ),
    Case(
        "fix trail name too short",
        ("fix", "cloudtrail-security-trail", "x!", *FIX),
        ("malformed resource id", "trail name or ARN"),
        main.CliError,
    ),
    Case(
        "fix HTTP stage ARN without its stage",
        (
            "fix",
            "apigw-stage-access-logging",
            f"arn:aws:apigateway:{REGION}::/apis/a1b2c3/stages",
            *FIX,
        ),
        ("malformed resource id", "REST API stage ARN", "HTTP or WebSocket API stage ARN"),
        main.CliError,
    ),
    # unknown or malformed audit ids
    Case(
        "rollback unknown audit id",
        ("rollback", WELL_FORMED_AUDIT_ID, "--dry-run"),
        (f"there is no audit record {WELL_FORMED_AUDIT_ID}",),
        main.CliError,
    ),
    Case(
        "rollback malformed audit id",
        ("rollback", "not an id!", "--dry-run"),
        ("malformed audit id 'not an id!'",),
        main.CliError,
    ),
    # credentials that may do nothing
    Case(
        "scan denied",
        ("scan", "--rule", "lambda-reserved-concurrency"),
        ("AccessDeniedException", "lambda:ListFunctions"),
        ClientError,
        denied=True,
    ),
    Case(
        "fix denied",
        ("fix", "lambda-reserved-concurrency", "fn", *FIX),
        ("AccessDeniedException", "lambda:GetFunctionConfiguration"),
        ClientError,
        denied=True,
    ),
    Case(
        "audit denied",
        ("audit",),
        ("AccessDeniedException", "dynamodb:Scan"),
        ClientError,
        denied=True,
    ),
    Case(
        "rollback denied",
        ("rollback", WELL_FORMED_AUDIT_ID, "--dry-run"),
        ("AccessDeniedException", "dynamodb:GetItem"),
        ClientError,
        denied=True,
    ),
    Case(
        "status denied",
        ("status",),
        ("your credentials may not", "AccessDeniedException"),
        CallerCannotReadError,
        denied=True,
    ),
]
# The unreachable endpoint, for every AWS command (shortest work each: a single rule).
UNREACHABLE: dict[str, tuple[str, ...]] = {
    "scan": ("scan", "--rule", "lambda-reserved-concurrency"),
    "fix": ("fix", "lambda-reserved-concurrency", "fn", "--dry-run"),
    "audit": ("audit",),
    "rollback": ("rollback", WELL_FORMED_AUDIT_ID, "--dry-run"),
    "status": ("status",),
}
FIGURES: dict[str, int] = {"CLI bad-input cases": 26}  # each also run with --debug


def aws_commands() -> set[str]:
    """The commands that talk to AWS: those with an --endpoint-url option."""
    found = set()
    for command in main.app.registered_commands:
        assert command.callback is not None
        if "endpoint_url" in inspect.signature(command.callback).parameters:
            found.add(command.name or command.callback.__name__)
    return found


# ----------------------------------------------------------------------- harness


def _deny(model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    """AWS's answer to a caller with no permissions; sts:GetCallerIdentity always works."""
    service = model.service_model
    if (service.service_name, model.name) == ("sts", "GetCallerIdentity"):
        return None
    action = f"{service.signing_name}:{model.name}"
    query = service.protocol in ("query", "ec2", "rest-xml")
    code = "AccessDenied" if query else "AccessDeniedException"
    message = (
        f"User: {NOBODY} is not authorized to perform: {action} on resource: * "
        f"because no identity-based policy allows the {action} action"
    )
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 403},
    }
    return AWSResponse("https://denied", 403, {}, None), parsed


@pytest.fixture
def denied(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every client the CLI (and the fix it runs in-process) builds is denied everything."""
    build = ClientFactory.client

    def client(self: ClientFactory, service: str, region: str | None = None) -> Any:
        made = build(self, service, region)
        made.meta.events.register("before-call.*.*", _deny, unique_id="deny-everything")
        return made

    monkeypatch.setattr(ClientFactory, "client", client)
    yield


@pytest.fixture
def cli(module_standin: StandIn) -> Iterator[Any]:
    """Run the CLI in-process against the stand-in; the environment is restored after."""
    saved = dict(os.environ)  # the CLI points the environment at its endpoint

    def run(*args: str) -> Result:
        endpoint = ("--endpoint-url", module_standin.url, "--region", REGION)
        return CliRunner().invoke(main.app, [*args, *endpoint])

    yield run
    os.environ.clear()
    os.environ.update(saved)


def one_clear_line(result: Result | subprocess.CompletedProcess[str], *says: str) -> str:
    """The single stderr line of a failed command, after checking it says what it must."""
    stderr = result.stderr
    code = result.exit_code if isinstance(result, Result) else result.returncode
    assert code == 2, (code, stderr)
    assert "Traceback" not in stderr and len(stderr.splitlines()) == 1, stderr
    (line,) = stderr.splitlines()
    assert line.startswith("error: "), line
    for text in says:
        assert text in line, (text, line)
    return line


# ------------------------------------------------------------------------- tests


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_clear_line_and_debug_raises(
    request: pytest.FixtureRequest, cli: Any, case: Case
) -> None:
    if case.denied:
        request.getfixturevalue("denied")
    one_clear_line(cli(*case.args), *case.says)
    debug = cli(*case.args, "--debug")
    assert debug.exit_code != 0 and isinstance(debug.exception, case.raises), debug.exception


def test_every_aws_command_meets_every_kind_of_bad_input() -> None:
    commands = aws_commands()
    assert commands == {"scan", "fix", "audit", "rollback", "status"}
    assert {c.command for c in CASES if c.denied} == commands
    assert set(UNREACHABLE) == commands
    assert {c.command for c in CASES if not c.denied} == commands - {"status"}  # no ids
    fixed_types = {t for spec in registry.REMEDIATIONS.values() for t in spec.resource_types}
    assert fixed_types == set(main.RESOURCE_IDS)
    malformed = set()
    for case in CASES:
        if "malformed resource id" in case.says:
            spec = registry.remediation_for_rule(case.args[1])
            assert spec is not None
            malformed |= set(spec.resource_types)
    assert malformed == fixed_types  # every kind of resource id meets a malformed one


def test_unreachable_endpoint_is_one_clear_line_and_debug_shows_a_traceback(
    module_standin: StandIn,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nobody listens there
    environment = {**os.environ, **module_standin.environ()}
    endpoint = ("--endpoint-url", f"http://127.0.0.1:{port}", "--region", REGION)
    running = {
        (name, debug): subprocess.Popen(
            [*CLI, *args, *endpoint, *(["--debug"] if debug else [])],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=environment,
        )
        for name, args in UNREACHABLE.items()
        for debug in (False, True)
    }
    done = {}
    for key, process in running.items():
        out, err = process.communicate(timeout=120)
        done[key] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    for name in UNREACHABLE:
        one_clear_line(done[name, False], "Could not connect to the endpoint URL", str(port))
        debug = done[name, True]
        assert debug.returncode != 0 and "Traceback" in debug.stderr, (name, debug.stderr[-500:])
        assert "EndpointConnectionError" in debug.stderr, name


def test_every_resource_id_config_gives_is_accepted() -> None:
    """No false alarms: the ids in every fix's sample events, and every seeded function's
    name, pass (the canary module checks every id the demo's fixes met)."""
    checked = 0
    for spec in registry.REMEDIATIONS.values():
        for name in ("cli-fix-request.json", "config-compliance-change.json"):
            detail = load_event(f"{spec.module}/{name}")["detail"]
            main._check_resource_id(spec, detail["resourceId"])
            checked += 1
    lambda_fix = registry.remediation("add-concurrency-limit")
    for function in scenarios.expected()["lambda-reserved-concurrency"]:
        main._check_resource_id(lambda_fix, function)
        checked += 1
    assert checked == 2 * len(registry.REMEDIATIONS) + len(scenarios.scenarios())


def test_figures() -> None:
    assert len(CASES) + len(UNREACHABLE) == FIGURES["CLI bad-input cases"]
