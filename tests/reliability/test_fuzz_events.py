"""Event fuzzing (issue 10, item 1): every rule, every fix and the Security Hub router get
malformed and adversarial events built from the real samples in events/<module>/*.json.

Damage: dropped keys, values of the wrong JSON kind (one field, or a random share of a
whole configuration block), NaN and infinities, unicode (lone surrogates, NUL, bidi
overrides), strings of 64 to 200 KB (events are at most 256 KB), nesting 60 to 100,000 deep,
`invokingEvent` / `ruleParameters` strings that are not JSON objects, unknown message and
resource types, CIs of other rules' resources, oversized notifications for resources the
stand-in does not have, events and result tokens for other rules; for the fixes and the
router the Config compliance-change, Security Hub custom-action, routed, CLI fix and CLI
rollback shapes with the same kinds of damage (fuzz_strategies.py builds them all).

What is checked (the oracle):
- Every exception a handler raises is one of its kind's typed errors (RULE_ERRORS,
  FIX_ERRORS, ROUTER_ERRORS) with a message of at most 500 printable characters: no
  KeyError, TypeError, RecursionError, pydantic or botocore error leaks, and no input is
  echoed whole.
- Rules, read back from the stand-in's stored PutEvaluations results (every rule, so a
  result filed under a wrong-rule token is seen too):
  (1) a COMPLIANT result is only for a resource that exists in the stand-in (the
      inventory taken before fuzzing; no sample's resource is in it) or for the resource
      of a full configuration item carried in a (non-oversized) change notification;
      oversized notifications for the sample resources can therefore only be
      NOT_APPLICABLE;
  (2) a configuration field (under configuration / supplementaryConfiguration / tags /
      relationships) that a case left with a JSON kind the field never has in the samples
      (Config's "true"/"false" strings count as booleans) is never judged more favourably
      than the same field missing: when the damaged event is COMPLIANT, the same event
      with those fields removed must be COMPLIANT too. This is the rules' own convention
      ("a shape we cannot read counts as absent", which sends them to the API); it needs
      no list of the fields each rule reads, and a field a rule ignores passes both ways;
  (3) an event addressed to another rule (configRuleName) stores no verdict at all.
- Fixes: every case carries at least one damage that leaves no valid request for the
  seeded, noncompliant resource (a control first shows that the undamaged samples reach
  it); no case may end `applied`, and the resource's state read by the fix itself is the
  same before and after all cases. The blast-radius cap is lifted so that it cannot hide
  a wrong apply.
- Router: every fix it starts gets a request that the fix itself accepts, for a resource
  whose ARN in the finding is in this account and Region.

Hypothesis runs derandomized with a fixed number of examples per handler; each test
counts the examples it ran and FIGURES holds the totals.
"""

from __future__ import annotations

import contextlib
import copy
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import fuzz_strategies as fz
import pytest
from conftest import ACCOUNT, REGION, lambda_context, make_function
from hypothesis import HealthCheck, given, note, settings
from moto.config.models import config_backends

from configguard import cibuilder, registry
from configguard import settings as cg_settings
from configguard.hubrouter import RouterError
from configguard.parameters import InvalidRuleParametersError
from configguard.remediation import FixContext, Remediation
from configguard.rulebase import EvaluationError, InvalidEventError
from configguard.triggers import InvalidTriggerError, config_resource, parse_requests
from configguard_cli.handlers import remediation_module, router_module, rule_module
from configguard_cli.local import gapfills, hubfeed

# Examples per handler. A periodic rule's event has little to damage besides its
# envelope and parameters (no configuration item), so it gets fewer.
CHANGE_RULE_EXAMPLES = 100
PERIODIC_RULE_EXAMPLES = 80
FIX_EXAMPLES = 100
ROUTER_EXAMPLES = 150
FIGURES: dict[str, int] = {
    "handlers fuzzed": 38,
    "events fuzzed": 3690,
    "rule events fuzzed": 2340,
    "fix events fuzzed": 1200,
    "router events fuzzed": 150,
    "regression events": 22,
}

