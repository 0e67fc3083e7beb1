"""Least-privilege rewriting: a principal's policies without what the evidence shows unused.

Pure: the caller gives the documents, the evidence, the threshold and ``as_of``; nothing here
reads the clock or calls AWS. :func:`rewrite_policies` returns a :class:`RewritePlan`;
:func:`unified_diff` shows a change to a human; :func:`write_documents` writes the new
documents as files with the ``aws iam`` commands that would apply them (it runs none).

What changes, and what never does:

- Each ``Allow`` statement with ``Action`` keeps every action whose verdict is ``used`` or
  ``insufficient-evidence`` (see :mod:`dormant.iam.usage`) and loses those that are ``unused`` or
  ``never-used``. A pattern whose whole expansion is kept stays exactly as written. A wildcard
  that lost some actions is expanded only as far as needed: the kept actions are re-grouped as
  ``service:Verb*`` where every catalog action that such a pattern matches is kept (so nothing
  is ever granted that the original did not grant), otherwise listed one by one. A statement left
  with no action is dropped. ``Resource``, ``NotResource``, ``Condition`` and ``Sid`` are kept.
- ``Deny`` statements are kept verbatim: removing a deny can only widen access.
- ``NotAction`` Allow statements are kept verbatim (conservative): turning "everything but X"
  into a list would need the whole catalog and would silently drop actions AWS adds later. The
  plan notes how many unused actions such a statement still grants, for a human to decide.
- Size: IAM counts characters without whitespace. Managed policies may hold 6,144; a role's
  inline policies together 10,240, a user's 2,048, a group's 5,120. A document over its limit is
  split into several (statements packed greedily; an oversized statement's actions chunked),
  and the plan says so; for inline policies, where the limit is an aggregate, it also notes that
  customer-managed policies are the way out.
- AWS-managed policies cannot be edited: the recommendation is to detach the AWS policy and
  attach a new customer-managed policy holding what is used.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import json
import pathlib
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .catalog import ActionCatalog, load_catalog, matches, split_action
from .policy import load_document, parse_policy, policy_size, pretty
from .usage import PermissionVerdict, TrackingFacts, UsageEvidence, judge_action, load_tracking


class PolicyKind(StrEnum):
    """Where a policy lives, which decides how it can be changed and its size limit."""

    INLINE_ROLE = "inline-role"
    INLINE_USER = "inline-user"
    INLINE_GROUP = "inline-group"
    MANAGED = "managed"
    """A customer-managed policy (editable with a new version)."""
    AWS_MANAGED = "aws-managed"
    """An AWS-managed policy (``arn:aws:iam::aws:policy/...``): not editable."""


SIZE_LIMITS: Mapping[PolicyKind, int] = {
    PolicyKind.INLINE_ROLE: 10_240,
    PolicyKind.INLINE_USER: 2_048,
    PolicyKind.INLINE_GROUP: 5_120,
    PolicyKind.MANAGED: 6_144,
    PolicyKind.AWS_MANAGED: 6_144,
}
"""IAM quotas in characters, whitespace not counted. Inline limits are per principal, for all of
its inline policies together."""


class Recommendation(StrEnum):
    """What to do with one policy."""

    KEEP = "keep"
    """Nothing to remove (or nothing the evidence allows removing)."""
    PUT_INLINE = "put-inline-policy"
    """Replace the inline policy with the rewritten document."""
    DELETE_INLINE = "delete-inline-policy"
    """Every action the inline policy grants is unused: delete it."""
    NEW_VERSION = "create-policy-version"
    """Make the rewritten document the customer-managed policy's default version."""
    DETACH = "detach-policy"
    """Every action the managed policy grants is unused: detach it from the principal."""
    REPLACE_AWS_MANAGED = "replace-aws-managed"
    """Detach the AWS-managed policy; create and attach a customer-managed one with what is used."""


@dataclass(frozen=True)
class PolicyInput:
    """One policy of the principal, as the caller has it."""

    name: str
    """The policy name (inline name, or the managed policy's name)."""
    kind: PolicyKind
    """Inline (of a role, user or group), customer-managed or AWS-managed."""
    document: str | Mapping[str, Any] = field(hash=False)
    """The policy document: JSON text (plain or URL-encoded) or a mapping."""
    arn: str | None = None
    """The managed policy's ARN (None for inline policies)."""
    owner: str | None = None
    """The ARN of the role, user or group the policy is inline in or attached to."""


