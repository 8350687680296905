"""Scenarios of remediations/enable_lambda_env_encryption.py, through its real handler.

One stand-in reset for the module: every test uses its own function and role names.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections import Counter
from typing import Any

import pytest
from conftest import (
    ACCOUNT,
    REGION,
    CallCounter,
    change_event,
    lambda_context,
    load_event,
    make_function,
    stored_results,
)
from faults import inject_error, swallow_call

from configguard import cibuilder, settings
from configguard.remediation import Refusal, RemediationFailedError
from configguard.triggers import InvalidTriggerError
from configguard_cli.auditlog import list_records
from configguard_cli.events import rollback_request_event
from configguard_cli.handlers import remediation_module, rule_module

FIX = "enable-lambda-env-encryption"
RULE = "lambda-env-cmk-encrypted"
fix_module = remediation_module(FIX)
handler = fix_module.lambda_handler
CTX = lambda_context(f"configguard-{FIX}")
VARIABLES = {"Variables": {"TABLE_NAME": "billing", "LOG_LEVEL": "INFO"}}
POLICY = "configguard-env-decrypt"
EVENTS = "enable_lambda_env_encryption"


@pytest.fixture(scope="module")
def standin(module_standin):
    return module_standin


@pytest.fixture(scope="module")
def factory(module_factory):
    return module_factory


@pytest.fixture(autouse=True)
def no_propagation_pause(monkeypatch):
    """The stand-in's IAM is consistent at once: skip the production pause."""
    monkeypatch.setattr(fix_module, "GRANT_PROPAGATION_SECONDS", 0.0)


def key_arn() -> str:
    import os

    return os.environ[settings.KEY_ARN]


def cli_event(name: str, **detail: Any) -> dict:
    event = load_event(f"{EVENTS}/cli-fix-request.json")
    event["id"] = f"fix-{name}-{len(detail)}"
    event["detail"].update(resourceId=name, **detail)
    return event


def config_event(name: str) -> dict:
    event = load_event(f"{EVENTS}/config-compliance-change.json")
    event["detail"]["resourceId"] = name
    qualifier = event["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]
    qualifier["evaluationResultQualifier"]["resourceId"] = name
    return event


def run(event: dict) -> dict:
    results = handler(event, CTX)["results"]
    assert len(results) == 1
    return results[0]


def function(factory, name: str, role: str | None = None, **settings_: Any) -> None:
    settings_.setdefault("Environment", VARIABLES)
    make_function(factory, name, role=role or f"{name}-role", **settings_)


def key_of(factory, name: str) -> str | None:
    conf = factory.client("lambda").get_function_configuration(FunctionName=name)
    return conf.get("KMSKeyArn")


def grant(factory, role: str) -> dict | None:
    try:
        raw = factory.client("iam").get_role_policy(RoleName=role, PolicyName=POLICY)
    except factory.client("iam").exceptions.NoSuchEntityException:
        return None
    doc = raw["PolicyDocument"]
    return json.loads(doc) if isinstance(doc, str) else doc


def tags(factory, name: str) -> dict:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return factory.client("lambda").list_tags(Resource=arn)["Tags"]


def rollback(record: dict, **options: Any) -> dict:
    event = rollback_request_event(record, actor="carol", reason="INC-9 revert", **options)
    (result,) = handler(event, CTX)["results"]
    return result


class Calls:
    """Lambda, IAM and KMS calls made through the handlers' clients, in call order."""

    def __init__(self, factory) -> None:
        self.calls: list[str] = []
        self.clients = [factory.client(s) for s in ("lambda", "iam", "kms")]
        for client in self.clients:
            client.meta.events.register("before-call.*.*", self._count, unique_id="calls")

    def _count(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def counts(self) -> Counter:
        return Counter(self.calls)

    def close(self) -> None:
        for client in self.clients:
            client.meta.events.unregister("before-call.*.*", unique_id="calls")


def test_grants_decrypt_then_sets_cmk_verifies_tags_and_audits(standin, factory):
    function(factory, "enc-apply")
    calls = Calls(factory)
    record = run(config_event("enc-apply"))
    calls.close()
    assert record["outcome"] == "applied", record
    assert record["before"] == {"kmsKeyArn": None, "roleDecryptGrant": False}
    assert record["after"] == {"kmsKeyArn": key_arn(), "roleDecryptGrant": True}
    assert record["details"] == {
        "role": "enc-apply-role",
        "policyName": POLICY,
        "grantAdded": True,
    }
    assert record["action"].startswith(f"PutRolePolicy {POLICY} on enc-apply-role; then ")
    assert key_of(factory, "enc-apply") == key_arn()
    assert grant(factory, "enc-apply-role") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ConfigguardEnvDecrypt",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": [key_arn()],
            }
        ],
    }
    conf = factory.client("lambda").get_function_configuration(FunctionName="enc-apply")
    assert conf["Environment"] == VARIABLES  # untouched, never resent
    assert tags(factory, "enc-apply")[settings.LAST_REMEDIATION_TAG] == record["audit_id"]
    assert [r["audit_id"] for r in list_records(factory, resource_id="enc-apply")] == [
        record["audit_id"]
    ]
    # The grant is written (and read back) before the key changes.
    assert calls.calls.index("PutRolePolicy") < calls.calls.index("UpdateFunctionConfiguration")
    assert calls.counts() == Counter(
        {
            "GetFunction": 2,
            "GetRole": 1,
            "DescribeKey": 1,
            "GetRolePolicy": 3,
            "PutRolePolicy": 1,
            "GetFunctionConfiguration": 2,
            "UpdateFunctionConfiguration": 1,
            "TagResource": 1,
        }
    )


