"""Measure each fix on the stand-in: API calls and wall time of one applied request.

Seeds the scenario account, scans, switches every fix to apply and runs each paired
fix once per noncompliant resource through its real handler (the `configguard fix`
path), counting the calls each makes by service and operation.

    .venv/bin/python scripts/measure-fixes.py
"""

from __future__ import annotations

import statistics
import time
from collections import Counter, defaultdict
from typing import Any

from configguard import registry
from configguard.clients import default_factory
from configguard.remediation import RemediationFailedError
from configguard_cli import demo
from configguard_cli.fixing import run_fix
from configguard_cli.local import scenarios
from configguard_cli.local.standin import StandIn
from configguard_cli.scan import scan

# Calls every fix makes through the engine (gates, audit, notes), reported apart.
ENGINE = {"dynamodb", "ssm", "sns", "securityhub", "sts"}
SERVICES = (
    "lambda",
    "iam",
    "secretsmanager",
    "kms",
    "logs",
    "apigateway",
    "apigatewayv2",
    "wafv2",
    "cloudtrail",
    "cloudwatch",
    *sorted(ENGINE),
)


def main() -> None:
    with StandIn() as standin:
        standin.provision()
        env = standin.environ() | {"POWERTOOLS_METRICS_DISABLED": "true"}
        with demo.environment(env), demo.quiet_function_logs():
            factory = default_factory()
            calls: list[str] = []
            for service in SERVICES:
                client = factory.client(service)
                name = client.meta.service_model.service_name

                def count(model: Any, _service: str = name, **_: Any) -> None:
                    calls.append(f"{_service}:{model.name}")

                client.meta.events.register("before-call.*.*", count)
            scenarios.seed_all(factory)
            targets = demo.fixable(scan(factory, sorted(registry.RULES)).findings)
            # Measure every fix, the opt-in ones included.
            demo.set_modes(factory, dict.fromkeys(registry.REMEDIATIONS, "apply"))
            times: dict[str, list[float]] = defaultdict(list)
            made: dict[str, list[Counter[str]]] = defaultdict(list)
            outcomes: dict[str, Counter[str]] = defaultdict(Counter)
            for rule, resource_type, resource_id in targets:
                fix = str(registry.RULES[rule].remediation)
                calls.clear()
                started = time.perf_counter()
                try:
                    (record,) = run_fix(
                        factory, rule, resource_id, actor="measure", resource_type=resource_type
                    )
                    outcome = str(record["outcome"])
                except RemediationFailedError:
                    outcome = "failed"
                elapsed = time.perf_counter() - started
                outcomes[fix][outcome] += 1
                if outcome == "applied":
                    times[fix].append(elapsed)
                    made[fix].append(Counter(calls))
    print("| Fix | Applied | Median time (ms) | Fix API calls | Engine calls |")
    print("|---|---|---|---|---|")
    for fix in sorted(registry.REMEDIATIONS):
        if not made[fix]:
            print(f"| `{fix}` | 0 ({dict(outcomes[fix])}) | - | - | - |")
            continue
        sample = made[fix][0]
        own = ", ".join(
            f"{op.split(':')[1]} {n}"
            for op, n in sorted(sample.items())
            if op.split(":")[0] not in ENGINE
        )
        engine = sum(n for op, n in sample.items() if op.split(":")[0] in ENGINE)
        median = statistics.median(times[fix]) * 1000
        print(f"| `{fix}` | {len(made[fix])} | {median:.0f} | {own} | {engine} |")


if __name__ == "__main__":
    main()
