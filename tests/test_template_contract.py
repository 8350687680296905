"""Contract between template.yaml and the registry, checked in both directions.

Every registry rule and remediation must be deployed exactly as declared (code location,
handler, trigger, event pattern, IAM actions, settings), and the template must deploy
nothing the registry does not declare. The template must also lint clean and transform
offline with samtranslator, as `sam build`/`sam deploy` would.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_file
from cfnlint.decode import cfn_yaml

from configguard import registry, settings
from configguard.registry import RemediationSpec, RouterSpec, RuleSpec, Trigger
from configguard.remediation import MODES

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = ROOT / "template.yaml"

Resource = dict[str, Any]
Template = dict[str, Any]

RULE_SPECS = list(registry.RULES.values())
REMEDIATION_SPECS = list(registry.REMEDIATIONS.values())
# Every function of the stack: the rules, the fixes and the Security Hub router.
ALL_SPECS: list[RuleSpec | RemediationSpec | RouterSpec] = [
    *RULE_SPECS,
    *REMEDIATION_SPECS,
    registry.ROUTER,
]

# Actions whose service offers no resource-level scoping: the only ones allowed on "*".
UNSCOPED_ACTIONS = frozenset(
    {
        "config:PutEvaluations",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "lambda:GetAccountSettings",
        "lambda:ListFunctions",
        "ec2:DescribeSubnets",
        "kms:ListKeys",
        "cloudtrail:DescribeTrails",
        "cloudwatch:GetMetricStatistics",
    }
)
# Read-only IAM actions that may also name AWS managed policies (account "aws").
AWS_MANAGED_POLICY_READS = frozenset({"iam:GetPolicy", "iam:GetPolicyVersion"})
GLOBAL_SERVICES = frozenset({"iam"})
# Services whose ARNs carry no account id: scoped to this Region's resources instead.
ACCOUNTLESS_ARNS = {"apigateway": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/"}
# Multi-Region trails are read through their home-Region ARN.
ANY_REGION_SERVICES = frozenset({"cloudtrail"})
# The function's own resources: these actions may only name this function's own
# log group / the stack key; other actions of the service read the account's resources.
OWN_RESOURCE_ACTIONS = {
    "logs": frozenset({"logs:CreateLogStream", "logs:PutLogEvents"}),
    "kms": frozenset({"kms:Decrypt", "kms:GenerateDataKey"}),
}
CHANGE_MESSAGE_TYPES = {
    "ConfigurationItemChangeNotification",
    "OversizedConfigurationItemChangeNotification",
}
VALID_RETENTION_DAYS = {
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
}  # fmt: skip
SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
SERVICE_ROLE = "ApiGatewayCloudWatchRole"
# Only with CreateConfigRecorder=true: the role AWS Config records with.
RECORDER_ROLE = "ConfigRecorderRole"


def _spec_id(spec: RuleSpec | RemediationSpec | RouterSpec) -> str:
    return spec.name


def _settings_env_names() -> set[str]:
    """The CONFIGGUARD_* environment variable names declared in settings.py."""
    return {
        value
        for name, value in vars(settings).items()
        if name.isupper() and isinstance(value, str) and value.startswith("CONFIGGUARD_")
    }


@pytest.fixture(scope="module")
def template() -> Template:
    """template.yaml as plain JSON-like data, intrinsics in their long form."""
    loaded = cfn_yaml.load(str(TEMPLATE_PATH))
    return dict(json.loads(json.dumps(loaded)))


def _resources(template: Template) -> dict[str, Resource]:
    return dict(template["Resources"])


def _of_type(template: Template, resource_type: str) -> dict[str, Resource]:
    return {k: v for k, v in _resources(template).items() if v["Type"] == resource_type}


def _resource(template: Template, logical_id: str, resource_type: str) -> Resource:
    resources = _resources(template)
    assert logical_id in resources, f"template.yaml lacks {logical_id} ({resource_type})"
    resource = resources[logical_id]
    assert resource["Type"] == resource_type, f"{logical_id} is {resource['Type']}"
    return resource


def _props(resource: Resource) -> dict[str, Any]:
    return dict(resource.get("Properties", {}))


def _target(value: Any) -> str | None:
    """The logical id a {"Ref": X} or {"Fn::GetAtt": [X, attr]} points to."""
    if isinstance(value, dict) and len(value) == 1:
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            getatt = value["Fn::GetAtt"]
            return str(getatt[0] if isinstance(getatt, list) else getatt.split(".")[0])
    return None


def _references(value: Any) -> set[str]:
    """Every logical id or parameter that value refers to (Ref, GetAtt, Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        target = _target(value)
        if target is not None:
            found.add(target)
        elif "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
            for name in SUB_VARIABLE.findall(text):
                if name not in variables:
                    found.add(name.split(".")[0])
            found |= _references(variables)
        else:
            for item in value.values():
                found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return {name for name in found if not name.startswith("AWS::")}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    """The statements of the role's single inline policy."""
    role = _props(_resource(template, role_id, "AWS::IAM::Role"))
    assert "ManagedPolicyArns" not in role, f"{role_id} must not attach managed policies"
    policies = role.get("Policies", [])
    assert len(policies) == 1, f"{role_id} must have exactly one inline policy"
    return list(_as_list(policies[0]["PolicyDocument"]["Statement"]))


def _expected_permissions(spec: RuleSpec | RemediationSpec | RouterSpec) -> frozenset[str]:
    if isinstance(spec, RuleSpec):
        return registry.rule_permissions(spec)
    if isinstance(spec, RouterSpec):
        return frozenset(spec.permissions)
    return registry.remediation_permissions(spec)


def _function(template: Template, spec: RuleSpec | RemediationSpec | RouterSpec) -> dict[str, Any]:
    return _props(_resource(template, f"{spec.logical_id}Function", "AWS::Serverless::Function"))


def _globals(template: Template) -> dict[str, Any]:
    return dict(template.get("Globals", {}).get("Function", {}))


# --------------------------------------------------------------------------- rules


@pytest.mark.parametrize("spec", RULE_SPECS, ids=_spec_id)
def test_rule_resources_exist(template: Template, spec: RuleSpec) -> None:
    expected = {
        "Function": "AWS::Serverless::Function",
        "Role": "AWS::IAM::Role",
        "LogGroup": "AWS::Logs::LogGroup",
        "DeadLetterQueue": "AWS::SQS::Queue",
        "ConfigRule": "AWS::Config::ConfigRule",
        "ConfigPermission": "AWS::Lambda::Permission",
    }
    for suffix, resource_type in expected.items():
        _resource(template, f"{spec.logical_id}{suffix}", resource_type)


@pytest.mark.parametrize("spec", RULE_SPECS, ids=_spec_id)
def test_rule_function_code(template: Template, spec: RuleSpec) -> None:
    function = _function(template, spec)
    assert function["CodeUri"] == "rules/"
    assert function["Handler"] == f"{spec.module}.lambda_handler"
    assert _target(function["Role"]) == f"{spec.logical_id}Role"


@pytest.mark.parametrize("spec", RULE_SPECS, ids=_spec_id)
def test_config_rule_matches_registry(template: Template, spec: RuleSpec) -> None:
    resource = _resource(template, f"{spec.logical_id}ConfigRule", "AWS::Config::ConfigRule")
    rule = _props(resource)
    assert rule["ConfigRuleName"] == spec.name
    if spec.trigger is Trigger.CHANGE:
        assert sorted(rule["Scope"]["ComplianceResourceTypes"]) == sorted(spec.resource_types)
    else:
        # Scheduled rules list resources themselves; several of their types are not recorded.
        assert "Scope" not in rule

    source = rule["Source"]
    assert source["Owner"] == "CUSTOM_LAMBDA"
    assert source["SourceIdentifier"] == {"Fn::GetAtt": [f"{spec.logical_id}Function", "Arn"]}
    details = source["SourceDetails"]
    assert {d["EventSource"] for d in details} == {"aws.config"}
    message_types = {d["MessageType"] for d in details}
    if spec.trigger is Trigger.CHANGE:
        assert message_types == CHANGE_MESSAGE_TYPES
    else:
        assert message_types == {"ScheduledNotification"}
        if spec.maximum_execution_frequency:
            frequencies = {d.get("MaximumExecutionFrequency") for d in details}
            assert frequencies == {spec.maximum_execution_frequency}

    permission = f"{spec.logical_id}ConfigPermission"
    assert permission in _as_list(resource.get("DependsOn", [])), "create the permission first"


@pytest.mark.parametrize("spec", RULE_SPECS, ids=_spec_id)
def test_config_rule_parameters(template: Template, spec: RuleSpec) -> None:
    """Only parameters the rule's model accepts; rdklib never assumes Config's role."""
    rule = _props(_resource(template, f"{spec.logical_id}ConfigRule", "AWS::Config::ConfigRule"))
    parameters = rule.get("InputParameters", {})
    accepted = {field.alias or name for name, field in spec.parameters.model_fields.items()}
    assert set(parameters) <= accepted, f"unknown rule parameters {set(parameters) - accepted}"
    assert parameters["AssumeRoleMode"] == "false"
    # An account rule exists only outside central mode; there it assumes nothing.
    assert "ExecutionRoleName" not in parameters
    assert rule_resource_condition(template, spec) == "AccountMode"
    assert template["Conditions"]["AccountMode"] == {
        "Fn::Equals": [{"Ref": "ExecutionRoleName"}, ""]
    }


def test_config_recorder_is_optional_and_rules_wait_for_it(template: Template) -> None:
    """No recorder by default (one may exist already); with CreateConfigRecorder, the
    rules are created after it, since PutConfigRule needs a recorder."""
    assert template["Parameters"]["CreateConfigRecorder"]["Default"] == "false"
    resources = _resources(template)
    for name in ("ConfigRecorder", "ConfigDeliveryChannel", "ConfigDeliveryBucket", RECORDER_ROLE):
        assert resources[name]["Condition"] == "CreateRecorder", name
    ready = resources["ConfigRecorderReady"]["Metadata"]
    assert ready["Recorder"] == {"Fn::If": ["CreateRecorder", {"Ref": "ConfigRecorder"}, ""]}
    for spec in RULE_SPECS:
        depends = _as_list(resources[f"{spec.logical_id}ConfigRule"]["DependsOn"])
        assert "ConfigRecorderReady" in depends, spec.name


def rule_resource_condition(template: Template, spec: RuleSpec) -> str | None:
    condition = _resources(template)[f"{spec.logical_id}ConfigRule"].get("Condition")
    return str(condition) if condition else None


@pytest.mark.parametrize("spec", RULE_SPECS, ids=_spec_id)
def test_organization_rule_matches_registry(template: Template, spec: RuleSpec) -> None:
    """Central mode: the same rule as an organization rule, assuming ExecutionRoleName."""
    resources = _resources(template)
    org = resources[f"{spec.logical_id}OrganizationConfigRule"]
    assert org["Type"] == "AWS::Config::OrganizationConfigRule"
    assert org["Condition"] == "HasExecutionRoleName"
    properties = org["Properties"]
    assert properties["OrganizationConfigRuleName"] == spec.name
    metadata = properties["OrganizationCustomRuleMetadata"]
    assert metadata["LambdaFunctionArn"] == {"Fn::GetAtt": [f"{spec.logical_id}Function", "Arn"]}
    if spec.trigger is Trigger.PERIODIC:
        assert metadata["OrganizationConfigRuleTriggerTypes"] == ["ScheduledNotification"]
    else:
        assert metadata["ResourceTypesScope"] == list(spec.resource_types)
        assert (
            "ConfigurationItemChangeNotification" in metadata["OrganizationConfigRuleTriggerTypes"]
        )
    parameters = json.loads(str(_as_list(metadata["InputParameters"]["Fn::Sub"])[0]))
    assert parameters == {"AssumeRoleMode": "false", "ExecutionRoleName": "${ExecutionRoleName}"}
    permission = _props(resources[f"{spec.logical_id}OrganizationPermission"])
    assert permission["Principal"] == "config.amazonaws.com"
    assert resources[f"{spec.logical_id}OrganizationPermission"]["Condition"] == (
        "HasExecutionRoleName"
    )


@pytest.mark.parametrize("spec", RULE_SPECS, ids=_spec_id)
def test_config_may_invoke_rule(template: Template, spec: RuleSpec) -> None:
    permission = _props(
        _resource(template, f"{spec.logical_id}ConfigPermission", "AWS::Lambda::Permission")
    )
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["Principal"] == "config.amazonaws.com"
    assert _target(permission["FunctionName"]) == f"{spec.logical_id}Function"
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}


