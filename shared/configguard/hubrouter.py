"""Route Security Hub findings to the paired configguard fix.

A finding is routed when it names a configguard rule (the Config integration's
`ProductFields["aws/config/ConfigRuleName"]`) or a Security Hub control that a
configguard fix remedies (`Compliance.SecurityControlId`, the native mirror), is
ACTIVE and not PASSED, and its resource is one the fix handles in this account
and Region. Each routed resource becomes one asynchronous invocation of the fix's
function; the fix's engine then applies every gate and marks the findings.

Nothing happens silently: every finding of a custom action that is not routed
gets a note saying why, with the runbook link. Imported findings (the optional
auto-trigger) are routed only for the selected controls and ignored otherwise.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from configguard import findings, registry, runbooks, settings
from configguard.clients import ClientFactory, default_factory
from configguard.observability import logger, metrics, record_failure, tracer
from configguard.redact import shown
from configguard.registry import RemediationSpec
from configguard.triggers import (
    ROUTER_DETAIL_TYPE,
    ROUTER_SOURCE,
    SECURITYHUB_ACTION_DETAIL_TYPE,
    SECURITYHUB_SOURCE,
    FindingRef,
    InvalidTriggerError,
    config_resource,
    resource_elsewhere,
)

IMPORTED_DETAIL_TYPE = "Security Hub Findings - Imported"
# Async invocation payloads are limited to 256 KB; one resource's request is far smaller.
_MAX_PAYLOAD = 256 * 1024
# Security Hub's limit on a finding's Id and ProductArn (BatchUpdateFindings).
_MAX_IDENTIFIER = 512


class RouterError(RuntimeError):
    """Some findings could not be routed or noted; each is named in the notes and logs."""


@dataclass(frozen=True)
class Target:
    """One asynchronous fix invocation: a fix, a rule, a resource and its findings."""

    remediation: RemediationSpec
    rule: str
    resource_type: str
    resource_id: str
    account_id: str
    region: str
    updated_at: str
    findings: tuple[FindingRef, ...]


@dataclass(frozen=True)
class Unrouted:
    finding: FindingRef
    reason: str


@dataclass
class Routing:
    targets: list[Target] = field(default_factory=list)
    unrouted: list[Unrouted] = field(default_factory=list)
    ignored: int = 0


def auto_trigger_selection(raw: str) -> frozenset[str]:
    """The controls or rule names selected for auto-trigger; a bad entry fails closed."""
    selected = frozenset(item.strip() for item in raw.split(",") if item.strip())
    bad = sorted(
        item
        for item in selected
        if registry.fix_for_control(item) is None
        and not (item in registry.RULES and registry.RULES[item].remediation)
    )
    if bad:
        raise settings.ConfigurationError(
            f"{settings.AUTO_TRIGGER_CONTROLS} names controls or rules without a configguard "
            f"fix: {', '.join(bad)[:300]}"
        )
    return selected


def _part(finding: dict[str, Any], name: str) -> dict[str, Any]:
    """An object-valued part of a finding (ProductFields, Compliance, ...); {} when it is
    absent or not an object."""
    value = finding.get(name)
    return value if isinstance(value, dict) else {}


def _identify(finding: dict[str, Any]) -> tuple[str | None, str | None]:
    """(configguard rule name or None, Security Hub control id or None)."""
    fields = _part(finding, "ProductFields")
    named = fields.get("aws/config/ConfigRuleName") or fields.get("RuleName")
    rule = registry.registry_rule_name(named) if isinstance(named, str) else None
    control = _part(finding, "Compliance").get("SecurityControlId") or fields.get("ControlId")
    return rule, control if isinstance(control, str) and control else None


def _describe(finding: dict[str, Any]) -> str:
    fields = _part(finding, "ProductFields")
    name = fields.get("aws/config/ConfigRuleName") or finding.get("GeneratorId") or "unknown"
    return shown(str(name), 120)


def _runbook_hint(rule: str) -> str:
    link = runbooks.url(rule)
    return f" Runbook: {link}" if link else f" Runbook: docs/runbooks/{rule}.md"


def _paired(finding: dict[str, Any], ref: FindingRef) -> tuple[RemediationSpec, str] | Unrouted:
    """The fix and rule a finding maps to (rule name first, then the native control)."""
    rule_name, control = _identify(finding)
    if rule_name is not None:
        spec = registry.remediation_for_rule(rule_name)
        if spec is None:
            controls = ", ".join(registry.RULES[rule_name].security_hub_controls)
            label = f"{rule_name} ({controls})" if controls else rule_name
            return Unrouted(
                ref,
                f"configguard has no automatic fix for {label}; fix it by hand."
                f"{_runbook_hint(rule_name)}",
            )
        return spec, rule_name
    if control is not None:
        paired = registry.fix_for_control(control)
        if paired is None:
            mirrors = registry.rules_for_control(control)
            hint = _runbook_hint(mirrors[0].name) if mirrors else ""
            return Unrouted(
                ref, f"configguard has no automatic fix for control {control[:40]}.{hint}"
            )
        return paired[0], paired[1].name
    return Unrouted(
        ref,
        f"configguard does not handle this finding ({_describe(finding)}): it names no "
        "configguard rule and no Security Hub control configguard mirrors.",
    )


def _problem(
    finding: dict[str, Any], spec: RemediationSpec, rule: str, where: tuple[str, str]
) -> tuple[str, str] | str:
    """(Config type, id) of the finding's resource, or why the fix cannot act on it."""
    status = str(_part(finding, "Compliance").get("Status") or "")
    if finding.get("RecordState", "ACTIVE") != "ACTIVE" or status == "PASSED":
        return f"configguard: the finding is {shown(status, 40) or 'archived'}; nothing to fix."
    resources = finding.get("Resources")
    first = resources[0] if isinstance(resources, list) and resources else None
    arn = str(first.get("Id") or "") if isinstance(first, dict) else ""
    try:
        resource_type, resource_id = config_resource(arn)
    except InvalidTriggerError as exc:
        return f"configguard cannot fix this resource: {exc}"
    if resource_type not in spec.resource_types:
        return (
            f"configguard {spec.name} does not fix {resource_type} resources.{_runbook_hint(rule)}"
        )
    found = (str(finding.get("AwsAccountId") or ""), str(finding.get("Region") or ""))
    if resource_elsewhere(arn, *found):
        return (
            f"configguard cannot fix this resource: its ARN {shown(arn, 200)} is not in the "
            "finding's account and Region."
        )
    # Central mode (a member remediation role is set) fixes members' resources too, but
    # only in this Region: a fix runs in the Region of its resource.
    members = bool(settings.optional(settings.REMEDIATION_ROLE_NAME, ""))
    if found[1] != where[1] or (found[0] != where[0] and not members):
        scope = (
            f"accounts of the organization in {where[1]}"
            if members
            else (f"account {where[0]} in {where[1]}")
        )
        return (
            f"configguard here fixes {scope}; this finding is from "
            f"{shown(found[0], 40) or '?'} in {shown(found[1], 40) or '?'}: run the fix there."
        )
    return resource_type, resource_id


