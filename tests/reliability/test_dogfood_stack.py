"""Dogfood: configguard's own stack, deployed through CloudFormation, passes its rules.

Given template.yaml, transformed offline and created with moto's CloudFormation in a
  member account of the stand-in (per-account mode, the stack's defaults),
  When `configguard scan` runs every rule in that account,
  Then every resource the stack created is COMPLIANT on every rule that applies to it
  (NOT_APPLICABLE only where the rule does not apply: lambda-inside-vpc by default).
Given the same stack in central (organization) mode,
  Then the 25 rule functions' OrganizationPermission is the one documented exception:
  lambda-public-access-prohibited reports config.amazonaws.com without a source
  condition, as AWS's organization custom-rule set-up requires; nothing else changes.
The resource types moto's CloudFormation cannot create are counted exactly
(docs/reliability.md lists them).
"""

from __future__ import annotations

from collections import Counter

import pytest
from stackdeploy import Deployment, deploy

from configguard import registry
from configguard.clients import ClientFactory
from configguard_cli.scan import Finding, scan

# What moto's CloudFormation has no model for, by type, with the stack's defaults.
LEFT_OUT = {
    "AWS::CloudWatch::Alarm": 76,
    "AWS::Config::ConfigRule": 25,
    "AWS::Config::OrganizationConfigRule": 25,
    "AWS::SQS::QueuePolicy": 13,
    "AWS::Config::ConfigurationRecorder": 1,
    "AWS::Config::DeliveryChannel": 1,
    "AWS::WAFv2::WebACL": 1,
    "AWS::Events::EventBusPolicy": 1,
    "AWS::SecurityHub::ActionTarget": 1,
    "AWS::CloudFormation::WaitConditionHandle": 1,
    "AWS::S3::BucketPolicy": 1,
}
FUNCTIONS = len(registry.RULES) + len(registry.REMEDIATIONS) + 1  # + the router
RULES_BY_TYPE = Counter(t for spec in registry.RULES.values() for t in spec.resource_types)
# Findings about the stack's own functions, log groups and key, by every rule.
OWN_EVALUATIONS = (
    RULES_BY_TYPE["AWS::Lambda::Function"] * FUNCTIONS
    + RULES_BY_TYPE["AWS::Logs::LogGroup"] * FUNCTIONS
    + RULES_BY_TYPE["AWS::KMS::Key"]
)
FIGURES = {
    "own resources scanned": FUNCTIONS * 2 + 1,
    "own evaluations, all passing": OWN_EVALUATIONS,
    "resources left out (no moto model)": sum(LEFT_OUT.values()),
}
# Rules that do not apply to configguard's own resources with the default parameters.
NOT_APPLICABLE_BY_DESIGN = {"lambda-inside-vpc"}
MEMBER = "210987654321"
CENTRAL = "210987654322"


def _member(standin, account: str) -> ClientFactory:
    own = ClientFactory(region=standin.region, endpoint_url=standin.url)
    return own.assume(f"arn:aws:iam::{account}:role/configguard-deployer")


def _own(deployment: Deployment, findings: list[Finding]) -> list[Finding]:
    ids = set(deployment.physical.values())
    return [f for f in findings if f.resource_id in ids]


@pytest.fixture(scope="module")
def per_account(module_standin, tmp_path_factory) -> tuple[Deployment, list[Finding]]:
    member = _member(module_standin, MEMBER)
    deployment = deploy(member, tmp_path_factory.mktemp("per-account"))
    return deployment, scan(member, list(registry.RULES)).findings


def test_own_stack_deploys_with_every_resource_moto_can_create(per_account):
    deployment, _ = per_account
    assert deployment.status == "CREATE_COMPLETE"
    assert dict(deployment.left_out) == LEFT_OUT
    unconditional = {
        lid for lid, r in deployment.template["Resources"].items() if "Condition" not in r
    }
    assert unconditional <= set(deployment.physical), unconditional - set(deployment.physical)
    assert deployment.created["AWS::Lambda::Function"] == FUNCTIONS
    assert deployment.created["AWS::Logs::LogGroup"] == FUNCTIONS


def test_scan_of_own_stack_passes_every_rule_that_applies(per_account):
    deployment, findings = per_account
    own = _own(deployment, findings)
    failing = [
        (f.rule, f.resource_id, f.compliance, f.annotation)
        for f in own
        if f.compliance != "COMPLIANT"
        and not (f.compliance == "NOT_APPLICABLE" and f.rule in NOT_APPLICABLE_BY_DESIGN)
    ]
    assert failing == []
    assert len(own) == FIGURES["own evaluations, all passing"]
    assert len({f.resource_id for f in own}) == FIGURES["own resources scanned"]
    by_rule = Counter(f.rule for f in own)
    lambda_rules = [s.name for s in registry.RULES.values() if s.name.startswith("lambda-")]
    assert all(by_rule[name] == FUNCTIONS for name in lambda_rules), by_rule
    assert by_rule["log-group-retention"] == by_rule["log-group-cmk-encrypted"] == FUNCTIONS
    assert {by_rule[k] for k in registry.RULES if k.startswith("kms-")} == {1}


def test_central_mode_differs_only_by_the_documented_org_permission(module_standin, tmp_path):
    member = _member(module_standin, CENTRAL)
    deployment = deploy(member, tmp_path, {"ExecutionRoleName": "configguard-execution"})
    assert deployment.created["AWS::Lambda::Permission"] > len(registry.RULES)
    own = _own(deployment, scan(member, list(registry.RULES)).findings)
    failing = {
        (f.rule, f.resource_id)
        for f in own
        if f.compliance != "COMPLIANT"
        and not (f.compliance == "NOT_APPLICABLE" and f.rule in NOT_APPLICABLE_BY_DESIGN)
    }
    rule_functions = {f"configguard-{name}" for name in registry.RULES}
    assert failing == {("lambda-public-access-prohibited", name) for name in rule_functions}
    notes = {f.annotation for f in own if (f.rule, f.resource_id) in failing}
    assert all("config.amazonaws.com" in note for note in notes), notes
