"""Scenarios of rules/cloudtrail_security_trail.py (periodic), against the stand-in.

The account verdict depends on every trail, so the main scenarios are one story in one
stand-in (`story`, built once per module): trails are created and changed step by step,
the real handler runs after each step and the stored results are read back. The shadow
trail, error and scan scenarios get a fresh stand-in. The stand-in provisions no trail.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import (
    ACCOUNT,
    CallCounter,
    fresh_standin,
    lambda_context,
    load_event,
    scheduled_event,
    stored_results,
)
from faults import inject_error

from configguard.clients import ClientFactory, default_factory
from configguard.reads import Reads
from configguard.rulebase import EvaluationError
from configguard_cli.handlers import rule_module
from configguard_cli.scan import scan as configguard_scan

RULE = "cloudtrail-security-trail"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
BUCKET = "configguard-trail-logs"
FIX = " Fix: update that trail, or create one."
NO_LAMBDA_EVENTS = "scheduled-no-lambda-data-events.json"

MANAGEMENT_ALL = {"ReadWriteType": "All", "IncludeManagementEvents": True}
LAMBDA_DATA = {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]}


def results(factory) -> dict[str, tuple[str, str]]:
    return stored_results(factory, RULE)


def scheduled(standin, relative: str = "scheduled.json", at: str | None = None) -> dict:
    return scheduled_event(standin, RULE, relative, at)


def trail(
    factory,
    name: str,
    *,
    region: str | None = None,
    multi_region: bool = True,
    global_events: bool = True,
    validation: bool = True,
    encrypted: bool = True,
    logging: bool = True,
    selectors: list[dict[str, Any]] | None = None,
    advanced: list[dict[str, Any]] | None = None,
) -> str:
    """A trail in the stand-in (default: fit, with AWS's default selector); returns its ARN."""
    s3 = factory.client("s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    cloudtrail = factory.client("cloudtrail", region)
    extra: dict[str, Any] = {}
    if encrypted:
        extra["KmsKeyId"] = factory.client("kms", region).create_key()["KeyMetadata"]["Arn"]
    arn = cloudtrail.create_trail(
        Name=name,
        S3BucketName=BUCKET,
        IsMultiRegionTrail=multi_region,
        IncludeGlobalServiceEvents=global_events,
        EnableLogFileValidation=validation,
        **extra,
    )["TrailARN"]
    if logging:
        cloudtrail.start_logging(Name=name)
    if selectors is not None:
        cloudtrail.put_event_selectors(TrailName=name, EventSelectors=selectors)
    if advanced is not None:
        cloudtrail.put_event_selectors(TrailName=name, AdvancedEventSelectors=advanced)
    return str(arn)


# ------------------------------------------------------------------ the story


@dataclass
class Story:
    steps: dict[str, dict[str, tuple[str, str]]]  # step -> stored results after it
    calls: dict[str, Counter[str]]  # step -> cloudtrail calls of its (first) run
    trails_before: list[dict[str, Any]]


def _run_step(standin, factory, story: Story, step: str, *events: str) -> None:
    """Run the handler once per event file; results are kept as `step` for scheduled.json
    and `step:<file stem>` for the others; calls are those of the step's first run."""
    counter = CallCounter(factory.client("cloudtrail"))
    try:
        for relative in events or ("scheduled.json",):
            at = f"2026-11-21T{len(story.steps):02d}:00:00Z"
            handler(scheduled(standin, relative, at), CTX)
            stem = relative.removesuffix(".json")
            story.steps[step if stem == "scheduled" else f"{step}:{stem}"] = results(factory)
            story.calls.setdefault(step, Counter(counter.calls))
    finally:
        counter.close()


@pytest.fixture(scope="module")
def story(standin_server) -> Iterator[Story]:
    with fresh_standin(standin_server):
        factory = default_factory()
        cloudtrail = factory.client("cloudtrail")
        before = cloudtrail.describe_trails(includeShadowTrails=True)["trailList"]
        story = Story({}, {}, before)

        def step(name: str, *events: str) -> None:
            _run_step(standin_server, factory, story, name, *events)

        step("none")
        trail(
            factory,
            "legacy",
            multi_region=False,
            global_events=False,
            validation=False,
            encrypted=False,
        )
        step("legacy")
        trail(factory, "security")  # AWS's default selector: management events only
        step("default-selectors", "scheduled.json", NO_LAMBDA_EVENTS)
        cloudtrail.put_event_selectors(
            TrailName="security",
            EventSelectors=[{**MANAGEMENT_ALL, "DataResources": [LAMBDA_DATA]}],
        )
        step("fit")
        cloudtrail.put_event_selectors(
            TrailName="security",
            EventSelectors=[
                {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True},
                {"ReadWriteType": "All", "IncludeManagementEvents": False,
                 "DataResources": [LAMBDA_DATA]},
            ],
        )  # fmt: skip
        step("write-only")
        cloudtrail.put_event_selectors(
            TrailName="security",
            AdvancedEventSelectors=[
                {"Name": "management", "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]}]},
                {"Name": "lambda", "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::Lambda::Function"]}]},
            ],
        )  # fmt: skip
        step("advanced")
        cloudtrail.stop_logging(Name="security")
        step("stopped")
        cloudtrail.delete_trail(Name="legacy")
        step("legacy-deleted")
        yield story


