"""`configguard demo`: every rule and every fix on the embedded stand-in, in well under a minute.

Seed a messy account (one resource per rule scenario) -> scan with all rules -> fix every
noncompliant resource that has a paired fix with the stack's default modes (dry run;
cancel-kms-key-deletion off) -> the operator switches to apply -> an analyst sends some
Security Hub findings to the "configguard fix" custom action (router -> fixes ->
findings RESOLVED, notes on the rest) -> fix the remaining resources -> scan again ->
roll one change back. Every resource left noncompliant must have an audit record
saying why.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from configguard import registry, settings
from configguard.audit import Outcome
from configguard.clients import ClientFactory, reset_default_factory
from configguard_cli import handlers
from configguard_cli.events import context_for, rollback_request_event
from configguard_cli.fixing import fix_all
from configguard_cli.handlers import invoke, remediation_module, router_module
from configguard_cli.local import hubfeed, lambdaservice, scenarios
from configguard_cli.local.standin import StandIn
from configguard_cli.scan import Finding, scan

ACTOR = "demo-oncall"
# Outcomes that explain, on their own, why a resource is still noncompliant.
EXPLAINED = frozenset(
    {Outcome.REFUSED, Outcome.SKIPPED, Outcome.BLOCKED, Outcome.DRY_RUN, Outcome.FAILED}
)
Target = tuple[str, str, str]  # rule, resource type, resource id


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """The stand-in's variables, with fresh default clients before and after."""
    with handlers.environment(values):
        reset_default_factory()
        try:
            yield
        finally:
            reset_default_factory()


@contextmanager
def quiet_function_logs() -> Iterator[None]:
    from configguard.observability import logger

    previous = logger.log_level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(previous)


def set_modes(factory: ClientFactory, modes: dict[str, str]) -> None:
    """Per-fix mode overrides in SSM, as an operator sets them."""
    ssm = factory.client("ssm")
    for fix, mode in modes.items():
        ssm.put_parameter(
            Name=f"{settings.DEFAULT_SETTINGS_PREFIX}/remediations/{fix}/mode",
            Value=mode,
            Type="String",
            Overwrite=True,
        )


def stack_default_modes() -> dict[str, str]:
    return {name: spec.default_mode for name, spec in registry.REMEDIATIONS.items()}


def operator_modes() -> dict[str, str]:
    """Apply everywhere except where the stack's default is off (an explicit opt-in)."""
    return {
        name: "off" if spec.default_mode == "off" else "apply"
        for name, spec in registry.REMEDIATIONS.items()
    }


def fixable(findings: list[Finding]) -> list[Target]:
    return sorted(
        (f.rule, f.resource_type, f.resource_id)
        for f in findings
        if f.compliance == "NON_COMPLIANT" and f.remediation
    )


def verdicts(findings: list[Finding]) -> dict[tuple[str, str], str]:
    return {(f.rule, f.resource_id): f.compliance for f in findings}


@dataclass
class Outcomes:
    """What a fix round did, and which targets are still noncompliant without a reason."""

    records: list[dict[str, Any]]
    fixed: list[Target] = field(default_factory=list)
    explained: dict[Target, dict[str, Any]] = field(default_factory=dict)
    unexplained: list[Target] = field(default_factory=list)


def judge(
    targets: list[Target], records: list[dict[str, Any]], after: dict[tuple[str, str], str]
) -> Outcomes:
    """Each target is compliant now, or its record explains why not."""
    by_target = {(r["rule"], r["resource_id"]): r for r in records}
    outcomes = Outcomes(records)
    for target in targets:
        rule, _, resource_id = target
        if after.get((rule, resource_id)) in ("COMPLIANT", "NOT_APPLICABLE"):
            outcomes.fixed.append(target)
            continue
        record = by_target.get((rule, resource_id))
        explained = record is not None and (
            record["outcome"] in EXPLAINED
            # vault mode stores and grants, by design leaving the values in place.
            or (record.get("details") or {}).get("mode") == "vault"
        )
        if explained and record is not None:
            outcomes.explained[target] = record
        else:
            outcomes.unexplained.append(target)
    return outcomes


