"""`make bench`: configguard, Cloud Custodian and Prowler on the same seeded stand-in.

Each tool run gets a fresh stand-in server seeded with the same plan; the tools alternate
within each repeat so they share the machine's state. API calls come from the server's
own request log. Writes bench/results/latest.json, the chart and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from configguard_bench import bound, dataset, measure, server
from configguard_bench.peers import configguard

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "latest.json"
TOOL_NAMES = ("configguard", "custodian", "prowler")
# A same-Region AWS API answers in roughly 10-50 ms; the extra run uses a low figure.
LATENCY_MS = 20.0
# Tools run once more on moto's own, uncached request routing (see docs/benchmarks.md).
STOCK_TOOLS = ("configguard", "custodian")


def tool(name: str) -> ModuleType:
    """A tool's module in configguard_bench.peers (the same interface for all three)."""
    return importlib.import_module(f"configguard_bench.peers.{name}")


def _machine() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_gib, 1),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _seeded(
    work: Path, plan: dataset.Plan, label: str, latency_ms: float = 0.0, stock: bool = False
) -> server.Server:
    srv = server.Server(work / f"{label}-requests.jsonl", latency_ms, stock_dispatch=stock)
    srv.start()
    try:
        started = time.perf_counter()
        dataset.seed(srv.client, plan, workers=32 if latency_ms else 8)
        took = time.perf_counter() - started
        _log(f"{label}: seeded {len(plan.resources)} resources in {took:.1f}s")
    except BaseException:
        srv.stop()
        raise
    return srv


def run_tool(
    tool: ModuleType,
    plan: dataset.Plan,
    work: Path,
    label: str,
    latency_ms: float = 0.0,
    stock: bool = False,
) -> dict[str, Any]:
    """One measured run of one tool against a fresh, seeded stand-in."""
    workdir = work / label
    workdir.mkdir(parents=True)
    srv = _seeded(work, plan, label, latency_ms, stock)
    try:
        mark = srv.mark()
        env = {**os.environ, **srv.env()}
        server_cpu = srv.cpu_seconds()
        result = measure.run(tool.command(REPO, workdir), env, workdir, workdir / "output.log")
        server_cpu = srv.cpu_seconds() - server_cpu
        calls = srv.calls_since(mark)
    finally:
        srv.stop()
    if result.exit_code != 0:
        tail = (workdir / "output.log").read_text()[-2000:]
        raise RuntimeError(f"{tool.NAME} exited {result.exit_code}:\n{tail}")
    _log(
        f"{label}: {result.wall_s:.2f}s wall, {result.cpu_s:.2f}s CPU, server "
        f"{server_cpu:.2f}s CPU, {sum(calls.values())} API calls"
    )
    return {
        "tool": tool.NAME,
        **result.as_json(),
        "server_cpu_s": round(server_cpu, 2),
        "api_calls": sum(calls.values()),
        "calls_by_operation": dict(sorted(calls.items())),
        "verdicts": tool.verdicts(workdir),
    }


def per_check_calls(plan: dataset.Plan, work: Path) -> dict[str, dict[str, int]]:
    """configguard's calls for each check alone (one server: the scans only read)."""
    out: dict[str, dict[str, int]] = {}
    srv = _seeded(work, plan, "per-check")
    try:
        env = {**os.environ, **srv.env()}
        for check in dataset.CHECKS:
            workdir = work / f"per-check-{check}"
            workdir.mkdir()
            mark = srv.mark()
            command = configguard.command(REPO, workdir, (check,))
            result = measure.run(command, env, workdir, workdir / "output.log")
            if result.exit_code != 0:
                raise RuntimeError(f"configguard scan --rule {check} exited {result.exit_code}")
            out[check] = dict(sorted(srv.calls_since(mark).items()))
    finally:
        srv.stop()
    return out


def _median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 3)


def summarise(runs: list[dict[str, Any]], names: Sequence[str]) -> dict[str, dict[str, Any]]:
    summary: dict[str, dict[str, Any]] = {}
    for name in names:
        mine = [r for r in runs if r["tool"] == name]
        summary[name] = {
            "runs": len(mine),
            "wall_s": _median([r["wall_s"] for r in mine]),
            "wall_s_min": min(r["wall_s"] for r in mine),
            "wall_s_max": max(r["wall_s"] for r in mine),
            "cpu_s": _median([r["cpu_s"] for r in mine]),
            "server_cpu_s": _median([r["server_cpu_s"] for r in mine]),
            "peak_rss_mb": _median([r["peak_rss_mb"] for r in mine]),
            "api_calls": int(statistics.median([r["api_calls"] for r in mine])),
        }
    base = summary.get(configguard.NAME)
    if base:
        for row in summary.values():
            row["configguard_speedup"] = round(row["wall_s"] / base["wall_s"], 2)
    return summary


