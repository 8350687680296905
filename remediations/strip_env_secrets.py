"""strip-env-secrets: move plaintext secrets out of a function's environment, losslessly.

Which variables are secrets is decided by configguard.secretscan (the detector of
lambda-env-no-plaintext-secrets, default configuration: the rule's AllowedVariables and
ExtraPatterns parameters are not read, so an allowlisted variable is still stored, and a
value only an extra pattern flags is seen as compliant). No value is ever logged,
raised, recorded or put in a plan: plans, records and errors carry names only; AWS
errors of calls that carry values are re-raised with their error code only.

Step one, in every mode: the detected variables are stored in ONE Secrets Manager
secret per function, ``configguard/lambda/<function-name>`` (SecretString = JSON
{name: value}, KmsKeyId = the stack CMK, tag ``configguard:function-arn``), then read
back (GetSecretValue) and compared before anything else happens. An existing secret
(re-run, crash recovery) is merged: stored keys are kept, new ones added; a stored key
whose value differs from the live one takes the live value (newest wins) and the
earlier version stays in Secrets Manager as AWSPREVIOUS (the record names those keys).
The execution role then gets an inline policy ``configguard-secrets-read-<function>``
allowing secretsmanager:GetSecretValue on that secret only and kms:Decrypt on the
stack key via secretsmanager.<region>.amazonaws.com (one policy per function, so
functions sharing a role never overwrite each other's grant).

Mode: setting CONFIGGUARD_STRIP_SECRETS_MODE (vault | replace, default vault),
overridden per function by the tag ``configguard:strip-secrets-mode``; any other
value is refused (fail closed).

- vault: stops after step one. The variables keep their values, so the paired rule
  stays NON_COMPLIANT: in vault mode the applied outcome means "stored, read back and
  granted" (verify checks exactly that), and the record tells the owner the secret ARN
  and the code change. A later trigger with everything already stored is refused with
  the same instructions.
- replace: also sets each detected variable to "" and adds ``<NAME>_SECRET_ARN`` =
  the secret ARN, sending the full environment (Lambda replaces the whole map) and
  waiting for LastUpdateStatus before and after. When the per-name references would
  exceed Lambda's 4 KB environment limit (measured as compact JSON) or a
  ``<NAME>_SECRET_ARN`` name is already taken, one ``CONFIGGUARD_SECRETS_ARN``
  reference is added instead. Published versions keep their old values (Lambda
  versions are immutable): the record lists their numbers.

The code change (Powertools), per variable::

    parameters.get_secret(os.environ["<NAME>_SECRET_ARN"], transform="json")["<NAME>"]

(with one reference: ``os.environ["CONFIGGUARD_SECRETS_ARN"]``).

Crash safety: the secret is written and read back before the environment changes,
and the environment changes in one UpdateFunctionConfiguration, so a crash at any
step leaves the old environment or the new one with every value stored. A retry of
the same event after a crash that followed the change verifies the interrupted
attempt's plan against the live state (the new secret's ARN taken from the function's
secret) and records the change as applied once.

Rollback (replace mode only): refused unless ``--restore-plaintext`` is given (it
would put plaintext back); with it the stored values return to their variables and
the references this fix added are removed. Refused when the environment changed
since the fix (names and markers are compared, never values). The secret and the
role grant stay. Vault mode changed no variables: its rollback is refused.

Scenarios:
  Given a function with plaintext secrets and mode vault, When a NON_COMPLIANT change
    arrives, Then the values are stored in one secret (stack CMK, tagged), read back, the
    role may read it, no variable changes, the applied record names the secret ARN and
    the code change but no value, and the paired rule stays NON_COMPLIANT by design.
  Given mode replace (setting or tag), When triggered, Then each secret variable becomes ""
    with a <NAME>_SECRET_ARN reference, the record lists published versions, and the
    paired rule evaluates COMPLIANT.
  Given per-name references that would exceed 4 KB or whose names are taken, When
    replaced, Then one CONFIGGUARD_SECRETS_ARN reference is used.
  Given a secret stored by an earlier run, When triggered, Then stored keys are kept, new
    ones added, and a changed value keeps its earlier version as AWSPREVIOUS.
  Given vault mode and every secret already stored and granted, When triggered, Then
    refused with the code change.
  Given a strip-secrets-mode tag other than vault or replace, When triggered, Then refused.
  Given an existing secret of another function, another key, not JSON or being deleted,
    When triggered, Then refused; nothing is written.
  Given an environment Lambda cannot return, When triggered, Then refused.
  Given mode dry-run, When triggered, Then nothing is stored or changed and the record
    shows the plan.
  Given the opt-out tag, a compliant function or a deleted one, When triggered, Then skipped.
  Given a crash at any step, When it stops, Then the old or the new environment remains,
    every value is in the environment or the secret, and a re-run converges (a retry of
    the same event records the change as applied exactly once).
  Given a write that does not read back, an update that does not take effect or a missing
    grant, When triggered, Then failed: recorded and raised.
  Given the environment edited while the fix runs, When it would update, Then failed and
    the edit is kept (values stored).
  Given an applied replace, When rolled back without --restore-plaintext, Then refused
    naming the secret; with it, Then the values return and are verified; When the
    environment changed since, Then refused; Given vault mode, Then refused.
  Given a malformed or foreign event, When received, Then InvalidTriggerError, no record.
  Given secret-shaped canary values, When dry-run, apply, rollback and failures run, Then
    no value reaches results, records, notifications, logs, errors or Security Hub notes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from configguard import lambdastate, settings
from configguard.registry import REMEDIATIONS
from configguard.remediation import FixContext, Plan, Refusal, Remediation, remediation_handler
from configguard.secretscan import SecretFinding, scan_environment

VAULT, REPLACE = "vault", "replace"
MODES = (VAULT, REPLACE)
MODE_TAG = "configguard:strip-secrets-mode"
FUNCTION_TAG = "configguard:function-arn"
REMEDIATION_TAG = "configguard:remediation"
VAULT_PREFIX = "configguard/lambda/"
POLICY_PREFIX = "configguard-secrets-read-"
REFERENCE_SUFFIX = "_SECRET_ARN"
SINGLE_REFERENCE = "CONFIGGUARD_SECRETS_ARN"
ENV_LIMIT_BYTES = 4096
PER_VARIABLE, SINGLE = "per-variable", "single"
# A secret ARN is the name plus "-" and six random characters.
_ARN_SUFFIX = "-XXXXXX"


class VaultError(RuntimeError):
    """Storing or reading back the secret did not work; no variable was changed.

    Messages carry operation names, error codes and variable names, never values.
    """


class EnvironmentChangedError(RuntimeError):
    """The environment changed while the fix ran; nothing was changed in it."""


@dataclass(frozen=True)
class VaultState:
    """The function's configguard secret. `stored` holds values: never show it."""

    arn: str
    kms_key_id: str
    function_arn: str
    deleting: bool
    stored: Mapping[str, Any] | None = field(repr=False)


