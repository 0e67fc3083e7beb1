"""The AWS calls remediation makes: each one's exact parameters, how to tell whether its effect
is in place, what to save before it, and the calls that undo it.

A :class:`Call` is one API operation with its parameters, exactly as boto3 sends them (JSON
documents as JSON text). Every operation dormant may call is registered here with:

- ``before``: what to read and keep, just before the call, to be able to undo it (an inline
  policy's old text, a tag's old value, the default version of a managed policy, the whole
  role before DeleteRole);
- ``check``: whether the call's effect is in place now (the journal's question after a crash,
  and rollback's question before it undoes anything: "is the state still what apply left?");
- ``undo``: the calls that restore the state ``before`` described, or :class:`Irreversible`;
- ``tolerated``: error codes that mean the effect may already be there (``NoSuchEntity`` for a
  delete), which are then confirmed with ``check`` instead of failing the step.

Parameters may hold the placeholders ``{applied_at}`` (the time the step started, ISO-8601 UTC)
and ``{applied_day}`` (``YYYYMMDD``), resolved when the step starts and journaled resolved.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions
from botocore import xform_name

PLACEHOLDERS = ("{applied_at}", "{applied_day}")


class Irreversible(Exception):
    """The call cannot be undone (the secret, or the password, is gone)."""


# ------------------------------------------------------------------------------------ calls


@dataclass(frozen=True)
class Call:
    """One AWS API call: ``operation`` (as the API names it) with its ``params``."""

    operation: str
    params: Mapping[str, Any] = field(hash=False)
    service: str = "iam"

    @property
    def action(self) -> str:
        """The IAM action that authorizes it, ``iam:UpdateAccessKey``."""
        return f"{self.service}:{self.operation}"

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "operation": self.operation, "params": dict(self.params)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Call:
        return cls(
            operation=str(d["operation"]),
            params=dict(d.get("params") or {}),
            service=str(d.get("service") or "iam"),
        )

    def resolved(self, values: Mapping[str, str]) -> Call:
        """This call with its placeholders replaced."""

        def sub(value: Any) -> Any:
            if isinstance(value, str):
                for key, text in values.items():
                    value = value.replace(key, text)
                return value
            if isinstance(value, list):
                return [sub(v) for v in value]
            if isinstance(value, dict):
                return {k: sub(v) for k, v in value.items()}
            return value

        return Call(self.operation, sub(dict(self.params)), self.service)

    def text(self, document_chars: int = 0) -> str:
        """``iam:UpdateAccessKey UserName=alice AccessKeyId=AKIA... Status=Inactive``.

        JSON documents are shown in full when ``document_chars`` is 0, else cut to that many
        characters (the plan file always holds them whole)."""
        parts = [self.action]
        for key, value in self.params.items():
            if isinstance(value, str):
                shown = json.dumps(value) if (" " in value or not value) else value
            else:
                shown = json.dumps(value, separators=(",", ":"), sort_keys=True)
            if document_chars and len(shown) > document_chars:
                shown = shown[: document_chars - 1] + "…"
            parts.append(f"{key}={shown}")
        return " ".join(parts)


def document_text(document: Any) -> str:
    """A policy document as the JSON text a call sends (compact, keys in their order)."""
    if isinstance(document, str):
        return document
    return json.dumps(document, separators=(",", ":"))


def canonical(document: Any) -> str | None:
    """A policy document in one spelling, to compare two: parsed (URL-decoded if need be) and
    dumped with sorted keys. None stays None."""
    if document is None:
        return None
    if isinstance(document, str):
        text = document
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            document = json.loads(urllib.parse.unquote(text))
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


# ------------------------------------------------------------------------------------ reads


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "ClientError")
    return type(exc).__name__


def _missing(exc: BaseException) -> bool:
    return error_code(exc) in ("NoSuchEntity", "NoSuchEntityException")


class Reader:
    """The reads remediation makes through one IAM client (read-only; never changes a thing)."""

    def __init__(self, client: Any, account_id: str = "", partition: str = "aws") -> None:
        self.client = client
        self.account_id = account_id
        self.partition = partition

    def policy_arn(self, path: str, name: str) -> str:
        """The ARN CreatePolicy gives a customer-managed policy of this account."""
        return f"arn:{self.partition}:iam::{self.account_id}:policy{path or '/'}{name}"

    def call(self, call: Call) -> dict[str, Any]:
        """Make ``call`` (a write): boto3's method of the same name."""
        method = getattr(self.client, xform_name(call.operation))
        answer = method(**call.params)
        return {k: v for k, v in answer.items() if k != "ResponseMetadata"}

    def _pages(self, operation: str, key: str, **params: Any) -> list[Any]:
        out: list[Any] = []
        for page in self.client.get_paginator(operation).paginate(**params):
            out.extend(page.get(key) or [])
        return out

    def user(self, name: str) -> dict[str, Any] | None:
        try:
            return self.client.get_user(UserName=name)["User"]
        except botocore.exceptions.ClientError as exc:
            if _missing(exc):
                return None
            raise

    def user_tags(self, name: str) -> dict[str, str] | None:
        user = self.user(name)
        if user is None:
            return None
        return {t["Key"]: t.get("Value", "") for t in user.get("Tags") or []}

    def role(self, name: str) -> dict[str, Any] | None:
        try:
            return self.client.get_role(RoleName=name)["Role"]
        except botocore.exceptions.ClientError as exc:
            if _missing(exc):
                return None
            raise

    def role_tags(self, name: str) -> dict[str, str] | None:
        role = self.role(name)
        if role is None:
            return None
        return {t["Key"]: t.get("Value", "") for t in role.get("Tags") or []}

    def access_keys(self, user: str) -> dict[str, dict[str, Any]] | None:
        """The user's keys by id (None: no such user)."""
        try:
            keys = self._pages("list_access_keys", "AccessKeyMetadata", UserName=user)
        except botocore.exceptions.ClientError as exc:
            if _missing(exc):
                return None
            raise
        return {k["AccessKeyId"]: k for k in keys}

    def key_last_used(self, key_id: str) -> Any:
        """GetAccessKeyLastUsed's LastUsedDate (None: never used)."""
        answer = self.client.get_access_key_last_used(AccessKeyId=key_id)
        return (answer.get("AccessKeyLastUsed") or {}).get("LastUsedDate")

    def login_profile(self, user: str) -> bool:
        try:
            self.client.get_login_profile(UserName=user)
            return True
        except botocore.exceptions.ClientError as exc:
            if _missing(exc):
                return False
            raise

    def inline_policy(self, kind: str, owner: str, name: str) -> str | None:
        """The canonical text of an inline policy of a role or user (None: absent)."""
        try:
            if kind == "role":
                answer = self.client.get_role_policy(RoleName=owner, PolicyName=name)
            else:
                answer = self.client.get_user_policy(UserName=owner, PolicyName=name)
        except botocore.exceptions.ClientError as exc:
            if _missing(exc):
                return None
            raise
        return canonical(answer["PolicyDocument"])

    def inline_names(self, kind: str, owner: str) -> list[str] | None:
        try:
            if kind == "role":
                return self._pages("list_role_policies", "PolicyNames", RoleName=owner)
            return self._pages("list_user_policies", "PolicyNames", UserName=owner)
        except botocore.exceptions.ClientError as exc:
            if _missing(exc):
                return None
            raise

    def attached(self, kind: str, owner: str) -> set[str] | None:
        """ARNs of the managed policies attached to a role or user (None: no such principal)."""
        try:
            if kind == "role":
                items = self._pages(
                    "list_attached_role_policies", "AttachedPolicies", RoleName=owner
                )
            else:
                items = self._pages(
                    "list_attached_user_policies", "AttachedPolicies", UserName=owner
                )
        except botocore.exceptions.ClientError as exc:
            if _missing(exc):
                return None
            raise
        return {p["PolicyArn"] for p in items}

    def instance_profiles(self, role: str) -> list[str] | None:
        try:
            items = self._pages(
                "list_instance_profiles_for_role", "InstanceProfiles", RoleName=role
            )
        except botocore.exceptions.ClientError as exc:
            if _missing(exc):
                return None
            raise
        return sorted(p["InstanceProfileName"] for p in items)

    def policy(self, arn: str) -> dict[str, Any] | None:
        try:
            return self.client.get_policy(PolicyArn=arn)["Policy"]
        except botocore.exceptions.ClientError as exc:
            if _missing(exc):
                return None
            raise

    def policy_versions(self, arn: str) -> list[dict[str, Any]] | None:
        """Every version of a managed policy, oldest first, each with its canonical
        ``Document`` (None: no such policy)."""
        try:
            versions = self._pages("list_policy_versions", "Versions", PolicyArn=arn)
        except botocore.exceptions.ClientError as exc:
            if _missing(exc):
                return None
            raise
        out = []
        for v in versions:
            # AWS's ListPolicyVersions has no documents (only GetPolicyVersion and
            # GetAccountAuthorizationDetails do); moto's has: ask as AWS needs asking.
            doc = self.client.get_policy_version(PolicyArn=arn, VersionId=v["VersionId"])[
                "PolicyVersion"
            ]["Document"]
            out.append(
                {
                    "VersionId": v["VersionId"],
                    "IsDefaultVersion": bool(v.get("IsDefaultVersion")),
                    "CreateDate": v.get("CreateDate"),
                    "Document": canonical(doc),
                }
            )
        out.sort(key=lambda v: (str(v.get("CreateDate") or ""), _version_number(v["VersionId"])))
        for v in out:
            v.pop("CreateDate", None)
        return out

    def role_backup(self, name: str) -> dict[str, Any] | None:
        """Everything needed to recreate a role as it is: its configuration (path, trust policy,
        description, maximum session duration, permissions boundary, tags), its inline policies,
        attached managed policies and instance profiles. None: no such role."""
        role = self.role(name)
        if role is None:
            return None
        names = self.inline_names("role", name) or []
        return {
            "create_role": create_role_params(role),
            "role_id": role.get("RoleId"),
            "arn": role.get("Arn"),
            "create_date": str(role.get("CreateDate") or ""),
            "inline_policies": {n: self.inline_policy("role", name, n) for n in sorted(names)},
            "attached_policies": sorted(self.attached("role", name) or ()),
            "instance_profiles": self.instance_profiles(name) or [],
        }


