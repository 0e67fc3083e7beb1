"""Was a granted action used? Verdicts from Access Advisor evidence. Pure: no clock, no I/O.

Access Advisor sees services and *some* actions. This module says, for one action, what the
evidence supports, and never more:

- ``used``: the action (if tracked at action level) or, failing that, other evidence of it (for
  example CloudTrail, passed in as ``observed``) shows a use within the threshold.
- ``unused`` / ``never-used``: the action is tracked at action level and its last access is older
  than the threshold (or absent in the tracking period); or the whole service went unused for
  longer than the threshold, which covers every action of it that Access Advisor can see.
- ``insufficient-evidence``: everything else. In particular ``iam:PassRole`` (never tracked), S3
  object-level actions (data events, never in action-level data, and dormant does not assume the
  service-level date covers them), actions of a used service that the report does not track at
  action level, services missing from the report, thresholds longer than the tracking window,
  and action tracking that began after the threshold's cut-off.

Which actions are tracked comes from the report itself: a completed ``ACTION_LEVEL`` report
lists, for each service, every tracked action that the principal's policies grant, with no
``LastAccessedTime`` when it was not used (AWS: an expected action is missing "either because the
IAM identity does not have permissions for the action, or AWS does not yet track the action").
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from typing import TYPE_CHECKING, Any

from .catalog import ActionCatalog, load_catalog, split_action
from .evaluate import Decision, PolicySet, granted_actions

if TYPE_CHECKING:
    from ..sources.access_advisor import AccessAdvisorReport


class Verdict(StrEnum):
    """dormant's verdict on one granted permission."""

    USED = "used"
    """Used within the threshold."""
    UNUSED = "unused"
    """Last used before the threshold's cut-off."""
    NEVER_USED = "never-used"
    """Not used at all in the tracking period."""
    INSUFFICIENT = "insufficient-evidence"
    """The evidence cannot say; never removed."""

    @property
    def removable(self) -> bool:
        """True for ``unused`` and ``never-used``."""
        return self in (Verdict.UNUSED, Verdict.NEVER_USED)


class Level(StrEnum):
    """What the verdict rests on."""

    ACTION = "action"
    """Access Advisor's action-level data for this very action."""
    SERVICE = "service"
    """Access Advisor's service-level data for the action's service."""
    OBSERVED = "observed"
    """A use observed by another source (CloudTrail)."""
    NONE = "none"
    """Nothing: the verdict is insufficient-evidence."""


@dataclass(frozen=True)
class TrackingFacts:
    """What Access Advisor tracks, from ``dormant/data/access_advisor_tracking.json``."""

    never_tracked: frozenset[str]
    """Actions never tracked (lower case ``service:action``): ``iam:passrole``."""
    service_tracking_days: int
    """How far back service last-accessed data reaches: 400 days."""
    action_tracking_start: Mapping[str, dt.date] = field(hash=False)
    """Per service prefix (``*`` for the rest), the day action-level tracking began."""
    region_tracking_start: Mapping[str, dt.date] = field(hash=False)
    """Per Region, the day last-accessed tracking began there."""
    action_level_services: frozenset[str]
    """Service prefixes known to have action-level data (a partial list: see the data file)."""
    action_level_services_complete: bool
    """False: the list above is known to be partial."""
    retrieved: str
    """When the facts were read from the AWS IAM User Guide."""

    def action_tracking_began(self, prefix: str) -> dt.date:
        return self.action_tracking_start.get(prefix.lower()) or self.action_tracking_start["*"]


@functools.lru_cache(maxsize=1)
def load_tracking() -> TrackingFacts:
    """The tracking facts shipped with dormant."""
    text = resources.files("dormant").joinpath("data/access_advisor_tracking.json").read_text()
    return tracking_from_json(json.loads(text))


