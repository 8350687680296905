"""The Security Hub side of a fix's audit note: workflow status and one note per finding.

A fix marks the findings of the resource NOTIFIED before it acts and RESOLVED after a
verified success, each time with a note (at most 512 characters, secrets redacted).
Security Hub trouble never blocks or fails a fix: it becomes a note in the audit record.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from configguard.clients import ClientFactory
from configguard.redact import redact_text
from configguard.registry import registry_rule_name
from configguard.triggers import FindingRef, RemediationRequest

UPDATED_BY = "configguard"
NOTE_LIMIT = 512
BATCH = 100
_CLOSED = frozenset({"RESOLVED", "SUPPRESSED"})


def note_text(text: str) -> str:
    """A Security Hub note: redacted, one line, at most 512 characters."""
    clean = " ".join(redact_text(text).split())
    return clean if len(clean) <= NOTE_LIMIT else clean[: NOTE_LIMIT - 6] + " [...]"


def _matches(
    finding: dict[str, Any], rule: str, controls: tuple[str, ...], resource_ids: set[str]
) -> bool:
    """The finding is about this resource, from this rule or a control the fix remedies."""
    fields = finding.get("ProductFields") or {}
    raw = fields.get("aws/config/ConfigRuleName") or fields.get("RuleName")
    named = registry_rule_name(raw) if isinstance(raw, str) else None
    control = (finding.get("Compliance") or {}).get("SecurityControlId") or fields.get("ControlId")
    resources = {str(r.get("Id")) for r in finding.get("Resources") or []}
    workflow = str((finding.get("Workflow") or {}).get("Status") or "NEW")
    return (
        (named == rule or (bool(control) and control in controls))
        and bool(resources & resource_ids)
        and finding.get("RecordState", "ACTIVE") == "ACTIVE"
        and workflow not in _CLOSED
    )


def lookup(
    factory: ClientFactory,
    request: RemediationRequest,
    resource_arn: str,
    controls: tuple[str, ...] = (),
) -> tuple[list[FindingRef], str | None]:
    """The request's findings, or the active findings of its resource from its rule and
    from the Security Hub controls the fix remedies (the native mirror), so both correlate.

    Returns (findings, problem): a problem (no hub, no permission) is a note, not an error.
    """
    if request.findings:
        return list(request.findings), None
    resource_ids = {resource_arn, request.resource_id}
    filters = {
        "ResourceId": [{"Value": resource_arn, "Comparison": "EQUALS"}],
        "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
    }
    found: list[FindingRef] = []
    try:
        paginator = factory.client("securityhub").get_paginator("get_findings")
        for page in paginator.paginate(Filters=filters, PaginationConfig={"PageSize": 100}):
            for finding in page.get("Findings", []):
                # Filter again here: the answer must be about this rule and resource.
                if _matches(finding, request.rule, controls, resource_ids):
                    found.append(FindingRef(id=finding["Id"], product_arn=finding["ProductArn"]))
    except ClientError as exc:
        return [], f"Security Hub lookup skipped ({exc.response.get('Error', {}).get('Code')})"
    except BotoCoreError as exc:
        return [], f"Security Hub lookup skipped ({type(exc).__name__})"
    return found, None


def update(
    factory: ClientFactory, findings: list[FindingRef], text: str, status: str | None = None
) -> str | None:
    """Set each finding's note (and workflow status); a problem comes back as a note."""
    if not findings:
        return None
    request: dict[str, Any] = {"Note": {"Text": note_text(text), "UpdatedBy": UPDATED_BY}}
    if status:
        request["Workflow"] = {"Status": status}
    failed = 0
    try:
        client = factory.client("securityhub")
        for start in range(0, len(findings), BATCH):
            identifiers = [
                {"Id": f.id, "ProductArn": f.product_arn} for f in findings[start : start + BATCH]
            ]
            answer = client.batch_update_findings(FindingIdentifiers=identifiers, **request)
            failed += len(answer.get("UnprocessedFindings") or [])
    except ClientError as exc:
        return f"Security Hub update failed ({exc.response.get('Error', {}).get('Code')})"
    except BotoCoreError as exc:
        return f"Security Hub update failed ({type(exc).__name__})"
    if failed:
        return f"Security Hub did not update {failed} of {len(findings)} finding(s)"
    return None
