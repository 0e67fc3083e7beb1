"""The root user: access keys should not exist, and the root user should not be in daily use.

The credential report's ``<root_account>`` row is the evidence; GetAccountSummary's
AccountAccessKeysPresent says whether root keys exist when the report cannot be read.
"""

from __future__ import annotations

import datetime as dt

from ..model import Finding, FindingType, Observation, PrincipalType, Recommendation, Verdict
from ..policy import Policy
from ..sources import account, credential_report
from ..timeutil import iso_or_none, parse_time, whole_days
from .common import ACCESS_KEY_TRACKING_START, Usage, latest, trail_only_usage, usage_verdict
from .view import ACCOUNT_ROOT, AccountView

_DELETE_KEYS = Recommendation(
    "Delete the root user's access keys: sign in as the root user, open Security credentials, "
    "and delete them; use IAM roles or users instead.",
    (),
)
_STOP_USING = Recommendation(
    "Stop using the root user for daily work: use IAM Identity Center or IAM roles, keep root "
    "for the few tasks that need it, with MFA.",
    (),
)


def judge_root(view: AccountView, policy: Policy, as_of: dt.datetime) -> list[Finding]:
    arn = ACCOUNT_ROOT.format(account=view.account_id)
    row = view.report.root if view.report else None
    findings: list[Finding] = []

    def make(ftype, usage: Usage, evidence, rec, **extra) -> Finding:
        return Finding(
            type=ftype,
            account_id=view.account_id,
            principal_arn=arn,
            principal_name="<root_account>",
            principal_type=PrincipalType.ROOT,
            verdict=usage.verdict,
            reason=usage.reason,
            threshold_days=policy.threshold(ftype),
            last_used=iso_or_none(usage.last_used),
            days_unused=usage.days_unused,
            evidence=tuple(evidence),
            recommendation=rec,
            **extra,
        )

    if row is None:
        why = (
            "the credential report has no <root_account> row"
            if view.report is not None
            else f"the credential report was not read ({view.source_error(credential_report.NAME)})"
        )
        present = view.facts.root_access_keys_present
        summary_obs = Observation(
            "GetAccountSummary",
            "SummaryMap.AccountAccessKeysPresent",
            None if present is None else str(int(present)),
            view.read_at(account.NAME),
        )
        if present is True:
            findings.append(
                make(
                    FindingType.ROOT_ACCESS_KEY_PRESENT,
                    Usage(
                        Verdict.INSUFFICIENT_EVIDENCE,
                        True,
                        None,
                        None,
                        "the root user has access keys (GetAccountSummary); their use is not "
                        f"known: {why}",
                    ),
                    [summary_obs],
                    _DELETE_KEYS,
                )
            )
        elif present is None:
            findings.append(
                make(
                    FindingType.ROOT_ACCESS_KEY_PRESENT,
                    Usage(
                        Verdict.INSUFFICIENT_EVIDENCE,
                        True,
                        None,
                        None,
                        f"whether the root user has access keys is not known: {why}, and "
                        "GetAccountSummary was not read",
                    ),
                    [summary_obs],
                    _DELETE_KEYS,
                )
            )
        window = policy.threshold(FindingType.ROOT_RECENTLY_USED)
        last, trail_evidence = latest(_trail_root_uses(view, arn))
        usage = trail_only_usage(
            "the root user",
            last,
            as_of=as_of,
            threshold_days=window,
            why=f"the root user's last use is not known: {why}",
        )
        findings.append(
            make(
                FindingType.ROOT_RECENTLY_USED,
                Usage(usage.verdict, True, usage.last_used, usage.days_unused, usage.reason),
                [summary_obs, *trail_evidence],
                _STOP_USING,
            )
        )
        return findings

    # Root access keys: any active slot is a finding, whatever its use.
    threshold = policy.threshold(FindingType.ROOT_ACCESS_KEY_PRESENT)
    for slot in row.keys:
        if not slot.active:
            continue
        evidence = [
            view.report_obs(f"access_key_{slot.slot}_active", "true"),
            view.report_obs(f"access_key_{slot.slot}_last_rotated", slot.last_rotated.raw),
        ]
        last, kept = latest(
            [
                (
                    slot.last_used.time,
                    view.report_obs(f"access_key_{slot.slot}_last_used_date", slot.last_used.raw),
                )
            ]
        )
        evidence.extend(kept)
        usage = usage_verdict(
            noun="root access key",
            last_used=last,
            created=slot.last_rotated.time,
            as_of=as_of,
            threshold_days=threshold,
            tracking_start=ACCESS_KEY_TRACKING_START,
        )
        findings.append(
            make(
                FindingType.ROOT_ACCESS_KEY_PRESENT,
                Usage(
                    usage.verdict,
                    True,
                    usage.last_used,
                    usage.days_unused,
                    f"the root user has an active access key in slot {slot.slot}; {usage.reason}",
                ),
                evidence,
                _DELETE_KEYS,
                key_slot=slot.slot,
                created=iso_or_none(slot.last_rotated.time),
            )
        )

    # Root use: the password or any root key, within the window.
    window = policy.threshold(FindingType.ROOT_RECENTLY_USED)
    uses = [
        (
            row.password_last_used.time,
            view.report_obs("password_last_used", row.password_last_used.raw),
        )
    ]
    for slot in row.keys:
        uses.append(
            (
                slot.last_used.time,
                view.report_obs(f"access_key_{slot.slot}_last_used_date", slot.last_used.raw),
            )
        )
    uses.extend(_trail_root_uses(view, arn))
    last, evidence = latest(uses)
    if last is not None and as_of - last <= dt.timedelta(days=window):
        days = whole_days(as_of - last)
        findings.append(
            make(
                FindingType.ROOT_RECENTLY_USED,
                Usage(
                    Verdict.USED,
                    True,
                    last,
                    days,
                    f"the root user was used {days} days ago ({last.date().isoformat()}), within "
                    f"the {window}-day window",
                ),
                evidence,
                _STOP_USING,
            )
        )
    return findings


def _trail_root_uses(view: AccountView, arn: str) -> list:
    """The root user's last event and last console sign-in, by CloudTrail."""
    if view.trail is None:
        return []
    out = []
    activity = view.trail_principal(arn)
    if activity is not None:
        out.append(
            (
                parse_time(activity.last_seen),
                view.trail_obs(
                    "principal_activity.last_seen",
                    activity.last_seen,
                    note=f"{activity.count} event(s) by the root user",
                ),
            )
        )
    login = view.trail.console_login(arn)
    if login is not None:
        out.append(
            (
                parse_time(login.last_seen),
                view.trail_obs(
                    "console_logins.last_seen",
                    login.last_seen,
                    note=f"{login.count} successful console sign-in(s)",
                ),
            )
        )
    return out
