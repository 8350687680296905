"""apigw-domain-tls-policy: custom domain names require TLS 1.2+ and keep mTLS unbypassable.

Periodic (Config records no domain names). Each custom domain name gets one evaluation.
Its security policy must have a minimum of TLS 1.2: `TLS_1_2`, or an enhanced policy
(`SecurityPolicy_TLS12_*`, `SecurityPolicy_TLS13_1_2_*`, `SecurityPolicy_TLS13_1_3_*`,
`SecurityPolicy_TLS13_<year>_EDGE`). `TLS_1_0`, any name with a TLS 1.0/1.1 minimum, an
unrecognised name or no policy at all is NON_COMPLIANT. v1 reports one `securityPolicy`;
v2 one `SecurityPolicy` per endpoint configuration, and each must pass.
A domain with mutual TLS (a truststore) authenticates clients only on the custom domain:
every API mapped to it (v1 base path mappings, v2 API mappings) must have its default
execute-api endpoint disabled, else clients can skip mTLS and the domain is NON_COMPLIANT.
A domain listed by both APIs (real AWS lists every custom domain in both) is evaluated once,
as AWS::ApiGateway::DomainName, from both views: every reported policy must pass (a
policy missing from one view is tolerated when the other reports one), and the mapped APIs
are the union of both mapping lists. Domains only the v2 API lists are evaluated as
AWS::ApiGatewayV2::DomainName. A mapped API that no longer exists cannot be used to bypass
mTLS and is ignored. Domains evaluated by an earlier run and gone now are reported
NOT_APPLICABLE by the rule base.
Differs from AWS managed rules: none checks custom domain security policies or mTLS bypass.

Data: apigateway GetDomainNames and apigatewayv2 GetDomainNames (all pages, once per run);
for mTLS domains only: GetBasePathMappings / GetApiMappings, then GetRestApi / GetApi per
mapped API (a v2 mapping to a REST API: GetApi answers NotFound, then GetRestApi).

Scenarios:
  Given a v1 domain with security policy TLS_1_2 (or an enhanced TLS 1.3 policy),
    When the periodic run evaluates, Then it is COMPLIANT.
  Given a v1 domain with security policy TLS_1_0,
    When the periodic run evaluates, Then it is NON_COMPLIANT "Security policy TLS_1_0 ...".
  Given a v1 domain without a security policy,
    When the periodic run evaluates,
    Then it is NON_COMPLIANT "No security policy reported.".
  Given an mTLS domain mapped to a REST API whose default endpoint is enabled,
    When the periodic run evaluates,
    Then it is NON_COMPLIANT "mTLS can be bypassed via the default endpoint of API <name> (<id>)";
    once the endpoint is disabled, the next run finds it COMPLIANT.
  Given a v2 mTLS domain mapped to HTTP APIs with default endpoints disabled,
    When the periodic run evaluates, Then it is COMPLIANT (AWS::ApiGatewayV2::DomainName).
  Given a domain listed by both the v1 and the v2 API,
    When the periodic run evaluates, Then it gets one evaluation, from both views.
  Given GetDomainNames is denied,
    When invoked, Then the invocation fails visibly and nothing is stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from rdklib import Evaluation

from configguard.iampolicy import compact_join
from configguard.parameters import ApigwDomainTlsPolicyParameters
from configguard.reads import NOT_FOUND_CODES, Reads, error_code
from configguard.registry import HTTP_DOMAIN, REST_DOMAIN, RULES
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import ANNOTATION_LIMIT, Verdict

_LEGACY = re.compile(r"TLS_1_(\d)")
# SecurityPolicy_TLS12_2018_EDGE, SecurityPolicy_TLS13_1_2_PQ_2025_09, ..._TLS13_2025_EDGE:
# the TLS1x family, then an optional `_1_<minimum minor>` (otherwise the family's version).
_ENHANCED = re.compile(r"SecurityPolicy_TLS1(\d)(?:_1_(\d))?(?:_.*)?")
_OLD_TLS = re.compile(r"TLS[_.-]?1[_.-]?[01](?!\d)", re.IGNORECASE)
_POLICY_FIX = " Fix: switch the domain to TLS_1_2 or a SecurityPolicy_TLS13_* policy."
_MTLS_FIX = " Fix: disable the default execute-api endpoint of those APIs."


def minimum_tls_minor(policy: str) -> int | None:
    """The minimum TLS 1.x minor version a security policy accepts; None if unrecognised."""
    if match := _LEGACY.fullmatch(policy):
        return int(match.group(1))
    if match := _ENHANCED.fullmatch(policy):
        return int(match.group(2) or match.group(1))
    return None


def policy_problem(policy: str) -> str | None:
    """Why a security policy is too weak, or None when its minimum is TLS 1.2+."""
    minor = minimum_tls_minor(policy)
    if minor is None:
        if _OLD_TLS.search(policy):
            return f"Security policy {policy} allows TLS 1.0/1.1."
        return f"Security policy {policy} is not a recognised TLS 1.2+ policy."
    if minor < 2:
        return f"Security policy {policy} accepts TLS 1.{minor}."
    return None


@dataclass
class DomainViews:
    """What the v1 and v2 listings say about one custom domain name."""

    name: str
    v1: dict[str, Any] | None = None
    v2: dict[str, Any] | None = None

    @property
    def resource_type(self) -> str:
        return REST_DOMAIN if self.v1 is not None else HTTP_DOMAIN

    def reported_policies(self) -> tuple[list[str], bool]:
        """(every policy reported, whether a policy is missing where it should be)."""
        v1 = [self.v1.get("securityPolicy")] if self.v1 is not None else []
        v2: list[Any] = []
        if self.v2 is not None:
            v2 = [c.get("SecurityPolicy") for c in self.v2.get("DomainNameConfigurations") or []]
            v2 = v2 or [None]
        policies = [str(p) for p in v1 + v2 if p]
        if self.v1 is not None and self.v2 is not None:
            return policies, not policies
        return policies, len(policies) < len(v1 + v2)

    def truststore(self) -> str | None:
        v1 = ((self.v1 or {}).get("mutualTlsAuthentication") or {}).get("truststoreUri")
        v2 = ((self.v2 or {}).get("MutualTlsAuthentication") or {}).get("TruststoreUri")
        return str(v1 or v2) if (v1 or v2) else None


def verdict(
    policies: Sequence[str],
    policy_missing: bool,
    mutual_tls: bool = False,
    mapped: int = 0,
    exposed: Sequence[str] = (),
) -> Verdict:
    """One domain's verdict; `exposed` names mapped APIs whose default endpoint is enabled."""
    problems = [] if not policy_missing else ["No security policy reported."]
    problems += [p for p in dict.fromkeys(policy_problem(x) for x in policies) if p]
    text = " ".join(problems) + (_POLICY_FIX if problems else "")
    if mutual_tls and exposed:
        head = (" " if text else "") + "mTLS can be bypassed via the default endpoint of API "
        budget = ANNOTATION_LIMIT - len(text) - len(head) - len("." + _MTLS_FIX)
        text += head + compact_join(list(exposed), budget) + "." + _MTLS_FIX
    if text:
        return Verdict.non_compliant(text)
    unique = "/".join(dict.fromkeys(policies))
    note = f"Security policy {unique} requires TLS 1.2+."
    if mutual_tls:
        note += (
            f" Mutual TLS: the default endpoint of all {mapped} mapped APIs is disabled."
            if mapped
            else " Mutual TLS: no APIs are mapped."
        )
    return Verdict.compliant(note)


