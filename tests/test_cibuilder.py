"""configguard.cibuilder.ci_value: one accessor for nested, possibly JSON-string CI values."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

from configguard.cibuilder import MISSING, ci_value

SUBNETS = ["subnet-1", "subnet-2"]


def test_walks_nested_dicts():
    ci = {"configuration": {"vpcConfig": {"subnetIds": SUBNETS}}}
    assert ci_value(ci, "configuration", "vpcConfig", "subnetIds") == SUBNETS
    assert ci_value(ci, "configuration", "vpcConfig") == {"subnetIds": SUBNETS}


def test_no_path_is_the_item_itself():
    ci = {"resourceId": "fn"}
    assert ci_value(ci) is ci


@pytest.mark.parametrize(
    "ci",
    [
        {"configuration": json.dumps({"vpcConfig": {"subnetIds": SUBNETS}})},
        {"configuration": {"vpcConfig": json.dumps({"subnetIds": SUBNETS})}},
        {"configuration": {"vpcConfig": {"subnetIds": json.dumps(SUBNETS)}}},
        {"configuration": json.dumps({"vpcConfig": json.dumps({"subnetIds": SUBNETS})})},
        {"configuration": "  " + json.dumps({"vpcConfig": {"subnetIds": SUBNETS}}) + "\n"},
    ],
)
def test_json_string_levels_are_parsed(ci):
    assert ci_value(ci, "configuration", "vpcConfig", "subnetIds") == SUBNETS


def test_supplementary_json_string():
    ci = {"supplementaryConfiguration": {"Concurrency": '{"reservedConcurrentExecutions": 10}'}}
    path = ("supplementaryConfiguration", "Concurrency", "reservedConcurrentExecutions")
    assert ci_value(ci, *path) == 10


def test_plain_strings_are_not_parsed():
    ci = {"configuration": {"runtime": "python3.13", "role": " arn:aws:iam::1:role/r "}}
    assert ci_value(ci, "configuration", "runtime") == "python3.13"
    assert ci_value(ci, "configuration", "role") == " arn:aws:iam::1:role/r "


def test_explicit_null_is_none_not_missing():
    ci = {"configuration": {"deadLetterConfig": None, "kmskeyArn": "null"}}
    assert ci_value(ci, "configuration", "deadLetterConfig") is None
    assert ci_value(ci, "configuration", "kmskeyArn") == "null"  # only {...}/[...] is parsed
    assert ci_value({"configuration": '{"kmskeyArn": null}'}, "configuration", "kmskeyArn") is None


@pytest.mark.parametrize(
    ("ci", "path"),
    [
        ({}, ("configuration",)),
        ({"configuration": {}}, ("configuration", "vpcConfig")),
        ({"configuration": {"vpcConfig": {}}}, ("configuration", "vpcConfig", "subnetIds")),
        ({"configuration": {"other": 1}}, ("configuration", "vpcConfig", "subnetIds")),
    ],
)
def test_absent_key_is_missing(ci, path):
    assert ci_value(ci, *path) is MISSING


@pytest.mark.parametrize(
    "intermediate",
    [None, "", "python3.13", 7, ["subnet-1"], '["a", "b"]', "[]"],
)
def test_non_mapping_intermediate_is_missing(intermediate):
    ci = {"configuration": {"vpcConfig": intermediate}}
    assert ci_value(ci, "configuration", "vpcConfig", "subnetIds") is MISSING


def test_bad_json_names_the_path_without_the_value():
    secret = "hunter2-do-not-log"
    ci = {"configuration": {"vpcConfig": '{"subnetIds": ["' + secret + '", }'}}
    with pytest.raises(ValueError, match=r"configuration\.vpcConfig") as caught:
        ci_value(ci, "configuration", "vpcConfig", "subnetIds")
    error = caught.value
    assert not isinstance(error, json.JSONDecodeError)
    assert secret not in str(error)
    assert secret not in repr(error)
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_bad_json_at_the_first_level_names_that_level():
    with pytest.raises(ValueError, match=r"at configuration looks like JSON"):
        ci_value({"configuration": "{not json"}, "configuration", "runtime")


def test_missing_sentinel():
    assert repr(MISSING) == "MISSING"
    assert not MISSING
    assert MISSING is not None
    assert copy.copy(MISSING) is MISSING
    assert copy.deepcopy(MISSING) is MISSING
    assert pickle.loads(pickle.dumps(MISSING)) is MISSING  # noqa: S301 - our own bytes
