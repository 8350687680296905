"""Render org/member-roles.yaml (central mode) from the registry, so it cannot drift.

`python -m configguard_cli.org_templates --write` rewrites the file; without `--write`
it exits 1 when the file is stale (tests/test_org_templates.py checks the same).

In central mode the delegated-administrator account runs the rule and fix Lambdas; every
member gets this stack through a SERVICE_MANAGED StackSet:

- an evaluation role: the union of every rule's reads, plus the two Config calls rdklib
  and configguard's evaluator make with the *assumed* credentials (PutEvaluations with
  the member's result token; GetComplianceDetailsByConfigRule for periodic rules);
- a remediation role: the union of every fix's own actions, scoped per service like the
  single-account template, plus the KMS data-key calls a fix makes with the stack key.
  The engine's bookkeeping (audit and idempotency tables, on-call topic, kill switch and
  settings, logs, X-Ray, dead-letter queues) and Security Hub notes stay central:
  findings are aggregated in the delegated-administrator account, whose own
  BatchUpdateFindings covers the members' findings;
- the API Gateway CloudWatch role that `enable-api-logging` may set for the account;
- an EventBridge rule forwarding configguard's NON_COMPLIANT results to the central bus.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from configguard import registry
from configguard.registry import (
    PERIODIC_RULE_PERMISSIONS,
    REMEDIATION_BASELINE_PERMISSIONS,
    RULE_BASELINE_PERMISSIONS,
)
from configguard_cli.remediation_blocks import _ARN, SERVICE_SCOPE, UNSCOPED, _statement

ROOT = Path(__file__).resolve().parents[2]
MEMBER_ROLES = ROOT / "org" / "member-roles.yaml"

# Services of the baselines whose calls the central functions make with their own roles.
CENTRAL_SERVICES = frozenset(
    {"dynamodb", "sns", "ssm", "sqs", "logs", "xray", "securityhub", "sts"}
)
# Config calls the rule makes through the assumed member credentials (rdklib's
# ClientFactory with ExecutionRoleName; configguard's GuardEvaluator the same): the
# result token belongs to the member's rule, so PutEvaluations must come from the member.
MEMBER_CONFIG_CALLS = tuple(
    sorted(
        {a for a in RULE_BASELINE_PERMISSIONS if a.startswith("config:")}
        | set(PERIODIC_RULE_PERMISSIONS)
    )
)
# Stack-key calls a fix makes in the member (Secrets Manager and CloudWatch Logs encrypt
# with the key on the caller's behalf); everything else of the baseline stays central.
MEMBER_BASELINE = tuple(
    sorted(a for a in REMEDIATION_BASELINE_PERMISSIONS if a.split(":")[0] not in CENTRAL_SERVICES)
)
# KMS actions a fix may call on the central stack key (not rotation or deletion).
CENTRAL_KEY_ACTIONS = frozenset(
    {"kms:DescribeKey", "kms:CreateGrant", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"}
)
ROLE_HANDOFF = "iam:PassRole"
SELF_MODIFY = ("iam:PutRolePolicy",)
API_GATEWAY_LOGS_POLICY = "AmazonAPIGatewayPushToCloudWatchLogs"


def evaluation_actions() -> tuple[str, ...]:
    """Every rule's own reads (the registry), without the central baseline."""
    return tuple(sorted({a for spec in registry.RULES.values() for a in spec.permissions}))


def remediation_actions() -> tuple[str, ...]:
    """Every fix's own actions, without the engine baseline."""
    baseline = set(REMEDIATION_BASELINE_PERMISSIONS)
    return tuple(
        sorted({a for s in registry.REMEDIATIONS.values() for a in s.permissions} - baseline)
    )


def forwarded_rules() -> tuple[str, ...]:
    """The rules whose NON_COMPLIANT results a fix acts on."""
    return tuple(sorted({r for s in registry.REMEDIATIONS.values() for r in s.rules}))


def forwarded_resource_types() -> tuple[str, ...]:
    return tuple(sorted({t for s in registry.REMEDIATIONS.values() for t in s.resource_types}))


def _trust(sid: str, pattern_parameter: str) -> str:
    return f"""      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Sid: {sid}
            Effect: Allow
            Principal:
              AWS: {_ARN}:iam::${{CentralAccountId}}:root
            Action: sts:AssumeRole
            Condition:
              ArnLike:
                aws:PrincipalArn: {_ARN}:iam::${{CentralAccountId}}:role/${{{pattern_parameter}}}
              StringEquals:
                aws:PrincipalOrgID: !Ref OrganizationId"""