def _version_number(version_id: str) -> int:
    digits = "".join(ch for ch in version_id[1:] if ch.isdigit())
    return int(digits) if digits else 0


def create_role_params(role: Mapping[str, Any]) -> dict[str, Any]:
    """CreateRole's parameters that recreate ``role`` (a GetRole answer)."""
    params: dict[str, Any] = {
        "Path": role.get("Path") or "/",
        "RoleName": role["RoleName"],
        "AssumeRolePolicyDocument": document_text(role.get("AssumeRolePolicyDocument") or {}),
    }
    if role.get("Description"):
        params["Description"] = role["Description"]
    if role.get("MaxSessionDuration"):
        params["MaxSessionDuration"] = int(role["MaxSessionDuration"])
    boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    if boundary:
        params["PermissionsBoundary"] = boundary
    tags = [{"Key": t["Key"], "Value": t.get("Value", "")} for t in role.get("Tags") or []]
    if tags:
        params["Tags"] = tags
    return params


# ------------------------------------------------------------------------------ operations


@dataclass(frozen=True)
class Effect:
    """Whether a call's effect is in place, and what is there instead when it is not."""

    in_effect: bool
    actual: str
    """The state found, in a few words (for the journal and the messages)."""
    response: dict[str, Any] | None = None
    """For a create found in place after a crash: the answer the call would have given."""


