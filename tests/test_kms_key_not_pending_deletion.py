"""Scenarios of rules/kms_key_not_pending_deletion.py, against the stand-in.

The stand-in provisions configguard's own key (alias/configguard); the tests evaluate
the keys they create, and check that configguard's key passes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import CallCounter, change_event, lambda_context, load_event, stored_results
from faults import inject_error

from configguard import cibuilder
from configguard.parameters import KmsKeyNotPendingDeletionParameters
from configguard.reads import Reads
from configguard.rulebase import EvaluationError
from configguard_cli.handlers import rule_module

RULE = "kms-key-not-pending-deletion"
TYPE = "AWS::KMS::Key"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
SAMPLE_KEY = "5b7d3e91-2a4c-4f6e-8d10-c9e2a7b4f358"  # the watched key of the sample event
GONE = "1c9a4f5e-7b2d-4e8a-9c3f-0d1e2f3a4b5c"


@pytest.fixture
def kms_calls(factory) -> Iterator[CallCounter]:
    counter = CallCounter(factory.client("kms"))
    yield counter
    counter.close()


def results(factory) -> dict[str, tuple[str, str]]:
    return stored_results(factory, RULE)


def new_key(factory, alias: str | None = None) -> str:
    key_id = str(factory.client("kms").create_key()["KeyMetadata"]["KeyId"])
    if alias:
        factory.client("kms").create_alias(AliasName=alias, TargetKeyId=key_id)
    return key_id


def evaluate(standin, factory, key_id, item=None, **kwargs) -> tuple[str, str]:
    item = item or cibuilder.read(factory, TYPE, key_id)
    handler(change_event(standin, RULE, item, **kwargs), CTX)
    return results(factory)[key_id]


def sample(standin, relative: str, key_id: str | None = None) -> dict:
    text = json.dumps(load_event(f"kms_key_not_pending_deletion/{relative}"))
    if key_id:
        text = text.replace(SAMPLE_KEY, key_id)
    event = json.loads(text)
    event["resultToken"] = standin.issue_result_token(RULE)
    return event


# ------------------------------------------------------------------ scenarios


def test_enabled_key_is_compliant_without_api_call(standin, factory, kms_calls):
    key_id = new_key(factory)
    item = cibuilder.read(factory, TYPE, key_id)
    kms_calls.calls.clear()
    handler(change_event(standin, RULE, item), CTX)
    assert kms_calls.calls == []
    assert results(factory)[key_id] == (
        "COMPLIANT",
        "The key is not scheduled for deletion (state Enabled).",
    )


def test_disabled_key_is_compliant(standin, factory):
    key_id = new_key(factory)
    factory.client("kms").disable_key(KeyId=key_id)
    assert evaluate(standin, factory, key_id)[0] == "COMPLIANT"


def test_key_scheduled_for_deletion_is_noncompliant_with_date_and_days_left(standin, factory):
    key_id = new_key(factory)
    response = factory.client("kms").schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    date = response["DeletionDate"].astimezone(UTC).date().isoformat()
    assert evaluate(standin, factory, key_id) == (
        "NON_COMPLIANT",
        f"The key is PendingDeletion: deleted on {date} (7 days left). "
        "Fix: kms:CancelKeyDeletion, then kms:EnableKey, if the key is still needed.",
    )


def test_real_shaped_pending_deletion_event_needs_no_read(standin, factory, kms_calls):
    handler(sample(standin, "change-pending-deletion.json"), CTX)
    assert kms_calls.calls == []
    compliance, note = results(factory)["0e9f2c4a-6d1b-4c8e-9a57-3b2f81d64c10"]
    assert compliance == "NON_COMPLIANT"
    assert re.fullmatch(
        r"The key is PendingDeletion: deleted on 2026-11-28 \(\d+ days? left\)\. "
        r"Fix: kms:CancelKeyDeletion, then kms:EnableKey, if the key is still needed\.",
        note,
    )


def test_pending_ci_without_deletion_date_reads_describe_key(standin, factory, kms_calls):
    key_id = new_key(factory)
    factory.client("kms").schedule_key_deletion(KeyId=key_id, PendingWindowInDays=30)
    item = cibuilder.read(factory, TYPE, key_id)
    item["configuration"]["deletionDate"] = None
    kms_calls.calls.clear()
    compliance, note = evaluate(standin, factory, key_id, item)
    assert kms_calls.calls == ["DescribeKey"]
    assert compliance == "NON_COMPLIANT" and "(30 days left)" in note


def test_pending_replica_deletion_is_noncompliant(standin, factory):
    key_id = new_key(factory)
    item = cibuilder.read(factory, TYPE, key_id)
    item["configuration"]["keyState"] = "PendingReplicaDeletion"
    item["configuration"]["deletionDate"] = "2026-12-01T09:00:00.000Z"
    compliance, note = evaluate(standin, factory, key_id, item)
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("The key is PendingReplicaDeletion: deleted on 2026-12-01")


def test_kms_key_ids_naming_another_key_is_not_applicable(standin, factory):
    key_id = new_key(factory)
    other = new_key(factory, alias="alias/other-app")
    factory.client("kms").schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    params = {"KmsKeyIds": f"{other},alias/other-app,alias/missing"}
    assert evaluate(standin, factory, key_id, rule_parameters=params) == (
        "NOT_APPLICABLE",
        "The key is not listed in KmsKeyIds.",
    )


def test_kms_key_ids_naming_this_key_by_id_arn_or_alias_is_evaluated(standin, factory, kms_calls):
    key_id = new_key(factory, alias="alias/orders-data")
    factory.client("kms").schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    arn = f"arn:aws:kms:us-east-1:123456789012:key/{key_id}"
    alias_arn = "arn:aws:kms:us-east-1:123456789012:alias/orders-data"
    for entries, reads in (
        (key_id, []),
        (f'["{arn}"]', []),
        ("alias/orders-data", ["DescribeKey"]),
        (alias_arn, ["DescribeKey"]),
    ):
        item = cibuilder.read(factory, TYPE, key_id)
        kms_calls.calls.clear()
        compliance, _ = evaluate(
            standin, factory, key_id, item, rule_parameters={"KmsKeyIds": entries}
        )
        assert (compliance, kms_calls.calls) == ("NON_COMPLIANT", reads), entries


def test_real_shaped_event_with_watched_key_is_compliant(standin, factory, kms_calls):
    key_id = new_key(factory)
    kms_calls.calls.clear()
    handler(sample(standin, "change-enabled-watched-key.json", key_id), CTX)
    assert kms_calls.calls == []  # matched by ARN: the alias entry is never resolved
    assert results(factory)[key_id][0] == "COMPLIANT"


def test_aws_managed_key_is_not_applicable(standin, factory):
    key_id = factory.client("kms").describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["KeyId"]
    assert evaluate(standin, factory, key_id) == (
        "NOT_APPLICABLE",
        "AWS-managed key: AWS never schedules it for deletion.",
    )


def test_ci_without_key_state_for_a_deleted_key_is_not_applicable(standin, factory, kms_calls):
    item = cibuilder.read(factory, TYPE, new_key(factory))
    item["resourceId"] = GONE
    del item["configuration"]["keyState"]
    kms_calls.calls.clear()
    assert evaluate(standin, factory, GONE, item) == ("NOT_APPLICABLE", "The key no longer exists.")
    assert kms_calls.calls == ["DescribeKey"]


def test_resource_deleted_event_is_not_applicable(standin, factory, kms_calls):
    handler(sample(standin, "change-deleted.json"), CTX)
    compliance, note = results(factory)["0e9f2c4a-6d1b-4c8e-9a57-3b2f81d64c10"]
    assert (compliance, note) == ("NOT_APPLICABLE", "Configuration item status is ResourceDeleted.")
    assert kms_calls.calls == []


def test_access_denied_on_describe_key_fails_visibly_and_reports_nothing(standin, factory):
    key_id = new_key(factory)
    item = cibuilder.read(factory, TYPE, key_id)
    del item["configuration"]["keyState"]
    with (
        inject_error(factory.client("kms"), "DescribeKey", "AccessDeniedException", 403),
        pytest.raises(EvaluationError, match="AccessDeniedException from DescribeKey"),
    ):
        handler(change_event(standin, RULE, item), CTX)
    assert results(factory) == {}


def test_configguard_own_key_is_compliant(standin, factory):
    key_id = factory.client("kms").describe_key(KeyId="alias/configguard")["KeyMetadata"]["KeyId"]
    assert evaluate(standin, factory, key_id)[0] == "COMPLIANT"


# ------------------------------------------------------------- pure functions

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-28T10:14:02.871Z", datetime(2026, 11, 28, 10, 14, 2, 871000, tzinfo=UTC)),
        ("2026-11-28T10:14:02+00:00", datetime(2026, 11, 28, 10, 14, 2, tzinfo=UTC)),
        ("2026-11-28T12:14:02+02:00", datetime(2026, 11, 28, 10, 14, 2, tzinfo=UTC)),
        ("2026-11-28T10:14:02", datetime(2026, 11, 28, 10, 14, 2, tzinfo=UTC)),
        (1795860842, datetime(2026, 11, 28, 10, 14, 2, tzinfo=UTC)),
        (1795860842000, datetime(2026, 11, 28, 10, 14, 2, tzinfo=UTC)),
        (datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC)),
        (None, None),
        ("", None),
        ("next tuesday", None),
    ],
)
def test_deletion_dates_parse(value, expected):
    assert module.parse_date(value) == expected


@pytest.mark.parametrize(
    ("delta", "left"),
    [
        (timedelta(days=7), 7),
        (timedelta(days=6, hours=23), 7),
        (timedelta(days=30), 30),
        (timedelta(hours=2), 1),
        (timedelta(seconds=0), 0),
        (timedelta(days=-1), 0),
    ],
)
def test_days_left(delta, left):
    assert module.days_left(NOW + delta, NOW) == left


@pytest.mark.parametrize(
    ("deletion", "expected"),
    [
        (NOW + timedelta(days=7), "deleted on 2026-11-28 (7 days left)"),
        (NOW + timedelta(hours=3), "deleted on 2026-11-21 (1 day left)"),
        (None, "no deletion date is reported"),
    ],
)
def test_pending_annotations(deletion, expected):
    verdict = module.pending_verdict("PendingDeletion", deletion, NOW)
    assert verdict.reason == (
        f"The key is PendingDeletion: {expected}. "
        "Fix: kms:CancelKeyDeletion, then kms:EnableKey, if the key is still needed."
    )
    assert len(verdict.annotation) <= 256


KEY = "0e9f2c4a-6d1b-4c8e-9a57-3b2f81d64c10"
ARN = f"arn:aws:kms:us-east-1:123456789012:key/{KEY}"


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ((), True),
        ((KEY,), True),
        ((KEY.upper(),), True),
        ((f" {ARN} ",), True),
        (("mrk-1234",), False),
        ((ARN.replace("us-east-1", "eu-west-1"),), False),
        (("alias/app",), False),  # aliases need reads
        (("", "  "), True),  # blank entries: nothing listed
    ],
)
def test_watched_by_id_or_arn(entries, expected):
    assert module.watched(KEY, ARN, entries, None) is expected


def test_alias_entries_resolve_in_this_region_and_account_only(standin, factory):
    key_id = new_key(factory, alias="alias/app")
    arn = f"arn:aws:kms:us-east-1:123456789012:key/{key_id}"
    reads = Reads(factory)
    assert module.watched(key_id, arn, ["alias/app"], reads)
    assert module.watched(key_id, arn, ["arn:aws:kms:us-east-1:123456789012:alias/app"], reads)
    assert not module.watched(key_id, arn, ["arn:aws:kms:eu-west-1:123456789012:alias/app"], reads)
    assert not module.watched(key_id, arn, ["arn:aws:kms:us-east-1:111122223333:alias/app"], reads)
    assert not module.watched(key_id, arn, ["alias/aws/lambda", "alias/nope"], reads)
    params = KmsKeyNotPendingDeletionParameters.model_validate({"KmsKeyIds": "alias/app"})
    item = cibuilder.read(factory, TYPE, key_id)
    assert str(module.evaluate(item, params, reads, NOW).compliance) == "COMPLIANT"
    assert reads.calls["kms:DescribeKey"] == 3  # alias/app, its ARN, alias/nope: once each
