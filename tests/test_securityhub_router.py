"""The Security Hub loop, end to end on the stand-in: finding -> custom action -> router ->
asynchronous fix -> finding RESOLVED (or NOTIFIED with a failure note), and the notes on
every finding configguard cannot route.

Scenarios (shared/configguard/hubrouter.py):
  Given a Config finding and the native KMS.4 finding of one key without rotation,
    When an analyst sends both to the custom action,
    Then one fix runs for the key, and both findings end RESOLVED with the fix's note.
  Given findings configguard has no fix for (no-fix rule, unmirrored control, another
    product's rule, a PASSED finding, another account),
    When they are sent to the custom action,
    Then each gets a note saying why, and nothing is invoked or changed.
  Given a fix that fails after marking the findings,
    When it runs,
    Then the findings stay NOTIFIED with a failure note and the event reaches the DLQ.
  Given imported findings and an auto-trigger selection,
    When they arrive,
    Then only selected, new, failed findings start a fix; a bad selection fails closed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import CallCounter, lambda_context, load_event
from faults import inject_error

from configguard import registry, settings
from configguard.hubrouter import RouterError
from configguard.triggers import InvalidTriggerError
from configguard_cli.auditlog import list_records
from configguard_cli.handlers import router_module
from configguard_cli.local import gapfills, hubfeed, lambdaservice

ACCOUNT, REGION = "123456789012", "us-east-1"
SAMPLE_KEY = "6f1c2a9e-4b7d-4e3a-9c5f-2d8b1e7a4c90"
FIX = "enable-kms-key-rotation"
handler = router_module().lambda_handler
CTX = lambda_context(registry.ROUTER_FUNCTION_NAME)


def apply_mode(factory: Any, fix: str = FIX) -> None:
    factory.client("ssm").put_parameter(
        Name=f"/configguard/remediations/{fix}/mode", Value="apply", Type="String", Overwrite=True
    )


def new_key(factory: Any) -> str:
    return str(factory.client("kms").create_key()["KeyMetadata"]["KeyId"])


def rotation(factory: Any, key_id: str) -> bool:
    return bool(factory.client("kms").get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"])


def imported(factory: Any, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write findings as the integrations do; return them as Security Hub now holds them."""
    hubfeed.import_findings(factory, findings)
    return hubfeed.get_findings(factory, [f["Id"] for f in findings])


def action_event(standin: Any, findings: list[dict[str, Any]]) -> dict[str, Any]:
    return hubfeed.custom_action_event(
        standin.resources.action_target_arn, findings, ACCOUNT, REGION
    )


def state(factory: Any, finding: dict[str, Any]) -> tuple[str, str]:
    (now,) = hubfeed.get_findings(factory, [finding["Id"]])
    return now["Workflow"]["Status"], (now.get("Note") or {}).get("Text", "")


def key_findings(key_id: str) -> list[dict[str, Any]]:
    return [
        hubfeed.config_finding(
            "kms-key-rotation-enabled", registry.KMS_KEY, key_id, ACCOUNT, REGION
        ),
        hubfeed.control_finding("KMS.4", registry.KMS_KEY, key_id, ACCOUNT, REGION),
    ]


# ------------------------------------------------------------------ custom action