def route_finding(
    finding: dict[str, Any], *, account_id: str, region: str
) -> Target | Unrouted | None:
    """Where one finding goes; None when it cannot even be named (no Id or ProductArn)."""
    names = (finding.get("Id"), finding.get("ProductArn"))
    if not all(_printable(name, _MAX_IDENTIFIER) for name in names):
        return None
    ref = FindingRef(id=str(names[0]), product_arn=str(names[1]))
    paired = _paired(finding, ref)
    if isinstance(paired, Unrouted):
        return paired
    spec, rule_name = paired
    resource = _problem(finding, spec, rule_name, (account_id, region))
    if isinstance(resource, str):
        return Unrouted(ref, resource)
    return Target(
        remediation=spec,
        rule=rule_name,
        resource_type=resource[0],
        resource_id=resource[1],
        account_id=str(finding.get("AwsAccountId") or account_id),
        region=region,
        updated_at=_timestamp(finding.get("UpdatedAt")),
        findings=(ref,),
    )


def _printable(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit and value.isprintable()


def _timestamp(value: Any) -> str:
    """A finding's UpdatedAt as the routed request carries it; "" when it is not one."""
    return value if _printable(value, 64) else ""


def _own_echo(finding: dict[str, Any]) -> bool:
    """The import is configguard's own note coming back, not news from the provider.

    Every BatchUpdateFindings emits another "Findings - Imported" event. A note of ours
    at least as new as the finding's last update means nothing changed since we looked;
    routing it again would loop (note -> import -> fix -> note).
    """
    note = _part(finding, "Note")
    return note.get("UpdatedBy") == findings.UPDATED_BY and str(note.get("UpdatedAt") or "") >= str(
        finding.get("UpdatedAt") or ""
    )


def _selected(finding: dict[str, Any], selection: frozenset[str]) -> bool:
    rule, control = _identify(finding)
    workflow = str(_part(finding, "Workflow").get("Status") or "NEW")
    status = str(_part(finding, "Compliance").get("Status") or "")
    return (
        bool({rule, control} & selection)
        and workflow == "NEW"
        and status in ("FAILED", "WARNING", "")
        and not _own_echo(finding)
    )


def route(
    raw_findings: Iterable[Any],
    *,
    account_id: str,
    region: str,
    selection: frozenset[str] | None = None,
) -> Routing:
    """Routed targets (one per fix and resource), unrouted findings with reasons.

    `selection` is None for a custom action (every finding counts); for imported
    findings it holds the auto-trigger selection, and the rest are only counted.
    """
    routing = Routing()
    grouped: dict[tuple[str, str, str, str], list[Target]] = defaultdict(list)
    for finding in raw_findings:
        if not isinstance(finding, dict):
            raise InvalidTriggerError("a finding is not an object")
        if selection is not None and not _selected(finding, selection):
            routing.ignored += 1
            continue
        routed = route_finding(finding, account_id=account_id, region=region)
        if routed is None:
            raise InvalidTriggerError("a finding has no Id or ProductArn (printable, <= 512)")
        if isinstance(routed, Unrouted):
            if selection is None:
                routing.unrouted.append(routed)
            else:
                routing.ignored += 1
            continue
        key = (routed.remediation.name, routed.rule, routed.resource_type, routed.resource_id)
        grouped[key].append(routed)
    for items in grouped.values():
        routing.targets.append(
            replace(
                items[0],
                updated_at=max(item.updated_at for item in items),
                findings=tuple(dict.fromkeys(ref for item in items for ref in item.findings)),
            )
        )
    return routing


def fix_request(target: Target, envelope: EventBridgeModel, actor: str) -> dict[str, Any]:
    """The event a routed fix receives: an EventBridge-shaped routed request."""
    key = f"{envelope.id}/{target.remediation.name}/{target.rule}/{target.resource_id}"
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
        "detail-type": ROUTER_DETAIL_TYPE,
        "source": ROUTER_SOURCE,
        "account": target.account_id,
        "time": envelope.time.isoformat().replace("+00:00", "Z"),
        "region": target.region,
        "resources": list(envelope.resources),
        "detail": {
            "rule": target.rule,
            "resourceType": target.resource_type,
            "resourceId": target.resource_id,
            "accountId": target.account_id,
            "region": target.region,
            "updatedAt": target.updated_at or envelope.time.isoformat(),
            "actor": actor,
            "findings": [{"Id": f.id, "ProductArn": f.product_arn} for f in target.findings],
        },
    }