@dataclass(frozen=True)
class Operation:
    name: str
    before: Callable[[Reader, Mapping[str, Any]], dict[str, Any] | None]
    check: Callable[[Reader, Mapping[str, Any], Mapping[str, Any] | None], Effect]
    undo: Callable[[Mapping[str, Any], Mapping[str, Any] | None, Mapping[str, Any] | None], list]
    tolerated: frozenset[str] = frozenset()


OPERATIONS: dict[str, Operation] = {}


def _register(op: Operation) -> None:
    OPERATIONS[op.name] = op


def operation(name: str) -> Operation:
    try:
        return OPERATIONS[name]
    except KeyError:
        raise KeyError(f"dormant does not make the call {name!r}") from None


def _nothing(reader: Reader, params: Mapping[str, Any]) -> None:
    return None


_MISSING = frozenset({"NoSuchEntity"})
_EXISTS = frozenset({"EntityAlreadyExists"})


# Access keys ------------------------------------------------------------------------------


def _key_status(reader: Reader, params: Mapping[str, Any]) -> str | None:
    keys = reader.access_keys(params["UserName"]) or {}
    key = keys.get(params["AccessKeyId"])
    return key.get("Status") if key else None


_register(
    Operation(
        "UpdateAccessKey",
        before=lambda r, p: {"Status": _key_status(r, p)},
        check=lambda r, p, _: (lambda s: Effect(s == p["Status"], f"key status {s or 'absent'}"))(
            _key_status(r, p)
        ),
        undo=lambda p, _, before: [
            Call(
                "UpdateAccessKey",
                {
                    "UserName": p["UserName"],
                    "AccessKeyId": p["AccessKeyId"],
                    "Status": (before or {}).get("Status") or "Active",
                },
            )
        ],
    )
)


