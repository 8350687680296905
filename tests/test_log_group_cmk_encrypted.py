"""Scenarios of rules/log_group_cmk_encrypted.py (periodic), against the stand-in.

The stand-in provisions no log group of its own (checked below), so every stored result
belongs to a group the test created. Results are read back page by page: a run can
store more than the 100 results one GetComplianceDetailsByConfigRule page holds.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import CallCounter, fresh_standin, lambda_context, load_event
from faults import inject_error

from configguard.clients import default_factory
from configguard.parameters import InvalidRuleParametersError
from configguard.rulebase import EvaluationError
from configguard_cli.handlers import rule_module

RULE = "log-group-cmk-encrypted"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
NOT_ENCRYPTED = (
    "The log group is not encrypted with a KMS key (CloudWatch Logs default encryption "
    "only). Fix: associate a customer managed key (logs:AssociateKmsKey)."
)


def results(factory) -> dict[str, tuple[str, str]]:
    """Every stored result of the rule (all pages): resource id -> (verdict, note)."""
    config = factory.client("config")
    found: dict[str, tuple[str, str]] = {}
    kwargs: dict[str, Any] = {"ConfigRuleName": RULE, "Limit": 100}
    while True:
        page = config.get_compliance_details_by_config_rule(**kwargs)
        for r in page["EvaluationResults"]:
            qualifier = r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
            assert qualifier["ResourceType"] == "AWS::Logs::LogGroup"
            found[qualifier["ResourceId"]] = (r["ComplianceType"], r.get("Annotation", ""))
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def scheduled(
    standin,
    relative: str = "scheduled.json",
    at: str | None = None,
    **params: str,
) -> dict:
    """A real-shaped ScheduledNotification with a live result token (and `params` set)."""
    event = copy.deepcopy(load_event(f"log_group_cmk_encrypted/{relative}"))
    event["resultToken"] = standin.issue_result_token(RULE)
    if at:
        invoking = json.loads(event["invokingEvent"])
        invoking["notificationCreationTime"] = at
        event["invokingEvent"] = json.dumps(invoking)
    if params:
        event["ruleParameters"] = json.dumps({**json.loads(event["ruleParameters"]), **params})
    return event


def new_key(factory) -> dict[str, Any]:
    return dict(factory.client("kms").create_key(Description="logs")["KeyMetadata"])


def log_group(factory, name: str, key_arn: str | None = None) -> str:
    extra = {"kmsKeyId": key_arn} if key_arn else {}
    factory.client("logs").create_log_group(logGroupName=name, **extra)
    return name


@dataclass
class Scan:
    """One stand-in holding every read-only scenario's log group, run once per event."""

    keys: dict[str, dict[str, Any]]
    runs: dict[str, dict[str, tuple[str, str]]]
    logs_calls: dict[str, list[str]]  # per run
    own_groups_before_seeding: list[dict[str, Any]]


BULK = [f"/app/bulk/g{i:03d}" for i in range(110)]


def build(factory) -> dict[str, dict[str, Any]]:
    keys = {"required": new_key(factory), "other": new_key(factory)}
    log_group(factory, "/aws/lambda/orders", keys["required"]["Arn"])
    log_group(factory, "/aws/lambda/plain")
    log_group(factory, "/app/wrong", keys["other"]["Arn"])
    log_group(factory, "/ecs/batch")
    for index, name in enumerate(BULK):
        log_group(factory, name, keys["other"]["Arn"] if index % 2 else None)
    return keys


@pytest.fixture(scope="module")
def scan(standin_server) -> Iterator[Scan]:
    with fresh_standin(standin_server):
        factory = default_factory()
        before = factory.client("logs").describe_log_groups()["logGroups"]
        keys = build(factory)
        required = keys["required"]
        runs: dict[str, dict[str, tuple[str, str]]] = {}
        plan = (
            ("default", "scheduled.json", {}),
            ("key-id", "scheduled-kms-key.json", {"KmsKeyId": required["KeyId"]}),
            ("key-arn", "scheduled-kms-key.json", {"KmsKeyId": required["Arn"]}),
            ("prefixes", "scheduled-prefixes.json", {}),
        )
        calls: dict[str, list[str]] = {}
        counter = CallCounter(factory.client("logs"))
        try:
            for hour, (run, relative, params) in enumerate(plan):
                at = f"2026-11-21T0{hour}:00:00Z"
                handler(scheduled(standin_server, relative, at, **params), CTX)
                runs[run], calls[run] = results(factory), list(counter.calls)
                counter.calls.clear()
        finally:
            counter.close()
        yield Scan(keys, runs, calls, before)


