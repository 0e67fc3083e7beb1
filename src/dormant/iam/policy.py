"""IAM identity policy documents, parsed into statements. Pure: no I/O.

A document may come as a JSON string (also URL-encoded, as some IAM APIs return it) or as an
already-decoded mapping. ``Statement`` may be one object or a list; ``Action``, ``NotAction``,
``Resource`` and ``NotResource`` may each be a string or a list. ``Condition`` is kept as it is:
dormant never evaluates conditions, it only carries them (see :mod:`dormant.iam.evaluate`).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class PolicyError(ValueError):
    """A document that is not a readable IAM policy."""


@dataclass(frozen=True)
class Statement:
    """One statement of a policy document."""

    index: int
    """Position of the statement in the document, from 0."""
    sid: str | None
    """The statement's ``Sid``, if it has one."""
    effect: str
    """``Allow`` or ``Deny``."""
    actions: tuple[str, ...] | None
    """The ``Action`` patterns as written, or None when the statement uses ``NotAction``."""
    not_actions: tuple[str, ...] | None
    """The ``NotAction`` patterns as written, or None when the statement uses ``Action``."""
    resources: tuple[str, ...] | None
    """The ``Resource`` patterns, or None when the statement uses ``NotResource`` (or neither)."""
    not_resources: tuple[str, ...] | None
    """The ``NotResource`` patterns, or None."""
    condition: Mapping[str, Any] | None = field(default=None, hash=False)
    """The ``Condition`` block, untouched, or None."""
    raw: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    """The statement exactly as the document has it, for rewriting without loss."""

    @property
    def not_action(self) -> tuple[str, ...] | None:
        """Alias of :attr:`not_actions`."""
        return self.not_actions

    @property
    def conditional(self) -> bool:
        """True when the statement has a non-empty ``Condition``."""
        return bool(self.condition)

    @property
    def all_resources(self) -> bool:
        """True when the statement applies to every resource (``Resource: "*"``)."""
        return self.not_resources is None and self.resources is not None and "*" in self.resources

    @property
    def label(self) -> str:
        """``Sid`` if present, else ``#index``: how findings name a statement."""
        return self.sid if self.sid else f"#{self.index}"


@dataclass(frozen=True)
class PolicyDocument:
    """A parsed policy document."""

    version: str | None
    """The ``Version`` element (``2012-10-17`` in any current policy), or None."""
    id: str | None
    """The ``Id`` element, if any."""
    statements: tuple[Statement, ...]
    """The statements, in document order."""
    raw: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    """The document as a mapping, exactly as given."""


def load_document(document: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
    """A policy document as a dict, from JSON text (plain or URL-encoded) or a mapping."""
    if isinstance(document, Mapping):
        return dict(document)
    if isinstance(document, bytes):
        document = document.decode("utf-8")
    if not isinstance(document, str):
        raise PolicyError(f"not a policy document: {type(document).__name__}")
    text = document.strip()
    if text.startswith("%7B") or text.startswith("%7b"):
        text = urllib.parse.unquote(text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"policy is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PolicyError("policy document is not a JSON object")
    return data


def parse_policy(document: str | bytes | Mapping[str, Any]) -> PolicyDocument:
    """Parse a policy document. Raises :class:`PolicyError` when it cannot be read."""
    data = load_document(document)
    raw_statements = data.get("Statement")
    if raw_statements is None:
        raise PolicyError("policy has no Statement")
    if isinstance(raw_statements, Mapping):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list):
        raise PolicyError("Statement is neither an object nor a list")
    statements = tuple(_statement(i, s) for i, s in enumerate(raw_statements))
    version = data.get("Version")
    ident = data.get("Id")
    return PolicyDocument(
        version=None if version is None else str(version),
        id=None if ident is None else str(ident),
        statements=statements,
        raw=data,
    )


def _statement(index: int, data: Any) -> Statement:
    if not isinstance(data, Mapping):
        raise PolicyError(f"statement {index} is not an object")
    effect = data.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"statement {index}: Effect must be Allow or Deny, not {effect!r}")
    has_action = "Action" in data
    has_not_action = "NotAction" in data
    if has_action == has_not_action:
        raise PolicyError(f"statement {index}: needs exactly one of Action and NotAction")
    if "Resource" in data and "NotResource" in data:
        raise PolicyError(f"statement {index}: has both Resource and NotResource")
    sid = data.get("Sid")
    condition = data.get("Condition")
    return Statement(
        index=index,
        sid=None if sid in (None, "") else str(sid),
        effect=effect,
        actions=_strings(data, "Action", index) if has_action else None,
        not_actions=_strings(data, "NotAction", index) if has_not_action else None,
        resources=_strings(data, "Resource", index) if "Resource" in data else None,
        not_resources=_strings(data, "NotResource", index) if "NotResource" in data else None,
        condition=dict(condition) if isinstance(condition, Mapping) and condition else None,
        raw=dict(data),
    )


def _strings(data: Mapping[str, Any], key: str, index: int) -> tuple[str, ...]:
    value = data[key]
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyError(f"statement {index}: {key} must be a string or a list of strings")


def minified(document: Mapping[str, Any]) -> str:
    """The document as compact JSON with sorted keys (what dormant writes and measures)."""
    return json.dumps(document, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def policy_size(document: Mapping[str, Any]) -> int:
    """The size IAM counts against its quotas: characters, whitespace not counted."""
    return sum(1 for ch in minified(document) if not ch.isspace())


def pretty(document: Mapping[str, Any]) -> str:
    """The document as indented JSON with sorted keys, for diffs and files."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


__all__ = [
    "PolicyDocument",
    "PolicyError",
    "Statement",
    "load_document",
    "minified",
    "parse_policy",
    "policy_size",
    "pretty",
]
