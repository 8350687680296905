"""The on-call CLI against the stand-in: scan exit codes and summaries, the fix and rollback
plans with confirmation, the actor from STS, audit filters and `status`.

Most tests run the CLI as a subprocess, as a user does; the two that need an injected AWS
error (a scan that cannot evaluate, an STS failure) run the same typer app in-process,
with the test's client factory, since an injected error lives on one client.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from conftest import make_function
from faults import inject_error
from rich.console import Console
from typer.testing import CliRunner

from configguard import audit, registry, settings
from configguard.audit import AuditRecord
from configguard_cli import main, render
from configguard_cli.auditlog import AuditFilter, list_records, parse_time
from configguard_cli.fixing import run_fix
from configguard_cli.status import status

CLI = [sys.executable, "-m", "configguard_cli.main"]
STS_ARN = "arn:aws:sts::123456789012:user/moto"  # the stand-in's caller identity
RULE = "lambda-reserved-concurrency"
FIX = "add-concurrency-limit"


def cli(*args: str, code: int = 0, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI; `stdin` None means no input at all (end of file, no terminal)."""
    done = subprocess.run(
        [*CLI, *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == code, done.stdout + done.stderr
    return done


def reserved(factory, name: str) -> int | None:
    return (
        factory.client("lambda")
        .get_function_concurrency(FunctionName=name)
        .get("ReservedConcurrentExecutions")
    )


def set_parameter(factory, name: str, value: str) -> None:
    factory.client("ssm").put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


def mode_parameter(fix: str) -> str:
    return f"{settings.DEFAULT_SETTINGS_PREFIX}/remediations/{fix}/mode"


# ------------------------------------------------------------------------------------ scan


def test_scan_fail_on_noncompliant_exits_3_with_summaries_and_html(standin, factory, tmp_path):
    make_function(factory, "fn-open")
    done = cli("scan", "--rule", RULE, "--fail-on-noncompliant", code=3)
    assert "by rule" in done.stdout and "by resource type" in done.stdout
    assert FIX in done.stdout  # the paired fix, in the by-rule summary
    assert "1 noncompliant finding(s)" in done.stderr
    # No progress bar without a terminal: stderr holds only the summary line.
    assert "scanned" not in done.stderr

    missing = cli("scan", "--rule", RULE, "--format", "html", code=2)
    assert "--output" in missing.stderr

    target = tmp_path / "report.html"
    cli("scan", "--rule", RULE, "--format", "html", "--output", str(target))
    page = target.read_text()
    assert "fn-open" in page and 'data-summary="noncompliant"><span class="n">1<' in page


def test_scan_that_cannot_evaluate_exits_4_even_with_noncompliant(standin, factory, monkeypatch):
    make_function(factory, "fn-open")
    monkeypatch.setattr(main, "_factory", lambda *_: factory)
    args = ["scan", "--rule", RULE, "--rule", "lambda-public-access-prohibited"]
    with inject_error(factory.client("lambda"), "GetPolicy", "AccessDeniedException"):
        done = CliRunner().invoke(main.app, [*args, "--fail-on-noncompliant", "--format", "json"])
    assert done.exit_code == 4, done.output
    findings = json.loads(done.stdout)
    verdicts = {(f["rule"], f["resource_id"]): f["compliance"] for f in findings}
    assert verdicts[(RULE, "fn-open")] == "NON_COMPLIANT"
    assert verdicts[("lambda-public-access-prohibited", "fn-open")] == "ERROR"
    assert "the result is incomplete" in done.stderr


def test_scan_progress_goes_to_a_terminal_stderr_only(standin, factory, monkeypatch):
    terminal = io.StringIO()
    monkeypatch.setattr(main, "err", Console(file=terminal, force_terminal=True, width=100))
    report = main._scan_with_progress(factory, [RULE, "lambda-tracing-active"])
    assert report.rules == [RULE, "lambda-tracing-active"]
    assert "2/2" in terminal.getvalue()


# ------------------------------------------------------------------------------------- fix


def test_fix_shows_the_plan_and_applies_only_when_confirmed(standin, factory):
    make_function(factory, "fn")
    set_parameter(factory, mode_parameter(FIX), "apply")  # the operator's switch
    declined = cli("fix", RULE, "fn", "--reason", "INC-7", stdin="n\n", code=1)
    out = declined.stdout
    assert f"Plan: {FIX} on fn" in out
    assert "reservedConcurrentExecutions: null \u2192 10" in out
    assert "No function-level reserved concurrency is set." in out  # why
    assert "Apply? [y/N]" in out and "Not applied." in out
    assert reserved(factory, "fn") is None

    no_terminal = cli("fix", RULE, "fn", code=1)  # no input at all: must not hang
    assert "no answer to 'Apply?'" in no_terminal.stderr and "--yes" in no_terminal.stderr
    assert reserved(factory, "fn") is None

    json_needs_yes = cli("fix", RULE, "fn", "--format", "json", code=2)
    assert "--yes" in json_needs_yes.stderr and "--dry-run" in json_needs_yes.stderr

    cli("fix", RULE, "fn", "--reason", "INC-7", stdin="y\n")
    assert reserved(factory, "fn") == 10
    records = list_records(factory, resource_id="fn")
    assert [r["outcome"] for r in records] == ["applied", *["dry-run"] * 3]
    assert {r["actor"] for r in records} == {STS_ARN}  # nobody passed --actor
    assert records[0]["reason"].startswith("Applied") and records[0]["source"] == "cli"


def test_fix_yes_in_dry_run_mode_says_so_and_a_compliant_one_is_not_asked(standin, factory):
    make_function(factory, "fn")
    set_parameter(factory, mode_parameter(FIX), "dry-run")
    done = cli("fix", RULE, "fn", "--yes", "--format", "json")
    plan, second = json.loads(done.stdout)
    assert (plan["outcome"], second["outcome"], second["mode"]) == ("dry-run", "dry-run", "dry-run")
    assert second["actor"] == STS_ARN
    assert "is in dry-run mode, so nothing changed" in done.stderr
    assert mode_parameter(FIX) in done.stderr and "AddConcurrencyLimitMode" in done.stderr
    assert reserved(factory, "fn") is None

    make_function(factory, "fn-fine", reserved=5)
    compliant = cli("fix", RULE, "fn-fine")  # no input: this would fail if it asked
    assert "already compliant" in compliant.stdout
    assert "Nothing to apply: the plan was skipped" in compliant.stdout
    assert "Apply?" not in compliant.stdout


def test_without_sts_the_actor_is_unknown_and_nothing_runs(standin, factory, monkeypatch):
    make_function(factory, "fn")
    monkeypatch.setattr(main, "_factory", lambda *_: factory)
    with inject_error(factory.client("sts"), "GetCallerIdentity", "ExpiredToken"):
        done = CliRunner().invoke(main.app, ["fix", RULE, "fn", "--yes"])
    assert done.exit_code == 2, done.output
    assert "cannot tell who you are" in done.stderr and "--actor" in done.stderr
    assert list_records(factory, resource_id="fn") == []


def test_plan_rendering_names_each_change():
    assert render.changes({"a": 1, "b": "x"}, {"a": 2, "b": "x", "c": None}) == [
        "a: 1 \u2192 2",
        'b: "x" \u2192 "x" (unchanged)',
        "c: null \u2192 null (unchanged)",
    ]


# -------------------------------------------------------------------------------- rollback


def test_rollback_shows_the_plan_and_asks(standin, factory):
    make_function(factory, "fn")
    set_parameter(factory, mode_parameter(FIX), "apply")
    (applied,) = run_fix(factory, RULE, "fn", actor="someone")
    assert applied["outcome"] == "applied" and reserved(factory, "fn") == 10

    declined = cli("rollback", applied["audit_id"], stdin="n\n", code=1)
    assert f"Plan: {FIX} on fn" in declined.stdout
    assert "reservedConcurrentExecutions: 10 \u2192 null" in declined.stdout
    assert "Not applied." in declined.stdout and reserved(factory, "fn") == 10

    cli("rollback", applied["audit_id"], "--format", "json", code=2)  # json needs --yes

    plan, done = json.loads(
        cli("rollback", applied["audit_id"], "--yes", "--format", "json").stdout
    )
    assert (plan["outcome"], done["outcome"]) == ("dry-run", "applied")
    assert done["related_audit_id"] == applied["audit_id"] and done["actor"] == STS_ARN
    assert reserved(factory, "fn") is None


# ----------------------------------------------------------------------------------- audit


def _record(rule: str, resource: str, outcome: str, time: str) -> AuditRecord:
    spec = registry.remediation_for_rule(rule)
    assert spec is not None
    return AuditRecord(
        time=time,
        actor="tester",
        source="cli",
        event_id="e",
        remediation=spec.name,
        rule=rule,
        resource_type=spec.resource_types[0],
        resource_id=resource,
        account_id="123456789012",
        region="us-east-1",
        outcome=outcome,
    )


@pytest.fixture
def history(standin, factory) -> dict[str, str]:
    """Four stored records with known times: label -> audit id."""
    records = {
        "old": _record(RULE, "fn-a", "dry-run", "2024-01-01T00:00:00.000Z"),
        "mid": _record(RULE, "fn-a", "applied", "2024-06-01T00:00:00.000Z"),
        "other": _record(RULE, "fn-b", "refused", "2024-06-02T00:00:00.000Z"),
        "logs": _record("log-group-retention", "/app", "applied", "2024-07-01T00:00:00.000Z"),
    }
    return {label: audit.write(record, factory)["audit_id"] for label, record in records.items()}


def test_audit_filters_each_narrow_the_records(factory, history):
    def ids(**wanted) -> list[str]:
        by_id = {v: k for k, v in history.items()}
        return [by_id[r["audit_id"]] for r in list_records(factory, filters=AuditFilter(**wanted))]

    at = datetime.fromisoformat
    assert ids() == ["logs", "other", "mid", "old"]
    assert ids(resource_id="fn-a") == ["mid", "old"]
    assert ids(rule="log-group-retention") == ["logs"]
    assert ids(remediation=FIX) == ["other", "mid", "old"]
    assert ids(outcome="applied") == ["logs", "mid"]
    assert ids(since=at("2024-06-01T00:00:00+00:00")) == ["logs", "other", "mid"]
    assert ids(until=at("2024-06-01T12:00:00+00:00")) == ["mid", "old"]
    assert ids(resource_id="fn-a", since=at("2024-03-01T00:00:00+00:00")) == ["mid"]
    assert ids(resource_id="fn-a", until=at("2024-03-01T00:00:00+00:00")) == ["old"]
    assert ids(limit=2) == ["logs", "other"]
    assert ids(resource_id="fn-a", limit=1) == ["mid"]
    assert ids(remediation=FIX, outcome="refused", since=at("2024-06-01T00:00:00+00:00")) == [
        "other"
    ]


def test_audit_flags_reach_the_filters(history):
    def audited(*flags: str) -> list[str]:
        out = cli("audit", *flags, "--format", "json").stdout
        return [r["audit_id"] for r in json.loads(out)]

    assert audited("--rule", RULE, "--outcome", "applied", "--since", "2024-05-01") == [
        history["mid"]
    ]
    assert audited("--resource-id", "fn-a", "--until", "2024-03-01T00:00Z", "--limit", "5") == [
        history["old"]
    ]
    assert audited("--remediation", FIX, "--since", "1h") == []  # all older than an hour
    bad = cli("audit", "--outcome", "done", code=2)
    assert "applied" in bad.stderr  # the choices come from configguard.audit.Outcome


def test_relative_and_iso_times():
    now = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)
    assert parse_time("24h", now=now) == datetime(2024, 6, 9, 12, 0, tzinfo=UTC)
    assert parse_time("7d", now=now) == datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
    assert parse_time("30m", now=now) == datetime(2024, 6, 10, 11, 30, tzinfo=UTC)
    assert parse_time("2024-06-01T10:00:00+02:00") == datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    assert parse_time("2024-06-01") == datetime(2024, 6, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="invalid time"):
        parse_time("yesterday")
    with pytest.raises(ValueError, match="later than"):
        AuditFilter(since=now, until=datetime(2024, 1, 1, tzinfo=UTC))


# ---------------------------------------------------------------------------------- status


def test_status_shows_modes_sources_kill_switch_and_budget(standin, factory):
    make_function(factory, "fn")
    set_parameter(factory, mode_parameter(FIX), "apply")
    (applied,) = run_fix(factory, RULE, "fn", actor="someone")
    assert applied["outcome"] == "applied"
    set_parameter(factory, mode_parameter("attach-waf"), "apply")
    set_parameter(factory, mode_parameter("enable-api-logging"), "sometimes")
    factory.client("lambda").delete_function(
        FunctionName=registry.fix_function_name(registry.remediation("set-log-retention"))
    )
    idempotency = standin.environ()[settings.IDEMPOTENCY_TABLE]
    before = factory.client("dynamodb").scan(TableName=idempotency)["Items"]

    rows = {r["remediation"]: r for r in json.loads(cli("status", "--format", "json").stdout)}

    assert set(rows) == set(registry.REMEDIATIONS)
    limit = rows[FIX]
    assert (limit["mode"], limit["mode_source"]) == ("apply", "ssm")
    stack = rows["strip-env-secrets"]
    assert (stack["mode"], stack["mode_source"]) == ("dry-run", "stack")  # the stack default
    assert (limit["cap"], limit["used"], limit["remaining"]) == (
        settings.DEFAULT_MAX_CHANGES_PER_HOUR,
        1,
        settings.DEFAULT_MAX_CHANGES_PER_HOUR - 1,
    )
    assert (rows["attach-waf"]["mode"], rows["attach-waf"]["mode_source"]) == ("apply", "ssm")
    assert rows["cancel-kms-key-deletion"]["mode"] == "off"
    assert (rows["enable-api-logging"]["mode"], rows["enable-api-logging"]["mode_source"]) == (
        "blocked",
        "ssm",
    )
    gone = rows["set-log-retention"]
    assert (gone["mode"], gone["mode_source"]) == ("dry-run", "default")
    assert any("not deployed" in p for p in gone["problems"])
    assert all(r["kill_switch"] == "off" and not r["kill_switch_engaged"] for r in rows.values())
    assert rows["attach-waf"]["remaining"] == settings.DEFAULT_MAX_CHANGES_PER_HOUR
    # Reading the budget reserved nothing.
    assert factory.client("dynamodb").scan(TableName=idempotency)["Items"] == before


def test_status_kill_switch_on_or_unreadable_halts_every_fix(standin, factory):
    for value, shown in (("on", "on"), ("maybe", "unreadable")):
        set_parameter(factory, settings.DEFAULT_KILL_SWITCH_PARAMETER, value)
        rows = [s.as_json() for s in status(factory)]
        assert {(r["kill_switch"], r["kill_switch_engaged"]) for r in rows} == {(shown, True)}
        text = io.StringIO()
        Console(file=text, width=200).print(render.status_table(rows))
        assert shown in text.getvalue()
    assert "(treated as on)" in text.getvalue()