@dataclass(frozen=True)
class PolicyRewrite:
    """The rewrite of one policy."""

    source: PolicyInput
    """The policy as given."""
    original: Mapping[str, Any] = field(hash=False)
    """The original document as a dict."""
    documents: tuple[Mapping[str, Any], ...] = field(hash=False)
    """The rewritten document(s): one normally, several when split for size, none when nothing
    is left. Equal to ``(original,)`` when unchanged."""
    recommendation: Recommendation
    """What to do."""
    removed: tuple[str, ...]
    """Actions this policy granted that it no longer grants, sorted."""
    kept_insufficient: tuple[str, ...]
    """Actions kept only because the evidence cannot judge them (PassRole, S3 object actions,
    actions without action-level data), sorted."""
    notes: tuple[str, ...]
    """Anything a reviewer must know: NotAction kept, split for size, shared managed policy."""
    size_before: int
    """The original's size as IAM counts it."""
    sizes: tuple[int, ...]
    """The size of each rewritten document."""
    limit: int
    """The size limit that applies to this kind of policy."""

    @property
    def changed(self) -> bool:
        return self.recommendation is not Recommendation.KEEP

    @property
    def split(self) -> bool:
        """True when the rewrite needed more than one document."""
        return len(self.documents) > 1


@dataclass(frozen=True)
class RewritePlan:
    """The least-privilege rewrite of one principal's policies."""

    as_of: dt.datetime
    """The evaluation time given."""
    threshold: dt.timedelta
    """Unused means not used within this long before ``as_of``."""
    policies: tuple[PolicyRewrite, ...]
    """One rewrite per policy given, in the order given."""
    verdicts: Mapping[str, PermissionVerdict] = field(hash=False)
    """The verdict on every action the policies grant through Action patterns, by action."""
    notes: tuple[str, ...]
    """Notes about the principal as a whole (aggregate inline size)."""

    @property
    def changed(self) -> tuple[PolicyRewrite, ...]:
        return tuple(p for p in self.policies if p.changed)


# --------------------------------------------------------------------------------------------


def rewrite_policies(
    policies: Sequence[PolicyInput],
    evidence: UsageEvidence,
    *,
    threshold: dt.timedelta,
    as_of: dt.datetime,
    catalog: ActionCatalog | None = None,
    tracking: TrackingFacts | None = None,
    adjust: Callable[[str, PermissionVerdict], PermissionVerdict] | None = None,
) -> RewritePlan:
    """Rewrite ``policies`` so they no longer grant what ``evidence`` shows unused.

    ``adjust(action, verdict)``, when given, may replace each verdict before it is used (the
    judge makes a removable verdict insufficient-evidence when the grant itself is younger than
    the threshold); it must never make a verdict removable that was not."""
    catalog = catalog or load_catalog()
    tracking = tracking or load_tracking()
    verdicts: dict[str, PermissionVerdict] = {}

    def verdict(action: str) -> PermissionVerdict:
        found = verdicts.get(action)
        if found is None:
            found = judge_action(
                action,
                evidence,
                threshold=threshold,
                as_of=as_of,
                catalog=catalog,
                tracking=tracking,
            )
            if adjust is not None:
                adjusted = adjust(action, found)
                if adjusted.verdict.removable and not found.verdict.removable:
                    raise ValueError(f"adjust made {action} removable: {adjusted.reason}")
                found = adjusted
            verdicts[action] = found
        return found

    rewrites = tuple(_rewrite_one(p, verdict, catalog) for p in policies)
    notes: list[str] = []
    inline = [
        r for r in rewrites if r.source.kind not in (PolicyKind.MANAGED, PolicyKind.AWS_MANAGED)
    ]
    by_owner: dict[tuple[str | None, PolicyKind], int] = {}
    for r in inline:
        key = (r.source.owner, r.source.kind)
        by_owner[key] = by_owner.get(key, 0) + sum(r.sizes)
    for (owner, kind), total in sorted(by_owner.items(), key=lambda kv: str(kv[0])):
        if total > SIZE_LIMITS[kind]:
            notes.append(
                f"inline policies of {owner or 'the principal'} total {total} characters, over "
                f"IAM's aggregate limit of {SIZE_LIMITS[kind]}: move some to customer-managed "
                "policies"
            )
    return RewritePlan(
        as_of=as_of,
        threshold=threshold,
        policies=rewrites,
        verdicts=dict(sorted(verdicts.items())),
        notes=tuple(notes),
    )