def test_sample_event_routes_the_key_and_notes_the_runtime_finding(standin, factory):
    key_id = new_key(factory)
    apply_mode(factory)
    sample = json.loads(json.dumps(load_event("securityhub_router/custom-action.json")))
    findings = json.loads(json.dumps(sample["detail"]["findings"]).replace(SAMPLE_KEY, key_id))
    held = imported(factory, findings)
    sample["detail"]["findings"] = held
    sample["resources"] = [standin.resources.action_target_arn]

    summary = handler(sample, CTX)

    assert [(s["remediation"], s["resource_id"], s["findings"]) for s in summary["started"]] == [
        (FIX, key_id, 2)
    ]
    assert len(summary["unrouted"]) == 1
    assert (
        "no automatic fix for lambda-runtime-supported (Lambda.2)"
        in (summary["unrouted"][0]["reason"])
    )
    assert "lambda-runtime-supported.md" in summary["unrouted"][0]["reason"]
    runs = lambdaservice.run_queued(standin)
    assert [(r.function_name, r.error) for r in runs] == [(f"configguard-{FIX}", None)]
    assert rotation(factory, key_id)
    config_finding, control_finding, runtime_finding = held
    for finding in (config_finding, control_finding):
        status, note = state(factory, finding)
        assert status == "RESOLVED"
        assert note.startswith(f"configguard {FIX}: applied EnableKeyRotation")
        assert "verified compliant" in note and len(note) <= 512
    status, note = state(factory, runtime_finding)
    assert status == "NEW" and "no automatic fix" in note
    (record,) = list_records(factory, resource_id=key_id)
    assert (record["outcome"], record["source"], record["actor"]) == (
        "applied",
        "securityhub",
        "securityhub:ConfigGuardFix",
    )


def test_started_note_is_there_before_the_fix_runs(standin, factory):
    key_id = new_key(factory)
    held = imported(factory, key_findings(key_id))
    handler(action_event(standin, held), CTX)
    status, note = state(factory, held[0])
    assert status == "NEW"
    assert note.startswith(f"configguard: {FIX} started for {key_id}")
    queued = gapfills.take_async_invocations(ACCOUNT, REGION)
    assert [q.function_name for q in queued] == [f"configguard-{FIX}"]
    request = json.loads(queued[0].payload)
    assert request["detail-type"] == "configguard Security Hub Fix Request"
    assert request["detail"]["rule"] == "kms-key-rotation-enabled"
    assert {f["Id"] for f in request["detail"]["findings"]} == {f["Id"] for f in held}


def test_dry_run_mode_notes_the_plan_and_changes_nothing(standin, factory):
    key_id = new_key(factory)
    factory.client("ssm").put_parameter(
        Name=f"/configguard/remediations/{FIX}/mode", Value="dry-run", Type="String"
    )
    held = imported(factory, key_findings(key_id))
    handler(action_event(standin, held), CTX)
    lambdaservice.run_queued(standin)
    assert not rotation(factory, key_id)
    for finding in held:
        status, note = state(factory, finding)
        assert status == "NEW"
        assert note.startswith(f"configguard {FIX} dry run: would EnableKeyRotation")


def test_kill_switch_blocks_and_says_so_on_the_finding(standin, factory):
    key_id = new_key(factory)
    apply_mode(factory)
    factory.client("ssm").put_parameter(
        Name=settings.DEFAULT_KILL_SWITCH_PARAMETER, Value="on", Type="String", Overwrite=True
    )
    held = imported(factory, key_findings(key_id))
    handler(action_event(standin, held), CTX)
    lambdaservice.run_queued(standin)
    assert not rotation(factory, key_id)
    status, note = state(factory, held[0])
    assert status == "NEW"
    assert note.startswith(f"configguard {FIX} blocked: The global kill switch is on.")


def test_already_compliant_is_noted_not_resolved(standin, factory):
    key_id = new_key(factory)
    apply_mode(factory)
    held = imported(factory, key_findings(key_id))
    factory.client("kms").enable_key_rotation(KeyId=key_id)
    handler(action_event(standin, held), CTX)
    lambdaservice.run_queued(standin)
    status, note = state(factory, held[1])
    assert status == "NEW"
    assert "skipped: The resource is already compliant." in note


# ---------------------------------------------------------------------- failure


