"""enable-lambda-env-encryption: encrypt a function's environment variables with the stack CMK.

Order matters: the execution role must be able to decrypt before Lambda re-encrypts the
variables with the CMK, or the function's next cold start fails. So: wait for any update
in progress, grant the role kms:Decrypt on the CMK (inline policy configguard-env-decrypt,
read back), then set KMSKeyArn alone (Environment is never resent), wait and verify.
Variable values are never read into state, plans, records or messages.

Scenarios:
  Given a function with environment variables under the AWS managed key and mode apply,
    When a NON_COMPLIANT compliance change arrives, Then the role is granted kms:Decrypt
    on the CMK first, KMSKeyArn is set to the CMK, read back and verified, the function
    is tagged and an applied record is written.
  Given a role that already holds configguard-env-decrypt for the CMK and other inline
    policies, When fixed, Then the grant is not rewritten and the other policies are untouched.
  Given a role whose configguard-env-decrypt names another key, When fixed,
    Then the CMK is added to it and the other key is kept.
  Given mode dry-run, When triggered, Then nothing changes and a dry-run record shows the plan.
  Given the tag configguard:auto-remediate=false, When triggered, Then skipped, with a record.
  Given a function already using the CMK, or without environment variables,
    When triggered, Then skipped as already compliant (the rule agrees).
  Given a function encrypted with another customer-managed key, When triggered,
    Then refused: configguard does not re-key a key someone chose.
  Given a role that no longer exists or is in another account, When triggered,
    Then refused and nothing changes.
  Given a CMK that is not enabled, When triggered, Then refused and nothing changes.
  Given an update still in progress, When triggered, Then the fix waits for it first.
  Given a change that does not read back, When triggered, Then failed: recorded and raised.
  Given an UpdateFunctionConfiguration that fails after the grant, When triggered,
    Then failed with the function unchanged (resource_state unchanged) and the grant
    kept (named in the record: harmless alone); a re-run sets the key.
  Given a function that no longer exists, When triggered, Then skipped.
  Given an applied change, When rolled back, Then KMSKeyArn returns to the earlier value
    ("" = the AWS managed key), verified and recorded, and the inline grant is left in place;
    When the key was changed since, Then the rollback is refused.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from configguard import checks, settings
from configguard.iampolicy import arn_account, as_list, grants_action, role_name, statements
from configguard.lambdastate import wait_until_updated
from configguard.registry import REMEDIATIONS
from configguard.remediation import FixContext, Plan, Refusal, Remediation, remediation_handler
from configguard.verdict import Compliance

POLICY_NAME = "configguard-env-decrypt"
STATEMENT_SID = "ConfigguardEnvDecrypt"
DECRYPT = "kms:Decrypt"
# IAM is eventually consistent: give a new grant time to reach Lambda before it is needed.
GRANT_PROPAGATION_SECONDS = 5.0


@dataclass(frozen=True)
class FunctionState:
    name: str
    arn: str
    role_arn: str
    kms_key_arn: str | None
    variable_names: tuple[str, ...]
    environment_error: str | None
    tags: dict[str, str]

    def verdict_input(self) -> dict[str, Any]:
        """The GetFunctionConfiguration fields the shared check reads (names, no values)."""
        environment: dict[str, Any] = {"Variables": dict.fromkeys(self.variable_names, "")}
        if self.environment_error:
            environment["Error"] = {"ErrorCode": self.environment_error}
        return {"Environment": environment, "KMSKeyArn": self.kms_key_arn}


def read_function(lambda_client: Any, name: str) -> FunctionState | None:
    """The function's key, role and tags; variable values are dropped at once."""
    try:
        response = lambda_client.get_function(FunctionName=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    conf = response["Configuration"]
    environment = conf.get("Environment") or {}
    error = environment.get("Error") or {}
    return FunctionState(
        name=conf["FunctionName"],
        arn=conf["FunctionArn"],
        role_arn=str(conf.get("Role") or ""),
        kms_key_arn=conf.get("KMSKeyArn") or None,
        variable_names=tuple(sorted(environment.get("Variables") or {})),
        environment_error=str(error.get("ErrorCode") or "") or None,
        tags=dict(response.get("Tags") or {}),
    )


def env_reason(state: FunctionState, key_arn: str) -> str | None:
    """The paired rule's check, with the CMK as the only key the fix accepts as its own."""
    verdict = checks.env_cmk_encryption(state.verdict_input(), (key_arn,))
    return None if verdict.compliance == Compliance.COMPLIANT else verdict.reason


def decrypt_resources(document: dict[str, Any] | None) -> list[str]:
    """Keys our statement of the inline policy already names."""
    for statement in statements(document):
        if statement.get("Sid") == STATEMENT_SID:
            return [str(r) for r in as_list(statement.get("Resource"))]
    return []


def grants_decrypt(document: dict[str, Any] | None, key_arn: str) -> bool:
    """Whether the inline policy allows kms:Decrypt on exactly this key (or all keys)."""
    return any(
        str(s.get("Effect")) == "Allow"
        and grants_action(s, DECRYPT)
        and any(str(r) in (key_arn, "*") for r in as_list(s.get("Resource")))
        for s in statements(document)
    )


def desired_policy(document: dict[str, Any] | None, key_arn: str) -> dict[str, Any]:
    """Our inline policy with `key_arn` added; other statements in it are kept as they are."""
    kept = [s for s in statements(document) if s.get("Sid") != STATEMENT_SID]
    keys = sorted({*decrypt_resources(document), key_arn})
    ours = {"Sid": STATEMENT_SID, "Effect": "Allow", "Action": DECRYPT, "Resource": keys}
    return {"Version": "2012-10-17", "Statement": [*kept, ours]}


def read_grant(iam: Any, role: str) -> dict[str, Any] | None:
    """The role's configguard-env-decrypt document, or None when it has none."""
    try:
        response = iam.get_role_policy(RoleName=role, PolicyName=POLICY_NAME)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
            return None
        raise
    raw = response["PolicyDocument"]
    return dict(json.loads(raw) if isinstance(raw, str) else raw)


def check_role(iam: Any, state: FunctionState) -> str:
    """The execution role's name, or Refusal when the fix may not or cannot grant to it."""
    account = arn_account(state.arn)
    if arn_account(state.role_arn) != account:
        raise Refusal(
            f"The execution role {state.role_arn[:200]} is not in account {account}: "
            "configguard only grants to roles of the function's own account."
        )
    role = role_name(state.role_arn)
    try:
        iam.get_role(RoleName=role)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
            raise Refusal(
                f"The execution role {role} was not found: it cannot be granted kms:Decrypt, "
                "so the key is not changed (the function could not start)."
            ) from None
        raise
    return role


def check_key(kms: Any, key_arn: str) -> None:
    """Refusal unless the CMK is an enabled customer-managed key, named by its key ARN."""
    metadata = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
    problems = []
    if metadata.get("Arn") != key_arn:
        problems.append(f"{settings.KEY_ARN} must be a key ARN, not an alias")
    if metadata.get("KeyState") != "Enabled":
        problems.append(f"the key is {metadata.get('KeyState')}")
    if metadata.get("KeyManager") != "CUSTOMER":
        problems.append("the key is not customer managed")
    if problems:
        raise Refusal(
            f"The stack key {checks.kms_key_id(key_arn)} cannot encrypt environments: "
            + "; ".join(problems)
            + "."
        )


def ensure_grant(iam: Any, role: str, key_arn: str) -> bool:
    """Grant kms:Decrypt on the key through our inline policy, read back; True if changed."""
    current = read_grant(iam, role)
    if grants_decrypt(current, key_arn):
        return False
    iam.put_role_policy(
        RoleName=role,
        PolicyName=POLICY_NAME,
        PolicyDocument=json.dumps(desired_policy(current, key_arn)),
    )
    if not grants_decrypt(read_grant(iam, role), key_arn):
        raise RuntimeError(f"inline policy {POLICY_NAME} on role {role} does not read back")
    return True


def set_key(lambda_client: Any, name: str, key_arn: str) -> None:
    """Set KMSKeyArn alone ("" = the AWS managed key) and wait for the update to settle.

    Environment is not sent: Lambda re-encrypts the variables it holds with the new key.
    """
    lambda_client.update_function_configuration(FunctionName=name, KMSKeyArn=key_arn)
    wait_until_updated(lambda_client, name)


class EnableLambdaEnvEncryption(Remediation[FunctionState]):
    spec = REMEDIATIONS["enable-lambda-env-encryption"]
    # The role's kms:Decrypt grant comes first and stays if setting the key fails: alone it
    # only lets the role decrypt with the stack key, and other functions of the role may
    # rely on it by then (a rollback keeps it too).
    preparations = frozenset({"roleDecryptGrant"})

    def read(self, ctx: FixContext) -> FunctionState | None:
        return read_function(ctx.factory.client("lambda"), ctx.request.resource_id)

    def tags(self, state: FunctionState) -> dict[str, str]:
        return state.tags

    def resource_arn(self, state: FunctionState) -> str:
        return state.arn

    def compliance_reason(self, state: FunctionState) -> str | None:
        return env_reason(state, settings.require(settings.KEY_ARN))

    def plan(self, ctx: FixContext, state: FunctionState) -> Plan:
        key_arn = settings.require(settings.KEY_ARN)
        if state.kms_key_arn:
            other = checks.kms_key_id(state.kms_key_arn)
            raise Refusal(
                f"The environment uses customer-managed key {other}, "
                f"not the stack key {checks.kms_key_id(key_arn)}: configguard does not re-key a "
                "key someone chose; change it by hand if it must change."
            )
        iam = ctx.factory.client("iam")
        role = check_role(iam, state)
        check_key(ctx.factory.client("kms"), key_arn)
        granted = grants_decrypt(read_grant(iam, role), key_arn)
        steps = [] if granted else [f"PutRolePolicy {POLICY_NAME} on {role}"]
        steps.append(f"UpdateFunctionConfiguration KMSKeyArn {checks.kms_key_id(key_arn)}")
        return Plan(
            action="; then ".join(steps),
            before={"kmsKeyArn": state.kms_key_arn, "roleDecryptGrant": granted},
            after={"kmsKeyArn": key_arn, "roleDecryptGrant": True},
            details={"role": role, "policyName": POLICY_NAME, "grantAdded": not granted},
        )

    def apply(self, ctx: FixContext, state: FunctionState, plan: Plan) -> None:
        key_arn = plan.after["kmsKeyArn"]
        lam = ctx.factory.client("lambda")
        wait_until_updated(lam, state.name)
        if ensure_grant(ctx.factory.client("iam"), plan.details["role"], key_arn):
            time.sleep(GRANT_PROPAGATION_SECONDS)
        set_key(lam, state.name, key_arn)

    def verify(self, state: FunctionState, plan: Plan) -> str | None:
        want = plan.after["kmsKeyArn"]
        if state.kms_key_arn != want:
            return f"KMSKeyArn reads back as {state.kms_key_arn}, expected {want}"
        return env_reason(state, want)

    def tag_resource(self, ctx: FixContext, arn: str, tags: dict[str, str]) -> None:
        ctx.factory.client("lambda").tag_resource(Resource=arn, Tags=tags)

    def live_values(self, ctx: FixContext, state: FunctionState, plan: Plan) -> dict[str, Any]:
        document = read_grant(ctx.factory.client("iam"), plan.details["role"])
        return {
            "kmsKeyArn": state.kms_key_arn,
            "roleDecryptGrant": grants_decrypt(document, plan.after["kmsKeyArn"]),
        }

    def rollback_plan(
        self, ctx: FixContext, state: FunctionState, original: dict[str, Any]
    ) -> Plan:
        applied = (original.get("after") or {}).get("kmsKeyArn")
        before = original.get("before") or {}
        if not applied or "kmsKeyArn" not in before:
            raise Refusal(f"Audit record {original['audit_id']} does not say which key it set.")
        if state.kms_key_arn != applied:
            raise Refusal(
                f"KMSKeyArn is now {state.kms_key_arn}, not the {applied} that audit "
                f"{original['audit_id']} set: it changed since, so it is left alone."
            )
        earlier = before["kmsKeyArn"] or None
        role = (original.get("details") or {}).get("role", "the execution role")
        target = earlier or "(AWS managed key)"
        return Plan(
            action=f"rollback: UpdateFunctionConfiguration KMSKeyArn {target}",
            before={"kmsKeyArn": state.kms_key_arn},
            after={"kmsKeyArn": earlier},
            details={
                "grantLeft": f"{POLICY_NAME} on {role} stays: kms:Decrypt on the stack key only, "
                "harmless, and other functions of the role may rely on it."
            },
        )

    def rollback_apply(self, ctx: FixContext, state: FunctionState, plan: Plan) -> None:
        lam = ctx.factory.client("lambda")
        wait_until_updated(lam, state.name)
        set_key(lam, state.name, plan.after["kmsKeyArn"] or "")

    def rollback_verify(self, state: FunctionState, plan: Plan) -> str | None:
        want = plan.after["kmsKeyArn"]
        if state.kms_key_arn != want:
            return f"KMSKeyArn reads back as {state.kms_key_arn}, expected {want}"
        return None


lambda_handler = remediation_handler(EnableLambdaEnvEncryption)