# -------------------------------------------------------------------- remediations


@pytest.mark.parametrize("spec", REMEDIATION_SPECS, ids=_spec_id)
def test_remediation_resources_exist(template: Template, spec: RemediationSpec) -> None:
    expected = {
        "Function": "AWS::Serverless::Function",
        "Role": "AWS::IAM::Role",
        "LogGroup": "AWS::Logs::LogGroup",
        "DeadLetterQueue": "AWS::SQS::Queue",
        "DeadLetterQueuePolicy": "AWS::SQS::QueuePolicy",
        "EventRule": "AWS::Events::Rule",
        "EventPermission": "AWS::Lambda::Permission",
    }
    for suffix, resource_type in expected.items():
        _resource(template, f"{spec.logical_id}{suffix}", resource_type)


@pytest.mark.parametrize("spec", REMEDIATION_SPECS, ids=_spec_id)
def test_remediation_function_code(template: Template, spec: RemediationSpec) -> None:
    function = _function(template, spec)
    assert function["CodeUri"] == "remediations/"
    assert function["Handler"] == f"{spec.module}.lambda_handler"
    assert _target(function["Role"]) == f"{spec.logical_id}Role"


def _event_patterns(template: Template, spec: RemediationSpec) -> list[Any]:
    """Patterns routing events to the remediation: Events::Rule targets or SAM events."""
    function_id = f"{spec.logical_id}Function"
    patterns = [
        _props(rule).get("EventPattern")
        for rule in _of_type(template, "AWS::Events::Rule").values()
        if any(_target(t["Arn"]) == function_id for t in _props(rule).get("Targets", []))
    ]
    for event in _function(template, spec).get("Events", {}).values():
        if event["Type"] in {"EventBridgeRule", "CloudWatchEvent"}:
            patterns.append(event["Properties"]["Pattern"])
    return patterns


