"""cloudtrail-security-trail: the account has a trail fit for security investigations.

Periodic (Security Hub CloudTrail.1, .2, .4). The account (AWS::::Account, resource id =
the account id) is COMPLIANT only when at least one trail that applies to this Region
is logging, multi-Region, includes global service events, records read and write
management events, has log file validation, is KMS-encrypted and, with
RequireLambdaDataEvents (default true), records Lambda data events (write events at
least: Invoke is a write event). Otherwise the annotation names the closest trail
(fewest misses) and what it misses. Management events may come from one selector
(ReadWriteType All / an advanced selector without a readOnly filter) or from a
read-only plus a write-only selector; excluded event sources are tolerated; Lambda data
events for some functions count.
Each trail homed in this Region is also evaluated as AWS::CloudTrail::Trail (resource
id = the trail name, as Config records it) on log file validation (CloudTrail.4) and
KMS encryption (CloudTrail.2) only, naming what is missing. A multi-Region trail homed
in another Region (a shadow trail) counts for the account but is evaluated as a Trail
only in its home Region; its event selectors are read there (GetEventSelectors only
answers in the home Region). A trail deleted while the run reads it is skipped;
trails evaluated before but gone now are reported NOT_APPLICABLE by the rule base.

Data: cloudtrail:DescribeTrails (shadow trails included), then GetTrailStatus and
GetEventSelectors per trail; the account id comes from the event (sts:GetCallerIdentity
in a scan).

Scenarios:
  Given a logging, multi-Region, KMS-encrypted, validated trail recording read+write
  management events and Lambda data events,
    When the periodic run evaluates, Then the account and the trail are COMPLIANT.
  Given no trail at all,
    When the periodic run evaluates, Then the account is NON_COMPLIANT "No CloudTrail trail.".
  Given only trails that each miss something,
    When the periodic run evaluates,
    Then the account is NON_COMPLIANT naming the closest trail and what it misses.
  Given a trail without log file validation or KMS encryption,
    When the periodic run evaluates, Then the trail is NON_COMPLIANT naming both.
  Given a trail recording management events with advanced event selectors,
    When the periodic run evaluates, Then it counts like basic selectors.
  Given a trail recording only write management events,
    When the periodic run evaluates, Then it misses read+write management events.
  Given RequireLambdaDataEvents false and a trail without Lambda data events,
    When the periodic run evaluates, Then the account is COMPLIANT.
  Given a stopped trail,
    When the periodic run evaluates, Then the account names it as not logging.
  Given a fit multi-Region trail homed in another Region,
    When the periodic run evaluates, Then the account is COMPLIANT and the trail gets
    no Trail evaluation here.
  Given a trail evaluated by a previous run and deleted since,
    When the periodic run evaluates again, Then it is NOT_APPLICABLE.
  Given DescribeTrails is denied or throttled,
    When invoked, Then the invocation fails visibly and nothing is stored.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rdklib import Evaluation

from configguard.parameters import CloudtrailSecurityTrailParameters
from configguard.reads import Reads
from configguard.registry import ACCOUNT, RULES, TRAIL
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import Verdict

LAMBDA_FUNCTION = "AWS::Lambda::Function"

# What a trail can lack, in the order annotations name them.
LOGGING = "logging"
MULTI_REGION = "multi-Region"
GLOBAL_EVENTS = "global service events"
MANAGEMENT_EVENTS = "read+write management events"
VALIDATION = "log file validation"
ENCRYPTION = "KMS encryption"
LAMBDA_DATA = "Lambda data events"


@dataclass(frozen=True)
class TrailFacts:
    """What the account verdict needs to know about one trail."""

    name: str
    home_region: str
    logging: bool
    multi_region: bool
    global_events: bool
    management_events: bool
    validation: bool
    encrypted: bool
    lambda_data_events: bool

    def misses(self, require_lambda_data_events: bool = True) -> list[str]:
        checks = (
            (self.logging, LOGGING),
            (self.multi_region, MULTI_REGION),
            (self.global_events, GLOBAL_EVENTS),
            (self.management_events, MANAGEMENT_EVENTS),
            (self.validation, VALIDATION),
            (self.encrypted, ENCRYPTION),
            (self.lambda_data_events or not require_lambda_data_events, LAMBDA_DATA),
        )
        return [label for ok, label in checks if not ok]


def _fields(selector: dict[str, Any]) -> dict[str, set[str]]:
    """An advanced selector's Equals values by field name (other operators ignored)."""
    found: dict[str, set[str]] = {}
    for field_selector in selector.get("FieldSelectors") or []:
        values = {str(v) for v in field_selector.get("Equals") or []}
        found.setdefault(str(field_selector.get("Field")), set()).update(values)
    return found


