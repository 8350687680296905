"""The `configguard` command line."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from configguard import registry, triggers
from configguard.audit import Outcome
from configguard.clients import DEFAULT_CONCURRENCY as DEFAULT_SCAN_CONCURRENCY
from configguard.clients import ClientFactory, reset_default_factory
from configguard.redact import shown
from configguard_cli import render
from configguard_cli.render import records_table

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="configguard: AWS Config custom rules with safe, audited auto-remediation.",
)
local_app = typer.Typer(no_args_is_help=True, help="The embedded AWS stand-in (moto).")
app.add_typer(local_app, name="local")

# Piped or redirected output gets 160 columns rather than rich's 80, so tables stay readable.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


class ScanFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    HTML = "html"


RegionOpt = Annotated[str | None, typer.Option("--region", help="AWS Region.")]
EndpointOpt = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="Endpoint, e.g. the stand-in's http://127.0.0.1:PORT."),
]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="AWS profile (real accounts).")]
FormatOpt = Annotated[Format, typer.Option("--format", help="Output format.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking for confirmation.")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why, for the audit record.")]
ActorOpt = Annotated[
    str | None,
    typer.Option("--actor", help="Who, for the audit record (default: your ARN, from STS)."),
]

# Exit codes beyond 0 (ok), 1 (not confirmed) and 2 (usage or one-line error).
EXIT_NONCOMPLIANT = 3
EXIT_INCOMPLETE = 4


class CliError(Exception):
    """A problem the user can act on: printed as one line, exit code 2."""


# The resource ids the fixes accept, and how to say so (shared with the fixes' own check).
RESOURCE_IDS = triggers.RESOURCE_IDS


AUDIT_ID = re.compile(r"[0-9a-f]{1,32}-[0-9a-f]{1,32}")  # configguard.audit.new_audit_id


def _check_resource_id(spec: registry.RemediationSpec, resource_id: str) -> None:
    """Refuse, before any AWS call or audit record, an id no resource of the fix's types has."""
    if any(triggers.config_id_ok(t, resource_id) for t in spec.resource_types):
        return
    expected = " or ".join(RESOURCE_IDS[t][1] for t in spec.resource_types if t in RESOURCE_IDS)
    raise CliError(
        f"malformed resource id '{shown(resource_id, 80)}': {spec.name} expects {expected}"
    )


def _factory(region: str | None, endpoint_url: str | None, profile: str | None) -> ClientFactory:
    """The CLI's clients; the handlers it runs in-process see the same endpoint, profile, Region."""
    import boto3

    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    if profile:
        os.environ["AWS_PROFILE"] = profile
    session = boto3.session.Session(profile_name=profile, region_name=region)
    resolved = region or session.region_name
    if not resolved:
        raise CliError("no AWS Region: pass --region or set AWS_REGION")
    if region:
        os.environ["AWS_REGION"] = region
    else:
        os.environ.setdefault("AWS_REGION", resolved)
    reset_default_factory()
    return ClientFactory(region=resolved, endpoint_url=endpoint_url, session=session)


def _run(debug: bool, action: Any) -> Any:
    """Run a command body; turn expected failures into a one-line error."""
    from botocore.exceptions import BotoCoreError, ClientError

    from configguard.settings import ConfigurationError

    try:
        return action()
    except typer.Exit:
        raise
    except (
        CliError,
        ConfigurationError,
        KeyError,
        ValueError,
        LookupError,
        ClientError,
        BotoCoreError,
    ) as exc:
        if debug:
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        # The message may quote what the user typed: print it, never read it as markup.
        err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _exit(code: int | None) -> None:
    if code:
        raise typer.Exit(code)


def _emit(data: Any, fmt: str, output: Path | None, *tables: Any) -> None:
    """JSON `data`, or the rich `tables`, to `output` or stdout."""
    if fmt == Format.JSON:
        text = json.dumps(data, indent=2, sort_keys=True, default=str)
        if output:
            output.write_text(text + "\n")
        else:
            sys.stdout.write(text + "\n")
        return
    if output:
        with output.open("w") as handle:
            file_console = Console(file=handle, width=160)
            for table in tables:
                file_console.print(table)
    else:
        for table in tables:
            console.print(table)