def _irreversible(message: str) -> Callable[..., list]:
    def undo(*_: Any) -> list:
        raise Irreversible(message)

    return undo


_register(
    Operation(
        "DeleteAccessKey",
        before=lambda r, p: {"Status": _key_status(r, p)},
        check=lambda r, p, _: (lambda s: Effect(s is None, f"key {s or 'absent'}"))(
            _key_status(r, p)
        ),
        undo=_irreversible(
            "a deleted access key cannot be restored: its secret is gone; the owner must "
            "create a new key"
        ),
        tolerated=_MISSING,
    )
)

_register(
    Operation(
        "DeleteLoginProfile",
        before=lambda r, p: {"exists": r.login_profile(p["UserName"])},
        check=lambda r, p, _: (
            lambda e: Effect(not e, "login profile present" if e else "no login profile")
        )(r.login_profile(p["UserName"])),
        undo=_irreversible(
            "a deleted console password cannot be restored: AWS keeps no copy; the user needs "
            "a new password from an administrator"
        ),
        tolerated=_MISSING,
    )
)


# Tags -------------------------------------------------------------------------------------


def _tags_op(kind: str) -> None:
    key = "UserName" if kind == "user" else "RoleName"
    noun = "User" if kind == "user" else "Role"

    def current(reader: Reader, params: Mapping[str, Any]) -> dict[str, str]:
        got = reader.user_tags(params[key]) if kind == "user" else reader.role_tags(params[key])
        return got or {}

    def before_tag(reader: Reader, params: Mapping[str, Any]) -> dict[str, Any]:
        tags = current(reader, params)
        return {"previous": {t["Key"]: tags.get(t["Key"]) for t in params["Tags"]}}

    def check_tag(reader: Reader, params: Mapping[str, Any], _: Any) -> Effect:
        tags = current(reader, params)
        wrong = [t["Key"] for t in params["Tags"] if tags.get(t["Key"]) != t["Value"]]
        if wrong:
            return Effect(False, "tag " + ", ".join(f"{k}={tags.get(k)!r}" for k in wrong))
        return Effect(True, "tags in place")

    def restore(owner: str, previous: Mapping[str, str | None]) -> list[Call]:
        out = []
        back = [{"Key": k, "Value": v} for k, v in previous.items() if v is not None]
        gone = [k for k, v in previous.items() if v is None]
        if gone:
            out.append(Call(f"Untag{noun}", {key: owner, "TagKeys": gone}))
        if back:
            out.append(Call(f"Tag{noun}", {key: owner, "Tags": back}))
        return out

    def undo_tag(params: Mapping[str, Any], _: Any, before: Mapping[str, Any] | None) -> list:
        previous = (before or {}).get("previous") or {t["Key"]: None for t in params["Tags"]}
        return restore(params[key], previous)

    def before_untag(reader: Reader, params: Mapping[str, Any]) -> dict[str, Any]:
        tags = current(reader, params)
        return {"previous": {k: tags.get(k) for k in params["TagKeys"]}}

    def check_untag(reader: Reader, params: Mapping[str, Any], _: Any) -> Effect:
        tags = current(reader, params)
        still = [k for k in params["TagKeys"] if k in tags]
        if still:
            return Effect(False, "tag still present: " + ", ".join(still))
        return Effect(True, "tags absent")

    def undo_untag(params: Mapping[str, Any], _: Any, before: Mapping[str, Any] | None) -> list:
        previous = {k: v for k, v in ((before or {}).get("previous") or {}).items() if v}
        return restore(params[key], previous) if previous else []

    _register(Operation(f"Tag{noun}", before_tag, check_tag, undo_tag))
    _register(Operation(f"Untag{noun}", before_untag, check_untag, undo_untag, _MISSING))