def _rewrite_one(policy: PolicyInput, verdict: Any, catalog: ActionCatalog) -> PolicyRewrite:
    original = load_document(policy.document)
    parsed = parse_policy(original)
    limit = SIZE_LIMITS[policy.kind]
    removed: set[str] = set()
    insufficient: set[str] = set()
    notes: list[str] = []
    new_statements: list[dict[str, Any]] = []
    changed = False

    for stmt in parsed.statements:
        raw = dict(stmt.raw)
        if stmt.effect == "Deny":
            new_statements.append(raw)
            continue
        if stmt.actions is None:
            unused = _not_action_unused(stmt.not_actions or (), verdict, catalog)
            if unused:
                notes.append(
                    f"statement {stmt.label} uses NotAction and is kept as is; it still grants "
                    f"{len(unused)} action(s) judged unused, e.g. {', '.join(unused[:5])}"
                )
            new_statements.append(raw)
            continue
        patterns: list[str] = []
        for pattern in stmt.actions:
            expansion = catalog.expand(pattern)
            keep = set()
            for action in expansion:
                v = verdict(action)
                if v.verdict.removable:
                    removed.add(action)
                else:
                    keep.add(action)
                    if v.verdict.value == "insufficient-evidence":
                        insufficient.add(action)
            if keep == set(expansion):
                patterns.append(pattern)
            else:
                changed = True
                patterns.extend(_compress(keep, catalog))
        patterns = list(dict.fromkeys(patterns))
        if not patterns:
            changed = True
            continue
        if patterns != list(stmt.actions):
            raw["Action"] = patterns if len(patterns) > 1 else patterns[0]
        new_statements.append(raw)

    # An action removed from one statement but still granted by another stays granted.
    still = _granted_by(new_statements, removed)
    removed -= still

    if policy.kind is PolicyKind.MANAGED:
        notes.append(
            "customer-managed policy: if it is attached to other principals too, judge it with "
            "the policy's own Access Advisor report (its ARN), not one principal's"
        )
    if not changed:
        size = policy_size(original)
        return PolicyRewrite(
            source=policy,
            original=original,
            documents=(original,),
            recommendation=Recommendation.KEEP,
            removed=(),
            kept_insufficient=tuple(sorted(insufficient)),
            notes=tuple(notes),
            size_before=size,
            sizes=(size,),
            limit=limit,
        )

    documents: tuple[dict[str, Any], ...] = ()
    if new_statements:
        rewritten = {k: copy.deepcopy(v) for k, v in original.items() if k != "Statement"}
        rewritten.setdefault("Version", "2012-10-17")
        rewritten["Statement"] = new_statements
        documents = tuple(split_document(rewritten, limit))
        if len(documents) > 1:
            notes.append(
                f"rewritten policy is over the {limit}-character limit: split into "
                f"{len(documents)} documents"
            )
            if policy.kind not in (PolicyKind.MANAGED, PolicyKind.AWS_MANAGED):
                notes.append(
                    "inline limits are per principal: attach the parts as customer-managed "
                    "policies instead"
                )
    recommendation = _recommend(policy.kind, bool(documents))
    if policy.kind is PolicyKind.AWS_MANAGED and documents:
        notes.append(
            f"AWS-managed policy {policy.arn or policy.name} cannot be edited: detach it and "
            "attach a customer-managed policy with the rewritten document"
        )
    return PolicyRewrite(
        source=policy,
        original=original,
        documents=documents,
        recommendation=recommendation,
        removed=tuple(sorted(removed)),
        kept_insufficient=tuple(sorted(insufficient)),
        notes=tuple(notes),
        size_before=policy_size(original),
        sizes=tuple(policy_size(d) for d in documents),
        limit=limit,
    )


def _recommend(kind: PolicyKind, has_documents: bool) -> Recommendation:
    if kind is PolicyKind.AWS_MANAGED:
        return Recommendation.REPLACE_AWS_MANAGED if has_documents else Recommendation.DETACH
    if kind is PolicyKind.MANAGED:
        return Recommendation.NEW_VERSION if has_documents else Recommendation.DETACH
    return Recommendation.PUT_INLINE if has_documents else Recommendation.DELETE_INLINE