def test_failed_fix_leaves_findings_notified_with_a_failure_note(standin, factory):
    key_id = new_key(factory)
    apply_mode(factory)
    held = imported(factory, key_findings(key_id))
    handler(action_event(standin, held), CTX)
    with inject_error(factory.client("kms"), "EnableKeyRotation", "AccessDeniedException"):
        runs = lambdaservice.run_queued(standin)
    (run,) = runs
    assert run.error is not None and "RemediationFailedError" in run.error
    for finding in held:
        status, note = state(factory, finding)
        assert status == "NOTIFIED"
        assert note.startswith(f"configguard {FIX} FAILED:")
        assert "AccessDeniedException" in note
    (record,) = list_records(factory, resource_id=key_id)
    assert record["outcome"] == "failed"
    sqs = factory.client("sqs")
    url = sqs.get_queue_url(QueueName=f"configguard-{FIX}-dlq")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(messages[0]["Body"])["detail"]["resourceId"] == key_id
    assert (
        "RemediationFailedError" in messages[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]
    )


def test_fix_that_cannot_start_is_noted_and_the_router_fails(standin, factory):
    key_id = new_key(factory)
    factory.client("lambda").delete_function(FunctionName=f"configguard-{FIX}")
    held = imported(factory, key_findings(key_id))
    with pytest.raises(RouterError, match="ResourceNotFoundException"):
        handler(action_event(standin, held), CTX)
    status, note = state(factory, held[0])
    assert status == "NEW"
    assert f"could not start {FIX} (ResourceNotFoundException)" in note


# ---------------------------------------------------------------------- unrouted


def test_every_unroutable_finding_gets_a_note_and_nothing_runs(standin, factory):
    key_id = new_key(factory)
    passed = hubfeed.control_finding("KMS.4", registry.KMS_KEY, key_id, ACCOUNT, REGION)
    passed["Compliance"]["Status"] = "PASSED"
    elsewhere = hubfeed.config_finding(
        "kms-key-rotation-enabled", registry.KMS_KEY, key_id, "210987654321", REGION
    )
    foreign_rule = hubfeed.config_finding(
        "kms-key-rotation-enabled", registry.KMS_KEY, key_id, ACCOUNT, REGION
    )
    foreign_rule["ProductFields"]["aws/config/ConfigRuleName"] = "s3-bucket-versioning-enabled"
    foreign_rule["Id"] += "-other"
    cases = {
        "no automatic fix for lambda-runtime-supported (Lambda.2)": hubfeed.config_finding(
            "lambda-runtime-supported", registry.LAMBDA, "fn-old", ACCOUNT, REGION
        ),
        "no automatic fix for control S3.1": hubfeed.control_finding(
            "S3.1", registry.KMS_KEY, key_id, ACCOUNT, REGION
        ),
        "does not handle this finding (s3-bucket-versioning-enabled)": foreign_rule,
        "the finding is PASSED; nothing to fix": passed,
        "this finding is from 210987654321 in us-east-1": elsewhere,
    }
    held = imported(factory, list(cases.values()))
    invokes = CallCounter(factory.client("lambda"))
    try:
        summary = handler(action_event(standin, held), CTX)
    finally:
        invokes.close()
    assert summary["started"] == []
    assert len(summary["unrouted"]) == len(cases)
    assert gapfills.take_async_invocations(ACCOUNT, REGION) == []
    for expected, finding in cases.items():
        status, note = state(factory, finding)
        assert status == finding["Workflow"]["Status"]
        assert expected in note, note
    assert not rotation(factory, key_id)
    assert invokes.calls == []


def test_notes_are_batched_by_one_hundred(standin, factory):
    findings = [
        hubfeed.config_finding(
            "lambda-runtime-supported", registry.LAMBDA, f"fn-{i}", ACCOUNT, REGION
        )
        for i in range(150)
    ]
    held = imported(factory, findings)
    counter = CallCounter(factory.client("securityhub"))
    try:
        summary = handler(action_event(standin, held), CTX)
    finally:
        counter.close()
    assert len(summary["unrouted"]) == 150
    assert counter.calls.count("BatchUpdateFindings") == 2
    assert all("no automatic fix" in state(factory, f)[1] for f in held[::37])


# ------------------------------------------------------------------ auto-trigger