@dataclass(frozen=True)
class FunctionState:
    name: str
    arn: str
    role_arn: str
    env_error: str | None
    tags: dict[str, str]
    vault: VaultState | None
    policy: dict[str, Any] | None
    # Values: never logged, recorded or raised.
    variables: Mapping[str, str] = field(repr=False)


# ------------------------------------------------------------------------- pure helpers


def vault_name(function_name: str) -> str:
    return f"{VAULT_PREFIX}{function_name}"


def policy_name(function_name: str) -> str:
    return f"{POLICY_PREFIX}{function_name}"


def role_name(role_arn: str) -> str:
    return role_arn.rsplit("/", 1)[-1]


def arn_parts(function_arn: str) -> tuple[str, str, str]:
    """(partition, region, account) of an ARN."""
    parts = function_arn.split(":")
    return parts[1], parts[3], parts[4]


def secret_variables(variables: Mapping[str, str]) -> list[str]:
    """Names of the variables holding a secret (JSON findings name their variable)."""
    found: list[SecretFinding] = scan_environment(variables)
    return sorted({finding.variable.split(".", 1)[0] for finding in found} & set(variables))


def describe_findings(variables: Mapping[str, str]) -> str | None:
    """Names and kinds of the plaintext secrets, or None when there are none."""
    kinds: dict[str, set[str]] = {}
    for finding in scan_environment(variables):
        kinds.setdefault(finding.variable.split(".", 1)[0], set()).add(finding.kind)
    if not kinds:
        return None
    parts = [f"{name} ({', '.join(sorted(k))})" for name, k in sorted(kinds.items())]
    return f"Plaintext secrets in {len(parts)} environment variable(s): {', '.join(parts)}."