_tags_op("user")
_tags_op("role")


# Inline policies --------------------------------------------------------------------------


def _inline_ops(kind: str) -> None:
    key = "UserName" if kind == "user" else "RoleName"
    noun = "User" if kind == "user" else "Role"

    def before(reader: Reader, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"document": reader.inline_policy(kind, params[key], params["PolicyName"])}

    def check_put(reader: Reader, params: Mapping[str, Any], _: Any) -> Effect:
        doc = reader.inline_policy(kind, params[key], params["PolicyName"])
        if doc is None:
            return Effect(False, f"inline policy {params['PolicyName']} absent")
        same = doc == canonical(params["PolicyDocument"])
        return Effect(same, "document as written" if same else "another document")

    def undo_put(params: Mapping[str, Any], _: Any, before_: Mapping[str, Any] | None) -> list:
        old = (before_ or {}).get("document")
        if old is None:
            return [
                Call(f"Delete{noun}Policy", {key: params[key], "PolicyName": params["PolicyName"]})
            ]
        return [
            Call(
                f"Put{noun}Policy",
                {key: params[key], "PolicyName": params["PolicyName"], "PolicyDocument": old},
            )
        ]

    def check_delete(reader: Reader, params: Mapping[str, Any], _: Any) -> Effect:
        doc = reader.inline_policy(kind, params[key], params["PolicyName"])
        return Effect(doc is None, "absent" if doc is None else "present")

    def undo_delete(params: Mapping[str, Any], _: Any, before_: Mapping[str, Any] | None) -> list:
        old = (before_ or {}).get("document")
        if old is None:
            return []
        return [
            Call(
                f"Put{noun}Policy",
                {key: params[key], "PolicyName": params["PolicyName"], "PolicyDocument": old},
            )
        ]

    _register(Operation(f"Put{noun}Policy", before, check_put, undo_put))
    _register(Operation(f"Delete{noun}Policy", before, check_delete, undo_delete, _MISSING))


_inline_ops("user")
_inline_ops("role")


# Managed policy attachments ---------------------------------------------------------------


def _attach_ops(kind: str) -> None:
    key = "UserName" if kind == "user" else "RoleName"
    noun = "User" if kind == "user" else "Role"

    def is_attached(reader: Reader, params: Mapping[str, Any]) -> bool:
        return params["PolicyArn"] in (reader.attached(kind, params[key]) or set())

    def before(reader: Reader, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"attached": is_attached(reader, params)}

    def check_attach(reader: Reader, params: Mapping[str, Any], _: Any) -> Effect:
        yes = is_attached(reader, params)
        return Effect(yes, "attached" if yes else "not attached")

    def check_detach(reader: Reader, params: Mapping[str, Any], _: Any) -> Effect:
        yes = is_attached(reader, params)
        return Effect(not yes, "attached" if yes else "not attached")

    def undo_attach(params: Mapping[str, Any], _: Any, before_: Mapping[str, Any] | None) -> list:
        if (before_ or {}).get("attached"):
            return []
        return [Call(f"Detach{noun}Policy", {key: params[key], "PolicyArn": params["PolicyArn"]})]

    def undo_detach(params: Mapping[str, Any], _: Any, before_: Mapping[str, Any] | None) -> list:
        if before_ is not None and not before_.get("attached", True):
            return []
        return [Call(f"Attach{noun}Policy", {key: params[key], "PolicyArn": params["PolicyArn"]})]

    _register(Operation(f"Attach{noun}Policy", before, check_attach, undo_attach))
    _register(Operation(f"Detach{noun}Policy", before, check_detach, undo_detach, _MISSING))


_attach_ops("user")
_attach_ops("role")


# Managed policies and their versions ------------------------------------------------------


def _check_create_policy(reader: Reader, params: Mapping[str, Any], response: Any) -> Effect:
    arn = ((response or {}).get("Policy") or {}).get("Arn") or reader.policy_arn(
        params.get("Path") or "/", params["PolicyName"]
    )
    versions = reader.policy_versions(arn)
    if versions is None:
        return Effect(False, "policy absent")
    default = next((v for v in versions if v["IsDefaultVersion"]), None)
    if len(versions) != 1 or default is None:
        return Effect(False, f"policy has {len(versions)} versions")
    if default["Document"] != canonical(params["PolicyDocument"]):
        return Effect(False, "policy holds another document")
    return Effect(True, "policy as created", {"Policy": {"Arn": arn}})


