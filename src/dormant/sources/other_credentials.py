"""Credentials IAM keeps no last-use record for: SSH public keys (CodeCommit), service-specific
credentials (CodeCommit HTTPS, Keyspaces, Bedrock API keys) and X.509 signing certificates.

They matter for one verdict: a user is inactive only if nothing they could still sign in with is
active. Since none of these is tracked, an active one makes the user's inactivity
insufficient-evidence rather than a finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from .base import CollectContext, SourceError, SourceResult, jsonable

NAME = "other_credentials"

_CALLS = (
    ("ListSSHPublicKeys", "list_ssh_public_keys", "SSHPublicKeys", "SSHPublicKeyId"),
    (
        "ListServiceSpecificCredentials",
        "list_service_specific_credentials",
        "ServiceSpecificCredentials",
        "ServiceSpecificCredentialId",
    ),
    ("ListSigningCertificates", "list_signing_certificates", "Certificates", "CertificateId"),
)


@dataclass(frozen=True)
class UntrackedCredential:
    kind: str
    """``ssh_public_key``, ``service_specific_credential`` or ``signing_certificate``."""
    credential_id: str
    status: str


@dataclass(frozen=True)
class OtherCredentials:
    known_users: frozenset[str]
    """Users for whom every list call answered."""
    active: dict[str, tuple[UntrackedCredential, ...]]
    """Active untracked credentials by user name."""


_KIND = {
    "ListSSHPublicKeys": "ssh_public_key",
    "ListServiceSpecificCredentials": "service_specific_credential",
    "ListSigningCertificates": "signing_certificate",
}


def collect(ctx: CollectContext, user_names: list[str]) -> SourceResult:
    result = SourceResult(name=NAME, started_at=ctx.now_iso())
    iam = ctx.client("iam")
    ctx.progress("other credentials", 0, len(user_names))

    def one(name: str):
        answers: dict[str, Any] = {}
        errors: list[SourceError] = []
        for op, method, key, _ in _CALLS:
            try:
                resp = jsonable(getattr(iam, method)(UserName=name))
                answers[op] = resp.get(key) or []
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                errors.append(SourceError.from_exception(op, exc, name))
        ctx.progress("other credentials", 1, len(user_names))
        return name, answers, errors

    raw: dict[str, Any] = {}
    for name, answers, errors in ctx.map(one, user_names):
        raw[name] = answers
        result.errors.extend(errors)
    result.raw = {"users": raw}
    result.settle({op: len(user_names) for op, *_ in _CALLS})
    result.finished_at = ctx.now_iso()
    return result


def parse_raw(raw: dict[str, Any]) -> OtherCredentials:
    users = raw.get("users") or {}
    known: set[str] = set()
    active: dict[str, tuple[UntrackedCredential, ...]] = {}
    for name, answers in users.items():
        if all(op in answers for op, *_ in _CALLS):
            known.add(name)
        found = []
        for op, _, _, id_key in _CALLS:
            for item in answers.get(op) or []:
                if item.get("Status", "Active") == "Active":
                    found.append(
                        UntrackedCredential(_KIND[op], str(item.get(id_key, "")), "Active")
                    )
        if found:
            active[name] = tuple(found)
    return OtherCredentials(known_users=frozenset(known), active=active)