RULE_ERRORS: tuple[type[Exception], ...] = (
    InvalidEventError,
    EvaluationError,
    InvalidRuleParametersError,
)
FIX_ERRORS: tuple[type[Exception], ...] = (InvalidTriggerError,)
ROUTER_ERRORS: tuple[type[Exception], ...] = (
    InvalidTriggerError,
    RouterError,
    cg_settings.ConfigurationError,
)
MESSAGE_LIMIT = 500
# Periodic rules that find nothing to report flush no metrics; Powertools warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
FIX_SHAPES = {
    "config": "config-compliance-change.json",
    "securityhub": "securityhub-custom-action.json",
    "cli": "cli-fix-request.json",
}


def fuzz_settings(examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=examples,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=False,
    )


def check_typed(exc: BaseException, allowed: tuple[type[Exception], ...]) -> None:
    """A typed error of the handler's kind, with a short printable message."""
    text = str(exc)
    assert isinstance(exc, allowed), f"untyped {type(exc).__name__}: {text[:300]!r}"
    assert 0 < len(text) <= MESSAGE_LIMIT, f"{type(exc).__name__} message of {len(text)} chars"
    assert text.isprintable(), f"unprintable {type(exc).__name__} message: {text[:300]!r}"


def call(handler: Any, event: Any, context: Any) -> tuple[Any, BaseException | None]:
    try:
        return handler(event, context), None
    except Exception as exc:
        return None, exc


# ------------------------------------------------------------------------ the world


@dataclass
class Target:
    """One fix's seeded, noncompliant resource and its samples aimed at it."""

    fix: Remediation[Any]
    samples: dict[str, dict[str, Any]]
    context: FixContext

    def state(self) -> str:
        return repr(self.fix.read(self.context))

    def noncompliant(self) -> bool:
        state = self.fix.read(self.context)
        return state is not None and self.fix.compliance_reason(state) is not None


@dataclass
class World:
    inventory: frozenset[str]
    targets: dict[str, Target]


def _fix_of(name: str) -> Remediation[Any]:
    module = remediation_module(name)
    spec = registry.REMEDIATIONS[name]
    (cls,) = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, Remediation) and getattr(v, "spec", None) is spec
    ]
    return cls()


def _rest_stage(factory: Any, name: str, *patches: tuple[str, str]) -> tuple[str, str]:
    """A REST API with stage prod (patched); (api id, stage ARN)."""
    ag = factory.client("apigateway")
    api = ag.create_rest_api(name=name, endpointConfiguration={"types": ["REGIONAL"]})["id"]
    root = ag.get_resources(restApiId=api)["items"][0]["id"]
    ag.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    ag.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    ag.create_deployment(restApiId=api, stageName="prod")
    if patches:
        operations = [{"op": "replace", "path": p, "value": v} for p, v in patches]
        ag.update_stage(restApiId=api, stageName="prod", patchOperations=operations)
    return api, cibuilder.rest_stage_arn(REGION, api, "prod")


