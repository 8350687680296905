"""enable-api-cache-encryption: encrypt the cache data of every REST method that caches.

Patches `cacheDataEncrypted` to true (UpdateStage `/<key>/caching/dataEncrypted`) for
each method-settings key that caches unencrypted, and for the stage-wide `*/*` key
whenever it exists unencrypted (every method without its own key inherits it, so a
later `*/*` caching switch-on starts encrypted). A missing `*/*` key is not created.

Scenarios:
  Given a REST stage with a cache cluster whose */* caches unencrypted and whose
    GET /orders override caches unencrypted, and mode apply, When a NON_COMPLIANT
    compliance change arrives, Then both keys are patched to encrypt, read back and
    verified, the stage is tagged, an applied record is written and the paired rule
    apigw-stage-cache-encrypted evaluates the stage COMPLIANT.
  Given a */* key that does not cache and a GET /orders override that caches
    unencrypted, When fixed, Then GET /orders and */* are both encrypted.
  Given mode dry-run, When triggered, Then nothing changes and a dry-run record shows the plan.
  Given the tag configguard:auto-remediate=false on the stage, When triggered, Then skipped.
  Given a stage without a cache cluster, or whose caches are all encrypted,
    When triggered, Then skipped as already compliant.
  Given an UpdateStage that does not take effect, When triggered,
    Then failed: recorded and raised.
  Given a stage that no longer exists, When triggered, Then skipped with a record.
  Given an applied change, When rolled back, Then each key it encrypted that is still
    encrypted is set back to false and verified; When every such key changed since,
    Then the rollback is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from configguard.cibuilder import parse_stage_arn, rest_stage_arn
from configguard.reads import NOT_FOUND_CODES, error_code
from configguard.registry import REMEDIATIONS
from configguard.remediation import FixContext, Plan, Refusal, Remediation, remediation_handler
from configguard.routes import STAGE_WIDE, method_label

MAX_LISTED = 8


@dataclass(frozen=True)
class CacheState:
    arn: str
    api_id: str
    stage_name: str
    cache_enabled: bool
    method_settings: dict[str, dict[str, Any]]
    tags: dict[str, str]


def is_true(value: Any) -> bool:
    """A boolean as API Gateway or Config records it: true, or the string "true"."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def stage_ids(resource_id: str) -> tuple[str, str, str]:
    """(region, api id, stage name) of a REST stage ARN; Refusal for anything else."""
    try:
        region, api_id, stage_name = parse_stage_arn(resource_id)
    except ValueError as exc:
        raise Refusal(str(exc)) from None
    if "/restapis/" not in resource_id:
        raise Refusal(f"{resource_id[:200]!r} is not a REST API stage ARN.")
    return region, api_id, stage_name


def read_stage(apigateway: Any, resource_id: str) -> CacheState | None:
    """The stage's cache settings; None when the API or stage no longer exists."""
    region, api_id, stage_name = stage_ids(resource_id)
    try:
        stage = apigateway.get_stage(restApiId=api_id, stageName=stage_name)
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND_CODES:
            return None
        raise
    settings = stage.get("methodSettings") or {}
    return CacheState(
        arn=rest_stage_arn(region, api_id, stage_name),
        api_id=api_id,
        stage_name=stage_name,
        cache_enabled=is_true(stage.get("cacheClusterEnabled")),
        method_settings={str(k): dict(v or {}) for k, v in settings.items()},
        tags=dict(stage.get("tags") or {}),
    )


def clear_caches(cache_enabled: bool, method_settings: dict[str, dict[str, Any]]) -> list[str]:
    """Keys that cache responses unencrypted, */* first; empty without a cache cluster."""
    if not cache_enabled:
        return []
    keys = [
        key
        for key, value in method_settings.items()
        if is_true(value.get("cachingEnabled")) and not is_true(value.get("cacheDataEncrypted"))
    ]
    return sorted(keys, key=lambda key: (key != STAGE_WIDE, key))


def keys_to_encrypt(cache_enabled: bool, method_settings: dict[str, dict[str, Any]]) -> list[str]:
    """The caching keys left unencrypted plus an existing unencrypted */*, */* first."""
    keys = clear_caches(cache_enabled, method_settings)
    stage_wide = method_settings.get(STAGE_WIDE)
    if (
        stage_wide is not None
        and STAGE_WIDE not in keys
        and not is_true(stage_wide.get("cacheDataEncrypted"))
    ):
        keys.insert(0, STAGE_WIDE)
    return keys


def escaped_key(key: str) -> str:
    """A method-settings key as a patch path segment: '/orders/GET' -> '~1orders/GET'."""
    if key == STAGE_WIDE:
        return key
    resource, _, verb = key.rpartition("/")
    if "/" in resource:  # an unescaped resource path: JSON-pointer escape it
        resource = resource.replace("~", "~0").replace("/", "~1")
    return f"{resource}/{verb}"


