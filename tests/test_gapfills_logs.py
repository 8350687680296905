"""Gap-fill (l) CloudWatch Logs AssociateKmsKey / DisassociateKmsKey, exercised through the
stand-in's API as the fixes and rules use it (DescribeLogGroups reads the key back)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError
from conftest import fresh_standin

from configguard.clients import ClientFactory, default_factory


@pytest.fixture(scope="module")
def module_factory(standin_server) -> Iterator[ClientFactory]:
    """One reset for the module: every test creates its own groups and keys."""
    with fresh_standin(standin_server):
        yield default_factory()


@pytest.fixture
def logs(module_factory):
    return module_factory.client("logs")


@pytest.fixture
def kms(module_factory):
    return module_factory.client("kms")


def kms_key_id(logs, name: str) -> str | None:
    groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    [group] = [g for g in groups if g["logGroupName"] == name]
    return group.get("kmsKeyId")


def error_code(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def test_associate_sets_the_key_and_disassociate_removes_it(logs, kms):
    key = kms.create_key()["KeyMetadata"]
    logs.create_log_group(logGroupName="/gap/assoc")
    logs.associate_kms_key(logGroupName="/gap/assoc", kmsKeyId=key["Arn"])
    assert kms_key_id(logs, "/gap/assoc") == key["Arn"]
    logs.disassociate_kms_key(logGroupName="/gap/assoc")
    assert kms_key_id(logs, "/gap/assoc") is None


def test_associating_another_key_replaces_the_association(logs, kms):
    first, second = (kms.create_key()["KeyMetadata"]["Arn"] for _ in range(2))
    logs.create_log_group(logGroupName="/gap/replace", kmsKeyId=first)
    logs.associate_kms_key(logGroupName="/gap/replace", kmsKeyId=second)
    assert kms_key_id(logs, "/gap/replace") == second


def test_unknown_log_group_is_resource_not_found(logs, kms):
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    assert error_code(
        lambda: logs.associate_kms_key(logGroupName="/gap/missing", kmsKeyId=arn)
    ) == ("ResourceNotFoundException")
    assert error_code(lambda: logs.disassociate_kms_key(logGroupName="/gap/missing")) == (
        "ResourceNotFoundException"
    )


def test_a_key_id_or_alias_instead_of_a_key_arn_is_invalid(logs, kms):
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/gap-logs", TargetKeyId=key["KeyId"])
    logs.create_log_group(logGroupName="/gap/shape")
    alias_arn = key["Arn"].replace(f"key/{key['KeyId']}", "alias/gap-logs")
    for value in (key["KeyId"], "alias/gap-logs", alias_arn):
        code = error_code(
            lambda v=value: logs.associate_kms_key(logGroupName="/gap/shape", kmsKeyId=v)
        )
        assert code == "InvalidParameterException", value
    assert kms_key_id(logs, "/gap/shape") is None


def test_unknown_disabled_or_asymmetric_keys_are_invalid(logs, kms):
    logs.create_log_group(logGroupName="/gap/unusable")
    disabled = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=disabled["KeyId"])
    signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    unknown = disabled["Arn"].replace(disabled["KeyId"], "00000000-0000-4000-8000-000000000000")
    for arn in (unknown, disabled["Arn"], signing["Arn"]):
        code = error_code(
            lambda a=arn: logs.associate_kms_key(logGroupName="/gap/unusable", kmsKeyId=a)
        )
        assert code == "InvalidParameterException", arn
    assert kms_key_id(logs, "/gap/unusable") is None
