"""Remediation: a sink that retires unused access safely.

``plan`` (offline, from findings and the evidence bundle) -> a person reviews it -> ``apply``
(a dry run by default; with ``--apply`` every change is journaled before it is made) ->
``rollback`` from the journal. See docs/remediation.md.

- :mod:`.plan`: the plan document and its checks;
- :mod:`.build` and :mod:`.permissions`: making a plan from findings;
- :mod:`.calls`: the AWS calls, their checks and their inverses;
- :mod:`.journal`: the SQLite journal;
- :mod:`.apply`, :mod:`.rollback` and :mod:`.runner`: the engines;
- :mod:`.render`: text for people.
"""

from __future__ import annotations

from .apply import Applier, Options, Outcome, Result
from .build import build_plan
from .journal import Journal, JournalError, default_path
from .plan import Kind, Plan, Step
from .rollback import Rollbacker, RollbackOptions

__all__ = [
    "Applier",
    "Journal",
    "JournalError",
    "Kind",
    "Options",
    "Outcome",
    "Plan",
    "Result",
    "RollbackOptions",
    "Rollbacker",
    "Step",
    "build_plan",
    "default_path",
]
