"""log-group-cmk-encrypted: CloudWatch log groups are encrypted with a KMS key.

Periodic, like AWS's cloudwatch-log-group-encrypted: one evaluation per log group
(AWS::Logs::LogGroup, resource id = the log group name). A group without `kmsKeyId`
(CloudWatch Logs' own encryption only) is NON_COMPLIANT. With KmsKeyId (a key id or a
key ARN) the group must use that key: a key id matches the group's key ARN by its id,
a key ARN must match exactly (so a multi-Region key's replica in another Region does
not count). Aliases are rejected as invalid parameters: resolving one needs
kms:DescribeKey, and an alias can be re-pointed after the check. Groups outside
LogGroupNamePrefixes are reported NOT_APPLICABLE (AWS's rule has no scope) so that
results of an earlier, wider scope are cleared. Groups evaluated before but gone now
are reported NOT_APPLICABLE by the rule base.

Data: logs:DescribeLogGroups (all pages, once per run; shared with log-group-retention
in a scan).

Scenarios:
  Given a log group with a KMS key,
    When the periodic run evaluates, Then it is COMPLIANT naming the key id.
  Given a log group without a KMS key,
    When the periodic run evaluates,
    Then it is NON_COMPLIANT "The log group is not encrypted with a KMS key. ...".
  Given KmsKeyId (a key id or a key ARN) and a group encrypted with another key,
    When the periodic run evaluates, Then it is NON_COMPLIANT naming both keys;
    a group with the required key is COMPLIANT whichever form KmsKeyId uses.
  Given KmsKeyId set to an alias,
    When invoked, Then it fails with an invalid-parameters error and stores nothing.
  Given LogGroupNamePrefixes and a group outside them,
    When the periodic run evaluates, Then that group is NOT_APPLICABLE.
  Given more than 100 log groups,
    When the periodic run evaluates, Then every group gets a stored result.
  Given a log group evaluated by a previous run and deleted since,
    When the periodic run evaluates again, Then it is NOT_APPLICABLE.
  Given DescribeLogGroups is denied or throttled,
    When invoked, Then the invocation fails visibly and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rdklib import Evaluation

from configguard.parameters import (
    InvalidRuleParametersError,
    LogGroupCmkEncryptedParameters,
    parse_parameters,
)
from configguard.registry import LOG_GROUP, RULES
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import Verdict

OUT_OF_SCOPE = "The log group is outside LogGroupNamePrefixes."


def key_id(value: str) -> str:
    """The key id of a key ARN (`arn:...:key/<id>`), or the value itself."""
    _, marker, rest = value.partition(":key/")
    return rest if marker else value


def is_alias(value: str) -> bool:
    return value.startswith("alias/") or ":alias/" in value


def check_key_parameter(value: str | None) -> None:
    """KmsKeyId must name a key (id or ARN), not an alias."""
    if value is not None and is_alias(value.strip()):
        raise InvalidRuleParametersError(
            f"invalid rule parameters: KmsKeyId must be a key id or key ARN, not an alias "
            f"({value.strip()[:80]})"
        )


def uses_key(actual: str, wanted: str) -> bool:
    """Whether the group's key (an ARN) is `wanted` (a key ARN, or a key id)."""
    wanted = wanted.strip()
    if wanted.startswith("arn:"):
        return actual.lower() == wanted.lower()
    return key_id(actual).lower() == wanted.lower()


def in_scope(name: str, prefixes: Iterable[str]) -> bool:
    """Every group is in scope without prefixes; otherwise its name must start with one."""
    wanted = tuple(prefixes)
    return not wanted or name.startswith(wanted)


def verdict(group: dict[str, Any], required_key: str | None = None) -> Verdict:
    """The verdict for one DescribeLogGroups item."""
    actual = str(group.get("kmsKeyId") or "")
    if not actual:
        return Verdict.non_compliant(
            "The log group is not encrypted with a KMS key (CloudWatch Logs default "
            "encryption only). Fix: associate a customer managed key (logs:AssociateKmsKey)."
        )
    if required_key and not uses_key(actual, required_key):
        return Verdict.non_compliant(
            f"The log group uses KMS key {key_id(actual)}, not the required "
            f"{key_id(required_key.strip())}. Fix: associate the KmsKeyId key "
            "(logs:AssociateKmsKey)."
        )
    return Verdict.compliant(f"Encrypted with KMS key {key_id(actual)}.")


def verdicts(
    groups: Iterable[dict[str, Any]],
    required_key: str | None = None,
    prefixes: Iterable[str] = (),
) -> list[tuple[str, Verdict]]:
    """(log group name, verdict) for every listed group."""
    scope = tuple(prefixes)
    out: list[tuple[str, Verdict]] = []
    for group in groups:
        name = str(group["logGroupName"])
        if not in_scope(name, scope):
            out.append((name, Verdict.not_applicable(OUT_OF_SCOPE)))
        else:
            out.append((name, verdict(group, required_key)))
    return out


class LogGroupCmkEncrypted(GuardRule):
    spec = RULES["log-group-cmk-encrypted"]

    def evaluate_parameters(
        self, rule_parameters: dict[str, Any]
    ) -> LogGroupCmkEncryptedParameters:
        params = parse_parameters(LogGroupCmkEncryptedParameters, rule_parameters)
        check_key_parameter(params.kms_key_id)
        return params

    def evaluate_periodic(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        valid_rule_parameters: LogGroupCmkEncryptedParameters,
    ) -> list[Evaluation]:
        groups = client_factory.reads.log_groups()
        found = verdicts(
            groups,
            valid_rule_parameters.kms_key_id,
            valid_rule_parameters.log_group_name_prefixes,
        )
        return [evaluation(result, name, LOG_GROUP) for name, result in found]


lambda_handler = rule_handler(LogGroupCmkEncrypted)