def resolve_mode(tags: Mapping[str, str]) -> tuple[str, str]:
    """(mode, where it came from); an unknown value is refused."""
    if MODE_TAG in tags:
        value = tags[MODE_TAG].strip().lower()
        source = f"tag {MODE_TAG}"
    else:
        value = settings.optional(settings.STRIP_SECRETS_MODE, VAULT).strip().lower()
        source = f"setting {settings.STRIP_SECRETS_MODE}"
    if value not in MODES:
        raise Refusal(
            f"The {source} is {value[:20]!r}, not vault or replace: nothing was stored or "
            "changed (fail closed)."
        )
    return value, source


def merge_stored(
    stored: Mapping[str, Any], live: Mapping[str, str]
) -> tuple[dict[str, Any], list[str], list[str]]:
    """(merged, added names, updated names): never drops a stored key; live wins."""
    merged = dict(stored)
    added = sorted(name for name in live if name not in stored)
    updated = sorted(name for name in live if name in stored and stored[name] != live[name])
    merged.update(live)
    return merged, added, updated


def env_size(variables: Mapping[str, str]) -> int:
    """Bytes of the environment as Lambda measures it against 4 KB (compact JSON)."""
    return len(json.dumps(dict(variables), separators=(",", ":")).encode())


def choose_references(
    variables: Mapping[str, str], names: list[str], arn: str
) -> tuple[str, list[str]]:
    """(style, reference variables to add) for replacing `names`; Refusal if none fits."""
    stripped = {**variables, **dict.fromkeys(names, "")}
    per_name = [f"{name}{REFERENCE_SUFFIX}" for name in names]
    taken = [ref for ref in per_name if ref in variables]
    if not taken and env_size({**stripped, **dict.fromkeys(per_name, arn)}) <= ENV_LIMIT_BYTES:
        return PER_VARIABLE, per_name
    existing = variables.get(SINGLE_REFERENCE)
    if existing is not None and existing != arn:
        why = f"taken: {', '.join(taken)}" if taken else "over 4 KB"
        raise Refusal(
            f"Per-variable references do not fit ({why}) "
            f"and {SINGLE_REFERENCE} already holds something else: nothing was stored or changed."
        )
    new = [] if existing == arn else [SINGLE_REFERENCE]
    if env_size({**stripped, SINGLE_REFERENCE: arn}) > ENV_LIMIT_BYTES:
        raise Refusal("Even one reference would exceed Lambda's 4 KB environment limit.")
    return SINGLE, new


def replaced_environment(
    variables: Mapping[str, str], names: list[str], references: list[str], arn: str
) -> dict[str, str]:
    """The full new environment: secrets emptied, references added."""
    return {**variables, **dict.fromkeys(names, ""), **dict.fromkeys(references, arn)}


def read_policy(arn: str, key_arn: str) -> dict[str, Any]:
    """The inline policy letting the function read its secret and nothing else."""
    _, region, _ = arn_parts(arn)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadOwnConfigguardSecret",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": arn,
            },
            {
                "Sid": "DecryptViaSecretsManager",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}
                },
            },
        ],
    }


def same_key(kms_key_id: str, key_arn: str) -> bool:
    return kms_key_id == key_arn or kms_key_id == key_arn.rsplit("/", 1)[-1]


def code_change(arn: str, names: list[str], style: str, replaced: bool) -> str:
    """What the owner changes in the code (names only)."""
    example = names[0] if names else "<NAME>"
    variable = SINGLE_REFERENCE if style == SINGLE else f"{example}{REFERENCE_SUFFIX}"
    line = f'parameters.get_secret(os.environ["{variable}"], transform="json")["{example}"]'
    if replaced:
        return (
            f"Read {', '.join(names)} from secret {arn} instead of the environment, "
            f"e.g. with Powertools: {line}"
        )
    return (
        f"Set {example}{REFERENCE_SUFFIX}={arn} (one <NAME>{REFERENCE_SUFFIX} per variable), "
        f"read each value from the secret, e.g. with Powertools: {line}, then remove the "
        f"plaintext variables {', '.join(names)}; or tag the function {MODE_TAG}=replace "
        "to let configguard change the environment"
    )