@pytest.mark.parametrize("spec", REMEDIATION_SPECS, ids=_spec_id)
def test_remediation_event_pattern(template: Template, spec: RemediationSpec) -> None:
    assert _event_patterns(template, spec) == [registry.compliance_change_pattern(spec)]
    deployed_rules = {
        _props(r)["ConfigRuleName"] for r in _of_type(template, "AWS::Config::ConfigRule").values()
    }
    assert set(spec.rules) <= deployed_rules, "the remediation listens to undeployed rules"


@pytest.mark.parametrize("spec", REMEDIATION_SPECS, ids=_spec_id)
def test_remediation_event_delivery(template: Template, spec: RemediationSpec) -> None:
    """Failed deliveries land in the function's DLQ, which EventBridge may write to."""
    prefix = spec.logical_id
    rule = _props(_resource(template, f"{prefix}EventRule", "AWS::Events::Rule"))
    (target,) = rule["Targets"]
    assert _target(target["Arn"]) == f"{prefix}Function"
    assert _target(target["DeadLetterConfig"]["Arn"]) == f"{prefix}DeadLetterQueue"
    assert "MaximumRetryAttempts" in target["RetryPolicy"]

    permission = _props(_resource(template, f"{prefix}EventPermission", "AWS::Lambda::Permission"))
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["Principal"] == "events.amazonaws.com"
    assert _target(permission["FunctionName"]) == f"{prefix}Function"
    assert _target(permission["SourceArn"]) == f"{prefix}EventRule"

    queue_policy = _props(
        _resource(template, f"{prefix}DeadLetterQueuePolicy", "AWS::SQS::QueuePolicy")
    )
    assert [_target(q) for q in queue_policy["Queues"]] == [f"{prefix}DeadLetterQueue"]
    (statement,) = _as_list(queue_policy["PolicyDocument"]["Statement"])
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert _as_list(statement["Action"]) == ["sqs:SendMessage"]
    assert _target(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == f"{prefix}EventRule"


@pytest.mark.parametrize("spec", REMEDIATION_SPECS, ids=_spec_id)
def test_remediation_environment(template: Template, spec: RemediationSpec) -> None:
    """Exactly the common settings plus the fix's own, wired to this stack."""
    variables = _function(template, spec)["Environment"]["Variables"]
    assert set(variables) == set(settings.COMMON_REMEDIATION_SETTINGS) | set(spec.settings)

    resources = _resources(template)
    parameters = template["Parameters"]
    assert _target(variables[settings.AUDIT_TABLE]) == "AuditTable"
    assert _target(variables[settings.IDEMPOTENCY_TABLE]) == "IdempotencyTable"
    assert _target(variables[settings.ONCALL_TOPIC]) == "OnCallTopic"
    kill_switch = _target(variables[settings.KILL_SWITCH_PARAMETER])
    assert kill_switch is not None
    assert resources[kill_switch]["Properties"]["Name"] == settings.DEFAULT_KILL_SWITCH_PARAMETER
    assert resources[kill_switch]["Properties"]["Value"] == "off"
    assert variables[settings.SETTINGS_PREFIX] == settings.DEFAULT_SETTINGS_PREFIX
    assert variables[settings.OPT_OUT_TAG] == settings.DEFAULT_OPT_OUT_TAG

    mode = parameters[str(_target(variables[settings.REMEDIATION_MODE]))]
    assert set(mode["AllowedValues"]) == set(MODES)
    assert mode["Default"] == spec.default_mode
    assert parameters[str(_target(variables[settings.MAX_CHANGES_PER_HOUR]))]["Type"] == "Number"
    allowlist = parameters[str(_target(variables[settings.ACCOUNT_ALLOWLIST]))]
    assert allowlist["Default"] == "", "by default a fix acts only in its own account"
    for name in spec.settings:
        target = _target(variables[name])
        if isinstance(variables[name], dict) and "Fn::If" in variables[name]:
            continue
        assert target in parameters or target in resources, f"{name} is wired to nothing"
    if settings.KEY_ARN in spec.settings:
        assert _target(variables[settings.KEY_ARN]) == "ConfigGuardKey"


def test_every_setting_is_read_by_someone() -> None:
    """settings.py declares nothing that no function reads."""
    used = (
        set(settings.COMMON_REMEDIATION_SETTINGS)
        | set(settings.GLOBAL_SETTINGS)
        | set(settings.ROUTER_SETTINGS)
    )
    for spec in REMEDIATION_SPECS:
        used |= set(spec.settings)
    assert _settings_env_names() - used == set()


def test_generated_remediation_blocks_are_current() -> None:
    """template.yaml's fix blocks are exactly what the registry renders."""
    from configguard_cli import remediation_blocks

    text = TEMPLATE_PATH.read_text()
    assert remediation_blocks.current(text) == remediation_blocks.rendered(), (
        "run: .venv/bin/python -m configguard_cli.remediation_blocks --write"
    )


# ------------------------------------------------------------------ both directions


def test_no_stray_functions(template: Template) -> None:
    declared = {f"{spec.logical_id}Function" for spec in ALL_SPECS}
    assert set(_of_type(template, "AWS::Serverless::Function")) == declared
    assert not _of_type(template, "AWS::Lambda::Function"), "declare functions with SAM"


def test_no_stray_config_rules(template: Template) -> None:
    org_rules = _of_type(template, "AWS::Config::OrganizationConfigRule")
    assert set(org_rules) == {f"{spec.logical_id}OrganizationConfigRule" for spec in RULE_SPECS}
    rules = _of_type(template, "AWS::Config::ConfigRule")
    assert {_props(r)["ConfigRuleName"] for r in rules.values()} == set(registry.RULES)
    assert set(rules) == {f"{spec.logical_id}ConfigRule" for spec in RULE_SPECS}


def test_no_stray_event_rules(template: Template) -> None:
    rules = _of_type(template, "AWS::Events::Rule")
    router = registry.ROUTER.logical_id
    assert set(rules) == {f"{spec.logical_id}EventRule" for spec in REMEDIATION_SPECS} | {
        f"{router}CustomActionRule",
        f"{router}AutoTriggerRule",
    }


# ------------------------------------------------------------------------ IAM


@pytest.mark.parametrize("spec", ALL_SPECS, ids=_spec_id)
def test_role_grants_exactly_declared_permissions(
    template: Template, spec: RuleSpec | RemediationSpec | RouterSpec
) -> None:
    statements = _statements(template, f"{spec.logical_id}Role")
    actions: list[str] = []
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement)
        actions.extend(_as_list(statement["Action"]))
    wildcards = [action for action in actions if "*" in action]
    assert not wildcards, f"wildcard actions: {wildcards}"
    assert len(actions) == len(set(actions)), "an action is granted twice"
    assert set(actions) == _expected_permissions(spec)