def _seed(factory: Any) -> dict[str, dict[str, str]]:
    """Noncompliant resources, one per fix; sample id -> seeded id, per fix."""
    lam, kms, logs = factory.client("lambda"), factory.client("kms"), factory.client("logs")
    make_function(factory, "fz-orders-api")
    plaintext = {"UPLOAD_KEY": "AKIA" + secrets.token_hex(8).upper(), "MODE": "batch"}
    make_function(factory, "fz-billing-secrets", Environment={"Variables": plaintext})
    make_function(factory, "fz-billing-cmk", Environment={"Variables": {"MODE": "batch"}})
    make_function(factory, "fz-public-webhook")
    lam.add_permission(
        FunctionName="fz-public-webhook",
        StatementId="open",
        Action="lambda:InvokeFunction",
        Principal="*",
    )
    logs.create_log_group(logGroupName="/aws/lambda/fz-unencrypted")
    logs.create_log_group(logGroupName="/aws/lambda/fz-forever")
    logs.put_retention_policy(logGroupName="/aws/lambda/fz-forever", retentionInDays=1)
    rotating = kms.create_key()["KeyMetadata"]["KeyId"]
    pending = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=pending, PendingWindowInDays=7)
    waf_api, _ = _rest_stage(factory, "fz-waf")
    cache_api, _ = _rest_stage(
        factory, "fz-cache", ("/cacheClusterEnabled", "true"), ("/*/*/caching/enabled", "true")
    )
    logging_api, _ = _rest_stage(factory, "fz-logging")
    factory.client("s3").create_bucket(Bucket="fz-trail-bucket")
    factory.client("cloudtrail").create_trail(Name="fz-trail", S3BucketName="fz-trail-bucket")
    return {
        "add-concurrency-limit": {"orders-api": "fz-orders-api"},
        "strip-env-secrets": {"billing-worker": "fz-billing-secrets"},
        "enable-lambda-env-encryption": {"billing-worker": "fz-billing-cmk"},
        "remove-lambda-public-access": {"public-webhook": "fz-public-webhook"},
        "enable-log-group-encryption": {"/aws/lambda/orders-api": "/aws/lambda/fz-unencrypted"},
        "set-log-retention": {"/aws/lambda/payments-worker": "/aws/lambda/fz-forever"},
        "enable-kms-key-rotation": {"6f1c2a9e-4b7d-4e3a-9c5f-2d8b1e7a4c90": rotating},
        "cancel-kms-key-deletion": {"3a8e5d21-9c4f-4b6a-8e2d-7f1b0c9a5e34": pending},
        "attach-waf": {"w2a4f6a8t0": waf_api},
        "enable-api-cache-encryption": {"c4e8n2c6r1": cache_api},
        "enable-api-logging": {"l0g5t4g3e1": logging_api},
        "enable-cloudtrail-encryption": {"management-events": "fz-trail"},
    }


def _inventory(factory: Any) -> frozenset[str]:
    """Every name, id and ARN of what the stand-in holds now."""
    found: set[str] = {ACCOUNT}
    for page in factory.client("lambda").get_paginator("list_functions").paginate():
        for fn in page["Functions"]:
            found |= {fn["FunctionName"], fn["FunctionArn"]}
    for page in factory.client("kms").get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            found |= {key["KeyId"], key["KeyArn"]}
    for page in factory.client("logs").get_paginator("describe_log_groups").paginate():
        found |= {group["logGroupName"] for group in page["logGroups"]}
    ag, v2 = factory.client("apigateway"), factory.client("apigatewayv2")
    for api in ag.get_rest_apis()["items"]:
        found.add(api["id"])
        for stage in ag.get_stages(restApiId=api["id"])["item"]:
            found.add(cibuilder.rest_stage_arn(REGION, api["id"], stage["stageName"]))
    for api in v2.get_apis()["Items"]:
        found.add(api["ApiId"])
        for stage in v2.get_stages(ApiId=api["ApiId"])["Items"]:
            found.add(cibuilder.http_stage_arn(REGION, api["ApiId"], stage["StageName"]))
    found |= {d["domainName"] for d in ag.get_domain_names().get("items", [])}
    found |= {d["DomainName"] for d in v2.get_domain_names().get("Items", [])}
    for trail in factory.client("cloudtrail").describe_trails()["trailList"]:
        found |= {trail["Name"], trail["TrailARN"]}
    return frozenset(found)


def _fix_samples(name: str, replacements: dict[str, str]) -> dict[str, dict[str, Any]]:
    folder = registry.REMEDIATIONS[name].module
    samples = {
        shape: fz.retarget(fz.load(f"{folder}/{file}"), replacements)
        for shape, file in FIX_SHAPES.items()
    }
    samples["router"] = fz.routed_request(samples["securityhub"])
    # Its own evaluation time: not a duplicate of the custom action it comes from.
    samples["router"]["detail"]["updatedAt"] = "2026-11-21T10:16:00.000Z"
    rollback = copy.deepcopy(samples["cli"])
    rollback["detail-type"] = "configguard Rollback Request"
    rollback["detail"].update(
        auditId="0000000000000-000000000000",
        resourceType=registry.REMEDIATIONS[name].resource_types[0],
    )
    samples["rollback"] = rollback
    return samples


@pytest.fixture(scope="module")
def world(module_standin: Any, module_factory: Any) -> World:
    replacements = _seed(module_factory)
    targets = {}
    for name, replace in replacements.items():
        samples = _fix_samples(name, replace)
        (request,) = parse_requests(registry.REMEDIATIONS[name], samples["cli"])
        targets[name] = Target(_fix_of(name), samples, FixContext(module_factory, request))
    return World(_inventory(module_factory), targets)