def _who(factory: ClientFactory, actor: str | None) -> tuple[str, str | None]:
    """The actor for the audit record and the caller's account (one sts:GetCallerIdentity).

    Without --actor the caller's ARN is the actor; if STS cannot say who that is, fail
    closed rather than record a guess. An endpoint that cannot be reached, or no
    credentials at all, is that error: --actor would not help.
    """
    from botocore.exceptions import ClientError

    from configguard.reads import error_code
    from configguard_cli.fixing import caller_identity

    try:
        identity = caller_identity(factory)
    except ClientError as exc:
        if actor:
            return actor, None
        raise CliError(
            f"cannot tell who you are (sts:GetCallerIdentity: {error_code(exc)}); pass --actor"
        ) from None
    return actor or identity.arn, identity.account


def _needs_yes(fmt: Format, yes: bool, dry_run: bool) -> None:
    if fmt is Format.JSON and not (yes or dry_run):
        raise CliError(
            "--format json cannot ask for confirmation: add --yes to apply, "
            "or --dry-run for the plan only"
        )


def _mode_hint(record: dict[str, Any]) -> str | None:
    """Why an apply run only dry-ran: the fix's own mode gate (never bypassed here)."""
    from configguard import settings

    if record.get("outcome") != "dry-run" or record.get("mode") != "dry-run":
        return None
    spec = registry.remediation(str(record["remediation"]))
    prefix = settings.optional(settings.SETTINGS_PREFIX, settings.DEFAULT_SETTINGS_PREFIX)
    return (
        f"{spec.name} is in dry-run mode, so nothing changed. To apply, set the SSM override "
        f"{prefix.rstrip('/')}/remediations/{spec.name}/mode (or the stack parameter "
        f"{spec.logical_id}Mode) to apply; `configguard status` shows each fix's mode."
    )


def _confirmed() -> bool:
    """Ask "Apply? [y/N]"; no terminal or end of input counts as no, with a clear message."""
    try:
        return typer.confirm("Apply?", default=False)
    except typer.Abort:
        err.print(
            "\n[red]error:[/red] no answer to 'Apply?' (no terminal or end of input): "
            "nothing applied. Pass --yes to apply without asking.",
            highlight=False,
        )
        return False


def _plan_then_apply(
    planned: list[dict[str, Any]],
    apply: Any,
    *,
    fmt: Format,
    dry_run: bool,
    yes: bool,
    title: str,
) -> int:
    """Show the plan (a dry run's records), ask unless --yes, then apply; the exit code."""
    table = fmt is Format.TABLE
    if table:
        for record in planned:
            console.print(render.plan(record))
            console.print()
    ready = bool(planned) and all(r["outcome"] == "dry-run" for r in planned)
    if not ready or dry_run:
        if not table:
            _emit(planned, fmt, None)
        elif ready:
            console.print("Dry run: nothing changed.")
        else:
            outcomes = ", ".join(sorted({str(r["outcome"]) for r in planned})) or "nothing"
            console.print(f"Nothing to apply: the plan was {outcomes} (see the reason).")
        return 0
    if not yes and not _confirmed():
        console.print("Not applied.")
        return 1
    applied: list[dict[str, Any]] = apply()
    if table:
        console.print(records_table(applied, title))
    else:
        _emit([*planned, *applied], fmt, None)
    for hint in filter(None, map(_mode_hint, applied)):
        err.print(f"[yellow]note:[/yellow] {hint}", highlight=False, soft_wrap=True)
    return 0