def _granted_by(statements: list[dict[str, Any]], actions: Iterable[str]) -> set[str]:
    """The ``actions`` that some remaining Allow statement still grants."""
    if not statements:
        return set()
    doc = parse_policy({"Version": "2012-10-17", "Statement": statements})
    out = set()
    for action in actions:
        for stmt in doc.statements:
            if stmt.effect != "Allow":
                continue
            if stmt.actions is not None:
                if any(matches(p, action) for p in stmt.actions):
                    out.add(action)
                    break
            elif not any(matches(p, action) for p in stmt.not_actions or ()):
                out.add(action)
                break
    return out


def _not_action_unused(
    not_actions: Sequence[str], verdict: Any, catalog: ActionCatalog
) -> list[str]:
    unused = []
    for action in catalog.all_actions():
        if any(matches(p, action) for p in not_actions):
            continue
        if verdict(action).verdict.removable:
            unused.append(action)
    return unused


_VERB = re.compile(r"^[A-Z][a-z0-9]*")


def _compress(keep: set[str], catalog: ActionCatalog) -> list[str]:
    """``keep`` as few patterns as possible without matching any catalog action outside it."""
    out: list[str] = []
    by_service: dict[str, set[str]] = {}
    for action in keep:
        by_service.setdefault(split_action(action)[0], set()).add(action)
    for prefix in sorted(by_service):
        kept = by_service[prefix]
        every = set(catalog.actions(prefix))
        if every and kept >= every:
            out.append(f"{prefix}:*")
            continue
        groups: dict[str, set[str]] = {}
        for action in kept:
            name = split_action(action)[1]
            verb = _VERB.match(name)
            groups.setdefault(verb.group(0) if verb else name, set()).add(action)
        for verb in sorted(groups):
            members = groups[verb]
            pattern = f"{prefix}:{verb}*"
            matched = {a for a in every if matches(pattern, a)}
            if len(members) > 1 and matched and matched <= kept:
                out.append(pattern)
            else:
                out.extend(sorted(members))
    return out


# --------------------------------------------------------------------------------------------
# Size


def split_document(document: Mapping[str, Any], limit: int) -> list[dict[str, Any]]:
    """``document`` as one or more documents each within ``limit`` (IAM's count).

    Statements are packed in order; a statement too large on its own has its ``Action`` list
    cut into chunks (each a copy of the statement, Sids suffixed). A document that fits is
    returned unchanged, alone.
    """
    if policy_size(document) <= limit:
        return [dict(document)]
    head = {k: v for k, v in document.items() if k != "Statement"}
    statements = document.get("Statement") or []
    if isinstance(statements, Mapping):
        statements = [statements]
    pieces: list[dict[str, Any]] = []
    for stmt in statements:
        pieces.extend(_split_statement(dict(stmt), head, limit))
    out: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    for piece in pieces:
        trial = {**head, "Statement": [*current, piece]}
        if current and policy_size(trial) > limit:
            out.append({**head, "Statement": current})
            current = [piece]
        else:
            current.append(piece)
    if current:
        out.append({**head, "Statement": current})
    return out


def _split_statement(stmt: dict[str, Any], head: Mapping[str, Any], limit: int) -> list[dict]:
    if policy_size({**head, "Statement": [stmt]}) <= limit:
        return [stmt]
    actions = stmt.get("Action")
    if not isinstance(actions, list) or len(actions) < 2:
        return [stmt]  # cannot be cut further; reported by its size
    chunks: list[list[str]] = []
    current: list[str] = []
    for action in actions:
        trial = {**stmt, "Action": [*current, action]}
        if current and policy_size({**head, "Statement": [trial]}) > limit:
            chunks.append(current)
            current = [action]
        else:
            current.append(action)
    chunks.append(current)
    out = []
    for i, chunk in enumerate(chunks, 1):
        part = {**stmt, "Action": chunk}
        if stmt.get("Sid"):
            part["Sid"] = f"{stmt['Sid']}{i}"
        out.append(part)
    return out


# --------------------------------------------------------------------------------------------
# Presentation