def encryption_patches(keys: list[str], value: bool) -> list[dict[str, str]]:
    """UpdateStage patch operations setting caching/dataEncrypted of each key."""
    return [
        {
            "op": "replace",
            "path": f"/{escaped_key(key)}/caching/dataEncrypted",
            "value": "true" if value else "false",
        }
        for key in keys
    ]


def listed(keys: list[str]) -> str:
    names = ", ".join(method_label(key) for key in keys[:MAX_LISTED])
    return names + (f" and {len(keys) - MAX_LISTED} more" if len(keys) > MAX_LISTED else "")


def encrypted(state: CacheState, key: str) -> bool | None:
    """Whether `key` encrypts its cache data now; None when the key is gone."""
    value = state.method_settings.get(key)
    return None if value is None else is_true(value.get("cacheDataEncrypted"))


class EnableApiCacheEncryption(Remediation[CacheState]):
    spec = REMEDIATIONS["enable-api-cache-encryption"]

    def read(self, ctx: FixContext) -> CacheState | None:
        return read_stage(ctx.factory.client("apigateway"), ctx.request.resource_id)

    def tags(self, state: CacheState) -> dict[str, str]:
        return state.tags

    def resource_arn(self, state: CacheState) -> str:
        return state.arn

    def compliance_reason(self, state: CacheState) -> str | None:
        clear = clear_caches(state.cache_enabled, state.method_settings)
        if not clear:
            return None
        return f"Cached responses are not encrypted for {listed(clear)}."

    def plan(self, ctx: FixContext, state: CacheState) -> Plan:
        keys = keys_to_encrypt(state.cache_enabled, state.method_settings)
        return Plan(
            action=f"UpdateStage caching/dataEncrypted=true for {listed(keys)}",
            before={"cacheDataEncrypted": {key: False for key in keys}},
            after={"cacheDataEncrypted": {key: True for key in keys}},
            details={"patchOperations": encryption_patches(keys, True)},
        )

    def apply(self, ctx: FixContext, state: CacheState, plan: Plan) -> None:
        ctx.factory.client("apigateway").update_stage(
            restApiId=state.api_id,
            stageName=state.stage_name,
            patchOperations=encryption_patches(list(plan.after["cacheDataEncrypted"]), True),
        )

    def verify(self, state: CacheState, plan: Plan) -> str | None:
        clear = [key for key in plan.after["cacheDataEncrypted"] if not encrypted(state, key)]
        if clear:
            return f"cacheDataEncrypted reads back false for {listed(clear)}"
        return self.compliance_reason(state)

    def tag_resource(self, ctx: FixContext, arn: str, tags: dict[str, str]) -> None:
        ctx.factory.client("apigateway").tag_resource(resourceArn=arn, tags=tags)

    def live_values(self, ctx: FixContext, state: CacheState, plan: Plan) -> dict[str, Any]:
        keys = plan.after["cacheDataEncrypted"]
        return {"cacheDataEncrypted": {key: encrypted(state, key) for key in keys}}

    def rollback_plan(self, ctx: FixContext, state: CacheState, original: dict[str, Any]) -> Plan:
        before = (original.get("before") or {}).get("cacheDataEncrypted") or {}
        was_clear = [key for key, value in before.items() if value is False]
        revert = [key for key in was_clear if encrypted(state, key) is True]
        changed = [key for key in was_clear if key not in revert]
        if not revert:
            raise Refusal(
                f"None of the keys audit {original.get('audit_id')} encrypted is still "
                f"encrypted ({listed(was_clear) or 'none recorded'}): they changed since, "
                "so nothing is rolled back."
            )
        return Plan(
            action=f"rollback: UpdateStage caching/dataEncrypted=false for {listed(revert)}",
            before={"cacheDataEncrypted": {key: True for key in revert}},
            after={"cacheDataEncrypted": {key: False for key in revert}},
            details={"leftAlone": changed} if changed else {},
        )

    def rollback_apply(self, ctx: FixContext, state: CacheState, plan: Plan) -> None:
        ctx.factory.client("apigateway").update_stage(
            restApiId=state.api_id,
            stageName=state.stage_name,
            patchOperations=encryption_patches(list(plan.after["cacheDataEncrypted"]), False),
        )

    def rollback_verify(self, state: CacheState, plan: Plan) -> str | None:
        still = [key for key in plan.after["cacheDataEncrypted"] if encrypted(state, key)]
        if still:
            return f"cacheDataEncrypted still reads back true for {listed(still)}"
        return None


lambda_handler = remediation_handler(EnableApiCacheEncryption)
