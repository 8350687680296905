"""Scenarios of remediations/strip_env_secrets.py, through its real handler.

Secret values are canaries made at run time (secrets.token_hex / token_urlsafe), so no
token literal lives in the repository. One stand-in serves the whole module; each test
uses its own function names.
"""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import (
    ACCOUNT,
    REGION,
    CallCounter,
    compliance_change,
    config_finding,
    lambda_context,
    load_event,
    make_function,
    stored_results,
    with_token,
)
from faults import inject_error, swallow_call

from configguard import settings
from configguard.remediation import RemediationFailedError
from configguard.triggers import InvalidTriggerError
from configguard_cli.auditlog import list_records
from configguard_cli.events import rollback_request_event
from configguard_cli.handlers import remediation_module, rule_module

FIX = "strip-env-secrets"
RULE = "lambda-env-no-plaintext-secrets"
handler = remediation_module(FIX).lambda_handler
CTX = lambda_context(f"configguard-{FIX}")
MODE_TAG = "configguard:strip-secrets-mode"
PRODUCT = f"arn:aws:securityhub:{REGION}::product/aws/config"
SECRET_NAMES = ("API_TOKEN", "DB_CONFIG", "DB_PASSWORD", "UPLOAD_KEY")
PLAIN = {"MODE": "live", "TABLE_NAME": "orders"}


# ------------------------------------------------------------------------ helpers


def canaries() -> dict[str, str]:
    """Secret-shaped values made now: an access key id, tokens, a JSON credential."""
    return {
        "UPLOAD_KEY": "AKIA" + secrets.token_hex(8).upper(),
        "API_TOKEN": secrets.token_hex(20),
        "DB_PASSWORD": secrets.token_urlsafe(24),
        "DB_CONFIG": json.dumps({"user": "app", "password": secrets.token_urlsafe(18)}),
    }