@pytest.fixture(autouse=True)
def no_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong apply must show as applied, not be stopped by the hourly cap."""
    monkeypatch.setenv(cg_settings.MAX_CHANGES_PER_HOUR, "100000")


# ------------------------------------------------------------------------- rules


def stored() -> dict[tuple[str, str, str], Any]:
    """The stand-in's stored evaluation results, every rule: (rule, type, id) -> record."""
    state = gapfills._config_state(config_backends[ACCOUNT][REGION])
    return dict(state.results)


def new_results(before: dict[tuple[str, str, str], Any]) -> list[Any]:
    return [r for key, r in stored().items() if before.get(key) is not r]


def carried_item(event: Any) -> dict[str, Any] | None:
    """The full CI of a change notification as the handler received it, else None."""
    raw = event.get("invokingEvent") if isinstance(event, dict) else None
    try:
        invoking = json.loads(raw) if isinstance(raw, str) else None
    except (ValueError, RecursionError):
        return None
    if not isinstance(invoking, dict) or invoking.get("messageType") != fz.CHANGE:
        return None
    item = invoking.get("configurationItem")
    return item if isinstance(item, dict) else None


def damaged_fields(built: fz.Built, sample: dict[str, Any], resource_type: Any) -> set[fz.JsonPath]:
    """CI content paths the ops left with a JSON kind they never have in the samples."""
    known = fz.known_kinds(resource_type) if isinstance(resource_type, str) else {}
    damaged = set()
    for path, _, _ in built.retyped:
        if len(path) < 3 or path[:2] != fz.CI_PATH or path[2] not in fz.CI_CONTENT:
            continue
        kinds = known.get(fz.shape_of(path[2:]), frozenset())
        found, original = fz.lookup(sample, path)
        if found and original is not None:
            kinds |= {fz.json_kind(original)}
        final = built.kind_at(path)
        if kinds and final not in kinds | {"absent"}:
            damaged.add(path)
    return damaged


def without(ops: tuple[fz.Op, ...], paths: set[fz.JsonPath]) -> tuple[fz.Op, ...]:
    """The same ops, then the damaged fields removed."""
    return (*ops, *(fz.Op("drop", path) for path in sorted(paths, key=len, reverse=True)))


def _is_raw(op: fz.Op) -> bool:
    return op.value[0] == "raw"


def addressed_elsewhere(event: Any, rule: str) -> bool:
    name = event.get("configRuleName") if isinstance(event, dict) else None
    return isinstance(name, str) and registry.registry_rule_name(name) != rule


@dataclass
class Outcome:
    """A rule invocation: the event, the typed error it ended in, the results it stored."""

    built: fz.Built
    error: BaseException | None
    results: list[Any]

    def verdicts(self) -> list[str]:
        return [r.compliance_type for r in self.results]