_register(
    Operation(
        "CreatePolicy",
        before=_nothing,
        check=_check_create_policy,
        undo=lambda p, response, _: [
            Call("DeletePolicy", {"PolicyArn": ((response or {}).get("Policy") or {})["Arn"]})
        ],
        tolerated=_EXISTS,
    )
)


def _check_delete_policy(reader: Reader, params: Mapping[str, Any], _: Any) -> Effect:
    gone = reader.policy(params["PolicyArn"]) is None
    return Effect(gone, "absent" if gone else "present")


def _before_delete_policy(reader: Reader, params: Mapping[str, Any]) -> dict[str, Any] | None:
    pol = reader.policy(params["PolicyArn"])
    if pol is None:
        return None
    versions = reader.policy_versions(params["PolicyArn"]) or []
    default = next((v for v in versions if v["IsDefaultVersion"]), None)
    return {
        "PolicyName": pol.get("PolicyName"),
        "Path": pol.get("Path") or "/",
        "Description": pol.get("Description"),
        "Document": default["Document"] if default else None,
    }


def _undo_delete_policy(params: Mapping[str, Any], _: Any, before: Any) -> list:
    if not before or not before.get("Document"):
        return []
    out: dict[str, Any] = {
        "PolicyName": before["PolicyName"],
        "Path": before["Path"],
        "PolicyDocument": before["Document"],
    }
    if before.get("Description"):
        out["Description"] = before["Description"]
    return [Call("CreatePolicy", out)]


_register(
    Operation(
        "DeletePolicy",
        before=_before_delete_policy,
        check=_check_delete_policy,
        undo=_undo_delete_policy,
        tolerated=_MISSING,
    )
)


def _default_version(reader: Reader, arn: str) -> str | None:
    versions = reader.policy_versions(arn) or []
    return next((v["VersionId"] for v in versions if v["IsDefaultVersion"]), None)


def _check_create_version(reader: Reader, params: Mapping[str, Any], response: Any) -> Effect:
    versions = reader.policy_versions(params["PolicyArn"])
    if versions is None:
        return Effect(False, "policy absent")
    want = canonical(params["PolicyDocument"])
    default_wanted = bool(params.get("SetAsDefault"))
    vid = ((response or {}).get("PolicyVersion") or {}).get("VersionId")
    for v in versions:
        if vid and v["VersionId"] != vid:
            continue
        if v["Document"] == want and (v["IsDefaultVersion"] or not default_wanted):
            return Effect(
                True,
                f"version {v['VersionId']} in place",
                {"PolicyVersion": {"VersionId": v["VersionId"]}},
            )
    default = next((v["VersionId"] for v in versions if v["IsDefaultVersion"]), None)
    return Effect(False, f"default version is {default}")


def _undo_create_version(params: Mapping[str, Any], response: Any, before: Any) -> list:
    vid = ((response or {}).get("PolicyVersion") or {}).get("VersionId")
    out = []
    old = (before or {}).get("default")
    if params.get("SetAsDefault") and old:
        out.append(
            Call("SetDefaultPolicyVersion", {"PolicyArn": params["PolicyArn"], "VersionId": old})
        )
    if vid:
        out.append(
            Call("DeletePolicyVersion", {"PolicyArn": params["PolicyArn"], "VersionId": vid})
        )
    return out


_register(
    Operation(
        "CreatePolicyVersion",
        before=lambda r, p: {"default": _default_version(r, p["PolicyArn"])},
        check=_check_create_version,
        undo=_undo_create_version,
    )
)


def _before_delete_version(reader: Reader, params: Mapping[str, Any]) -> dict[str, Any] | None:
    versions = reader.policy_versions(params["PolicyArn"]) or []
    for v in versions:
        if v["VersionId"] == params["VersionId"]:
            return {"Document": v["Document"], "IsDefaultVersion": v["IsDefaultVersion"]}
    return None


def _check_delete_version(reader: Reader, params: Mapping[str, Any], _: Any) -> Effect:
    versions = reader.policy_versions(params["PolicyArn"]) or []
    there = any(v["VersionId"] == params["VersionId"] for v in versions)
    return Effect(not there, "present" if there else "absent")


