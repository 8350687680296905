"""lambda-env-no-plaintext-secrets: environment variables hold no plaintext secrets.

Data: lambda:GetFunctionConfiguration (Config's Lambda CI has no environment
variables); a scan reuses the GetFunction it already made. Detection is
configguard.secretscan; annotations name variables and detector kinds, never values.

Scenarios:
  Given a function without environment variables, When evaluated, Then COMPLIANT.
  Given variables holding only references (ARNs, SSM paths, {{resolve:...}}) and settings,
    When evaluated, Then COMPLIANT.
  Given a variable holding an AWS access key id,
    When evaluated, Then NON_COMPLIANT naming the variable and the kind, not the value.
  Given several secret variables whose names overflow the annotation,
    When evaluated, Then NON_COMPLIANT listing what fits and "+N more".
  Given a secret variable listed in AllowedVariables (name or regex),
    When evaluated, Then COMPLIANT.
  Given ExtraPatterns matching an in-house token format,
    When evaluated, Then NON_COMPLIANT with the custom pattern as the kind.
  Given an invalid ExtraPatterns regex, When invoked, Then it fails with a clear error.
  Given Lambda cannot return the variables (Environment.Error),
    When evaluated, Then the invocation fails visibly and reports nothing.
  Given AccessDenied on GetFunctionConfiguration,
    When invoked, Then the invocation fails visibly and reports nothing.
  Given a function that no longer exists, When evaluated, Then NOT_APPLICABLE.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from rdklib import Evaluation

from configguard.parameters import LambdaEnvNoPlaintextSecretsParameters
from configguard.reads import Reads
from configguard.registry import RULES
from configguard.rulebase import EvaluationError, GuardRule, RuleClients, evaluation, rule_handler
from configguard.secretscan import Detector, SecretFinding
from configguard.verdict import ANNOTATION_LIMIT, Verdict

_ADVICE = " Move them to Secrets Manager or SSM SecureString."


@lru_cache(maxsize=16)
def detector(allowed: tuple[str, ...], extra: tuple[str, ...]) -> Detector:
    return Detector.build(allowlist=allowed, extra_patterns=extra)


def describe(findings: list[SecretFinding]) -> str:
    """Names and kinds only, as many as fit in one annotation."""
    kinds: dict[str, list[str]] = {}
    for finding in findings:
        kinds.setdefault(finding.variable, []).append(finding.kind)
    parts = [f"{name} ({', '.join(sorted(set(k)))})" for name, k in sorted(kinds.items())]
    head = f"Plaintext secrets in {len(parts)} environment variable(s): "
    shown: list[str] = []
    for index, part in enumerate(parts):
        rest = len(parts) - index - 1
        tail = f", +{rest} more." if rest else "."
        candidate = head + ", ".join([*shown, part]) + tail + _ADVICE
        if len(candidate) > ANNOTATION_LIMIT and shown:
            break
        shown.append(part)
    rest = len(parts) - len(shown)
    return head + ", ".join(shown) + (f", +{rest} more." if rest else ".") + _ADVICE


def evaluate(
    function_name: str, params: LambdaEnvNoPlaintextSecretsParameters, reads: Reads
) -> Verdict:
    """The verdict for one function's environment."""
    configuration = reads.function_configuration(function_name)
    if configuration is None:
        return Verdict.not_applicable("The function no longer exists.")
    environment: dict[str, Any] = configuration.get("Environment") or {}
    if environment.get("Error"):
        code = str((environment["Error"] or {}).get("ErrorCode") or "unknown error")
        raise EvaluationError(
            f"Lambda could not return the environment variables of {function_name} "
            f"({code[:80]}); they were not scanned"
        )
    variables = environment.get("Variables") or {}
    if not variables:
        return Verdict.compliant("No environment variables.")
    found = detector(params.allowed_variables, params.extra_patterns).scan(variables)
    if found:
        return Verdict.non_compliant(describe(found))
    return Verdict.compliant(f"No secret-like values in {len(variables)} environment variable(s).")


class LambdaEnvNoPlaintextSecrets(GuardRule):
    spec = RULES["lambda-env-no-plaintext-secrets"]

    def evaluate_change(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        configuration_item: dict[str, Any],
        valid_rule_parameters: LambdaEnvNoPlaintextSecretsParameters,
    ) -> list[Evaluation]:
        name = configuration_item["resourceId"]
        return [evaluation(evaluate(name, valid_rule_parameters, client_factory.reads))]


lambda_handler = rule_handler(LambdaEnvNoPlaintextSecrets)
