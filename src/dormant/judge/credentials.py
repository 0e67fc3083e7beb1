"""IAM users' credentials: console passwords, access keys, key rotation, inactive users."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..model import Finding, FindingType, Observation, PrincipalType, Recommendation, Verdict
from ..policy import Policy
from ..sources import access_keys, credential_report, other_credentials
from ..sources import users as users_source
from ..timeutil import iso, iso_or_none, parse_time, whole_days
from .common import (
    ACCESS_KEY_TRACKING_START,
    PASSWORD_TRACKING_START,
    Usage,
    latest,
    q,
    trail_only_usage,
    usage_verdict,
)
from .view import AccountView, UserFacts


@dataclass
class CredentialState:
    """One credential of a user, judged."""

    kind: str
    """``password`` or ``access_key``."""
    usage: Usage | None
    """None when the credential is absent or inactive."""
    present: bool | None
    """True when it can be used to sign in; False when absent or inactive; None unknown."""
    created: dt.datetime | None = None
    evidence: list[Observation] = field(default_factory=list)
    finding: Finding | None = None
    last_used: dt.datetime | None = None
    """For an inactive key: when it was last used, which still dates the user's activity."""


def _finding(
    view: AccountView,
    user: UserFacts,
    ftype: FindingType,
    usage: Usage,
    policy: Policy,
    evidence: list[Observation],
    created: dt.datetime | None,
    rec: Recommendation,
    **extra,
) -> Finding:
    return Finding(
        type=ftype,
        account_id=view.account_id,
        principal_arn=user.arn,
        principal_name=user.name,
        principal_type=PrincipalType.USER,
        verdict=usage.verdict,
        reason=usage.reason,
        threshold_days=policy.threshold(ftype),
        last_used=iso_or_none(usage.last_used),
        created=iso_or_none(created),
        days_unused=usage.days_unused,
        evidence=tuple(evidence),
        recommendation=rec,
        **extra,
    )


# ------------------------------------------------------------------------------- password


def judge_password(
    view: AccountView, user: UserFacts, policy: Policy, as_of: dt.datetime
) -> CredentialState:
    ftype = FindingType.UNUSED_PASSWORD
    evidence: list[Observation] = []
    record = view.users.users.get(user.arn)
    row = view.report_row_for(user)
    exists: bool | None = None
    created: dt.datetime | None = None
    unknown_why = ""
    lp = record.login_profile if record else None
    if lp is not None and lp.exists is not None:
        exists = lp.exists
        created = lp.created
        evidence.append(
            view.obs(
                users_source.NAME,
                "GetLoginProfile",
                "LoginProfile.CreateDate" if exists else "Error.Code",
                lp.created if exists else "NoSuchEntity",
            )
        )
    else:
        unknown_why = (
            f"GetLoginProfile failed ({lp.error})"
            if lp is not None and lp.error
            else f"the users source was not read ({view.source_error(users_source.NAME)})"
        )
        if lp is not None and lp.error:
            err = next(
                (e for e in view.sources[users_source.NAME].errors if e.target == user.name),
                None,
            )
            if err:
                unknown_why = f"GetLoginProfile failed ({err.message})"
        if row is not None and row.password_enabled is not None:
            exists = row.password_enabled
            evidence.append(view.report_obs("password_enabled", str(row.password_enabled).lower()))
            if exists and row.password_last_changed and row.password_last_changed.time:
                # The password cannot be older than its last change is recent: counting from
                # it can only make the password look younger, never wrongly unused.
                created = row.password_last_changed.time
                evidence.append(
                    view.report_obs(
                        "password_last_changed",
                        row.password_last_changed.raw,
                        note="used as the password's creation date (GetLoginProfile not read)",
                    )
                )
    if exists is False:
        return CredentialState("password", None, False, None, evidence)

    uses: list[tuple[dt.datetime | None, Observation]] = []
    if record is not None:
        uses.append(
            (
                record.password_last_used,
                view.obs(
                    users_source.NAME, "ListUsers", "PasswordLastUsed", record.password_last_used
                ),
            )
        )
    if row is not None:
        uses.append(
            (
                row.password_last_used.time,
                view.report_obs("password_last_used", row.password_last_used.raw),
            )
        )
    iam_uses = list(uses)
    login = view.trail.console_login(user.arn) if view.trail else None
    if login is not None:
        uses.append(
            (
                parse_time(login.last_seen),
                view.trail_obs(
                    "console_logins.last_seen",
                    login.last_seen,
                    note=f"{login.count} successful console sign-in(s)",
                ),
            )
        )
    last, kept = latest(uses, not_before=created)
    evidence.extend(kept)
    rec = Recommendation(
        "Delete the console password (the login profile). This cannot be undone: the user "
        "would need a new password to sign in again.",
        (f"aws iam delete-login-profile --user-name {q(user.name)}",),
    )
    if exists is None:
        usage = Usage(
            Verdict.INSUFFICIENT_EVIDENCE,
            True,
            last,
            None if last is None else whole_days(as_of - last),
            f"whether the user has a console password is not known: {unknown_why}",
        )
        return CredentialState(
            "password",
            usage,
            None,
            None,
            evidence,
            _finding(view, user, ftype, usage, policy, evidence, None, rec),
        )
    if not iam_uses:
        usage = trail_only_usage(
            "console password",
            last,
            as_of=as_of,
            threshold_days=policy.threshold(ftype),
            why="the user has a console password but no source of its last use was read "
            f"({view.source_error(users_source.NAME)})",
        )
    else:
        usage = usage_verdict(
            noun="console password",
            last_used=last,
            created=created,
            as_of=as_of,
            threshold_days=policy.threshold(ftype),
            tracking_start=PASSWORD_TRACKING_START,
        )
    finding = None
    if usage.is_finding:
        finding = _finding(view, user, ftype, usage, policy, evidence, created, rec)
    return CredentialState("password", usage, True, created, evidence, finding)