def call_sanitized(operation: str, call: Callable[..., Any], **request: Any) -> Any:
    """Make a call that carries values; its AWS error is re-raised with the code only.

    The original error (whose message may echo the request) is not even kept as the
    new error's context.
    """
    code = ""
    try:
        return call(**request)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code") or "error")
    except BotoCoreError as exc:
        code = type(exc).__name__
    raise VaultError(f"{operation} failed ({code})")


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


# ------------------------------------------------------------------------------ reads


def read_vault(secrets_client: Any, name: str) -> VaultState | None:
    """The function's secret, or None. Its values are parsed but never shown."""
    try:
        described = secrets_client.describe_secret(SecretId=name)
    except ClientError as exc:
        if _error_code(exc) == "ResourceNotFoundException":
            return None
        raise
    tags = {t["Key"]: t["Value"] for t in described.get("Tags") or []}
    deleting = described.get("DeletedDate") is not None
    stored: Mapping[str, Any] | None = None
    if not deleting:
        text = call_sanitized(
            "GetSecretValue", secrets_client.get_secret_value, SecretId=described["ARN"]
        ).get("SecretString")
        stored = _parse_stored(text)
    return VaultState(
        arn=described["ARN"],
        kms_key_id=str(described.get("KmsKeyId") or ""),
        function_arn=tags.get(FUNCTION_TAG, ""),
        deleting=deleting,
        stored=stored,
    )


def _parse_stored(text: Any) -> dict[str, Any] | None:
    """The stored JSON object, or None when it is anything else."""
    if not isinstance(text, str):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def read_role_policy(iam: Any, role: str, name: str) -> dict[str, Any] | None:
    try:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    except ClientError as exc:
        if _error_code(exc) == "NoSuchEntity":
            return None
        raise
    if isinstance(document, str):
        parsed: dict[str, Any] = json.loads(unquote(document))
        return parsed
    return dict(document)


def read_function(factory: Any, name: str) -> FunctionState | None:
    lam = factory.client("lambda")
    try:
        response = lam.get_function(FunctionName=name)
    except ClientError as exc:
        if _error_code(exc) == "ResourceNotFoundException":
            return None
        raise
    conf = response["Configuration"]
    environment = conf.get("Environment") or {}
    error = environment.get("Error")
    role_arn = str(conf["Role"])
    function_name = str(conf["FunctionName"])
    return FunctionState(
        name=function_name,
        arn=str(conf["FunctionArn"]),
        role_arn=role_arn,
        env_error=str((error or {}).get("ErrorCode") or "unknown error") if error else None,
        tags=dict(response.get("Tags") or {}),
        vault=read_vault(factory.client("secretsmanager"), vault_name(function_name)),
        policy=read_role_policy(
            factory.client("iam"), role_name(role_arn), policy_name(function_name)
        ),
        variables=dict(environment.get("Variables") or {}),
    )


def published_versions(lam: Any, name: str) -> list[str]:
    """Numbers of the function's published versions (which keep their old values)."""
    versions: list[str] = []
    for page in lam.get_paginator("list_versions_by_function").paginate(FunctionName=name):
        versions.extend(
            str(v["Version"]) for v in page.get("Versions") or [] if v["Version"] != "$LATEST"
        )
    return sorted(versions, key=lambda v: int(v) if v.isdigit() else 0)


# ---------------------------------------------------------------------- the steps