def unified_diff(rewrite: PolicyRewrite, context: int = 3) -> str:
    """A unified diff of the original and rewritten document(s), JSON pretty-printed with
    sorted keys. Several documents (a split) appear as a JSON list; none as an empty file."""
    name = rewrite.source.name
    before = pretty(rewrite.original).splitlines(keepends=True)
    if not rewrite.documents:
        after: list[str] = []
    elif len(rewrite.documents) == 1:
        after = pretty(rewrite.documents[0]).splitlines(keepends=True)
    else:
        after = (json.dumps(list(rewrite.documents), indent=2, sort_keys=True) + "\n").splitlines(
            keepends=True
        )
    return "".join(
        difflib.unified_diff(before, after, f"a/{name}.json", f"b/{name}.json", n=context)
    )


@dataclass(frozen=True)
class WrittenDocument:
    """A document written by :func:`write_documents`, and how to apply it."""

    path: pathlib.Path
    """The JSON file."""
    policy: str
    """The policy it belongs to."""
    commands: tuple[str, ...]
    """The ``aws iam`` command line(s) that would apply it (dormant runs none)."""


def write_documents(plan: RewritePlan, directory: pathlib.Path | str) -> list[WrittenDocument]:
    """Write each changed policy's new document(s) as pretty JSON under ``directory``, with the
    commands that apply them; returns what was written (deletions get no file, only commands)."""
    root = pathlib.Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    written: list[WrittenDocument] = []
    for rewrite in plan.changed:
        src = rewrite.source
        base = _safe(f"{src.kind.value}-{src.name}")
        if not rewrite.documents:
            written.append(
                WrittenDocument(root / f"{base}.removed", src.name, tuple(_commands(src, None, 0)))
            )
            continue
        for i, doc in enumerate(rewrite.documents, 1):
            suffix = "" if len(rewrite.documents) == 1 else f"-{i}"
            path = root / f"{base}{suffix}.json"
            path.write_text(pretty(doc), encoding="utf-8")
            written.append(WrittenDocument(path, src.name, tuple(_commands(src, path, i))))
    return written


def _owner(arn: str | None) -> tuple[str, str]:
    """``("role", "name")`` from a role/user/group ARN (``("role", "ROLE")`` if unknown)."""
    if not arn or ":" not in arn:
        return "role", arn or "ROLE"
    resource = arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    return kind, rest.rsplit("/", 1)[-1]


def _commands(src: PolicyInput, path: pathlib.Path | None, part: int) -> list[str]:
    kind, owner = _owner(src.owner)
    # Quoted only where needed, so a --out directory with a space still gives a working command.
    doc = shlex.quote(f"file://{path}") if path else ""
    if src.kind in (PolicyKind.INLINE_ROLE, PolicyKind.INLINE_USER, PolicyKind.INLINE_GROUP):
        entity = {"inline-role": "role", "inline-user": "user", "inline-group": "group"}[src.kind]
        if path is None:
            return [
                f"aws iam delete-{entity}-policy --{entity}-name {owner} --policy-name {src.name}"
            ]
        name = src.name if part <= 1 else f"{src.name}-{part}"
        return [
            f"aws iam put-{entity}-policy --{entity}-name {owner} --policy-name {name} "
            f"--policy-document {doc}"
        ]
    detach = f"aws iam detach-{kind}-policy --{kind}-name {owner} --policy-arn {src.arn}"
    if path is None:
        return [detach]
    if src.kind is PolicyKind.MANAGED and part <= 1:
        return [
            f"aws iam create-policy-version --policy-arn {src.arn} --policy-document {doc} "
            "--set-as-default"
        ]
    new_name = _safe(f"dormant-{owner}-{src.name}" + (f"-{part}" if part > 1 else ""))
    cmds = [
        f"aws iam create-policy --policy-name {new_name} --policy-document {doc}",
        f"aws iam attach-{kind}-policy --{kind}-name {owner} --policy-arn "
        f"arn:aws:iam::ACCOUNT_ID:policy/{new_name}",
    ]
    if src.kind is PolicyKind.AWS_MANAGED and part <= 1:
        cmds.append(detach)
    return cmds


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9+=,.@_-]", "_", text)[:128]


__all__ = [
    "SIZE_LIMITS",
    "PolicyInput",
    "PolicyKind",
    "PolicyRewrite",
    "Recommendation",
    "RewritePlan",
    "WrittenDocument",
    "rewrite_policies",
    "split_document",
    "unified_diff",
    "write_documents",
]
