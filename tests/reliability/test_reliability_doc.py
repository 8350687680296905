"""docs/reliability.md states every reliability figure, each with the test producing it.

Given every tests/reliability module's FIGURES,
  Then the page's figures table has exactly those rows, with the same numbers, and every
  test it names exists in its module.
Given security/checkov.yaml and the template's checkov skips,
  Then the page justifies each skipped check.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
MODULES = (
    "test_fuzz_events",
    "test_faultplan",
    "test_fault_injection",
    "test_crash_consistency",
    "test_concurrency",
    "test_secret_canaries",
    "test_cli_bad_input",
    "test_dogfood_stack",
)
ROW = re.compile(r"^\| (?P<figure>[^|]+?) \| (?:≥ )?(?P<value>[\d,]+) \| (?P<by>.+) \|$", re.M)
TEST = re.compile(r"`(?P<module>test_\w+)::(?P<test>test_\w+)`")


def _figures_table() -> dict[str, tuple[int, str]]:
    text = DOC.read_text()
    table = text[text.index("## Figures") : text.index("## 1.")]
    return {m["figure"]: (int(m["value"].replace(",", "")), m["by"]) for m in ROW.finditer(table)}


def test_every_figure_is_on_the_page_with_the_test_that_produces_it():
    rows = _figures_table()
    expected: dict[str, tuple[str, int]] = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for figure, value in module.FIGURES.items():
            assert figure not in expected, f"figure {figure!r} is in two modules"
            expected[figure] = (name, value)
    assert set(rows) == set(expected)
    for figure, (value, by) in rows.items():
        module_name, wanted = expected[figure]
        assert value == wanted, (figure, value, wanted)
        named = TEST.findall(by)
        assert named, f"{figure}: no test named"
        for module, test in named:
            assert module == module_name, (figure, module)
            assert callable(getattr(importlib.import_module(module), test, None)), test


def test_every_checkov_skip_is_justified_on_the_page():
    config = yaml.safe_load((ROOT / "security" / "checkov.yaml").read_text())
    skipped = set(config.get("skip-check", []))
    template = (ROOT / "template.yaml").read_text()
    skipped |= set(re.findall(r"- id: (CKV_\w+)", template))
    assert skipped == {"CKV_AWS_117", "CKV_AWS_364"}
    justified = DOC.read_text().split("Justified suppressions:")[1]
    for check in skipped:
        assert re.search(rf"^  \| {check} \(.+\) \| .+ \| .{{40,}} \|$", justified, re.M), check