def evaluation_statements() -> str:
    return "\n".join(
        [
            # Reads only; most are List/Describe calls without resource-level permissions,
            # and a role in the member can only read the member anyway.
            _statement("ReadForEvaluation", list(evaluation_actions()), '"*"'),
            _statement("ReportEvaluations", list(MEMBER_CONFIG_CALLS), '"*"'),
        ]
    )


def remediation_statements() -> str:
    by_service: dict[str, list[str]] = {}
    unscoped: list[str] = []
    for action in (*remediation_actions(), *MEMBER_BASELINE):
        if action in UNSCOPED:
            unscoped.append(action)
        elif action != ROLE_HANDOFF:
            by_service.setdefault(action.split(":")[0], []).append(action)
    blocks = []
    for service, actions in sorted(by_service.items()):
        blocks.append(
            _statement(f"Fix{service.capitalize()}", sorted(set(actions)), SERVICE_SCOPE[service])
        )
        if service == "kms":
            central = sorted(CENTRAL_KEY_ACTIONS & set(actions))
            key = f"{_ARN}:kms:${{AWS::Region}}:${{CentralAccountId}}:key/*"
            blocks.append(_statement("UseCentralStackKey", central, key))
    blocks.append(
        _statement(
            "PassApiGatewayLoggingRole", [ROLE_HANDOFF], "!GetAtt ApiGatewayCloudWatchRole.Arn"
        )
    )
    blocks.append(_statement("NoResourceLevelPermissions", sorted(unscoped), '"*"'))
    deny = _statement(
        "NeverWidenOwnRoles",
        list(SELF_MODIFY),
        [
            f"{_ARN}:iam::${{AWS::AccountId}}:role/${{EvaluationRoleName}}",
            f"{_ARN}:iam::${{AWS::AccountId}}:role/${{RemediationRoleName}}",
        ],
    ).replace("Effect: Allow", "Effect: Deny")
    blocks.append(deny)
    return "\n".join(blocks)


def event_pattern() -> str:
    rules = "\n".join(
        f'              - wildcard: "OrgConfigRule-*{name}-*"' for name in forwarded_rules()
    )
    types = ", ".join(forwarded_resource_types())
    return f"""      EventPattern:
        source: [aws.config]
        detail-type: [Config Rules Compliance Change]
        detail:
          messageType: [ComplianceChangeNotification]
          # Config names an organization rule's member copy
          # OrgConfigRule-<organization rule name>-<suffix>.
          configRuleName:
{rules}
          resourceType: [{types}]
          newEvaluationResult:
            complianceType: [NON_COMPLIANT]"""


HEADER = """\
# GENERATED by `python -m configguard_cli.org_templates --write` from the registry:
# do not edit; tests/test_org_templates.py fails when this file is stale.
AWSTemplateFormatVersion: "2010-09-09"
Description: >-
  configguard member roles (central mode): an evaluation role for the central rule
  Lambdas, a remediation role for the central fix Lambdas, and forwarding of configguard's
  NON_COMPLIANT results to the central event bus. Deploy to members with a SERVICE_MANAGED
  StackSet from the delegated-administrator account.
"""


