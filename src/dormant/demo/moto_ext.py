"""Make moto answer like AWS where dormant depends on the difference.

moto (5.2) differs from AWS in ways that would make an emulated scan lie (see
shared/MOTO-NOTES.md): the credential report has a fixed GeneratedTime of 2015-02-02, is rebuilt
at every read, has no ``<root_account>`` row and says ``not_supported`` where AWS says ``N/A``;
GetLoginProfile's CreateDate is the user's; ListServiceSpecificCredentials is missing. This
module patches moto's IAM response class, in-process, to answer as AWS documents:

- GenerateCredentialReport starts a report (STARTED), the first GetCredentialReport after it says
  ReportInProgress, later ones return the report as it was at generation, with its real
  GeneratedTime, and a new report is generated only when the last one is over 4 hours old.
- The report is built with AWS's special values and a ``<root_account>`` row (from
  :func:`set_root`).
- GetLoginProfile answers the login profile's own CreateDate (recorded when it is created, or
  set with :func:`set_login_profile_created`).
- ListServiceSpecificCredentials answers from :func:`add_service_specific_credential`.

Call :func:`install` once per process; it is idempotent. Works with ThreadedMotoServer (same
process) and the ``mock_aws`` decorator.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.iam import responses as iam_responses
from moto.iam.models import iam_backends

REPORT_MAX_AGE = dt.timedelta(hours=4)
_FMT = "%Y-%m-%dT%H:%M:%S+00:00"
_lock = threading.RLock()
_installed = False


class ReportInProgress(ServiceException):
    code = "ReportInProgress"

    def __init__(self) -> None:
        super().__init__("Report generation in progress")


class ReportNotPresent(ServiceException):
    code = "ReportNotPresent"

    def __init__(self) -> None:
        super().__init__("Credential report not present")


@dataclass
class RootState:
    created: dt.datetime
    password_last_used: dt.datetime | None = None
    mfa_active: bool = True
    keys: list[dict[str, Any]] = field(default_factory=list)
    """Each: ``active`` (bool), ``created`` (datetime), ``last_used`` (datetime or None),
    ``service``, ``region``."""


@dataclass
class _Report:
    content: str
    generated: dt.datetime
    polls_in_progress: int


@dataclass
class _AccountState:
    report: _Report | None = None
    root: RootState | None = None
    service_credentials: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    in_progress_polls: int = 1


_accounts: dict[str, _AccountState] = {}


def _state(account_id: str) -> _AccountState:
    with _lock:
        return _accounts.setdefault(account_id, _AccountState())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _fmt(value: dt.datetime | None) -> str:
    if value is None:
        return "N/A"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime(_FMT)


def backend(account_id: str):
    return iam_backends[account_id]["aws"]


# ------------------------------------------------------------------------- seeding API


def reset() -> None:
    with _lock:
        _accounts.clear()


def set_root(account_id: str, root: RootState) -> None:
    _state(account_id).root = root


def set_login_profile_created(account_id: str, user_name: str, when: dt.datetime) -> None:
    backend(account_id).get_user(user_name)._dormant_login_profile_created = when


def add_service_specific_credential(account_id: str, user_name: str, service: str) -> None:
    creds = _state(account_id).service_credentials.setdefault(user_name, [])
    creds.append(
        {
            "UserName": user_name,
            "Status": "Active",
            "ServiceUserName": f"{user_name}-at-{len(creds)}",
            "CreateDate": _now(),
            "ServiceSpecificCredentialId": f"ACCA{len(creds):016d}",
            "ServiceName": service,
        }
    )


def add_aws_managed_policy(account_id: str, name: str) -> str:
    """Make one AWS-managed policy (from moto's copy of AWS's data) exist in the account, so it
    can be attached, without loading all 1,500 of them (MOTO_IAM_LOAD_MANAGED_POLICIES). Like
    AWS, GetAccountAuthorizationDetails then lists it. Returns its ARN."""
    import json

    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy

    be = backend(account_id)
    data = json.loads(aws_managed_policies_data)[name]
    policy = AWSManagedPolicy.from_data(name, account_id, be.region_name, data)
    with _lock:
        if policy.arn not in be.managed_policies:
            be.managed_policies[policy.arn] = policy
            be.aws_managed_policies.append(policy)
    return policy.arn


def backdate_policy(account_id: str, arn: str, created: dt.datetime, versions: list) -> None:
    """Set a customer-managed policy's CreateDate and its versions' CreateDates (oldest
    first; the last one is the default version's), which no API sets."""
    policy = backend(account_id).managed_policies[arn]
    policy.create_date = created
    policy.update_date = versions[-1] if versions else created
    for version, when in zip(policy.versions, versions, strict=False):
        version.create_date = when


def generate_report_now(account_id: str, at: dt.datetime | None = None) -> None:
    """Generate the account's credential report now (as of ``at``), ready to read."""
    st = _state(account_id)
    st.report = _Report(build_report(account_id), at or _now(), 0)


def set_in_progress_polls(account_id: str, polls: int) -> None:
    """How many GetCredentialReport calls after a generation answer ReportInProgress."""
    _state(account_id).in_progress_polls = polls


# ---------------------------------------------------------------------- the report


def _key_cells(keys: list[dict[str, Any]]) -> list[str]:
    cells: list[str] = []
    for i in range(2):
        if i < len(keys):
            k = keys[i]
            used = k.get("last_used")
            cells += [
                "true" if k["active"] else "false",
                _fmt(k["created"]),
                _fmt(used),
                (k.get("region") or "N/A") if used else "N/A",
                (k.get("service") or "N/A") if used else "N/A",
            ]
        else:
            cells += ["false", "N/A", "N/A", "N/A", "N/A"]
    return cells


HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)


