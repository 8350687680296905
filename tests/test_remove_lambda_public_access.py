"""Scenarios of remediations/remove_lambda_public_access.py, through its real handler.

One stand-in reset for the module: every test uses its own function names.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections import Counter
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
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

FIX = "remove-lambda-public-access"
RULE = "lambda-public-access-prohibited"
fix_module = remediation_module(FIX)
handler = fix_module.lambda_handler
CTX = lambda_context(f"configguard-{FIX}")
EVENTS = "remove_lambda_public_access"
OTHER = "111122223333"
URL_GRANT = "FunctionURLAllowPublicAccess"
URL_COMPANION = "FunctionURLAllowInvokeAction"


@pytest.fixture(scope="module")
def standin(module_standin):
    return module_standin


@pytest.fixture(scope="module")
def factory(module_factory):
    return module_factory


def arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def function(factory, name: str, **kwargs: Any) -> None:
    make_function(factory, name, **kwargs)


def grant(factory, name: str, sid: str, **kwargs: Any) -> None:
    kwargs.setdefault("Action", "lambda:InvokeFunction")
    factory.client("lambda").add_permission(FunctionName=name, StatementId=sid, **kwargs)


def public_url(factory, name: str, companion: bool = True, auth: str = "NONE") -> None:
    """A function URL and the grant(s) AWS adds for a public (NONE-auth) URL."""
    factory.client("lambda").create_function_url_config(FunctionName=name, AuthType=auth)
    grant(
        factory,
        name,
        URL_GRANT,
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    if companion:
        grant(factory, name, URL_COMPANION, Principal="*", InvokedViaFunctionUrl=True)


def policy(factory, name: str) -> list[dict]:
    try:
        raw = factory.client("lambda").get_policy(FunctionName=name)["Policy"]
    except factory.client("lambda").exceptions.ResourceNotFoundException:
        return []
    return json.loads(raw)["Statement"]


def sids(factory, name: str) -> list[str]:
    return [s["Sid"] for s in policy(factory, name)]


def url_auth(factory, name: str) -> str:
    return factory.client("lambda").get_function_url_config(FunctionName=name)["AuthType"]


def cli_event(name: str) -> dict:
    event = load_event(f"{EVENTS}/cli-fix-request.json")
    event["id"] = f"fix-{name}"
    event["detail"]["resourceId"] = name
    return event


def run(event: dict) -> dict:
    results = handler(event, CTX)["results"]
    assert len(results) == 1
    return results[0]


def rollback(record: dict) -> dict:
    event = rollback_request_event(record, actor="carol", reason="INC-5102 revert")
    (result,) = handler(event, CTX)["results"]
    return result


def test_removes_only_public_statements_and_others_survive_byte_for_byte(standin, factory):
    function(factory, "pub-mixed")
    grant(factory, "pub-mixed", "same-account", Principal=ACCOUNT)
    grant(factory, "pub-mixed", "pub", Principal="*")
    grant(factory, "pub-mixed", "org-only", Principal="*", PrincipalOrgID="o-a1b2c3d4e5")
    grant(
        factory,
        "pub-mixed",
        "s3-scoped",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::orders-uploads",
        SourceAccount=ACCOUNT,
    )
    grant(factory, "pub-mixed", "partner-read", Action="lambda:GetFunction", Principal=OTHER)
    before = policy(factory, "pub-mixed")
    survivors = [json.dumps(s) for s in before if s["Sid"] != "pub"]
    calls = CallCounter(factory.client("lambda"))
    record = run(cli_event("pub-mixed"))
    calls.close()
    assert record["outcome"] == "applied", record
    assert record["action"] == "RemovePermission pub"
    assert record["before"] == {"publicStatements": ["pub"], "functionUrlAuthType": None}
    assert record["after"] == {"publicStatements": [], "functionUrlAuthType": None}
    assert record["details"]["removedStatements"] == [s for s in before if s["Sid"] == "pub"]
    assert [json.dumps(s) for s in policy(factory, "pub-mixed")] == survivors
    tags = factory.client("lambda").list_tags(Resource=arn("pub-mixed"))["Tags"]
    assert tags[settings.LAST_REMEDIATION_TAG] == record["audit_id"]
    assert Counter(calls.calls) == Counter(
        {
            "GetFunction": 2,
            "GetPolicy": 4,
            "GetFunctionUrlConfig": 2,
            "RemovePermission": 1,
            "TagResource": 1,
        }
    )


def test_s3_grant_without_source_account_is_removed(standin, factory):
    function(factory, "pub-s3")
    grant(factory, "pub-s3", "s3-any", Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::b")
    grant(
        factory,
        "pub-s3",
        "sns",
        Principal="sns.amazonaws.com",
        SourceArn=f"arn:aws:sns:{REGION}:{ACCOUNT}:t",
    )
    record = run(cli_event("pub-s3"))
    assert record["outcome"] == "applied" and record["action"] == "RemovePermission s3-any"
    assert sids(factory, "pub-s3") == ["sns"]


def test_dry_run_mode_changes_nothing(standin, factory, monkeypatch):
    function(factory, "pub-dry")
    grant(factory, "pub-dry", "pub", Principal="*")
    monkeypatch.setenv(settings.REMEDIATION_MODE, "dry-run")
    record = run(cli_event("pub-dry"))
    assert record["outcome"] == "dry-run" and "would RemovePermission pub" in record["reason"]
    assert sids(factory, "pub-dry") == ["pub"]


def test_opt_out_tag_is_honoured(standin, factory):
    function(factory, "pub-optout", tags={"configguard:auto-remediate": "false"})
    grant(factory, "pub-optout", "pub", Principal="*")
    record = run(cli_event("pub-optout"))
    assert record["outcome"] == "skipped" and "opted out" in record["reason"]
    assert sids(factory, "pub-optout") == ["pub"]


@pytest.mark.parametrize("with_policy", [False, True])
def test_function_without_public_statements_is_skipped(standin, factory, with_policy):
    name = f"pub-clean-{with_policy}".lower()
    function(factory, name)
    if with_policy:
        grant(factory, name, "partner", Principal=OTHER)
    record = run(cli_event(name))
    assert record["outcome"] == "skipped" and "already compliant" in record["reason"]


def test_none_url_is_switched_to_aws_iam_when_allowed(standin, factory, monkeypatch):
    monkeypatch.setenv(settings.FIX_FUNCTION_URL_AUTH, "true")
    function(factory, "pub-url-fix")
    public_url(factory, "pub-url-fix")
    grant(factory, "pub-url-fix", "partner", Principal=OTHER)
    record = run(cli_event("pub-url-fix"))
    assert record["outcome"] == "applied", record
    assert record["action"] == (
        f"UpdateFunctionUrlConfig AuthType AWS_IAM; then RemovePermission {URL_GRANT}, "
        f"{URL_COMPANION}"
    )
    assert record["after"] == {"publicStatements": [], "functionUrlAuthType": "AWS_IAM"}
    assert url_auth(factory, "pub-url-fix") == "AWS_IAM"
    assert sids(factory, "pub-url-fix") == ["partner"]


def test_none_url_alone_is_refused_naming_the_flag(standin, factory):
    function(factory, "pub-url-only")
    public_url(factory, "pub-url-only")
    record = run(cli_event("pub-url-only"))
    assert record["outcome"] == "refused"
    assert settings.FIX_FUNCTION_URL_AUTH in record["reason"]
    assert URL_GRANT in record["reason"] and URL_COMPANION in record["reason"]
    assert url_auth(factory, "pub-url-only") == "NONE"
    assert sids(factory, "pub-url-only") == [URL_GRANT, URL_COMPANION]


def test_none_url_stays_while_other_public_statements_go(standin, factory):
    function(factory, "pub-url-mixed")
    public_url(factory, "pub-url-mixed", companion=False)
    grant(factory, "pub-url-mixed", "pub", Principal="*")
    record = run(cli_event("pub-url-mixed"))
    assert record["outcome"] == "applied", record
    assert record["after"] == {"publicStatements": [URL_GRANT], "functionUrlAuthType": "NONE"}
    assert any(settings.FIX_FUNCTION_URL_AUTH in note for note in record["notes"])
    assert sids(factory, "pub-url-mixed") == [URL_GRANT]
    assert url_auth(factory, "pub-url-mixed") == "NONE"
    # The next trigger finds the URL to be the only problem left: refused, naming the flag.
    again = run(cli_event("pub-url-mixed") | {"time": "2026-11-21T11:00:00Z"})
    assert again["outcome"] == "refused" and settings.FIX_FUNCTION_URL_AUTH in again["reason"]


def test_stale_none_grant_on_an_aws_iam_url_is_removed(standin, factory):
    function(factory, "pub-url-stale")
    public_url(factory, "pub-url-stale", companion=False, auth="AWS_IAM")
    record = run(cli_event("pub-url-stale"))
    assert record["outcome"] == "applied" and record["action"] == f"RemovePermission {URL_GRANT}"
    assert sids(factory, "pub-url-stale") == []
    assert url_auth(factory, "pub-url-stale") == "AWS_IAM"


def test_statement_changed_after_the_plan_is_refused_before_any_removal(standin, factory):
    function(factory, "pub-race")
    grant(factory, "pub-race", "pub", Principal="*")
    grant(factory, "pub-race", "pub2", Principal="*")
    lam = factory.client("lambda")
    other = standin.client("lambda")
    seen = {"GetPolicy": 0}

    def edit_between_plan_and_apply(**_: Any) -> None:
        seen["GetPolicy"] += 1
        if seen["GetPolicy"] == 2:  # the re-read at the start of apply
            other.remove_permission(FunctionName="pub-race", StatementId="pub2")
            other.add_permission(
                FunctionName="pub-race",
                StatementId="pub2",
                Action="lambda:GetFunction",
                Principal="*",
            )

    lam.meta.events.register(
        "before-call.lambda.GetPolicy", edit_between_plan_and_apply, unique_id="race"
    )
    try:
        record = run(cli_event("pub-race"))
    finally:
        lam.meta.events.unregister("before-call.lambda.GetPolicy", unique_id="race")
    assert record["outcome"] == "refused"
    assert "pub2 changed since they were read; nothing was removed" in record["reason"]
    assert sids(factory, "pub-race") == ["pub", "pub2"]


def test_removal_that_does_not_take_effect_fails(standin, factory):
    function(factory, "pub-swallowed")
    grant(factory, "pub-swallowed", "pub", Principal="*")
    with (
        swallow_call(factory.client("lambda"), "RemovePermission", {}) as seen,
        pytest.raises(RemediationFailedError, match="failed on"),
    ):
        handler(cli_event("pub-swallowed"), CTX)
    assert seen == ["RemovePermission"]
    [record] = list_records(factory, resource_id="pub-swallowed")
    assert record["outcome"] == "failed" and "pub still present" in record["error"]


def url_fix(factory, monkeypatch, name: str) -> None:
    """A public NONE-auth URL with AWS's two grants, and the flag that lets the fix act."""
    monkeypatch.setenv(settings.FIX_FUNCTION_URL_AUTH, "true")
    function(factory, name)
    public_url(factory, name)


