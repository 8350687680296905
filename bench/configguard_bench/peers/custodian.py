"""Cloud Custodian (PyPI c7n) as a benchmark peer.

`custodian.yml`, next to this module, holds one read-only policy per configguard check,
named after the check; each policy matches the check's NON-compliant resources, so a
policy's `resources.json` lists exactly the violations. One `custodian run` executes all
twelve policies against the stand-in (AWS_ENDPOINT_URL from the environment).

Caching: Custodian's resource cache is a file given per run, named uniquely inside the
run's workdir, so policies on the same resource type share one listing within a run (as
Custodian is normally used) and nothing is ever reused from an earlier run.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from configguard_bench.dataset import CHECKS as BENCH_CHECKS

NAME = "custodian"
VERSION = "0.9.53"
VENV = Path(".bench/c7n")
POLICY_FILE = Path(__file__).with_name("custodian.yml")
REGION = "us-east-1"
OUTPUT = "out"

# configguard check -> Custodian policy name (custodian.yml names every policy after its check).
CHECKS: dict[str, str | None] = {check: check for check in BENCH_CHECKS}

DIFFERENCES: dict[str, str] = {
    "lambda-public-access-prohibited": (
        "Custodian's cross-account filter (everyone_only) flags only '*' principals not "
        "narrowed by a recognised condition and ignores service principals, whereas "
        "configguard also flags a service principal without aws:SourceAccount/SourceArn."
    ),
    "apigw-stage-execution-logging": (
        "Custodian's aws.rest-stage lists REST stages only, so WebSocket stages, which "
        "configguard also judges (default route and route overrides), are never reported."
    ),
    "lambda-runtime-supported": (
        "The policy holds a static list of runtimes already deprecated (as of configguard's "
        "table, 2026-11), whereas configguard judges a dated table against today and also "
        "flags runtimes deprecating within WarningDays (180)."
    ),
}


def custodian_bin(repo: Path) -> Path:
    """The `custodian` entry point in the peer's own virtual environment."""
    return repo / VENV / "bin" / "custodian"


def command(repo: Path, workdir: Path) -> list[str]:
    """Run every policy once; results under workdir/out/<policy>/resources.json."""
    cache = workdir / f"c7n-cache-{uuid.uuid4().hex}.sqlite"
    return [
        str(custodian_bin(repo)),
        "run",
        "--output-dir",
        str(workdir / OUTPUT),
        "--region",
        REGION,
        "--cache",
        str(cache),
        str(POLICY_FILE),
    ]


def verdicts(workdir: Path) -> dict[str, int]:
    """Matched (non-compliant) resources per configguard check, from each resources.json."""
    counts: dict[str, int] = {}
    for check, policy in CHECKS.items():
        if policy is None:
            continue
        path = workdir / OUTPUT / policy / "resources.json"
        if not path.is_file():
            raise RuntimeError(f"custodian wrote no {path}: policy {policy} did not complete")
        resources = json.loads(path.read_text())
        counts[check] = len(resources)
    return counts