def tracking_from_json(data: Mapping[str, Any]) -> TrackingFacts:
    return TrackingFacts(
        never_tracked=frozenset(a.lower() for a in data["never_tracked_actions"]),
        service_tracking_days=int(data["service_tracking_days"]),
        action_tracking_start={
            k: dt.date.fromisoformat(v) for k, v in data["action_tracking_start"].items()
        },
        region_tracking_start={
            k: dt.date.fromisoformat(v) for k, v in data["region_tracking_start"].items()
        },
        action_level_services=frozenset(data["action_level_services"]),
        action_level_services_complete=bool(data["action_level_services_complete"]),
        retrieved=str(data["retrieved"]),
    )


@dataclass(frozen=True)
class UsageEvidence:
    """Last-use evidence for one principal (or policy), keyed case-insensitively."""

    services: Mapping[str, dt.datetime | None] = field(default_factory=dict, hash=False)
    """Per reported service prefix (lower case): its LastAuthenticated, or None (not used)."""
    actions: Mapping[str, dt.datetime | None] = field(default_factory=dict, hash=False)
    """Per tracked action (lower case ``service:action``): LastAccessedTime, or None."""
    observed: Mapping[str, dt.datetime] = field(default_factory=dict, hash=False)
    """Per action (lower case): the latest use another source observed (CloudTrail)."""
    complete: bool = True
    """False when the report behind this evidence did not complete: nothing can be unused."""

    @classmethod
    def from_report(cls, report: AccessAdvisorReport) -> UsageEvidence:
        """The evidence of a parsed Access Advisor report (empty if it did not complete)."""
        if not report.complete:
            return cls(complete=False)
        services: dict[str, dt.datetime | None] = {}
        actions: dict[str, dt.datetime | None] = {}
        for svc in report.services:
            services[svc.namespace.lower()] = svc.last_authenticated
            for act in svc.tracked_actions or ():
                actions[act.action.lower()] = act.last_accessed
        return cls(services=services, actions=actions)

    @classmethod
    def of(
        cls,
        services: Mapping[str, dt.datetime | None] | None = None,
        actions: Mapping[str, dt.datetime | None] | None = None,
        observed: Mapping[str, dt.datetime] | None = None,
    ) -> UsageEvidence:
        """Evidence from plain mappings (keys in any case)."""
        return cls(
            services={k.lower(): v for k, v in (services or {}).items()},
            actions={k.lower(): v for k, v in (actions or {}).items()},
            observed={k.lower(): v for k, v in (observed or {}).items()},
        )

    def with_observed(self, observed: Mapping[str, dt.datetime]) -> UsageEvidence:
        """This evidence plus uses observed elsewhere; the latest use of an action wins."""
        merged = dict(self.observed)
        for k, v in observed.items():
            key = k.lower()
            if key not in merged or v > merged[key]:
                merged[key] = v
        return UsageEvidence(self.services, self.actions, merged, self.complete)


@dataclass(frozen=True)
class PermissionVerdict:
    """The verdict on one granted action."""

    action: str
    """The action, ``service:Action``."""
    verdict: Verdict
    """used, unused, never-used or insufficient-evidence."""
    level: Level
    """What the verdict rests on."""
    last_used: dt.datetime | None
    """The last use the evidence shows at that level, if any."""
    reason: str
    """One sentence an auditor can check against the evidence."""


