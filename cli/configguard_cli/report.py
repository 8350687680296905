"""The self-contained HTML scan report: `configguard scan --format html --output report.html`.

One file, no external CSS, scripts, fonts or images (a Content-Security-Policy forbids
them): inline CSS, charts as inline SVG. Every value from a scan is escaped, since
annotations and resource ids can hold anything.
"""

from __future__ import annotations

import html
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from configguard import registry
from configguard_cli.scan import (
    COMPLIANT,
    ERROR,
    NON_COMPLIANT,
    NOT_APPLICABLE,
    Finding,
    ScanReport,
)

# Chart segments, in drawing order: (verdict, label, colour).
_SEGMENTS = (
    (COMPLIANT, "compliant", "#2e7d32"),
    (NON_COMPLIANT, "noncompliant", "#c62828"),
    (ERROR, "error", "#8e24aa"),
)
_ORDER = {ERROR: 0, NON_COMPLIANT: 1, COMPLIANT: 2, NOT_APPLICABLE: 3}
_BAR_WIDTH = 420
_LABEL_WIDTH = 330
_ROW_HEIGHT = 24

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem;
       color: #1f2328; max-width: 1200px; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
.meta { color: #57606a; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: .6rem 1rem; min-width: 8rem; }
.card .n { font-size: 1.5rem; font-weight: 600; display: block; }
.legend span { display: inline-block; margin-right: 1rem; }
.legend i { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem;
            vertical-align: middle; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .5rem; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; }
td.id, code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85rem;
              word-break: break-all; }