def check_vault(state: FunctionState, key_arn: str) -> None:
    """Refuse to write into a secret that is not this function's, usable one."""
    vault = state.vault
    if vault is None:
        return
    name = vault_name(state.name)
    if vault.deleting:
        raise Refusal(
            f"Secret {vault.arn} is scheduled for deletion: restore it (RestoreSecret) or "
            "let the deletion finish; nothing was stored or changed."
        )
    if vault.function_arn != state.arn:
        raise Refusal(
            f"Secret {name} exists but is not tagged {FUNCTION_TAG}={state.arn}: configguard "
            "will not write into a secret it did not create for this function."
        )
    if not same_key(vault.kms_key_id, key_arn):
        raise Refusal(
            f"Secret {vault.arn} is encrypted with another KMS key than the stack key; the "
            "grant would not let the function decrypt it. Nothing was stored or changed."
        )
    if vault.stored is None:
        raise Refusal(
            f"Secret {vault.arn} does not hold a JSON object; configguard will not "
            "overwrite it. Nothing was stored or changed."
        )


def store_and_read_back(
    secrets_client: Any, state: FunctionState, names: list[str], key_arn: str
) -> str:
    """Create or merge the secret, then read it back and compare; the secret ARN."""
    live = {name: state.variables[name] for name in names}
    vault = state.vault
    stored: Mapping[str, Any] = (vault.stored or {}) if vault else {}
    merged, _, _ = merge_stored(stored, live)
    if vault is None:
        created = call_sanitized(
            "CreateSecret",
            secrets_client.create_secret,
            Name=vault_name(state.name),
            Description=f"configguard strip-env-secrets: environment secrets of {state.arn}",
            SecretString=json.dumps(merged, sort_keys=True),
            KmsKeyId=key_arn,
            Tags=[
                {"Key": FUNCTION_TAG, "Value": state.arn},
                {"Key": REMEDIATION_TAG, "Value": "strip-env-secrets"},
            ],
        )
        arn = str(created["ARN"])
    else:
        arn = vault.arn
        if dict(stored) != merged:
            call_sanitized(
                "PutSecretValue",
                secrets_client.put_secret_value,
                SecretId=arn,
                SecretString=json.dumps(merged, sort_keys=True),
            )
    text = call_sanitized(
        "GetSecretValue (read-back)", secrets_client.get_secret_value, SecretId=arn
    ).get("SecretString")
    back = _parse_stored(text)
    if back is None:
        raise VaultError(f"read-back of {arn} is not a JSON object; no variable was changed")
    wrong = sorted(name for name, value in merged.items() if back.get(name) != value)
    if wrong:
        raise VaultError(
            f"read-back of {arn} does not match for {', '.join(wrong)}; no variable was changed"
        )
    return arn


def grant_read(iam: Any, state: FunctionState, arn: str, key_arn: str) -> bool:
    """Put the function's read policy when it is not already exactly that; True if put."""
    wanted = read_policy(arn, key_arn)
    if state.policy == wanted:
        return False
    iam.put_role_policy(
        RoleName=role_name(state.role_arn),
        PolicyName=policy_name(state.name),
        PolicyDocument=json.dumps(wanted),
    )
    return True


def fresh_environment(lam: Any, state: FunctionState) -> tuple[dict[str, str], str | None]:
    """The settled environment and revision; raises if it changed since it was read."""
    conf = lambdastate.wait_until_updated(lam, state.name)
    variables = dict((conf.get("Environment") or {}).get("Variables") or {})
    if variables != dict(state.variables):
        raise EnvironmentChangedError(
            f"the environment of {state.name} changed while the fix ran; it was left as it "
            "is (re-run the fix)"
        )
    revision = conf.get("RevisionId")
    return variables, str(revision) if revision else None


def update_environment(
    lam: Any, name: str, variables: Mapping[str, str], revision: str | None
) -> None:
    """Send the full environment (Lambda replaces the map), then wait for it to settle."""
    request: dict[str, Any] = {"FunctionName": name, "Environment": {"Variables": dict(variables)}}
    if revision:
        request["RevisionId"] = revision
    call_sanitized("UpdateFunctionConfiguration", lam.update_function_configuration, **request)
    lambdastate.wait_until_updated(lam, name)


def vault_problem(state: FunctionState, arn: str, names: list[str]) -> str | None:
    """Why `names` are not stored (with their live values) in `arn` and granted, or None."""
    vault = state.vault
    if vault is None or vault.arn != arn:
        return f"secret {arn} is not found"
    stored = vault.stored or {}
    missing = sorted(name for name in names if name not in stored)
    if missing:
        return f"secret {arn} lacks {', '.join(missing)}"
    differ = sorted(
        name
        for name in secret_variables(state.variables)
        if stored.get(name) != state.variables[name]
    )
    if differ:
        return f"secret {arn} does not hold the live values of {', '.join(differ)}"
    if state.policy != read_policy(arn, settings.require(settings.KEY_ARN)):
        return f"role {role_name(state.role_arn)} has no read grant {policy_name(state.name)}"
    return None