def test_a_failed_second_removal_restores_the_first_and_the_url(standin, factory, monkeypatch):
    url_fix(factory, monkeypatch, "pub-half-way")
    before = policy(factory, "pub-half-way")
    with (
        inject_error(
            factory.client("lambda"), "RemovePermission", "AccessDeniedException", 403, skip=1
        ) as seen,
        pytest.raises(RemediationFailedError, match="resource unchanged"),
    ):
        handler(cli_event("pub-half-way"), CTX)
    assert seen == ["RemovePermission"]  # the first removal went through
    [record] = list_records(factory, resource_id="pub-half-way")
    assert record["outcome"] == "failed" and record["resource_state"] == "unchanged"
    undone = [n for n in record["notes"] if n.startswith("After the failure")]
    assert undone == [
        f"After the failure, what was already changed was undone: re-added {URL_GRANT}; "
        "URL AuthType back to NONE."
    ]
    assert sorted(sids(factory, "pub-half-way")) == sorted(s["Sid"] for s in before)
    assert url_auth(factory, "pub-half-way") == "NONE"
    assert run(cli_event("pub-half-way"))["outcome"] == "applied"


def test_a_removal_whose_statement_is_already_gone_counts_as_removed(standin, factory, monkeypatch):
    url_fix(factory, monkeypatch, "pub-lost-answer")
    lam = factory.client("lambda")

    def first_attempt_went_through(params: dict, **_: Any) -> tuple:
        # The answer of the first attempt was lost; botocore's retry finds it done.
        sid = params["url_path"].rsplit("/", 1)[-1].split("?")[0]
        standin.client("lambda").remove_permission(FunctionName="pub-lost-answer", StatementId=sid)
        answer = {"Error": {"Code": "ResourceNotFoundException", "Message": "no statement"}}
        return AWSResponse("http://stand-in", 404, {}, None), answer

    lam.meta.events.register(
        "before-call.lambda.RemovePermission", first_attempt_went_through, unique_id="lost"
    )
    try:
        record = run(cli_event("pub-lost-answer"))
    finally:
        lam.meta.events.unregister("before-call.lambda.RemovePermission", unique_id="lost")
    assert record["outcome"] == "applied", record
    assert sids(factory, "pub-lost-answer") == []
    assert url_auth(factory, "pub-lost-answer") == "AWS_IAM"