.COMPLIANT { color: #2e7d32; } .NON_COMPLIANT { color: #c62828; font-weight: 600; }
.ERROR { color: #8e24aa; font-weight: 600; } .NOT_APPLICABLE { color: #57606a; }
svg text { font-size: 12px; fill: #1f2328; }
"""


@dataclass(frozen=True)
class ReportContext:
    """Where and when the scan ran."""

    region: str
    account: str | None = None
    endpoint: str | None = None
    generated_at: datetime | None = None
    duration_seconds: float | None = None


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _bar_chart(title: str, rows: dict[str, dict[str, int]]) -> str:
    """Horizontal 100% stacked bars (compliant / noncompliant / error), one per row."""
    height = _ROW_HEIGHT * max(len(rows), 1) + 8
    width = _LABEL_WIDTH + _BAR_WIDTH + 180
    parts = [
        f'<svg role="img" aria-label="{_e(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
    ]
    for index, (name, counts) in enumerate(rows.items()):
        y = 4 + index * _ROW_HEIGHT
        parts.append(
            f'<text x="{_LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end">{_e(name)}</text>'
        )
        judged = sum(counts[verdict] for verdict, _, _ in _SEGMENTS)
        parts.append(
            f'<rect x="{_LABEL_WIDTH}" y="{y + 3}" width="{_BAR_WIDTH}" height="16" '
            'fill="#eaeef2"/>'
        )
        x = float(_LABEL_WIDTH)
        for verdict, label, colour in _SEGMENTS:
            count = counts[verdict]
            if not count:
                continue
            span = _BAR_WIDTH * count / judged
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{span:.1f}" height="16" '
                f'fill="{colour}"><title>{_e(name)}: {count} {label}</title></rect>'
            )
            x += span
        text = (
            " / ".join(f"{counts[verdict]}" for verdict, _, _ in _SEGMENTS)
            if judged
            else "nothing evaluated"
        )
        parts.append(f'<text x="{_LABEL_WIDTH + _BAR_WIDTH + 8}" y="{y + 15}">{text}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _legend() -> str:
    items = "".join(
        f'<span><i style="background:{colour}"></i>{label}</span>' for _, label, colour in _SEGMENTS
    )
    return f'<p class="legend">{items} (counts: compliant / noncompliant / error)</p>'


def _summary_table(heading: str, rows: dict[str, dict[str, int]], fixes: bool) -> str:
    head = f"<th>{_e(heading)}</th>" + "".join(
        f"<th>{label}</th>"
        for label in ("compliant", "noncompliant", "not applicable", "error", "total")
    )
    if fixes:
        head += "<th>paired fix</th>"
    body = []
    for name, counts in rows.items():
        cells = "".join(
            f'<td class="num">{counts[v]}</td>'
            for v in (COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ERROR, "total")
        )
        if fixes:
            spec = registry.RULES.get(name)
            cells += f"<td>{_e(spec.remediation or '') if spec else ''}</td>"
        body.append(f"<tr><td>{_e(name)}</td>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _fix_cell(finding: Finding) -> str:
    if not finding.remediation:
        return ""
    cell = _e(finding.remediation)
    if finding.compliance == NON_COMPLIANT:
        command = f"configguard fix {shlex.quote(finding.rule)} {shlex.quote(finding.resource_id)}"
        cell += f"<br><code>{_e(command)}</code>"
    return cell


def _findings_table(findings: list[Finding]) -> str:
    ordered = sorted(findings, key=lambda f: (_ORDER.get(f.compliance, 4), f.rule, f.resource_id))
    head = "".join(
        f"<th>{label}</th>"
        for label in (
            "rule",
            "resource type",
            "resource id",
            "compliance",
            "annotation",
            "paired fix",
            "Security Hub",
        )
    )
    rows = []
    for f in ordered:
        spec = registry.RULES.get(f.rule)
        controls = ", ".join(spec.security_hub_controls) if spec else ""
        rows.append(
            "<tr>"
            f"<td>{_e(f.rule)}</td>"
            f"<td>{_e(f.resource_type)}</td>"
            f'<td class="id">{_e(f.resource_id)}</td>'
            f'<td class="{_e(f.compliance)}">{_e(f.compliance)}</td>'
            f"<td>{_e(f.annotation)}</td>"
            f"<td>{_fix_cell(f)}</td>"
            f"<td>{_e(controls)}</td>"
            "</tr>"
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _cards(report: ScanReport) -> str:
    totals = report.totals()
    judged = totals[COMPLIANT] + totals[NON_COMPLIANT]
    score = f"{100 * totals[COMPLIANT] / judged:.0f}%" if judged else "n/a"
    cards = (
        ("findings", totals["total"]),
        ("compliant", totals[COMPLIANT]),
        ("noncompliant", totals[NON_COMPLIANT]),
        ("not applicable", totals[NOT_APPLICABLE]),
        ("error", totals[ERROR]),
        ("compliance score", score),
        ("rules", len(report.rules)),
    )
    items = "".join(
        f'<div class="card" data-summary="{_e(label)}"><span class="n">{_e(value)}</span>'
        f"{_e(label)}</div>"
        for label, value in cards
    )
    return f'<div class="cards">{items}</div>'


def render_html(report: ScanReport, context: ReportContext) -> str:
    """The whole report as one HTML document."""
    when = (context.generated_at or datetime.now(UTC)).astimezone(UTC)
    meta = [
        f"generated {_e(when.strftime('%Y-%m-%d %H:%M:%S UTC'))}",
        f"account {_e(context.account or 'unknown')}",
        f"region {_e(context.region)}",
    ]
    if context.endpoint:
        meta.append(f"endpoint {_e(context.endpoint)}")
    if context.duration_seconds is not None:
        meta.append(f"scan took {context.duration_seconds:.1f} s")
    by_rule = report.by_rule()
    by_type = report.by_resource_type()
    csp = "default-src 'none'; style-src 'unsafe-inline'"
    return "\n".join(
        (
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>configguard scan report</title>",
            f"<style>{_CSS}</style></head><body>",
            "<h1>configguard scan report</h1>",
            f'<p class="meta">{" &middot; ".join(meta)}</p>',
            '<section id="summary"><h2>Summary</h2>',
            _cards(report),
            "</section>",
            '<section id="by-rule"><h2>Compliance by rule</h2>',
            _legend(),
            _bar_chart("Compliance by rule", by_rule),
            _summary_table("rule", by_rule, fixes=True),
            "</section>",
            '<section id="by-resource-type"><h2>Compliance by resource type</h2>',
            _legend(),
            _bar_chart("Compliance by resource type", by_type),
            _summary_table("resource type", by_type, fixes=False),
            "</section>",
            f'<section id="findings"><h2>Findings ({len(report.findings)})</h2>',
            _findings_table(report.findings),
            "</section>",
            "</body></html>",
            "",
        )
    )


def write_html(path: Path, report: ScanReport, context: ReportContext) -> None:
    path.write_text(render_html(report, context), encoding="utf-8")