# ----------------------------------------------------------------------------- access keys


def _match_slot(
    row: credential_report.ReportRow | None, key: access_keys.AccessKeyRecord
) -> credential_report.KeySlot | None:
    """The report slot of a key: the one whose ``last_rotated`` is the key's creation time."""
    if row is None or key.created is None:
        return None
    hits = [
        s
        for s in row.keys
        if s.last_rotated.time is not None
        and abs((s.last_rotated.time - key.created).total_seconds()) <= 1
    ]
    return hits[0] if len(hits) == 1 else None


def _key_recommendation(user: UserFacts, key_id: str | None, slot: int | None) -> Recommendation:
    if key_id:
        return Recommendation(
            "Deactivate the access key now and delete it after a waiting period if nothing "
            "breaks (reactivate it with --status Active if something does).",
            (
                f"aws iam update-access-key --user-name {q(user.name)} --access-key-id "
                f"{q(key_id)} --status Inactive",
                f"aws iam delete-access-key --user-name {q(user.name)} --access-key-id {q(key_id)}",
            ),
        )
    return Recommendation(
        f"Find the key in slot {slot} with list-access-keys, then deactivate it and later "
        "delete it.",
        (f"aws iam list-access-keys --user-name {q(user.name)}",),
    )


def _rotation_finding(view, user, policy, as_of, key_id, slot, created, usage, evidence):
    ftype = FindingType.UNROTATED_ACCESS_KEY
    if created is None:
        return None
    age = as_of - created
    threshold = policy.threshold(ftype)
    if age <= dt.timedelta(days=threshold):
        return None
    days = whole_days(age)
    state = usage.verdict if usage else Verdict.INSUFFICIENT_EVIDENCE
    rec = Recommendation(
        "Rotate the key: create a new key, move its users to it, then deactivate and delete "
        "this one.",
        (
            f"aws iam create-access-key --user-name {q(user.name)}",
            *(
                (
                    f"aws iam update-access-key --user-name {q(user.name)} --access-key-id "
                    f"{q(key_id)} --status Inactive",
                )
                if key_id
                else ()
            ),
        ),
    )
    return Finding(
        type=ftype,
        account_id=view.account_id,
        principal_arn=user.arn,
        principal_name=user.name,
        principal_type=PrincipalType.USER,
        verdict=state,
        reason=f"active key created {days} days ago ({created.date().isoformat()}), older than "
        f"the {threshold}-day rotation threshold; its use: {state}",
        threshold_days=threshold,
        last_used=iso_or_none(usage.last_used if usage else None),
        created=iso(created),
        days_unused=usage.days_unused if usage else None,
        access_key_id=key_id,
        key_slot=slot,
        evidence=tuple(evidence),
        recommendation=rec,
        details={"age_days": days},
    )