def agreement(
    runs: list[dict[str, Any]], names: Sequence[str], expected: dict[str, int]
) -> dict[str, dict[str, Any]]:
    """Per check: the truth, each tool's (last run's) count, and whether they agree."""
    last = {r["tool"]: r["verdicts"] for r in runs}
    table: dict[str, dict[str, Any]] = {}
    for check in dataset.CHECKS:
        row: dict[str, Any] = {"expected": expected[check]}
        notes = []
        for name in names:
            module = tool(name)
            if module.CHECKS.get(check) is None:
                row[name] = None
                notes.append(f"{name} has no such check")
                continue
            row[name] = last.get(name, {}).get(check)
            if check in module.DIFFERENCES:
                notes.append(f"{name}: {module.DIFFERENCES[check]}")
        counted = [row[n] for n in names if row[n] is not None]
        row["agree"] = all(c == expected[check] for c in counted)
        row["peer_checks"] = {n: tool(n).CHECKS.get(check) for n in names if n != configguard.NAME}
        row["notes"] = notes
        table[check] = row
    return table


def bounds(plan: dataset.Plan, summary_calls: dict[str, dict[str, int]]) -> dict[str, Any]:
    counts = bound.Counts.of(plan, dataset.STAGES_PER_API)
    per_check: dict[str, Any] = {}
    for check in dataset.CHECKS:
        needed = bound.calls(counts, check, bound.STANDIN_PAGE_LIMITS)
        made = summary_calls.get(check, {})
        per_check[check] = {
            "bound": sum(needed.values()),
            "bound_by_operation": needed,
            "aws_bound": sum(bound.calls(counts, check, bound.AWS_PAGE_LIMITS).values()),
            "configguard": sum(made.values()),
            "configguard_by_operation": made,
            "ratio": bound.ratio(sum(made.values()), sum(needed.values())),
        }
    together = bound.union(counts, dataset.CHECKS, bound.STANDIN_PAGE_LIMITS)
    return {
        "counts": counts.__dict__,
        "per_check": per_check,
        "all_checks": {
            "bound": sum(together.values()),
            "bound_by_operation": together,
            "aws_bound": sum(bound.union(counts, dataset.CHECKS, bound.AWS_PAGE_LIMITS).values()),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="configguard-bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the default size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tools", default=",".join(TOOL_NAMES), help="comma-separated subset")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=LATENCY_MS,
        help="one more run per tool with this delay on every answer (0: skip)",
    )
    parser.add_argument(
        "--no-stock-run",
        action="store_true",
        help="skip the run of configguard and Custodian on moto's uncached request routing",
    )
    parser.add_argument("--no-lambda-side", action="store_true")
    parser.add_argument("--no-docs", action="store_true", help="write the JSON only")
    args = parser.parse_args(argv)
    names = [n for n in args.tools.split(",") if n]
    unknown = [n for n in names if n not in TOOL_NAMES]
    if unknown or args.repeats < 1:
        parser.error(f"unknown tool(s) {unknown}; choose from {list(TOOL_NAMES)}")
    size = dataset.QUICK_SIZE if args.quick else dataset.DEFAULT_SIZE
    plan = dataset.plan(size)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="configguard-bench-"))
    try:
        runs: list[dict[str, Any]] = []
        for repeat in range(1, args.repeats + 1):
            for name in names:
                run = run_tool(tool(name), plan, work, f"{name}-{repeat}")
                runs.append({"repeat": repeat, **run})
        latency_runs: list[dict[str, Any]] = []
        if args.latency_ms > 0:
            for name in names:
                label = f"{name}-latency"
                latency_runs.append(run_tool(tool(name), plan, work, label, args.latency_ms))
        stock_runs: list[dict[str, Any]] = []
        if not args.no_stock_run:
            for name in (n for n in names if n in STOCK_TOOLS):
                stock_runs.append(run_tool(tool(name), plan, work, f"{name}-stock", stock=True))
        calls = per_check_calls(plan, work)
        lambda_side: dict[str, Any] | None = None
        if not args.no_lambda_side:
            from configguard_bench import lambdaside

            _log("Lambda-side figures")
            lambda_side = lambdaside.collect(REPO, quick=args.quick)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = summarise(runs, names)
    results = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "command": "make bench-quick" if args.quick else "make bench",
        "size": size.as_json(),
        "repeats": args.repeats,
        "machine": _machine(),
        "versions": {n: tool(n).VERSION for n in names},
        "expected": plan.expected(),
        "summary": summary,
        "bound": bounds(plan, calls),
        "agreement": agreement(runs, names, plan.expected()),
        "runs": runs,
        "stock_dispatch": {
            "summary": summarise(stock_runs, [r["tool"] for r in stock_runs]) if stock_runs else {},
            "runs": stock_runs,
        },
        "latency": {
            "latency_ms": args.latency_ms,
            "summary": summarise(latency_runs, names) if latency_runs else {},
            "runs": latency_runs,
        },
        "lambda_side": lambda_side,
        "duration_s": round(time.perf_counter() - started, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    _log(f"wrote {args.output}")
    if not args.no_docs:
        from configguard_bench import report

        for path in report.write(results, REPO):
            _log(f"wrote {path}")
    failed = [
        name
        for name, part in (lambda_side or {}).items()
        if isinstance(part, dict) and "error" in part
    ]
    if failed:
        _log(f"not measured (see the report): {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
