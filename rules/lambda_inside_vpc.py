"""lambda-inside-vpc: functions run in a VPC when required, in allowed subnets, across AZs.

Data: `configuration.vpcConfig.subnetIds` from the CI (lambda:GetFunction only when
the CI lacks vpcConfig); ec2:DescribeSubnets once per VPC function for the subnets'
Availability Zones. When a subnet no longer exists (InvalidSubnetID.NotFound), one
DescribeSubnets with a subnet-id filter names the missing ones: NON_COMPLIANT.

Scenarios:
  Given a function outside any VPC and Required false (the default),
    When evaluated, Then NOT_APPLICABLE and no API call is made.
  Given a function outside any VPC and Required true, Then NON_COMPLIANT.
  Given a VPC function in subnets of 2 Availability Zones, Then COMPLIANT (one call).
  Given a VPC function in subnets of 1 Availability Zone and MinAvailabilityZones 2,
    Then NON_COMPLIANT (Security Hub Lambda.5).
  Given SubnetIds and a function in a subnet outside it, Then NON_COMPLIANT naming it.
  Given a function whose subnet no longer exists, Then NON_COMPLIANT naming it.
  Given a ResourceDeleted configuration item, Then NOT_APPLICABLE.
  Given a CI without vpcConfig for a function that is gone, Then NOT_APPLICABLE.
  Given AccessDenied (UnauthorizedOperation) on DescribeSubnets,
    When invoked, Then the invocation fails visibly and reports nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rdklib import Evaluation

from configguard.cibuilder import MISSING, ci_value
from configguard.parameters import LambdaInsideVpcParameters
from configguard.reads import Reads
from configguard.registry import RULES
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import Verdict

SUBNET_NOT_FOUND = frozenset({"InvalidSubnetID.NotFound"})


def subnets_from_ci(configuration_item: dict[str, Any]) -> list[str] | None:
    """The function's subnet ids from the CI; None when the CI lacks vpcConfig."""
    vpc = ci_value(configuration_item, "configuration", "vpcConfig")
    if vpc is MISSING or (vpc is not None and not isinstance(vpc, Mapping)):
        return None  # absent, or a shape we cannot read; a null vpcConfig means no VPC
    subnets = ci_value(configuration_item, "configuration", "vpcConfig", "subnetIds")
    if subnets is MISSING or subnets is None:
        return []
    if not isinstance(subnets, list) or not all(isinstance(s, str) for s in subnets):
        return None  # a shape we cannot read
    return list(subnets)


def _names(items: list[str]) -> str:
    return ", ".join(items)


def subnet_zones(reads: Reads, subnet_ids: list[str]) -> tuple[dict[str, str], list[str]]:
    """({subnet id: Availability Zone}, [subnet ids that no longer exist])."""
    wanted = sorted(set(subnet_ids))
    response = reads.call("ec2", "describe_subnets", missing=SUBNET_NOT_FOUND, SubnetIds=wanted)
    if response is None:  # one or more are gone: a filter lists the ones that remain
        response = reads.call(
            "ec2", "describe_subnets", Filters=[{"Name": "subnet-id", "Values": wanted}]
        )
    zones = {s["SubnetId"]: s["AvailabilityZone"] for s in response.get("Subnets", [])}
    return zones, [s for s in wanted if s not in zones]


def judge_vpc(
    subnet_ids: list[str],
    zones: dict[str, str],
    gone: list[str],
    params: LambdaInsideVpcParameters,
) -> Verdict:
    """The verdict for a VPC function from its subnets' zones."""
    problems: list[str] = []
    if params.subnet_ids:
        outside = sorted({s for s in subnet_ids if s not in params.subnet_ids})
        if outside:
            problems.append(f"Subnets not in SubnetIds: {_names(outside)}.")
    if gone:
        problems.append(f"Subnets that no longer exist: {_names(gone)}.")
    azs = sorted(set(zones.values()))
    if len(azs) < params.min_availability_zones:
        where = f" ({_names(azs)})" if azs else ""
        problems.append(
            f"Runs in {len(azs)} Availability Zone(s){where}, fewer than "
            f"MinAvailabilityZones {params.min_availability_zones}; add subnets in other AZs."
        )
    if problems:
        return Verdict.non_compliant(" ".join(problems))
    return Verdict.compliant(f"In a VPC across {len(azs)} Availability Zones ({_names(azs)}).")


def evaluate(
    configuration_item: dict[str, Any], params: LambdaInsideVpcParameters, reads: Reads
) -> Verdict:
    """The verdict for one function's CI."""
    subnet_ids = subnets_from_ci(configuration_item)
    if subnet_ids is None:
        response = reads.function(configuration_item["resourceId"])
        if response is None:
            return Verdict.not_applicable("The function no longer exists.")
        vpc = (response.get("Configuration") or {}).get("VpcConfig") or {}
        subnet_ids = [str(s) for s in vpc.get("SubnetIds") or []]
    if not subnet_ids:
        if params.required:
            return Verdict.non_compliant(
                "The function is not attached to a VPC and Required is true; "
                "set VpcConfig with subnets in at least "
                f"{params.min_availability_zones} Availability Zones."
            )
        return Verdict.not_applicable("The function is not in a VPC and Required is false.")
    zones, gone = subnet_zones(reads, subnet_ids)
    return judge_vpc(subnet_ids, zones, gone, params)


class LambdaInsideVpc(GuardRule):
    spec = RULES["lambda-inside-vpc"]

    def evaluate_change(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        configuration_item: dict[str, Any],
        valid_rule_parameters: LambdaInsideVpcParameters,
    ) -> list[Evaluation]:
        verdict = evaluate(configuration_item, valid_rule_parameters, client_factory.reads)
        return [evaluation(verdict)]


lambda_handler = rule_handler(LambdaInsideVpc)