def judge_keys(
    view: AccountView, user: UserFacts, policy: Policy, as_of: dt.datetime
) -> tuple[list[CredentialState], list[Finding]]:
    """Every key of the user: states for the inactive-user rule, and findings."""
    ftype = FindingType.UNUSED_ACCESS_KEY
    threshold = policy.threshold(ftype)
    row = view.report_row_for(user)
    states: list[CredentialState] = []
    findings: list[Finding] = []

    if user.name in view.keys.listed_users:
        for key in view.keys.for_user(user.name):
            evidence = [
                view.obs(access_keys.NAME, "ListAccessKeys", "Status", key.status),
                view.obs(access_keys.NAME, "ListAccessKeys", "CreateDate", key.created),
            ]
            if key.status != "Active":
                state = CredentialState("access_key", None, False, key.created, evidence)
                if key.last_used is not None and key.last_used.last_used is not None:
                    # Not a credential any more, but its last use is the user's activity.
                    state.last_used = key.last_used.last_used
                states.append(state)
                continue
            uses: list[tuple[dt.datetime | None, Observation]] = []
            if key.last_used is not None:
                uses.append(
                    (
                        key.last_used.last_used,
                        view.obs(
                            access_keys.NAME,
                            "GetAccessKeyLastUsed",
                            "AccessKeyLastUsed.LastUsedDate",
                            key.last_used.last_used,
                            note=None
                            if key.last_used.last_used
                            else f"absent (ServiceName {key.last_used.service or 'N/A'})",
                        ),
                    )
                )
            else:
                evidence.append(
                    view.obs(access_keys.NAME, "GetAccessKeyLastUsed", "Error", key.last_used_error)
                )
            slot = _match_slot(row, key)
            if slot is not None:
                uses.append(
                    (
                        slot.last_used.time,
                        view.report_obs(
                            f"access_key_{slot.slot}_last_used_date",
                            slot.last_used.raw,
                            note=f"slot {slot.slot} matched by its last_rotated time",
                        ),
                    )
                )
            iam_uses = list(uses)
            uses.extend(_trail_key_uses(view, key.access_key_id))
            last, kept = latest(uses, not_before=key.created)
            evidence.extend(kept)
            if not iam_uses:
                usage = trail_only_usage(
                    "access key",
                    last,
                    as_of=as_of,
                    threshold_days=threshold,
                    why=f"the key's last use could not be read ({key.last_used_error}) and no "
                    "credential report row covers it",
                )
            else:
                usage = usage_verdict(
                    noun="access key",
                    last_used=last,
                    created=key.created,
                    as_of=as_of,
                    threshold_days=threshold,
                    tracking_start=ACCESS_KEY_TRACKING_START,
                )
            state = CredentialState("access_key", usage, True, key.created, evidence)
            if usage.is_finding:
                state.finding = _finding(
                    view,
                    user,
                    ftype,
                    usage,
                    policy,
                    evidence,
                    key.created,
                    _key_recommendation(user, key.access_key_id, None),
                    access_key_id=key.access_key_id,
                )
                findings.append(state.finding)
            rot = _rotation_finding(
                view, user, policy, as_of, key.access_key_id, None, key.created, usage, evidence
            )
            if rot:
                findings.append(rot)
            states.append(state)
        return states, findings

    # ListAccessKeys did not answer for this user: the report's slots are all we have.
    why = view.keys.errors.get(user.name) or view.source_error(access_keys.NAME)
    if row is None:
        usage = Usage(
            Verdict.INSUFFICIENT_EVIDENCE,
            True,
            None,
            None,
            f"the user's access keys could not be listed ({why}) and no credential report row "
            "covers the user",
        )
        evidence = [Observation("ListAccessKeys", "Error", why, view.read_at(access_keys.NAME))]
        f = _finding(
            view,
            user,
            ftype,
            usage,
            policy,
            evidence,
            None,
            Recommendation(
                "Grant iam:ListAccessKeys and iam:GetAccessKeyLastUsed to the scanner "
                "and scan again.",
                (f"aws iam list-access-keys --user-name {q(user.name)}",),
            ),
        )
        states.append(CredentialState("access_key", usage, None, None, evidence, f))
        findings.append(f)
        return states, findings
    for slot in row.keys:
        evidence = [
            view.report_obs(f"access_key_{slot.slot}_active", "true" if slot.active else "false")
        ]
        if not slot.active:
            continue
        evidence.append(
            view.report_obs(f"access_key_{slot.slot}_last_rotated", slot.last_rotated.raw)
        )
        created = slot.last_rotated.time
        last, kept = latest(
            [
                (
                    slot.last_used.time,
                    view.report_obs(f"access_key_{slot.slot}_last_used_date", slot.last_used.raw),
                )
            ],
            not_before=created,
        )
        evidence.extend(kept)
        usage = usage_verdict(
            noun="access key",
            last_used=last,
            created=created,
            as_of=as_of,
            threshold_days=threshold,
            tracking_start=ACCESS_KEY_TRACKING_START,
        )
        state = CredentialState("access_key", usage, True, created, evidence)
        if usage.is_finding:
            state.finding = _finding(
                view,
                user,
                ftype,
                usage,
                policy,
                evidence,
                created,
                _key_recommendation(user, None, slot.slot),
                key_slot=slot.slot,
            )
            findings.append(state.finding)
        rot = _rotation_finding(
            view, user, policy, as_of, None, slot.slot, created, usage, evidence
        )
        if rot:
            findings.append(rot)
        states.append(state)
    return states, findings


# --------------------------------------------------------------------------- inactive user


