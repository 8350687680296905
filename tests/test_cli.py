"""The `configguard` CLI end to end, as a user runs it, against the stand-in."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys

import pytest
from conftest import make_function

from configguard import registry

CLI = [sys.executable, "-m", "configguard_cli.main"]


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, check=False)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_scan_json_has_the_contract_shape(standin, factory):
    make_function(factory, "fn-open")
    make_function(factory, "fn-limited", reserved=4)
    out = cli("scan", "--endpoint-url", standin.url, "--region", standin.region, "--format", "json")
    findings = json.loads(out.stdout)
    required = {"rule", "resource_type", "resource_id", "compliance", "annotation"}
    assert all(required <= set(f) for f in findings)
    lambda_rules = {
        n for n, spec in registry.RULES.items() if registry.LAMBDA in spec.resource_types
    }
    assert lambda_rules <= {f["rule"] for f in findings} <= set(registry.RULES)
    verdicts = {
        f["resource_id"]: f["compliance"]
        for f in findings
        if f["rule"] == "lambda-reserved-concurrency"
    }
    own = {k: v for k, v in verdicts.items() if k.startswith("configguard-")}
    assert {k: v for k, v in verdicts.items() if k not in own} == {
        "fn-open": "NON_COMPLIANT",
        "fn-limited": "COMPLIANT",
    }
    assert own and set(own.values()) == {"COMPLIANT"}  # configguard's own functions dogfood


def test_scan_writes_output_file(standin, factory, tmp_path):
    make_function(factory, "fn")
    target = tmp_path / "scan.json"
    cli("scan", "--endpoint-url", standin.url, "--format", "json", "--output", str(target))
    assert "fn" in {f["resource_id"] for f in json.loads(target.read_text())}


def test_unknown_rule_is_a_one_line_error(standin):
    done = cli("scan", "--endpoint-url", standin.url, "--rule", "no-such-rule", check=False)
    assert done.returncode == 2
    assert "unknown rule 'no-such-rule'" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_unreachable_endpoint_is_a_one_line_error(standin):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = cli("scan", "--endpoint-url", f"http://127.0.0.1:{port}", check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "error:" in done.stderr


def test_fix_then_audit(standin, factory):
    make_function(factory, "fn")
    dry = json.loads(
        cli(
            "fix",
            "lambda-reserved-concurrency",
            "fn",
            "--dry-run",
            "--endpoint-url",
            standin.url,
            "--actor",
            "bob",
            "--reason",
            "INC-1",
            "--format",
            "json",
        ).stdout
    )
    assert dry[0]["outcome"] == "dry-run"
    # The deployed function's mode is the stack default (dry-run): the operator switches it.
    factory.client("ssm").put_parameter(
        Name="/configguard/remediations/add-concurrency-limit/mode", Value="apply", Type="String"
    )
    plan, done = json.loads(
        cli(
            "fix",
            "lambda-reserved-concurrency",
            "fn",
            "--yes",
            "--endpoint-url",
            standin.url,
            "--actor",
            "bob",
            "--reason",
            "INC-1",
            "--format",
            "json",
        ).stdout
    )
    assert plan["outcome"] == "dry-run"
    assert (done["outcome"], done["actor"], done["source"]) == ("applied", "bob", "cli")
    records = json.loads(
        cli(
            "audit", "--resource-id", "fn", "--endpoint-url", standin.url, "--format", "json"
        ).stdout
    )
    # Newest first: the change, the plan `fix --yes` showed, the explicit --dry-run.
    assert [r["outcome"] for r in records] == ["applied", "dry-run", "dry-run"]
    scan = json.loads(
        cli(
            "scan",
            "--endpoint-url",
            standin.url,
            "--rule",
            "lambda-reserved-concurrency",
            "--format",
            "json",
        ).stdout
    )
    assert {f["resource_id"]: f["compliance"] for f in scan}["fn"] == "COMPLIANT"


@pytest.mark.e2e
def test_demo_runs_the_whole_path_and_leaves_no_server():
    done = cli("demo")
    out = done.stdout
    for step in (
        "Scanned with all",
        "outcomes with default modes",
        "picks the configguard fix action",
        "Security Hub findings after the custom action",
        "outcomes in apply mode",
        "noncompliant resources per rule (before -> after)",
        "still noncompliant, and why",
        "Rolled back",
    ):
        assert step in out, step
    summary = re.search(r"OK: (\d+) of (\d+) fixed and verified, (\d+) left with a recorded", out)
    assert summary, out[-500:]
    hub = re.search(r"the router started (\d+) fixes and noted (\d+) findings", out)
    assert hub and int(hub.group(1)) >= 2 and int(hub.group(2)) >= 1, out[:3000]
    assert "RESOLVED" in out and "configguard has no automatic fix" in out
    fixed, targets, explained = map(int, summary.groups())
    assert fixed + explained == targets and fixed >= 17
    port = int(re.search(r"Stand-in on http://127\.0\.0\.1:(\d+)", out).group(1))
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the demo left its server running"
