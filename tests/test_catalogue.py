"""docs/rules.md is generated from the registry and must match it."""

from __future__ import annotations

from configguard import registry
from configguard_cli import catalogue


def test_catalogue_matches_registry():
    assert catalogue.CATALOGUE.read_text() == catalogue.render(), "run `configguard catalogue`"


def test_catalogue_names_every_rule_control_and_fix():
    text = catalogue.render()
    for spec in registry.RULES.values():
        assert f"`{spec.name}`" in text
        if spec.remediation:
            assert f"`{spec.remediation}`" in text
        for permission in spec.permissions:
            assert permission in text