def test_scheduled_events_are_real_shaped():
    for relative in ("scheduled.json", NO_LAMBDA_EVENTS):
        event = load_event(f"cloudtrail_security_trail/{relative}")
        invoking = json.loads(event["invokingEvent"])
        assert invoking["messageType"] == "ScheduledNotification"
        assert invoking["awsAccountId"] == event["accountId"] == ACCOUNT
        assert event["configRuleName"] == RULE


def test_fit_trail_makes_account_and_trail_compliant(story):
    found = story.steps["fit"]
    assert found[ACCOUNT] == ("COMPLIANT", "Trail security meets every condition.")
    assert found["security"] == (
        "COMPLIANT",
        "Log file validation is on and logs are KMS-encrypted.",
    )


def test_no_trail_at_all_is_noncompliant(story):
    assert story.trails_before == []
    assert story.steps["none"] == {
        ACCOUNT: (
            "NON_COMPLIANT",
            "No CloudTrail trail. Fix: create a logging, multi-Region, KMS-encrypted trail "
            "with log file validation.",
        )
    }


def test_account_names_the_closest_trail_and_what_it_lacks(story):
    assert story.steps["legacy"][ACCOUNT] == (
        "NON_COMPLIANT",
        "None of 1 trail meets every condition; the closest, legacy, lacks: multi-Region, "
        "global service events, log file validation, KMS encryption, Lambda data events." + FIX,
    )
    assert story.steps["default-selectors"][ACCOUNT] == (
        "NON_COMPLIANT",
        "None of 2 trails meets every condition; the closest, security, lacks: Lambda data "
        "events." + FIX,
    )


def test_trail_without_validation_or_encryption_is_noncompliant_naming_both(story):
    assert story.steps["legacy"]["legacy"] == (
        "NON_COMPLIANT",
        "The trail lacks log file validation (CloudTrail.4) and KMS encryption (CloudTrail.2). "
        "Fix: aws cloudtrail update-trail --enable-log-file-validation --kms-key-id <key>.",
    )
    assert story.steps["stopped"]["security"][0] == "COMPLIANT"  # trail checks: .2/.4 only


def test_advanced_selectors_count_like_basic_ones(story):
    found = story.steps["advanced"]
    assert found[ACCOUNT] == ("COMPLIANT", "Trail security meets every condition.")


def test_write_only_management_events_are_not_enough(story):
    assert story.steps["write-only"][ACCOUNT] == (
        "NON_COMPLIANT",
        "None of 2 trails meets every condition; the closest, security, lacks: read+write "
        "management events." + FIX,
    )


def test_lambda_data_events_not_required_makes_account_compliant(story):
    found = story.steps["default-selectors:scheduled-no-lambda-data-events"]
    assert found[ACCOUNT] == ("COMPLIANT", "Trail security meets every condition.")


def test_stopped_trail_is_named_as_not_logging(story):
    assert story.steps["stopped"][ACCOUNT] == (
        "NON_COMPLIANT",
        "None of 2 trails meets every condition; the closest, security, lacks: logging." + FIX,
    )


def test_trail_deleted_since_the_previous_run_is_not_applicable(story):
    found = story.steps["legacy-deleted"]
    assert found["legacy"] == ("NOT_APPLICABLE", "The resource no longer exists.")
    assert found[ACCOUNT][1].endswith("the closest, security, lacks: logging." + FIX)
    assert "None of 1 trail" in found[ACCOUNT][1]


def test_each_trail_is_read_once_per_run(story):
    assert story.calls["none"] == Counter({"DescribeTrails": 1})
    assert story.calls["advanced"] == Counter(
        {"DescribeTrails": 1, "GetTrailStatus": 2, "GetEventSelectors": 2}
    )


# ------------------------------------------------------------------ fresh stand-ins


def test_fit_trail_homed_elsewhere_counts_but_is_evaluated_only_at_home(standin, factory):
    trail(
        factory,
        "org-security",
        region="eu-west-1",
        selectors=[{**MANAGEMENT_ALL, "DataResources": [LAMBDA_DATA]}],
    )
    trail(factory, "local", multi_region=False, validation=False)
    home = CallCounter(factory.client("cloudtrail", "eu-west-1"))
    try:
        handler(scheduled(standin), CTX)
    finally:
        home.close()
    found = results(factory)
    assert found == {
        ACCOUNT: ("COMPLIANT", "Trail org-security (eu-west-1) meets every condition."),
        "local": (
            "NON_COMPLIANT",
            "The trail lacks log file validation (CloudTrail.4). "
            "Fix: aws cloudtrail update-trail --enable-log-file-validation.",
        ),
    }
    assert home.calls == ["GetEventSelectors"]  # selectors answer only in the home Region