def _read_write(read_write_type: str) -> tuple[bool, bool]:
    """(records read events, records write events) for a basic ReadWriteType."""
    return read_write_type in {"All", "ReadOnly"}, read_write_type in {"All", "WriteOnly"}


def _advanced_read_write(fields: dict[str, set[str]]) -> tuple[bool, bool]:
    """(read, write) for an advanced selector: no readOnly filter means both."""
    if "readOnly" not in fields:
        return True, True
    values = {v.lower() for v in fields["readOnly"]}
    return "true" in values, "false" in values


def records_management_events(selectors: dict[str, Any]) -> bool:
    """Whether GetEventSelectors' answer covers read and write management events."""
    read = write = False
    for selector in selectors.get("EventSelectors") or []:
        if selector.get("IncludeManagementEvents", True):
            r, w = _read_write(str(selector.get("ReadWriteType") or "All"))
            read, write = read or r, write or w
    for selector in selectors.get("AdvancedEventSelectors") or []:
        fields = _fields(selector)
        if "Management" in fields.get("eventCategory", set()):
            r, w = _advanced_read_write(fields)
            read, write = read or r, write or w
    return read and write


def records_lambda_data_events(selectors: dict[str, Any]) -> bool:
    """Whether GetEventSelectors' answer records Lambda data (Invoke, a write) events."""
    for selector in selectors.get("EventSelectors") or []:
        lambda_resources = [
            r for r in selector.get("DataResources") or [] if r.get("Type") == LAMBDA_FUNCTION
        ]
        if lambda_resources and _read_write(str(selector.get("ReadWriteType") or "All"))[1]:
            return True
    for selector in selectors.get("AdvancedEventSelectors") or []:
        fields = _fields(selector)
        if (
            "Data" in fields.get("eventCategory", set())
            and LAMBDA_FUNCTION in fields.get("resources.type", set())
            and _advanced_read_write(fields)[1]
        ):
            return True
    return False


def facts(
    trail: dict[str, Any], status: dict[str, Any], selectors: dict[str, Any], region: str
) -> TrailFacts:
    """TrailFacts from DescribeTrails, GetTrailStatus and GetEventSelectors answers."""
    return TrailFacts(
        name=str(trail.get("Name") or trail.get("TrailARN")),
        home_region=str(trail.get("HomeRegion") or region),
        logging=bool(status.get("IsLogging")),
        multi_region=bool(trail.get("IsMultiRegionTrail")),
        global_events=bool(trail.get("IncludeGlobalServiceEvents")),
        management_events=records_management_events(selectors),
        validation=bool(trail.get("LogFileValidationEnabled")),
        encrypted=bool(trail.get("KmsKeyId")),
        lambda_data_events=records_lambda_data_events(selectors),
    )


def _label(trail: TrailFacts, region: str) -> str:
    return trail.name if trail.home_region == region else f"{trail.name} ({trail.home_region})"


def account_verdict(
    trails: Sequence[TrailFacts], require_lambda_data_events: bool = True, region: str = ""
) -> Verdict:
    """COMPLIANT when one trail meets every condition; else name the closest trail."""
    if not trails:
        return Verdict.non_compliant(
            "No CloudTrail trail. Fix: create a logging, multi-Region, KMS-encrypted trail "
            "with log file validation."
        )
    best = min(
        trails,
        key=lambda t: (
            len(t.misses(require_lambda_data_events)),
            t.home_region != region,
            t.name,
        ),
    )
    missing = best.misses(require_lambda_data_events)
    if not missing:
        return Verdict.compliant(f"Trail {_label(best, region)} meets every condition.")
    count = f"{len(trails)} trail{'' if len(trails) == 1 else 's'}"
    return Verdict.non_compliant(
        f"None of {count} meets every condition; the closest, {_label(best, region)}, "
        f"lacks: {', '.join(missing)}. Fix: update that trail, or create one."
    )


