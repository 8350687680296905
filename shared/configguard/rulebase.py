"""A thin base over rdklib's ConfigRule / Evaluator that closes rdklib's sharp edges.

What it changes, and why:
- the event is validated up front; missing `eventLeftScope`, `notificationCreationTime`
  or `recordVersion` are tolerated, anything malformed raises `InvalidEventError`: an
  event for another rule or of the other trigger kind, a CI whose identity, status or
  capture time is not what Config sends, a CI value that claims to be JSON and is not;
- clients come from configguard's factory (endpoint settings, adaptive retries); the
  function's own role is used unless `AssumeRoleMode` / `ExecutionRoleName` say otherwise;
- deleted, out-of-scope and vanished resources are NOT_APPLICABLE;
- oversized notifications are inflated from the service API;
- evaluations go out in batches of 100 and an empty batch is never sent;
- NON_COMPLIANT annotations end with the rule's runbook link when it fits (runbooks.py);
- a rule that cannot evaluate fails the invocation, logs a structured error and emits
  an `EvaluationErrors` metric, instead of rdklib's silent error dict.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, ValidationError
from rdklib import ClientFactory as RdkClientFactory
from rdklib import ConfigRule, Evaluation, Evaluator

from configguard import cibuilder, runbooks
from configguard.clients import ClientFactory, default_factory
from configguard.observability import logger, metrics, record_failure, tracer
from configguard.parameters import RuleParameters, parse_parameters
from configguard.reads import Reads
from configguard.registry import RuleSpec, Trigger, registry_rule_name
from configguard.verdict import Compliance, Verdict, annotation

PUT_EVALUATIONS_BATCH = 100
TEST_MODE_TOKEN = "TESTMODE"  # noqa: S105 - Config's documented test token, not a secret
CHANGE_MESSAGES = frozenset(
    {"ConfigurationItemChangeNotification", "OversizedConfigurationItemChangeNotification"}
)
SCHEDULED_MESSAGE = "ScheduledNotification"
# PutEvaluations' limits on ComplianceResourceId and ComplianceResourceType.
MAX_RESOURCE_ID = 768
MAX_RESOURCE_TYPE = 256
NOT_APPLICABLE_STATUSES = frozenset(
    {"ResourceDeleted", "ResourceDeletedNotRecorded", "ResourceNotRecorded"}
)


class InvalidEventError(ValueError):
    """The invocation is not a well-formed Config rule event."""


class EvaluationError(RuntimeError):
    """The rule could not evaluate; nothing was reported as compliant."""


class ConfigRuleInvocation(BaseModel):
    """The fields of a Config custom-rule invocation that configguard relies on."""

    model_config = ConfigDict(extra="allow", frozen=True)

    invokingEvent: str
    resultToken: str
    configRuleName: str
    ruleParameters: str | None = None
    eventLeftScope: bool = False
    executionRoleArn: str | None = None
    accountId: str | None = None


def _loads_object(raw: str | None, what: str) -> dict[str, Any]:
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidEventError(f"{what} is not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise InvalidEventError(f"{what} is nested too deeply") from None
    if not isinstance(value, dict):
        raise InvalidEventError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def _timestamp(value: object, what: str) -> str:
    """An ISO 8601 timestamp from the event, as given; InvalidEventError otherwise."""
    if isinstance(value, str) and len(value) <= 64:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value
    raise InvalidEventError(f"{what} is not an ISO 8601 timestamp")


def parse_invocation(
    event: object,
) -> tuple[ConfigRuleInvocation, dict[str, Any], dict[str, Any]]:
    """Validate a raw event: (invocation, invoking event, raw rule parameters)."""
    if not isinstance(event, dict):
        raise InvalidEventError(f"event must be a JSON object, got {type(event).__name__}")
    try:
        invocation = ConfigRuleInvocation.model_validate(event)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise InvalidEventError(f"not a Config rule event: bad or missing {fields}") from None
    invoking = _loads_object(invocation.invokingEvent, "invokingEvent")
    message_type = invoking.get("messageType")
    if not isinstance(message_type, str):
        raise InvalidEventError("invokingEvent has no messageType")
    if message_type not in CHANGE_MESSAGES and message_type != SCHEDULED_MESSAGE:
        raise InvalidEventError(f"unknown messageType {message_type[:80]!r}")
    return invocation, invoking, _loads_object(invocation.ruleParameters, "ruleParameters")


class RuleClients(RdkClientFactory):  # type: ignore[misc]
    """rdklib's client-factory interface, served by configguard's factory."""

    def __init__(self, factory: ClientFactory, reads: Reads | None = None) -> None:
        super().__init__(role_arn=None, region=factory.region, assume_role_mode=False)
        self.factory = factory
        self.reads = reads if reads is not None else Reads(factory)

    def build_client(
        self, service: str, region: str | None = None, assume_role_mode: bool = True
    ) -> Any:
        return self.factory.client(service, region)


def evaluation(
    verdict: Verdict, resource_id: str | None = None, resource_type: str | None = None
) -> Evaluation:
    """An rdklib Evaluation with a safe annotation."""
    return Evaluation(str(verdict.compliance), resource_id, resource_type, verdict.annotation)


class GuardRule(ConfigRule):  # type: ignore[misc]
    """Base for every configguard rule: subclasses set `spec` and implement evaluate_*."""

    spec: ClassVar[RuleSpec]
    # Vanished resources are handled by the rules themselves, without extra Config calls.
    delete_old_evaluations_on_scheduled_notification = False

    def evaluate_parameters(self, rule_parameters: dict[str, Any]) -> RuleParameters:
        return parse_parameters(self.spec.parameters, rule_parameters)


def execution_role_arn(invocation: ConfigRuleInvocation, params: RuleParameters) -> str | None:
    """The role to assume, following rdklib's ExecutionRoleName / AssumeRoleMode semantics."""
    base = invocation.executionRoleArn
    if params.execution_role_name:
        if not base or "/" not in base:
            raise InvalidEventError(
                "ExecutionRoleName is set but the event has no executionRoleArn"
            )
        return f"{base.split('/')[0]}/{params.execution_role_name}"
    if params.assume_role_mode:
        if not base:
            raise InvalidEventError("AssumeRoleMode is true but the event has no executionRoleArn")
        return base
    return None