def seed(factory, name: str, tags: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    """A function with plaintext secrets; returns its whole environment."""
    variables = {**PLAIN, **canaries(), **extra}
    make_function(factory, name, tags=tags, Environment={"Variables": variables})
    return variables


def arn_of(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def config_event(name: str) -> dict:
    """The sample compliance change, aimed at `name`, as a fresh evaluation."""
    event = compliance_change("strip_env_secrets", name)
    result = event["detail"]["newEvaluationResult"]
    result["evaluationResultIdentifier"]["orderingTimestamp"] = (
        f"2026-11-21T10:15:30.{uuid.uuid4().hex[:6]}Z"
    )
    return event


def cli_event(name: str, dry_run: bool = False) -> dict:
    event = load_event("strip_env_secrets/cli-fix-request.json")
    event["id"] = str(uuid.uuid4())
    event["detail"].update(resourceId=name, dryRun=dry_run)
    return event


def run(event: dict) -> dict:
    results = handler(event, CTX)["results"]
    assert len(results) == 1
    return results[0]


def rollback(factory, audit_id: str, restore: bool = False) -> dict:
    from configguard import audit

    record = audit.read(factory, audit_id)
    event = rollback_request_event(record, actor="bob", restore_plaintext=restore)
    return run(event)


def env(factory, name: str) -> dict[str, str]:
    conf = factory.client("lambda").get_function_configuration(FunctionName=name)
    return dict((conf.get("Environment") or {}).get("Variables") or {})


def vault(factory, name: str) -> dict[str, Any] | None:
    client = factory.client("secretsmanager")
    try:
        text = client.get_secret_value(SecretId=f"configguard/lambda/{name}")["SecretString"]
    except client.exceptions.ResourceNotFoundException:
        return None
    return dict(json.loads(text))


def vault_count(factory, name: str) -> int:
    secret_list = factory.client("secretsmanager").list_secrets(
        Filters=[{"Key": "name", "Values": [f"configguard/lambda/{name}"]}]
    )["SecretList"]
    return sum(1 for s in secret_list if s["Name"] == f"configguard/lambda/{name}")


def grant(factory, name: str, role: str = "app-role") -> dict | None:
    iam = factory.client("iam")
    try:
        doc = iam.get_role_policy(RoleName=role, PolicyName=f"configguard-secrets-read-{name}")
    except iam.exceptions.NoSuchEntityException:
        return None
    return dict(doc["PolicyDocument"])


def tags(factory, name: str) -> dict[str, str]:
    return factory.client("lambda").list_tags(Resource=arn_of(name))["Tags"]


def secret_part(variables: dict[str, str]) -> dict[str, str]:
    return {k: variables[k] for k in SECRET_NAMES}


def replaced_form(original: dict[str, str], arn: str) -> dict[str, str]:
    out = {**original, **dict.fromkeys(SECRET_NAMES, "")}
    out.update({f"{k}_SECRET_ARN": arn for k in SECRET_NAMES})
    return out


def set_mode(factory, mode: str | None) -> None:
    ssm = factory.client("ssm")
    name = f"/configguard/remediations/{FIX}/mode"
    if mode is None:
        ssm.delete_parameter(Name=name)
    else:
        ssm.put_parameter(Name=name, Value=mode, Type="String", Overwrite=True)


def rule_verdict(standin, factory, name: str) -> tuple[str, str]:
    event = with_token(
        standin, load_event("lambda_env_no_plaintext_secrets/change-function-updated.json")
    )
    event["invokingEvent"] = event["invokingEvent"].replace("billing-worker", name)
    rule_module(RULE).lambda_handler(event, lambda_context(f"configguard-{RULE}"))
    return stored_results(factory, RULE)[name]


# ----------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _env(module_standin, monkeypatch):
    # Many applies in one module-wide stand-in: lift the hourly blast-radius cap.
    monkeypatch.setenv(settings.MAX_CHANGES_PER_HOUR, "100000")


@pytest.fixture
def standin(module_standin):
    return module_standin


@pytest.fixture
def factory(module_factory):
    return module_factory


@pytest.fixture
def replace_mode(monkeypatch):
    monkeypatch.setenv(settings.STRIP_SECRETS_MODE, "replace")


@pytest.fixture(scope="module")
def oncall_queue(module_standin, module_factory):
    sqs = module_factory.client("sqs")
    url = sqs.create_queue(QueueName="strip-env-secrets-oncall-probe")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    module_factory.client("sns").subscribe(
        TopicArn=module_standin.environ()[settings.ONCALL_TOPIC], Protocol="sqs", Endpoint=arn
    )
    return url


@pytest.fixture
def oncall(oncall_queue, factory):
    """Drain, then read what on-call receives: the raw SQS bodies."""
    sqs = factory.client("sqs")

    def drain() -> list[str]:
        bodies = []
        while True:
            got = sqs.receive_message(QueueUrl=oncall_queue, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                return bodies
            for message in got["Messages"]:
                bodies.append(message["Body"])
                sqs.delete_message(QueueUrl=oncall_queue, ReceiptHandle=message["ReceiptHandle"])

    drain()
    return drain


@pytest.fixture(scope="module")
def hub(module_standin, module_factory):
    client = module_factory.client("securityhub")
    client.enable_security_hub()
    return client


def import_finding(hub, name: str) -> None:
    finding = config_finding(f"finding-{name}", RULE, arn_of(name), PRODUCT)
    hub.batch_import_findings(Findings=[finding])


# ---------------------------------------------------------------------- scenarios


def test_vault_mode_stores_reads_back_grants_and_changes_no_variable(factory, oncall):
    name = "vault-basic"
    original = seed(factory, name)
    counter = {s: CallCounter(factory.client(s)) for s in ("lambda", "secretsmanager", "iam")}
    record = run(config_event(name))
    for c in counter.values():
        c.close()
    assert record["outcome"] == "applied", record
    assert env(factory, name) == original
    assert vault(factory, name) == secret_part(original)
    described = factory.client("secretsmanager").describe_secret(
        SecretId=f"configguard/lambda/{name}"
    )
    assert described["KmsKeyId"] == settings.require(settings.KEY_ARN)
    assert {"Key": "configguard:function-arn", "Value": arn_of(name)} in described["Tags"]
    arn = described["ARN"]
    policy = grant(factory, name)
    assert policy is not None
    read, decrypt = policy["Statement"]
    assert (read["Action"], read["Resource"]) == ("secretsmanager:GetSecretValue", arn)
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Resource"] == settings.require(settings.KEY_ARN)
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}
    }
    details = record["details"]
    assert details["mode"] == "vault" and details["secretArn"] == arn
    assert arn in details["codeChange"] and "parameters.get_secret(" in details["codeChange"]
    assert record["before"]["plaintextVariables"] == sorted(SECRET_NAMES)
    assert tags(factory, name)[settings.LAST_REMEDIATION_TAG] == record["audit_id"]
    [message] = [json.loads(json.loads(b)["Message"]) for b in oncall()]
    assert message["audit_id"] == record["audit_id"] and message["details"]["secretArn"] == arn
    # The API calls of one vault apply (besides the engine's DynamoDB, SSM, SNS, Security Hub).
    assert {s: sorted(c.calls) for s, c in counter.items()} == {
        "lambda": ["GetFunction", "GetFunction", "TagResource"],
        "secretsmanager": [
            "CreateSecret",
            "DescribeSecret",
            "DescribeSecret",
            "GetSecretValue",
            "GetSecretValue",
        ],
        "iam": ["GetRolePolicy", "GetRolePolicy", "PutRolePolicy"],
    }


def test_replace_mode_swaps_values_for_references_and_rule_is_compliant(
    standin, factory, replace_mode
):
    name = "replace-basic"
    original = seed(factory, name)
    factory.client("lambda").publish_version(FunctionName=name)
    counter = {s: CallCounter(factory.client(s)) for s in ("lambda", "secretsmanager", "iam")}
    record = run(config_event(name))
    for c in counter.values():
        c.close()
    assert record["outcome"] == "applied", record
    arn = record["details"]["secretArn"]
    assert env(factory, name) == replaced_form(original, arn)
    assert vault(factory, name) == secret_part(original)
    assert record["details"]["publishedVersions"] == ["1"]
    assert "still hold the old values" in record["details"]["publishedVersionsNote"]
    assert record["details"]["referenceStyle"] == "per-variable"
    assert 'os.environ["API_TOKEN_SECRET_ARN"]' in record["details"]["codeChange"]
    assert record["after"]["plaintextVariables"] == []
    assert rule_verdict(standin, factory, name)[0] == "COMPLIANT"
    # Waits (GetFunctionConfiguration) before and after the one full-environment update.
    assert counter["lambda"].calls == [
        "GetFunction",
        "ListVersionsByFunction",
        "GetFunctionConfiguration",
        "UpdateFunctionConfiguration",
        "GetFunctionConfiguration",
        "GetFunction",
        "TagResource",
    ]
    assert counter["secretsmanager"].calls == [
        "DescribeSecret",
        "CreateSecret",
        "GetSecretValue",
        "DescribeSecret",
        "GetSecretValue",
    ]
    assert counter["iam"].calls == ["GetRolePolicy", "PutRolePolicy", "GetRolePolicy"]


def test_replace_mode_by_tag_overrides_the_setting(factory):
    name = "replace-by-tag"
    original = seed(factory, name, tags={MODE_TAG: "Replace"})
    record = run(config_event(name))
    assert record["outcome"] == "applied" and record["details"]["mode"] == "replace"
    assert "tag" in record["details"]["modeSource"]
    assert env(factory, name) == replaced_form(original, record["details"]["secretArn"])


@pytest.mark.parametrize("why", ["size", "taken"])
def test_one_reference_when_per_name_references_do_not_fit(factory, replace_mode, why):
    name = f"single-ref-{why}"
    extra = (
        {"BLOB": "x" * 3600}
        if why == "size"
        else {"API_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"}
    )
    original = seed(factory, name, **extra)
    record = run(config_event(name))
    assert record["outcome"] == "applied", record
    arn = record["details"]["secretArn"]
    assert record["details"]["referenceStyle"] == "single"
    assert record["details"]["referenceVariables"] == ["CONFIGGUARD_SECRETS_ARN"]
    expected = {**original, **dict.fromkeys(SECRET_NAMES, ""), "CONFIGGUARD_SECRETS_ARN": arn}
    assert env(factory, name) == expected
    assert 'os.environ["CONFIGGUARD_SECRETS_ARN"]' in record["details"]["codeChange"]


def test_existing_secret_is_merged_keeping_stored_keys_and_the_previous_version(factory):
    name = "merge-existing"
    original = seed(factory, name)
    first = run(config_event(name))
    assert first["outcome"] == "applied"
    client = factory.client("secretsmanager")
    arn = first["details"]["secretArn"]
    # An older key only the secret holds, and a rotated value in the environment.
    stored = {**vault(factory, name), "OLD_KEY": secrets.token_hex(12)}
    client.put_secret_value(SecretId=arn, SecretString=json.dumps(stored))
    rotated = secrets.token_hex(20)
    changed = {**original, "API_TOKEN": rotated, "NEW_PASSWORD": secrets.token_urlsafe(20)}
    factory.client("lambda").update_function_configuration(
        FunctionName=name, Environment={"Variables": changed}
    )
    record = run(config_event(name))
    assert record["outcome"] == "applied", record
    assert record["details"]["secretArn"] == arn
    assert record["details"]["newlyStored"] == ["NEW_PASSWORD"]
    assert record["details"]["updatedStored"] == ["API_TOKEN"]
    now = vault(factory, name)
    assert now == {**stored, "API_TOKEN": rotated, "NEW_PASSWORD": changed["NEW_PASSWORD"]}
    previous = client.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")
    assert json.loads(previous["SecretString"])["API_TOKEN"] == original["API_TOKEN"]
    assert vault_count(factory, name) == 1


def test_vault_mode_already_stored_and_granted_is_refused_with_the_code_change(factory):
    name = "vault-done"
    seed(factory, name)
    first = run(config_event(name))
    counter = CallCounter(factory.client("secretsmanager"))
    again = run(config_event(name))
    counter.close()
    assert again["outcome"] == "refused"
    assert "already stored in" in again["reason"] and "parameters.get_secret(" in again["reason"]
    assert first["details"]["secretArn"] in again["reason"]
    assert "PutSecretValue" not in counter.calls and "CreateSecret" not in counter.calls


@pytest.mark.parametrize("value", ["strip", ""])
def test_unknown_mode_tag_is_refused(factory, value):
    name = f"bad-mode-tag-{value or 'empty'}"
    original = seed(factory, name, tags={MODE_TAG: value})
    record = run(config_event(name))
    assert record["outcome"] == "refused" and "not vault or replace" in record["reason"]
    assert vault(factory, name) is None and env(factory, name) == original


def test_unknown_mode_setting_is_refused(factory, monkeypatch):
    monkeypatch.setenv(settings.STRIP_SECRETS_MODE, "shred")
    name = "bad-mode-setting"
    seed(factory, name)
    record = run(config_event(name))
    assert record["outcome"] == "refused" and settings.STRIP_SECRETS_MODE in record["reason"]
    assert vault(factory, name) is None


@pytest.mark.parametrize("problem", ["other-function", "other-key", "not-json", "deleting"])
def test_unusable_existing_secret_is_refused(factory, problem):
    name = f"unusable-{problem}"
    original = seed(factory, name)
    client = factory.client("secretsmanager")
    key = settings.require(settings.KEY_ARN)
    request: dict[str, Any] = {
        "Name": f"configguard/lambda/{name}",
        "SecretString": json.dumps({"KEEP": "me"}),
        "KmsKeyId": key,
        "Tags": [{"Key": "configguard:function-arn", "Value": arn_of(name)}],
    }
    if problem == "other-function":
        request["Tags"] = [{"Key": "configguard:function-arn", "Value": arn_of("someone-else")}]
    elif problem == "other-key":
        request["KmsKeyId"] = factory.client("kms").create_key()["KeyMetadata"]["Arn"]
    elif problem == "not-json":
        request["SecretString"] = "plain text"
    created = client.create_secret(**request)
    if problem == "deleting":
        client.delete_secret(SecretId=created["ARN"], RecoveryWindowInDays=7)
    counter = CallCounter(client)
    record = run(config_event(name))
    counter.close()
    assert record["outcome"] == "refused", record
    expected = {
        "other-function": "not tagged",
        "other-key": "another KMS key",
        "not-json": "does not hold a JSON object",
        "deleting": "scheduled for deletion",
    }[problem]
    assert expected in record["reason"]
    assert not {"PutSecretValue", "CreateSecret"} & set(counter.calls)
    assert env(factory, name) == original


def test_unreadable_environment_is_refused(factory):
    name = "env-unreadable"
    seed(factory, name)
    real = factory.client("lambda").get_function(FunctionName=name)
    conf = {
        **real["Configuration"],
        "Environment": {"Error": {"ErrorCode": "KMSAccessDeniedException", "Message": "no"}},
    }
    with swallow_call(factory.client("lambda"), "GetFunction", {"Configuration": conf, "Tags": {}}):
        record = run(config_event(name))
    assert record["outcome"] == "refused" and "KMSAccessDeniedException" in record["reason"]
    assert vault(factory, name) is None


def test_dry_run_stores_nothing_and_records_the_plan(factory, replace_mode):
    name = "dry-run"
    original = seed(factory, name)
    set_mode(factory, "dry-run")
    try:
        record = run(config_event(name))
    finally:
        set_mode(factory, None)
    assert record["outcome"] == "dry-run"
    assert "would store 4 variable(s) in secret configguard/lambda/dry-run" in record["reason"]
    assert record["details"]["strippedVariables"] == sorted(SECRET_NAMES)
    assert vault(factory, name) is None and env(factory, name) == original
    assert grant(factory, name) is None
    assert settings.LAST_REMEDIATION_TAG not in tags(factory, name)


def test_cli_dry_run_request(factory):
    name = "cli-dry-run"
    seed(factory, name)
    assert run(cli_event(name, dry_run=True))["outcome"] == "dry-run"
    assert vault(factory, name) is None


def test_opt_out_tag_is_honoured(factory):
    name = "opted-out"
    seed(factory, name, tags={"configguard:auto-remediate": "false"})
    record = run(config_event(name))
    assert record["outcome"] == "skipped" and "opted out" in record["reason"]
    assert vault(factory, name) is None


def test_compliant_function_is_skipped(factory):
    name = "already-compliant"
    make_function(factory, name, Environment={"Variables": PLAIN})
    record = run(config_event(name))
    assert record["outcome"] == "skipped" and "already compliant" in record["reason"]
    assert vault(factory, name) is None


def test_deleted_function_is_skipped(factory):
    record = run(config_event("never-existed"))
    assert record["outcome"] == "skipped" and "no longer exists" in record["reason"]


# ---------------------------------------------------------------- crash safety


class Crash(Exception):
    """The invocation dies here (timeout, OOM, lost connection)."""


SERVICES = ("lambda", "secretsmanager", "iam")


WRITES = ("CreateSecret", "PutSecretValue")


@contextmanager
def crash_at(factory, step: int, phase: str) -> Iterator[list[str]]:
    """Die before or after the step-th call (Lambda, Secrets Manager, IAM) from the first write.

    Yields the calls made from the first write on; step -1 never crashes.
    """
    steps: list[str] = []

    def hook(model: Any, **_: Any) -> None:
        if not steps and model.name not in WRITES:
            return
        steps.append(model.name)
        if len(steps) - 1 == step:
            raise Crash(f"crash {phase} {model.name}")

    clients = [factory.client(s) for s in SERVICES]
    for client in clients:
        client.meta.events.register(f"{phase}-call.*.*", hook, unique_id="crash-at")
    try:
        yield steps
    finally:
        for client in clients:
            client.meta.events.unregister(f"{phase}-call.*.*", unique_id="crash-at")


def secret_arn(factory, name: str) -> str:
    return str(
        factory.client("secretsmanager").describe_secret(SecretId=f"configguard/lambda/{name}")[
            "ARN"
        ]
    )


def assert_nothing_lost(factory, name: str, original: dict[str, str]) -> None:
    """The old environment or the replaced one; every value in the env or the secret."""
    now, stored = env(factory, name), vault(factory, name) or {}
    if now != original:
        assert now == replaced_form(original, secret_arn(factory, name)), sorted(now)
    for key in SECRET_NAMES:
        assert original[key] in (now.get(key), stored.get(key)), key


@pytest.mark.parametrize("mode", ["vault", "replace"])
def test_crash_at_any_step_loses_nothing_and_a_rerun_converges(factory, monkeypatch, mode):
    monkeypatch.setenv(settings.STRIP_SECRETS_MODE, mode)
    seed(factory, f"crash-{mode}-probe")
    with crash_at(factory, -1, "before") as steps:
        assert run(config_event(f"crash-{mode}-probe"))["outcome"] == "applied"
    expected_steps = {
        "vault": ["CreateSecret", "GetSecretValue", "PutRolePolicy"],
        "replace": [
            "CreateSecret",
            "GetSecretValue",
            "PutRolePolicy",
            "GetFunctionConfiguration",
            "UpdateFunctionConfiguration",
            "GetFunctionConfiguration",
        ],
    }[mode]
    # The write path, then the engine's re-read (GetFunction, ...) and TagResource.
    assert steps[: len(expected_steps)] == expected_steps
    assert steps[len(expected_steps)] == "GetFunction" and steps[-1] == "TagResource"
    crashed = []
    for step, op in enumerate(steps):
        for phase in ("before", "after"):
            name = f"crash-{mode}-{step}-{phase[0]}"
            original = seed(factory, name)
            with crash_at(factory, step, phase) as seen:
                try:
                    outcome = run(config_event(name))["outcome"]
                except (Crash, RemediationFailedError):
                    outcome = "crashed"
            assert seen[step] == op, (seen, op)
            crashed.append(outcome)
            assert_nothing_lost(factory, name, original)
            # A fresh event converges: one secret, every value, the grant, the final env.
            again = run(config_event(name))
            assert again["outcome"] in ("applied", "skipped", "refused"), again
            assert vault_count(factory, name) == 1
            assert vault(factory, name) == secret_part(original)
            arn = secret_arn(factory, name)
            assert grant(factory, name)["Statement"][0]["Resource"] == arn
            final = original if mode == "vault" else replaced_form(original, arn)
            assert env(factory, name) == final, (op, phase)
    # Only a failed tag is survivable (the engine notes it); every other crash fails.
    assert crashed.count("crashed") >= 2 * len(steps) - 2


# ---------------------------------------------------------- failed verification


def test_update_that_does_not_take_effect_fails_and_is_recorded(factory, replace_mode, capfd):
    name = "swallowed-update"
    original = seed(factory, name)
    with (
        swallow_call(factory.client("lambda"), "UpdateFunctionConfiguration", {}) as seen,
        pytest.raises(RemediationFailedError, match="failed on"),
    ):
        handler(config_event(name), CTX)
    assert seen == ["UpdateFunctionConfiguration"]
    [record] = list_records(factory, resource_id=name)
    assert record["outcome"] == "failed" and "verification failed" in record["error"]
    assert env(factory, name) == original and vault(factory, name) == secret_part(original)
    assert '"RemediationsFailed"' in capfd.readouterr().out
    # A fresh event finishes the job.
    assert run(config_event(name))["outcome"] == "applied"


def test_missing_grant_fails_vault_verification(factory):
    name = "swallowed-grant"
    seed(factory, name)
    with (
        swallow_call(factory.client("iam"), "PutRolePolicy", {}),
        pytest.raises(RemediationFailedError),
    ):
        handler(config_event(name), CTX)
    [record] = list_records(factory, resource_id=name)
    assert record["outcome"] == "failed" and "no read grant" in record["error"]


def test_write_that_does_not_read_back_fails_before_any_variable_changes(factory, replace_mode):
    name = "swallowed-write"
    original = seed(factory, name)
    client = factory.client("secretsmanager")
    first = {"UPLOAD_KEY": original["UPLOAD_KEY"]}
    client.create_secret(
        Name=f"configguard/lambda/{name}",
        SecretString=json.dumps(first),
        KmsKeyId=settings.require(settings.KEY_ARN),
        Tags=[{"Key": "configguard:function-arn", "Value": arn_of(name)}],
    )
    with (
        swallow_call(client, "PutSecretValue", {}),
        pytest.raises(RemediationFailedError),
    ):
        handler(config_event(name), CTX)
    [record] = list_records(factory, resource_id=name)
    assert "read-back of" in record["error"] and "no variable was changed" in record["error"]
    assert env(factory, name) == original and vault(factory, name) == first
    assert grant(factory, name) is None


def test_environment_changed_while_the_fix_ran_is_left_alone(factory, replace_mode):
    name = "changed-mid-fix"
    original = seed(factory, name)
    edited = {**original, "MODE": "maintenance"}

    def owner_edits(**_: Any) -> None:
        factory.client("lambda").update_function_configuration(
            FunctionName=name, Environment={"Variables": edited}
        )

    client = factory.client("iam")
    client.meta.events.register("after-call.iam.PutRolePolicy", owner_edits, unique_id="edit")
    try:
        with pytest.raises(RemediationFailedError):
            handler(config_event(name), CTX)
    finally:
        client.meta.events.unregister("after-call.iam.PutRolePolicy", unique_id="edit")
    [record] = list_records(factory, resource_id=name)
    assert "changed while the fix ran" in record["error"]
    assert env(factory, name) == edited and vault(factory, name) == secret_part(original)


# ------------------------------------------------------------ the event files


@pytest.fixture
def billing_worker(factory):
    """The function the sample events name, fresh for each test."""
    name = "billing-worker"
    factory.client("lambda").delete_function(FunctionName=name) if _exists(factory, name) else None
    client = factory.client("secretsmanager")
    if vault(factory, name) is not None:
        client.delete_secret(SecretId=f"configguard/lambda/{name}", ForceDeleteWithoutRecovery=True)
    return seed(factory, name)


def _exists(factory, name: str) -> bool:
    try:
        factory.client("lambda").get_function(FunctionName=name)
    except factory.client("lambda").exceptions.ResourceNotFoundException:
        return False
    return True


def test_config_event_file_and_the_paired_rule(standin, factory, billing_worker, replace_mode):
    assert rule_verdict(standin, factory, "billing-worker")[0] == "NON_COMPLIANT"
    record = run(load_event("strip_env_secrets/config-compliance-change.json"))
    assert (record["outcome"], record["source"]) == ("applied", "config")
    assert rule_verdict(standin, factory, "billing-worker")[0] == "COMPLIANT"


def test_vault_mode_leaves_the_rule_noncompliant_by_design(standin, factory, billing_worker):
    record = run(load_event("strip_env_secrets/securityhub-custom-action.json"))
    assert (record["outcome"], record["source"]) == ("applied", "securityhub")
    verdict, note = rule_verdict(standin, factory, "billing-worker")
    assert verdict == "NON_COMPLIANT" and "API_TOKEN" in note


def test_cli_event_file_carries_actor_and_reason(factory, billing_worker):
    record = run(load_event("strip_env_secrets/cli-fix-request.json"))
    assert (record["outcome"], record["actor"], record["source"]) == ("applied", "alice", "cli")
    assert vault(factory, "billing-worker") == secret_part(billing_worker)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda e: e["detail"]["newEvaluationResult"].update(complianceType="COMPLIANT"),
            "not NON_COMPLIANT",
        ),
        (lambda e: e["detail"].update(configRuleName="lambda-inside-vpc"), "does not fix rule"),
        (lambda e: e["detail"].update(resourceType="AWS::KMS::Key"), "does not fix"),
        (lambda e: e.update(source="aws.s3"), "unsupported trigger"),
        (lambda e: e.pop("detail"), "not an EventBridge event"),
    ],
)
def test_invalid_triggers_are_rejected(factory, mutate, message):
    event = copy.deepcopy(load_event("strip_env_secrets/config-compliance-change.json"))
    event["detail"]["resourceId"] = "invalid-trigger"
    mutate(event)
    with pytest.raises(InvalidTriggerError, match=message):
        handler(event, CTX)
    assert list_records(factory, resource_id="invalid-trigger") == []