def trail_verdict(trail: dict[str, Any]) -> Verdict:
    """CloudTrail.4 (log file validation) and CloudTrail.2 (KMS encryption) for one trail."""
    missing: list[str] = []
    fixes: list[str] = []
    if not trail.get("LogFileValidationEnabled"):
        missing.append("log file validation (CloudTrail.4)")
        fixes.append("--enable-log-file-validation")
    if not trail.get("KmsKeyId"):
        missing.append("KMS encryption (CloudTrail.2)")
        fixes.append("--kms-key-id <key>")
    if missing:
        return Verdict.non_compliant(
            f"The trail lacks {' and '.join(missing)}. "
            f"Fix: aws cloudtrail update-trail {' '.join(fixes)}."
        )
    return Verdict.compliant("Log file validation is on and logs are KMS-encrypted.")


def account_id(event: dict[str, Any] | None, reads: Reads) -> str:
    """The event's account (accountId, else the invoking event's awsAccountId); STS in a scan."""
    if event:
        if event.get("accountId"):
            return str(event["accountId"])
        try:
            invoking = json.loads(str(event.get("invokingEvent") or "{}"))
        except json.JSONDecodeError:
            invoking = {}
        if isinstance(invoking, dict) and invoking.get("awsAccountId"):
            return str(invoking["awsAccountId"])
    return str(reads.call("sts", "get_caller_identity")["Account"])


class _HomeReads:
    """Reads pinned to other Regions (sharing the factory's clients), for shadow trails."""

    def __init__(self, reads: Reads) -> None:
        self.reads = reads
        self._by_region: dict[str, Reads] = {}

    def event_selectors(self, trail_arn: str, home_region: str, region: str) -> Any:
        if home_region == region:
            return self.reads.event_selectors(trail_arn)
        home = self._by_region.get(home_region)
        if home is None:
            # replace() keeps the session (an assumed role) and the shared client cache.
            home = Reads(dataclasses.replace(self.reads.factory, region=home_region))
            self._by_region[home_region] = home
        before = home.total_calls()
        found = home.event_selectors(trail_arn)
        if home.total_calls() > before:
            self.reads.calls["cloudtrail:GetEventSelectors"] += 1
        return found


def evaluate_trails(
    reads: Reads, region: str, account: str, require_lambda_data_events: bool
) -> list[Evaluation]:
    """The account evaluation first, then one per trail homed in `region`."""
    home_reads = _HomeReads(reads)
    found: list[TrailFacts] = []
    own: list[Evaluation] = []
    for trail in reads.trails():
        arn = str(trail["TrailARN"])
        home = str(trail.get("HomeRegion") or region)
        status = reads.trail_status(arn)
        selectors = home_reads.event_selectors(arn, home, region) if status is not None else None
        if status is None or selectors is None:
            continue  # deleted since the listing
        found.append(facts(trail, status, selectors, region))
        if home == region:
            own.append(evaluation(trail_verdict(trail), str(trail["Name"]), TRAIL))
    verdict = account_verdict(found, require_lambda_data_events, region)
    return [evaluation(verdict, account, ACCOUNT), *own]


class CloudtrailSecurityTrail(GuardRule):
    spec = RULES["cloudtrail-security-trail"]

    def evaluate_periodic(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        valid_rule_parameters: CloudtrailSecurityTrailParameters,
    ) -> list[Evaluation]:
        reads = client_factory.reads
        region = str(reads.factory.client("cloudtrail").meta.region_name)
        return evaluate_trails(
            reads,
            region,
            account_id(event, reads),
            valid_rule_parameters.require_lambda_data_events,
        )


lambda_handler = rule_handler(CloudtrailSecurityTrail)
