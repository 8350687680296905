"""The dashboard and alarms in template.yaml: current, complete, and true to the code.

The generated section must equal what configguard_cli.observability_blocks renders for
the template; every function has an errors alarm and every dead-letter queue a depth
alarm (found here independently of the generator); every alarm notifies the on-call
topic, which CloudWatch may use the stack key for; the dashboard body is JSON that names
every rule, fix, function, queue and alarm; and the metrics it charts have exactly the
names and dimensions the real handlers emit. cfn-lint over the whole template runs in
tests/test_template_contract.py (test_cfn_lint_is_clean).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from conftest import lambda_context, load_event, scheduled_event
from faults import inject_error, swallow_call

from configguard import audit, registry, settings
from configguard.remediation import RemediationFailedError
from configguard.rulebase import EvaluationError
from configguard.verdict import Compliance
from configguard_cli import observability_blocks
from configguard_cli.handlers import remediation_module, rule_module

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = ROOT / "template.yaml"
README = ROOT / "README.md"
TOPIC = {"Ref": "OnCallTopic"}
PLACEHOLDER = re.compile(r"\$\{([^}!][^}]*)\}")
SEARCH = re.compile(r"SEARCH\('\{([^}]*)\} MetricName=\"([^\"]+)\"'")
ALARM_TYPE = "AWS::CloudWatch::Alarm"
FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}

Template = dict[str, Any]


@pytest.fixture(scope="module")
def template() -> Template:
    """template.yaml as plain data, intrinsics in their long form."""
    return dict(json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE_PATH)))))


def _resources(template: Template, resource_type: str | set[str]) -> dict[str, Any]:
    types = {resource_type} if isinstance(resource_type, str) else resource_type
    return {k: v for k, v in template["Resources"].items() if v["Type"] in types}


def _target(value: Any) -> str | None:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return None


def _dead_letter_queues(template: Template) -> set[str]:
    """Every queue a function or an EventBridge target sends failed events to."""
    queues = set()
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        for config, key in (("DeadLetterQueue", "TargetArn"), ("DeadLetterConfig", "TargetArn")):
            queues.add(_target(props.get(config, {}).get(key)))
        for target in props.get("Targets", []):
            queues.add(_target(target.get("DeadLetterConfig", {}).get("Arn")))
    queues.discard(None)
    assert queues <= set(_resources(template, "AWS::SQS::Queue"))
    return {q for q in queues if q}


def _alarms_on(template: Template, namespace: str, metric: str) -> dict[str, dict[str, Any]]:
    """The alarms on `metric`, by the logical id their single dimension points to."""
    found = {}
    for props in (a["Properties"] for a in _resources(template, ALARM_TYPE).values()):
        if props["Namespace"] == namespace and props["MetricName"] == metric:
            (dimension,) = props["Dimensions"]
            found[_target(dimension["Value"])] = props
    return found


def _own_alarms(template: Template) -> dict[str, dict[str, Any]]:
    """The alarms of the generated observability section."""
    text = TEMPLATE_PATH.read_text()
    start = text.index(observability_blocks.BEGIN)
    section = text[start : text.index(observability_blocks.END, start)]
    ids = re.findall(r"^  (\w+):\n    Type: AWS::CloudWatch::Alarm$", section, re.MULTILINE)
    assert ids
    return {i: template["Resources"][i]["Properties"] for i in ids}


# ------------------------------------------------------------------- generated


def test_generated_section_is_current() -> None:
    text = TEMPLATE_PATH.read_text()
    assert observability_blocks.current(text) == observability_blocks.rendered(text), (
        "run: .venv/bin/python -m configguard_cli.observability_blocks --write"
    )


def test_generator_is_a_fixpoint_and_check_mode_agrees() -> None:
    text = TEMPLATE_PATH.read_text()
    once = observability_blocks.rewrite(text)
    assert observability_blocks.rewrite(once) == once
    assert observability_blocks.main([]) == (0 if once == text else 1)


def test_generator_adds_its_sections_to_a_template_without_them() -> None:
    text = TEMPLATE_PATH.read_text()
    for begin, end in (
        (observability_blocks.BEGIN, observability_blocks.END),
        (observability_blocks.KEY_BEGIN, observability_blocks.KEY_END),
    ):
        start = text.index(begin)
        text = text[:start] + text[text.index(end, start) + len(end) + 1 :]
    assert "ConfigGuardDashboard" not in text and "cloudwatch.amazonaws.com" not in text
    written = observability_blocks.rewrite(text)
    assert observability_blocks.current(written) == observability_blocks.rendered(written)
    loaded = cfn_yaml.loads(written)
    assert list(loaded["Resources"])[-1].endswith("DeadLetterQueueAlarm")
    statements = loaded["Resources"]["ConfigGuardKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert statements[-1]["Sid"] == "CloudWatchAlarmsNotifyOnCall"


# ---------------------------------------------------------------------- alarms


def test_every_function_has_an_errors_alarm(template: Template) -> None:
    functions = set(_resources(template, FUNCTION_TYPES))
    expected = {f"{spec.logical_id}Function" for spec in registry.RULES.values()}
    expected |= {f"{spec.logical_id}Function" for spec in registry.REMEDIATIONS.values()}
    assert expected <= functions
    alarms = _alarms_on(template, "AWS/Lambda", "Errors")
    assert set(alarms) == functions
    for props in alarms.values():
        assert props["Statistic"] == "Sum"
        assert props["Period"] == 300 and props["EvaluationPeriods"] == 1
        assert props["Threshold"] == 1
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert props["TreatMissingData"] == "notBreaching"


def test_rules_and_router_alarms_are_named_for_them(template: Template) -> None:
    alarms = template["Resources"]
    for spec in registry.RULES.values():
        props = alarms[f"{spec.logical_id}ErrorAlarm"]["Properties"]
        assert _target(props["Dimensions"][0]["Value"]) == f"{spec.logical_id}Function"
    router = f"{registry.ROUTER.logical_id}Function"
    if router in template["Resources"]:
        props = alarms[f"{registry.ROUTER.logical_id}ErrorAlarm"]["Properties"]
        assert _target(props["Dimensions"][0]["Value"]) == router


def test_every_dead_letter_queue_has_an_alarm(template: Template) -> None:
    queues = _dead_letter_queues(template)
    expected = {f"{spec.logical_id}DeadLetterQueue" for spec in registry.RULES.values()}
    expected |= {f"{spec.logical_id}DeadLetterQueue" for spec in registry.REMEDIATIONS.values()}
    assert expected <= queues
    alarms = _alarms_on(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert set(alarms) == queues
    for queue, props in alarms.items():
        assert props["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
        ]
        assert props["Statistic"] == "Maximum"
        assert props["Threshold"] == 1
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert props["OKActions"] == [TOPIC], "tell on-call when the queue is drained"


def test_every_alarm_notifies_on_call(template: Template) -> None:
    alarms = _resources(template, ALARM_TYPE)
    assert len(alarms) > len(registry.RULES) + len(registry.REMEDIATIONS)
    for logical_id, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [TOPIC], logical_id
        assert props.get("OKActions", [TOPIC]) == [TOPIC], logical_id
        assert 0 < len(props["AlarmDescription"]) <= 1024, logical_id


def test_alarm_descriptions_say_what_to_do(template: Template) -> None:
    for logical_id, props in _own_alarms(template).items():
        text = props["AlarmDescription"]
        assert "`configguard " in text or "aws configservice" in text, logical_id
        books = re.findall(r"docs/runbooks/([a-z0-9-]*)(?:\.md)?", text)
        assert books, logical_id
        assert {b for b in books if b} <= set(registry.RULES), logical_id
        for book in books:
            assert (ROOT / "docs" / "runbooks" / (f"{book}.md" if book else "")).exists()
    rule = registry.rule("log-group-retention")
    text = _own_alarms(template)[f"{rule.logical_id}ErrorAlarm"]["AlarmDescription"]
    assert "configguard scan --rule log-group-retention" in text
    assert "/aws/lambda/configguard-log-group-retention" in text
    assert "docs/runbooks/log-group-retention.md" in text


def test_alarm_names_are_unique_per_stack(template: Template) -> None:
    names = [
        props["AlarmName"]["Fn::Sub"]
        for props in _own_alarms(template).values()
        if "AlarmName" in props
    ]
    assert len(names) == len(set(names)) == len(_own_alarms(template))
    assert all(name.startswith("${AWS::StackName}-") for name in names)


def test_cloudwatch_may_use_the_topic_key(template: Template) -> None:
    """The on-call topic is CMK-encrypted: without this grant no alarm reaches it."""
    topic = template["Resources"]["OnCallTopic"]["Properties"]
    key = _target(topic["KmsMasterKeyId"])
    statements = template["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]
    grants = [
        s
        for s in statements
        if s["Effect"] == "Allow" and s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert len(grants) == 1
    assert set(grants[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert grants[0]["Condition"]["StringEquals"] == {
        "aws:SourceAccount": {"Ref": "AWS::AccountId"}
    }


def test_readme_states_the_alarm_count_and_cost(template: Template) -> None:
    count = len(_resources(template, ALARM_TYPE))
    cost = count * observability_blocks.ALARM_MONTHLY_USD
    text = README.read_text()
    assert f"{count} alarms" in text and f"${cost:.2f} a month" in text, (count, cost)


def test_stack_stays_under_cloudformation_resource_limit(template: Template) -> None:
    """500 resources per stack; SAM adds none for these functions (explicit roles)."""
    assert len(template["Resources"]) <= 450


# ------------------------------------------------------------------- dashboard


def _body(template: Template) -> tuple[str, dict[str, Any]]:
    dashboard = template["Resources"][observability_blocks.DASHBOARD]
    assert dashboard["Type"] == "AWS::CloudWatch::Dashboard"
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert isinstance(text, str)
    plain = PLACEHOLDER.sub("placeholder", text).replace("${!", "${")
    return text, json.loads(plain)


def _metric_rows(body: dict[str, Any]) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """(explicit metrics as (namespace, name, dimensions), SEARCHes as (schema, name))."""
    explicit, searches = set(), set()
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], dict):
                for schema, name in SEARCH.findall(row[0]["expression"]):
                    namespace, *keys = schema.split(",")
                    searches.add((namespace, frozenset(keys), name))
                continue
            fields = [f for f in row if not isinstance(f, dict)]
            namespace, name, *pairs = fields
            dims = frozenset(zip(pairs[::2], pairs[1::2], strict=True))
            explicit.add((namespace, name, dims))
    return explicit, searches


def test_dashboard_placeholders_are_resources(template: Template) -> None:
    text, _ = _body(template)
    resources = template["Resources"]
    for name in PLACEHOLDER.findall(text):
        if name.startswith("AWS::"):
            assert name in {"AWS::Region", "AWS::StackName", "AWS::AccountId", "AWS::Partition"}
        else:
            assert name.split(".")[0] in resources, name


def test_dashboard_charts_every_rule_and_fix(template: Template) -> None:
    _, body = _body(template)
    explicit, searches = _metric_rows(body)
    service = ("service", "configguard")
    for rule in registry.RULES:
        dims = frozenset({("rule", rule), service})
        assert ("configguard", "EvaluationsNON_COMPLIANT", dims) in explicit, rule
    shown = {"Applied", "DryRun", "Skipped", "Refused", "Blocked", "Failed"}
    for fix in registry.REMEDIATIONS:
        dims = frozenset({("remediation", fix), service})
        for outcome in shown:
            assert ("configguard", f"Remediations{outcome}", dims) in explicit, (fix, outcome)
    rule_keys, fix_keys = frozenset({"rule", "service"}), frozenset({"remediation", "service"})
    for compliance in Compliance:
        assert ("configguard", rule_keys, f"Evaluations{compliance}") in searches
    assert ("configguard", rule_keys, "EvaluationErrors") in searches
    for metric in audit._METRIC.values():
        assert ("configguard", fix_keys, metric) in searches, metric
    assert ("configguard", fix_keys, "RemediationErrors") in searches


def test_dashboard_shows_every_function_queue_and_alarm(template: Template) -> None:
    text, body = _body(template)
    for function in _resources(template, FUNCTION_TYPES):
        assert f'"FunctionName", "${{{function}}}"' in text, function
    for queue in _dead_letter_queues(template):
        assert f'"QueueName", "${{{queue}.QueueName}}"' in text, queue
    listed = []
    for widget in body["widgets"]:
        if widget["type"] == "alarm":
            assert len(widget["properties"]["alarms"]) <= 100
            listed.extend(widget["properties"]["alarms"])
    assert len(listed) == len(_resources(template, ALARM_TYPE))
    for alarm in _resources(template, ALARM_TYPE):
        assert f'"${{{alarm}.Arn}}"' in text, alarm


def test_dashboard_shows_the_router_when_deployed(template: Template) -> None:
    _, body = _body(template)
    explicit, _ = _metric_rows(body)
    deployed = f"{registry.ROUTER.logical_id}Function" in template["Resources"]
    dims = frozenset({("router", registry.ROUTER.name), ("service", "configguard")})
    assert (("configguard", "RouterErrors", dims) in explicit) == deployed


def test_dashboard_layout_fits_and_does_not_overlap(template: Template) -> None:
    _, body = _body(template)
    cells: set[tuple[int, int]] = set()
    for widget in body["widgets"]:
        x, y, w, h = (widget[k] for k in ("x", "y", "width", "height"))
        assert x >= 0 and x + w <= 24
        area = {(i, j) for i in range(x, x + w) for j in range(y, y + h)}
        assert not area & cells, widget["properties"].get("title")
        cells |= area


# ------------------------------------------------------- the code's own metrics


def _emitted(out: str) -> set[tuple[str, str, frozenset[tuple[str, str]]]]:
    """(namespace, metric, dimensions) of every EMF line a handler printed."""
    found = set()
    for line in out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        record = json.loads(line)
        for directive in record["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dims = frozenset((k, record[k]) for k in dimension_set)
                for metric in directive["Metrics"]:
                    found.add((directive["Namespace"], metric["Name"], dims))
    return found


def _charted(body: dict[str, Any], metric: tuple[str, str, frozenset[tuple[str, str]]]) -> bool:
    explicit, searches = _metric_rows(body)
    namespace, name, dims = metric
    keys = frozenset(k for k, _ in dims)
    return metric in explicit or (namespace, keys, name) in searches


def test_dashboard_charts_what_rule_and_fix_handlers_emit(
    template: Template, standin, factory, capsys, monkeypatch
) -> None:
    """Run real handlers on the stand-in; every metric they emit is on the dashboard."""
    rule, fix = "log-group-retention", "set-log-retention"
    logs = factory.client("logs")
    for name, days in (("/obs/short", 7), ("/obs/dry-run", 14), ("/obs/swallowed", 30)):
        logs.create_log_group(logGroupName=name)
        logs.put_retention_policy(logGroupName=name, retentionInDays=days)
    rule_handler = rule_module(rule).lambda_handler
    rule_handler(scheduled_event(standin, rule), lambda_context(f"configguard-{rule}"))
    with (
        inject_error(logs, "DescribeLogGroups", "AccessDeniedException"),
        pytest.raises(EvaluationError),
    ):
        rule_handler(scheduled_event(standin, rule), lambda_context(f"configguard-{rule}"))

    fix_handler = remediation_module(fix).lambda_handler
    context = lambda_context(f"configguard-{fix}")
    sample = json.dumps(load_event("set_log_retention/config-compliance-change.json"))

    def event(group: str) -> dict[str, Any]:
        return dict(json.loads(sample.replace("/aws/lambda/payments-worker", group)))

    fix_handler(event("/obs/short"), context)
    with swallow_call(logs, "PutRetentionPolicy", {}), pytest.raises(RemediationFailedError):
        fix_handler(event("/obs/swallowed"), context)
    monkeypatch.setenv(settings.REMEDIATION_MODE, "dry-run")
    fix_handler(event("/obs/dry-run"), context)

    emitted = _emitted(capsys.readouterr().out)
    names = {name for _, name, _ in emitted}
    assert {
        "EvaluationsNON_COMPLIANT",
        "EvaluationErrors",
        "RemediationsApplied",
        "RemediationsDryRun",
        "RemediationsFailed",
        "RemediationErrors",
    } <= names
    _, body = _body(template)
    assert [m for m in emitted if not _charted(body, m)] == []
