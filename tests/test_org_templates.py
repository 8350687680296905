"""Contract of the organization templates (org/) with the registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_file
from cfnlint.decode import cfn_yaml

from configguard import registry
from configguard.registry import REMEDIATION_BASELINE_PERMISSIONS
from configguard_cli import org_templates
from configguard_cli.remediation_blocks import UNSCOPED

ROOT = Path(__file__).resolve().parents[1]
ARTIFACT_BUCKET = ROOT / "org" / "artifact-bucket.yaml"
MEMBER_ROLES = ROOT / "org" / "member-roles.yaml"

Template = dict[str, Any]


def _load(path: Path) -> Template:
    return dict(json.loads(json.dumps(cfn_yaml.load(str(path)))))


@pytest.fixture(scope="module")
def member() -> Template:
    return _load(MEMBER_ROLES)


@pytest.fixture(scope="module")
def bucket() -> Template:
    return _load(ARTIFACT_BUCKET)


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def _allowed(role: dict[str, Any]) -> set[str]:
    return {a for s in _statements(role) if s["Effect"] == "Allow" for a in _actions(s)}


def _sub(value: Any) -> str:
    """The text of a `!Sub` (short or long form)."""
    assert isinstance(value, dict) and set(value) == {"Fn::Sub"}, value
    text = value["Fn::Sub"]
    return str(text if isinstance(text, str) else text[0])


# ------------------------------------------------------------------ generation


def test_member_roles_file_is_current() -> None:
    assert MEMBER_ROLES.read_text() == org_templates.render()
    assert org_templates.main([]) == 0


def test_check_mode_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "member-roles.yaml"
    stale.write_text(org_templates.render().replace("kms:EnableKeyRotation", "kms:Nothing"))
    monkeypatch.setattr(org_templates, "MEMBER_ROLES", stale)
    assert org_templates.main([]) == 1
    assert org_templates.main(["--write"]) == 0
    assert stale.read_text() == org_templates.render()


# ------------------------------------------------------------------ permissions


def test_evaluation_role_grants_exactly_the_rules_reads_and_the_member_config_calls(
    member: Template,
) -> None:
    reads = {a for spec in registry.RULES.values() for a in spec.permissions}
    # rdklib (and GuardEvaluator) call Config with the assumed member credentials: the
    # result token is the member rule's, and periodic rules list their old results.
    config_calls = {"config:PutEvaluations", "config:GetComplianceDetailsByConfigRule"}
    role = member["Resources"]["EvaluationRole"]
    assert _allowed(role) == reads | config_calls
    assert all(s["Effect"] == "Allow" for s in _statements(role))
    # Read-only: no rule permission is a write.
    writes = ("Put", "Update", "Create", "Delete", "Attach", "Associate", "Enable")
    assert not [a for a in reads if a.split(":")[1].startswith(writes)]


def test_remediation_role_grants_exactly_the_fixes_actions_and_no_central_baseline(
    member: Template,
) -> None:
    fixes = {a for spec in registry.REMEDIATIONS.values() for a in spec.permissions}
    baseline = set(REMEDIATION_BASELINE_PERMISSIONS)
    # The stack key's data-key calls are made in the member (Secrets Manager, Logs).
    member_baseline = {"kms:Decrypt", "kms:GenerateDataKey"}
    role = member["Resources"]["RemediationRole"]
    allowed = _allowed(role)
    assert allowed == (fixes - baseline) | member_baseline
    central = {"dynamodb", "sns", "ssm", "sqs", "xray", "securityhub", "sts"}
    assert not {a for a in allowed if a.split(":")[0] in central}
    assert not {"logs:CreateLogStream", "logs:PutLogEvents"} & allowed


def test_remediation_role_is_scoped_like_the_single_account_roles(member: Template) -> None:
    statements = {s["Sid"]: s for s in _statements(member["Resources"]["RemediationRole"])}
    for sid, statement in statements.items():
        if statement["Effect"] == "Deny":
            continue
        if sid == "NoResourceLevelPermissions":
            assert statement["Resource"] == "*"
            assert _actions(statement) <= UNSCOPED
        elif sid == "PassApiGatewayLoggingRole":
            assert _actions(statement) == {"iam:PassRole"}
            assert statement["Resource"] == {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}
        elif sid == "UseCentralStackKey":
            assert "${CentralAccountId}:key/*" in _sub(statement["Resource"])
            assert _actions(statement) <= org_templates.CENTRAL_KEY_ACTIONS
        else:
            resource = _sub(statement["Resource"])
            assert "${AWS::AccountId}" in resource or sid == "FixApigateway", sid
            services = {a.split(":")[0] for a in _actions(statement)}
            assert len(services) == 1, sid
    # The fixes may write role policies, but never on configguard's own member roles.
    deny = statements["NeverWidenOwnRoles"]
    assert deny["Effect"] == "Deny"
    assert _actions(deny) == {"iam:PutRolePolicy"}
    denied = {_sub(r) for r in deny["Resource"]}
    assert any(r.endswith("role/${RemediationRoleName}") for r in denied)
    assert any(r.endswith("role/${EvaluationRoleName}") for r in denied)


@pytest.mark.parametrize(
    ("role", "pattern"),
    [("EvaluationRole", "EvaluationTrustedRoles"), ("RemediationRole", "RemediationTrustedRoles")],
)
def test_trust_is_only_the_central_accounts_configguard_roles_in_the_org(
    member: Template, role: str, pattern: str
) -> None:
    props = member["Resources"][role]["Properties"]
    (statement,) = props["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRole"
    assert _sub(statement["Principal"]["AWS"]) == (
        "arn:${AWS::Partition}:iam::${CentralAccountId}:root"
    )
    condition = statement["Condition"]
    assert set(condition) == {"ArnLike", "StringEquals"}
    assert _sub(condition["ArnLike"]["aws:PrincipalArn"]) == (
        f"arn:${{AWS::Partition}}:iam::${{CentralAccountId}}:role/${{{pattern}}}"
    )
    assert condition["StringEquals"] == {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}
    assert member["Parameters"][pattern]["Default"] == "configguard-*"
    # A fixed name, so the rules' ExecutionRoleName can name it.
    assert props["RoleName"] == {"Ref": f"{role.removesuffix('Role')}RoleName"}


def test_global_roles_once_per_account_forwarding_in_every_region(member: Template) -> None:
    resources = member["Resources"]
    roles = {k for k, v in resources.items() if v["Type"] == "AWS::IAM::Role"}
    in_roles_region = {k for k, v in resources.items() if v.get("Condition") == "CreateRoles"}
    assert in_roles_region == roles - {"EventForwardingRole"}
    assert member["Conditions"]["CreateRoles"] == {
        "Fn::Equals": [{"Ref": "AWS::Region"}, {"Ref": "RolesRegion"}]
    }


def test_parameters_validate_account_and_org(member: Template) -> None:
    params = member["Parameters"]
    assert params["CentralAccountId"]["AllowedPattern"] == "^[0-9]{12}$"
    assert params["OrganizationId"]["AllowedPattern"].startswith("^o-")
    assert params["EvaluationRoleName"]["Default"] == "configguard-evaluation"
    assert params["RemediationRoleName"]["Default"] == "configguard-remediation"


# ------------------------------------------------------------------ forwarding


def test_forwarding_rule_covers_every_fixed_rule_and_targets_the_central_bus(
    member: Template,
) -> None:
    rule = member["Resources"]["ComplianceForwardingRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.config"]
    assert pattern["detail-type"] == ["Config Rules Compliance Change"]
    detail = pattern["detail"]
    assert detail["newEvaluationResult"] == {"complianceType": ["NON_COMPLIANT"]}
    fixed = {r for spec in registry.REMEDIATIONS.values() for r in spec.rules}
    names = {m["wildcard"] for m in detail["configRuleName"]}
    assert names == {f"OrgConfigRule-*{r}-*" for r in fixed}
    types = {t for spec in registry.REMEDIATIONS.values() for t in spec.resource_types}
    assert set(detail["resourceType"]) == types
    (target,) = rule["Targets"]
    assert target["RoleArn"] == {"Fn::GetAtt": ["EventForwardingRole", "Arn"]}
    condition, default_bus, given = target["Arn"]["Fn::If"]
    assert condition == "DefaultBus" and given == {"Ref": "CentralEventBusArn"}
    assert _sub(default_bus).endswith(":${CentralAccountId}:event-bus/default")
    forward = _statements(member["Resources"]["EventForwardingRole"])
    assert [_actions(s) for s in forward] == [{"events:PutEvents"}]
    assert forward[0]["Resource"] == target["Arn"]


# ------------------------------------------------------------------ artifact bucket


def test_artifact_bucket_is_per_region_versioned_encrypted_and_private(bucket: Template) -> None:
    props = bucket["Resources"]["ArtifactBucket"]["Properties"]
    assert _sub(props["BucketName"]) == "${BucketPrefix}-${AWS::Region}"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    (sse,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    rules = props["LifecycleConfiguration"]["Rules"]
    assert any("NoncurrentVersionExpiration" in r for r in rules)
    assert bucket["Parameters"]["OrganizationId"]["AllowedPattern"] == "^o-[a-z0-9]{10,32}$"


def test_artifact_bucket_policy_is_org_read_and_tls_only(bucket: Template) -> None:
    policy = bucket["Resources"]["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]
    allow, deny = policy["Statement"]
    assert allow["Effect"] == "Allow" and allow["Principal"] == "*"
    assert set(allow["Action"]) == {"s3:GetObject", "s3:GetObjectVersion"}
    assert _sub(allow["Resource"]) == "arn:${AWS::Partition}:s3:::${ArtifactBucket}/*"
    assert allow["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# ------------------------------------------------------------------ tools


@pytest.mark.parametrize("path", [ARTIFACT_BUCKET, MEMBER_ROLES], ids=lambda p: p.name)
def test_org_templates_have_no_transform_and_lint_clean(path: Path) -> None:
    assert "Transform" not in _load(path)
    matches = lint_file(path)
    assert not matches, "\n".join(str(match) for match in matches)