def invoke_fix(factory: ClientFactory, target: Target, request: dict[str, Any]) -> str | None:
    """Start the fix asynchronously; a problem comes back as text (never a secret)."""
    payload = json.dumps(request).encode()
    if len(payload) > _MAX_PAYLOAD:
        return f"request for {target.resource_id[:100]} is over the 256 KB async limit"
    try:
        factory.client("lambda").invoke(
            FunctionName=registry.fix_function_name(target.remediation),
            InvocationType="Event",
            Payload=payload,
        )
    except ClientError as exc:
        return f"could not start {target.remediation.name} ({exc.response['Error']['Code']})"
    except BotoCoreError as exc:
        return f"could not start {target.remediation.name} ({type(exc).__name__})"
    return None


def _note_all(factory: ClientFactory, notes: dict[str, list[FindingRef]]) -> list[str]:
    """One BatchUpdateFindings per note text (batched by 100); the problems, if any."""
    problems = []
    for text, refs in notes.items():
        problem = findings.update(factory, refs, text)
        if problem:
            problems.append(problem)
    return problems


def _parse(event: object) -> tuple[EventBridgeModel, list[Any], bool]:
    """(envelope, findings, imported?) or InvalidTriggerError."""
    if not isinstance(event, dict):
        raise InvalidTriggerError(f"event must be a JSON object, got {type(event).__name__}")
    try:
        envelope = EventBridgeModel.model_validate(event)
    except ValidationError as exc:
        problem = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        raise InvalidTriggerError(f"not an EventBridge event: {problem}") from None
    if envelope.source != SECURITYHUB_SOURCE or envelope.detail_type not in (
        SECURITYHUB_ACTION_DETAIL_TYPE,
        IMPORTED_DETAIL_TYPE,
    ):
        raise InvalidTriggerError(
            f"unsupported trigger: source {envelope.source[:60]!r}, "
            f"detail-type {envelope.detail_type[:80]!r}"
        )
    if not all(_printable(text, 2048) for text in (envelope.id, *envelope.resources)):
        raise InvalidTriggerError("the event id and resources must be printable text")
    detail = envelope.detail if isinstance(envelope.detail, dict) else {}
    raw = detail.get("findings")
    if not isinstance(raw, list) or not raw:
        raise InvalidTriggerError("the event carries no findings")
    return envelope, raw, envelope.detail_type == IMPORTED_DETAIL_TYPE


