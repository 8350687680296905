"""Rich rendering shared by the CLI commands and the demo."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

_COLOURS = {"COMPLIANT": "green", "NON_COMPLIANT": "red", "ERROR": "bold magenta"}


def compliance(value: str) -> str:
    colour = _COLOURS.get(value, "dim")
    return f"[{colour}]{value}[/{colour}]"


def records_table(records: list[dict[str, Any]], title: str | None = None) -> Table:
    """Audit records, one row each."""
    table = Table(title=title)
    for column in ("time", "audit id", "remediation", "resource", "mode", "outcome", "reason"):
        table.add_column(column, no_wrap=column in {"audit id", "mode", "outcome"})
    for r in records:
        table.add_row(
            *(
                escape(str(r[key]))
                for key in ("time", "audit_id", "remediation", "resource_id", "mode", "outcome")
            ),
            escape(str(r["reason"])),
        )
    return table


_BECAUSE = "Noncompliant because: "


def _value(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """`key: before -> after`, one line per key either side names."""
    before, after = before or {}, after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [
        f"{key}: {_value(before.get(key))} \u2192 {_value(after.get(key))}"
        + ("" if before.get(key) != after.get(key) else " (unchanged)")
        for key in keys
    ]


def plan(record: dict[str, Any]) -> Group:
    """One dry-run record as a plan: what would change, from what to what, and why."""
    title = f"Plan: {record['remediation']} on {record['resource_id']} ({record['resource_type']})"
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    table.add_row("outcome", escape(str(record["outcome"])))
    if record.get("action"):
        table.add_row("action", escape(str(record["action"])))
    for index, line in enumerate(changes(record.get("before"), record.get("after"))):
        table.add_row("change" if index == 0 else "", escape(line))
    reason = str(record.get("reason") or "")
    if _BECAUSE in reason:
        table.add_row("why", escape(reason.split(_BECAUSE, 1)[1]))
    elif reason:
        table.add_row("reason", escape(reason))
    table.add_row("audit id", escape(str(record["audit_id"])))
    return Group(Text(title, style="bold"), Padding(table, (0, 0, 0, 2)))


def summary_table(title: str, heading: str, rows: dict[str, dict[str, int]]) -> Table:
    """Verdict counts per group (rule or resource type); with the paired fix per rule."""
    from configguard import registry
    from configguard_cli.scan import COMPLIANT, ERROR, NON_COMPLIANT, NOT_APPLICABLE

    by_rule = heading == "rule"
    table = Table(title=title)
    table.add_column(heading, overflow="fold")
    for label in ("compliant", "noncompliant", "n/a", "error", "total"):
        table.add_column(label, justify="right", no_wrap=True)
    if by_rule:
        table.add_column("paired fix", overflow="fold")
    for name, counts in rows.items():
        cells = [
            str(counts[verdict])
            for verdict in (COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ERROR, "total")
        ]
        if counts[NON_COMPLIANT]:
            cells[1] = f"[red]{cells[1]}[/red]"
        if counts[ERROR]:
            cells[3] = f"[bold magenta]{cells[3]}[/bold magenta]"
        if by_rule:
            spec = registry.RULES.get(name)
            cells.append((spec.remediation if spec else None) or "-")
        table.add_row(escape(name), *cells)
    return table


def status_table(rows: list[dict[str, Any]]) -> Table:
    """`configguard status`: one row per fix."""
    table = Table(title="configguard status")
    for column in ("remediation", "mode", "from", "kill switch", "cap/h", "used", "remaining"):
        table.add_column(column, no_wrap=True, justify="right" if column in _NUMERIC else "left")
    table.add_column("problems")
    for row in rows:
        kill = str(row["kill_switch"])
        kill_cell = "[green]off[/green]" if kill == "off" else f"[red]{escape(kill)}[/red]"
        if kill not in ("on", "off"):
            kill_cell += " (treated as on)"
        table.add_row(
            row["remediation"],
            _MODE_STYLE.get(row["mode"], escape(str(row["mode"]))),
            row["mode_source"],
            kill_cell,
            _number(row["cap"]),
            _number(row["used"]),
            _number(row["remaining"]),
            escape("; ".join(row["problems"])),
        )
    return table


_NUMERIC = frozenset({"cap/h", "used", "remaining"})
_MODE_STYLE = {
    "apply": "[green]apply[/green]",
    "dry-run": "[yellow]dry-run[/yellow]",
    "off": "[dim]off[/dim]",
    "blocked": "[red]blocked[/red]",
}


def _number(value: Any) -> str:
    return "?" if value is None else str(value)
