"""The remediation engine shared by every fix.

Pipeline for each request (fail closed: an error in a gate changes nothing and
leaves a record saying why):

  kill switch -> mode (off | dry-run | apply) -> account allowlist -> [idempotency]
  -> [journal: an earlier attempt applied?] -> re-read live state
  -> [interrupted attempt finished?] -> opt-out tag -> already compliant?
  -> plan (may refuse) -> dry-run stops here -> blast-radius cap (atomic, DynamoDB)
  -> journal -> apply -> read back and verify -> tag -> audit record everywhere

The journal (an item in the idempotency table, per request) says which attempt is
about to change the resource and what it planned. A process that dies after its
change but before its audit record leaves only that; when Lambda's retry of the same
request finds the resource as the interrupted attempt planned, it records the change
as applied (once) instead of skipping it as already compliant. One that dies after
its applied record but before Powertools completed the idempotency record makes the
retry a duplicate of that record.

When apply or its verification fails, the engine reads the resource again and records
where the change left it (`resource_state`): unchanged (the plan's before), changed
(its after) or, loudly in the reason, error, notes and finding note, partial. A fix
says how its live values read in its plan's terms (`live_values`); preparations on
other resources made first (an IAM grant, an account setting) are named when kept but
do not count. A fix whose writes can fail between them undoes the earlier ones.

A rollback request (`configguard rollback <audit-id>`) runs the same fix function:
kill switch -> account allowlist -> [idempotency on the audit id] -> the original
applied record -> re-read -> the fix's rollback plan (may refuse) -> dry-run stops
here -> apply -> verify -> tag -> audit record. Rollbacks undo configguard's own
changes, so neither the mode nor the blast-radius cap stops them.
"""

from __future__ import annotations

import hashlib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.parameters import SSMProvider
from botocore.exceptions import ClientError

from configguard import audit, findings, settings
from configguard.audit import AuditRecord, Outcome, ResourceState
from configguard.clients import ClientFactory, current_region, default_factory
from configguard.observability import logger, metrics, record_failure, tracer
from configguard.redact import redact_text
from configguard.registry import RemediationSpec
from configguard.triggers import FindingRef, RemediationRequest, parse_requests

MODES = ("off", "dry-run", "apply")
KILL_SWITCH_OFF = "off"
KILL_SWITCH_ON = "on"


class GateError(RuntimeError):
    """A gate could not decide; the engine fails closed."""


class Refusal(Exception):
    """The fix will not act, for a reason the on-call engineer should read."""


class RemediationFailedError(RuntimeError):
    """The fix was attempted and did not leave the resource compliant."""


class RequestInProgressError(RuntimeError):
    """Another invocation holds the request. The invocation fails after recording the
    duplicate, so Lambda retries it later: by then the other one has finished (the retry
    is an ordinary duplicate) or died (its claim has expired and the retry does the job).
    Retries that run out leave the event in the dead-letter queue, whose alarm pages."""


IN_PROGRESS_REASON = "The same request is being processed by another invocation."


StateT = TypeVar("StateT")

# The reason of a failed record, by where the attempted change left the resource.
_FAILED_LEFT = {
    ResourceState.UNCHANGED: "The change failed; the resource is unchanged.",
    ResourceState.CHANGED: "The change took effect, but the fix did not complete (see error).",
    ResourceState.PARTIAL: "PARTIAL CHANGE: the change failed half-way; a person must look.",
    ResourceState.UNKNOWN: "The change failed and the resource could not be read back.",
}


def _failure(exc: Exception) -> str:
    """An exception in a few words: its type and, for AWS errors, the error code."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        return f"{code} from {exc.operation_name}"
    return type(exc).__name__


@dataclass(frozen=True)
class Plan:
    action: str
    before: dict[str, Any]
    after: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class FixContext:
    """What a fix step gets: `factory` acts on the resource's account (a member's
    remediation role in central mode); `hub` is the stack's own, for Security Hub."""

    factory: ClientFactory
    request: RemediationRequest
    notes: list[str] = field(default_factory=list)
    findings: list[FindingRef] = field(default_factory=list)
    hub: ClientFactory | None = None
    # The request's idempotency key: names its journal entry.
    job: str = ""

    @property
    def hub_factory(self) -> ClientFactory:
        return self.hub or self.factory