def handle(event: object, *, factory: ClientFactory, account_id: str) -> dict[str, Any]:
    """Route one Security Hub event; RouterError after noting, if anything went wrong."""
    envelope, raw, imported = _parse(event)
    selection = None
    if imported:
        selection = auto_trigger_selection(settings.optional(settings.AUTO_TRIGGER_CONTROLS, ""))
    routing = route(raw, account_id=account_id, region=envelope.region, selection=selection)
    detail = envelope.detail if isinstance(envelope.detail, dict) else {}
    actor = (
        "securityhub:auto-trigger"
        if imported
        else f"securityhub:{str(detail.get('actionName') or 'custom-action')[:100]}"
    )
    notes: dict[str, list[FindingRef]] = defaultdict(list)
    for item in routing.unrouted:
        notes[item.reason].append(item.finding)
    started, problems = [], []
    for target in routing.targets:
        problem = invoke_fix(factory, target, fix_request(target, envelope, actor))
        if problem is None:
            started.append(target)
            text = (
                f"configguard: {target.remediation.name} started for {target.resource_id}; "
                "its mode and safety gates decide whether it applies, and the result "
                "replaces this note."
            )
        else:
            problems.append(problem)
            text = f"configguard {problem}; nothing was changed. Retry the action."
        notes[text].extend(target.findings)
    problems.extend(_note_all(factory, notes))
    metrics.add_metric(name="FindingsRouted", unit=MetricUnit.Count, value=len(started))
    metrics.add_metric(
        name="FindingsWithoutFix", unit=MetricUnit.Count, value=len(routing.unrouted)
    )
    metrics.add_metric(name="FindingsIgnored", unit=MetricUnit.Count, value=routing.ignored)
    summary = {
        "started": [
            {
                "remediation": t.remediation.name,
                "rule": t.rule,
                "resource_id": t.resource_id,
                "findings": len(t.findings),
            }
            for t in started
        ],
        "unrouted": [{"finding": u.finding.id, "reason": u.reason} for u in routing.unrouted],
        "ignored": routing.ignored,
        "problems": problems,
    }
    logger.info("routed Security Hub findings", extra={"routing": summary})
    if problems:
        raise RouterError(f"{len(problems)} problem(s) routing findings: {'; '.join(problems)}")
    return summary


def _own_account(context: Any) -> str:
    arn = str(getattr(context, "invoked_function_arn", "") or "")
    parts = arn.split(":")
    if len(parts) < 5 or not parts[4]:
        raise settings.ConfigurationError("cannot tell this function's account from its ARN")
    return parts[4]


def router_handler(
    factory: ClientFactory | None = None,
) -> Callable[[Any, Any], dict[str, Any]]:
    """The Lambda entry point of the Security Hub router."""

    @metrics.log_metrics
    @logger.inject_lambda_context(clear_state=True, correlation_id_path="id", log_event=False)
    @tracer.capture_lambda_handler(capture_response=False)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        metrics.add_dimension(name="router", value=registry.ROUTER.name)
        try:
            return handle(
                event, factory=factory or default_factory(), account_id=_own_account(context)
            )
        except Exception as exc:
            record_failure("RouterErrors", "routing failed", exc)
            raise

    return handler