def judge_inactive_user(
    view: AccountView,
    user: UserFacts,
    policy: Policy,
    as_of: dt.datetime,
    password: CredentialState,
    keys: list[CredentialState],
) -> Finding | None:
    """A user whose every credential is unused or absent, older than the threshold."""
    ftype = FindingType.INACTIVE_USER
    threshold = policy.threshold(ftype)
    creds = [c for c in [password, *keys] if c.present is not False]
    for c in creds:
        if c.usage is not None and not c.usage.is_finding:
            return None  # in use, or too young to judge: the user is active
    if user.created is not None and as_of - user.created <= dt.timedelta(days=threshold):
        return None
    evidence: list[Observation] = []
    for c in creds:
        evidence.extend(c.evidence)
    gaps: list[str] = []
    for c in creds:
        if (
            c.present is None
            or c.usage is None
            or (c.usage.verdict == Verdict.INSUFFICIENT_EVIDENCE)
        ):
            gaps.append(f"the {c.kind.replace('_', ' ')}'s use is not known")
    other = view.other
    if other is None or user.name not in other.known_users:
        gaps.append(
            "SSH keys, service-specific credentials and signing certificates were not "
            "read (their use is not tracked by IAM)"
        )
    else:
        for cred in other.active.get(user.name, ()):
            gaps.append(
                f"an active {cred.kind.replace('_', ' ')} ({cred.credential_id}), "
                "whose use IAM does not track"
            )
        evidence.append(
            Observation(
                "ListSSHPublicKeys+ListServiceSpecificCredentials+ListSigningCertificates",
                "active",
                str(len(other.active.get(user.name, ()))),
                view.read_at(other_credentials.NAME),
            )
        )
    lasts = [c.usage.last_used for c in creds if c.usage and c.usage.last_used]
    lasts += [c.last_used for c in [password, *keys] if c.last_used]
    record = view.users.users.get(user.arn)
    if record and record.password_last_used:
        lasts.append(record.password_last_used)  # a since-deleted password still counts
    activity = view.trail_principal(user.arn) if view.trail else None
    if activity is not None:
        # Any event, a denied one too, proves someone holds working credentials of the user.
        lasts.append(parse_time(activity.last_seen))
        evidence.append(
            view.trail_obs(
                "principal_activity.last_seen",
                activity.last_seen,
                note=f"{activity.count} event(s)",
            )
        )
    last = max(lasts) if lasts else None
    rec = Recommendation(
        "Remove the user's remaining credentials, then delete the user (or keep it with no "
        "credentials if something refers to it).",
        (
            f"aws iam list-access-keys --user-name {q(user.name)}",
            f"aws iam delete-user --user-name {q(user.name)}",
        ),
    )
    kinds = ", ".join(sorted({c.kind.replace("_", " ") for c in creds})) or "no credentials"
    if last is not None and as_of - last <= dt.timedelta(days=threshold):
        return None  # something of the user's was used within the threshold: active
    if gaps:
        usage = Usage(
            Verdict.INSUFFICIENT_EVIDENCE,
            True,
            last,
            whole_days(as_of - last) if last else None,
            "every tracked credential is unused or absent, but " + "; ".join(gaps),
        )
    else:
        usage = usage_verdict(
            noun="user",
            last_used=last,
            created=user.created,
            as_of=as_of,
            threshold_days=threshold,
            tracking_start=PASSWORD_TRACKING_START,
        )
        if not usage.is_finding:
            return None
        usage = Usage(
            usage.verdict,
            True,
            usage.last_used,
            usage.days_unused,
            f"every credential is unused or absent ({kinds}); {usage.reason}",
        )
    return _finding(view, user, ftype, usage, policy, evidence, user.created, rec)


def judge_users(
    view: AccountView, policy: Policy, as_of: dt.datetime
) -> tuple[list[Finding], dict[str, int]]:
    findings: list[Finding] = []
    counts = {"users": 0, "passwords": 0, "access_keys": 0}
    for user in view.user_facts.values():
        counts["users"] += 1
        password = judge_password(view, user, policy, as_of)
        if password.present is not False:
            counts["passwords"] += 1
        if password.finding:
            findings.append(password.finding)
        keys, key_findings = judge_keys(view, user, policy, as_of)
        counts["access_keys"] += sum(1 for k in keys if k.present)
        findings.extend(key_findings)
        inactive = judge_inactive_user(view, user, policy, as_of, password, keys)
        if inactive:
            findings.append(inactive)
    return findings, counts


def _trail_key_uses(view: AccountView, key_id: str) -> list:
    use = view.trail.access_key(key_id) if view.trail else None
    if use is None:
        return []
    return [
        (
            parse_time(use.last_seen),
            view.trail_obs(
                "access_keys.last_seen",
                use.last_seen,
                note=f"{use.count} event(s) signed with the key",
            ),
        )
    ]