def test_imported_sample_starts_the_fix_only_when_selected(standin, factory, monkeypatch):
    key_id = new_key(factory)
    apply_mode(factory)
    sample = json.loads(
        json.dumps(load_event("securityhub_router/imported.json")).replace(SAMPLE_KEY, key_id)
    )
    imported(factory, sample["detail"]["findings"])

    monkeypatch.setenv(settings.AUTO_TRIGGER_CONTROLS, "")
    assert handler(sample, CTX)["ignored"] == 1
    assert gapfills.take_async_invocations(ACCOUNT, REGION) == []

    monkeypatch.setenv(settings.AUTO_TRIGGER_CONTROLS, "KMS.4, lambda-reserved-concurrency")
    summary = handler(sample, CTX)
    assert [s["resource_id"] for s in summary["started"]] == [key_id]
    runs = lambdaservice.run_queued(standin)
    assert [r.error for r in runs] == [None]
    assert rotation(factory, key_id)
    (record,) = list_records(factory, resource_id=key_id)
    assert record["actor"] == "securityhub:auto-trigger"


def test_imported_findings_already_handled_are_ignored(standin, factory, monkeypatch):
    monkeypatch.setenv(settings.AUTO_TRIGGER_CONTROLS, "KMS.4")
    key_id = new_key(factory)
    (finding,) = [f for f in key_findings(key_id) if "SecurityControlId" in f["Compliance"]]
    finding["Workflow"] = {"Status": "NOTIFIED"}
    event = load_event("securityhub_router/imported.json")
    event["detail"]["findings"] = [finding]
    summary = handler(event, CTX)
    assert (summary["started"], summary["ignored"]) == ([], 1)


def test_imported_echo_of_our_own_note_does_not_loop(standin, factory, monkeypatch):
    """Every note we write comes back as an Imported event: it must not start the fix again."""
    monkeypatch.setenv(settings.AUTO_TRIGGER_CONTROLS, "KMS.4")
    key_id = new_key(factory)
    apply_mode(factory, "enable-kms-key-rotation")
    factory.client("kms").enable_key_rotation(KeyId=key_id)  # compliant: the fix will skip
    (finding,) = [f for f in key_findings(key_id) if "SecurityControlId" in f["Compliance"]]
    (held,) = imported(factory, [finding])
    event = load_event("securityhub_router/imported.json")
    event["detail"]["findings"] = [held]
    assert len(handler(event, CTX)["started"]) == 1
    lambdaservice.run_queued(standin)
    (echo,) = hubfeed.get_findings(factory, [held["Id"]])
    assert echo["Workflow"]["Status"] == "NEW"  # skipped: still NEW, with our note
    event["detail"]["findings"] = [echo]
    summary = handler(event, CTX)
    assert (summary["started"], summary["ignored"]) == ([], 1)
    # The provider reports the resource again later: that is news, and it is routed.
    echo["UpdatedAt"] = "2999-01-01T00:00:00.000Z"
    event["detail"]["findings"] = [echo]
    assert len(handler(event, CTX)["started"]) == 1


def test_bad_auto_trigger_selection_fails_closed(standin, factory, monkeypatch):
    monkeypatch.setenv(settings.AUTO_TRIGGER_CONTROLS, "KMS.4,S3.1,lambda-runtime-supported")
    event = load_event("securityhub_router/imported.json")
    with pytest.raises(settings.ConfigurationError, match=r"S3\.1, lambda-runtime-supported"):
        handler(event, CTX)
    assert gapfills.take_async_invocations(ACCOUNT, REGION) == []


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e.update(source="aws.config"), "unsupported trigger: source 'aws.config'"),
        (lambda e: e["detail"].update(findings=[]), "the event carries no findings"),
        (lambda e: e["detail"].update(findings=["x"]), "a finding is not an object"),
        (lambda e: e["detail"]["findings"][0].pop("Id"), "a finding has no Id or ProductArn"),
        (lambda e: e.pop("detail-type"), "not an EventBridge event: detail-type"),
    ],
)
def test_malformed_events_are_clear_errors(standin, mutate, message):
    event = load_event("securityhub_router/custom-action.json")
    mutate(event)
    with pytest.raises(InvalidTriggerError, match=message):
        handler(event, CTX)


