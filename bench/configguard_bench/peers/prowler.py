"""Prowler (PyPI `prowler`) as a benchmark peer: its AWS provider on one Region, eleven checks.

Prowler reaches the stand-in through AWS_ENDPOINT_URL alone (boto3 honours it for every
client, and Prowler's own STS client reads it too). Before the checks it makes three
start-up calls: sts:GetCallerIdentity, organizations:DescribeAccount (the stand-in answers
400, Organizations not in use, and Prowler goes on without organization metadata) and
ec2:DescribeRegions. Each service it loads also reads more than these checks need
(tags, key policies, function URL configs, API resources and methods): that is part of
its cost. Its only other network use, the release check behind `prowler --version`, is
not on this command line.

Output: one CSV (`;`-separated) in the work directory; every FAIL row is one
non-compliant resource. A muted finding keeps its FAIL status and counts too (the
bundled mutelist mutes only AWS Control Tower resources, none of which are seeded).
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from pathlib import Path

NAME = "prowler"
VERSION = "5.46.0"
VENV = Path(".bench/prowler")
REGION = "us-east-1"
CONFIG_FILE = Path(__file__).with_name("prowler-config.yaml")
OUTPUT_STEM = "prowler"  # Prowler appends the format's extension

# configguard check -> Prowler check id (None: Prowler has no such check).
CHECKS: dict[str, str | None] = {
    "lambda-reserved-concurrency": None,
    "lambda-env-cmk-encrypted": "awslambda_function_env_vars_not_encrypted_with_cmk",
    "lambda-public-access-prohibited": "awslambda_function_not_publicly_accessible",
    "lambda-runtime-supported": "awslambda_function_using_supported_runtimes",
    "apigw-stage-waf-attached": "apigateway_restapi_waf_acl_attached",
    "apigw-stage-execution-logging": "apigateway_restapi_logging_enabled",
    "apigw-stage-cache-encrypted": "apigateway_restapi_cache_encrypted",
    "apigw-stage-tracing": "apigateway_restapi_tracing_enabled",
    "kms-key-rotation-enabled": "kms_cmk_rotation_enabled",
    "kms-key-not-pending-deletion": "kms_cmk_not_deleted_unintentionally",
    "log-group-cmk-encrypted": "cloudwatch_log_group_kms_encryption_enabled",
    "log-group-retention": "cloudwatch_log_group_retention_policy_specific_days_enabled",
}

DIFFERENCES: dict[str, str] = {
    "lambda-public-access-prohibited": (
        "Prowler judges only '*' / AWS '*' principals (its cross-service confused-deputy "
        "test is off for this check), so it passes a service principal such as "
        "s3.amazonaws.com without aws:SourceAccount/SourceArn, and it passes a '*' grant "
        "with any source condition, even a wildcard aws:SourceArn or an aws:SourceIp "
        "range, all of which configguard flags."
    ),
    "lambda-runtime-supported": (
        "Prowler fails only runtimes on a fixed, undated list of obsolete identifiers "
        "(config key obsolete_lambda_runtimes: Python up to 3.8, Node.js up to 16.x), "
        "while configguard uses dated deprecations plus a 180-day warning window, so "
        "python3.9, python3.10 or nodejs18.x pass in Prowler and fail in configguard."
    ),
    "apigw-stage-waf-attached": (
        "Prowler passes a stage with any webAclArn, including a WAF Classic "
        "(waf-regional) ACL, which configguard fails as end-of-life."
    ),
    "apigw-stage-execution-logging": (
        "Prowler passes a stage when any one method setting logs at a level other than "
        "OFF, while configguard requires the stage-wide */* level (and every method "
        "override) to be one of LoggingLevels (ERROR, INFO)."
    ),
    "apigw-stage-cache-encrypted": (
        "Prowler judges only stages where some method setting has caching enabled "
        "(ignoring cacheClusterEnabled) and passes them when any one caching method "
        "encrypts, while configguard requires every caching method setting, */* "
        "included, to encrypt."
    ),
    "kms-key-rotation-enabled": (
        "Prowler fails every Enabled customer key whose spec is symmetric, including "
        "keys with imported (EXTERNAL) material or in a custom key store, which cannot "
        "rotate automatically and which configguard reports NOT_APPLICABLE."
    ),
    "kms-key-not-pending-deletion": (
        "Prowler fails only the PendingDeletion state (not PendingReplicaDeletion) and "
        "reports nothing for Disabled keys unless --scan-unused-services is given, while "
        "configguard fails both pending states and passes Disabled keys."
    ),
}


def prowler_ids() -> list[str]:
    """The Prowler check ids run, in CHECKS order."""
    return [check for check in CHECKS.values() if check is not None]


def output_file(workdir: Path) -> Path:
    return workdir / f"{OUTPUT_STEM}.csv"


def command(repo: Path, workdir: Path) -> list[str]:
    """`prowler aws` on one Region with the eleven checks, writing one CSV into workdir."""
    return [
        str(repo / VENV / "bin" / "prowler"),
        "aws",
        "--region",
        REGION,
        "--checks",
        *prowler_ids(),
        "--config-file",
        str(CONFIG_FILE),
        "--output-formats",
        "csv",
        "--output-directory",
        str(workdir),
        "--output-filename",
        OUTPUT_STEM,
        "--no-banner",
        "--no-color",
        "--ignore-exit-code-3",
        "--log-level",
        "ERROR",
    ]


def fail_counts(path: Path) -> Counter[str]:
    """FAIL findings per Prowler check id in one Prowler CSV."""
    csv.field_size_limit(sys.maxsize)  # the COMPLIANCE column can be long
    with path.open(encoding="utf-8", newline="") as handle:
        return Counter(
            row["CHECK_ID"]
            for row in csv.DictReader(handle, delimiter=";")
            if row["STATUS"] == "FAIL"
        )


def verdicts(workdir: Path) -> dict[str, int]:
    """Non-compliant resources per configguard check, from the run's CSV."""
    path = output_file(workdir)
    if not path.is_file():
        raise FileNotFoundError(f"Prowler wrote no {path.name} in {workdir}")
    fails = fail_counts(path)
    return {check: fails[peer] for check, peer in CHECKS.items() if peer is not None}