def judge_action(
    action: str,
    evidence: UsageEvidence,
    *,
    threshold: dt.timedelta,
    as_of: dt.datetime,
    catalog: ActionCatalog | None = None,
    tracking: TrackingFacts | None = None,
) -> PermissionVerdict:
    """The verdict on ``action`` at ``as_of`` with ``threshold`` (e.g. 90 days)."""
    catalog = catalog or load_catalog()
    tracking = tracking or load_tracking()
    key = action.lower()
    prefix, _ = split_action(action)
    cutoff = as_of - threshold
    days = threshold.days

    seen = evidence.observed.get(key)
    if seen is not None and seen >= cutoff:
        return PermissionVerdict(
            action, Verdict.USED, Level.OBSERVED, seen, f"used {_day(seen)} (observed)"
        )
    if not evidence.complete:
        return _insufficient(action, "no completed Access Advisor report")
    if key in tracking.never_tracked:
        return _insufficient(action, f"{action} is never tracked by Access Advisor")
    if catalog.is_s3_object_action(action):
        return _insufficient(action, "S3 object-level action (data event): not in Access Advisor")
    if threshold > dt.timedelta(days=tracking.service_tracking_days):
        return _insufficient(
            action, f"threshold {days} days exceeds the {tracking.service_tracking_days}-day window"
        )

    if key in evidence.actions:
        last = evidence.actions[key]
        if last is not None and last >= cutoff:
            return PermissionVerdict(
                action, Verdict.USED, Level.ACTION, last, f"action last accessed {_day(last)}"
            )
        began = tracking.action_tracking_began(prefix)
        if cutoff.date() < began:
            return _insufficient(
                action, f"action tracking for {prefix} began {began.isoformat()}, after cut-off"
            )
        if last is None:
            return PermissionVerdict(
                action,
                Verdict.NEVER_USED,
                Level.ACTION,
                None,
                "tracked action not accessed in the tracking period",
            )
        return PermissionVerdict(
            action,
            Verdict.UNUSED,
            Level.ACTION,
            last,
            f"action last accessed {_day(last)}, more than {days} days before {_day(as_of)}",
        )

    if prefix in evidence.services:
        last = evidence.services[prefix]
        if last is not None and last >= cutoff:
            return _insufficient(
                action,
                f"service {prefix} used {_day(last)}; this action has no action-level data",
                last,
            )
        if last is None:
            return PermissionVerdict(
                action,
                Verdict.NEVER_USED,
                Level.SERVICE,
                None,
                f"service {prefix} not accessed in the tracking period",
            )
        return PermissionVerdict(
            action,
            Verdict.UNUSED,
            Level.SERVICE,
            last,
            f"service {prefix} last accessed {_day(last)}, more than {days} days before "
            f"{_day(as_of)}",
        )
    return _insufficient(action, f"service {prefix} is not in the Access Advisor report")


@dataclass(frozen=True)
class GrantedPermission:
    """One action a principal's policies grant, with the statements granting it and the
    verdict the evidence supports."""

    action: str
    """The action, in the catalog's spelling."""
    decision: Decision
    """Which policies and statements grant it (and any partial denials)."""
    verdict: PermissionVerdict
    """used, unused, never-used or insufficient-evidence, with the reason."""


def judge_granted(
    policies: PolicySet,
    evidence: UsageEvidence,
    *,
    threshold: dt.timedelta,
    as_of: dt.datetime,
    catalog: ActionCatalog | None = None,
    tracking: TrackingFacts | None = None,
) -> dict[str, GrantedPermission]:
    """Every action ``policies`` grant (wildcards expanded with the catalog), with its
    verdict: the judge's entry point for UnusedPermission at action level."""
    catalog = catalog or load_catalog()
    tracking = tracking or load_tracking()
    return {
        action: GrantedPermission(
            action,
            decision,
            judge_action(
                action,
                evidence,
                threshold=threshold,
                as_of=as_of,
                catalog=catalog,
                tracking=tracking,
            ),
        )
        for action, decision in granted_actions(policies, catalog).items()
    }


def _insufficient(action: str, reason: str, last: dt.datetime | None = None) -> PermissionVerdict:
    return PermissionVerdict(action, Verdict.INSUFFICIENT, Level.NONE, last, reason)


def _day(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).date().isoformat()


__all__ = [
    "GrantedPermission",
    "Level",
    "PermissionVerdict",
    "TrackingFacts",
    "UsageEvidence",
    "Verdict",
    "judge_action",
    "judge_granted",
    "load_tracking",
    "tracking_from_json",
]
