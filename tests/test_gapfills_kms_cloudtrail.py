"""Gap-fills (h) KMS rotation period / AWS managed keys and (i) CloudTrail default event
selectors, exercised through the stand-in's API like the rules read them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import fresh_standin

from configguard.clients import ClientFactory, default_factory

BUCKET = "gapfill-trail-logs"
DEFAULT_SELECTOR = {
    "ReadWriteType": "All",
    "IncludeManagementEvents": True,
    "DataResources": [],
    "ExcludeManagementEventSources": [],
}


@pytest.fixture(scope="module")
def module_factory(standin_server) -> Iterator[ClientFactory]:
    """One reset for the module: every test creates its own keys and trails."""
    with fresh_standin(standin_server):
        factory = default_factory()
        factory.client("s3").create_bucket(Bucket=BUCKET)
        yield factory


@pytest.fixture
def kms(module_factory):
    return module_factory.client("kms")


@pytest.fixture
def cloudtrail(module_factory):
    return module_factory.client("cloudtrail")


# ------------------------------------------------------------------------- (h) KMS


def test_enable_key_rotation_keeps_the_rotation_period(kms):
    key = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=180)
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 180


def test_rotation_period_defaults_to_365_and_is_absent_when_rotation_is_off(kms):
    key = kms.create_key()["KeyMetadata"]
    assert "RotationPeriodInDays" not in kms.get_key_rotation_status(KeyId=key["KeyId"])
    kms.enable_key_rotation(KeyId=key["Arn"])
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["RotationPeriodInDays"] == 365
    kms.disable_key_rotation(KeyId=key["KeyId"])
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert status["KeyRotationEnabled"] is False
    assert "RotationPeriodInDays" not in status


def test_get_key_rotation_status_reports_the_key_id(kms):
    key = kms.create_key()["KeyMetadata"]
    for given in (key["KeyId"], key["Arn"]):
        assert kms.get_key_rotation_status(KeyId=given)["KeyId"] == key["KeyId"]


def test_keys_behind_reserved_aws_aliases_are_aws_managed(kms):
    managed = kms.describe_key(KeyId="alias/aws/lambda")["KeyMetadata"]
    assert managed["KeyManager"] == "AWS"
    assert kms.get_key_rotation_status(KeyId=managed["KeyId"])["KeyRotationEnabled"] is True
    assert kms.describe_key(KeyId=managed["KeyId"])["KeyMetadata"]["KeyManager"] == "AWS"
    own = kms.create_key()["KeyMetadata"]
    assert own["KeyManager"] == "CUSTOMER"


# ------------------------------------------------------------------ (i) CloudTrail


def test_a_new_trail_reports_the_default_event_selector(cloudtrail):
    arn = cloudtrail.create_trail(Name="fresh", S3BucketName=BUCKET)["TrailARN"]
    for name in ("fresh", arn):
        found = cloudtrail.get_event_selectors(TrailName=name)
        assert found["EventSelectors"] == [DEFAULT_SELECTOR]
        assert found.get("AdvancedEventSelectors", []) == []


def test_a_trail_with_put_selectors_reports_those(cloudtrail):
    cloudtrail.create_trail(Name="basic", S3BucketName=BUCKET)
    basic = [
        {
            "ReadWriteType": "WriteOnly",
            "IncludeManagementEvents": True,
            "DataResources": [{"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]}],
        }
    ]
    cloudtrail.put_event_selectors(TrailName="basic", EventSelectors=basic)
    found = cloudtrail.get_event_selectors(TrailName="basic")
    assert found["EventSelectors"] == basic
    assert found.get("AdvancedEventSelectors", []) == []

    cloudtrail.create_trail(Name="advanced", S3BucketName=BUCKET)
    advanced = [
        {
            "Name": "management",
            "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
        }
    ]
    cloudtrail.put_event_selectors(TrailName="advanced", AdvancedEventSelectors=advanced)
    found = cloudtrail.get_event_selectors(TrailName="advanced")
    assert found["AdvancedEventSelectors"] == advanced
    assert found.get("EventSelectors", []) == []
