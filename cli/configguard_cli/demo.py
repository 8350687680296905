"""`configguard demo`: the whole path on the embedded stand-in, in under a minute.

Config event -> rule -> evaluation -> compliance-change event -> fix (dry run, then
apply) -> audit note -> re-evaluation.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table

from configguard import cibuilder, registry, settings
from configguard.clients import ClientFactory, reset_default_factory
from configguard_cli import render
from configguard_cli.auditlog import list_records
from configguard_cli.events import config_change_event, context_for
from configguard_cli.handlers import remediation_module, rule_module
from configguard_cli.local import seed
from configguard_cli.local.standin import StandIn
from configguard_cli.render import records_table

RULE = "lambda-reserved-concurrency"
FIX = "add-concurrency-limit"

# name -> (reserved concurrency, tags): a small, messy account.
SEED: dict[str, tuple[int | None, dict[str, str]]] = {
    "orders-api": (None, {"team": "orders"}),
    "billing-worker": (None, {"team": "billing"}),
    "legacy-batch": (None, {"team": "data", settings.DEFAULT_OPT_OUT_TAG: "false"}),
    "payments": (25, {"team": "payments"}),
}


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    reset_default_factory()
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
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


def seed_account(factory: ClientFactory) -> None:
    role = seed.ensure_lambda_role(factory.client("iam"), "demo-app-role")
    lam = factory.client("lambda")
    for name, (reserved, tags) in SEED.items():
        seed.create_function(lam, name, role, reserved=reserved, tags=tags)


def evaluate_all(standin: StandIn, factory: ClientFactory) -> dict[str, tuple[str, str]]:
    """Run the rule's real handler on a Config-shaped event for every function."""
    handler = rule_module(RULE).lambda_handler
    context = context_for(f"configguard-{RULE}", standin.account_id, standin.region)
    for name in SEED:
        item = cibuilder.read(factory, "AWS::Lambda::Function", name)
        assert item is not None
        event = config_change_event(
            RULE,
            item,
            standin.issue_result_token(RULE),
            rule_parameters={"AssumeRoleMode": "false"},
        )
        handler(event, context)
    details = factory.client("config").get_compliance_details_by_config_rule(
        ConfigRuleName=RULE, Limit=100
    )["EvaluationResults"]
    verdicts = {}
    for result in details:
        qualifier = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
        verdicts[qualifier["ResourceId"]] = (result["ComplianceType"], result.get("Annotation", ""))
    return verdicts


def set_mode(factory: ClientFactory, mode: str) -> None:
    factory.client("ssm").put_parameter(
        Name=f"{settings.DEFAULT_SETTINGS_PREFIX}/remediations/{FIX}/mode",
        Value=mode,
        Type="String",
        Overwrite=True,
    )


def remediate(standin: StandIn, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    handler = remediation_module(FIX).lambda_handler
    context = context_for(f"configguard-{FIX}", standin.account_id, standin.region)
    records: list[dict[str, Any]] = []
    for event in events:
        records.extend(handler(event, context)["results"])
    return records


def run_demo(console: Console) -> int:
    started = time.monotonic()
    console.rule("[bold]configguard demo[/bold]: rule -> fix -> audit, on the embedded stand-in")
    with StandIn() as standin:
        standin.provision()
        # The functions' own JSON logs and EMF lines would drown the tables: keep errors only.
        env = standin.environ() | {"POWERTOOLS_METRICS_DISABLED": "true"}
        with environment(env), quiet_function_logs():
            factory = ClientFactory(region=standin.region)
            seed_account(factory)
            console.print(f"1. Stand-in on {standin.url}; seeded {len(SEED)} functions.")

            before = evaluate_all(standin, factory)
            console.print(f"2. Ran [bold]{RULE}[/bold] on Config change events:")
            table = Table()
            for column in ("function", "compliance", "annotation"):
                table.add_column(column)
            for name in SEED:
                compliance, note = before[name]
                table.add_row(name, render.compliance(compliance), note)
            console.print(table)

            events = standin.drain_dispatch()
            console.print(
                f"3. Config emitted {len(events)} NON_COMPLIANT compliance-change events; "
                f"EventBridge routed them to {FIX}."
            )

            set_mode(factory, "dry-run")
            dry = remediate(standin, events)
            console.print("4. Dry run (mode dry-run): nothing changes.")
            console.print(records_table(dry))

            set_mode(factory, "apply")
            applied = remediate(standin, events)
            console.print("5. Apply:")
            console.print(records_table(applied))

            after = evaluate_all(standin, factory)
            console.print("6. Re-evaluated:")
            table = Table(title="before / after")
            for column in ("function", "before", "after", "audit"):
                table.add_column(column)
            last = {r["resource_id"]: r for r in applied}
            for name in SEED:
                record = last.get(name)
                table.add_row(
                    name,
                    render.compliance(before[name][0]),
                    render.compliance(after[name][0]),
                    f"{record['outcome']} ({record['audit_id']})" if record else "-",
                )
            console.print(table)

            console.print("7. Audit notes (newest first):")
            console.print(records_table(list_records(factory)))
            fixed = [n for n in SEED if before[n][0] != after[n][0]]
            expected = {
                n
                for n, (r, t) in SEED.items()
                if r is None and t.get(settings.DEFAULT_OPT_OUT_TAG) != "false"
            }
            ok = set(fixed) == expected and all(after[n][0] == "COMPLIANT" for n in expected)
    elapsed = time.monotonic() - started
    status = "[green]OK[/green]" if ok else "[red]UNEXPECTED RESULT[/red]"
    console.print(f"{status}: fixed {len(fixed)} of {len(SEED)} functions in {elapsed:.1f} s.")
    return 0 if ok else 1


assert registry.rule(RULE).remediation == FIX