class RuleFuzz:
    """Runs one rule's handler on built cases and applies the oracle."""

    def __init__(self, rule: str, standin: Any, world: World) -> None:
        self.rule = rule
        self.standin = standin
        self.world = world
        self.handler = rule_module(rule).lambda_handler
        self.context = lambda_context(f"configguard-{rule}")
        self.samples = fz.rule_samples(rule)
        names = sorted(registry.RULES)
        self.other = names[(names.index(rule) + 1) % len(names)]

    def token(self, choice: str) -> Callable[[], Any]:
        issue = self.standin.issue_result_token
        return {
            "own": lambda: issue(self.rule),
            "other": lambda: issue(self.other),
            "garbage": lambda: "bm90LWEtdG9rZW4=",
            "empty": lambda: "",
            "missing": fz.missing_token,
        }[choice]

    def run(self, sample: str, ops: tuple[fz.Op, ...], token: str) -> Outcome:
        built = fz.build_rule_event(self.samples[sample], ops, self.token(token))
        before = stored()
        _, error = call(self.handler, built.event, self.context)
        if error is not None:
            check_typed(error, RULE_ERRORS)
        return Outcome(built, error, new_results(before))

    def check(self, case: fz.RuleCase) -> Outcome:
        """Run a case and apply the oracle; what happened."""
        outcome = self.run(case.sample, case.ops, case.token)
        built, results = outcome.built, outcome.results
        if addressed_elsewhere(built.event, self.rule):
            verdicts = [(r.resource_id[:80], r.compliance_type) for r in results]
            assert all(v == "NOT_APPLICABLE" for _, v in verdicts), (
                f"an event for {str(built.event['configRuleName'])[:80]} stored {verdicts}"
            )
        item = carried_item(built.event)
        for result in results:
            if result.compliance_type != "COMPLIANT" or result.resource_id in self.world.inventory:
                continue
            assert item is not None and (item.get("resourceType"), item.get("resourceId")) == (
                result.resource_type,
                result.resource_id,
            ), f"COMPLIANT for {result.resource_id[:80]!r}, which exists nowhere"
            damaged = {
                path
                for path in damaged_fields(
                    built, self.samples[case.sample], item.get("resourceType")
                )
                if not any(_is_raw(op) and op.path == path for op in built.applied)
            }
            if damaged:
                again = self.run(case.sample, without(tuple(built.applied), damaged), case.token)
                same = [r for r in again.results if r.resource_id == result.resource_id]
                assert [r.compliance_type for r in same] == ["COMPLIANT"], (
                    f"damaged {sorted(map(str, damaged))[:5]} judged COMPLIANT, but without "
                    f"them: {[r.compliance_type for r in same] or 'no result'}"
                )
        return outcome


def test_no_sample_resource_exists_in_the_stand_in(world: World) -> None:
    """The oracle's premise: a COMPLIANT for a sample's resource needs its CI."""
    ids = {
        str(doc["invokingEvent"]["configurationItem"]["resourceId"])
        for rule in registry.RULES
        for doc in fz.rule_samples(rule).values()
        if isinstance(doc["invokingEvent"].get("configurationItem"), dict)
    }
    assert len(ids) > 10
    assert not ids & world.inventory


def rule_examples(rule: str) -> int:
    periodic = registry.RULES[rule].trigger is registry.Trigger.PERIODIC
    return PERIODIC_RULE_EXAMPLES if periodic else CHANGE_RULE_EXAMPLES


@pytest.mark.parametrize("rule", sorted(registry.RULES))
def test_rule_handler_fuzzed(rule: str, module_standin: Any, world: World) -> None:
    fuzz = RuleFuzz(rule, module_standin, world)
    ran: list[fz.RuleCase] = []

    @fuzz_settings(rule_examples(rule))
    @given(case=fz.rule_cases(rule, fuzz.samples))
    def examples(case: fz.RuleCase) -> None:
        ran.append(case)
        fuzz.check(case)

    examples()
    assert len(ran) == rule_examples(rule)


# ------------------------------------------------------------------------- fixes


@contextlib.contextmanager
def mode(factory: Any, fix: str, value: str) -> Iterator[None]:
    ssm = factory.client("ssm")
    name = f"/configguard/remediations/{fix}/mode"
    ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    try:
        yield
    finally:
        ssm.delete_parameter(Name=name)


@pytest.mark.parametrize("fix", sorted(registry.REMEDIATIONS))
def test_fix_handler_fuzzed(fix: str, module_factory: Any, world: World) -> None:
    target = world.targets[fix]
    handler = remediation_module(fix).lambda_handler
    context = lambda_context(f"configguard-{fix}")
    assert target.noncompliant()
    with mode(module_factory, fix, "dry-run"):
        for shape in ("config", "securityhub", "cli", "router"):
            result, error = call(handler, target.samples[shape], context)
            assert error is None, f"{shape}: {error!r}"
            outcomes = [(r["outcome"], r.get("reason", "")[:300]) for r in result["results"]]
            assert [outcome for outcome, _ in outcomes] == ["dry-run"], (shape, outcomes)
    before = target.state()
    ran: list[fz.FixCase] = []

    @fuzz_settings(FIX_EXAMPLES)
    @given(case=fz.fix_cases(target.samples, registry.REMEDIATIONS[fix]))
    def examples(case: fz.FixCase) -> None:
        ran.append(case)
        built = fz.build_dict_event(target.samples[case.shape], (*case.noise, case.damage))
        note(f"applied: {built.applied}")
        result, error = call(handler, built.event, context)
        if error is not None:
            check_typed(error, FIX_ERRORS)
            return
        outcomes = [(r["outcome"], r.get("reason", "")[:200]) for r in result["results"]]
        assert all(outcome != "applied" for outcome, _ in outcomes), outcomes

    examples()
    assert len(ran) == FIX_EXAMPLES
    assert target.state() == before
    assert target.noncompliant()


