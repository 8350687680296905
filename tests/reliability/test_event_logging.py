"""No environment setting makes a handler log the whole event (events carry tags,
descriptions and configuration items, which may hold secret values).

  Given POWERTOOLS_LOGGER_LOG_EVENT=true and a canary inside the event,
    When a rule, a fix or the router handles it,
    Then the canary is in no log line and nowhere on stdout or stderr.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import lambda_context, load_event, with_token
from secrets_corpus import ALNUM, fake

from configguard_cli.handlers import remediation_module, router_module, rule_module

CANARY = fake("", 40, ALNUM, 4242)


def _handler_and_event(kind: str, standin: Any) -> tuple[Any, dict[str, Any], str]:
    if kind == "rule":
        event = with_token(
            standin, load_event("lambda_env_no_plaintext_secrets/change-function-updated.json")
        )
        return rule_module("lambda-env-no-plaintext-secrets").lambda_handler, event, kind
    if kind == "fix":
        event = load_event("strip_env_secrets/config-compliance-change.json")
        return remediation_module("strip-env-secrets").lambda_handler, event, kind
    return router_module().lambda_handler, load_event("securityhub_router/custom-action.json"), kind


@pytest.mark.parametrize("kind", ["rule", "fix", "router"])
def test_event_logging_cannot_be_switched_on(standin, log_output, capfd, monkeypatch, kind):
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    handler, event, name = _handler_and_event(kind, standin)
    event = {**json.loads(json.dumps(event)), "canary": CANARY}
    try:
        handler(event, lambda_context(f"configguard-{name}"))
    except Exception as exc:  # a refusal is fine here; only what was written matters
        assert CANARY not in str(exc)
    captured = capfd.readouterr()
    written = log_output.getvalue() + captured.out + captured.err
    assert written, "the handler wrote nothing: the check would be vacuous"
    assert CANARY not in written
