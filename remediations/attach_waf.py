"""attach-waf: associate configguard's regional WAFv2 web ACL with a REST API stage.

The web ACL is settings.WEB_ACL_ARN (the configured one, or the stack-created one).
The fix never replaces a web ACL that is already associated, WAFv2 or WAF Classic:
it refuses and names it. It acts only on REGIONAL REST APIs: an edge-optimised API
is fronted by CloudFront (a CloudFront-scoped web ACL may be wanted there) and a
private API is reachable only from VPCs, so both are left to their owners.

Scenarios:
  Given a REGIONAL REST stage without a web ACL and mode apply, When a NON_COMPLIANT
    compliance change arrives, Then configguard's web ACL is associated, read back
    (GetWebACLForResource and the stage's webAclArn) and verified, the stage is tagged,
    an applied record is written and apigw-stage-waf-attached evaluates it COMPLIANT.
  Given mode dry-run, When triggered, Then nothing changes and a dry-run record shows the plan.
  Given the tag configguard:auto-remediate=false on the stage, When triggered, Then skipped.
  Given a stage that already has configguard's web ACL, When triggered,
    Then skipped as already compliant.
  Given a stage with another web ACL associated, When triggered,
    Then refused naming that web ACL; the association is unchanged.
  Given an EDGE-optimised or PRIVATE REST API, When triggered, Then refused.
  Given a configured web ACL that does not exist or is not regional, When triggered,
    Then refused naming the setting.
  Given an AssociateWebACL that does not take effect, When triggered,
    Then failed: recorded and raised.
  Given a stage that no longer exists, When triggered, Then skipped with a record.
  Given an applied association, When rolled back, Then configguard's web ACL is
    disassociated and verified; When another web ACL (or none) is associated since,
    Then the rollback is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from configguard import settings
from configguard.cibuilder import parse_stage_arn, rest_stage_arn
from configguard.reads import NOT_FOUND_CODES, error_code
from configguard.registry import REMEDIATIONS
from configguard.remediation import FixContext, Plan, Refusal, Remediation, remediation_handler

WAF_MISSING = "WAFNonexistentItemException"
REFUSED_ENDPOINTS = {
    "EDGE": (
        "is EDGE-optimised: requests reach it through CloudFront, so configguard does not "
        "attach a regional web ACL to it (decide between a CloudFront-scoped web ACL and a "
        "regional one by hand)"
    ),
    "PRIVATE": (
        "is PRIVATE (reachable only through VPC endpoints): configguard does not attach a "
        "web ACL to it (associate one by hand if it is wanted)"
    ),
}


@dataclass(frozen=True)
class WafState:
    arn: str
    region: str
    api_id: str
    stage_name: str
    api_name: str
    endpoint_types: tuple[str, ...]
    stage_web_acl: str | None  # the stage's webAclArn (GetStage)
    associated: str | None  # WAFv2 GetWebACLForResource
    ours: str  # settings.WEB_ACL_ARN
    tags: dict[str, str]


def acl_label(arn: str) -> str:
    """'name (id)' of a WAFv2 web ACL ARN; 'WAF Classic <id>' or the resource otherwise."""
    resource = arn.split(":", 5)[-1]
    parts = resource.split("/")
    if len(parts) == 4 and parts[1] == "webacl":
        return f"{parts[2]} ({parts[3]})"
    if len(parts) == 2 and parts[0] == "webacl":
        return f"WAF Classic {parts[1]}"
    return resource[-120:]


def is_waf_classic(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) > 2 and parts[2] in {"waf-regional", "waf"}


def stage_ids(resource_id: str) -> tuple[str, str, str]:
    """(region, api id, stage name) of a REST stage ARN; Refusal for anything else."""
    try:
        region, api_id, stage_name = parse_stage_arn(resource_id)
    except ValueError as exc:
        raise Refusal(str(exc)) from None
    if "/restapis/" not in resource_id:
        raise Refusal(f"{resource_id[:200]!r} is not a REST API stage ARN.")
    return region, api_id, stage_name


def associated_web_acl(wafv2: Any, resource_arn: str) -> str | None:
    """The ARN of the WAFv2 web ACL associated with a resource; None when there is none."""
    try:
        response = wafv2.get_web_acl_for_resource(ResourceArn=resource_arn)
    except ClientError as exc:
        if error_code(exc) == WAF_MISSING:
            return None
        raise
    arn = (response.get("WebACL") or {}).get("ARN")
    return str(arn) if arn else None


def read_stage(factory: Any, resource_id: str, ours: str) -> WafState | None:
    """The stage, its API's endpoint types and its web ACL; None when either is gone."""
    region, api_id, stage_name = stage_ids(resource_id)
    apigateway = factory.client("apigateway")
    try:
        stage = apigateway.get_stage(restApiId=api_id, stageName=stage_name)
        api = apigateway.get_rest_api(restApiId=api_id)
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND_CODES:
            return None
        raise
    arn = rest_stage_arn(region, api_id, stage_name)
    types = (api.get("endpointConfiguration") or {}).get("types") or []
    return WafState(
        arn=arn,
        region=region,
        api_id=api_id,
        stage_name=stage_name,
        api_name=str(api.get("name") or api_id),
        endpoint_types=tuple(str(t).upper() for t in types),
        stage_web_acl=stage.get("webAclArn") or None,
        associated=associated_web_acl(factory.client("wafv2"), arn),
        ours=ours,
        tags=dict(stage.get("tags") or {}),
    )


def current_web_acl(state: WafState) -> str | None:
    return state.associated or state.stage_web_acl


