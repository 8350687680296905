"""lambda-env-cmk-encrypted: environment variables are encrypted with a customer-managed key.

Data: `configuration.kmskeyArn` from the CI; when it is absent or not allowed,
lambda:GetFunctionConfiguration (reused from GetFunction when already read) tells
whether the function has environment variables (`Environment.Variables`, or an
`Environment.Error` when Lambda could not decrypt them: they exist) and its key.
Variable values are never read into annotations; key ids are not secret.

Scenarios:
  Given a CI with a KMS key ARN and no KmsKeyArns, When evaluated,
    Then COMPLIANT and no Lambda API call is made.
  Given a function without a CMK and without environment variables,
    Then COMPLIANT "No environment variables.".
  Given a function with environment variables and no CMK, Then NON_COMPLIANT.
  Given KmsKeyArns and variables encrypted with a key outside it,
    Then NON_COMPLIANT naming the key id.
  Given KmsKeyArns and a CI whose key is in it, Then COMPLIANT without an API call.
  Given GetFunctionConfiguration reporting Environment.Error (variables Lambda
    cannot decrypt), Then the variables count as present and the key is judged.
  Given a ResourceDeleted configuration item, Then NOT_APPLICABLE.
  Given a function that is gone by the time it is read, Then NOT_APPLICABLE.
  Given AccessDenied on GetFunctionConfiguration,
    When invoked, Then the invocation fails visibly and reports nothing.
"""

from __future__ import annotations

from typing import Any

from rdklib import Evaluation

from configguard import checks
from configguard.cibuilder import MISSING, ci_typed
from configguard.parameters import LambdaEnvCmkEncryptedParameters
from configguard.reads import Reads
from configguard.registry import RULES
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import Verdict


def key_from_ci(configuration_item: dict[str, Any]) -> str | None:
    """The KMS key ARN in the CI, if any."""
    key = ci_typed(configuration_item, str, "configuration", "kmskeyArn")
    return str(key) if key is not MISSING and key else None


def allowed(key: str, allowlist: tuple[str, ...]) -> bool:
    return not allowlist or key in allowlist


# The verdict from a GetFunctionConfiguration response is shared with the paired fix.
key_id = checks.kms_key_id
has_environment = checks.has_environment
judge_configuration = checks.env_cmk_encryption


def evaluate(
    configuration_item: dict[str, Any],
    params: LambdaEnvCmkEncryptedParameters,
    reads: Reads,
) -> Verdict:
    """The verdict for one function's CI."""
    key = key_from_ci(configuration_item)
    if key and allowed(key, params.kms_key_arns):
        return Verdict.compliant(f"Environment encryption uses KMS key {key_id(key)}.")
    configuration = reads.function_configuration(configuration_item["resourceId"])
    if configuration is None:
        return Verdict.not_applicable("The function no longer exists.")
    return judge_configuration(configuration, params.kms_key_arns)


class LambdaEnvCmkEncrypted(GuardRule):
    spec = RULES["lambda-env-cmk-encrypted"]

    def evaluate_change(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        configuration_item: dict[str, Any],
        valid_rule_parameters: LambdaEnvCmkEncryptedParameters,
    ) -> list[Evaluation]:
        verdict = evaluate(configuration_item, valid_rule_parameters, client_factory.reads)
        return [evaluation(verdict)]


lambda_handler = rule_handler(LambdaEnvCmkEncrypted)
