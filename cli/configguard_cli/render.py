"""Rich rendering shared by the CLI commands and the demo."""

from __future__ import annotations

from typing import Any

from rich.table import Table

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
            r["time"],
            r["audit_id"],
            r["remediation"],
            r["resource_id"],
            r["mode"],
            r["outcome"],
            r["reason"],
        )
    return table