def test_scheduled_events_are_real_shaped(scan):
    for name in ("scheduled", "scheduled-kms-key", "scheduled-prefixes"):
        event = load_event(f"log_group_cmk_encrypted/{name}.json")
        invoking = json.loads(event["invokingEvent"])
        assert invoking["messageType"] == "ScheduledNotification"
        assert invoking["awsAccountId"] == event["accountId"]
        assert event["configRuleName"] == RULE
    # the stand-in's own stack holds no log group: results are only the tests' groups
    assert scan.own_groups_before_seeding == []


def test_group_with_a_kms_key_is_compliant(scan):
    key_id = scan.keys["required"]["KeyId"]
    assert scan.runs["default"]["/aws/lambda/orders"] == (
        "COMPLIANT",
        f"Encrypted with KMS key {key_id}.",
    )


def test_group_without_a_kms_key_is_noncompliant(scan):
    assert scan.runs["default"]["/aws/lambda/plain"] == ("NON_COMPLIANT", NOT_ENCRYPTED)


@pytest.mark.parametrize("run", ["key-id", "key-arn"])
def test_required_key_by_id_or_arn(scan, run):
    required, other = scan.keys["required"]["KeyId"], scan.keys["other"]["KeyId"]
    found = scan.runs[run]
    assert found["/aws/lambda/orders"] == ("COMPLIANT", f"Encrypted with KMS key {required}.")
    assert found["/app/wrong"] == (
        "NON_COMPLIANT",
        f"The log group uses KMS key {other}, not the required {required}. "
        "Fix: associate the KmsKeyId key (logs:AssociateKmsKey).",
    )
    assert found["/aws/lambda/plain"] == ("NON_COMPLIANT", NOT_ENCRYPTED)
    assert scan.runs["default"]["/app/wrong"][0] == "COMPLIANT"  # any key without KmsKeyId


def test_groups_outside_the_prefixes_are_not_applicable(scan):
    # LogGroupNamePrefixes: "/aws/lambda/,/app/"; the earlier, wider runs' result is cleared
    assert scan.runs["key-arn"]["/ecs/batch"] == ("NON_COMPLIANT", NOT_ENCRYPTED)
    found = scan.runs["prefixes"]
    assert found["/ecs/batch"] == (
        "NOT_APPLICABLE",
        "The log group is outside LogGroupNamePrefixes.",
    )
    assert found["/aws/lambda/plain"] == ("NON_COMPLIANT", NOT_ENCRYPTED)
    assert found["/app/wrong"][0] == "COMPLIANT"


def test_more_than_100_groups_each_get_a_stored_result(scan):
    found = scan.runs["default"]
    assert len(found) == len(BULK) + 4 > 100
    bulk = [found[name][0] for name in BULK]
    assert bulk.count("COMPLIANT") == bulk.count("NON_COMPLIANT") == len(BULK) // 2
    for calls in scan.logs_calls.values():
        assert calls == ["DescribeLogGroups"] * 3  # 114 groups, 50 a page, each page once


def test_alias_as_kms_key_id_fails_and_stores_nothing(standin, factory):
    key = new_key(factory)
    factory.client("kms").create_alias(AliasName="alias/logs", TargetKeyId=key["KeyId"])
    log_group(factory, "/app/right", key["Arn"])
    for alias in ("alias/logs", "arn:aws:kms:us-east-1:123456789012:alias/logs"):
        with pytest.raises(InvalidRuleParametersError, match="not an alias"):
            handler(scheduled(standin, "scheduled-kms-key.json", KmsKeyId=alias), CTX)
    assert results(factory) == {}


