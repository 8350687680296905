"""remove-lambda-public-access: remove only the policy statements that make a function public.

Which statements are public is decided by `configguard.iampolicy.public_grant`, the
analysis the paired rule lambda-public-access-prohibited uses. Each one is removed by its
Sid (RemovePermission), after re-reading the policy and checking the statement is still
exactly what was planned, with the policy's RevisionId so a concurrent edit wins. Every
other statement stays byte-for-byte.

Function URLs: a public URL needs AuthType NONE *and* its grant (the '*' InvokeFunctionUrl
statement with lambda:FunctionUrlAuthType NONE, usually FunctionURLAllowPublicAccess, and
AWS's companion '*' InvokeFunction statement limited to lambda:InvokedViaFunctionUrl).
Removing the grant while the URL stays NONE would silently break the URL without deciding
how it should be called, so URL grants are only removed together with switching the URL to
AWS_IAM, which needs CONFIGGUARD_FIX_FUNCTION_URL_AUTH=true. Without the flag they stay;
when they are all that is left, the fix refuses and names the flag. URL grants on a
function whose URL is not NONE (or that has no URL) open nothing today and are removed.

Rollback re-adds the removed statements with AddPermission from the record (the full
statements are kept in plan.details; they are not secret) and restores the URL's AuthType.
It re-opens public access, as the human who asked for it intends; statements AddPermission
cannot express are refused, and so is a rollback when the resource changed since.

Scenarios:
  Given a function whose policy grants '*' with no condition besides a same-account grant,
    an org-restricted grant and an S3 grant scoped by source account and ARN,
    When a NON_COMPLIANT compliance change arrives, Then only the '*' statement is removed,
    the others survive byte-for-byte, the result is verified, tagged and recorded.
  Given an S3 grant without aws:SourceAccount, When triggered, Then it is removed.
  Given mode dry-run, When triggered, Then nothing changes and a dry-run record shows the plan.
  Given the tag configguard:auto-remediate=false, When triggered, Then skipped, with a record.
  Given a function without public statements, When triggered, Then skipped as compliant.
  Given a NONE-auth function URL and its grant and FIX_FUNCTION_URL_AUTH=true,
    When triggered, Then the URL is set to AWS_IAM and its public grants are removed.
  Given a NONE-auth function URL whose grants are the only problem and the flag false,
    When triggered, Then refused naming CONFIGGUARD_FIX_FUNCTION_URL_AUTH; nothing changes.
  Given a NONE-auth function URL, the flag false and another public statement,
    When triggered, Then only the other statement is removed and the URL grant stays, noted.
  Given a URL grant for NONE on a function whose URL uses AWS_IAM,
    When triggered, Then the stale grant is removed.
  Given a public statement changed between the plan and the removal,
    When applied, Then refused before anything is removed.
  Given a removal that does not take effect, When triggered, Then failed: recorded and raised.
  Given a URL switch or removal that fails after earlier ones succeeded, When applied,
    Then the statements already removed are re-added and the URL AuthType restored (the
    function is as it was, resource_state unchanged), noted, and the fix fails; statements
    AddPermission can re-add are removed first.
  Given a RemovePermission whose answer was lost and whose retry finds the statement
    gone, When applied, Then it counts as removed.
  Given a failure half-way whose undo fails too, When applied, Then failed with
    resource_state partial, said in the reason, the error, the notes and the finding note.
  Given a function that no longer exists, When triggered, Then skipped.
  Given an applied change, When rolled back, Then the statements are re-added (and the URL
    AuthType restored), verified and recorded; When a removed Sid is back or the URL changed
    since, or a statement cannot be expressed by AddPermission, Then refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from configguard import settings
from configguard.iampolicy import (
    INVOKE_FUNCTION_URL,
    actions,
    as_list,
    conditions,
    function_url_auth_types,
    principals,
    public_grant,
    statements,
)
from configguard.redact import REDACTED
from configguard.registry import REMEDIATIONS
from configguard.remediation import FixContext, Plan, Refusal, Remediation, remediation_handler

Statement = dict[str, Any]
# RemovePermission's answers when the statement, or the policy revision, is gone.
GONE_CODES = frozenset({"ResourceNotFoundException", "PreconditionFailedException"})
URL_AUTH_NONE = "NONE"
URL_AUTH_IAM = "AWS_IAM"
VIA_URL_KEY = "lambda:invokedviafunctionurl"
# (condition operator, key) -> AddPermission parameter, for the statements Lambda writes.
_CONDITION_PARAMETERS = {
    ("arnlike", "aws:sourcearn"): "SourceArn",
    ("stringequals", "aws:sourceaccount"): "SourceAccount",
    ("stringequals", "aws:principalorgid"): "PrincipalOrgID",
    ("stringequals", "lambda:functionurlauthtype"): "FunctionUrlAuthType",
    ("stringequals", "lambda:eventsourcetoken"): "EventSourceToken",
    ("bool", VIA_URL_KEY): "InvokedViaFunctionUrl",
}


@dataclass(frozen=True)
class PolicyState:
    name: str
    arn: str
    policy: dict[str, Any] | None
    url_auth_type: str | None  # None: the function has no URL
    tags: dict[str, str]

    def statement(self, sid: str) -> Statement | None:
        return find_statement(self.policy, sid)

    def public(self) -> list[tuple[Statement, str]]:
        """(statement, reason) for each public statement, in policy order."""
        found = []
        for statement in statements(self.policy):
            reason = public_grant(statement)
            if reason:
                found.append((statement, reason))
        return found


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def find_statement(policy: dict[str, Any] | None, sid: str) -> Statement | None:
    return next((s for s in statements(policy) if s.get("Sid") == sid), None)


def read_policy(lambda_client: Any, name: str) -> tuple[dict[str, Any] | None, str | None]:
    """(policy document, RevisionId) of the unqualified function; (None, None) without one."""
    try:
        response = lambda_client.get_policy(FunctionName=name)
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return None, None
        raise
    return dict(json.loads(response["Policy"])), response.get("RevisionId")


def read_url_auth(lambda_client: Any, name: str) -> str | None:
    try:
        return str(lambda_client.get_function_url_config(FunctionName=name)["AuthType"])
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return None
        raise


def read_state(lambda_client: Any, name: str) -> PolicyState | None:
    try:
        response = lambda_client.get_function(FunctionName=name)
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return None
        raise
    conf = response["Configuration"]
    policy, _ = read_policy(lambda_client, name)
    return PolicyState(
        name=conf["FunctionName"],
        arn=conf["FunctionArn"],
        policy=policy,
        url_auth_type=read_url_auth(lambda_client, name),
        tags=dict(response.get("Tags") or {}),
    )


def is_url_grant(statement: Statement) -> bool:
    """A grant that only serves function-URL calls that a NONE-auth URL relies on.

    '*' lambda:InvokeFunctionUrl for auth type NONE (or any auth type), or AWS's companion
    lambda:InvokeFunction limited to lambda:InvokedViaFunctionUrl=true. Broader statements
    (lambda:*, several actions) are never treated as URL grants.
    """
    if "NotAction" in statement:
        return False
    granted = {a.lower() for a in actions(statement)}
    if granted == {INVOKE_FUNCTION_URL.lower()}:
        auth = function_url_auth_types(statement)
        return not auth or URL_AUTH_NONE in auth
    if granted == {"lambda:invokefunction"}:
        via_url = conditions(statement).get("bool", {}).get(VIA_URL_KEY, [])
        return [v.lower() for v in via_url] == ["true"]
    return False


@dataclass(frozen=True)
class Decision:
    remove: list[Statement]
    keep: list[str]  # Sids of URL grants left for the NONE-auth URL
    switch_url: bool


def decide(state: PolicyState, fix_url: bool) -> Decision:
    """What to remove and whether to switch the URL, or Refusal (see the module docstring)."""
    public = state.public()
    unnamed = [reason for statement, reason in public if not statement.get("Sid")]
    if unnamed:
        raise Refusal(
            f"{len(unnamed)} public statement(s) have no Sid, so RemovePermission cannot "
            "remove them; fix the policy by hand."
        )
    url_none = state.url_auth_type == URL_AUTH_NONE
    url_grants = [s for s, _ in public if is_url_grant(s)]
    switch_url = url_none and fix_url and bool(url_grants)
    keep = [str(s["Sid"]) for s in url_grants] if url_none and not switch_url else []
    remove = [s for s, _ in public if str(s["Sid"]) not in keep]
    if not remove:
        raise Refusal(
            f"The only public access left is the function URL with AuthType NONE (statement(s) "
            f"{', '.join(keep)}). Removing its grant alone would break the URL; set "
            f"{settings.FIX_FUNCTION_URL_AUTH}=true to let configguard switch the URL to AWS_IAM "
            "(callers then need lambda:InvokeFunctionUrl and SigV4), or change it by hand."
        )
    return Decision(remove=remove, keep=keep, switch_url=switch_url)


def add_permission_args(statement: Statement, function_arn: str) -> dict[str, Any]:
    """The AddPermission parameters that recreate `statement`; ValueError when none can."""
    sid = statement.get("Sid")
    if not isinstance(sid, str) or not sid:
        raise ValueError("no Sid")
    if str(statement.get("Effect")) != "Allow":
        raise ValueError("not an Allow statement")
    if any(k in statement for k in ("NotPrincipal", "NotAction", "NotResource")):
        raise ValueError("NotPrincipal/NotAction/NotResource")
    action = as_list(statement.get("Action"))
    if len(action) != 1 or not str(action[0]).startswith("lambda:"):
        raise ValueError("not exactly one lambda: action")
    if as_list(statement.get("Resource")) != [function_arn]:
        raise ValueError("resource is not the unqualified function")
    found = principals(statement)
    if len(found) != 1:
        raise ValueError("not exactly one principal")
    kind, value = found[0]
    if kind not in ("aws", "service", "*"):
        raise ValueError(f"principal kind {kind}")
    if kind == "aws" and value.startswith("arn:") and value.endswith(":root"):
        value = value.split(":")[4]  # Lambda writes an account id as its root ARN
    args: dict[str, Any] = {"StatementId": sid, "Action": str(action[0]), "Principal": value}
    for operator, block in conditions(statement).items():
        for key, values in block.items():
            parameter = _CONDITION_PARAMETERS.get((operator, key))
            if parameter is None or len(values) != 1 or parameter in args:
                raise ValueError(f"condition {operator} {key}")
            if values[0] == REDACTED:
                raise ValueError(f"{key} was redacted from the record")
            args[parameter] = values[0].lower() == "true" if operator == "bool" else values[0]
    return args


def check_unchanged(lambda_client: Any, name: str, planned: list[Statement]) -> None:
    """Refusal unless every planned statement is still there exactly as planned (or gone)."""
    policy, _ = read_policy(lambda_client, name)
    changed = [
        str(s["Sid"])
        for s in planned
        if (current := find_statement(policy, str(s["Sid"]))) is not None and current != s
    ]
    if changed:
        raise Refusal(
            f"Statement(s) {', '.join(changed)} changed since they were read; nothing was removed."
        )


def remove_statements(
    lambda_client: Any, name: str, planned: list[Statement], removed: list[Statement]
) -> None:
    """Remove each planned statement by Sid, re-reading the policy before each removal;
    `removed` collects the statements removed, as they were."""
    for statement in planned:
        sid = str(statement["Sid"])
        policy, revision = read_policy(lambda_client, name)
        current = find_statement(policy, sid)
        if current is None:
            continue
        if current != statement:
            raise RuntimeError(f"statement {sid} changed during the removal; it was left")
        request: dict[str, Any] = {"FunctionName": name, "StatementId": sid}
        if revision:
            request["RevisionId"] = revision
        try:
            lambda_client.remove_permission(**request)
        except ClientError as exc:
            # A retried request whose first attempt removed the statement (its answer was
            # lost) finds the statement or the revision gone: removed all the same.
            gone = find_statement(read_policy(lambda_client, name)[0], sid) is None
            if _code(exc) not in GONE_CODES or not gone:
                raise
        removed.append(statement)


def restore(
    lambda_client: Any,
    state: PolicyState,
    removed: list[Statement],
    url_auth_type: str | None,
    notes: list[str],
) -> None:
    """Undo what a failed apply did, so the function is as it was: re-add the statements it
    removed and give the URL its AuthType back. What cannot be undone is noted."""
    for statement in removed:
        sid = str(statement["Sid"])
        try:
            lambda_client.add_permission(
                FunctionName=state.name, **add_permission_args(statement, state.arn)
            )
        except ValueError as exc:
            notes.append(f"Statement {sid} cannot be re-added by AddPermission ({exc}).")
        except ClientError as exc:
            back = find_statement(read_policy(lambda_client, state.name)[0], sid) is not None
            if _code(exc) != "ResourceConflictException" or not back:
                notes.append(f"Re-adding statement {sid} failed ({_code(exc)}).")
    if url_auth_type is not None:
        try:
            lambda_client.update_function_url_config(
                FunctionName=state.name, AuthType=url_auth_type
            )
        except ClientError as exc:
            notes.append(f"Restoring the function URL AuthType failed ({_code(exc)}).")
    if removed or url_auth_type is not None:
        undone = [f"re-added {', '.join(str(s['Sid']) for s in removed)}"] if removed else []
        undone += [f"URL AuthType back to {url_auth_type}"] if url_auth_type else []
        notes.append(
            f"After the failure, what was already changed was undone: {'; '.join(undone)}."
        )


def undoable_first(planned: list[Statement], function_arn: str) -> list[Statement]:
    """The removal order: statements AddPermission can re-add first, so that a failure
    leaves at most the last one that cannot be undone."""

    def undoable(statement: Statement) -> bool:
        try:
            add_permission_args(statement, function_arn)
        except ValueError:
            return False
        return True

    return sorted(planned, key=lambda statement: not undoable(statement))


class RemoveLambdaPublicAccess(Remediation[PolicyState]):
    spec = REMEDIATIONS["remove-lambda-public-access"]

    def read(self, ctx: FixContext) -> PolicyState | None:
        return read_state(ctx.factory.client("lambda"), ctx.request.resource_id)

    def tags(self, state: PolicyState) -> dict[str, str]:
        return state.tags

    def resource_arn(self, state: PolicyState) -> str:
        return state.arn

    def compliance_reason(self, state: PolicyState) -> str | None:
        found = [f"{s.get('Sid') or 'a statement without Sid'} ({r})" for s, r in state.public()]
        return f"Public access via {', '.join(found)}." if found else None

    def plan(self, ctx: FixContext, state: PolicyState) -> Plan:
        decision = decide(state, settings.flag(settings.FIX_FUNCTION_URL_AUTH))
        sids = [str(s["Sid"]) for s in decision.remove]
        steps = [f"RemovePermission {', '.join(sids)}"]
        url_after = state.url_auth_type
        if decision.switch_url:
            steps.insert(0, f"UpdateFunctionUrlConfig AuthType {URL_AUTH_IAM}")
            url_after = URL_AUTH_IAM
        if decision.keep:
            ctx.notes.append(
                f"Function URL left with AuthType NONE and its grant(s) {', '.join(decision.keep)}"
                f" ({settings.FIX_FUNCTION_URL_AUTH} is false): the function stays public "
                "through its URL."
            )
        return Plan(
            action="; then ".join(steps),
            before={
                "publicStatements": [str(s.get("Sid")) for s, _ in state.public()],
                "functionUrlAuthType": state.url_auth_type,
            },
            after={"publicStatements": decision.keep, "functionUrlAuthType": url_after},
            details={"removedStatements": decision.remove},
        )

    def apply(self, ctx: FixContext, state: PolicyState, plan: Plan) -> None:
        lam = ctx.factory.client("lambda")
        planned: list[Statement] = plan.details["removedStatements"]
        check_unchanged(lam, state.name, planned)
        removed: list[Statement] = []
        switched_from: str | None = None
        try:
            if plan.after["functionUrlAuthType"] != plan.before["functionUrlAuthType"]:
                lam.update_function_url_config(FunctionName=state.name, AuthType=URL_AUTH_IAM)
                switched_from = plan.before["functionUrlAuthType"]
            remove_statements(lam, state.name, undoable_first(planned, state.arn), removed)
        except Exception:
            # Half a removal is a policy nobody reviewed: back to the old one, loudly.
            restore(lam, state, removed, switched_from, ctx.notes)
            raise

    def live_values(self, ctx: FixContext, state: PolicyState, plan: Plan) -> dict[str, Any]:
        """The public Sids in the order the plan lists them, and the URL's AuthType."""
        public = [str(s.get("Sid")) for s, _ in state.public()]
        listed = list(plan.before["publicStatements"])
        ordered = [sid for sid in listed if sid in public]
        ordered += [sid for sid in public if sid not in listed]
        return {"publicStatements": ordered, "functionUrlAuthType": state.url_auth_type}

    def verify(self, state: PolicyState, plan: Plan) -> str | None:
        problems = []
        left = [
            str(s["Sid"])
            for s in plan.details["removedStatements"]
            if state.statement(str(s["Sid"]))
        ]
        if left:
            problems.append(f"statement(s) {', '.join(left)} still present")
        kept = set(plan.after["publicStatements"])
        other = [str(s.get("Sid")) for s, _ in state.public() if str(s.get("Sid")) not in kept]
        if other:
            problems.append(f"public statement(s) {', '.join(other)} present")
        if state.url_auth_type != plan.after["functionUrlAuthType"]:
            problems.append(f"function URL AuthType is {state.url_auth_type}")
        return "; ".join(problems) or None

    def tag_resource(self, ctx: FixContext, arn: str, tags: dict[str, str]) -> None:
        ctx.factory.client("lambda").tag_resource(Resource=arn, Tags=tags)

    def rollback_plan(self, ctx: FixContext, state: PolicyState, original: dict[str, Any]) -> Plan:
        audit_id = original["audit_id"]
        removed: list[Statement] = (original.get("details") or {}).get("removedStatements") or []
        url_before = (original.get("before") or {}).get("functionUrlAuthType")
        url_after = (original.get("after") or {}).get("functionUrlAuthType")
        url_switched = url_before != url_after
        if not removed:
            raise Refusal(f"Audit record {audit_id} lists no removed statements.")
        back = [str(s.get("Sid")) for s in removed if state.statement(str(s.get("Sid")))]
        if back:
            raise Refusal(
                f"Statement(s) {', '.join(back)} exist again: the policy changed since audit "
                f"{audit_id}, so it is left alone."
            )
        if url_switched and state.url_auth_type != url_after:
            raise Refusal(
                f"The function URL AuthType is now {state.url_auth_type}, not the {url_after} "
                f"that audit {audit_id} set: it changed since, so it is left alone."
            )
        requests, unexpressible = [], []
        for statement in removed:
            try:
                requests.append(add_permission_args(statement, state.arn))
            except ValueError as exc:
                unexpressible.append(f"{statement.get('Sid')} ({exc})")
        if unexpressible:
            raise Refusal(
                "AddPermission cannot recreate statement(s) "
                f"{'; '.join(unexpressible)}: re-add them by hand if they must return."
            )
        steps = [f"AddPermission {', '.join(r['StatementId'] for r in requests)}"]
        if url_switched:
            steps.append(f"UpdateFunctionUrlConfig AuthType {url_before}")
        return Plan(
            action="rollback: " + "; then ".join(steps) + " (re-opens public access)",
            before={"functionUrlAuthType": state.url_auth_type},
            after={"functionUrlAuthType": url_before if url_switched else state.url_auth_type},
            details={"addPermission": requests},
        )

    def rollback_apply(self, ctx: FixContext, state: PolicyState, plan: Plan) -> None:
        lam = ctx.factory.client("lambda")
        for request in plan.details["addPermission"]:
            lam.add_permission(FunctionName=state.name, **request)
        if plan.after["functionUrlAuthType"] != plan.before["functionUrlAuthType"]:
            lam.update_function_url_config(
                FunctionName=state.name, AuthType=plan.after["functionUrlAuthType"]
            )

    def rollback_verify(self, state: PolicyState, plan: Plan) -> str | None:
        problems = []
        for request in plan.details["addPermission"]:
            current = state.statement(request["StatementId"])
            try:
                same = current is not None and add_permission_args(current, state.arn) == request
            except ValueError:
                same = False
            if not same:
                problems.append(f"statement {request['StatementId']} not restored")
        if state.url_auth_type != plan.after["functionUrlAuthType"]:
            problems.append(f"function URL AuthType is {state.url_auth_type}")
        return "; ".join(problems) or None


lambda_handler = remediation_handler(RemoveLambdaPublicAccess)
