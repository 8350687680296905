"""Evaluate live resources with the rules' own code: CIs from the builder, then evaluate.

One `Reads` cache serves the whole scan, so each resource type is listed once and
each function, policy and role is read once however many rules look at it. A rule
that cannot evaluate a resource yields an ERROR finding, never a verdict.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rdklib import Evaluation

from configguard import cibuilder, registry
from configguard.clients import DEFAULT_CONCURRENCY, ClientFactory
from configguard.reads import Reads, error_code, pool_thread
from configguard.registry import RuleSpec, Trigger
from configguard.rulebase import EvaluationError, GuardRule, RuleClients
from configguard.verdict import annotation
from configguard_cli.handlers import rule_module

ERROR = "ERROR"
COMPLIANT = "COMPLIANT"
NON_COMPLIANT = "NON_COMPLIANT"
NOT_APPLICABLE = "NOT_APPLICABLE"
# The columns of a summary, in reading order; other verdicts only count in the total.
VERDICTS = (COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ERROR)


@dataclass(frozen=True)
class Finding:
    rule: str
    resource_type: str
    resource_id: str
    compliance: str
    annotation: str
    remediation: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ScanReport:
    """The findings, and what the scan cost in API calls."""

    findings: list[Finding] = field(default_factory=list)
    api_calls: dict[str, int] = field(default_factory=dict)
    resources: dict[str, int] = field(default_factory=dict)
    rules: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.compliance == ERROR]

    @property
    def noncompliant(self) -> list[Finding]:
        return [f for f in self.findings if f.compliance == NON_COMPLIANT]

    def totals(self) -> dict[str, int]:
        """Findings per verdict (every verdict in VERDICTS, zeros included) and `total`."""
        return _count(self.findings)

    def by_rule(self) -> dict[str, dict[str, int]]:
        """Verdict counts per rule, for every rule scanned (a rule with no resources too)."""
        groups: dict[str, list[Finding]] = {name: [] for name in self.rules}
        for finding in self.findings:
            groups.setdefault(finding.rule, []).append(finding)
        return {name: _count(found) for name, found in sorted(groups.items())}

    def by_resource_type(self) -> dict[str, dict[str, int]]:
        """Verdict counts per resource type found."""
        groups: dict[str, list[Finding]] = {}
        for finding in self.findings:
            groups.setdefault(finding.resource_type, []).append(finding)
        return {name: _count(found) for name, found in sorted(groups.items())}

    def stats(self) -> dict[str, Any]:
        total = sum(self.api_calls.values())
        functions = self.resources.get(registry.LAMBDA, 0)
        return {
            "resources": dict(self.resources),
            "api_calls": dict(sorted(self.api_calls.items())),
            "api_calls_total": total,
            "api_calls_per_function": round(total / functions, 2) if functions else None,
            "api_calls_by_service": _by_service(self.api_calls),
            "errors": len(self.errors),
        }


def _count(findings: Iterable[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(VERDICTS, 0)
    total = 0
    for finding in findings:
        total += 1
        if finding.compliance in counts:
            counts[finding.compliance] += 1
    return {**counts, "total": total}


def _by_service(calls: dict[str, int]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for operation, count in calls.items():
        service = operation.split(":", 1)[0]
        totals[service] = totals.get(service, 0) + count
    return dict(sorted(totals.items()))


def rule_class(module: ModuleType, name: str) -> type[GuardRule]:
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, GuardRule)
            and getattr(value, "spec", None) is not None
            and value.spec.name == name
        ):
            return value
    raise LookupError(f"module {module.__name__} defines no rule class for {name}")


def _failure(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return f"Could not evaluate: {error_code(exc)} from {exc.operation_name}."
    return annotation(f"Could not evaluate: {exc}")


def _findings(spec: RuleSpec, results: list[Evaluation], resource_type: str) -> list[Finding]:
    return [
        Finding(
            rule=spec.name,
            resource_type=r.complianceResourceType or resource_type,
            resource_id=r.complianceResourceId or "",
            compliance=r.complianceType,
            annotation=r.annotation or "",
            remediation=spec.remediation,
        )
        for r in results
    ]


_EXPECTED = (ClientError, BotoCoreError, EvaluationError, ValueError)


def _evaluate_item(
    spec: RuleSpec,
    rule: GuardRule,
    params: Any,
    clients: RuleClients,
    resource_type: str,
    item: cibuilder.ConfigurationItem,
) -> list[Finding]:
    try:
        results = rule.evaluate_change(None, clients, item, params)
    except _EXPECTED as exc:
        return [
            Finding(
                spec.name, resource_type, item["resourceId"], ERROR, _failure(exc), spec.remediation
            )
        ]
    for result in results:
        result.complianceResourceId = result.complianceResourceId or item["resourceId"]
    return _findings(spec, results, resource_type)


def _evaluate_periodic(
    spec: RuleSpec, rule: GuardRule, params: Any, clients: RuleClients
) -> list[Finding]:
    resource_type = spec.resource_types[0]
    try:
        results = rule.evaluate_periodic(None, clients, params)
    except _EXPECTED as exc:
        return [Finding(spec.name, resource_type, "*", ERROR, _failure(exc), spec.remediation)]
    return _findings(spec, results, resource_type)


def _listings(
    reads: Reads, resource_types: Iterable[str]
) -> dict[str, Future[list[cibuilder.ConfigurationItem]]]:
    """Every resource type listed at once, each in its own thread (a listing fans its
    per-resource reads out on the scan's pool, so it must not hold a worker itself)."""
    listings: dict[str, Future[list[cibuilder.ConfigurationItem]]] = {}
    for resource_type in resource_types:
        future: Future[list[cibuilder.ConfigurationItem]] = Future()

        def run(resource_type: str = resource_type, future: Future[Any] = future) -> None:
            try:
                future.set_result(list(cibuilder.list_items(reads, resource_type)))
            except BaseException as exc:  # handed to the scan, which re-raises it
                future.set_exception(exc)

        threading.Thread(target=run, name=f"list {resource_type}", daemon=True).start()
        listings[resource_type] = future
    return listings


Rule = tuple[RuleSpec, GuardRule, Any]  # spec, instance, validated parameters
ByRule = dict[str, list[Finding]]


def _evaluate_resource(
    rules: list[Rule], clients: RuleClients, resource_type: str, item: cibuilder.ConfigurationItem
) -> ByRule:
    """Every rule that judges this resource type, on one resource, in one task."""
    return {
        spec.name: _evaluate_item(spec, rule, params, clients, resource_type, item)
        for spec, rule, params in rules
    }


def scan(
    factory: ClientFactory,
    rule_names: Iterable[str],
    *,
    progress: Callable[[str], None] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> ScanReport:
    """One finding per (rule, resource), sharing every read across rules.

    Periodic sweeps start first; every resource type is listed at once; then one task per
    resource runs every rule on it, on `concurrency` threads. A read that several rules
    need is made once (`Reads` is single-flight). Findings come in rule order.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    specs = [registry.rule(name) for name in rule_names]
    report = ScanReport(rules=[spec.name for spec in specs])
    rules: list[Rule] = []
    for spec in specs:
        rule = rule_class(rule_module(spec.name), spec.name)()
        rules.append((spec, rule, rule.evaluate_parameters({})))
    with ThreadPoolExecutor(
        concurrency, thread_name_prefix="scan", initializer=pool_thread
    ) as pool:
        reads = Reads(factory, executor=pool)
        clients = RuleClients(factory, reads)
        sweeps = {
            spec.name: pool.submit(_evaluate_periodic, spec, rule, params, clients)
            for spec, rule, params in rules
            if spec.trigger is Trigger.PERIODIC
        }
        change = [r for r in rules if r[0].trigger is not Trigger.PERIODIC]
        by_type: dict[str, list[Rule]] = {}
        for rule_entry in change:
            for resource_type in rule_entry[0].resource_types:
                by_type.setdefault(resource_type, []).append(rule_entry)
        listings = _listings(reads, by_type)
        tasks: dict[str, list[Future[ByRule]]] = {
            resource_type: [
                pool.submit(_evaluate_resource, judges, clients, resource_type, item)
                for item in listings[resource_type].result()
            ]
            for resource_type, judges in by_type.items()
        }
        for spec, _, _ in rules:
            if spec.name in sweeps:
                report.findings.extend(sweeps[spec.name].result())
            else:
                for resource_type in spec.resource_types:
                    for task in tasks[resource_type]:
                        report.findings.extend(task.result()[spec.name])
            if progress:
                progress(spec.name)
    report.resources = {t: len(f.result()) for t, f in listings.items()}
    report.api_calls = dict(reads.calls)
    return report
