"""apigw-stage-cache-encrypted: REST methods that cache responses encrypt the cache data.

Security Hub APIGateway.5.
Data: `configuration.cacheClusterEnabled` and `configuration.methodSettings` from the
AWS::ApiGateway::Stage CI; apigateway GetStage only when the CI lacks either.

Semantics: every key of methodSettings is a whole method setting as GetStage returns
it; a key that caches (cachingEnabled true) must have cacheDataEncrypted true, and an
absent cacheDataEncrypted counts as false (API Gateway's default). The stage-wide `*/*`
key is judged like any other: it is what every method without its own key inherits.
Hazard (from the issue): a fix that patches only the method keys already present
(`/~1orders/GET/caching/dataEncrypted`) leaves `*/*` unencrypted, so every method that
inherits `*/*` still caches in clear; the annotation therefore names `*/*` explicitly.
A stage without a cache cluster caches nothing: COMPLIANT.
Differs from AWS managed rule api-gw-cache-enabled-and-encrypted: that rule also
requires caching to be enabled; this one only requires that what is cached is encrypted.

Scenarios:
  Given a REST stage without a cache cluster, When evaluated,
    Then COMPLIANT ("no cache") and no API Gateway call is made.
  Given a stage with a cache cluster and */* caching encrypted, When evaluated, Then COMPLIANT.
  Given a stage with a cache cluster whose */* caches unencrypted and whose GET /orders
    override encrypts, When evaluated, Then NON_COMPLIANT naming stage-wide */*.
  Given a stage with a cache cluster and a GET /orders override caching unencrypted,
    When evaluated, Then NON_COMPLIANT naming GET /orders.
  Given a CI without methodSettings for a stage that no longer exists,
    When evaluated, Then NOT_APPLICABLE.
  Given a ResourceDeleted configuration item, When evaluated, Then NOT_APPLICABLE.
  Given AccessDenied on GetStage, When invoked,
    Then the invocation fails visibly and reports nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rdklib import Evaluation

from configguard.cibuilder import MISSING, ci_typed, parse_stage_arn
from configguard.parameters import ApigwStageCacheEncryptedParameters
from configguard.reads import Reads
from configguard.registry import RULES
from configguard.routes import STAGE_WIDE, method_label
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import Verdict

GONE = Verdict.not_applicable("The stage no longer exists.")
MAX_LISTED = 8


def is_true(value: Any) -> bool:
    """A boolean as Config records it: true, or the string "true"."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _get(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, Mapping) else None


def patch_path(key: str) -> str:
    return f"/{key}/caching/dataEncrypted"


def judge_cache(cache_cluster_enabled: bool, method_settings: Any) -> Verdict:
    """The verdict for a REST stage's cache cluster flag and method settings."""
    if not cache_cluster_enabled:
        return Verdict.compliant("The stage has no cache cluster: nothing is cached.")
    settings = dict(method_settings) if isinstance(method_settings, Mapping) else {}
    caching = [key for key, value in settings.items() if is_true(_get(value, "cachingEnabled"))]
    # */* first: it stands for every method that has no key of its own.
    caching.sort(key=lambda key: (key != STAGE_WIDE, key))
    clear = [key for key in caching if not is_true(_get(settings[key], "cacheDataEncrypted"))]
    if clear:
        names = ", ".join(method_label(key) for key in clear[:MAX_LISTED])
        more = f" and {len(clear) - MAX_LISTED} more" if len(clear) > MAX_LISTED else ""
        inherit = (
            " (inherited by every method without its own setting)" if clear[0] == STAGE_WIDE else ""
        )
        return Verdict.non_compliant(
            f"Cached responses are not encrypted for {names}{more}{inherit}; patch "
            f"/<key>/caching/dataEncrypted to true for each (e.g. {patch_path(clear[0])})."
        )
    if not caching:
        return Verdict.compliant("A cache cluster exists but no method caches responses.")
    return Verdict.compliant(f"Cache data is encrypted for all {len(caching)} caching setting(s).")


def evaluate(configuration_item: dict[str, Any], reads: Reads) -> Verdict:
    """The verdict for one REST stage's CI."""
    enabled = ci_typed(configuration_item, (bool, str), "configuration", "cacheClusterEnabled")
    if isinstance(enabled, str) and enabled.strip().lower() not in ("true", "false"):
        enabled = MISSING  # not a boolean as Config records one: read the stage
    method_settings = ci_typed(configuration_item, Mapping, "configuration", "methodSettings")
    if enabled is MISSING or method_settings is MISSING:
        _, api_id, stage_name = parse_stage_arn(configuration_item["resourceId"])
        stage = reads.rest_stage(api_id, stage_name)
        if stage is None:
            return GONE
        enabled = stage.get("cacheClusterEnabled", False)
        method_settings = stage.get("methodSettings")
    return judge_cache(is_true(enabled), method_settings)


class ApigwStageCacheEncrypted(GuardRule):
    spec = RULES["apigw-stage-cache-encrypted"]

    def evaluate_change(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        configuration_item: dict[str, Any],
        valid_rule_parameters: ApigwStageCacheEncryptedParameters,
    ) -> list[Evaluation]:
        return [evaluation(evaluate(configuration_item, client_factory.reads))]


lambda_handler = rule_handler(ApigwStageCacheEncrypted)
