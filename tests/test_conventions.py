"""Each rule: one module, one test file, one events folder; its tests mirror its scenarios."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from configguard import registry
from configguard.registry import RuleSpec

ROOT = Path(__file__).resolve().parents[1]
RULE_SPECS = list(registry.RULES.values())


def _scenarios(spec: RuleSpec) -> list[str]:
    source = (ROOT / "rules" / f"{spec.module}.py").read_text()
    docstring = ast.get_docstring(ast.parse(source)) or ""
    assert docstring.startswith(f"{spec.name}:"), "the docstring opens with the rule name"
    assert "Scenarios:" in docstring
    _, _, scenarios = docstring.partition("Scenarios:")
    return [line.strip() for line in scenarios.splitlines() if line.strip().startswith("Given")]


@pytest.mark.parametrize("spec", RULE_SPECS, ids=lambda s: s.name)
def test_rule_module_lists_its_scenarios(spec: RuleSpec) -> None:
    scenarios = _scenarios(spec)
    assert len(scenarios) >= 3, f"{spec.module}.py lists {len(scenarios)} scenarios"


@pytest.mark.parametrize("spec", RULE_SPECS, ids=lambda s: s.name)
def test_each_scenario_has_at_least_one_test(spec: RuleSpec) -> None:
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
