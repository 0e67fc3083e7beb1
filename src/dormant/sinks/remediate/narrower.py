"""Check that a rewritten policy document never grants more than the original: what apply
checks before it writes a document, so that a hand-edited plan cannot widen access.

The least-privilege rewrite only removes actions from ``Allow`` statements, keeping every other
element (``Resource``, ``NotResource``, ``Condition``, ``Principal``) and every ``Deny``
statement as written. A new document passes when:

- every ``Deny`` statement of the original is still there, unchanged (``Sid`` aside);
- every ``Allow`` statement of the new document has, in the original, ``Allow`` statements with
  the very same other elements whose actions cover all of its actions (a ``NotAction``
  statement must be kept exactly).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...iam.catalog import load_catalog, matches
from ...iam.policy import PolicyError, load_document, parse_policy

_SHAPE_IGNORED = ("Sid", "Action", "NotAction")


def _shape(raw: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in raw.items() if k not in _SHAPE_IGNORED}, sort_keys=True)


def _whole(raw: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in raw.items() if k != "Sid"}, sort_keys=True)


def problems(original: Any, new: Any) -> list[str]:
    """Why ``new`` may grant what ``original`` does not (empty: it does not)."""
    try:
        old_doc = parse_policy(load_document(original))
        new_doc = parse_policy(load_document(new))
    except (PolicyError, ValueError, TypeError) as exc:
        return [f"not a readable policy document ({exc})"]
    out: list[str] = []
    new_denies = {_whole(s.raw) for s in new_doc.statements if s.effect == "Deny"}
    for s in old_doc.statements:
        if s.effect == "Deny" and _whole(s.raw) not in new_denies:
            out.append(f"Deny statement {s.label} of the original is missing or changed")
    catalog = load_catalog()
    old_allows = [s for s in old_doc.statements if s.effect == "Allow"]
    for s in new_doc.statements:
        if s.effect != "Allow":
            continue
        same = [o for o in old_allows if _shape(o.raw) == _shape(s.raw)]
        if s.actions is None:
            if not any(o.not_actions == s.not_actions for o in same):
                out.append(f"statement {s.label}: a NotAction statement the original lacks")
            continue
        patterns = [p for o in same for p in (o.actions or ())]
        for pattern in s.actions:
            if pattern in patterns:
                continue
            wider = [a for a in catalog.expand(pattern) if not any(matches(p, a) for p in patterns)]
            if wider:
                shown = ", ".join(sorted(wider)[:5])
                out.append(
                    f"statement {s.label}: {pattern} grants {shown} beyond the original "
                    "(on the same resources and conditions)"
                )
    return out
