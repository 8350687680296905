"""Render docs/rules.md from the registry, so the catalogue cannot drift."""

from __future__ import annotations

from pathlib import Path

from configguard import registry
from configguard.parameters import RuleParameters
from configguard_cli.handlers import REPO_ROOT

CATALOGUE = REPO_ROOT / "docs" / "rules.md"

_HEADER = """# Rule catalogue

Generated from `shared/configguard/registry.py` by `configguard catalogue`;
`tests/test_catalogue.py` fails when this file and the registry disagree.

"""


def _parameters(spec: registry.RuleSpec) -> str:
    """Each rule-specific parameter, with its default when it has a meaningful one."""
    own: list[str] = []
    for name, field in spec.parameters.model_fields.items():
        if name in RuleParameters.model_fields:
            continue
        default = field.get_default(call_default_factory=True)
        label = f"`{field.alias or name}`"
        if default not in (None, (), {}, ""):
            label += (
                f" (default `{str(default).lower() if isinstance(default, bool) else default}`)"
            )
        own.append(label)
    return ", ".join(own) or "-"


def render() -> str:
    lines = [
        _HEADER,
        "| Rule | Resource types | Trigger | Security Hub control | Remediation "
        "| Rule permissions | Fix permissions | Parameters |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in sorted(registry.RULES):
        spec = registry.RULES[name]
        fix = registry.REMEDIATIONS.get(spec.remediation) if spec.remediation else None
        lines.append(
            "| "
            + " | ".join(
                [
                    f"`{spec.name}`",
                    ", ".join(f"`{t}`" for t in spec.resource_types),
                    spec.trigger.value,
                    ", ".join(spec.security_hub_controls) or "none",
                    f"`{fix.name}`" if fix else "-",
                    ", ".join(f"`{p}`" for p in spec.permissions),
                    ", ".join(f"`{p}`" for p in fix.permissions) if fix else "-",
                    _parameters(spec),
                ]
            )
            + " |"
        )
    lines.append("")
    lines.append("## Rules")
    for name in sorted(registry.RULES):
        spec = registry.RULES[name]
        lines.append(f"\n### `{name}`\n\n{spec.description}")
        if spec.differences:
            lines.append(f"\nDiffers from AWS: {spec.differences}")
    lines.append("\n## Remediations")
    for name in sorted(registry.REMEDIATIONS):
        fix = registry.REMEDIATIONS[name]
        lines.append(
            f"\n### `{name}`\n\n{fix.description}\n\nFixes: "
            + ", ".join(f"`{r}`" for r in fix.rules)
            + f". Stack default mode: `{fix.default_mode}`. Resource types: "
            + ", ".join(f"`{t}`" for t in fix.resource_types)
            + ". Own settings: "
            + (", ".join(f"`{name}`" for name in fix.settings) or "none")
            + ". Security Hub controls it remedies (the router sends their findings here): "
            + (", ".join(fix.controls) or "none")
            + "."
        )
        if fix.rollback:
            lines.append(f"\nRollback: {fix.rollback}")
    lines.append(
        "\nEvery rule function also holds "
        + ", ".join(f"`{p}`" for p in registry.RULE_BASELINE_PERMISSIONS)
        + "; periodic rules also hold "
        + ", ".join(f"`{p}`" for p in registry.PERIODIC_RULE_PERMISSIONS)
        + " (to clear results of resources that vanished)"
        + ".\n\nEvery fix function also holds "
        + ", ".join(f"`{p}`" for p in registry.REMEDIATION_BASELINE_PERMISSIONS)
        + ".\n\n## Security Hub router\n\n"
        + registry.ROUTER.description
        + " Permissions: "
        + ", ".join(f"`{p}`" for p in registry.ROUTER.permissions)
        + " (`lambda:InvokeFunction` on the fix functions only)."
    )
    return "\n".join(lines) + "\n"


def write(path: Path = CATALOGUE) -> Path:
    path.write_text(render())
    return path