class Remediation(ABC, Generic[StateT]):
    """One fix. Subclasses set `spec` and implement the five steps."""

    spec: ClassVar[RemediationSpec]
    # Plan keys that describe preparations on other resources (an IAM grant, an account
    # setting): made first, harmless alone, and kept when a later step fails (rollbacks
    # keep them too). They do not count when judging where a failed change left the
    # resource, and the record names those that were kept.
    preparations: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def read(self, ctx: FixContext) -> StateT | None:
        """The live state of the resource; None if it no longer exists."""

    @abstractmethod
    def tags(self, state: StateT) -> dict[str, str]: ...

    @abstractmethod
    def resource_arn(self, state: StateT) -> str: ...

    @abstractmethod
    def compliance_reason(self, state: StateT) -> str | None:
        """None when compliant, else why the resource is still noncompliant."""

    @abstractmethod
    def plan(self, ctx: FixContext, state: StateT) -> Plan:
        """What would change; raise Refusal when it must not."""

    @abstractmethod
    def apply(self, ctx: FixContext, state: StateT, plan: Plan) -> None: ...

    def verify(self, state: StateT, plan: Plan) -> str | None:
        """None when the read-back state shows the change took effect."""
        return self.compliance_reason(state)

    @abstractmethod
    def tag_resource(self, ctx: FixContext, arn: str, tags: dict[str, str]) -> None: ...

    def live_values(self, ctx: FixContext, state: StateT, plan: Plan) -> dict[str, Any] | None:
        """The live values of the plan's keys (those of plan.after), in the plan's terms.

        After a failed apply the engine compares them with plan.before and plan.after.
        None: the fix cannot say, and the engine compares whole states instead.
        """
        return None

    def resume_plan(self, state: StateT, plan: Plan) -> Plan:
        """An interrupted attempt's plan (as journaled before apply), completed from the
        live state with what apply adds to it, e.g. the ARN of a resource it created."""
        return plan

    def rollback_plan(self, ctx: FixContext, state: StateT, original: dict[str, Any]) -> Plan:
        """How to revert the applied change `original` (a stored audit record).

        Refuse (raise Refusal) where reverting is unsafe or the resource changed since.
        """
        raise Refusal(f"{self.spec.name} changes cannot be rolled back automatically.")

    def rollback_apply(self, ctx: FixContext, state: StateT, plan: Plan) -> None:
        raise Refusal(f"{self.spec.name} changes cannot be rolled back automatically.")

    def rollback_verify(self, state: StateT, plan: Plan) -> str | None:
        """None when the read-back state shows the revert took effect."""
        return None


def _ssm_provider(factory: ClientFactory) -> SSMProvider:
    return SSMProvider(boto3_client=factory.client("ssm"))


def kill_switch_engaged(factory: ClientFactory) -> bool:
    """True when the global kill switch halts all fixes. Unreadable means engaged."""
    name = settings.optional(settings.KILL_SWITCH_PARAMETER, settings.DEFAULT_KILL_SWITCH_PARAMETER)
    try:
        value = str(_ssm_provider(factory).get(name)).strip().lower()
    except Exception as exc:
        raise GateError(f"kill switch {name} unreadable: {redact_text(str(exc))[:200]}") from exc
    if value not in (KILL_SWITCH_OFF, KILL_SWITCH_ON):
        raise GateError(f"kill switch {name} has unexpected value {value[:20]!r}")
    return value == KILL_SWITCH_ON


