"""The Security Hub part of a fix's audit note, and the BatchUpdateFindings gap-fill.

Findings are imported into the stand-in with the shape AWS Config's integration uses,
then the real fix handler runs and the findings are read back.
"""

from __future__ import annotations

import copy

import conftest
import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, REGION, lambda_context, load_event, make_function
from faults import inject_error, swallow_call

from configguard.findings import note_text
from configguard.remediation import RemediationFailedError
from configguard_cli.handlers import remediation_module

FIX = "add-concurrency-limit"
handler = remediation_module(FIX).lambda_handler
CTX = lambda_context(f"configguard-{FIX}")
FN = "orders-api"
PRODUCT = f"arn:aws:securityhub:{REGION}::product/aws/config"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FN}"


def config_finding(
    finding_id: str, rule: str = "lambda-reserved-concurrency", resource: str = FUNCTION_ARN
) -> dict:
    return conftest.config_finding(finding_id, rule, resource, PRODUCT)


@pytest.fixture
def hub(factory):
    client = factory.client("securityhub")
    client.enable_security_hub()
    return client


def findings(hub) -> dict[str, dict]:
    return {f["Id"]: f for f in hub.get_findings()["Findings"]}


def run(event: dict) -> dict:
    (result,) = handler(event, CTX)["results"]
    return result


def config_event() -> dict:
    return load_event("add_concurrency_limit/config-compliance-change.json")


# ----------------------------------------------------------------------- the engine


def test_applied_fix_resolves_the_finding_with_a_note(standin, factory, hub):
    make_function(factory, FN)
    hub.batch_import_findings(Findings=[config_finding("f-1")])
    record = run(config_event())
    assert record["outcome"] == "applied"
    finding = findings(hub)["f-1"]
    assert finding["Workflow"]["Status"] == "RESOLVED"
    assert finding["Note"]["UpdatedBy"] == "configguard"
    assert record["audit_id"] in finding["Note"]["Text"]
    assert "verified compliant" in finding["Note"]["Text"]
    assert "Security Hub: 1 finding(s) RESOLVED" in record["notes"]


def test_custom_action_findings_are_the_ones_updated(standin, factory, hub):
    event = load_event("add_concurrency_limit/securityhub-custom-action.json")
    (finding,) = copy.deepcopy(event["detail"]["findings"])
    finding.update(SchemaVersion="2018-10-08", Workflow={"Status": "NEW"})
    finding.setdefault("Types", ["Software and Configuration Checks"])
    hub.batch_import_findings(Findings=[finding])
    make_function(factory, FN)
    assert run(event)["outcome"] == "applied"
    assert findings(hub)[finding["Id"]]["Workflow"]["Status"] == "RESOLVED"


def test_other_rules_and_resources_are_left_alone(standin, factory, hub):
    make_function(factory, FN)
    hub.batch_import_findings(
        Findings=[
            config_finding("other-rule", rule="lambda-tracing-active"),
            config_finding("other-resource", resource=FUNCTION_ARN + "-2"),
        ]
    )
    assert run(config_event())["outcome"] == "applied"
    for finding in findings(hub).values():
        assert finding["Workflow"]["Status"] == "NEW" and "Note" not in finding


def test_dry_run_notes_without_changing_the_workflow(standin, factory, hub):
    make_function(factory, FN)
    factory.client("ssm").put_parameter(
        Name=f"/configguard/remediations/{FIX}/mode", Value="dry-run", Type="String"
    )
    hub.batch_import_findings(Findings=[config_finding("f-1")])
    assert run(config_event())["outcome"] == "dry-run"
    finding = findings(hub)["f-1"]
    assert finding["Workflow"]["Status"] == "NEW"
    assert "dry run: would" in finding["Note"]["Text"]


def test_failed_fix_leaves_the_finding_notified_with_the_failure(standin, factory, hub):
    make_function(factory, FN)
    hub.batch_import_findings(Findings=[config_finding("f-1")])
    with (
        swallow_call(factory.client("lambda"), "PutFunctionConcurrency", {}),
        pytest.raises(RemediationFailedError),
    ):
        handler(config_event(), CTX)
    finding = findings(hub)["f-1"]
    assert finding["Workflow"]["Status"] == "NOTIFIED"
    assert "FAILED" in finding["Note"]["Text"] and "verification failed" in finding["Note"]["Text"]


def test_security_hub_trouble_never_blocks_the_fix(standin, factory, hub):
    make_function(factory, FN)
    hub.batch_import_findings(Findings=[config_finding("f-1")])
    with inject_error(hub, "BatchUpdateFindings", "AccessDeniedException", 403):
        record = run(config_event())
    assert record["outcome"] == "applied"
    assert "Security Hub update failed (AccessDeniedException)" in record["notes"]


def test_note_text_is_redacted_and_bounded():
    text = note_text("leaked AKIAABCDEFGHIJKLMNOP in " + "x" * 600)
    assert len(text) <= 512 and "AKIAABCDEFGHIJKLMNOP" not in text


# ------------------------------------------------------------------ the gap-fill


def test_batch_update_sets_workflow_and_replaces_the_note(standin, hub):
    hub.batch_import_findings(Findings=[config_finding("f-1")])
    ids = [{"Id": "f-1", "ProductArn": PRODUCT}]
    hub.batch_update_findings(
        FindingIdentifiers=ids,
        Workflow={"Status": "NOTIFIED"},
        Note={"Text": "a", "UpdatedBy": "u"},
    )
    answer = hub.batch_update_findings(FindingIdentifiers=ids, Note={"Text": "b", "UpdatedBy": "u"})
    assert answer["ProcessedFindings"] == ids and answer["UnprocessedFindings"] == []
    finding = findings(hub)["f-1"]
    assert finding["Workflow"]["Status"] == "NOTIFIED"
    assert finding["Note"]["Text"] == "b" and finding["Note"]["UpdatedAt"]


def test_unknown_findings_are_unprocessed(standin, hub):
    answer = hub.batch_update_findings(
        FindingIdentifiers=[{"Id": "nope", "ProductArn": PRODUCT}], Workflow={"Status": "RESOLVED"}
    )
    assert answer["ProcessedFindings"] == []
    assert answer["UnprocessedFindings"][0]["ErrorCode"] == "FindingNotFound"


@pytest.mark.parametrize(
    "request_",
    [
        {"Note": {"Text": "x" * 513, "UpdatedBy": "u"}},
        {"Workflow": {"Status": "CLOSED"}},
        {"FindingIdentifiers": [{"Id": str(i), "ProductArn": PRODUCT} for i in range(101)]},
    ],
)
def test_invalid_updates_are_rejected(standin, hub, request_):
    request = {"FindingIdentifiers": [{"Id": "f-1", "ProductArn": PRODUCT}], **request_}
    with pytest.raises(ClientError, match="InvalidInputException"):
        hub.batch_update_findings(**request)
