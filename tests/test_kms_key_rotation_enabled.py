"""Scenarios of rules/kms_key_rotation_enabled.py, against the stand-in.

The stand-in provisions configguard's own key (alias/configguard, rotation on); the
tests evaluate the keys they create, and check that configguard's key passes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from conftest import CallCounter, change_event, lambda_context, load_event, stored_results
from faults import inject_error

from configguard import cibuilder
from configguard.parameters import InvalidRuleParametersError
from configguard.rulebase import EvaluationError
from configguard_cli.handlers import rule_module

RULE = "kms-key-rotation-enabled"
TYPE = "AWS::KMS::Key"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
SAMPLE_KEY = "5b7d3e91-2a4c-4f6e-8d10-c9e2a7b4f358"  # the key id in the sample events


@pytest.fixture
def kms_calls(factory) -> Iterator[CallCounter]:
    counter = CallCounter(factory.client("kms"))
    yield counter
    counter.close()


def results(factory) -> dict[str, tuple[str, str]]:
    return stored_results(factory, RULE)


def new_key(factory, *, rotation: int | None = None, **settings) -> str:
    """A customer-managed key; `rotation` days enables automatic rotation."""
    key_id = factory.client("kms").create_key(**settings)["KeyMetadata"]["KeyId"]
    if rotation:
        factory.client("kms").enable_key_rotation(KeyId=key_id, RotationPeriodInDays=rotation)
    return str(key_id)


def evaluate(standin, factory, key_id, item=None, **kwargs) -> tuple[str, str]:
    item = item or cibuilder.read(factory, TYPE, key_id)
    handler(change_event(standin, RULE, item, **kwargs), CTX)
    return results(factory)[key_id]


def sample(standin, relative: str, key_id: str | None = None) -> dict:
    """A sample event with a live result token, its key id replaced by `key_id`."""
    text = json.dumps(load_event(f"kms_key_rotation_enabled/{relative}"))
    if key_id:
        text = text.replace(SAMPLE_KEY, key_id)
    event = json.loads(text)
    event["resultToken"] = standin.issue_result_token(RULE)
    return event


# ------------------------------------------------------------------ scenarios


def test_rotation_enabled_in_the_ci_is_compliant_without_api_call(standin, factory, kms_calls):
    key_id = new_key(factory, rotation=365)
    item = cibuilder.read(factory, TYPE, key_id)
    kms_calls.calls.clear()
    handler(change_event(standin, RULE, item), CTX)
    assert kms_calls.calls == []
    assert results(factory)[key_id] == ("COMPLIANT", "Automatic key rotation is enabled.")


def test_rotation_disabled_is_noncompliant_with_the_fix(standin, factory):
    key_id = new_key(factory)
    compliance, note = evaluate(standin, factory, key_id)
    assert compliance == "NON_COMPLIANT"
    assert note == "Automatic key rotation is disabled. Fix: kms:EnableKeyRotation."


def test_real_shaped_event_with_rotation_disabled_needs_no_read(standin, factory, kms_calls):
    handler(sample(standin, "change-rotation-disabled.json"), CTX)
    assert kms_calls.calls == []
    key_id = "0e9f2c4a-6d1b-4c8e-9a57-3b2f81d64c10"
    assert results(factory)[key_id][0] == "NON_COMPLIANT"


def test_ci_without_rotation_status_reads_the_api(standin, factory, kms_calls):
    key_id = new_key(factory, rotation=180)
    item = cibuilder.read(factory, TYPE, key_id)
    del item["supplementaryConfiguration"]["KeyRotationStatus"]
    kms_calls.calls.clear()
    handler(change_event(standin, RULE, item), CTX)
    assert kms_calls.calls == ["GetKeyRotationStatus"]
    assert results(factory)[key_id][0] == "COMPLIANT"


MAX_PERIOD_CASES = [
    (
        365,
        "NON_COMPLIANT",
        "The key rotates every 365 days, more than MaxRotationPeriodDays 180. "
        "Fix: kms:EnableKeyRotation with RotationPeriodInDays <= 180.",
    ),
    (90, "COMPLIANT", "Automatic key rotation is enabled, every 90 days."),
    (180, "COMPLIANT", "Automatic key rotation is enabled, every 180 days."),
]


def test_max_rotation_period_compares_the_period(standin, factory, kms_calls):
    for period, expected, note in MAX_PERIOD_CASES:
        key_id = new_key(factory, rotation=period)
        kms_calls.calls.clear()
        # The sample CI says "true" (a string); MaxRotationPeriodDays=180 makes the rule read.
        handler(sample(standin, "change-rotation-enabled-max-period.json", key_id), CTX)
        assert kms_calls.calls == ["GetKeyRotationStatus"], period
        assert results(factory)[key_id] == (expected, note)


def test_max_rotation_period_with_rotation_off_in_the_api_is_noncompliant(standin, factory):
    key_id = new_key(factory)
    item = cibuilder.read(factory, TYPE, key_id)
    item["supplementaryConfiguration"]["KeyRotationStatus"] = True  # stale CI
    params = {"MaxRotationPeriodDays": "365"}
    compliance, note = evaluate(standin, factory, key_id, item, rule_parameters=params)
    assert compliance == "NON_COMPLIANT"
    assert note.endswith("Fix: kms:EnableKeyRotation with RotationPeriodInDays <= 365.")


KEY_TYPE_CASES = [
    (
        {"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"},
        "Asymmetric key (RSA_2048): automatic rotation is not supported.",
    ),
    (
        {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"},
        "Asymmetric key (ECC_NIST_P256): automatic rotation is not supported.",
    ),
    (
        {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
        "HMAC key (HMAC_256): automatic rotation is not supported.",
    ),
    (
        {"Origin": "EXTERNAL"},
        "Imported key material (origin EXTERNAL): KMS cannot rotate it automatically.",
    ),
]


def test_key_types_without_automatic_rotation_are_not_applicable(standin, factory, kms_calls):
    params = {"MaxRotationPeriodDays": "90"}
    for settings, note in KEY_TYPE_CASES:
        key_id = new_key(factory, **settings)
        item = cibuilder.read(factory, TYPE, key_id)
        kms_calls.calls.clear()
        assert evaluate(standin, factory, key_id, item, rule_parameters=params) == (
            "NOT_APPLICABLE",
            note,
        )
        assert kms_calls.calls == [], settings


def test_custom_key_store_keys_are_not_applicable(standin, factory):
    stores = {
        "AWS_CLOUDHSM": "an AWS CloudHSM key store",
        "EXTERNAL_KEY_STORE": "an external key store",
    }
    for origin, store in stores.items():
        key_id = new_key(factory)
        item = cibuilder.read(factory, TYPE, key_id)
        item["configuration"]["origin"] = origin
        item["configuration"]["customKeyStoreId"] = "cks-1234567890abcdef0"
        assert evaluate(standin, factory, key_id, item) == (
            "NOT_APPLICABLE",
            f"Key in {store}: automatic rotation is not supported.",
        )


def test_real_shaped_asymmetric_key_event_is_not_applicable(standin, factory, kms_calls):
    handler(sample(standin, "change-asymmetric-signing-key.json"), CTX)
    assert kms_calls.calls == []
    compliance, note = results(factory)["mrk-8c1f4a2e9b3d4e7f9a0b1c2d3e4f5a6b"]
    assert compliance == "NOT_APPLICABLE"
    assert note.startswith("Asymmetric key (RSA_2048)")


def test_aws_managed_key_is_not_applicable(standin, factory):
    key_id = factory.client("kms").describe_key(KeyId="alias/aws/lambda")["KeyMetadata"]["KeyId"]
    assert evaluate(standin, factory, key_id) == (
        "NOT_APPLICABLE",
        "AWS-managed key: AWS rotates it every year.",
    )


def test_disabled_key_is_not_applicable(standin, factory):
    key_id = new_key(factory)
    factory.client("kms").disable_key(KeyId=key_id)
    compliance, note = evaluate(standin, factory, key_id)
    assert compliance == "NOT_APPLICABLE"
    assert note == "The key is disabled; rotation is checked again once it is enabled."


def test_pending_deletion_key_is_not_applicable(standin, factory):
    key_id = new_key(factory)
    factory.client("kms").schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    compliance, note = evaluate(standin, factory, key_id)
    assert compliance == "NOT_APPLICABLE"
    assert note.startswith("The key is PendingDeletion; rotation is not checked.")


def test_ci_without_key_properties_for_a_deleted_key_is_not_applicable(standin, factory, kms_calls):
    item = cibuilder.read(factory, TYPE, new_key(factory))
    gone = "1c9a4f5e-7b2d-4e8a-9c3f-0d1e2f3a4b5c"
    item["resourceId"] = gone
    for name in ("keyManager", "keyState", "keySpec", "customerMasterKeySpec", "keyUsage"):
        del item["configuration"][name]
    kms_calls.calls.clear()
    assert evaluate(standin, factory, gone, item) == ("NOT_APPLICABLE", "The key no longer exists.")
    assert kms_calls.calls == ["DescribeKey"]


def test_ci_without_rotation_status_for_a_deleted_key_is_not_applicable(standin, factory):
    item = cibuilder.read(factory, TYPE, new_key(factory))
    gone = "1c9a4f5e-7b2d-4e8a-9c3f-0d1e2f3a4b5c"
    item["resourceId"] = gone
    item["supplementaryConfiguration"] = {}
    assert evaluate(standin, factory, gone, item) == ("NOT_APPLICABLE", "The key no longer exists.")


def test_ci_lacking_properties_reads_describe_key_once(standin, factory, kms_calls):
    key_id = new_key(factory, rotation=365)
    item = cibuilder.read(factory, TYPE, key_id)
    item["configuration"] = {"keyId": key_id}  # a sparse CI
    kms_calls.calls.clear()
    assert evaluate(standin, factory, key_id, item)[0] == "COMPLIANT"
    assert kms_calls.calls == ["DescribeKey"]


def test_resource_deleted_event_is_not_applicable(standin, factory, kms_calls):
    handler(sample(standin, "change-deleted.json"), CTX)
    compliance, note = results(factory)["0e9f2c4a-6d1b-4c8e-9a57-3b2f81d64c10"]
    assert (compliance, note) == ("NOT_APPLICABLE", "Configuration item status is ResourceDeleted.")
    assert kms_calls.calls == []


def test_access_denied_on_rotation_status_fails_visibly_and_reports_nothing(standin, factory):
    key_id = new_key(factory, rotation=365)
    item = cibuilder.read(factory, TYPE, key_id)
    del item["supplementaryConfiguration"]["KeyRotationStatus"]
    with (
        inject_error(factory.client("kms"), "GetKeyRotationStatus", "AccessDeniedException", 403),
        pytest.raises(EvaluationError, match="AccessDeniedException from GetKeyRotationStatus"),
    ):
        handler(change_event(standin, RULE, item), CTX)
    assert results(factory) == {}


def test_configguard_own_key_is_compliant(standin, factory):
    key_id = factory.client("kms").describe_key(KeyId="alias/configguard")["KeyMetadata"]["KeyId"]
    params = {"MaxRotationPeriodDays": "365"}
    assert evaluate(standin, factory, key_id, rule_parameters=params) == (
        "COMPLIANT",
        "Automatic key rotation is enabled, every 365 days.",
    )


def test_invalid_max_rotation_period_fails_clearly(standin, factory):
    item = cibuilder.read(factory, TYPE, new_key(factory))
    for value in ("89", "2561", "often"):
        event = change_event(standin, RULE, item, rule_parameters={"MaxRotationPeriodDays": value})
        with pytest.raises(InvalidRuleParametersError):
            handler(event, CTX)
    assert results(factory) == {}


# ------------------------------------------------------------- pure functions


def facts(**over) -> object:
    base = {
        "key_manager": "CUSTOMER",
        "key_state": "Enabled",
        "key_spec": "SYMMETRIC_DEFAULT",
        "key_usage": "ENCRYPT_DECRYPT",
        "origin": "AWS_KMS",
    }
    base.update(over)
    return module.KeyFacts(**base)


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({}, None),
        ({"key_manager": "AWS"}, "AWS-managed key"),
        ({"key_state": "Disabled"}, "The key is disabled"),
        ({"key_state": "PendingDeletion"}, "The key is PendingDeletion"),
        ({"key_state": "PendingReplicaDeletion"}, "The key is PendingReplicaDeletion"),
        ({"key_state": "PendingImport", "origin": "EXTERNAL"}, "Key state is PendingImport"),
        ({"key_state": "Unavailable", "origin": "AWS_CLOUDHSM"}, "Key state is Unavailable"),
        ({"origin": "EXTERNAL"}, "Imported key material"),
        ({"origin": "AWS_CLOUDHSM"}, "Key in an AWS CloudHSM key store"),
        ({"origin": "EXTERNAL_KEY_STORE"}, "Key in an external key store"),
        ({"key_spec": "RSA_4096", "key_usage": "ENCRYPT_DECRYPT"}, "Asymmetric key (RSA_4096)"),
        ({"key_spec": "ECC_SECG_P256K1", "key_usage": "SIGN_VERIFY"}, "Asymmetric key"),
        ({"key_spec": "ML_DSA_65", "key_usage": "SIGN_VERIFY"}, "Asymmetric key (ML_DSA_65)"),
        ({"key_spec": "HMAC_512", "key_usage": "GENERATE_VERIFY_MAC"}, "HMAC key (HMAC_512)"),
        ({"key_spec": None}, "Asymmetric key (unknown)"),
        ({"key_usage": "GENERATE_VERIFY_MAC"}, "Key usage GENERATE_VERIFY_MAC"),
        ({"key_manager": "AWS", "key_state": "Disabled"}, "AWS-managed key"),
    ],
)
def test_scope_table(over, expected):
    verdict = module.out_of_scope(facts(**over))
    if expected is None:
        assert verdict is None
    else:
        assert verdict is not None and str(verdict.compliance) == "NOT_APPLICABLE"
        assert verdict.reason.startswith(expected)


@pytest.mark.parametrize(
    ("enabled", "period", "max_days", "expected"),
    [
        (True, None, None, "COMPLIANT"),
        (True, 365, None, "COMPLIANT"),
        (False, None, None, "NON_COMPLIANT"),
        (False, None, 365, "NON_COMPLIANT"),
        (True, 365, 365, "COMPLIANT"),
        (True, 366, 365, "NON_COMPLIANT"),
        (True, 90, 90, "COMPLIANT"),
        (True, 2560, 2559, "NON_COMPLIANT"),
        (True, None, 365, "COMPLIANT"),  # no period reported: KMS's 365-day default
        (True, None, 180, "NON_COMPLIANT"),
    ],
)
def test_rotation_judgement_table(enabled, period, max_days, expected):
    assert str(module.judge_rotation(enabled, period, max_days).compliance) == expected


@pytest.mark.parametrize(
    ("supplementary", "expected"),
    [
        ({"KeyRotationStatus": True}, True),
        ({"KeyRotationStatus": False}, False),
        ({"KeyRotationStatus": "true"}, True),
        ({"KeyRotationStatus": "FALSE"}, False),
        ({"KeyRotationStatus": None}, None),
        ({"KeyRotationStatus": "maybe"}, None),
        ({}, None),
        ('{"KeyRotationStatus": true}', True),  # a JSON-string level
    ],
)
def test_rotation_status_from_the_ci(supplementary, expected):
    assert module.rotation_from_ci({"supplementaryConfiguration": supplementary}) is expected
