"""Runbook links: configguard.runbooks and the link in NON_COMPLIANT annotations.

The annotation tests run real rule handlers against the stand-in and read back what
Config stored, once without CONFIGGUARD_RUNBOOK_BASE_URL and once with it.
"""

from __future__ import annotations

from conftest import (
    lambda_context,
    load_event,
    make_function,
    scheduled_event,
    stored_results,
    with_token,
)

from configguard import runbooks, settings
from configguard.verdict import ANNOTATION_LIMIT
from configguard_cli.handlers import rule_module
from configguard_cli.local.scenarios import fake_token

BASE = "https://runbooks.example/configguard/docs/runbooks"


def link(rule: str) -> str:
    return f" Runbook: {BASE}/{rule}.md"


def test_url_needs_the_setting_and_a_known_rule(monkeypatch):
    monkeypatch.delenv(settings.RUNBOOK_BASE_URL, raising=False)
    assert runbooks.url("lambda-tracing-active") is None
    monkeypatch.setenv(settings.RUNBOOK_BASE_URL, "  ")
    assert runbooks.url("lambda-tracing-active") is None
    monkeypatch.setenv(settings.RUNBOOK_BASE_URL, BASE + "/")
    assert runbooks.url("lambda-tracing-active") == f"{BASE}/lambda-tracing-active.md"
    assert runbooks.url("no-such-rule") is None


def test_with_link_appends_only_what_fits(monkeypatch):
    monkeypatch.setenv(settings.RUNBOOK_BASE_URL, BASE)
    tail = link("log-group-retention")
    fits = "x" * (ANNOTATION_LIMIT - len(tail))
    assert runbooks.with_link(fits, "log-group-retention") == fits + tail
    assert len(fits + tail) == ANNOTATION_LIMIT
    too_long = fits + "x"
    assert runbooks.with_link(too_long, "log-group-retention") == too_long
    assert runbooks.with_link("", "log-group-retention") == tail.strip()
    monkeypatch.delenv(settings.RUNBOOK_BASE_URL)
    assert runbooks.with_link("Retention is 30 days.", "log-group-retention") == (
        "Retention is 30 days."
    )


def test_noncompliant_change_annotation_links_its_runbook(standin, factory, monkeypatch):
    rule = "lambda-tracing-active"
    handler = rule_module(rule).lambda_handler
    ctx = lambda_context(f"configguard-{rule}")
    make_function(factory, "orders-api")
    make_function(factory, "payments", TracingConfig={"Mode": "Active"})
    events = ("change-passthrough.json", "change-active.json")

    def run() -> dict[str, tuple[str, str]]:
        for name in events:
            handler(with_token(standin, load_event(f"lambda_tracing_active/{name}")), ctx)
        return stored_results(factory, rule)

    plain = run()
    monkeypatch.setenv(settings.RUNBOOK_BASE_URL, BASE)
    linked = run()
    assert plain["orders-api"][0] == linked["orders-api"][0] == "NON_COMPLIANT"
    assert linked["orders-api"][1] == plain["orders-api"][1] + link(rule)
    # Compliant results carry no link.
    assert linked["payments"] == plain["payments"] == ("COMPLIANT", "X-Ray tracing mode is Active.")


def test_periodic_annotations_link_only_noncompliant_results(standin, factory, monkeypatch):
    rule = "log-group-retention"
    handler = rule_module(rule).lambda_handler
    ctx = lambda_context(f"configguard-{rule}")
    logs = factory.client("logs")
    for name, days in (("/links/short", 30), ("/links/long", 400)):
        logs.create_log_group(logGroupName=name)
        logs.put_retention_policy(logGroupName=name, retentionInDays=days)

    handler(scheduled_event(standin, rule, at="2026-11-21T00:00:00Z"), ctx)
    plain = stored_results(factory, rule)
    monkeypatch.setenv(settings.RUNBOOK_BASE_URL, BASE)
    handler(scheduled_event(standin, rule, at="2026-11-21T01:00:00Z"), ctx)
    linked = stored_results(factory, rule)
    assert linked["/links/short"] == ("NON_COMPLIANT", plain["/links/short"][1] + link(rule))
    assert linked["/links/long"] == plain["/links/long"]
    assert plain["/links/long"] == ("COMPLIANT", "Retention is 400 days (minimum 365).")


def test_annotation_near_the_limit_stays_unchanged(standin, factory, monkeypatch):
    rule = "lambda-env-no-plaintext-secrets"
    handler = rule_module(rule).lambda_handler
    ctx = lambda_context(f"configguard-{rule}")
    variables = {f"SERVICE_{i:02d}_GITHUB_TOKEN": fake_token("ghp_", 36, i) for i in range(12)}
    make_function(factory, "billing-worker", Environment={"Variables": variables})
    event = load_event("lambda_env_no_plaintext_secrets/change-function-updated.json")

    handler(with_token(standin, event), ctx)
    compliance, plain = stored_results(factory, rule)["billing-worker"]
    assert compliance == "NON_COMPLIANT"
    assert len(plain) + len(link(rule)) > ANNOTATION_LIMIT, "the link must not fit"

    monkeypatch.setenv(settings.RUNBOOK_BASE_URL, BASE)
    handler(with_token(standin, event), ctx)
    assert stored_results(factory, rule)["billing-worker"] == ("NON_COMPLIANT", plain)
    assert len(plain) <= ANNOTATION_LIMIT