def test_a_partial_change_that_cannot_be_undone_is_said_loudly(standin, factory, monkeypatch):
    url_fix(factory, monkeypatch, "pub-partial")
    lam = factory.client("lambda")
    with (
        inject_error(lam, "RemovePermission", "AccessDeniedException", 403, skip=1),
        inject_error(lam, "AddPermission", "AccessDeniedException", 403),
        pytest.raises(RemediationFailedError, match="resource partial"),
    ):
        handler(cli_event("pub-partial"), CTX)
    [record] = list_records(factory, resource_id="pub-partial")
    assert record["outcome"] == "failed" and record["resource_state"] == "partial"
    assert record["reason"] == "PARTIAL CHANGE: the change failed half-way; a person must look."
    assert record["error"].startswith("PARTIAL CHANGE left behind. ClientError: ")
    assert f"Re-adding statement {URL_GRANT} failed (AccessDeniedException)." in record["notes"]
    [partial] = [n for n in record["notes"] if n.startswith("PARTIAL CHANGE")]
    assert "publicStatements is [" in partial and "A person must finish or undo it." in partial
    assert sids(factory, "pub-partial") == [URL_COMPANION]
    assert url_auth(factory, "pub-partial") == "NONE"  # the URL was restored


def test_deleted_function_is_skipped(standin, factory):
    record = run(cli_event("pub-gone"))
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
        (lambda e: e["detail"].pop("resourceId"), "malformed compliance-change"),
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
        lam.delete_function(FunctionName="public-webhook")
    function(factory, "public-webhook")
    grant(factory, "public-webhook", "pub", Principal="*")
    record = run(load_event(f"{EVENTS}/{file}"))
    assert (record["outcome"], record["source"]) == ("applied", source)
    assert sids(factory, "public-webhook") == []