def test_group_deleted_since_the_previous_run_is_not_applicable(standin, factory):
    log_group(factory, "/app/keep")
    log_group(factory, "/app/gone")
    handler(scheduled(standin, at="2026-11-21T00:00:00Z"), CTX)
    assert results(factory)["/app/gone"] == ("NON_COMPLIANT", NOT_ENCRYPTED)
    factory.client("logs").delete_log_group(logGroupName="/app/gone")
    handler(scheduled(standin, at="2026-11-22T00:00:00Z"), CTX)
    found = results(factory)
    assert found["/app/gone"] == ("NOT_APPLICABLE", "The resource no longer exists.")
    assert found["/app/keep"] == ("NON_COMPLIANT", NOT_ENCRYPTED)


def test_describe_log_groups_failing_fails_visibly_and_stores_nothing(standin, factory):
    log_group(factory, "/app/plain")
    for code in ("AccessDeniedException", "ThrottlingException"):
        with (
            inject_error(factory.client("logs"), "DescribeLogGroups", code) as seen,
            pytest.raises(EvaluationError, match=f"{code} from DescribeLogGroups"),
        ):
            handler(scheduled(standin), CTX)
        assert seen == ["DescribeLogGroups"]
    assert results(factory) == {}


# ------------------------------------------------------------------ pure functions

KEY_ID = "0d6b2c1e-7f3a-4e59-9b8c-2a1f4e6d8c90"
KEY_ARN = f"arn:aws:kms:us-east-1:123456789012:key/{KEY_ID}"


def test_key_forms_match_by_id_but_arns_must_match_exactly():
    assert module.key_id(KEY_ARN) == KEY_ID and module.key_id(KEY_ID) == KEY_ID
    assert module.uses_key(KEY_ARN, KEY_ID)
    assert module.uses_key(KEY_ARN, KEY_ARN.upper().replace("ARN:AWS:KMS", "arn:aws:kms"))
    assert module.uses_key(KEY_ARN, f" {KEY_ARN} ")
    assert not module.uses_key(KEY_ARN, KEY_ARN.replace("us-east-1", "eu-west-1"))
    mrk = "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd"
    assert module.uses_key(mrk, "mrk-1234abcd")
    assert not module.uses_key(mrk, "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd")


def test_verdict_without_and_with_a_required_key():
    assert module.verdict({"logGroupName": "x"}).compliance == "NON_COMPLIANT"
    assert module.verdict({"logGroupName": "x", "kmsKeyId": KEY_ARN}).reason == (
        f"Encrypted with KMS key {KEY_ID}."
    )
    other = {"logGroupName": "x", "kmsKeyId": KEY_ARN.replace("0d6b", "ffff")}
    assert module.verdict(other, KEY_ID).compliance == "NON_COMPLIANT"
    assert module.verdict(other).compliance == "COMPLIANT"


def test_alias_parameters_are_rejected_and_keys_accepted():
    for alias in ("alias/logs", "arn:aws:kms:us-east-1:1:alias/logs", " alias/x"):
        with pytest.raises(InvalidRuleParametersError):
            module.check_key_parameter(alias)
    for key in (None, KEY_ID, KEY_ARN):
        module.check_key_parameter(key)
    rule = module.LogGroupCmkEncrypted()
    assert rule.evaluate_parameters({"KmsKeyId": KEY_ID}).kms_key_id == KEY_ID
    assert rule.evaluate_parameters({"KmsKeyId": " "}).kms_key_id is None


def test_scope_without_prefixes_is_every_group():
    groups = [{"logGroupName": "/a/x"}, {"logGroupName": "/b/y", "kmsKeyId": KEY_ARN}]
    assert [v.compliance for _, v in module.verdicts(groups)] == ["NON_COMPLIANT", "COMPLIANT"]
    scoped = dict(module.verdicts(groups, None, ("/b/",)))
    assert scoped["/a/x"].compliance == "NOT_APPLICABLE"
    assert scoped["/b/y"].compliance == "COMPLIANT"
