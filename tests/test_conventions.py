"""Each rule and each fix: one module, one test file, one events folder; tests mirror scenarios."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from configguard import registry
from configguard.registry import RemediationSpec, RuleSpec
from configguard.triggers import parse_requests

ROOT = Path(__file__).resolve().parents[1]
RULE_SPECS = list(registry.RULES.values())
FIX_SPECS = list(registry.REMEDIATIONS.values())
ALL_SPECS: list[RuleSpec | RemediationSpec] = [*RULE_SPECS, *FIX_SPECS]
# Every fix is testable from each trigger source's own sample event.
FIX_EVENTS = (
    "config-compliance-change.json",
    "securityhub-custom-action.json",
    "cli-fix-request.json",
)


def _scenarios(spec: RuleSpec | RemediationSpec) -> list[str]:
    folder = "rules" if isinstance(spec, RuleSpec) else "remediations"
    source = (ROOT / folder / f"{spec.module}.py").read_text()
    docstring = ast.get_docstring(ast.parse(source)) or ""
    assert docstring.startswith(f"{spec.name}:"), "the docstring opens with the rule name"
    assert "Scenarios:" in docstring
    _, _, scenarios = docstring.partition("Scenarios:")
    return [line.strip() for line in scenarios.splitlines() if line.strip().startswith("Given")]


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.name)
def test_module_lists_its_scenarios(spec: RuleSpec | RemediationSpec) -> None:
    scenarios = _scenarios(spec)
    assert len(scenarios) >= 3, f"{spec.module}.py lists {len(scenarios)} scenarios"


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.name)
def test_each_scenario_has_at_least_one_test(spec: RuleSpec | RemediationSpec) -> None:
    path = ROOT / "tests" / f"test_{spec.module}.py"
    assert path.exists(), f"{path.name} is missing"
    tree = ast.parse(path.read_text())
    tests = [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]
    assert len(tests) >= len(_scenarios(spec)), (
        f"{path.name} has {len(tests)} tests for {len(_scenarios(spec))} scenarios"
    )


@pytest.mark.parametrize("spec", RULE_SPECS, ids=lambda s: s.name)
def test_events_folder_holds_real_shaped_events(spec: RuleSpec) -> None:
    folder = ROOT / "events" / spec.module
    files = sorted(folder.glob("*.json"))
    assert files, f"events/{spec.module}/ has no sample events"
    for file in files:
        event = json.loads(file.read_text())
        assert event["configRuleName"] == spec.name, file.name
        invoking = json.loads(event["invokingEvent"])
        assert invoking["messageType"] in {
            "ConfigurationItemChangeNotification",
            "OversizedConfigurationItemChangeNotification",
            "ScheduledNotification",
        }, file.name
        assert isinstance(event["resultToken"], str) and event.get("accountId"), file.name


@pytest.mark.parametrize("spec", FIX_SPECS, ids=lambda s: s.name)
def test_fix_events_parse_into_requests_for_the_fix(spec: RemediationSpec) -> None:
    folder = ROOT / "events" / spec.module
    names = {file.name for file in folder.glob("*.json")}
    assert set(FIX_EVENTS) <= names, f"events/{spec.module}/ lacks {set(FIX_EVENTS) - names}"
    for name in sorted(names):
        requests = parse_requests(spec, json.loads((folder / name).read_text()))
        assert requests and all(r.remediation == spec.name for r in requests), name
        assert all(r.rule in spec.rules for r in requests), name


@pytest.mark.parametrize("spec", FIX_SPECS, ids=lambda s: s.name)
def test_fix_documents_its_rollback(spec: RemediationSpec) -> None:
    assert len(spec.rollback) > 20, "say what `configguard rollback` does, or why it refuses"