def test_rule_is_compliant_after_the_fix(standin, factory):
    function(factory, "pub-rule")
    grant(factory, "pub-rule", "pub", Principal="*")
    grant(factory, "pub-rule", "partner", Principal=OTHER)
    rule = rule_module(RULE).lambda_handler
    item = cibuilder.read(factory, "AWS::Lambda::Function", "pub-rule")
    rule(change_event(standin, RULE, item), lambda_context(f"configguard-{RULE}"))
    assert stored_results(factory, RULE)["pub-rule"][0] == "NON_COMPLIANT"
    assert run(cli_event("pub-rule"))["outcome"] == "applied"
    item = cibuilder.read(factory, "AWS::Lambda::Function", "pub-rule")
    rule(change_event(standin, RULE, item), lambda_context(f"configguard-{RULE}"))
    assert stored_results(factory, RULE)["pub-rule"][0] == "COMPLIANT"


def test_rollback_re_adds_statements_and_restores_the_url(standin, factory, monkeypatch):
    monkeypatch.setenv(settings.FIX_FUNCTION_URL_AUTH, "true")
    function(factory, "pub-undo")
    public_url(factory, "pub-undo")
    grant(
        factory,
        "pub-undo",
        "s3-any",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::uploads",
    )
    before = policy(factory, "pub-undo")
    applied = run(cli_event("pub-undo"))
    assert applied["outcome"] == "applied" and sids(factory, "pub-undo") == []
    undone = rollback(applied)
    assert undone["outcome"] == "applied", undone
    assert undone["action"] == (
        f"rollback: AddPermission {URL_GRANT}, {URL_COMPANION}, s3-any; then "
        "UpdateFunctionUrlConfig AuthType NONE (re-opens public access)"
    )
    assert policy(factory, "pub-undo") == before
    assert url_auth(factory, "pub-undo") == "NONE"


