"""Measure one periodic run of each log group rule over many log groups, in the stand-in.

Not part of `make test`. Run from the repository:

    .venv/bin/python scripts/measure-log-group-sweep.py --groups 5000

Starts a stand-in, seeds N log groups (half KMS-encrypted; retention 30 / 365 / 731 days
or never-expire, in turn), then runs the REAL Lambda handler of log-group-cmk-encrypted
and log-group-retention once each with a ScheduledNotification, timing only the handler.
API calls are counted by operation with botocore before-call hooks on the handlers' own
(default factory) clients. Config's stored results are read back page by page and must
number N per rule. A second round deletes --delete groups first and shows what clearing
their old results (NOT_APPLICABLE) costs. Seeding goes through the API on a few threads
and is timed apart from the handler runs.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT / "cli")]

from configguard.clients import default_factory, reset_default_factory  # noqa: E402
from configguard.rulebase import PUT_EVALUATIONS_BATCH  # noqa: E402
from configguard_cli.events import context_for, now_iso  # noqa: E402
from configguard_cli.handlers import invoke, rule_module  # noqa: E402
from configguard_cli.local.standin import StandIn  # noqa: E402

RULES = ("log-group-cmk-encrypted", "log-group-retention")
RETENTIONS: tuple[int | None, ...] = (30, 365, 731, None)
PREFIX = "/measure/app-"


def group_name(index: int) -> str:
    return f"{PREFIX}{index:05d}"


def seed(standin: StandIn, count: int, workers: int) -> float:
    """Create `count` log groups through the API (`workers` threads); returns the seconds."""
    start = time.perf_counter()
    key_arn = str(standin.client("kms").create_key()["KeyMetadata"]["Arn"])
    logs = standin.client("logs")  # botocore clients are thread-safe

    def create(index: int) -> None:
        name = group_name(index)
        days = RETENTIONS[index % len(RETENTIONS)]
        logs.create_log_group(logGroupName=name, **({"kmsKeyId": key_arn} if index % 2 else {}))
        if days is not None:
            logs.put_retention_policy(logGroupName=name, retentionInDays=days)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(create, range(count)))
    return time.perf_counter() - start


def scheduled(standin: StandIn, rule: str) -> dict[str, Any]:
    module = rule.replace("-", "_")
    event = json.loads((ROOT / "events" / module / "scheduled.json").read_text())
    event = copy.deepcopy(event)
    event["resultToken"] = standin.issue_result_token(rule)
    invoking = json.loads(event["invokingEvent"])
    invoking["notificationCreationTime"] = now_iso()
    event["invokingEvent"] = json.dumps(invoking)
    return event


class Counting:
    """Counts the API calls of the given clients by `service:Operation`."""

    def __init__(self, clients: dict[str, Any]) -> None:
        self.calls: Counter[str] = Counter()
        self._hooks: list[tuple[Any, Any]] = []
        for service, client in clients.items():

            def count(model: Any, _service: str = service, **_: Any) -> None:
                self.calls[f"{_service}:{model.name}"] += 1

            client.meta.events.register("before-call.*.*", count)
            self._hooks.append((client, count))

    def close(self) -> None:
        for client, hook in self._hooks:
            client.meta.events.unregister("before-call.*.*", hook)


def stored(standin: StandIn, rule: str) -> Counter[str]:
    """The rule's stored results by compliance type (every page)."""
    config = standin.client("config")
    found: Counter[str] = Counter()
    kwargs: dict[str, Any] = {"ConfigRuleName": rule, "Limit": 100}
    while True:
        page = config.get_compliance_details_by_config_rule(**kwargs)
        found.update(r["ComplianceType"] for r in page["EvaluationResults"])
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def run(standin: StandIn, rule: str) -> tuple[float, Counter[str], Any]:
    """One real handler run: (seconds, API calls by operation, handler result)."""
    handler = rule_module(rule).lambda_handler
    event = scheduled(standin, rule)
    factory = default_factory()
    counting = Counting({s: factory.client(s) for s in ("logs", "config", "sts")})
    try:
        start = time.perf_counter()
        context = context_for(f"configguard-{rule}", standin.account_id, standin.region)
        result = invoke(handler, event, context)
        seconds = time.perf_counter() - start
    finally:
        counting.close()
    return seconds, counting.calls, result


def report(
    title: str, groups: int, rows: list[tuple[str, float, Counter[str], Counter[str]]]
) -> None:
    print(f"\n{title}: {groups} log groups")
    print(f"{'rule':<26}{'handler s':>10}  {'API calls':<48}{'count':>6}")
    print("-" * 90)
    for rule, seconds, calls, results in rows:
        lines = [*sorted(calls), "total"]
        counts = [calls[op] for op in sorted(calls)] + [sum(calls.values())]
        for index, (line, count) in enumerate(zip(lines, counts, strict=True)):
            left = f"{rule:<26}{seconds:>10.2f}" if index == 0 else " " * 36
            print(f"{left}  {line:<48}{count:>6}")
        print(f"{'':<36}  PutEvaluations batches: {calls['config:PutEvaluations']}")
        print(f"{'':<36}  stored results: {dict(sorted(results.items()))}")


def round_of_runs(
    standin: StandIn, expected: int, gone: int = 0
) -> list[tuple[str, float, Counter[str], Counter[str]]]:
    """Each rule once; Config must hold `expected` results, `gone` of them NOT_APPLICABLE."""
    rows = []
    for rule in RULES:
        seconds, calls, _ = run(standin, rule)
        results = stored(standin, rule)
        if sum(results.values()) != expected or results["NOT_APPLICABLE"] != gone:
            raise SystemExit(f"{rule}: Config stored {dict(results)}; expected {expected}")
        rows.append((rule, seconds, calls, results))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=5000)
    parser.add_argument("--delete", type=int, default=100, help="groups deleted for round 2")
    parser.add_argument("--workers", type=int, default=8, help="seeding threads")
    args = parser.parse_args()
    with StandIn() as standin:
        standin.reset()
        os.environ.update(standin.environ())
        reset_default_factory()
        seconds = seed(standin, args.groups, args.workers)
        print(
            f"seeded {args.groups} log groups through the API in {seconds:.1f} s (not timed below)"
        )
        first = round_of_runs(standin, args.groups)
        report("Round 1 (first run)", args.groups, first)
        logs = standin.client("logs")
        for index in range(args.delete):
            logs.delete_log_group(logGroupName=group_name(index * (args.groups // args.delete)))
        second = round_of_runs(standin, args.groups, args.delete)
        report(
            f"Round 2 ({args.delete} groups deleted: their results become NOT_APPLICABLE)",
            args.groups - args.delete,
            second,
        )
        print(f"\nPutEvaluations carries at most {PUT_EVALUATIONS_BATCH} evaluations a batch.")


if __name__ == "__main__":
    main()