def marker_problem(
    variables: Mapping[str, str], names: list[str], style: str, arn: str
) -> str | None:
    """Why the replaced form is not in place (names and markers only), or None."""
    full = [n for n in names if variables.get(n) != ""]
    if full:
        return f"{', '.join(full)} are not emptied"
    references = (
        [SINGLE_REFERENCE] if style == SINGLE else [f"{n}{REFERENCE_SUFFIX}" for n in names]
    )
    wrong = [r for r in references if variables.get(r) != arn]
    if wrong:
        return f"references {', '.join(wrong)} do not name {arn}"
    return None


def changed_since(
    variables: Mapping[str, str], after_names: list[str], names: list[str], style: str, arn: str
) -> str | None:
    """How the environment differs from what the fix left (names and markers only)."""
    current = sorted(variables)
    if after_names and current != after_names:
        added = sorted(set(current) - set(after_names))
        removed = sorted(set(after_names) - set(current))
        parts = []
        if added:
            parts.append(f"added {', '.join(added)}")
        if removed:
            parts.append(f"removed {', '.join(removed)}")
        return "; ".join(parts)
    return marker_problem(variables, names, style, arn)


def plan_fix(state: FunctionState, key_arn: str, versions: Callable[[], list[str]]) -> Plan:
    """What the fix will do, names only; Refusal where it must not act.

    `versions` lists published versions (called in replace mode only).
    """
    if state.env_error:
        raise Refusal(
            f"Lambda could not return the environment variables of {state.name} "
            f"({state.env_error[:80]}): nothing was read, stored or changed."
        )
    mode, source = resolve_mode(state.tags)
    check_vault(state, key_arn)
    names = secret_variables(state.variables)
    vault = state.vault
    stored: Mapping[str, Any] = (vault.stored or {}) if vault else {}
    merged, added, updated = merge_stored(stored, {n: state.variables[n] for n in names})
    arn = vault.arn if vault else None
    name, role = vault_name(state.name), role_name(state.role_arn)
    granted = arn is not None and state.policy == read_policy(arn, key_arn)
    if mode == VAULT and arn and granted and not added and not updated:
        raise Refusal(
            f"Vault mode: {', '.join(names)} are already stored in {arn} and role {role} may "
            "read it; vault mode changes no variables, so nothing is left to do. "
            f"{code_change(arn, names, PER_VARIABLE, False)}."
        )
    details: dict[str, Any] = {
        "mode": mode,
        "modeSource": source,
        "vaultName": name,
        "secretArn": arn,  # filled in by apply when the secret is created
        "kmsKeyArn": key_arn,
        "storedVariables": sorted(merged),
        "newlyStored": added,
        "updatedStored": updated,
        "rolePolicy": f"{role}/{policy_name(state.name)}",
    }
    if updated:
        details["updatedStoredNote"] = (
            "These stored keys took the live value; the earlier values stay in the "
            "secret's AWSPREVIOUS version."
        )
    before = {
        "environmentVariables": sorted(state.variables),
        "plaintextVariables": names,
        "storedVariables": sorted(stored),
    }
    if mode == VAULT:
        details["codeChange"] = code_change(arn or f"<{name}>", names, PER_VARIABLE, False)
        return Plan(
            action=(
                f"store {len(names)} variable(s) in secret {name} and grant role {role} "
                "read access (vault mode: no variable changes)"
            ),
            before=before,
            after={**before, "storedVariables": sorted(merged)},
            details=details,
        )
    partition, region, account = arn_parts(state.arn)
    # A new secret's ARN is unknown until it exists; its length is not.
    placeholder = (
        arn or f"arn:{partition}:secretsmanager:{region}:{account}:secret:{name}{_ARN_SUFFIX}"
    )
    style, references = choose_references(state.variables, names, placeholder)
    published = versions()
    details.update(
        strippedVariables=names,
        referenceVariables=references,
        referenceStyle=style,
        codeChange=code_change(arn or f"<{name}>", names, style, True),
        publishedVersions=published,
    )
    if published:
        details["publishedVersionsNote"] = (
            f"Published version(s) {', '.join(published)} still hold the old values "
            "(versions are immutable); delete or republish them."
        )
    return Plan(
        action=(
            f"store {len(names)} variable(s) in secret {name}, grant role {role} read "
            f"access and replace them with {style} reference(s)"
        ),
        before=before,
        after={
            "environmentVariables": sorted({*state.variables, *references}),
            "plaintextVariables": [],
            "storedVariables": sorted(merged),
            "referenceVariables": references,
        },
        details=details,
    )