def _undo_delete_version(params: Mapping[str, Any], _: Any, before: Any) -> list:
    if not before or not before.get("Document"):
        return []
    return [
        Call(
            "CreatePolicyVersion",
            {
                "PolicyArn": params["PolicyArn"],
                "PolicyDocument": before["Document"],
                "SetAsDefault": bool(before.get("IsDefaultVersion")),
            },
        )
    ]


_register(
    Operation(
        "DeletePolicyVersion",
        before=_before_delete_version,
        check=_check_delete_version,
        undo=_undo_delete_version,
        tolerated=_MISSING,
    )
)


def _check_set_default(reader: Reader, params: Mapping[str, Any], _: Any) -> Effect:
    default = _default_version(reader, params["PolicyArn"])
    return Effect(default == params["VersionId"], f"default version is {default}")


_register(
    Operation(
        "SetDefaultPolicyVersion",
        before=lambda r, p: {"default": _default_version(r, p["PolicyArn"])},
        check=_check_set_default,
        undo=lambda p, _, before: (
            [
                Call(
                    "SetDefaultPolicyVersion",
                    {"PolicyArn": p["PolicyArn"], "VersionId": before["default"]},
                )
            ]
            if before and before.get("default")
            else []
        ),
    )
)


# Roles ------------------------------------------------------------------------------------


def _in_profile(reader: Reader, params: Mapping[str, Any]) -> bool:
    return params["InstanceProfileName"] in (reader.instance_profiles(params["RoleName"]) or [])


_register(
    Operation(
        "RemoveRoleFromInstanceProfile",
        before=_nothing,
        check=lambda r, p, _: (lambda yes: Effect(not yes, "in the profile" if yes else "out"))(
            _in_profile(r, p)
        ),
        undo=lambda p, _, __: [
            Call(
                "AddRoleToInstanceProfile",
                {"InstanceProfileName": p["InstanceProfileName"], "RoleName": p["RoleName"]},
            )
        ],
        tolerated=_MISSING,
    )
)

_register(
    Operation(
        "AddRoleToInstanceProfile",
        before=_nothing,
        check=lambda r, p, _: (lambda yes: Effect(yes, "in the profile" if yes else "out"))(
            _in_profile(r, p)
        ),
        undo=lambda p, _, __: [
            Call(
                "RemoveRoleFromInstanceProfile",
                {"InstanceProfileName": p["InstanceProfileName"], "RoleName": p["RoleName"]},
            )
        ],
        tolerated=frozenset({"LimitExceeded"}),
    )
)


def _check_role_gone(reader: Reader, params: Mapping[str, Any], _: Any) -> Effect:
    role = reader.role(params["RoleName"])
    return Effect(role is None, "absent" if role is None else f"present ({role.get('RoleId')})")


def _before_delete_role(reader: Reader, params: Mapping[str, Any]) -> dict[str, Any] | None:
    role = reader.role(params["RoleName"])
    return {"create_role": create_role_params(role)} if role else None


def _undo_delete_role(params: Mapping[str, Any], _: Any, before: Any) -> list:
    if not before or not before.get("create_role"):
        return []
    return [Call("CreateRole", dict(before["create_role"]))]


_register(
    Operation(
        "DeleteRole",
        before=_before_delete_role,
        check=_check_role_gone,
        undo=_undo_delete_role,
        tolerated=_MISSING,
    )
)


def _check_role_created(reader: Reader, params: Mapping[str, Any], _: Any) -> Effect:
    role = reader.role(params["RoleName"])
    if role is None:
        return Effect(False, "absent")
    same = canonical(role.get("AssumeRolePolicyDocument")) == canonical(
        params["AssumeRolePolicyDocument"]
    ) and (role.get("Path") or "/") == params.get("Path", "/")
    return Effect(same, "present" if same else "present, with another trust policy or path")


_register(
    Operation(
        "CreateRole",
        before=_nothing,
        check=_check_role_created,
        undo=lambda p, _, __: [Call("DeleteRole", {"RoleName": p["RoleName"]})],
        tolerated=_EXISTS,
    )
)


def actions_used() -> list[str]:
    """Every IAM action remediation may call (writes only), sorted."""
    return sorted(f"iam:{name}" for name in OPERATIONS)