def test_existing_grant_and_other_policies_are_left_as_they_are(standin, factory):
    function(factory, "enc-granted")
    iam = factory.client("iam")
    own = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn()}],
    }
    other = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    iam.put_role_policy(
        RoleName="enc-granted-role", PolicyName=POLICY, PolicyDocument=json.dumps(own)
    )
    iam.put_role_policy(
        RoleName="enc-granted-role", PolicyName="app-access", PolicyDocument=json.dumps(other)
    )
    calls = Calls(factory)
    record = run(cli_event("enc-granted"))
    calls.close()
    assert record["outcome"] == "applied"
    assert record["before"]["roleDecryptGrant"] is True
    assert record["details"]["grantAdded"] is False
    assert calls.counts()["PutRolePolicy"] == 0
    assert grant(factory, "enc-granted-role") == own
    kept = iam.get_role_policy(RoleName="enc-granted-role", PolicyName="app-access")
    assert kept["PolicyDocument"] == other
    assert key_of(factory, "enc-granted") == key_arn()


def test_grant_naming_another_key_gets_the_cmk_added(standin, factory):
    function(factory, "enc-otherkey")
    older = factory.client("kms").create_key()["KeyMetadata"]["Arn"]
    extra = {"Sid": "Theirs", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            extra,
            {
                "Sid": "ConfigguardEnvDecrypt",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": [older],
            },
        ],
    }
    factory.client("iam").put_role_policy(
        RoleName="enc-otherkey-role", PolicyName=POLICY, PolicyDocument=json.dumps(doc)
    )
    assert run(cli_event("enc-otherkey"))["outcome"] == "applied"
    statements = grant(factory, "enc-otherkey-role")["Statement"]
    assert statements[0] == extra
    assert statements[1]["Resource"] == sorted([older, key_arn()])


def test_dry_run_mode_changes_nothing(standin, factory, monkeypatch):
    function(factory, "enc-dry")
    monkeypatch.setenv(settings.REMEDIATION_MODE, "dry-run")
    record = run(cli_event("enc-dry"))
    assert record["outcome"] == "dry-run"
    assert f"would PutRolePolicy {POLICY}" in record["reason"]
    assert record["after"]["kmsKeyArn"] == key_arn()
    assert key_of(factory, "enc-dry") is None
    assert grant(factory, "enc-dry-role") is None
    assert settings.LAST_REMEDIATION_TAG not in tags(factory, "enc-dry")


def test_opt_out_tag_is_honoured(standin, factory):
    function(factory, "enc-optout", tags={"configguard:auto-remediate": "false"})
    record = run(cli_event("enc-optout"))
    assert record["outcome"] == "skipped" and "opted out" in record["reason"]
    assert key_of(factory, "enc-optout") is None and grant(factory, "enc-optout-role") is None


