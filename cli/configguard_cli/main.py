"""The `configguard` command line."""

from __future__ import annotations

import getpass
import json
import os
import signal
import sys
import threading
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from configguard import registry
from configguard.clients import ClientFactory, reset_default_factory
from configguard_cli import render
from configguard_cli.render import records_table

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="configguard: AWS Config custom rules with safe, audited auto-remediation.",
)
local_app = typer.Typer(no_args_is_help=True, help="The embedded AWS stand-in (moto).")
app.add_typer(local_app, name="local")

console = Console()
err = Console(stderr=True)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


RegionOpt = Annotated[str | None, typer.Option("--region", help="AWS Region.")]
EndpointOpt = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="Endpoint, e.g. the stand-in's http://127.0.0.1:PORT."),
]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="AWS profile (real accounts).")]
FormatOpt = Annotated[Format, typer.Option("--format", help="Output format.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]


class CliError(Exception):
    """A problem the user can act on: printed as one line, exit code 2."""


def _factory(region: str | None, endpoint_url: str | None, profile: str | None) -> ClientFactory:
    import boto3

    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
        reset_default_factory()
    session = boto3.session.Session(profile_name=profile, region_name=region)
    resolved = region or session.region_name
    if not resolved:
        raise CliError("no AWS Region: pass --region or set AWS_REGION")
    os.environ.setdefault("AWS_REGION", resolved)
    return ClientFactory(region=resolved, endpoint_url=endpoint_url, session=session)


def _run(debug: bool, action: Any) -> Any:
    """Run a command body; turn expected failures into a one-line error."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return action()
    except typer.Exit:
        raise
    except (CliError, KeyError, ValueError, LookupError, ClientError, BotoCoreError) as exc:
        if debug:
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _emit(data: Any, fmt: Format, output: Path | None, table: Table | None) -> None:
    if fmt is Format.JSON:
        text = json.dumps(data, indent=2, sort_keys=True, default=str)
        if output:
            output.write_text(text + "\n")
        else:
            sys.stdout.write(text + "\n")
    elif table is not None:
        if output:
            with output.open("w") as handle:
                Console(file=handle, width=160).print(table)
        else:
            console.print(table)


@app.command()
def scan(
    rule: Annotated[
        list[str] | None, typer.Option("--rule", help="Rule name; repeat. Default: all.")
    ] = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
    fmt: FormatOpt = Format.TABLE,
    output: Annotated[Path | None, typer.Option("--output", help="Write to a file.")] = None,
    stats: Annotated[
        bool, typer.Option("--stats", help="Print API calls and resource counts to stderr.")
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Evaluate live resources with the same rule code the Lambdas run.

    Exit code 0 when every resource was evaluated, 3 when some could not be (ERROR).
    """
    from configguard_cli.scan import scan as run_scan

    def body() -> int:
        names = rule or sorted(registry.RULES)
        for name in names:
            registry.rule(name)
        report = run_scan(_factory(region, endpoint_url, profile), names)
        table = Table(title="configguard scan")
        for column in ("rule", "resource", "compliance", "annotation"):
            table.add_column(column)
        for f in report.findings:
            table.add_row(f.rule, f.resource_id, render.compliance(f.compliance), f.annotation)
        _emit([f.as_json() for f in report.findings], fmt, output, table)
        if stats:
            sys.stderr.write(json.dumps(report.stats(), indent=2) + "\n")
        if report.errors:
            err.print(
                f"[red]{len(report.errors)} evaluation(s) failed[/red]: see ERROR findings",
                highlight=False,
            )
            return 3
        return 0

    code = _run(debug, body)
    if code:
        raise typer.Exit(code)


@app.command()
def fix(
    rule: Annotated[str, typer.Argument(help="The rule whose paired fix to run.")],
    resource_id: Annotated[str, typer.Argument(help="The resource id, as Config names it.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan only; change nothing.")] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit record.")] = "",
    actor: Annotated[str | None, typer.Option("--actor", help="Who (default: $USER).")] = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
    fmt: FormatOpt = Format.TABLE,
    debug: DebugOpt = False,
) -> None:
    """Run the paired remediation through its real handler and print the audit record."""
    from configguard.remediation import RemediationFailedError
    from configguard_cli.fixing import NoFixError, run_fix

    def body() -> None:
        factory = _factory(region, endpoint_url, profile)
        try:
            records = run_fix(
                factory,
                rule,
                resource_id,
                actor=actor or getpass.getuser(),
                reason=reason,
                dry_run=dry_run,
            )
        except (NoFixError, RemediationFailedError) as exc:
            raise CliError(str(exc)) from None
        _emit(records, fmt, None, records_table(records, "configguard fix"))

    _run(debug, body)


@app.command()
def audit(
    resource_id: Annotated[str | None, typer.Option("--resource-id")] = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
    fmt: FormatOpt = Format.TABLE,
    debug: DebugOpt = False,
) -> None:
    """List audit records, newest first."""
    from configguard_cli.auditlog import list_records

    def body() -> None:
        records = list_records(_factory(region, endpoint_url, profile), resource_id=resource_id)
        _emit(records, fmt, None, records_table(records, "configguard audit"))

    _run(debug, body)


@app.command()
def rollback(
    audit_id: Annotated[str, typer.Argument(help="The audit id of the applied change.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan only; change nothing.")] = False,
    restore_plaintext: Annotated[
        bool,
        typer.Option(
            "--restore-plaintext",
            help="strip-env-secrets: put secret values back into the environment.",
        ),
    ] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit record.")] = "",
    actor: Annotated[str | None, typer.Option("--actor", help="Who (default: $USER).")] = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
    fmt: FormatOpt = Format.TABLE,
    debug: DebugOpt = False,
) -> None:
    """Revert an applied change through the fix's own handler, where that is safe."""
    from configguard import audit as audit_store
    from configguard.remediation import RemediationFailedError
    from configguard_cli.events import context_for, rollback_request_event
    from configguard_cli.handlers import invoke, remediation_module

    def body() -> None:
        factory = _factory(region, endpoint_url, profile)
        record = audit_store.read(factory, audit_id)
        if record is None:
            raise CliError(f"there is no audit record {audit_id}")
        spec = registry.remediation(record["remediation"])
        event = rollback_request_event(
            record,
            actor=actor or getpass.getuser(),
            reason=reason,
            dry_run=dry_run,
            restore_plaintext=restore_plaintext,
        )
        handler = remediation_module(spec.name).lambda_handler
        context = context_for(f"configguard-{spec.name}", event["account"], event["region"])
        try:
            records = invoke(handler, event, context)["results"]
        except RemediationFailedError as exc:
            raise CliError(str(exc)) from None
        _emit(records, fmt, None, records_table(records, "configguard rollback"))

    _run(debug, body)


@local_app.command("up")
def local_up(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0 = any free).")] = 4566,
) -> None:
    """Run the stand-in in the foreground until Ctrl-C or SIGTERM."""
    from configguard_cli.local.standin import StandIn

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with StandIn(port=port) as standin:
        resources = standin.provision()
        console.print(f"configguard stand-in listening on [bold]{standin.url}[/bold]")
        console.print("Use it from another shell with:")
        for key, value in sorted(standin.environ().items()):
            console.print(f"  export {key}={value}", highlight=False)
        console.print(f"Provisioned: {resources}", highlight=False)
        sys.stdout.flush()
        stop.wait()
    console.print("stand-in stopped")


@local_app.command("seed")
def local_seed(
    endpoint_url: Annotated[
        str, typer.Option("--endpoint-url", help="The stand-in, e.g. http://127.0.0.1:4566.")
    ],
    region: RegionOpt = "us-east-1",
    expect: Annotated[
        Path | None, typer.Option("--expect", help="Write expected verdicts (JSON) here.")
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Create one function per rule scenario in the stand-in (refuses any other endpoint)."""
    from urllib.parse import urlparse

    from configguard_cli.local import scenarios

    def body() -> None:
        host = urlparse(endpoint_url).hostname
        if host not in {"127.0.0.1", "localhost"}:
            raise CliError("seed only runs against the local stand-in (127.0.0.1)")
        # The stand-in accepts any credentials; never look for real ones here.
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ[name] = "testing"
        os.environ.pop("AWS_PROFILE", None)
        table = scenarios.seed_all(_factory(region, endpoint_url, None))
        if expect:
            expect.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
        count = len(next(iter(table.values()), {}))
        console.print(f"seeded {count} scenario functions ({scenarios.PREFIX}*)")

    _run(debug, body)


@app.command()
def catalogue(
    check: Annotated[bool, typer.Option("--check", help="Fail if docs/rules.md is stale.")] = False,
) -> None:
    """Regenerate docs/rules.md from the registry."""
    from configguard_cli import catalogue as cat

    if check:
        if not cat.CATALOGUE.exists() or cat.CATALOGUE.read_text() != cat.render():
            err.print("docs/rules.md is stale: run `configguard catalogue`")
            raise typer.Exit(1)
        return
    console.print(f"wrote {cat.write()}")


@app.command()
def demo() -> None:
    """The main job: rule -> compliance change -> fix -> audit -> re-evaluation, locally."""
    from configguard_cli.demo import run_demo

    wide = console if console.is_terminal else Console(width=160)
    raise typer.Exit(run_demo(wide))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