def resolve_mode(factory: ClientFactory, spec: RemediationSpec) -> str:
    """SSM override `<prefix>/remediations/<name>/mode` wins over the stack setting."""
    prefix = settings.optional(settings.SETTINGS_PREFIX, settings.DEFAULT_SETTINGS_PREFIX)
    name = f"{prefix.rstrip('/')}/remediations/{spec.name}/mode"
    mode: str | None = None
    try:
        mode = str(_ssm_provider(factory).get(name)).strip().lower()
    except Exception as exc:
        # Powertools wraps the SDK error; the original is the implicit context.
        cause = exc.__cause__ or exc.__context__ or exc
        code = cause.response["Error"]["Code"] if isinstance(cause, ClientError) else ""
        if code != "ParameterNotFound":
            raise GateError(
                f"mode override {name} unreadable: {redact_text(str(exc))[:200]}"
            ) from exc
    if mode is None:
        mode = settings.optional(settings.REMEDIATION_MODE, spec.default_mode).strip().lower()
    if mode not in MODES:
        raise GateError(f"remediation mode {mode[:20]!r} is not one of {', '.join(MODES)}")
    return mode


_ACCOUNT_ID = re.compile(r"\d{12}")


def allowed_accounts(factory: ClientFactory) -> frozenset[str] | None:
    """The accounts fixes may act in: None means any ("*").

    Unset means only the function's own account, so a single-account stack never acts
    on a request for another account; a malformed list fails closed.
    """
    raw = settings.optional(settings.ACCOUNT_ALLOWLIST, "").strip()
    if raw == "*":
        return None
    if not raw:
        try:
            own = str(factory.client("sts").get_caller_identity()["Account"])
        except Exception as exc:
            raise GateError(f"own account unknown: {redact_text(str(exc))[:200]}") from exc
        return frozenset({own})
    accounts = [item.strip() for item in raw.split(",") if item.strip()]
    bad = [a for a in accounts if not _ACCOUNT_ID.fullmatch(a)]
    if bad or not accounts:
        raise GateError(f"{settings.ACCOUNT_ALLOWLIST} holds values that are not account ids")
    return frozenset(accounts)


def resource_factory(factory: ClientFactory, account_id: str) -> ClientFactory:
    """The factory that acts on `account_id`: this account's own, or in central mode the
    member's remediation role (CONFIGGUARD_REMEDIATION_ROLE_NAME). Fails closed."""
    role_name = settings.optional(settings.REMEDIATION_ROLE_NAME, "")
    if not role_name:
        return factory
    try:
        caller = str(factory.client("sts").get_caller_identity()["Arn"])
    except Exception as exc:
        raise GateError(f"own account unknown: {redact_text(str(exc))[:200]}") from exc
    partition, own = caller.split(":")[1], caller.split(":")[4]
    if account_id == own:
        return factory
    role_arn = f"arn:{partition}:iam::{account_id}:role/{role_name}"
    try:
        return factory.assume(role_arn, session_name="configguard-remediation")
    except Exception as exc:
        raise GateError(f"cannot assume {role_arn}: {redact_text(str(exc))[:200]}") from exc


class CapReachedError(Refusal):
    """The blast-radius cap for this remediation, account and hour is used up."""


def reserve_change(factory: ClientFactory, spec: RemediationSpec, account: str) -> int:
    """Atomically take one of this hour's applied-change slots; the slot number taken.

    One counter item per remediation, account and UTC hour in the idempotency table,
    incremented with a conditional UpdateItem, expires through the table's TTL.
    """
    cap = settings.integer(
        settings.MAX_CHANGES_PER_HOUR, settings.DEFAULT_MAX_CHANGES_PER_HOUR, minimum=0
    )
    if cap == 0:
        raise CapReachedError(
            f"Blast-radius cap is 0 ({settings.MAX_CHANGES_PER_HOUR}): applying is disabled."
        )
    now = datetime.now(UTC)
    hour = now.strftime("%Y-%m-%dT%H")
    expires = int(now.replace(minute=0, second=0, microsecond=0).timestamp()) + 2 * 3600
    try:
        response = factory.client("dynamodb").update_item(
            TableName=settings.require(settings.IDEMPOTENCY_TABLE),
            Key={"id": {"S": f"blast-radius#{spec.name}#{account}#{hour}"}},
            UpdateExpression="ADD #count :one SET #expiration = :expires",
            ConditionExpression="attribute_not_exists(#count) OR #count < :cap",
            ExpressionAttributeNames={"#count": "changes", "#expiration": "expiration"},
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":cap": {"N": str(cap)},
                ":expires": {"N": str(expires)},
            },
            ReturnValues="UPDATED_NEW",
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "ConditionalCheckFailedException":
            raise CapReachedError(
                f"Blast-radius cap reached: {spec.name} already applied {cap} change(s) in "
                f"account {account} this hour ({hour}Z); nothing was changed."
            ) from None
        raise GateError(f"blast-radius counter unavailable ({code})") from exc
    return int(response["Attributes"]["changes"]["N"])


