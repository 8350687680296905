"""apigw-request-validation: REST methods that take a body have it validated by API Gateway.

Periodic (Config records no methods). Each REST API (AWS::ApiGateway::RestApi) gets one
evaluation: every POST, PUT and PATCH method needs a `requestValidatorId` naming a request
validator with `validateRequestBody` true; a missing validator, an unknown validator id or
a validator that checks only parameters makes the API NON_COMPLIANT, naming the methods
(and validator). Methods matching AllowedRoutes (`METHOD /path` patterns with fnmatch
wildcards, e.g. `POST /webhooks/*`) are exempt. An API without such methods is COMPLIANT.
ANY methods are not checked (the registry scopes the rule to POST, PUT and PATCH); body
validation also needs a request model, which this rule does not check.
An API deleted while the run reads it is skipped; APIs evaluated by an earlier run and
gone now are reported NOT_APPLICABLE by the rule base.
Differs from AWS managed rules: none checks request validators.

Data: apigateway GetRestApis, then GetResources (methods embedded) per REST API, and
GetRequestValidators only for APIs whose body methods name a validator.

Scenarios:
  Given a REST API whose POST, PUT and PATCH methods use a body-validating validator,
    When the periodic run evaluates, Then the API is COMPLIANT.
  Given a POST method without a request validator,
    When the periodic run evaluates,
    Then the API is NON_COMPLIANT "1 of 1 POST/PUT/PATCH method does not validate the
    request body: POST /orders (no validator). Fix: ...".
  Given a PUT method whose validator validates only parameters,
    When the periodic run evaluates, Then the API is NON_COMPLIANT naming the validator.
  Given a body method without a validator that matches AllowedRoutes,
    When the periodic run evaluates, Then it is exempt.
  Given a REST API with only GET and OPTIONS methods,
    When the periodic run evaluates, Then it is COMPLIANT and no validators are read.
  Given GetRequestValidators is denied,
    When invoked, Then the invocation fails visibly and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import ClientError
from rdklib import Evaluation

from configguard.iampolicy import compact_join
from configguard.parameters import ApigwRequestValidationParameters
from configguard.reads import NOT_FOUND_CODES, error_code
from configguard.registry import REST_API, RULES
from configguard.routes import route_matches
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import ANNOTATION_LIMIT, Verdict

BODY_METHODS = ("POST", "PUT", "PATCH")
_KIND = "POST/PUT/PATCH method"
_FIX = (
    " Fix: set a request validator with validateRequestBody (and a request model), "
    "or list the route in AllowedRoutes."
)


def body_methods(resources: Iterable[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(`METHOD /path`, method settings) for each POST/PUT/PATCH method, sorted by path."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    for resource in resources:
        path = str(resource.get("path") or "/")
        for method, settings in (resource.get("resourceMethods") or {}).items():
            if str(method).upper() in BODY_METHODS:
                found.append((path, str(method).upper(), dict(settings or {})))
    return [(f"{method} {path}", settings) for path, method, settings in sorted(found)]


def needs_validators(resources: Iterable[dict[str, Any]]) -> bool:
    """Whether any body method names a validator (only then are validators read)."""
    return any(settings.get("requestValidatorId") for _, settings in body_methods(resources))


def _problem(settings: Mapping[str, Any], validators: Mapping[str, dict[str, Any]]) -> str | None:
    validator_id = settings.get("requestValidatorId")
    if not validator_id:
        return "no validator"
    validator = validators.get(str(validator_id))
    if validator is None:
        return f"validator {validator_id} not found"
    if not validator.get("validateRequestBody"):
        name = validator.get("name") or validator_id
        return f"validator {name} checks parameters only"
    return None


def verdict(
    resources: Iterable[dict[str, Any]],
    validators: Iterable[dict[str, Any]] = (),
    allowed_routes: Iterable[str] = (),
) -> Verdict:
    """The verdict for one REST API's resources and request validators."""
    by_id = {str(v["id"]): v for v in validators}
    allowed = tuple(allowed_routes)
    methods = body_methods(resources)
    if not methods:
        return Verdict.compliant("The API has no POST, PUT or PATCH methods.")
    checked = [(key, s) for key, s in methods if not route_matches(key, allowed)]
    exempt = len(methods) - len(checked)
    if not checked:
        return Verdict.compliant(f"All {exempt} {_KIND}s are exempt by AllowedRoutes.")
    failing = [
        f"{key} ({problem})"
        for key, settings in checked
        if (problem := _problem(settings, by_id)) is not None
    ]
    if failing:
        plural = "" if len(checked) == 1 else "s"
        verb = "does" if len(failing) == 1 else "do"
        head = (
            f"{len(failing)} of {len(checked)} {_KIND}{plural} {verb} not validate "
            "the request body: "
        )
        budget = ANNOTATION_LIMIT - len(head) - len("." + _FIX)
        return Verdict.non_compliant(head + compact_join(failing, budget) + "." + _FIX)
    note = f"; {exempt} exempt by AllowedRoutes" if exempt else ""
    return Verdict.compliant(f"All {len(checked)} {_KIND}s validate the request body{note}.")


class ApigwRequestValidation(GuardRule):
    spec = RULES["apigw-request-validation"]

    def evaluate_periodic(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        valid_rule_parameters: ApigwRequestValidationParameters,
    ) -> list[Evaluation]:
        reads = client_factory.reads
        allowed = valid_rule_parameters.allowed_routes
        out: list[Evaluation] = []
        for api in reads.rest_apis():
            api_id = api["id"]
            try:
                resources = reads.rest_resources(api_id)
                validators = reads.request_validators(api_id) if needs_validators(resources) else []
            except ClientError as exc:
                if error_code(exc) in NOT_FOUND_CODES:
                    continue  # deleted since the listing
                raise
            out.append(evaluation(verdict(resources, validators, allowed), api_id, REST_API))
        return out


lambda_handler = rule_handler(ApigwRequestValidation)