@pytest.mark.parametrize("spec", ALL_SPECS, ids=_spec_id)
def test_role_resources_are_scoped(
    template: Template, spec: RuleSpec | RemediationSpec | RouterSpec
) -> None:
    """'*' only where the service has no resource-level permissions; the rest is this stack's."""
    prefix = spec.logical_id
    own = {
        "logs": {f"{prefix}LogGroup"},
        "sqs": {f"{prefix}DeadLetterQueue"},
        "kms": {"ConfigGuardKey"},
        "dynamodb": {"AuditTable", "IdempotencyTable"},
        "sns": {"OnCallTopic"},
    }
    for statement in _statements(template, f"{prefix}Role"):
        actions = set(_as_list(statement["Action"]))
        resources = _as_list(statement["Resource"])
        if "*" in resources:
            assert actions <= UNSCOPED_ACTIONS, f"{sorted(actions - UNSCOPED_ACTIONS)} on '*'"
            assert resources == ["*"]
            continue
        services = {action.split(":")[0] for action in actions}
        assert len(services) == 1, f"one service per scoped statement: {sorted(actions)}"
        (service,) = services
        owns = service in own and actions <= OWN_RESOURCE_ACTIONS.get(service, actions)
        if owns:
            assert _references(resources) == own[service], f"{service} actions' resources"
        elif service in OWN_RESOURCE_ACTIONS:
            assert not actions & OWN_RESOURCE_ACTIONS[service], f"mixed {sorted(actions)}"
        if actions == {"sts:AssumeRole"}:
            # Central mode: only the members' evaluation or remediation role, by parameter.
            member_role = (
                "ExecutionRoleName" if isinstance(spec, RuleSpec) else "RemediationRoleName"
            )
            assert resources == [
                {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::*:role/${{{member_role}}}"}
            ]
            continue
        region = "" if service in GLOBAL_SERVICES else "${AWS::Region}"
        if service in ANY_REGION_SERVICES:
            region = "*"
        for resource in resources:
            if isinstance(resource, dict) and "Fn::Sub" in resource:
                arn = str(_as_list(resource["Fn::Sub"])[0])
                assert arn.startswith(f"arn:${{AWS::Partition}}:{service}:{region}:")
                if service in ACCOUNTLESS_ARNS:
                    assert arn.startswith(ACCOUNTLESS_ARNS[service]), arn
                    continue
                if arn.startswith("arn:${AWS::Partition}:iam::aws:policy/"):
                    assert actions <= AWS_MANAGED_POLICY_READS, f"{sorted(actions)} on {arn}"
                    continue
                assert ":${AWS::AccountId}:" in arn, f"{arn} must be scoped to this account"


@pytest.mark.parametrize("spec", ALL_SPECS, ids=_spec_id)
def test_role_is_for_lambda_only(
    template: Template, spec: RuleSpec | RemediationSpec | RouterSpec
) -> None:
    role = _props(_resource(template, f"{spec.logical_id}Role", "AWS::IAM::Role"))
    (statement,) = _as_list(role["AssumeRolePolicyDocument"]["Statement"])
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert _as_list(statement["Action"]) == ["sts:AssumeRole"]


# ------------------------------------------------------------------ operations


@pytest.mark.parametrize("spec", ALL_SPECS, ids=_spec_id)
def test_function_operational_settings(
    template: Template, spec: RuleSpec | RemediationSpec | RouterSpec
) -> None:
    prefix = spec.logical_id
    function = _function(template, spec)
    reserved = function.get("ReservedConcurrentExecutions")
    assert isinstance(reserved, int) and reserved >= 1, "reserve concurrency (dogfooding)"

    dlq = function["DeadLetterQueue"]
    assert dlq["Type"] == "SQS"
    assert dlq["TargetArn"] == {"Fn::GetAtt": [f"{prefix}DeadLetterQueue", "Arn"]}
    queue = _props(_resource(template, f"{prefix}DeadLetterQueue", "AWS::SQS::Queue"))
    assert _target(queue["KmsMasterKeyId"]) == "ConfigGuardKey"
    assert queue["MessageRetentionPeriod"] == DLQ_RETENTION_SECONDS

    assert function["LoggingConfig"]["LogGroup"] == {"Ref": f"{prefix}LogGroup"}
    log_group = _props(_resource(template, f"{prefix}LogGroup", "AWS::Logs::LogGroup"))
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert _target(log_group["KmsKeyId"]) == "ConfigGuardKey"
    if "FunctionName" in function or "LogGroupName" in log_group:
        assert function["FunctionName"] == f"configguard-{spec.name}"
        assert log_group["LogGroupName"] == f"/aws/lambda/{function['FunctionName']}"
        assert len(function["FunctionName"]) <= 64


def test_log_retention_parameter(template: Template) -> None:
    parameter = template["Parameters"]["LogRetentionDays"]
    assert parameter["Default"] == 365
    assert set(parameter["AllowedValues"]) == VALID_RETENTION_DAYS


def test_globals(template: Template) -> None:
    function = _globals(template)
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["Tracing"] == "Active"
    assert function["Layers"] == [{"Ref": "ConfigGuardLayer"}]
    assert _target(function["KmsKeyArn"]) == "ConfigGuardKey"
    variables = function["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == "configguard"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "configguard"
    assert variables["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
    assert variables[settings.RUNBOOK_BASE_URL] == {"Ref": "RunbookBaseUrl"}
    assert set(settings.GLOBAL_SETTINGS) <= set(variables)


def test_layer(template: Template) -> None:
    layer = _resource(template, "ConfigGuardLayer", "AWS::Serverless::LayerVersion")
    properties = _props(layer)
    assert properties["ContentUri"] == "shared/"
    assert properties["CompatibleRuntimes"] == ["python3.13"]
    assert properties["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}


def test_stateful_resources_use_the_stack_key(template: Template) -> None:
    key = _props(_resource(template, "ConfigGuardKey", "AWS::KMS::Key"))
    assert key["EnableKeyRotation"] is True
    for table_id in ("AuditTable", "IdempotencyTable"):
        sse = _props(_resource(template, table_id, "AWS::DynamoDB::Table"))["SSESpecification"]
        assert sse["SSEType"] == "KMS"
        assert _target(sse["KMSMasterKeyId"]) == "ConfigGuardKey"
    topic = _props(_resource(template, "OnCallTopic", "AWS::SNS::Topic"))
    assert _target(topic["KmsMasterKeyId"]) == "ConfigGuardKey"
    audit = _resource(template, "AuditTable", "AWS::DynamoDB::Table")
    assert audit["DeletionPolicy"] == audit["UpdateReplacePolicy"] == "Retain"
    # A deleted key would make the retained audit table unreadable.
    assert _resources(template)["ConfigGuardKey"]["DeletionPolicy"] == "Retain"


# ------------------------------------------------------------------------ tools


def test_cfn_lint_is_clean() -> None:
    matches = lint_file(TEMPLATE_PATH)
    assert not matches, "\n".join(str(match) for match in matches)


class _NoManagedPolicies:
    """samtranslator's managed-policy loader, which must never be needed (no network)."""

    def load(self) -> dict[str, str]:
        raise AssertionError("template uses a managed policy name; that needs IAM access")


@pytest.fixture
def transformed(template: Template, monkeypatch: pytest.MonkeyPatch) -> Template:
    """The template as CloudFormation would see it after the SAM transform, offline."""
    from samtranslator.translator.arn_generator import ArnGenerator
    from samtranslator.translator.transform import transform

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(ArnGenerator, "BOTO_SESSION_REGION_NAME", "us-east-1")

    sam = copy.deepcopy(template)
    for logical_id, resource in sam["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            properties["CodeUri"] = f"s3://configguard-artifacts/{logical_id}.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = f"s3://configguard-artifacts/{logical_id}.zip"
    return dict(transform(sam, {}, _NoManagedPolicies()))


def test_template_transforms_offline(transformed: Template) -> None:
    assert "Transform" not in transformed
    types = {resource["Type"] for resource in transformed["Resources"].values()}
    assert not {t for t in types if t.startswith("AWS::Serverless::")}

    functions = {
        logical_id: resource["Properties"]
        for logical_id, resource in transformed["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    assert set(functions) == {f"{spec.logical_id}Function" for spec in ALL_SPECS}
    layers = {
        logical_id
        for logical_id, resource in transformed["Resources"].items()
        if resource["Type"] == "AWS::Lambda::LayerVersion"
    }
    for properties in functions.values():
        assert properties["Runtime"] == "python3.13"
        assert properties["Architectures"] == ["arm64"]
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert {_target(layer) for layer in properties["Layers"]} <= layers
        assert "TargetArn" in properties["DeadLetterConfig"]
    # Every role is one of ours: SAM generated none (and so no managed policies). The one
    # extra is the role API Gateway itself assumes to write execution logs.
    roles = {
        logical_id
        for logical_id, resource in transformed["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
    }
    assert roles == {f"{spec.logical_id}Role" for spec in ALL_SPECS} | {SERVICE_ROLE, RECORDER_ROLE}
    trust = _props(transformed["Resources"][SERVICE_ROLE])["AssumeRolePolicyDocument"]
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "apigateway.amazonaws.com"}]