def vanished(
    config: Any, rule_name: str, current: list[dict[str, Any]], stamp: str
) -> list[dict[str, Any]]:
    """NOT_APPLICABLE for resources a periodic run evaluated before but no longer sees.

    Config keeps a periodic rule's old results for deleted resources. rdklib clears them
    with the same read (GetComplianceDetailsByConfigRule); configguard does it here so
    that a failed read fails the invocation instead of being swallowed.
    `rule_name` is the invoking rule's name, which for organization rules differs from
    the registry name.
    """
    seen = {(e["ComplianceResourceType"], e["ComplianceResourceId"]) for e in current}
    stale: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ConfigRuleName": rule_name, "Limit": 100}
    while True:
        page = config.get_compliance_details_by_config_rule(**kwargs)
        for result in page.get("EvaluationResults", []):
            qualifier = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
            key = (qualifier["ResourceType"], qualifier["ResourceId"])
            if key in seen or result.get("ComplianceType") == "NOT_APPLICABLE":
                continue
            seen.add(key)
            stale.append(
                {
                    "ComplianceResourceType": key[0],
                    "ComplianceResourceId": key[1],
                    "ComplianceType": "NOT_APPLICABLE",
                    "OrderingTimestamp": stamp,
                    "Annotation": "The resource no longer exists.",
                }
            )
        if not page.get("NextToken"):
            return stale
        kwargs["NextToken"] = page["NextToken"]


