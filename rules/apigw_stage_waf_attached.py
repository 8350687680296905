"""apigw-stage-waf-attached: REST API stages have an AWS WAFv2 web ACL (Security Hub APIGateway.4).

Data: `configuration.webAclArn` from the AWS::ApiGateway::Stage CI; apigateway GetStage
only when the CI lacks the key (GetStage omits it when no web ACL is associated, so a
CI built from it needs one read to confirm). AWS::ApiGatewayV2::Stage CIs need no read.
Parameter WebAclArns: when given, the associated web ACL must be one of these ARNs.

Decisions: a WAF Classic web ACL (`arn:aws:waf-regional:...`) is NON_COMPLIANT: WAF
Classic reached end of life, so protection must move to WAFv2. HTTP and WebSocket
stages cannot be associated with AWS WAF at all, so they are NOT_APPLICABLE.
Differs from AWS managed rule api-gw-associated-with-waf: WAF Classic ACLs fail here,
and v2 stages are reported NOT_APPLICABLE instead of being out of scope.

Scenarios:
  Given a REST stage with a WAFv2 web ACL and no WebAclArns,
    When evaluated, Then COMPLIANT and no API Gateway call is made.
  Given a REST stage with no web ACL, When evaluated, Then NON_COMPLIANT.
  Given WebAclArns and a stage whose web ACL is one of them, When evaluated, Then COMPLIANT.
  Given WebAclArns and a stage with a different web ACL,
    When evaluated, Then NON_COMPLIANT naming that ACL's name and id.
  Given a stage CI whose webAclArn is a WAF Classic ACL,
    When evaluated, Then NON_COMPLIANT (WAF Classic is end-of-life; use WAFv2).
  Given an HTTP or WebSocket (ApiGatewayV2) stage, When evaluated,
    Then NOT_APPLICABLE and no API call is made.
  Given a CI without webAclArn for a stage that no longer exists,
    When evaluated, Then NOT_APPLICABLE.
  Given a ResourceDeleted configuration item, When evaluated, Then NOT_APPLICABLE.
  Given AccessDenied on GetStage, When invoked,
    Then the invocation fails visibly and reports nothing.
"""

from __future__ import annotations

from typing import Any

from rdklib import Evaluation

from configguard.cibuilder import HTTP_STAGE, MISSING, ci_typed, parse_stage_arn
from configguard.parameters import ApigwStageWafAttachedParameters
from configguard.reads import Reads
from configguard.registry import RULES
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import Verdict

GONE = Verdict.not_applicable("The stage no longer exists.")
V2_STAGE = Verdict.not_applicable("HTTP and WebSocket APIs cannot be associated with AWS WAF.")


def acl_label(arn: str) -> str:
    """'name (id)' of a WAFv2 or WAF Classic web ACL ARN; the resource part otherwise."""
    resource = arn.split(":", 5)[-1]
    parts = resource.split("/")
    if len(parts) == 4 and parts[1] == "webacl":  # wafv2: regional/webacl/<name>/<id>
        return f"{parts[2]} ({parts[3]})"
    if len(parts) == 2 and parts[0] == "webacl":  # WAF Classic: webacl/<id>
        return f"WAF Classic {parts[1]}"
    return resource[-120:]


def is_waf_classic(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) > 2 and parts[2] in {"waf-regional", "waf"}


def judge_web_acl(web_acl_arn: str | None, allowed: tuple[str, ...]) -> Verdict:
    """The verdict for the web ACL associated with a REST stage (None: none)."""
    if not web_acl_arn:
        return Verdict.non_compliant(
            "No AWS WAF web ACL is associated with the stage; associate a WAFv2 web ACL "
            "(wafv2 AssociateWebACL with the stage ARN)."
        )
    label = acl_label(web_acl_arn)
    if is_waf_classic(web_acl_arn):
        return Verdict.non_compliant(
            f"The stage uses {label}; WAF Classic is end-of-life: associate a WAFv2 web ACL."
        )
    if allowed and web_acl_arn not in allowed:
        return Verdict.non_compliant(
            f"Web ACL {label} is not one of WebAclArns; associate an allowed WAFv2 web ACL."
        )
    return Verdict.compliant(f"WAFv2 web ACL {label} is associated with the stage.")


def evaluate(
    configuration_item: dict[str, Any],
    params: ApigwStageWafAttachedParameters,
    reads: Reads,
) -> Verdict:
    """The verdict for one stage's CI."""
    if configuration_item["resourceType"] == HTTP_STAGE:
        return V2_STAGE
    arn = ci_typed(configuration_item, str, "configuration", "webAclArn")
    if arn is MISSING:
        _, api_id, stage_name = parse_stage_arn(configuration_item["resourceId"])
        stage = reads.rest_stage(api_id, stage_name)
        if stage is None:
            return GONE
        arn = stage.get("webAclArn")
    return judge_web_acl(str(arn) if arn else None, params.web_acl_arns)


class ApigwStageWafAttached(GuardRule):
    spec = RULES["apigw-stage-waf-attached"]

    def evaluate_change(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        configuration_item: dict[str, Any],
        valid_rule_parameters: ApigwStageWafAttachedParameters,
    ) -> list[Evaluation]:
        verdict = evaluate(configuration_item, valid_rule_parameters, client_factory.reads)
        return [evaluation(verdict)]


lambda_handler = rule_handler(ApigwStageWafAttached)