def apply_fix(factory: Any, state: FunctionState, plan: Plan) -> None:
    """Store, read back, grant; in replace mode then swap the values for references."""
    key_arn = str(plan.details["kmsKeyArn"])
    names = list(plan.before["plaintextVariables"])
    arn = store_and_read_back(factory.client("secretsmanager"), state, names, key_arn)
    # A new secret's ARN is known only now: the record (details) and verify carry it.
    plan.details.update(secret_details(plan.details, names, arn))
    grant_read(factory.client("iam"), state, arn, key_arn)
    if plan.details["mode"] != REPLACE:
        return
    lam = factory.client("lambda")
    variables, revision = fresh_environment(lam, state)
    references = list(plan.details["referenceVariables"])
    update_environment(
        lam, state.name, replaced_environment(variables, names, references, arn), revision
    )


def secret_details(details: Mapping[str, Any], names: list[str], arn: str) -> dict[str, str]:
    """The secret's ARN and the code change naming it: known once the secret exists."""
    style = str(details.get("referenceStyle") or PER_VARIABLE)
    return {
        "secretArn": arn,
        "codeChange": code_change(arn, names, style, details["mode"] == REPLACE),
    }


def resume_plan(state: FunctionState, plan: Plan) -> Plan:
    """An interrupted attempt's plan, journaled before the secret existed: its secret is
    the function's own (tagged for it), so verify and the record can name its ARN."""
    vault = state.vault
    if plan.details.get("secretArn") or vault is None or vault.function_arn != state.arn:
        return plan
    names = list(plan.before.get("plaintextVariables") or [])
    details = {**plan.details, **secret_details(plan.details, names, vault.arn)}
    return Plan(action=plan.action, before=plan.before, after=plan.after, details=details)


def fix_problem(state: FunctionState, plan: Plan) -> str | None:
    """Vault: stored, read back and granted. Replace: also no plaintext and references set."""
    arn = str(plan.details.get("secretArn") or "")
    problem = vault_problem(state, arn, list(plan.details["storedVariables"]))
    if problem or plan.details["mode"] == VAULT:
        return problem
    return describe_findings(state.variables) or marker_problem(
        state.variables,
        list(plan.details["strippedVariables"]),
        str(plan.details["referenceStyle"]),
        arn,
    )


def plan_rollback(state: FunctionState, original: dict[str, Any], restore_plaintext: bool) -> Plan:
    """Restore the stripped values (only with restore_plaintext); refuse where unsafe."""
    details = original.get("details") or {}
    audit_id = original["audit_id"]
    arn = str(details.get("secretArn") or "")
    if details.get("mode") == VAULT:
        raise Refusal(
            f"Vault mode changed no variables of {state.name}: there is nothing to roll "
            f"back. The secret {arn} stays (delete it once no code reads it)."
        )
    if details.get("mode") != REPLACE:
        raise Refusal(f"Audit record {audit_id} does not say how the variables were changed.")
    names = list(details.get("strippedVariables") or [])
    references = list(details.get("referenceVariables") or [])
    after_names = sorted((original.get("after") or {}).get("environmentVariables") or [])
    style = str(details.get("referenceStyle") or PER_VARIABLE)
    changed = changed_since(state.variables, after_names, names, style, arn)
    if changed:
        raise Refusal(
            f"The environment of {state.name} changed since audit {audit_id} ({changed}); "
            "it is left alone."
        )
    if not restore_plaintext:
        raise Refusal(
            f"Rolling back {audit_id} would put the plaintext values of {', '.join(names)} "
            f"back into the environment of {state.name}. They are stored in {arn}; nothing "
            f"was changed. To restore them anyway: configguard rollback {audit_id} "
            "--restore-plaintext"
        )
    vault = state.vault
    stored = (vault.stored or {}) if vault and vault.arn == arn else None
    missing = names if stored is None else sorted(n for n in names if n not in stored)
    if missing:
        raise Refusal(f"Secret {arn} no longer holds {', '.join(missing)}; nothing was changed.")
    return Plan(
        action=(
            f"rollback: restore {len(names)} variable(s) from {arn} into the environment"
            + (f" and remove {', '.join(references)}" if references else "")
        ),
        before={"environmentVariables": sorted(state.variables), "referenceVariables": references},
        after={
            "environmentVariables": sorted(set(state.variables) - set(references)),
            "restoredVariables": names,
        },
        details={
            "secretArn": arn,
            "strippedVariables": names,
            "referenceVariables": references,
            "restorePlaintext": True,
            "note": "The secret and the role grant stay.",
        },
    )