def _chunks(items: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def deliver(config: Any, result_token: str, evaluations: list[dict[str, Any]]) -> int:
    """PutEvaluations in batches of 100; never an empty call."""
    for batch in _chunks(evaluations, PUT_EVALUATIONS_BATCH):
        response = config.put_evaluations(
            Evaluations=batch,
            ResultToken=result_token,
            TestMode=result_token == TEST_MODE_TOKEN,
        )
        failed = response.get("FailedEvaluations") or []
        if failed:
            raise EvaluationError(f"Config rejected {len(failed)} of {len(batch)} evaluations")
    return len(evaluations)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


class GuardEvaluator(Evaluator):  # type: ignore[misc]
    """rdklib's Evaluator, with configguard's event handling and error visibility."""

    def __init__(self, rule: GuardRule, factory: ClientFactory | None = None) -> None:
        super().__init__(rule, list(rule.spec.resource_types))
        self.rule = rule
        self._factory = factory

    def handle(self, event: Any, context: Any) -> dict[str, Any]:
        invocation, invoking, raw_params = parse_invocation(event)
        self._check_addressed(invocation, invoking)
        params = self.rule.evaluate_parameters(raw_params)
        factory = self._factory or default_factory()
        role_arn = execution_role_arn(invocation, params)
        try:
            if role_arn:
                factory = factory.assume(role_arn, session_name="configguard-rule")
            clients = RuleClients(factory)
            evaluations = self._evaluate(event, invocation, invoking, clients, params)
            delivered = deliver(factory.client("config"), invocation.resultToken, evaluations)
        except ClientError as exc:
            code = _error_code(exc)
            raise EvaluationError(
                f"{self.rule.spec.name} could not evaluate: {code[:80]} from "
                f"{exc.operation_name}; nothing was reported"
            ) from exc
        except cibuilder.MalformedItemError as exc:
            raise InvalidEventError(str(exc)) from None
        counts: dict[str, int] = {}
        for item in evaluations:
            counts[item["ComplianceType"]] = counts.get(item["ComplianceType"], 0) + 1
        for compliance, count in counts.items():
            metrics.add_metric(name=f"Evaluations{compliance}", unit=MetricUnit.Count, value=count)
        return {"rule": self.rule.spec.name, "delivered": delivered, "compliance": counts}

    def _check_addressed(self, invocation: ConfigRuleInvocation, invoking: dict[str, Any]) -> None:
        """The event is for this rule (or its organization copy) and its trigger kind."""
        spec = self.rule.spec
        if registry_rule_name(invocation.configRuleName) != spec.name:
            raise InvalidEventError(
                f"the event is for Config rule {invocation.configRuleName[:100]!r}, not {spec.name}"
            )
        scheduled = invoking["messageType"] == SCHEDULED_MESSAGE
        if scheduled != (spec.trigger is Trigger.PERIODIC):
            raise InvalidEventError(
                f"{spec.name} is a {spec.trigger} rule; it does not take a "
                f"{invoking['messageType']}"
            )

    def _evaluate(
        self,
        event: dict[str, Any],
        invocation: ConfigRuleInvocation,
        invoking: dict[str, Any],
        clients: RuleClients,
        params: RuleParameters,
    ) -> list[dict[str, Any]]:
        if invoking["messageType"] == SCHEDULED_MESSAGE:
            raw_stamp = invoking.get("notificationCreationTime")
            if not raw_stamp:
                raise InvalidEventError("ScheduledNotification has no notificationCreationTime")
            stamp = _timestamp(raw_stamp, "notificationCreationTime")
            results = self.rule.evaluate_periodic(event, clients, params)
            current = [self._to_json(item, stamp) for item in results]
            config = clients.factory.client("config")
            # The event's rule name: organization rules carry a per-account suffix.
            return current + vanished(config, invocation.configRuleName, current, stamp)

        item, summary = self._configuration_item(invoking)
        resource_type = summary.get("resourceType")
        resource_id = summary.get("resourceId")
        raw_stamp = summary.get("configurationItemCaptureTime") or invoking.get(
            "notificationCreationTime"
        )
        if not resource_type or not resource_id or not raw_stamp:
            raise InvalidEventError(
                "configuration item lacks resourceType, resourceId or capture time"
            )
        if not isinstance(resource_type, str) or not isinstance(resource_id, str):
            raise InvalidEventError("configuration item resourceType and resourceId must be text")
        if len(resource_id) > MAX_RESOURCE_ID or len(resource_type) > MAX_RESOURCE_TYPE:
            raise InvalidEventError("configuration item resourceType or resourceId is too long")
        stamp = _timestamp(raw_stamp, "the configuration item capture time")
        verdict = self._applicability(invocation, summary)
        if verdict is None and item is None:
            item = cibuilder.read(clients.reads, resource_type, resource_id)
            if item is None:
                verdict = Verdict.not_applicable("The resource no longer exists.")
        if verdict is not None:
            results = [evaluation(verdict)]
        else:
            results = self.rule.evaluate_change(event, clients, item, params)
        return [self._to_json(r, stamp, resource_id, resource_type) for r in results]

    @staticmethod
    def _configuration_item(
        invoking: dict[str, Any],
    ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """(full CI or None when oversized, the fields that identify it)."""
        if invoking["messageType"] == "OversizedConfigurationItemChangeNotification":
            summary = invoking.get("configurationItemSummary")
            if not isinstance(summary, dict):
                raise InvalidEventError("oversized notification has no configurationItemSummary")
            return None, summary
        item = invoking.get("configurationItem")
        if not isinstance(item, dict):
            raise InvalidEventError("change notification has no configurationItem")
        return item, item

    def _applicability(
        self, invocation: ConfigRuleInvocation, summary: dict[str, Any]
    ) -> Verdict | None:
        if invocation.eventLeftScope:
            return Verdict.not_applicable("The resource left the rule's scope.")
        status = summary.get("configurationItemStatus")
        if status is not None and not isinstance(status, str):
            raise InvalidEventError("configurationItemStatus must be text")
        if status in NOT_APPLICABLE_STATUSES:
            return Verdict.not_applicable(f"Configuration item status is {status}.")
        if summary.get("resourceType") not in self.rule.spec.resource_types:
            return Verdict.not_applicable(
                f"{str(summary.get('resourceType'))[:80]} is not evaluated by this rule."
            )
        return None

    def _to_json(
        self,
        item: Evaluation,
        stamp: str,
        resource_id: str | None = None,
        resource_type: str | None = None,
    ) -> dict[str, Any]:
        if not isinstance(item, Evaluation):
            raise EvaluationError(f"rule returned {type(item).__name__}, not an Evaluation")
        if item.complianceType not in {c.value for c in Compliance}:
            raise EvaluationError(f"invalid compliance type {item.complianceType!r}")
        out: dict[str, Any] = {
            "ComplianceResourceId": item.complianceResourceId or resource_id,
            "ComplianceResourceType": item.complianceResourceType or resource_type,
            "ComplianceType": item.complianceType,
            "OrderingTimestamp": item.orderingTimestamp or stamp,
        }
        if not out["ComplianceResourceId"] or not out["ComplianceResourceType"]:
            raise EvaluationError("an evaluation lacks its resource id or type")
        note = annotation(item.annotation) if item.annotation else ""
        if item.complianceType == Compliance.NON_COMPLIANT:
            note = runbooks.with_link(note, self.rule.spec.name)
        if note:
            out["Annotation"] = note
        return out


def rule_handler(rule_cls: type[GuardRule]) -> Callable[[Any, Any], dict[str, Any]]:
    """The Lambda entry point for a rule class: observability around GuardEvaluator."""
    evaluator = GuardEvaluator(rule_cls())
    name = rule_cls.spec.name

    @metrics.log_metrics
    @logger.inject_lambda_context(clear_state=True, log_event=False)
    @tracer.capture_lambda_handler(capture_response=False)
    def handler(event: Any, context: Any) -> dict[str, Any]:
        metrics.add_dimension(name="rule", value=name)
        logger.append_keys(rule=name)
        token = event.get("resultToken") if isinstance(event, dict) else None
        if isinstance(token, str):
            # One id per Config invocation, without logging the token itself.
            logger.set_correlation_id(hashlib.sha256(token.encode()).hexdigest()[:16])
        try:
            result = evaluator.handle(event, context)
        except Exception as exc:
            record_failure("EvaluationErrors", "evaluation failed", exc)
            raise
        logger.info("evaluation delivered", extra=result)
        return result

    return handler