def _scan_with_progress(
    factory: ClientFactory, names: list[str], concurrency: int = DEFAULT_SCAN_CONCURRENCY
) -> Any:
    """The scan, with a progress bar on stderr when stderr is a terminal."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from configguard_cli.scan import scan as run_scan

    if not err.is_terminal:
        return run_scan(factory, names, concurrency=concurrency)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("scanning", total=len(names))

        def advance(name: str) -> None:
            progress.update(task, advance=1, description=f"scanned {name}")

        return run_scan(factory, names, progress=advance, concurrency=concurrency)


def _account_or_none(factory: ClientFactory) -> str | None:
    from botocore.exceptions import BotoCoreError, ClientError

    from configguard_cli.fixing import caller_account

    try:
        return caller_account(factory)
    except (ClientError, BotoCoreError):
        return None


@app.command()
def scan(
    rule: Annotated[
        list[str] | None, typer.Option("--rule", help="Rule name; repeat. Default: all.")
    ] = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
    fmt: Annotated[
        ScanFormat,
        typer.Option("--format", help="Output format (html is a report file: needs --output)."),
    ] = ScanFormat.TABLE,
    output: Annotated[Path | None, typer.Option("--output", help="Write to a file.")] = None,
    fail_on_noncompliant: Annotated[
        bool,
        typer.Option(
            "--fail-on-noncompliant", help="Exit 3 when a resource is noncompliant (pipelines)."
        ),
    ] = False,
    stats: Annotated[
        bool, typer.Option("--stats", help="Print API calls and resource counts to stderr.")
    ] = False,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", min=1, max=64, help="Reads in flight at once (adaptive retries)."
        ),
    ] = DEFAULT_SCAN_CONCURRENCY,
    debug: DebugOpt = False,
) -> None:
    """Evaluate live resources with the same rule code the Lambdas run; change nothing.

    Exit codes: 0 done; 3 noncompliant resources found (only with --fail-on-noncompliant);
    4 some resources could not be evaluated (ERROR findings: the result is incomplete;
    4 wins over 3); 2 usage or one-line error.
    """
    import time
    from datetime import UTC, datetime

    from configguard_cli.report import ReportContext, write_html

    def body() -> int:
        if fmt is ScanFormat.HTML and output is None:
            raise CliError("--format html writes a report file: add --output report.html")
        names = rule or sorted(registry.RULES)
        for name in names:
            registry.rule(name)
        factory = _factory(region, endpoint_url, profile)
        started_at, started = datetime.now(UTC), time.monotonic()
        report = _scan_with_progress(factory, names, concurrency)
        if fmt is ScanFormat.HTML:
            assert output is not None
            context = ReportContext(
                region=factory.region or "",
                account=_account_or_none(factory),
                endpoint=endpoint_url or os.environ.get("AWS_ENDPOINT_URL"),
                generated_at=started_at,
                duration_seconds=time.monotonic() - started,
            )
            write_html(output, report, context)
            totals = report.totals()
            console.print(
                f"wrote {output}: {totals['total']} findings, "
                f"{totals['NON_COMPLIANT']} noncompliant, {totals['ERROR']} error(s)",
                highlight=False,
            )
        else:
            findings = Table(title="configguard scan")
            for column in ("rule", "resource", "compliance", "annotation"):
                findings.add_column(column)
            for f in report.findings:
                findings.add_row(
                    escape(f.rule),
                    escape(f.resource_id),
                    render.compliance(f.compliance),
                    escape(f.annotation),
                )
            _emit(
                [f.as_json() for f in report.findings],
                fmt,
                output,
                findings,
                render.summary_table("by rule", "rule", report.by_rule()),
                render.summary_table(
                    "by resource type", "resource type", report.by_resource_type()
                ),
            )
        if stats:
            sys.stderr.write(json.dumps(report.stats(), indent=2) + "\n")
        if report.errors:
            err.print(
                f"[red]{len(report.errors)} evaluation(s) failed[/red]: see ERROR findings; "
                "the result is incomplete",
                highlight=False,
            )
            return EXIT_INCOMPLETE
        if fail_on_noncompliant and report.noncompliant:
            err.print(
                f"[red]{len(report.noncompliant)} noncompliant finding(s)[/red]",
                highlight=False,
            )
            return EXIT_NONCOMPLIANT
        return 0

    _exit(_run(debug, body))


@app.command()
def fix(
    rule: Annotated[str, typer.Argument(help="The rule whose paired fix to run.")],
    resource_id: Annotated[str, typer.Argument(help="The resource id, as Config names it.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan only; change nothing.")
    ] = False,
    yes: YesOpt = False,
    reason: ReasonOpt = "",
    actor: ActorOpt = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
    fmt: FormatOpt = Format.TABLE,
    debug: DebugOpt = False,
) -> None:
    """Plan the paired fix (a dry run), ask, then apply it through its real handler.

    The plan shows what will change, from what to what, and why the resource is
    noncompliant. The fix's own gates still apply: a fix in dry-run mode only dry-runs.
    Exit codes: 0 done; 1 not confirmed; 2 error. --format json needs --yes or --dry-run.
    """
    from configguard.remediation import RemediationFailedError, RequestInProgressError
    from configguard_cli.fixing import NoFixError, run_fix

    def body() -> int:
        _needs_yes(fmt, yes, dry_run)
        spec = registry.remediation_for_rule(registry.rule(rule).name)
        if spec is None:
            raise CliError(f"rule {rule} has no paired remediation")
        _check_resource_id(spec, resource_id)
        factory = _factory(region, endpoint_url, profile)
        who, account = _who(factory, actor)

        def run(dry: bool) -> list[dict[str, Any]]:
            try:
                return run_fix(
                    factory,
                    rule,
                    resource_id,
                    actor=who,
                    reason=reason,
                    dry_run=dry,
                    account=account,
                )
            except (NoFixError, RemediationFailedError, RequestInProgressError) as exc:
                raise CliError(str(exc)) from None

        return _plan_then_apply(
            run(True),
            lambda: run(False),
            fmt=fmt,
            dry_run=dry_run,
            yes=yes,
            title="configguard fix",
        )

    _exit(_run(debug, body))


@app.command()
def audit(
    resource_id: Annotated[
        str | None, typer.Option("--resource-id", help="Only this resource.")
    ] = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule.")] = None,
    remediation: Annotated[str | None, typer.Option("--remediation", help="Only this fix.")] = None,
    outcome: Annotated[Outcome | None, typer.Option("--outcome", help="Only this outcome.")] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="From: ISO 8601 (2024-05-01T12:00Z) or an age (24h, 7d)."),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Until: ISO 8601 or an age (30m, 2d).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most this many, newest first.")
    ] = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
    fmt: FormatOpt = Format.TABLE,
    debug: DebugOpt = False,
) -> None:
    """List audit records, newest first, filtered by resource, rule, fix, outcome and time."""
    from configguard_cli.auditlog import AuditFilter, list_records, parse_time

    def body() -> None:
        if rule:
            registry.rule(rule)
        if remediation:
            registry.remediation(remediation)
        wanted = AuditFilter(
            resource_id=resource_id,
            rule=rule,
            remediation=remediation,
            outcome=outcome.value if outcome else None,
            since=parse_time(since) if since else None,
            until=parse_time(until) if until else None,
            limit=limit,
        )
        records = list_records(_factory(region, endpoint_url, profile), filters=wanted)
        _emit(records, fmt, None, records_table(records, "configguard audit"))

    _run(debug, body)


@app.command()
def rollback(
    audit_id: Annotated[str, typer.Argument(help="The audit id of the applied change.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan only; change nothing.")
    ] = False,
    yes: YesOpt = False,
    restore_plaintext: Annotated[
        bool,
        typer.Option(
            "--restore-plaintext",
            help="strip-env-secrets: put secret values back into the environment.",
        ),
    ] = False,
    reason: ReasonOpt = "",
    actor: ActorOpt = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
    fmt: FormatOpt = Format.TABLE,
    debug: DebugOpt = False,
) -> None:
    """Plan the revert of an applied change (a dry run), ask, then revert it, where safe.

    Exit codes: 0 done; 1 not confirmed; 2 error. --format json needs --yes or --dry-run.
    """
    from configguard import audit as audit_store
    from configguard.remediation import RemediationFailedError, RequestInProgressError
    from configguard_cli.fixing import run_rollback

    def body() -> int:
        _needs_yes(fmt, yes, dry_run)
        if not AUDIT_ID.fullmatch(audit_id):
            raise CliError(
                f"malformed audit id '{shown(audit_id, 80)}': audit ids are hex digits "
                "around a dash (see `configguard audit`)"
            )
        factory = _factory(region, endpoint_url, profile)
        record = audit_store.read(factory, audit_id)
        if record is None:
            raise CliError(f"there is no audit record {audit_id}")
        who, _ = _who(factory, actor)

        def run(dry: bool) -> list[dict[str, Any]]:
            try:
                return run_rollback(
                    factory,
                    record,
                    actor=who,
                    reason=reason,
                    dry_run=dry,
                    restore_plaintext=restore_plaintext,
                )
            except (RemediationFailedError, RequestInProgressError) as exc:
                raise CliError(str(exc)) from None

        return _plan_then_apply(
            run(True),
            lambda: run(False),
            fmt=fmt,
            dry_run=dry_run,
            yes=yes,
            title="configguard rollback",
        )

    _exit(_run(debug, body))


@app.command()
def status(
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
    fmt: FormatOpt = Format.TABLE,
    debug: DebugOpt = False,
) -> None:
    """Each fix's mode (and where it comes from), the kill switch, and this hour's budget left.

    The mode is what the deployed fix would use: the SSM override (ssm), else its function's
    stack setting (stack), else the built-in default (default). An unreadable kill switch
    counts as on. Reads only; changes nothing.
    """
    from configguard_cli.status import status as fix_statuses

    def body() -> None:
        rows = [s.as_json() for s in fix_statuses(_factory(region, endpoint_url, profile))]
        _emit(rows, fmt, None, render.status_table(rows))

    _run(debug, body)


@local_app.command("up")
def local_up(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0 = any free).")] = 4566,
    bare: Annotated[
        bool, typer.Option("--bare", help="An empty account: do not create the stack.")
    ] = False,
    request_log: Annotated[
        Path | None,
        typer.Option("--request-log", help="Append one JSON line per request served here."),
    ] = None,
    latency_ms: Annotated[
        float,
        typer.Option(
            "--latency-ms", min=0, help="Delay every answer, like a real API (needs --request-log)."
        ),
    ] = 0.0,
    stock_dispatch: Annotated[
        bool,
        typer.Option(
            "--stock-dispatch", help="moto's own request routing, without the stand-in's caches."
        ),
    ] = False,
) -> None:
    """Run the stand-in in the foreground until Ctrl-C or SIGTERM."""
    from configguard_cli.local.standin import StandIn

    if latency_ms and request_log is None:
        err.print("--latency-ms needs --request-log")
        raise typer.Exit(2)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with StandIn(
        port=port,
        request_log=request_log,
        latency=latency_ms / 1000,
        stock_dispatch=stock_dispatch,
    ) as standin:
        resources = None if bare else standin.provision()
        console.print(f"configguard stand-in listening on [bold]{standin.url}[/bold]")
        console.print("Use it from another shell with:")
        for key, value in sorted(standin.environ().items()):
            console.print(f"  export {key}={value}", highlight=False, soft_wrap=True)
        if resources is not None:
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


@app.command("stackset-template")
def stackset_template(
    output: Annotated[Path, typer.Option("--output", help="Where to write the template.")],
    artifact_bucket_prefix: Annotated[
        str,
        typer.Option("--artifact-bucket-prefix", help="Code comes from bucket <prefix>-<region>."),
    ] = "configguard-artifacts",
    regions: Annotated[
        str | None, typer.Option("--regions", help="Comma list of Regions, for the commands.")
    ] = None,
    parameters: Annotated[
        list[str] | None,
        typer.Option(
            "--parameters", help="KEY=VALUE (repeatable) or a JSON file: StackSet overrides."
        ),
    ] = None,
    org_id: Annotated[
        str | None, typer.Option("--org-id", help="Organization id (o-...), for the bucket.")
    ] = None,
    build_dir: Annotated[
        Path | None, typer.Option("--build-dir", help="Use this SAM build; skip `make build`.")
    ] = None,
    artifacts_dir: Annotated[
        Path, typer.Option("--artifacts-dir", help="Where the code zips go.")
    ] = Path("build/stackset-artifacts"),
    fmt: FormatOpt = Format.TABLE,
    debug: DebugOpt = False,
) -> None:
    """Write a Transform-free template for a SERVICE_MANAGED StackSet, and how to deploy it.

    Runs `make build` (unless --build-dir), zips each function and the layer under a
    content-addressed key, transforms the SAM template offline, and writes plain
    CloudFormation that reads code from <prefix>-<AWS::Region>. Same commit, same bytes.
    """
    from configguard_cli import stackset

    def body() -> None:
        result = stackset.generate(
            output=output,
            build_dir=build_dir,
            artifacts_dir=artifacts_dir,
            prefix=artifact_bucket_prefix,
            regions=[r.strip() for r in (regions or "").split(",") if r.strip()],
            parameters=parameters or [],
            org_id=org_id,
        )
        if fmt == Format.JSON:
            _emit(result.as_json(), fmt, None)
            return
        console.print(f"wrote {result.output}", highlight=False)
        for note in result.notes:
            console.print(f"  {note}", highlight=False, soft_wrap=True)
        console.print("\nThen run:", highlight=False)
        for command in result.commands:
            console.print(command, highlight=False, soft_wrap=True, markup=False)

    _run(debug, body)


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