def restore_environment(lam: Any, state: FunctionState, plan: Plan) -> None:
    """Put the stored values back and drop this fix's references (full environment)."""
    variables, revision = fresh_environment(lam, state)
    stored = (state.vault.stored or {}) if state.vault else {}
    references = set(plan.details["referenceVariables"])
    restored = {k: v for k, v in variables.items() if k not in references}
    restored.update({name: str(stored[name]) for name in plan.details["strippedVariables"]})
    update_environment(lam, state.name, restored, revision)


def restore_problem(state: FunctionState, plan: Plan) -> str | None:
    stored = (state.vault.stored or {}) if state.vault else {}
    names = list(plan.details["strippedVariables"])
    wrong = sorted(n for n in names if state.variables.get(n) != stored.get(n))
    if wrong:
        return f"{', '.join(wrong)} do not hold the stored values"
    left = sorted(set(plan.details["referenceVariables"]) & set(state.variables))
    if left:
        return f"references {', '.join(left)} are still set"
    return None


# ------------------------------------------------------------------------- the fix


class StripEnvSecrets(Remediation[FunctionState]):
    spec = REMEDIATIONS["strip-env-secrets"]

    def read(self, ctx: FixContext) -> FunctionState | None:
        return read_function(ctx.factory, ctx.request.resource_id)

    def tags(self, state: FunctionState) -> dict[str, str]:
        return state.tags

    def resource_arn(self, state: FunctionState) -> str:
        return state.arn

    def compliance_reason(self, state: FunctionState) -> str | None:
        if state.env_error:
            return f"Lambda could not return the environment variables ({state.env_error[:80]})."
        return describe_findings(state.variables)

    def plan(self, ctx: FixContext, state: FunctionState) -> Plan:
        lam = ctx.factory.client("lambda")
        return plan_fix(
            state,
            settings.require(settings.KEY_ARN),
            lambda: published_versions(lam, state.name),
        )

    def apply(self, ctx: FixContext, state: FunctionState, plan: Plan) -> None:
        apply_fix(ctx.factory, state, plan)

    def verify(self, state: FunctionState, plan: Plan) -> str | None:
        """Vault mode: stored and granted (the rule stays NON_COMPLIANT by design)."""
        return fix_problem(state, plan)

    def resume_plan(self, state: FunctionState, plan: Plan) -> Plan:
        return resume_plan(state, plan)

    def tag_resource(self, ctx: FixContext, arn: str, tags: dict[str, str]) -> None:
        ctx.factory.client("lambda").tag_resource(Resource=arn, Tags=tags)

    def rollback_plan(
        self, ctx: FixContext, state: FunctionState, original: dict[str, Any]
    ) -> Plan:
        return plan_rollback(state, original, ctx.request.restore_plaintext)

    def rollback_apply(self, ctx: FixContext, state: FunctionState, plan: Plan) -> None:
        restore_environment(ctx.factory.client("lambda"), state, plan)

    def rollback_verify(self, state: FunctionState, plan: Plan) -> str | None:
        return restore_problem(state, plan)


lambda_handler = remediation_handler(StripEnvSecrets)