# ------------------------------------------------------------------------ router


def _in_scope(event: Any, resource_type: str, resource_id: str) -> bool:
    """Some finding of the event names this resource by an ARN in this account and Region."""
    detail = event.get("detail") if isinstance(event, dict) else None
    findings = detail.get("findings") if isinstance(detail, dict) else None
    for finding in findings if isinstance(findings, list) else []:
        resources = finding.get("Resources") if isinstance(finding, dict) else None
        first = resources[0] if isinstance(resources, list) and resources else None
        arn = first.get("Id") if isinstance(first, dict) else None
        if not isinstance(arn, str) or arn.count(":") < 5:
            continue
        parts = arn.split(":", 5)
        if parts[3] != REGION or parts[4] not in (ACCOUNT, ""):
            continue
        with contextlib.suppress(InvalidTriggerError):
            if config_resource(arn) == (resource_type, resource_id):
                return True
    return False


def check_started(event: Any) -> list[str]:
    """The fixes the router started: each request valid for its fix and in scope."""
    started = []
    for queued in gapfills.take_async_invocations(ACCOUNT, REGION):
        name = queued.function_name.removeprefix("configguard-")
        request = json.loads(queued.payload)
        (parsed,) = parse_requests(registry.REMEDIATIONS[name], request)
        assert (parsed.account_id, parsed.region) == (ACCOUNT, REGION)
        assert _in_scope(event, parsed.resource_type, parsed.resource_id), (
            f"{name} started for {parsed.resource_id[:100]!r}, not in this account and Region"
        )
        started.append(f"{name}:{parsed.resource_id}")
    return started


def test_router_fuzzed(
    module_standin: Any, module_factory: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cg_settings.AUTO_TRIGGER_CONTROLS, "KMS.4")
    handler = router_module().lambda_handler
    context = lambda_context(registry.ROUTER_FUNCTION_NAME)
    samples = {
        "custom-action": fz.load("securityhub_router/custom-action.json"),
        "imported": fz.load("securityhub_router/imported.json"),
    }
    for sample in samples.values():
        hubfeed.import_findings(module_factory, sample["detail"]["findings"])
    gapfills.take_async_invocations(ACCOUNT, REGION)
    for name, sample in samples.items():
        result, error = call(handler, sample, context)
        assert error is None, f"{name}: {error!r}"
        assert [s["remediation"] for s in result["started"]] == ["enable-kms-key-rotation"]
        assert len(check_started(sample)) == 1
    ran: list[fz.FixCase] = []

    @fuzz_settings(ROUTER_EXAMPLES)
    @given(case=fz.router_cases(samples))
    def examples(case: fz.FixCase) -> None:
        ran.append(case)
        built = fz.build_dict_event(samples[case.shape], (*case.noise, case.damage))
        note(f"applied: {built.applied}")
        _, error = call(handler, built.event, context)
        if error is not None:
            check_typed(error, ROUTER_ERRORS)
        check_started(built.event)

    examples()
    assert len(ran) == ROUTER_EXAMPLES


# ------------------------------------------------------------------- regressions
# One per bug the fuzzing found, with the smallest event it found (before the fix: an
# untyped exception, a COMPLIANT nobody evaluated, or a fix applied to the wrong request).