def _rest_api(reads: Reads, api_id: str) -> tuple[str, bool] | None:
    api = reads.rest_api(api_id)
    if api is None:
        return None
    return str(api.get("name") or api_id), bool(api.get("disableExecuteApiEndpoint"))


def _v2_api(reads: Reads, api_id: str) -> tuple[str, bool] | None:
    api = reads.http_api(api_id)
    if api is None:
        return _rest_api(reads, api_id)  # a v2 API mapping may point at a REST API
    return str(api.get("Name") or api_id), bool(api.get("DisableExecuteApiEndpoint"))


def mapped_apis(reads: Reads, domain: DomainViews) -> dict[str, tuple[str, bool]] | None:
    """api id -> (name, default endpoint disabled) for each existing mapped API.

    None when the domain was deleted since the listing.
    """
    rest_ids: set[str] = set()
    other_ids: set[str] = set()
    try:
        if domain.v1 is not None:
            rest_ids = {str(m["restApiId"]) for m in reads.base_path_mappings(domain.name)}
        if domain.v2 is not None:
            other_ids = {str(m["ApiId"]) for m in reads.api_mappings(domain.name)} - rest_ids
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND_CODES:
            return None
        raise
    found: dict[str, tuple[str, bool]] = {}
    for api_id in sorted(rest_ids | other_ids):
        api = _rest_api(reads, api_id) if api_id in rest_ids else _v2_api(reads, api_id)
        if api is not None:  # a deleted API cannot be used to skip mTLS
            found[api_id] = api
    return found


def domain_verdict(reads: Reads, domain: DomainViews) -> Verdict | None:
    """The domain's verdict; None when it was deleted while being read."""
    policies, missing = domain.reported_policies()
    if domain.truststore() is None:
        return verdict(policies, missing)
    apis = mapped_apis(reads, domain)
    if apis is None:
        return None
    exposed = [f"{name} ({api_id})" for api_id, (name, off) in apis.items() if not off]
    return verdict(policies, missing, mutual_tls=True, mapped=len(apis), exposed=exposed)


def domains(v1: Iterable[dict[str, Any]], v2: Iterable[dict[str, Any]]) -> list[DomainViews]:
    """Every custom domain name once, with what each listing says about it."""
    found: dict[str, DomainViews] = {}
    for item in v1:
        name = str(item["domainName"])
        found.setdefault(name.lower(), DomainViews(name)).v1 = item
    for item in v2:
        name = str(item["DomainName"])
        found.setdefault(name.lower(), DomainViews(name)).v2 = item
    return [found[key] for key in sorted(found)]


class ApigwDomainTlsPolicy(GuardRule):
    spec = RULES["apigw-domain-tls-policy"]

    def evaluate_periodic(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        valid_rule_parameters: ApigwDomainTlsPolicyParameters,
    ) -> list[Evaluation]:
        reads = client_factory.reads
        out: list[Evaluation] = []
        for domain in domains(reads.domain_names(), reads.http_domain_names()):
            found = domain_verdict(reads, domain)
            if found is not None:
                out.append(evaluation(found, domain.name, domain.resource_type))
        return out


lambda_handler = rule_handler(ApigwDomainTlsPolicy)
