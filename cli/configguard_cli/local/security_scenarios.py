"""KMS, CloudWatch Logs and CloudTrail scenarios for the stand-in, with expected verdicts.

Keys of each kind (rotating, not rotating, asymmetric, HMAC, imported material,
pending deletion) with safe and unsafe policies; log groups encrypted and plain,
with short, long and no retention; one trail that meets every condition and one
that does not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from configguard.clients import ClientFactory

COMPLIANT = "COMPLIANT"
NON_COMPLIANT = "NON_COMPLIANT"
NOT_APPLICABLE = "NOT_APPLICABLE"

ROTATION = "kms-key-rotation-enabled"
PENDING = "kms-key-not-pending-deletion"
POLICY = "kms-key-policy-safe"
LOG_CMK = "log-group-cmk-encrypted"
RETENTION = "log-group-retention"
TRAIL = "cloudtrail-security-trail"
TRAIL_BUCKET = "scenario-trail-logs"

Expected = dict[str, dict[str, str]]


def _policy(account: str, *extra: dict[str, Any]) -> str:
    root = {
        "Sid": "AccountRoot",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [root, *extra]})


def _anyone_decrypts(condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": "AnyoneDecrypts",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _seed_keys(factory: ClientFactory, account: str, table: Expected) -> None:
    kms = factory.client("kms")

    def key(
        label: str,
        verdicts: dict[str, str],
        setup: Callable[[str], None] | None = None,
        **create: Any,
    ) -> None:
        key_id = str(
            kms.create_key(Description=f"scenario {label}", **create)["KeyMetadata"]["KeyId"]
        )
        if setup:
            setup(key_id)
        for rule, verdict in verdicts.items():
            table.setdefault(rule, {})[key_id] = verdict

    def rotate(key_id: str) -> None:
        kms.enable_key_rotation(KeyId=key_id)

    safe = {PENDING: COMPLIANT, POLICY: COMPLIANT}
    key("rotating", {ROTATION: COMPLIANT, **safe}, rotate)
    key("not-rotating", {ROTATION: NON_COMPLIANT, **safe})
    key(
        "asymmetric",
        {ROTATION: NOT_APPLICABLE, **safe},
        KeySpec="RSA_2048",
        KeyUsage="SIGN_VERIFY",
    )
    key(
        "hmac",
        {ROTATION: NOT_APPLICABLE, **safe},
        KeySpec="HMAC_256",
        KeyUsage="GENERATE_VERIFY_MAC",
    )
    key("imported", {ROTATION: NOT_APPLICABLE, **safe}, Origin="EXTERNAL")
    key(
        "pending-deletion",
        {ROTATION: NOT_APPLICABLE, PENDING: NON_COMPLIANT, POLICY: COMPLIANT},
        lambda key_id: kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=30),
    )
    key(
        "public-policy",
        {ROTATION: COMPLIANT, PENDING: COMPLIANT, POLICY: NON_COMPLIANT},
        rotate,
        Policy=_policy(account, _anyone_decrypts()),
    )
    key(
        "org-policy",
        {ROTATION: COMPLIANT, **safe},
        rotate,
        Policy=_policy(
            account,
            _anyone_decrypts({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
        ),
    )
    key(
        "role-has-kms-star",
        {ROTATION: COMPLIANT, PENDING: COMPLIANT, POLICY: NON_COMPLIANT},
        rotate,
        Policy=_policy(
            account,
            {
                "Sid": "AppRoleEverything",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:role/app"},
                "Action": "kms:*",
                "Resource": "*",
            },
        ),
    )


def _seed_log_groups(factory: ClientFactory, key_arn: str, table: Expected) -> None:
    logs = factory.client("logs")
    groups = [
        # name, encrypted, retention days (None: never expire), cmk verdict, retention verdict
        ("/scenario/encrypted-365", True, 365, COMPLIANT, COMPLIANT),
        ("/scenario/plain-30", False, 30, NON_COMPLIANT, NON_COMPLIANT),
        ("/scenario/encrypted-never-expire", True, None, COMPLIANT, COMPLIANT),
        ("/scenario/plain-731", False, 731, NON_COMPLIANT, COMPLIANT),
    ]
    for name, encrypted, days, cmk, retention in groups:
        request: dict[str, Any] = {"logGroupName": name}
        if encrypted:
            request["kmsKeyId"] = key_arn
        logs.create_log_group(**request)
        if days is not None:
            logs.put_retention_policy(logGroupName=name, retentionInDays=days)
        table.setdefault(LOG_CMK, {})[name] = cmk
        table.setdefault(RETENTION, {})[name] = retention


def _seed_trails(factory: ClientFactory, key_arn: str, account: str, table: Expected) -> None:
    factory.client("s3").create_bucket(Bucket=TRAIL_BUCKET)
    trail = factory.client("cloudtrail")
    trail.create_trail(
        Name="scenario-security-trail",
        S3BucketName=TRAIL_BUCKET,
        IsMultiRegionTrail=True,
        IncludeGlobalServiceEvents=True,
        EnableLogFileValidation=True,
        KmsKeyId=key_arn,
    )
    trail.put_event_selectors(
        TrailName="scenario-security-trail",
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [{"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]}],
            }
        ],
    )
    trail.start_logging(Name="scenario-security-trail")
    trail.create_trail(Name="scenario-bare-trail", S3BucketName=TRAIL_BUCKET)
    trail.start_logging(Name="scenario-bare-trail")
    table.setdefault(TRAIL, {}).update(
        {
            account: COMPLIANT,
            "scenario-security-trail": COMPLIANT,
            "scenario-bare-trail": NON_COMPLIANT,
        }
    )


def seed(factory: ClientFactory) -> Expected:
    """Create the scenarios; return expected verdicts: rule -> resource id -> verdict."""
    account = str(factory.client("sts").get_caller_identity()["Account"])
    table: Expected = {}
    _seed_keys(factory, account, table)
    log_key = factory.client("kms").create_key(Description="scenario log key")["KeyMetadata"]
    factory.client("kms").enable_key_rotation(KeyId=log_key["KeyId"])
    for rule, verdict in ((ROTATION, COMPLIANT), (PENDING, COMPLIANT), (POLICY, COMPLIANT)):
        table.setdefault(rule, {})[log_key["KeyId"]] = verdict
    _seed_log_groups(factory, log_key["Arn"], table)
    _seed_trails(factory, log_key["Arn"], account, table)
    return table