CONFIGURATION = (*fz.CI_PATH, "configuration")
RULE_REGRESSIONS: dict[str, tuple[str, str, fz.Op, type[Exception] | str]] = {
    "scheduled notification for a change rule (rdklib MissingTriggerHandlerError)": (
        "lambda-tracing-active",
        "change-active.json",
        fz.Op("set", ("invokingEvent", "messageType"), ("lit", fz.SCHEDULED)),
        InvalidEventError,
    ),
    "event for another rule (its verdict stored)": (
        "lambda-tracing-active",
        "change-active.json",
        fz.Op("set", ("configRuleName",), ("lit", "apigw-domain-tls-policy")),
        InvalidEventError,
    ),
    "configurationItemStatus a list (TypeError)": (
        "apigw-stage-throttling",
        "change-account-default-throttle.json",
        fz.Op("set", (*fz.CI_PATH, "configurationItemStatus"), ("lit", [])),
        InvalidEventError,
    ),
    "invokingEvent nested 100,000 deep (RecursionError)": (
        "lambda-tracing-active",
        "change-active.json",
        fz.Op("set", ("invokingEvent",), ("deep", 100_000)),
        InvalidEventError,
    ),
    "configuration that looks like JSON but is not (ValueError)": (
        "lambda-tracing-active",
        "change-active.json",
        fz.Op("set", CONFIGURATION, ("lit", "{not json")),
        InvalidEventError,
    ),
    "capture time that is no timestamp (botocore ParamValidationError)": (
        "lambda-tracing-active",
        "change-active.json",
        fz.Op("set", (*fz.CI_PATH, "configurationItemCaptureTime"), ("lit", "yesterday")),
        InvalidEventError,
    ),
    "64 KB parameter echoed in the error": (
        "apigw-route-authorization",
        "scheduled.json",
        fz.Op("add", ("ruleParameters", "AuthorizationTypes"), ("huge", 64)),
        InvalidRuleParametersError,
    ),
    "keyState a number (COMPLIANT)": (
        "kms-key-not-pending-deletion",
        "change-enabled-watched-key.json",
        fz.Op("set", (*CONFIGURATION, "keyState"), ("lit", 7)),
        "NOT_APPLICABLE",
    ),
    "deletionDate infinite (OverflowError)": (
        "kms-key-not-pending-deletion",
        "change-pending-deletion.json",
        fz.Op("set", (*CONFIGURATION, "deletionDate"), ("inf",)),
        "NOT_APPLICABLE",
    ),
    "runtime a number (COMPLIANT)": (
        "lambda-runtime-supported",
        "change-deprecated-python39.json",
        fz.Op("set", (*CONFIGURATION, "runtime"), ("lit", 7)),
        "NOT_APPLICABLE",
    ),
    "cacheClusterEnabled not a boolean (COMPLIANT)": (
        "apigw-stage-cache-encrypted",
        "change-stage-wide-cache-unencrypted.json",
        fz.Op("set", (*CONFIGURATION, "cacheClusterEnabled"), ("lit", fz.UNICODE[0])),
        "NOT_APPLICABLE",
    ),
    "webAclArn a number (COMPLIANT)": (
        "apigw-stage-waf-attached",
        "change-waf-classic.json",
        fz.Op("set", (*CONFIGURATION, "webAclArn"), ("lit", 7)),
        "NOT_APPLICABLE",
    ),
    "kmskeyArn a number (COMPLIANT)": (
        "lambda-env-cmk-encrypted",
        "change-no-cmk.json",
        fz.Op("set", (*CONFIGURATION, "kmskeyArn"), ("lit", 7)),
        "NOT_APPLICABLE",
    ),
    "subnetIds a number (TypeError)": (
        "lambda-inside-vpc",
        "change-in-vpc.json",
        fz.Op("set", (*CONFIGURATION, "vpcConfig", "subnetIds"), ("lit", 1.5)),
        "NOT_APPLICABLE",
    ),
    "reserved concurrency an object (TypeError)": (
        "lambda-reserved-concurrency",
        "change-reserved-concurrency-set.json",
        fz.Op(
            "set",
            (*fz.CI_PATH, "supplementaryConfiguration", "Concurrency"),
            ("lit", {"reservedConcurrentExecutions": {}}),
        ),
        "NOT_APPLICABLE",
    ),
}


@pytest.mark.parametrize("name", sorted(RULE_REGRESSIONS))
def test_rule_regression(name: str, module_standin: Any, world: World) -> None:
    rule, sample, op, expected = RULE_REGRESSIONS[name]
    outcome = RuleFuzz(rule, module_standin, world).check(fz.RuleCase(sample, (op,), "own"))
    assert outcome.built.applied == [op]
    if isinstance(expected, str):
        assert (outcome.error, outcome.verdicts()) == (None, [expected])
    else:
        assert isinstance(outcome.error, expected), repr(outcome.error)