def build_report(account_id: str) -> str:
    """The credential report of the account's current state, with AWS's special values."""
    be = backend(account_id)
    st = _state(account_id)
    lines = [HEADER]
    root = st.root or RootState(created=dt.datetime(2019, 1, 1, tzinfo=dt.UTC))
    lines.append(
        ",".join(
            [
                "<root_account>",
                f"arn:aws:iam::{account_id}:root",
                _fmt(root.created),
                "not_supported",
                _fmt(root.password_last_used) if root.password_last_used else "no_information",
                "not_supported",
                "not_supported",
                "true" if root.mfa_active else "false",
                *_key_cells(root.keys),
                "false",
                "N/A",
                "false",
                "N/A",
            ]
        )
    )
    for user in be.users.values():
        has_password = bool(user.password)
        if has_password:
            pw_used = _fmt(user.password_last_used) if user.password_last_used else "no_information"
            pw_changed = _fmt(getattr(user, "_dormant_login_profile_created", user.create_date))
        else:
            pw_used, pw_changed = "N/A", "N/A"
        keys = []
        for k in sorted(user.access_keys, key=lambda k: k.create_date):
            lu = k.last_used
            keys.append(
                {
                    "active": k.status == "Active",
                    "created": k.create_date,
                    "last_used": getattr(lu, "timestamp", lu),
                    "service": getattr(lu, "service", None),
                    "region": getattr(lu, "region", None),
                }
            )
        certs = list(user.signing_certificates.values())[:2]
        cert_cells: list[str] = []
        for i in range(2):
            if i < len(certs):
                cert_cells += [
                    "true" if certs[i].status == "Active" else "false",
                    _fmt(getattr(certs[i], "upload_date", None) or user.create_date),
                ]
            else:
                cert_cells += ["false", "N/A"]
        lines.append(
            ",".join(
                [
                    user.name,
                    user.arn,
                    _fmt(user.create_date),
                    "true" if has_password else "false",
                    pw_used,
                    pw_changed,
                    "N/A",
                    "true" if user.mfa_devices else "false",
                    *_key_cells(keys),
                    *cert_cells,
                ]
            )
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------ the patches


def _generate_credential_report(self) -> ActionResult:
    st = _state(self.current_account)
    with _lock:
        if st.report is not None and _now() - st.report.generated < REPORT_MAX_AGE:
            return ActionResult({"State": "COMPLETE"})
        st.report = _Report(build_report(self.current_account), _now(), st.in_progress_polls)
    return ActionResult(
        {
            "State": "STARTED",
            "Description": "No report exists. Starting a new report generation task",
        }
    )


def _get_credential_report(self) -> ActionResult:
    st = _state(self.current_account)
    with _lock:
        report = st.report
        if report is None:
            raise ReportNotPresent()
        if report.polls_in_progress > 0:
            report.polls_in_progress -= 1
            raise ReportInProgress()
    return ActionResult(
        {
            "Content": report.content,
            "ReportFormat": "text/csv",
            "GeneratedTime": report.generated,
        }
    )


def _get_login_profile(self) -> ActionResult:
    user = self.backend.get_login_profile(self._get_param("UserName"))
    return ActionResult(
        {
            "LoginProfile": {
                "UserName": user.name,
                "CreateDate": getattr(user, "_dormant_login_profile_created", user.create_date),
                "PasswordResetRequired": bool(user.password_reset_required),
            }
        }
    )


def _create_login_profile(self) -> ActionResult:
    name = self._get_param("UserName")
    user = self.backend.create_login_profile(name, self._get_param("Password"))
    user.password_reset_required = bool(self._get_param("PasswordResetRequired"))
    user._dormant_login_profile_created = _now()
    return ActionResult(
        {
            "LoginProfile": {
                "UserName": user.name,
                "CreateDate": user._dormant_login_profile_created,
                "PasswordResetRequired": user.password_reset_required,
            }
        }
    )


def _list_service_specific_credentials(self) -> ActionResult:
    name = self._get_param("UserName")
    if name:
        self.backend.get_user(name)  # NoSuchEntity as AWS
    st = _state(self.current_account)
    creds = (
        st.service_credentials.get(name, [])
        if name
        else [c for cs in st.service_credentials.values() for c in cs]
    )
    service = self._get_param("ServiceName")
    if service:
        creds = [c for c in creds if c["ServiceName"] == service]
    return ActionResult({"ServiceSpecificCredentials": creds})


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        cls = iam_responses.IamResponse
        cls.generate_credential_report = _generate_credential_report
        cls.get_credential_report = _get_credential_report
        cls.get_login_profile = _get_login_profile
        cls.create_login_profile = _create_login_profile
        cls.list_service_specific_credentials = _list_service_specific_credentials
        _installed = True