@pytest.mark.parametrize(
    ("name", "extra"),
    [("enc-done", {"KMSKeyArn": "stack"}), ("enc-noenv", {"Environment": {"Variables": {}}})],
)
def test_already_compliant_or_without_variables_is_skipped(standin, factory, name, extra):
    if extra.get("KMSKeyArn") == "stack":
        extra = {"KMSKeyArn": key_arn()}
    function(factory, name, **extra)
    record = run(cli_event(name))
    assert record["outcome"] == "skipped" and "already compliant" in record["reason"]
    assert grant(factory, f"{name}-role") is None


def test_function_under_another_customer_key_is_refused(standin, factory):
    theirs = factory.client("kms").create_key()["KeyMetadata"]["Arn"]
    function(factory, "enc-theirs", KMSKeyArn=theirs)
    record = run(cli_event("enc-theirs"))
    assert record["outcome"] == "refused"
    assert "does not re-key" in record["reason"] and theirs.rsplit("/", 1)[-1] in record["reason"]
    assert key_of(factory, "enc-theirs") == theirs
    assert grant(factory, "enc-theirs-role") is None


def test_missing_role_is_refused(standin, factory):
    function(factory, "enc-norole")
    factory.client("iam").delete_role(RoleName="enc-norole-role")
    record = run(cli_event("enc-norole"))
    assert record["outcome"] == "refused"
    assert "enc-norole-role was not found" in record["reason"]
    assert key_of(factory, "enc-norole") is None


def test_role_in_another_account_is_refused(standin, factory):
    # Lambda itself rejects cross-account execution roles, so the stand-in cannot hold one:
    # the check is exercised on a state read as Lambda would report it.
    state = fix_module.FunctionState(
        name="enc-x",
        arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:enc-x",
        role_arn="arn:aws:iam::999988887777:role/shared",
        kms_key_arn=None,
        variable_names=("A",),
        environment_error=None,
        tags={},
    )
    with pytest.raises(Refusal, match=f"is not in account {ACCOUNT}"):
        fix_module.check_role(factory.client("iam"), state)


def test_disabled_key_is_refused(standin, factory, monkeypatch):
    function(factory, "enc-keyoff")
    kms = factory.client("kms")
    disabled = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=disabled["KeyId"])
    monkeypatch.setenv(settings.KEY_ARN, disabled["Arn"])
    record = run(cli_event("enc-keyoff"))
    assert record["outcome"] == "refused" and "the key is Disabled" in record["reason"]
    assert key_of(factory, "enc-keyoff") is None and grant(factory, "enc-keyoff-role") is None


def test_update_in_progress_is_waited_for_first(standin, factory):
    function(factory, "enc-busy")
    lam = factory.client("lambda")
    pending = {"n": 1}

    def in_progress(model: Any, params: Any, **_: Any) -> Any:
        if model.name == "GetFunctionConfiguration" and pending["n"] > 0:
            pending["n"] -= 1
            from botocore.awsrequest import AWSResponse

            body = {"FunctionName": "enc-busy", "State": "Active", "LastUpdateStatus": "InProgress"}
            return AWSResponse("http://stand-in", 200, {}, None), body
        return None

    lam.meta.events.register("before-call.lambda.*", in_progress, unique_id="busy")
    calls = CallCounter(lam)
    try:
        record = run(cli_event("enc-busy"))
    finally:
        lam.meta.events.unregister("before-call.lambda.*", unique_id="busy")
        calls.close()
    assert record["outcome"] == "applied"
    assert pending["n"] == 0
    assert calls.calls.index("GetFunctionConfiguration") < calls.calls.index(
        "UpdateFunctionConfiguration"
    )
    assert calls.calls.count("GetFunctionConfiguration") == 3


def test_failed_verification_is_recorded_and_raised(standin, factory):
    function(factory, "enc-swallowed")
    with (
        swallow_call(factory.client("lambda"), "UpdateFunctionConfiguration", {}) as seen,
        pytest.raises(RemediationFailedError, match="failed on"),
    ):
        handler(cli_event("enc-swallowed"), CTX)
    assert seen == ["UpdateFunctionConfiguration"]
    [record] = list_records(factory, resource_id="enc-swallowed")
    assert record["outcome"] == "failed" and "verification failed" in record["error"]
    assert key_of(factory, "enc-swallowed") is None


