"""The HTML scan report: summary, every finding, self-contained, everything escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

from conftest import make_function

from configguard import registry
from configguard_cli.report import ReportContext, render_html
from configguard_cli.scan import ERROR, Finding, ScanReport, scan

CONTEXT = ReportContext(
    region="us-east-1",
    account="123456789012",
    endpoint="http://127.0.0.1:4566",
    generated_at=datetime(2024, 6, 1, 12, 0, tzinfo=UTC),
    duration_seconds=1.25,
)


class _Page(HTMLParser):
    """The report's summary cards, findings rows and every tag and attribute used."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: dict[str, str] = {}
        self.rows: list[list[str]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._card: str | None = None
        self._in_findings = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append((tag, values))
        if tag == "div" and values.get("data-summary"):
            self._card = values["data-summary"]
        if tag == "section":
            self._in_findings = values.get("id") == "findings"
        if self._in_findings and tag == "tr":
            self._row = []
        if self._row is not None and tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        if tag == "tr" and self._row:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._card is not None:
            self.cards[self._card] = data
            self._card = None
        if self._cell is not None:
            self._cell.append(data)


def parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def test_report_has_the_summary_and_every_finding(standin, factory):
    make_function(factory, "fn-open")
    make_function(factory, "fn-limited", reserved=4)
    rules = ["lambda-reserved-concurrency", "lambda-tracing-active", "kms-key-rotation-enabled"]
    report = scan(factory, rules)
    assert report.noncompliant and len(report.findings) > 10

    page = parse(render_html(report, CONTEXT))

    totals = report.totals()
    assert page.cards["findings"] == str(totals["total"])
    assert page.cards["compliant"] == str(totals["COMPLIANT"])
    assert page.cards["noncompliant"] == str(totals["NON_COMPLIANT"])
    assert page.cards["not applicable"] == str(totals["NOT_APPLICABLE"])
    assert page.cards["error"] == "0"
    assert page.cards["rules"] == "3"
    shown = sorted((row[0], row[2], row[3]) for row in page.rows)
    assert shown == sorted((f.rule, f.resource_id, f.compliance) for f in report.findings)
    open_row = next(r for r in page.rows if r[0] == rules[0] and r[2] == "fn-open")
    assert open_row[5].startswith("add-concurrency-limit")
    assert "configguard fix lambda-reserved-concurrency fn-open" in open_row[5]
    tracing = next(r for r in page.rows if r[0] == "lambda-tracing-active")
    assert tracing[6] == "Lambda.7"  # the Security Hub control


def test_report_charts_and_tables_per_rule_and_resource_type():
    findings = [
        Finding("lambda-tracing-active", registry.LAMBDA, "a", "COMPLIANT", ""),
        Finding("lambda-tracing-active", registry.LAMBDA, "b", "NON_COMPLIANT", ""),
        Finding("log-group-retention", "AWS::Logs::LogGroup", "/g", ERROR, "AccessDenied"),
    ]
    report = ScanReport(findings=findings, rules=["lambda-tracing-active", "log-group-retention"])
    page = render_html(report, CONTEXT)
    charts = re.findall(r"<svg .*?</svg>", page, re.DOTALL)
    assert [re.search(r'aria-label="([^"]+)"', c).group(1) for c in charts] == [
        "Compliance by rule",
        "Compliance by resource type",
    ]
    by_rule, by_type = charts
    assert "lambda-tracing-active: 1 compliant" in by_rule
    assert "lambda-tracing-active: 1 noncompliant" in by_rule
    assert "log-group-retention: 1 error" in by_rule
    assert "AWS::Logs::LogGroup: 1 error" in by_type
    assert "123456789012" in page and "us-east-1" in page and "127.0.0.1:4566" in page


def test_report_is_self_contained():
    report = ScanReport(
        findings=[Finding("lambda-tracing-active", registry.LAMBDA, "fn", "COMPLIANT", "ok")],
        rules=["lambda-tracing-active"],
    )
    text = render_html(report, CONTEXT)
    page = parse(text)
    for tag, attrs in page.tags:
        assert tag not in {"script", "link", "img", "iframe", "object", "embed"}, tag
        for name in ("src", "href", "srcset", "action", "data"):
            assert not attrs.get(name), (tag, name)
    assert not re.search(r"url\(|@import|@font-face", text)
    assert "default-src 'none'" in text  # the browser refuses anything external too


def test_a_hostile_annotation_and_resource_id_are_escaped():
    hostile = Finding(
        "lambda-tracing-active",
        registry.LAMBDA,
        '"><img src=x onerror=alert(1)>',
        "NON_COMPLIANT",
        "<script>alert('x')</script> & more",
        remediation="enable-tracing",
    )
    report = ScanReport(findings=[hostile], rules=["lambda-tracing-active"])
    text = render_html(report, CONTEXT)
    assert "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in text
    page = parse(text)
    assert page.rows[0][2] == hostile.resource_id  # shown as text, exactly
    assert page.rows[0][4] == hostile.annotation