# ------------------------------------------------------------------- rollback


def test_rollback_of_replace_needs_restore_plaintext_then_restores_and_verifies(
    factory, replace_mode
):
    name = "rollback-replace"
    original = seed(factory, name)
    applied = run(config_event(name))
    arn = applied["details"]["secretArn"]
    refused = rollback(factory, applied["audit_id"])
    assert refused["outcome"] == "refused"
    assert arn in refused["reason"] and "--restore-plaintext" in refused["reason"]
    assert env(factory, name) == replaced_form(original, arn)
    restored = rollback(factory, applied["audit_id"], restore=True)
    assert restored["outcome"] == "applied", restored
    assert restored["related_audit_id"] == applied["audit_id"]
    assert restored["after"]["restoredVariables"] == sorted(SECRET_NAMES)
    assert env(factory, name) == original
    assert vault(factory, name) == secret_part(original)  # the secret stays
    assert tags(factory, name)[settings.LAST_REMEDIATION_TAG] == restored["audit_id"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"API_TOKEN": "re-set by hand"}, "API_TOKEN are not emptied"),
        ({"EXTRA": "1"}, "added EXTRA"),
        ({"API_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:x"}, "do not name"),
    ],
)
def test_rollback_refused_when_the_environment_changed_since(
    factory, replace_mode, change, message
):
    name = f"rollback-changed-{sorted(change)[0].lower().replace('_', '-')}"
    seed(factory, name)
    applied = run(config_event(name))
    changed = {**env(factory, name), **change}
    factory.client("lambda").update_function_configuration(
        FunctionName=name, Environment={"Variables": changed}
    )
    refused = rollback(factory, applied["audit_id"], restore=True)
    assert refused["outcome"] == "refused" and "changed since" in refused["reason"]
    assert message in refused["reason"]
    assert env(factory, name) == changed


