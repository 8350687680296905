"""docs/runbooks: one runbook per rule, in one shape, agreeing with the registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from configguard import registry
from configguard.registry import RuleSpec

ROOT = Path(__file__).resolve().parents[1]
RUNBOOKS = ROOT / "docs" / "runbooks"
INDEX = RUNBOOKS / "README.md"
SECTIONS = [
    "What it means",
    "Why it matters",
    "Fix by hand",
    "What the auto-fix does",
    "Risks",
]
RULE_SPECS = sorted(registry.RULES.values(), key=lambda s: s.name)
# A Security Hub control id as the registry writes them: "Lambda.1", "CloudWatch.16".
CONTROL_ID = re.compile(r"\b[A-Z][A-Za-z]+\.\d+\b")


def controls(spec: RuleSpec) -> tuple[str, ...]:
    """The rule's Security Hub controls, from either registry shape.

    `security_hub_controls` (a tuple) or the older `security_hub_control` (None, or a
    comma-separated string).
    """
    value = getattr(spec, "security_hub_controls", None)
    if value is None:
        value = getattr(spec, "security_hub_control", None)
    if not value:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(value)


def prose(text: str) -> str:
    """The text without fenced code blocks (a shell comment is not a heading)."""
    return re.sub(r"^```.*?^```$", "", text, flags=re.MULTILINE | re.DOTALL)


def sections(text: str) -> dict[str, str]:
    """H2 title -> body (code blocks included), in document order."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


def runbook(spec: RuleSpec) -> str:
    return (RUNBOOKS / f"{spec.name}.md").read_text()


def test_every_rule_has_a_runbook_and_no_runbook_lacks_a_rule() -> None:
    pages = {p.stem for p in RUNBOOKS.glob("*.md") if p.name != INDEX.name}
    assert pages == set(registry.RULES)
    assert not [p for p in RUNBOOKS.iterdir() if p.suffix != ".md"]


@pytest.mark.parametrize("spec", RULE_SPECS, ids=lambda s: s.name)
def test_runbook_has_the_five_sections_in_order(spec: RuleSpec) -> None:
    text = runbook(spec)
    assert text.startswith(f"# {spec.name}\n")
    assert re.findall(r"^## (.+)$", prose(text), flags=re.MULTILINE) == SECTIONS
    assert re.findall(r"^## (.+)$", text, flags=re.MULTILINE) == SECTIONS
    assert re.findall(r"^# ", prose(text), flags=re.MULTILINE) == ["# "], "one H1 only"
    for title, body in sections(text).items():
        assert body.strip(), f"{title} is empty"


@pytest.mark.parametrize("spec", RULE_SPECS, ids=lambda s: s.name)
def test_why_it_matters_names_exactly_the_rules_controls(spec: RuleSpec) -> None:
    why = sections(runbook(spec))["Why it matters"]
    named = set(CONTROL_ID.findall(why))
    assert named == set(controls(spec))
    if not controls(spec):
        assert "No Security Hub control" in why


@pytest.mark.parametrize("spec", RULE_SPECS, ids=lambda s: s.name)
def test_auto_fix_section_matches_the_paired_fix(spec: RuleSpec) -> None:
    fix_text = sections(runbook(spec))["What the auto-fix does"]
    others = set(registry.REMEDIATIONS) - {spec.remediation}
    assert not [name for name in others if f"`{name}`" in fix_text], "names another fix"
    if spec.remediation is None:
        assert fix_text.strip().startswith("No auto-fix:")
        return
    fix = registry.remediation(spec.remediation)
    assert "No auto-fix" not in fix_text
    assert f"Paired fix: `{fix.name}`" in fix_text
    assert f"Default mode: `{fix.default_mode}`" in fix_text
    assert f"`{fix.logical_id}Mode`" in fix_text
    for setting in fix.settings:
        assert f"`{setting}`" in fix_text, f"setting {setting} is not described"
    if not fix.settings:
        assert "Settings: none." in fix_text
    assert "Rollback" in fix_text and "Refuse" in fix_text


@pytest.mark.parametrize("spec", RULE_SPECS, ids=lambda s: s.name)
def test_fix_by_hand_gives_aws_cli_commands(spec: RuleSpec) -> None:
    by_hand = sections(runbook(spec))["Fix by hand"]
    assert "```sh" in by_hand
    assert re.search(r"^\s*aws [a-z0-9-]+ [a-z-]+", by_hand, flags=re.MULTILINE)


def test_index_lists_every_rule_with_its_control_and_fix() -> None:
    rows = {
        cells[0].strip("` "): [c.strip() for c in cells[1:]]
        for line in INDEX.read_text().splitlines()
        if line.startswith("| `")
        for cells in [line.strip("|").split("|")]
    }
    assert set(rows) == set(registry.RULES)
    for name, (control, fix, link) in rows.items():
        spec = registry.rule(name)
        assert control == (", ".join(controls(spec)) or "none")
        if spec.remediation:
            mode = registry.remediation(spec.remediation).default_mode
            assert fix == f"`{spec.remediation}` ({mode})"
        else:
            assert fix == "none"
        assert link == f"[{name}.md]({name}.md)"