FIX_REGRESSIONS: dict[str, tuple[str, str, fz.Op]] = {
    "finding ProductFields a string (AttributeError)": (
        "add-concurrency-limit",
        "securityhub",
        fz.Op("put", ("detail", "findings", 0, "ProductFields"), ("lit", "x")),
    ),
    "request for another Region (applied here, to a namesake)": (
        "enable-api-logging",
        "cli",
        fz.Op("set", ("region",), ("lit", "eu-west-1")),
    ),
    "finding resource ARN in another Region (applied here, to a namesake)": (
        "enable-kms-key-rotation",
        "securityhub",
        fz.Op("set", ("detail", "findings", 0, "Resources", 0, "Id"), ("lit", "arn:region")),
    ),
    "64 KB resourceId (DynamoDB ValidationException)": (
        "attach-waf",
        "config",
        fz.Op("put", ("detail", "resourceId"), ("huge", 64)),
    ),
    "resourceId with a NUL byte (RemediationFailedError)": (
        "add-concurrency-limit",
        "router",
        fz.Op("put", ("detail", "resourceId"), ("lit", "nul\x00byte")),
    ),
}


@pytest.mark.parametrize("name", sorted(FIX_REGRESSIONS))
def test_fix_regression(name: str, world: World) -> None:
    fix, shape, op = FIX_REGRESSIONS[name]
    target = world.targets[fix]
    sample = target.samples[shape]
    if op.value == ("lit", "arn:region"):  # the sample's own resource, in another Region
        arn = sample["detail"]["findings"][0]["Resources"][0]["Id"]
        op = fz.Op(op.kind, op.path, ("lit", arn.replace(f":{REGION}:", ":eu-west-1:")))
    built = fz.build_dict_event(sample, (op,))
    assert built.applied == [op]
    before = target.state()
    _, error = call(remediation_module(fix).lambda_handler, built.event, lambda_context(fix))
    assert isinstance(error, InvalidTriggerError), repr(error)
    check_typed(error, FIX_ERRORS)
    assert target.state() == before


ROUTER_REGRESSIONS: dict[str, tuple[fz.Op, type[Exception] | None]] = {
    "finding ProductFields a number (AttributeError)": (
        fz.Op("set", ("detail", "findings", 0, "ProductFields"), ("lit", 3)),
        None,
    ),
    "finding Id a lone surrogate (a request its fix rejects)": (
        fz.Op("set", ("detail", "findings", 1, "Id"), ("lit", fz.UNICODE[5])),
        InvalidTriggerError,
    ),
}


@pytest.mark.parametrize("name", sorted(ROUTER_REGRESSIONS))
def test_router_regression(name: str, module_factory: Any, world: World) -> None:
    op, expected = ROUTER_REGRESSIONS[name]
    sample = fz.load("securityhub_router/custom-action.json")
    hubfeed.import_findings(module_factory, sample["detail"]["findings"])
    gapfills.take_async_invocations(ACCOUNT, REGION)
    built = fz.build_dict_event(sample, (op,))
    assert built.applied == [op]
    result, error = call(router_module().lambda_handler, built.event, lambda_context("router"))
    if expected is None:
        assert error is None, repr(error)
        assert result["unrouted"] and result["started"]
    else:
        assert isinstance(error, expected), repr(error)
        check_typed(error, ROUTER_ERRORS)
    check_started(built.event)


# ----------------------------------------------------------------------- figures


def test_figures_are_what_the_tests_run() -> None:
    """Each fuzz test asserts it ran exactly its examples; these are their sums."""
    rules = sum(rule_examples(rule) for rule in registry.RULES)
    fixes = len(registry.REMEDIATIONS) * FIX_EXAMPLES
    assert {
        "handlers fuzzed": len(registry.RULES) + len(registry.REMEDIATIONS) + 1,
        "events fuzzed": rules + fixes + ROUTER_EXAMPLES,
        "rule events fuzzed": rules,
        "fix events fuzzed": fixes,
        "router events fuzzed": ROUTER_EXAMPLES,
        "regression events": len(RULE_REGRESSIONS) + len(FIX_REGRESSIONS) + len(ROUTER_REGRESSIONS),
    } == FIGURES