def test_rollback_is_refused_when_changed_since(standin, factory, monkeypatch):
    monkeypatch.setenv(settings.FIX_FUNCTION_URL_AUTH, "true")
    function(factory, "pub-moved")
    grant(factory, "pub-moved", "pub", Principal="*")
    first = run(cli_event("pub-moved"))
    grant(factory, "pub-moved", "pub", Principal=OTHER)  # the Sid is back, differently
    refused = rollback(first)
    assert refused["outcome"] == "refused" and "pub exist again" in refused["reason"]

    function(factory, "pub-url-moved")
    public_url(factory, "pub-url-moved", companion=False)
    second = run(cli_event("pub-url-moved"))
    factory.client("lambda").delete_function_url_config(FunctionName="pub-url-moved")
    refused = rollback(second)
    assert refused["outcome"] == "refused" and "AuthType is now None" in refused["reason"]
    assert sids(factory, "pub-url-moved") == []


def test_rollback_is_refused_for_a_statement_addpermission_cannot_express(standin, factory):
    function(factory, "pub-odd")
    grant(factory, "pub-odd", "pub", Principal="*")
    applied = run(cli_event("pub-odd"))
    # A record of a statement Lambda holds but AddPermission cannot write back (two actions).
    dynamodb = factory.client("dynamodb")
    table = settings.require(settings.AUDIT_TABLE)
    item = dynamodb.get_item(TableName=table, Key={"AuditId": {"S": applied["audit_id"]}})["Item"]
    stored = json.loads(item["Record"]["S"])
    stored["details"]["removedStatements"][0]["Action"] = [
        "lambda:InvokeFunction",
        "lambda:GetFunction",
    ]
    item["Record"]["S"] = json.dumps(stored)
    dynamodb.put_item(TableName=table, Item=item)
    refused = rollback(applied)
    assert refused["outcome"] == "refused"
    assert (
        "AddPermission cannot recreate statement(s) pub (not exactly one lambda: action)"
        in (refused["reason"])
    )
    assert sids(factory, "pub-odd") == []


FN_ARN = arn("f")


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            {"Sid": "a", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
             "Action": "lambda:InvokeFunction", "Resource": FN_ARN},
            {"StatementId": "a", "Action": "lambda:InvokeFunction", "Principal": OTHER},
        ),
        (
            {"Sid": "b", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction",
             "Resource": FN_ARN, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}},
            {"StatementId": "b", "Action": "lambda:InvokeFunction", "Principal": "*",
             "PrincipalOrgID": "o-1"},
        ),
        (
            {"Sid": "c", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction",
             "Resource": FN_ARN, "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}},
            {"StatementId": "c", "Action": "lambda:InvokeFunction", "Principal": "*",
             "InvokedViaFunctionUrl": True},
        ),
    ],
)  # fmt: skip
def test_add_permission_args_expressible(statement, expected):
    assert fix_module.add_permission_args(statement, FN_ARN) == expected


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"Resource": FN_ARN + ":prod"}, "unqualified"),
        ({"Effect": "Deny"}, "Allow"),
        ({"Principal": {"AWS": ["1", "2"]}}, "one principal"),
        ({"Principal": {"Federated": "x"}}, "federated"),
        ({"Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}, "ipaddress"),
        (
            {"Condition": {"StringEquals": {"lambda:EventSourceToken": "***REDACTED***"}}},
            "redacted",
        ),
        ({"Sid": ""}, "Sid"),
    ],
)
def test_add_permission_args_unexpressible(change, problem):
    statement = {
        "Sid": "x",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "lambda:InvokeFunction",
        "Resource": FN_ARN,
    }
    with pytest.raises(ValueError, match=problem):
        fix_module.add_permission_args(statement | change, FN_ARN)


def test_public_statement_without_sid_is_refused():
    state = fix_module.PolicyState(
        name="f",
        arn=FN_ARN,
        policy={"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "lambda:*"}]},
        url_auth_type=None,
        tags={},
    )
    with pytest.raises(Refusal, match="no Sid"):
        fix_module.decide(state, fix_url=False)