def test_rollback_of_vault_mode_is_refused(factory):
    name = "rollback-vault"
    original = seed(factory, name)
    applied = run(config_event(name))
    refused = rollback(factory, applied["audit_id"], restore=True)
    assert refused["outcome"] == "refused"
    assert "Vault mode changed no variables" in refused["reason"]
    assert applied["details"]["secretArn"] in refused["reason"]
    assert env(factory, name) == original and vault(factory, name) == secret_part(original)


# -------------------------------------------------------------- no value leaks


def _texts_of(exc: BaseException) -> list[str]:
    texts = []
    seen: BaseException | None = exc
    while seen is not None:
        texts += [str(seen), repr(seen)]
        # Stricter than a traceback: suppressed contexts are searched too.
        seen = seen.__cause__ or seen.__context__
    return texts


def test_no_canary_value_reaches_any_output(
    standin, factory, monkeypatch, hub, oncall, log_output, capfd
):
    outputs: list[str] = []
    planted: list[str] = []

    def plant(name: str, mode: str, tags: dict[str, str] | None = None) -> dict[str, str]:
        variables = seed(factory, name, tags={MODE_TAG: mode, **(tags or {})})
        planted.extend(variables[k] for k in SECRET_NAMES)
        planted.append(json.loads(variables["DB_CONFIG"])["password"])
        import_finding(hub, name)
        return variables

    def attempt(event: dict) -> dict | None:
        try:
            result = handler(event, CTX)
        except Exception as exc:
            outputs.extend(_texts_of(exc))
            return None
        outputs.append(json.dumps(result))
        return dict(result["results"][0])

    # dry-run, vault apply (and a repeat), replace apply, both rollbacks of each
    plant("canary-dry", "replace")
    attempt(cli_event("canary-dry", dry_run=True))
    plant("canary-vault", "vault")
    vaulted = attempt(config_event("canary-vault"))
    attempt(config_event("canary-vault"))
    for restore in (False, True):
        attempt(rollback_request_event(vaulted, actor="bob", restore_plaintext=restore))
    original = plant("canary-replace", "replace")
    replaced = attempt(config_event("canary-replace"))
    for restore in (False, True):
        attempt(rollback_request_event(replaced, actor="bob", restore_plaintext=restore))
    assert env(factory, "canary-replace") == original
    # failure paths: an AWS error that echoes the environment, an ignored update, a refusal
    echoed = plant("canary-echo", "replace")
    with inject_error(
        factory.client("lambda"),
        "UpdateFunctionConfiguration",
        "InvalidParameterValueException",
        message=f"Environment too large. String measured: {json.dumps(echoed)}",
    ):
        attempt(config_event("canary-echo"))
    plant("canary-ignored", "replace")
    with swallow_call(factory.client("lambda"), "UpdateFunctionConfiguration", {}):
        attempt(config_event("canary-ignored"))
    plant("canary-bad-tag", "shred")
    attempt(config_event("canary-bad-tag"))

    outcomes = [json.loads(o)["results"][0]["outcome"] for o in outputs if o.startswith("{")]
    assert outcomes.count("applied") == 3 and outcomes.count("dry-run") == 1
    table = settings.require(settings.AUDIT_TABLE)
    items = factory.client("dynamodb").scan(TableName=table)["Items"]
    outputs.append(json.dumps(items))
    outputs.extend(oncall())
    outputs.append(log_output.getvalue())
    captured = capfd.readouterr()
    outputs += [captured.out, captured.err]
    found = hub.get_findings()["Findings"]
    notes = [f.get("Note", {}).get("Text", "") for f in found if "canary" in f["Id"]]
    assert any("applied" in n for n in notes)
    outputs.append(json.dumps(found, default=str))
    blob = "\n".join(outputs)
    assert len(planted) == 6 * 5
    for value in planted:
        assert value not in blob
        assert value[:12] not in blob and value[-12:] not in blob