def render() -> str:
    """The whole member-roles template."""
    return f"""{HEADER}
Parameters:
  CentralAccountId:
    Type: String
    AllowedPattern: "^[0-9]{{12}}$"
    Description: The delegated-administrator account that runs configguard's Lambdas.
  OrganizationId:
    Type: String
    AllowedPattern: "^o-[a-z0-9]{{10,32}}$"
    Description: The organization (o-xxxxxxxxxx); only its principals may assume the roles.
  EvaluationRoleName:
    Type: String
    Default: configguard-evaluation
    Description: Fixed name, so the rules' ExecutionRoleName parameter can name it.
  RemediationRoleName:
    Type: String
    Default: configguard-remediation
    Description: Fixed name, so the central fixes can assume it in any member.
  EvaluationTrustedRoles:
    Type: String
    Default: configguard-*
    Description: >-
      Role-name pattern (ArnLike) of the central account's rule Lambda roles that may
      assume the evaluation role.
  RemediationTrustedRoles:
    Type: String
    Default: configguard-*
    Description: >-
      Role-name pattern (ArnLike) of the central account's fix Lambda roles that may
      assume the remediation role.
  RolesRegion:
    Type: String
    Default: us-east-1
    Description: >-
      IAM is global: the stack instance in this Region creates the (fixed-name) roles;
      the instances in every Region forward compliance changes.
  CentralEventBusArn:
    Type: String
    Default: ""
    Description: >-
      Where NON_COMPLIANT results are forwarded. Empty: the central account's default bus
      in this Region.

Conditions:
  DefaultBus: !Equals [!Ref CentralEventBusArn, ""]
  CreateRoles: !Equals [!Ref AWS::Region, !Ref RolesRegion]

Resources:
  EvaluationRole:
    Type: AWS::IAM::Role
    Condition: CreateRoles
    Properties:
      RoleName: !Ref EvaluationRoleName
      Description: configguard rules (central account) read this account and report to Config.
      MaxSessionDuration: 3600
{_trust("CentralConfigguardRules", "EvaluationTrustedRoles")}
      Policies:
        - PolicyName: configguard-evaluation
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
{evaluation_statements()}

  RemediationRole:
    Type: AWS::IAM::Role
    Condition: CreateRoles
    Properties:
      RoleName: !Ref RemediationRoleName
      Description: configguard fixes (central account) change this account's resources.
      MaxSessionDuration: 3600
{_trust("CentralConfigguardFixes", "RemediationTrustedRoles")}
      Policies:
        - PolicyName: configguard-remediation
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
{remediation_statements()}

  # The role enable-api-logging sets as the account's API Gateway CloudWatch role when
  # none is set (the remediation role may pass this one only).
  ApiGatewayCloudWatchRole:
    Type: AWS::IAM::Role
    Condition: CreateRoles
    Properties:
      RoleName: !Sub ${{RemediationRoleName}}-apigateway-logs
      Description: API Gateway writes execution logs to CloudWatch Logs (configguard).
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              Service: apigateway.amazonaws.com
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - {_ARN}:iam::aws:policy/service-role/{API_GATEWAY_LOGS_POLICY}

  EventForwardingRole:
    Type: AWS::IAM::Role
    Properties:
      Description: EventBridge forwards configguard compliance changes to the central bus.
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              Service: events.amazonaws.com
            Action: sts:AssumeRole
      Policies:
        - PolicyName: configguard-forward
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Sid: PutToCentralBus
                Effect: Allow
                Action: events:PutEvents
                Resource: !If
                  - DefaultBus
                  - {_ARN}:events:${{AWS::Region}}:${{CentralAccountId}}:event-bus/default
                  - !Ref CentralEventBusArn

  ComplianceForwardingRule:
    Type: AWS::Events::Rule
    Properties:
      Name: configguard-forward-compliance
      Description: configguard NON_COMPLIANT results, to the central account's bus.
      State: ENABLED
{event_pattern()}
      Targets:
        - Id: CentralBus
          Arn: !If
            - DefaultBus
            - {_ARN}:events:${{AWS::Region}}:${{CentralAccountId}}:event-bus/default
            - !Ref CentralEventBusArn
          RoleArn: !GetAtt EventForwardingRole.Arn

Outputs:
  EvaluationRoleArn:
    Description: The role the central rules assume (their ExecutionRoleName).
    Condition: CreateRoles
    Value: !GetAtt EvaluationRole.Arn
  RemediationRoleArn:
    Description: The role the central fixes assume.
    Condition: CreateRoles
    Value: !GetAtt RemediationRole.Arn
  ApiGatewayCloudWatchRoleArn:
    Description: >-
      The API Gateway CloudWatch role enable-api-logging may set
      (<RemediationRoleName>-apigateway-logs in every member).
    Condition: CreateRoles
    Value: !GetAtt ApiGatewayCloudWatchRole.Arn
  ComplianceForwardingRuleArn:
    Description: The rule forwarding compliance changes to the central bus.
    Value: !GetAtt ComplianceForwardingRule.Arn
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite org/member-roles.yaml")
    args = parser.parse_args(argv)
    new = render()
    if args.write:
        MEMBER_ROLES.parent.mkdir(parents=True, exist_ok=True)
        MEMBER_ROLES.write_text(new)
        return 0
    if not MEMBER_ROLES.exists() or MEMBER_ROLES.read_text() != new:
        print("org/member-roles.yaml is stale; run with --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
