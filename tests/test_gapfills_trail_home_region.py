"""Gap-fill (m) CloudTrail GetTrail reports HomeRegion and answers for a shadow trail
given its ARN, exercised through the stand-in's API as enable-cloudtrail-encryption reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError
from conftest import fresh_standin

from configguard.clients import ClientFactory, default_factory

BUCKET = "gapfill-home-region-logs"


@pytest.fixture(scope="module")
def module_factory(standin_server) -> Iterator[ClientFactory]:
    with fresh_standin(standin_server):
        factory = default_factory()
        factory.client("s3").create_bucket(Bucket=BUCKET)
        yield factory


def test_get_trail_reports_the_home_region(module_factory):
    cloudtrail = module_factory.client("cloudtrail")
    arn = cloudtrail.create_trail(Name="home-trail", S3BucketName=BUCKET)["TrailARN"]
    for name in ("home-trail", arn):
        found = cloudtrail.get_trail(Name=name)["Trail"]
        assert (found["Name"], found["HomeRegion"], found["TrailARN"]) == (
            "home-trail",
            "us-east-1",
            arn,
        )


def test_a_shadow_trail_answers_by_arn_with_its_home_region(module_factory):
    west = module_factory.client("cloudtrail", "us-west-2")
    arn = west.create_trail(Name="west-multi", S3BucketName=BUCKET, IsMultiRegionTrail=True)[
        "TrailARN"
    ]
    here = module_factory.client("cloudtrail")
    found = here.get_trail(Name=arn)["Trail"]
    assert (found["HomeRegion"], found["TrailARN"], found["IsMultiRegionTrail"]) == (
        "us-west-2",
        arn,
        True,
    )


def test_a_single_region_trail_of_another_region_stays_unknown(module_factory):
    west = module_factory.client("cloudtrail", "us-west-2")
    arn = west.create_trail(Name="west-single", S3BucketName=BUCKET)["TrailARN"]
    here = module_factory.client("cloudtrail")
    for name in (arn, "west-single"):
        with pytest.raises(ClientError) as caught:
            here.get_trail(Name=name)
        assert caught.value.response["Error"]["Code"] == "TrailNotFoundException"
