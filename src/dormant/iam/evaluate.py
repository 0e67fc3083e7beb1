"""Which actions a set of identity policies allows, and which statement grants each. Pure.

dormant asks a question narrower than IAM's full evaluation: *could this principal be allowed
this action at all?* That is what an unused permission is. So:

- An action is **granted** when some ``Allow`` statement matches it (``Action`` matches it, or
  ``NotAction`` does not), on any resource, under any condition. Conditions are never evaluated:
  a conditional grant is still a grant, and is flagged ``conditional``.
- An action is **denied** only by a ``Deny`` statement that matches it on every resource
  (``Resource: "*"``) with no condition. A ``Deny`` limited to some resources or to a condition
  takes away only part of the grant: the action stays allowed and the statement is listed in
  ``partial_denials``.
- With ``resource`` given, ``Resource``/``NotResource`` patterns are matched against it (same
  wildcard rules, case-sensitive as IAM matches ARNs), and a Deny for that resource counts.

Action names match case-insensitively; ``*`` and ``?`` are wildcards (see
:mod:`dormant.iam.catalog`). Permissions boundaries, SCPs, session and resource policies are
not this module's business: the caller passes the identity policies that apply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .catalog import ActionCatalog, load_catalog, matches
from .policy import PolicyDocument, Statement, parse_policy


@dataclass(frozen=True)
class Grant:
    """A statement that speaks about an action."""

    policy: str
    """The policy's name as the caller labelled it (a policy ARN, or ``inline:<name>``)."""
    statement_index: int
    """The statement's position in the document, from 0."""
    sid: str | None
    """The statement's Sid, if any."""
    conditional: bool
    """True when the statement has a Condition (dormant never evaluates it)."""
    all_resources: bool
    """True when the statement covers every resource (``Resource: "*"``)."""


@dataclass(frozen=True)
class Decision:
    """Whether one action is allowed, and by what."""

    action: str
    """The action asked about (as asked, or in the catalog's spelling when expanded)."""
    allowed: bool
    """True when some Allow matches and no unconditional all-resource Deny does."""
    grants: tuple[Grant, ...]
    """Every Allow statement that matches the action."""
    denials: tuple[Grant, ...]
    """Deny statements that deny the action outright (all resources, no condition)."""
    partial_denials: tuple[Grant, ...]
    """Deny statements that deny it only for some resources or under a condition."""

    @property
    def conditional(self) -> bool:
        """True when every grant has a condition: the action may never really be allowed."""
        return bool(self.grants) and all(g.conditional for g in self.grants)


PolicySet = Mapping[str, PolicyDocument | str | Mapping[str, Any]]
"""Policies by label: parsed documents, JSON text or dicts."""


def parse_policies(policies: PolicySet) -> dict[str, PolicyDocument]:
    """Every policy of ``policies`` parsed (already parsed ones kept)."""
    return {
        name: doc if isinstance(doc, PolicyDocument) else parse_policy(doc)
        for name, doc in policies.items()
    }


def statement_matches_action(statement: Statement, action: str) -> bool:
    """True when ``statement`` applies to ``action`` through Action or NotAction."""
    if statement.actions is not None:
        return any(matches(p, action) for p in statement.actions)
    return not any(matches(p, action) for p in statement.not_actions or ())


def statement_matches_resource(statement: Statement, resource: str | None) -> bool:
    """True when ``statement`` applies to ``resource`` (None: some resource)."""
    if resource is None:
        if statement.not_resources is not None:
            return "*" not in statement.not_resources
        return True
    if statement.resources is not None:
        return any(_resource_match(p, resource) for p in statement.resources)
    if statement.not_resources is not None:
        return not any(_resource_match(p, resource) for p in statement.not_resources)
    return True


def _resource_match(pattern: str, resource: str) -> bool:
    if pattern == "*":
        return True
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, resource, re.DOTALL) is not None


def _grant(policy: str, stmt: Statement) -> Grant:
    return Grant(
        policy=policy,
        statement_index=stmt.index,
        sid=stmt.sid,
        conditional=stmt.conditional,
        all_resources=stmt.all_resources,
    )


def decide(policies: PolicySet, action: str, resource: str | None = None) -> Decision:
    """Whether ``policies`` allow ``action`` (on ``resource``, or on some resource)."""
    parsed = parse_policies(policies)
    grants: list[Grant] = []
    denials: list[Grant] = []
    partial: list[Grant] = []
    for name, doc in parsed.items():
        for stmt in doc.statements:
            if not statement_matches_action(stmt, action):
                continue
            if not statement_matches_resource(stmt, resource):
                continue
            if stmt.effect == "Allow":
                grants.append(_grant(name, stmt))
                continue
            # For a given resource the statement already matched it; for "some resource" only a
            # Deny on "*" takes the action away everywhere.
            outright = not stmt.conditional and (resource is not None or stmt.all_resources)
            (denials if outright else partial).append(_grant(name, stmt))
    return Decision(
        action=action,
        allowed=bool(grants) and not denials,
        grants=tuple(grants),
        denials=tuple(denials),
        partial_denials=tuple(partial),
    )


def is_allowed(policies: PolicySet, action: str, resource: str | None = None) -> bool:
    """Shorthand for ``decide(...).allowed``."""
    return decide(policies, action, resource).allowed


def granted_actions(
    policies: PolicySet, catalog: ActionCatalog | None = None
) -> dict[str, Decision]:
    """Every catalog action (plus every literal action the policies name that the catalog does
    not know) that ``policies`` allow, with its decision, by action name."""
    catalog = catalog or load_catalog()
    parsed = parse_policies(policies)
    candidates: set[str] = set()
    for doc in parsed.values():
        for stmt in doc.statements:
            if stmt.effect != "Allow":
                continue
            if stmt.actions is not None:
                for pattern in stmt.actions:
                    candidates |= catalog.expand(pattern)
            else:
                # NotAction: everything except what it names.
                candidates |= {
                    a
                    for a in catalog.all_actions()
                    if not any(matches(p, a) for p in stmt.not_actions or ())
                }
    out: dict[str, Decision] = {}
    for action in sorted(candidates):
        decision = decide(parsed, action)
        if decision.allowed:
            out[action] = decision
    return out


def allowed_among(policies: PolicySet, actions: Iterable[str]) -> dict[str, bool]:
    """``{action: allowed}`` for the given actions."""
    parsed = parse_policies(policies)
    return {a: decide(parsed, a).allowed for a in actions}


__all__ = [
    "Decision",
    "Grant",
    "PolicySet",
    "allowed_among",
    "decide",
    "granted_actions",
    "is_allowed",
    "parse_policies",
    "statement_matches_action",
    "statement_matches_resource",
]