def rule_table(before: list[Finding], after: list[Finding]) -> Table:
    table = Table(title="noncompliant resources per rule (before -> after)")
    for column in ("rule", "fix", "before", "after"):
        table.add_column(column)
    count_before = Counter(f.rule for f in before if f.compliance == "NON_COMPLIANT")
    count_after = Counter(f.rule for f in after if f.compliance == "NON_COMPLIANT")
    for name in sorted(registry.RULES):
        if not count_before[name] and not count_after[name]:
            continue
        table.add_row(
            name,
            registry.RULES[name].remediation or "-",
            str(count_before[name]),
            str(count_after[name]),
        )
    return table


def outcome_table(records: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    outcomes = sorted({str(r["outcome"]) for r in records})
    table.add_column("fix")
    for outcome in outcomes:
        table.add_column(outcome, justify="right")
    per_fix: dict[str, Counter[str]] = {}
    for record in records:
        fix = str(record.get("remediation") or registry.RULES[record["rule"]].remediation)
        per_fix.setdefault(fix, Counter())[str(record["outcome"])] += 1
    for fix in sorted(per_fix):
        table.add_row(fix, *(str(per_fix[fix][o] or "") for o in outcomes))
    return table


def remaining_table(outcomes: Outcomes) -> Table:
    table = Table(title="still noncompliant, and why (from the audit records)")
    for column in ("rule", "resource", "outcome", "reason"):
        table.add_column(column, overflow="fold")
    for (rule, _, resource_id), record in sorted(outcomes.explained.items()):
        table.add_row(rule, resource_id, str(record["outcome"]), str(record["reason"])[:160])
    return table


# The findings the demo's analyst selects: two rules with a fix (Config findings and the
# native control findings they mirror) and one without.
HUB_RULES = ("kms-key-rotation-enabled", "log-group-retention", "lambda-runtime-supported")


def hub_findings(standin: StandIn, findings: list[Finding]) -> list[dict[str, Any]]:
    """What Security Hub holds for the noncompliant results: Config's finding for each,
    and Security Hub's own control finding where the rule mirrors exactly one control."""
    made: list[dict[str, Any]] = []
    for f in findings:
        if f.compliance != "NON_COMPLIANT" or f.resource_type == registry.ACCOUNT:
            continue
        where = (f.resource_type, f.resource_id, standin.account_id, standin.region)
        made.append(hubfeed.config_finding(f.rule, *where))
        controls = registry.rule(f.rule).security_hub_controls
        if len(controls) == 1:
            made.append(hubfeed.control_finding(controls[0], *where))
    return made


@dataclass
class HubRound:
    selected: list[dict[str, Any]]
    after: list[dict[str, Any]]
    started: int
    unrouted: int

    @property
    def ok(self) -> bool:
        """Every routed finding RESOLVED, every other one carries a note."""
        routed = [f for f in self.after if not f["Note"]["Text"].startswith("configguard has no")]
        return (
            bool(self.after)
            and all(f.get("Note", {}).get("Text") for f in self.after)
            and all(f["Workflow"]["Status"] == "RESOLVED" for f in routed)
        )


def security_hub_round(
    standin: StandIn, factory: ClientFactory, findings: list[Finding]
) -> HubRound:
    """Import the findings, send the selected ones to the custom action, run what it starts."""
    held = hub_findings(standin, findings)
    hubfeed.import_findings(factory, held)
    chosen = {f["Id"] for f in held if _hub_rule(f) in HUB_RULES}
    selected = hubfeed.get_findings(factory, chosen)
    assert standin.resources is not None
    event = hubfeed.custom_action_event(
        standin.resources.action_target_arn, selected, standin.account_id, standin.region
    )
    name = registry.ROUTER_FUNCTION_NAME
    context = context_for(name, standin.account_id, standin.region)
    summary = invoke(router_module().lambda_handler, event, context)
    lambdaservice.run_queued(standin)
    after = hubfeed.get_findings(factory, chosen)
    return HubRound(selected, after, len(summary["started"]), len(summary["unrouted"]))


def _hub_rule(finding: dict[str, Any]) -> str:
    named = finding.get("ProductFields", {}).get("aws/config/ConfigRuleName")
    if named:
        return str(named)
    control = finding["Compliance"].get("SecurityControlId", "")
    mirrors = registry.rules_for_control(control)
    return mirrors[0].name if mirrors else ""


def hub_table(round_: HubRound) -> Table:
    table = Table(title="Security Hub findings after the custom action")
    for column in ("finding", "resource", "workflow", "note"):
        table.add_column(column, overflow="fold")
    for f in sorted(round_.after, key=lambda x: (_hub_rule(x), x["Resources"][0]["Id"])):
        origin = f["Compliance"].get("SecurityControlId") or f"Config: {_hub_rule(f)}"
        table.add_row(
            origin,
            f["Resources"][0]["Id"].rsplit(":", 1)[-1][-40:],
            f["Workflow"]["Status"],
            f.get("Note", {}).get("Text", "")[:110],
        )
    return table


def roll_back(standin: StandIn, record: dict[str, Any]) -> dict[str, Any]:
    handler = remediation_module(record["remediation"]).lambda_handler
    event = rollback_request_event(record, actor=ACTOR, reason="demo: undo one change")
    name = f"configguard-{record['remediation']}"
    context = context_for(name, standin.account_id, standin.region)
    (result,) = invoke(handler, event, context)["results"]
    return dict(result)


def run_demo(console: Console) -> int:
    started = time.monotonic()
    console.rule("[bold]configguard demo[/bold]: every rule and fix, on the embedded stand-in")
    with StandIn() as standin:
        standin.provision()
        # The functions' own JSON logs and EMF lines would drown the tables: keep errors only.
        env = standin.environ() | {"POWERTOOLS_METRICS_DISABLED": "true"}
        with environment(env), quiet_function_logs():
            factory = ClientFactory(region=standin.region)
            expected = scenarios.seed_all(factory)
            seeded = len({r for verdicts in expected.values() for r in verdicts})
            console.print(f"1. Stand-in on {standin.url}; seeded {seeded} resources.")

            before = scan(factory, sorted(registry.RULES)).findings
            targets = fixable(before)
            console.print(
                f"2. Scanned with all {len(registry.RULES)} rules: {len(before)} findings, "
                f"{sum(f.compliance == 'NON_COMPLIANT' for f in before)} noncompliant, "
                f"{len(targets)} of them with a paired fix."
            )

            set_modes(factory, stack_default_modes())
            dry = fix_all(factory, targets, actor=ACTOR, reason="demo: first look")
            console.print("3. Fixes with the stack's default modes change nothing:")
            console.print(outcome_table(dry, "outcomes with default modes"))

            set_modes(factory, operator_modes())
            hub = security_hub_round(standin, factory, before)
            console.print(
                "4. The operator switches fixes to apply (opt-in fixes stay off). In Security "
                f"Hub an analyst selects {len(hub.selected)} findings ({', '.join(HUB_RULES)}; "
                "Config's and the native controls') and picks the configguard fix action: "
                f"the router started {hub.started} fixes and noted {hub.unrouted} findings "
                "it has no fix for."
            )
            console.print(hub_table(hub))

            applied = fix_all(factory, targets, actor=ACTOR, reason="demo: apply")
            console.print("5. `configguard fix` for every other noncompliant resource:")
            console.print(outcome_table(applied, "outcomes in apply mode"))

            after = scan(factory, sorted(registry.RULES)).findings
            outcomes = judge(targets, applied, verdicts(after))
            console.print("6. Scanned again:")
            console.print(rule_table(before, after))
            console.print(remaining_table(outcomes))

            undo = next(
                (r for r in applied if r["outcome"] == Outcome.APPLIED and r.get("remediation")),
                None,
            )
            if undo is not None:
                undone = roll_back(standin, undo)
                console.print(
                    f"7. Rolled back {undo['remediation']} on {undo['resource_id']} "
                    f"(audit {undo['audit_id']}): {undone['outcome']}, {undone['reason']}"
                )
            ok = (
                hub.ok
                and not outcomes.unexplained
                and bool(outcomes.fixed)
                and all(r["outcome"] != Outcome.APPLIED for r in dry)
            )
    elapsed = time.monotonic() - started
    for target in outcomes.unexplained:
        console.print(f"[red]noncompliant without a record saying why: {target}[/red]")
    status = "[green]OK[/green]" if ok else "[red]UNEXPECTED RESULT[/red]"
    console.print(
        f"{status}: {len(outcomes.fixed)} of {len(targets)} fixed and verified, "
        f"{len(outcomes.explained)} left with a recorded reason, in {elapsed:.1f} s."
    )
    return 0 if ok else 1