def test_describe_trails_failing_fails_visibly_and_stores_nothing(standin, factory):
    trail(factory, "security")
    for code in ("AccessDeniedException", "ThrottlingException"):
        with (
            inject_error(factory.client("cloudtrail"), "DescribeTrails", code) as seen,
            pytest.raises(EvaluationError, match=f"{code} from DescribeTrails"),
        ):
            handler(scheduled(standin), CTX)
        assert seen == ["DescribeTrails"]
    with (
        inject_error(factory.client("cloudtrail"), "GetEventSelectors", "AccessDeniedException"),
        pytest.raises(EvaluationError, match="AccessDeniedException from GetEventSelectors"),
    ):
        handler(scheduled(standin), CTX)
    assert results(factory) == {}


def test_trail_deleted_while_read_is_skipped(standin, factory):
    trail(factory, "security")
    with inject_error(
        factory.client("cloudtrail"), "GetTrailStatus", "TrailNotFoundException"
    ) as seen:
        handler(scheduled(standin), CTX)
    assert seen
    assert results(factory) == {
        ACCOUNT: (
            "NON_COMPLIANT",
            "No CloudTrail trail. Fix: create a logging, multi-Region, KMS-encrypted trail "
            "with log file validation.",
        )
    }


def test_a_scan_reports_the_account_from_sts(standin, factory):
    trail(factory, "security", selectors=[{**MANAGEMENT_ALL, "DataResources": [LAMBDA_DATA]}])
    report = configguard_scan(factory, [RULE])
    got = {(f.resource_type, f.resource_id): f.compliance for f in report.findings}
    assert got == {
        ("AWS::::Account", ACCOUNT): "COMPLIANT",
        ("AWS::CloudTrail::Trail", "security"): "COMPLIANT",
    }
    assert report.api_calls["sts:GetCallerIdentity"] == 1


# ------------------------------------------------------------------ pure functions


def test_management_events_need_read_and_write():
    assert module.records_management_events({"EventSelectors": [MANAGEMENT_ALL]})
    halves = [
        {"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True},
        {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True},
    ]
    assert module.records_management_events({"EventSelectors": halves})
    assert not module.records_management_events({"EventSelectors": halves[1:]})
    excluded = {**MANAGEMENT_ALL, "IncludeManagementEvents": False}
    assert not module.records_management_events({"EventSelectors": [excluded]})
    assert not module.records_management_events({})

    def advanced(*fields: tuple[str, list[str]]) -> dict[str, Any]:
        selectors = [{"Field": f, "Equals": v} for f, v in fields]
        return {"AdvancedEventSelectors": [{"FieldSelectors": selectors}]}

    assert module.records_management_events(advanced(("eventCategory", ["Management"])))
    read_only = advanced(("eventCategory", ["Management"]), ("readOnly", ["true"]))
    assert not module.records_management_events(read_only)
    assert not module.records_management_events(advanced(("eventCategory", ["Data"])))


def test_lambda_data_events_need_write_events():
    basic = {**MANAGEMENT_ALL, "DataResources": [LAMBDA_DATA]}
    assert module.records_lambda_data_events({"EventSelectors": [basic]})
    read_only = {**basic, "ReadWriteType": "ReadOnly"}
    assert not module.records_lambda_data_events({"EventSelectors": [read_only]})
    s3_only = {**basic, "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}
    assert not module.records_lambda_data_events({"EventSelectors": [s3_only]})
    some = {
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::Lambda::Function"]},
            {"Field": "resources.ARN", "StartsWith": ["arn:aws:lambda:us-east-1:1:function:x"]},
        ]
    }
    assert module.records_lambda_data_events({"AdvancedEventSelectors": [some]})


def test_the_closest_trail_has_fewest_misses_and_home_trails_win_ties():
    fit = module.TrailFacts("b", "us-east-1", *([True] * 7))
    shadow = module.TrailFacts("a", "eu-west-1", *([True] * 7))
    stopped = module.TrailFacts("a-stopped", "us-east-1", False, *([True] * 6))
    verdict = module.account_verdict([stopped, shadow, fit], True, "us-east-1")
    assert verdict.reason == "Trail b meets every condition."
    no_lambda = module.TrailFacts("c", "us-east-1", *([True] * 6), False)
    assert module.account_verdict([no_lambda], False, "us-east-1").compliance == "COMPLIANT"
    long_name = module.TrailFacts("t" * 128, "us-east-1", *([False] * 7))
    assert len(module.account_verdict([long_name], True, "us-east-1").annotation) <= 256


def test_account_id_comes_from_the_event():
    # No server behind this factory: the event's ids must be used without any call.
    reads = Reads(ClientFactory(region="us-east-1", endpoint_url="http://127.0.0.1:9"))
    assert module.account_id({"accountId": "111122223333"}, reads) == "111122223333"
    invoking = json.dumps({"awsAccountId": "444455556666"})
    assert module.account_id({"invokingEvent": invoking}, reads) == "444455556666"
    assert reads.total_calls() == 0  # a scan (no event) asks STS: see the scan test
