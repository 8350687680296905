"""configguard itself, behind the same interface as the peers: `configguard scan`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from configguard_bench.dataset import CHECKS as BENCH_CHECKS

NAME = "configguard"
VERSION = "0.1.0"
VENV = Path(".venv")
FINDINGS = "findings.json"
CHECKS: dict[str, str | None] = {check: check for check in BENCH_CHECKS}
DIFFERENCES: dict[str, str] = {}


def command(repo: Path, workdir: Path, checks: tuple[str, ...] = BENCH_CHECKS) -> list[str]:
    rules = [arg for check in checks for arg in ("--rule", check)]
    return [
        str(repo / VENV / "bin" / "configguard"),
        "scan",
        *rules,
        "--format",
        "json",
        "--output",
        str(workdir / FINDINGS),
    ]


def verdicts(workdir: Path) -> dict[str, int]:
    """NON_COMPLIANT findings per check; an ERROR finding fails the run."""
    findings = json.loads((workdir / FINDINGS).read_text())
    errors = [f for f in findings if f["compliance"] == "ERROR"]
    if errors:
        raise RuntimeError(f"configguard reported {len(errors)} ERROR finding(s)")
    counted = Counter(f["rule"] for f in findings if f["compliance"] == "NON_COMPLIANT")
    return {check: counted.get(check, 0) for check in CHECKS}