def test_a_failed_key_update_leaves_the_function_unchanged_and_keeps_the_grant(standin, factory):
    function(factory, "enc-conflict")
    with (
        inject_error(
            factory.client("lambda"),
            "UpdateFunctionConfiguration",
            "ResourceConflictException",
            409,
        ) as seen,
        pytest.raises(RemediationFailedError, match="resource unchanged"),
    ):
        handler(config_event("enc-conflict"), CTX)
    assert seen == ["UpdateFunctionConfiguration"]
    [record] = list_records(factory, resource_id="enc-conflict")
    assert record["outcome"] == "failed" and record["resource_state"] == "unchanged"
    assert "Preparation(s) kept: roleDecryptGrant (made first, harmless alone)." in record["notes"]
    assert key_of(factory, "enc-conflict") is None
    assert grant(factory, "enc-conflict-role") is not None
    again = run(config_event("enc-conflict"))
    assert again["outcome"] == "applied" and again["before"]["roleDecryptGrant"] is True
    assert key_of(factory, "enc-conflict") == key_arn()


def test_deleted_function_is_skipped(standin, factory):
    record = run(cli_event("enc-gone"))
    assert record["outcome"] == "skipped" and "no longer exists" in record["reason"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda e: e["detail"]["newEvaluationResult"].update(complianceType="COMPLIANT"),
            "not NON_COMPLIANT",
        ),
        (lambda e: e["detail"].update(configRuleName="lambda-tracing-active"), "does not fix"),
        (lambda e: e.update(source="aws.s3"), "unsupported trigger"),
        (lambda e: e.pop("detail"), "not an EventBridge event"),
    ],
)
def test_invalid_triggers_are_rejected(standin, factory, mutate, message):
    event = copy.deepcopy(load_event(f"{EVENTS}/config-compliance-change.json"))
    mutate(event)
    with pytest.raises(InvalidTriggerError, match=message):
        handler(event, CTX)


@pytest.mark.parametrize(
    ("file", "source"),
    [
        ("config-compliance-change.json", "config"),
        ("securityhub-custom-action.json", "securityhub"),
        ("cli-fix-request.json", "cli"),
    ],
)
def test_event_files_through_the_real_handler(standin, factory, file, source):
    lam = factory.client("lambda")
    with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
        lam.delete_function(FunctionName="billing-worker")
    function(factory, "billing-worker", role="app-role")
    record = run(load_event(f"{EVENTS}/{file}"))
    assert (record["outcome"], record["source"]) == ("applied", source)
    assert key_of(factory, "billing-worker") == key_arn()


def test_rule_is_compliant_after_the_fix(standin, factory):
    function(factory, "enc-rule")
    rule = rule_module(RULE).lambda_handler
    item = cibuilder.read(factory, "AWS::Lambda::Function", "enc-rule")
    rule(change_event(standin, RULE, item), lambda_context(f"configguard-{RULE}"))
    assert stored_results(factory, RULE)["enc-rule"][0] == "NON_COMPLIANT"
    assert run(cli_event("enc-rule"))["outcome"] == "applied"
    item = cibuilder.read(factory, "AWS::Lambda::Function", "enc-rule")
    rule(change_event(standin, RULE, item), lambda_context(f"configguard-{RULE}"))
    assert stored_results(factory, RULE)["enc-rule"][0] == "COMPLIANT"


def test_rollback_restores_the_aws_managed_key_and_leaves_the_grant(standin, factory):
    function(factory, "enc-undo")
    applied = run(cli_event("enc-undo"))
    assert applied["outcome"] == "applied"
    undone = rollback(applied)
    assert undone["outcome"] == "applied", undone
    assert undone["action"] == "rollback: UpdateFunctionConfiguration KMSKeyArn (AWS managed key)"
    assert undone["after"] == {"kmsKeyArn": None}
    assert "stays" in undone["details"]["grantLeft"]
    assert key_of(factory, "enc-undo") is None
    assert grant(factory, "enc-undo-role") is not None
    conf = factory.client("lambda").get_function_configuration(FunctionName="enc-undo")
    assert conf["Environment"] == VARIABLES


def test_rollback_is_refused_when_the_key_changed_since(standin, factory):
    function(factory, "enc-moved")
    applied = run(cli_event("enc-moved"))
    theirs = factory.client("kms").create_key()["KeyMetadata"]["Arn"]
    factory.client("lambda").update_function_configuration(
        FunctionName="enc-moved", KMSKeyArn=theirs
    )
    refused = rollback(applied)
    assert refused["outcome"] == "refused" and "changed since" in refused["reason"]
    assert key_of(factory, "enc-moved") == theirs