def test_not_an_object_is_a_clear_error(standin):
    with pytest.raises(InvalidTriggerError, match="event must be a JSON object, got list"):
        handler([], CTX)


# ------------------------------------------------------------- registry and template


def test_each_fix_control_is_mirrored_by_its_rules_and_claimed_once():
    claimed: dict[str, str] = {}
    for spec in registry.REMEDIATIONS.values():
        mirrored = {c for r in spec.rules for c in registry.rule(r).security_hub_controls}
        assert set(spec.controls) <= mirrored, spec.name
        for control in spec.controls:
            assert control not in claimed, f"{control}: {claimed.get(control)} and {spec.name}"
            claimed[control] = spec.name
    assert registry.fix_for_control("CloudTrail.1") is None  # mirrored, but not what it fixes
    fix, rule = registry.fix_for_control("APIGateway.9") or (None, None)
    assert (fix.name, rule.name) == ("enable-api-logging", "apigw-stage-access-logging")


def _template() -> dict[str, Any]:
    from cfnlint.decode import decode_str

    from configguard_cli.template_sections import TEMPLATE

    template, problems = decode_str(TEMPLATE.read_text())
    assert not problems
    return template


def test_template_wires_the_custom_action_to_the_router_and_the_router_to_every_fix():
    resources = _template()["Resources"]
    router = registry.ROUTER.logical_id
    action = resources["SecurityHubFixAction"]
    assert action["Type"] == "AWS::SecurityHub::ActionTarget"
    assert len(action["Properties"]["Id"]) <= 20 and len(action["Properties"]["Name"]) <= 20
    pattern = resources[f"{router}CustomActionRule"]["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["Security Hub Findings - Custom Action"]
    assert pattern["resources"] == [{"Fn::GetAtt": ["SecurityHubFixAction", "ActionTargetArn"]}]
    statements = resources[f"{router}Role"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    (invoke,) = [s for s in statements if s["Action"] == "lambda:InvokeFunction"]
    assert invoke["Resource"] == [
        {"Fn::GetAtt": [f"{spec.logical_id}Function", "Arn"]}
        for spec in registry.REMEDIATIONS.values()
    ]
    functions = {
        r["Properties"].get("FunctionName")
        for r in resources.values()
        if r["Type"] == "AWS::Serverless::Function"
    }
    assert {registry.fix_function_name(s) for s in registry.REMEDIATIONS.values()} <= functions


def test_auto_trigger_is_off_by_default_and_filters_new_active_findings():
    template = _template()
    assert template["Parameters"]["AutoTriggerControls"]["Default"] == ""
    rule = template["Resources"][f"{registry.ROUTER.logical_id}AutoTriggerRule"]
    assert rule["Condition"] == "HasAutoTrigger"
    findings = rule["Properties"]["EventPattern"]["detail"]["findings"]
    assert findings["RecordState"] == ["ACTIVE"]
    assert findings["Workflow"] == {"Status": ["NEW"]}
    assert len(findings["$or"]) == 2


def test_members_copy_of_an_organization_rule_routes_like_the_rule():
    from configguard.hubrouter import Target, route_finding

    key_id = "1f2e3d4c-5b6a-4789-8abc-def012345678"
    finding = hubfeed.config_finding(
        "kms-key-rotation-enabled", registry.KMS_KEY, key_id, ACCOUNT, REGION
    )
    finding["ProductFields"]["aws/config/ConfigRuleName"] = (
        "OrgConfigRule-kms-key-rotation-enabled-q8w7e6"
    )
    routed = route_finding(finding, account_id=ACCOUNT, region=REGION)
    assert isinstance(routed, Target)
    assert (routed.remediation.name, routed.rule, routed.resource_id) == (
        FIX,
        "kms-key-rotation-enabled",
        key_id,
    )
    assert registry.registry_rule_name("OrgConfigRule-kms-key-rotation-enabled") is None
    assert registry.registry_rule_name("OrgConfigRule-kms-key-rotation-enabled-a-b") is None