def refuse_other_web_acl(state: WafState) -> None:
    """Refusal when a web ACL other than configguard's is associated."""
    other = current_web_acl(state)
    if other and other != state.ours:
        classic = " (WAF Classic is end-of-life: migrate it to WAFv2 by hand)"
        raise Refusal(
            f"Web ACL {acl_label(other)} is already associated with the stage; configguard "
            f"never replaces another web ACL{classic if is_waf_classic(other) else ''}."
        )


def refuse_endpoint(state: WafState) -> None:
    """Refusal for EDGE-optimised and PRIVATE APIs."""
    for kind, why in REFUSED_ENDPOINTS.items():
        if kind in state.endpoint_types:
            raise Refusal(f"REST API {state.api_name} ({state.api_id}) {why}.")


def web_acl_ref(arn: str, stage_region: str) -> dict[str, str]:
    """GetWebACL parameters for a regional WAFv2 web ACL ARN in the stage's Region."""
    parts = arn.split(":", 5)
    resource = parts[5].split("/") if len(parts) == 6 else []
    if len(parts) != 6 or parts[2] != "wafv2" or len(resource) != 4 or resource[1] != "webacl":
        raise Refusal(f"{settings.WEB_ACL_ARN} is not a WAFv2 web ACL ARN: {arn[:200]!r}.")
    if resource[0] != "regional" or parts[3] != stage_region:
        raise Refusal(
            f"{settings.WEB_ACL_ARN} names web ACL {acl_label(arn)}, which is not a regional "
            f"web ACL in {stage_region}: only those can be associated with a REST API stage."
        )
    return {"Name": resource[2], "Scope": "REGIONAL", "Id": resource[3]}


def check_web_acl_exists(wafv2: Any, arn: str, stage_region: str) -> None:
    try:
        wafv2.get_web_acl(**web_acl_ref(arn, stage_region))
    except ClientError as exc:
        if error_code(exc) == WAF_MISSING:
            raise Refusal(
                f"The web ACL in {settings.WEB_ACL_ARN}, {acl_label(arn)}, does not exist."
            ) from None
        raise


class AttachWaf(Remediation[WafState]):
    spec = REMEDIATIONS["attach-waf"]

    def read(self, ctx: FixContext) -> WafState | None:
        ours = settings.require(settings.WEB_ACL_ARN)
        return read_stage(ctx.factory, ctx.request.resource_id, ours)

    def tags(self, state: WafState) -> dict[str, str]:
        return state.tags

    def resource_arn(self, state: WafState) -> str:
        return state.arn

    def compliance_reason(self, state: WafState) -> str | None:
        current = current_web_acl(state)
        if current is None:
            return "No AWS WAF web ACL is associated with the stage."
        if current != state.ours:
            return f"Web ACL {acl_label(current)} is associated, not {acl_label(state.ours)}."
        if state.associated != state.ours or state.stage_web_acl != state.ours:
            return f"Web ACL {acl_label(state.ours)} is associated but the stage does not show it."
        return None

    def plan(self, ctx: FixContext, state: WafState) -> Plan:
        refuse_other_web_acl(state)
        refuse_endpoint(state)
        check_web_acl_exists(ctx.factory.client("wafv2"), state.ours, state.region)
        return Plan(
            action=f"AssociateWebACL {acl_label(state.ours)}",
            before={"webAclArn": None},
            after={"webAclArn": state.ours},
            details={"endpointTypes": list(state.endpoint_types)},
        )

    def apply(self, ctx: FixContext, state: WafState, plan: Plan) -> None:
        ctx.factory.client("wafv2").associate_web_acl(
            WebACLArn=plan.after["webAclArn"], ResourceArn=state.arn
        )

    def verify(self, state: WafState, plan: Plan) -> str | None:
        want = plan.after["webAclArn"]
        if state.associated != want:
            return f"GetWebACLForResource shows {state.associated}, expected {want}"
        if state.stage_web_acl != want:
            return f"the stage's webAclArn reads back as {state.stage_web_acl}, expected {want}"
        return None

    def tag_resource(self, ctx: FixContext, arn: str, tags: dict[str, str]) -> None:
        ctx.factory.client("apigateway").tag_resource(resourceArn=arn, tags=tags)

    def live_values(self, ctx: FixContext, state: WafState, plan: Plan) -> dict[str, Any]:
        """WAFv2's association, when the stage shows the same (else both, as found)."""
        if state.associated == state.stage_web_acl:
            return {"webAclArn": state.associated}
        return {"webAclArn": f"{state.associated} (the stage shows {state.stage_web_acl})"}

    def rollback_plan(self, ctx: FixContext, state: WafState, original: dict[str, Any]) -> Plan:
        applied = (original.get("after") or {}).get("webAclArn")
        current = current_web_acl(state)
        if not applied or current != applied:
            now = acl_label(current) if current else "no web ACL"
            raise Refusal(
                f"The stage now has {now}, not the web ACL audit {original.get('audit_id')} "
                "associated: it changed since, so it is left alone."
            )
        return Plan(
            action=f"rollback: DisassociateWebACL {acl_label(applied)}",
            before={"webAclArn": applied},
            after={"webAclArn": None},
        )

    def rollback_apply(self, ctx: FixContext, state: WafState, plan: Plan) -> None:
        ctx.factory.client("wafv2").disassociate_web_acl(ResourceArn=state.arn)

    def rollback_verify(self, state: WafState, plan: Plan) -> str | None:
        current = current_web_acl(state)
        return None if current is None else f"web ACL {acl_label(current)} is still associated"


lambda_handler = remediation_handler(AttachWaf)