JOURNAL_PREFIX = "journal#"
JOURNAL_SECONDS = 24 * 3600


def opted_out(tags: dict[str, str]) -> bool:
    key = settings.optional(settings.OPT_OUT_TAG, settings.DEFAULT_OPT_OUT_TAG)
    return tags.get(key, "").strip().lower() == "false"


class Engine:
    """Runs one Remediation for every request in an event."""

    def __init__(self, fix: Remediation[Any], factory: ClientFactory | None = None) -> None:
        self.fix = fix
        self.spec = fix.spec
        self._factory = factory

    @property
    def factory(self) -> ClientFactory:
        return self._factory or default_factory()

    def handle(self, event: Any, context: Any = None) -> list[dict[str, Any]]:
        requests = parse_requests(self.spec, event, region=self.factory.region or current_region())
        results = [self.run(request, context) for request in requests]
        failed = [r for r in results if r["outcome"] == Outcome.FAILED]
        if failed:
            raise RemediationFailedError(
                f"{self.spec.name} failed on {len(failed)} resource(s); "
                f"audit ids: {', '.join(r['audit_id'] for r in failed)}"
            )
        waiting = [r for r in results if r.get("reason") == IN_PROGRESS_REASON]
        if waiting:
            raise RequestInProgressError(
                f"{self.spec.name}: {len(waiting)} request(s) held by another invocation; "
                f"failing so that Lambda retries; audit ids: "
                f"{', '.join(r['audit_id'] for r in waiting)}"
            )
        return results

    def _record(self, request: RemediationRequest, mode: str = "") -> AuditRecord:
        return AuditRecord(
            actor=request.actor,
            source=request.source,
            event_id=request.event_id,
            remediation=self.spec.name,
            rule=request.rule,
            resource_type=request.resource_type,
            resource_id=request.resource_id,
            account_id=request.account_id,
            region=request.region,
            mode=mode,
        )

    def run(self, request: RemediationRequest, context: Any = None) -> dict[str, Any]:
        factory = self.factory
        try:
            if kill_switch_engaged(factory):
                record = self._record(request)
                record.outcome, record.reason = Outcome.BLOCKED, "The global kill switch is on."
                return self._write(record, request)
            mode = resolve_mode(factory, self.spec)
        except GateError as exc:
            record = self._record(request)
            record.outcome, record.reason = Outcome.BLOCKED, f"Failed closed: {exc}"
            return self._write(record, request)
        if request.rollback_of is not None:
            mode = "dry-run" if request.dry_run else "apply"
        elif mode == "off":
            record = self._record(request, mode)
            record.outcome, record.reason = Outcome.BLOCKED, "The remediation mode is off."
            return self._write(record, request)
        try:
            accounts = allowed_accounts(factory)
        except GateError as exc:
            record = self._record(request, mode)
            record.outcome, record.reason = Outcome.BLOCKED, f"Failed closed: {exc}"
            return self._write(record, request)
        if accounts is not None and request.account_id not in accounts:
            record = self._record(request, mode)
            record.outcome = Outcome.BLOCKED
            record.reason = f"Account {request.account_id} is not in the account allowlist."
            return self._write(record, request)
        effective = "dry-run" if request.dry_run else mode
        return self._idempotent(request, effective, context)

    def _write(self, record: AuditRecord, request: RemediationRequest) -> dict[str, Any]:
        """Store a gate's record; a finding the request came with gets the reason as a note."""
        if request.findings:
            self._note_findings(
                FixContext(self.factory, request, record.notes, list(request.findings)),
                f"configguard {self.spec.name} {record.outcome}: {record.reason} "
                f"(audit {record.audit_id})",
            )
        return audit.write(record, self.factory)

    def _idempotent(
        self, request: RemediationRequest, mode: str, context: Any = None
    ) -> dict[str, Any]:
        factory = self.factory
        duplicate_of: list[dict[str, Any]] = []
        started: list[bool] = []

        def on_duplicate(response: Any, idempotent_data: Any) -> Any:
            duplicate_of.append(response)
            return response

        persistence = DynamoDBPersistenceLayer(
            table_name=settings.require(settings.IDEMPOTENCY_TABLE),
            boto3_client=factory.client("dynamodb"),
        )
        config = IdempotencyConfig(
            event_key_jmespath="key", raise_on_no_idempotency_key=True, response_hook=on_duplicate
        )
        if context is not None:
            # In-progress records then expire with the invocation's own timeout.
            config.register_lambda_context(context)

        @idempotent_function(  # type: ignore[untyped-decorator]
            data_keyword_argument="job", persistence_store=persistence, config=config
        )
        def execute(job: dict[str, Any]) -> dict[str, Any]:
            started.append(True)
            return self._execute(request, mode, str(job["key"]))

        key = "|".join(
            (
                self.spec.name,
                request.rule,
                request.account_id,
                request.region,
                request.resource_id,
                # One fix per evaluation. Every rollback request is its own: a retry after a
                # refusal must run again, and the re-read refuses a change already undone.
                f"rollback:{request.rollback_of}:{request.event_id}"
                if request.rollback_of
                else request.evaluation_time,
                mode,
            )
        )
        job = {"key": hashlib.sha256(key.encode()).hexdigest()}
        try:
            result: dict[str, Any] = execute(job=job)
        except IdempotencyAlreadyInProgressError:
            record = self._record(request, mode)
            record.outcome = Outcome.DUPLICATE
            record.reason = IN_PROGRESS_REASON
            return audit.write(record, factory)
        except IdempotencyPersistenceLayerError as exc:
            if started:
                raise
            record = self._record(request, mode)
            record.outcome = Outcome.BLOCKED
            record.reason = f"Failed closed: idempotency store unavailable ({type(exc).__name__})."
            return audit.write(record, factory)
        if duplicate_of:
            record = self._record(request, mode)
            record.outcome = Outcome.DUPLICATE
            record.reason = f"Already handled (outcome {result.get('outcome')})."
            record.related_audit_id = result.get("audit_id")
            return audit.write(record, factory)
        return result

    def _execute(self, request: RemediationRequest, mode: str, job: str = "") -> dict[str, Any]:
        factory = self.factory
        record = self._record(request, mode)
        ctx = FixContext(factory=factory, request=request, hub=factory, job=job)
        pipeline = self._rollback_pipeline if request.rollback_of else self._pipeline
        try:
            ctx.factory = resource_factory(factory, request.account_id)
            pipeline(ctx, record, mode)
        except CapReachedError as exc:
            record.outcome, record.reason = Outcome.BLOCKED, str(exc)
        except GateError as exc:
            record.outcome, record.reason = Outcome.BLOCKED, f"Failed closed: {exc}"
        except Refusal as exc:
            record.outcome, record.reason = Outcome.REFUSED, str(exc)
        except Exception as exc:
            record.outcome = Outcome.FAILED
            record.error = f"{type(exc).__name__}: {redact_text(str(exc))[:1000]}"
            if record.resource_state is not None:
                record.reason = _FAILED_LEFT[ResourceState(record.resource_state)]
            if record.resource_state == ResourceState.PARTIAL:
                record.error = f"PARTIAL CHANGE left behind. {record.error}"
            # Failure leaves the findings NOTIFIED: a person has to look.
            ctx.findings = ctx.findings or list(request.findings)
            self._note_findings(
                ctx,
                f"configguard {self.spec.name} FAILED: {record.error} (audit {record.audit_id})",
                "NOTIFIED",
            )
            record.notes.extend(ctx.notes)
            data = audit.write(record, factory)
            left = f"; resource {record.resource_state}" if record.resource_state else ""
            raise RemediationFailedError(
                f"{self.spec.name} failed on {request.resource_id} (audit {data['audit_id']}{left})"
            ) from exc
        if record.outcome in (Outcome.SKIPPED, Outcome.REFUSED, Outcome.BLOCKED):
            # Nothing changed: the findings say why, so nothing happens silently.
            ctx.findings = ctx.findings or list(request.findings)
            self._note_findings(
                ctx,
                f"configguard {self.spec.name} {record.outcome}: {record.reason} "
                f"(audit {record.audit_id})",
            )
        record.notes.extend(ctx.notes)
        return audit.write(record, factory)

    @staticmethod
    def _note_findings(ctx: FixContext, text: str, status: str | None = None) -> None:
        """The Security Hub part of the audit note; trouble there is only noted."""
        problem = findings.update(ctx.hub_factory, ctx.findings, text, status)
        if problem:
            ctx.notes.append(problem)
        elif ctx.findings and status:
            ctx.notes.append(f"Security Hub: {len(ctx.findings)} finding(s) {status}")

    def _pipeline(self, ctx: FixContext, record: AuditRecord, mode: str) -> None:
        fix = self.fix
        attempt = self._interrupted(ctx) if mode == "apply" else None
        if attempt is not None and attempt["outcome"] == Outcome.APPLIED:
            record.outcome, record.related_audit_id = Outcome.DUPLICATE, attempt["audit_id"]
            record.reason = (
                "Already handled (outcome applied); that invocation stopped before its "
                "idempotency record was completed."
            )
            return
        state = fix.read(ctx)
        if state is None:
            record.outcome, record.reason = Outcome.SKIPPED, "The resource no longer exists."
            return
        record.resource_arn = fix.resource_arn(state)
        ctx.findings, problem = findings.lookup(
            ctx.hub_factory, ctx.request, record.resource_arn, self.spec.controls
        )
        if problem:
            ctx.notes.append(problem)
        if attempt is not None and self._finish_interrupted(ctx, record, state, attempt):
            return
        if opted_out(fix.tags(state)):
            record.outcome = Outcome.SKIPPED
            record.reason = "The resource opted out with configguard:auto-remediate=false."
            return
        still = fix.compliance_reason(state)
        if still is None:
            record.outcome, record.reason = Outcome.SKIPPED, "The resource is already compliant."
            return
        plan = fix.plan(ctx, state)
        record.action, record.before, record.after = plan.action, plan.before, plan.after
        # The plan's own dict: what apply adds (e.g. a new secret's ARN) reaches the record,
        # on success and on failure alike.
        record.details = plan.details
        if mode == "dry-run":
            record.outcome = Outcome.DRY_RUN
            record.reason = f"Dry run: would {plan.action}. Noncompliant because: {still}"
            self._note_findings(
                ctx,
                f"configguard {self.spec.name} dry run: would {plan.action} "
                f"(audit {record.audit_id})",
            )
            return
        reserve_change(self.factory, self.spec, ctx.request.account_id)
        self._note_findings(
            ctx,
            f"configguard {self.spec.name}: applying {plan.action} (audit {record.audit_id})",
            "NOTIFIED",
        )
        self._journal(ctx, record, still)
        try:
            fix.apply(ctx, state, plan)
            after = fix.read(ctx)
            problem = "the resource disappeared" if after is None else fix.verify(after, plan)
        except Exception:
            self._settle(ctx, record, state, plan, fix.verify)
            raise
        if problem is not None:
            self._settle(ctx, record, state, plan, fix.verify)
            raise RemediationFailedError(f"verification failed after {plan.action}: {problem}")
        self._applied(ctx, record, f"Applied {plan.action}; verified compliant. Was: {still}")

    def _applied(self, ctx: FixContext, record: AuditRecord, reason: str) -> None:
        """A verified change: the record says so, the findings are resolved, the resource tagged."""
        record.outcome, record.reason = Outcome.APPLIED, reason
        record.resource_state = ResourceState.CHANGED
        self._note_findings(
            ctx,
            f"configguard {self.spec.name}: applied {record.action}; verified compliant "
            f"(audit {record.audit_id})",
            "RESOLVED",
        )
        try:
            self.fix.tag_resource(
                ctx, str(record.resource_arn), {settings.LAST_REMEDIATION_TAG: record.audit_id}
            )
        except ClientError as exc:
            ctx.notes.append(f"tagging failed: {exc.response.get('Error', {}).get('Code')}")

    def _journal_key(self, ctx: FixContext) -> dict[str, Any]:
        return {"id": {"S": f"{JOURNAL_PREFIX}{ctx.job}"}}

    def _journal(self, ctx: FixContext, record: AuditRecord, was: str) -> None:
        """Before the change: which attempt of this request applies what (names, no values)."""
        if not ctx.job:
            return
        data = record.safe()
        attempt = {key: data[key] for key in ("audit_id", "action", "before", "after", "details")}
        attempt["was"] = redact_text(was)
        expires = int(datetime.now(UTC).timestamp()) + JOURNAL_SECONDS
        try:
            self.factory.client("dynamodb").put_item(
                TableName=settings.require(settings.IDEMPOTENCY_TABLE),
                Item={
                    **self._journal_key(ctx),
                    "attempt": {"S": json.dumps(attempt, sort_keys=True)},
                    "expiration": {"N": str(expires)},
                },
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            raise GateError(f"idempotency journal unavailable ({code})") from exc

    def _interrupted(self, ctx: FixContext) -> dict[str, Any] | None:
        """The journaled earlier attempt of this request (it began applying) with the
        outcome it recorded (None: the process died first), or None."""
        if not ctx.job:
            return None
        try:
            item = (
                self.factory.client("dynamodb")
                .get_item(
                    TableName=settings.require(settings.IDEMPOTENCY_TABLE),
                    Key=self._journal_key(ctx),
                    ConsistentRead=True,
                )
                .get("Item")
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            raise GateError(f"idempotency journal unavailable ({code})") from exc
        if not item:
            return None
        attempt: dict[str, Any] = json.loads(item["attempt"]["S"])
        earlier = audit.read(ctx.hub_factory, str(attempt["audit_id"]))
        attempt["outcome"] = earlier.get("outcome") if earlier else None
        return attempt

    def _finish_interrupted(
        self, ctx: FixContext, record: AuditRecord, state: Any, attempt: dict[str, Any]
    ) -> bool:
        """True when an interrupted attempt of this request left the resource as it planned:
        then that change is recorded as applied (once), not skipped as already compliant."""
        plan = self.fix.resume_plan(
            state,
            Plan(
                action=str(attempt["action"]),
                before=dict(attempt["before"] or {}),
                after=dict(attempt["after"] or {}),
                details=dict(attempt["details"] or {}),
            ),
        )
        if self.fix.verify(state, plan) is not None:
            return False  # not finished: plan and apply again
        record.action, record.before, record.after = plan.action, plan.before, plan.after
        record.details = plan.details
        if attempt["outcome"] is not None:
            record.related_audit_id = str(attempt["audit_id"])  # its failure is on record
        else:
            # The id its notes and tag already name: the record they point to now exists.
            record.audit_id = str(attempt["audit_id"])
        self._applied(
            ctx,
            record,
            f"Applied {plan.action}; verified compliant. Attempt {attempt['audit_id']} was "
            "interrupted after it began applying; this retry of the same request found the "
            f"change in place. Was: {attempt['was']}",
        )
        return True

    def _settle(
        self,
        ctx: FixContext,
        record: AuditRecord,
        before: Any,
        plan: Plan,
        verify: Callable[[Any, Plan], str | None],
    ) -> None:
        """After a failed apply or verification: read the resource again and record which
        side of the plan it is on (ResourceState); a partial change is said loudly."""
        fix = self.fix
        try:
            live = fix.read(ctx)
            values = None if live is None else fix.live_values(ctx, live, plan)
        except Exception as exc:
            record.resource_state = ResourceState.UNKNOWN
            record.notes.append(f"Resource state unknown: the read-back failed ({_failure(exc)}).")
            return
        if live is None:
            record.resource_state = ResourceState.UNKNOWN
            record.notes.append("Resource state unknown: the resource no longer exists.")
            return
        differing: list[str] = []
        if values is None:
            changed, unchanged = verify(live, plan) is None, live == before
        else:
            keys = [key for key in plan.after if key not in fix.preparations]
            changed = all(values.get(key) == plan.after[key] for key in keys)
            unchanged = all(values.get(key) == plan.before.get(key) for key in keys)
            differing = [
                f"{key} is {values.get(key)!r} (was {plan.before.get(key)!r}, "
                f"planned {plan.after[key]!r})"
                for key in keys
                if values.get(key) not in (plan.before.get(key), plan.after[key])
            ]
            kept = [
                key
                for key in plan.after
                if key in fix.preparations and values.get(key) != plan.before.get(key)
            ]
            if kept:
                record.notes.append(
                    f"Preparation(s) kept: {', '.join(kept)} (made first, harmless alone)."
                )
        if changed:
            record.resource_state = ResourceState.CHANGED
        elif unchanged:
            record.resource_state = ResourceState.UNCHANGED
        else:
            record.resource_state = ResourceState.PARTIAL
            record.notes.append(
                "PARTIAL CHANGE: the resource is neither as it was nor as planned"
                + (f": {'; '.join(differing)}" if differing else "")
                + ". A person must finish or undo it."
            )

    def _rollback_pipeline(self, ctx: FixContext, record: AuditRecord, mode: str) -> None:
        fix, request = self.fix, ctx.request
        audit_id = str(request.rollback_of)
        record.related_audit_id = audit_id
        original = audit.read(ctx.hub_factory, audit_id)
        if original is None:
            raise Refusal(f"There is no audit record {audit_id}.")
        mismatch = [
            name
            for name, want in (
                ("remediation", self.spec.name),
                ("resource_id", request.resource_id),
                ("account_id", request.account_id),
                ("region", request.region),
            )
            if original.get(name) != want
        ]
        if mismatch:
            raise Refusal(
                f"Audit record {audit_id} does not match this rollback request "
                f"({', '.join(mismatch)})."
            )
        if original.get("outcome") != Outcome.APPLIED:
            raise Refusal(
                f"Audit record {audit_id} is {original.get('outcome')}, not applied: "
                "there is no change to roll back."
            )
        state = fix.read(ctx)
        if state is None:
            record.outcome, record.reason = Outcome.SKIPPED, "The resource no longer exists."
            return
        record.resource_arn = fix.resource_arn(state)
        plan = fix.rollback_plan(ctx, state, original)
        record.action, record.before, record.after = plan.action, plan.before, plan.after
        record.details = plan.details or None
        if mode == "dry-run":
            record.outcome = Outcome.DRY_RUN
            record.reason = f"Dry run: would roll back {audit_id}: {plan.action}."
            return
        try:
            fix.rollback_apply(ctx, state, plan)
            after = fix.read(ctx)
            problem = (
                "the resource disappeared" if after is None else fix.rollback_verify(after, plan)
            )
        except Exception:
            self._settle(ctx, record, state, plan, fix.rollback_verify)
            raise
        if problem is not None:
            self._settle(ctx, record, state, plan, fix.rollback_verify)
            raise RemediationFailedError(f"verification failed after {plan.action}: {problem}")
        record.resource_state = ResourceState.CHANGED
        record.outcome = Outcome.APPLIED
        record.reason = f"Rolled back {audit_id}: {plan.action}; verified."
        try:
            fix.tag_resource(
                ctx, record.resource_arn, {settings.LAST_REMEDIATION_TAG: record.audit_id}
            )
        except ClientError as exc:
            ctx.notes.append(f"tagging failed: {exc.response.get('Error', {}).get('Code')}")


def remediation_handler(
    fix_cls: type[Remediation[Any]],
) -> Callable[[Any, Any], dict[str, Any]]:
    """The Lambda entry point for a fix class."""
    engine = Engine(fix_cls())
    name = fix_cls.spec.name

    @metrics.log_metrics
    @logger.inject_lambda_context(clear_state=True, correlation_id_path="id", log_event=False)
    @tracer.capture_lambda_handler(capture_response=False)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        metrics.add_dimension(name="remediation", value=name)
        logger.append_keys(remediation=name)
        try:
            results = engine.handle(event, context)
        except Exception as exc:
            record_failure("RemediationErrors", "remediation failed", exc)
            raise
        return {"remediation": name, "results": results}

    return handler
