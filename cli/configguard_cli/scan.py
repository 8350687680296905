"""Evaluate live resources with the rules' own code: CIs from the builder, then evaluate."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any

from configguard import cibuilder, registry
from configguard.clients import ClientFactory
from configguard.rulebase import GuardRule, RuleClients
from configguard_cli.handlers import rule_module


@dataclass(frozen=True)
class Finding:
    rule: str
    resource_type: str
    resource_id: str
    compliance: str
    annotation: str
    remediation: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def rule_class(module: ModuleType, name: str) -> type[GuardRule]:
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, GuardRule)
            and getattr(value, "spec", None) is not None
            and value.spec.name == name
        ):
            return value
    raise LookupError(f"module {module.__name__} defines no rule class for {name}")


def scan(
    factory: ClientFactory,
    rule_names: Iterable[str],
    *,
    progress: Callable[[str], None] | None = None,
) -> list[Finding]:
    """One finding per (rule, resource). Each resource type is listed once per scan."""
    specs = [registry.rule(name) for name in rule_names]
    cis: dict[str, list[cibuilder.ConfigurationItem]] = {}
    clients = RuleClients(factory)
    findings: list[Finding] = []
    for spec in specs:
        rule = rule_class(rule_module(spec.name), spec.name)()
        params = rule.evaluate_parameters({})
        for resource_type in spec.resource_types:
            if resource_type not in cis:
                cis[resource_type] = list(cibuilder.list_items(factory, resource_type))
            for item in cis[resource_type]:
                for result in rule.evaluate_change(None, clients, item, params):
                    findings.append(
                        Finding(
                            rule=spec.name,
                            resource_type=result.complianceResourceType or resource_type,
                            resource_id=result.complianceResourceId or item["resourceId"],
                            compliance=result.complianceType,
                            annotation=result.annotation or "",
                            remediation=spec.remediation,
                        )
                    )
                if progress:
                    progress(spec.name)
    return findings
