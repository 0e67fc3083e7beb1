"""The local engine's aggregation: typed events in, mergeable partial aggregates out.

The hot loop groups events by a small tuple of raw fields (identity type, principal, long-term
key, event source, event name, error) and keeps a count and the earliest and latest time per
group. It looks groups up by the key's hash (an int compares in one step, where a tuple of
freshly decoded strings costs a cache miss per string: a fifth of the engine's time) and keeps
the key beside; two keys would be merged only if their 64-bit hashes collided, about 1 in 10^10
for the 60,000 groups of a large account. :meth:`Partial.fold` re-keys the groups by the keys
themselves before partials meet (hashes differ between processes). Everything else (ARN rules,
IAM action names, sorting) runs once per group, in :mod:`dormant.trail.finalize`. Partials from
different files or processes merge by adding counts and taking maxima, so the result does not
depend on the order files are read in.

Cross-account assumptions. AWS logs a cross-account AssumeRole in both accounts with one
``sharedEventID``: in the caller's account with the caller's full identity, in the role's
account with an ``AWSAccount`` identity. Joining on ``sharedEventID`` would need memory that
grows with the corpus, so instead both copies are counted per (role, caller account): the
assumptions are the larger of the two sides' counts, attributed to the caller-side identities,
with any surplus on the role's side attributed to ``account:<id>``. This is exact whenever one
side's logs cover the other's (an organization trail, or one account's trail alone).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from dataclasses import dataclass, field
from sys import intern

from .evidence import MAX_ERRORS, TrailEvidence
from .finalize import bump, error_key
from .identity import (
    CROSS_ACCOUNT_CALLER_TYPES,
    OTHER_TYPES,
    PRINCIPAL_TYPES,
)
from .records import Event, Item, assume_params, console_login_result, role_resources, unwrap

ASSUME_EVENTS = frozenset({"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"})
SPECIAL_EVENTS = ASSUME_EVENTS | {"ConsoleLogin"}


@dataclass(frozen=True)
class Filters:
    """What to keep, checked per record (files are pruned by key name before this)."""

    accounts: frozenset[str] | None = None
    """Keep events received by (or, lacking ``recipientAccountId``, made from) these accounts."""
    regions: frozenset[str] | None = None
    """Keep events of these regions."""
    start: dt.datetime | None = None
    """Keep events at or after this time (aware)."""
    end: dt.datetime | None = None
    """Keep events before this time (aware)."""

    @property
    def active(self) -> bool:
        return bool(self.accounts or self.regions or self.start or self.end)

    def keep(self, ev: Event, t: dt.datetime) -> bool:
        if self.start is not None and t < self.start:
            return False
        if self.end is not None and t >= self.end:
            return False
        if self.regions and ev.awsRegion not in self.regions:
            return False
        if self.accounts:
            acct = ev.recipientAccountId
            if acct is None and ev.userIdentity is not None:
                acct = ev.userIdentity.accountId
            if acct not in self.accounts:
                return False
        return True


@contextlib.contextmanager
def no_gc():
    """Pause the cyclic garbage collector. The aggregates hold no reference cycles, and with
    tens of thousands of live groups each collection walks them all: pausing it makes building
    them about twice as fast. Reference counting still frees everything as usual."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass
class Partial:
    """A mergeable aggregate of some files' events (mutable: it is the accumulator)."""

    filters: Filters = field(default_factory=Filters)
    """What to keep of each record."""
    read: int = 0
    """Records read."""
    skipped: int = 0
    """Records that could not be used."""
    filtered: int = 0
    """Records outside the filters."""
    files: int = 0
    """Files (objects, pages) read, failed ones included."""
    errors: list[tuple[str, int | None, str]] = field(default_factory=list)
    """(file, record, message), trimmed to the first ``MAX_ERRORS`` now and then."""
    errors_total: int = 0
    """All errors, kept or trimmed."""
    groups: dict[tuple, list] = field(default_factory=dict)
    """(type, principal, AKIA key, source, name, error) -> [first, last, count]."""
    hot: dict[int, list] = field(default_factory=dict, repr=False)
    """The hot loop's groups: hash of the key -> [first, last, count, key]; folded into
    ``groups`` by :meth:`fold` (see the module's docstring)."""
    assume: dict[tuple, list] = field(default_factory=dict)
    """(role, caller, kind, provider, subject, side, caller account) -> [last, count];
    side is ``s`` (logged once), ``c`` (caller's copy) or ``o`` (role owner's copy)."""
    console: dict[str, list] = field(default_factory=dict)
    """user ARN -> [last, count] of successful console sign-ins."""
    _positions_of: list | None = field(default=None, repr=False, compare=False)
    """The file whose record positions ``_positions`` maps (while it is being added)."""
    _positions: dict[int, int] | None = field(default=None, repr=False, compare=False)
    """id(record) -> position in its file, built at a file's first error."""

    # Reading.

    def error(self, file: str, record: int | None, message: str) -> None:
        self.errors_total += 1
        self.errors.append((file, record, message))
        if len(self.errors) > 2 * MAX_ERRORS:
            self.errors.sort(key=error_key)
            del self.errors[MAX_ERRORS:]

    def file_error(self, file: str, message: str) -> None:
        self.files += 1
        self.error(file, None, message)

    def add(
        self, file: str, items: list[Item] | list[Event], bad: dict[int, str] | None = None
    ) -> None:
        """Aggregate one file's items; ``bad`` maps positions that failed decoding to why.

        This is the engine's hot loop: per event, a few attribute reads, one tuple and one
        dict look-up. Anything unusual (a wrapper, a missing time or identity, an unknown
        type) leaves the fast path."""
        self.files += 1
        self.read += len(items)
        if items and type(items[0]) is not Event:
            items, bad = _unwrap_all(items, bad)
        hot = self.hot
        get = hot.get
        filters = self.filters
        filtering = filters.active
        other = OTHER_TYPES
        special = SPECIAL_EVENTS
        for ev in items:
            t = ev.eventTime
            ui = ev.userIdentity
            if t is None or ui is None:
                t = self._slow_checks(file, items, ev, bad)
                if t is None:
                    continue
            ty = ui.type
            if ty == "IAMUser" or ty == "Root":
                p = ui.arn
                ak = ui.accessKeyId
                if ak is not None and not ak.startswith("AKIA"):
                    ak = None
            elif ty == "AssumedRole" or ty == "FederatedUser":
                ak = None  # the issuer; a session ARN is resolved to its role in evidence()
                sc = ui.sessionContext
                if sc is not None and sc.sessionIssuer is not None:
                    p = sc.sessionIssuer.arn or ui.arn
                else:
                    p = ui.arn
            elif ty in other:
                p = ak = None
            else:
                self._skip(file, self._position(items, ev), _type_problem(ty))
                continue
            if filtering and not filters.keep(ev, t):
                self.filtered += 1
                continue
            en = ev.eventName
            err = ev.errorCode or None
            if en in special:
                err = self._special(ev, ty, p, t, en, err)
            key = (ty, p, ak, ev.eventSource, en, err)
            h = hash(key)
            g = get(h)
            if g is None:
                hot[h] = [t, t, 1, _interned(key)]
            else:
                g[2] += 1
                if t > g[1]:
                    g[1] = t
                elif t < g[0]:
                    g[0] = t
        self._positions_of = self._positions = None

    def _slow_checks(self, file: str, items, ev: Event, bad: dict[int, str] | None):
        """The time of an event with no ``eventTime`` (Logstash's ``@timestamp``), or None when
        the event is skipped (no usable time, no identity)."""
        t = ev.eventTime or ev.timestamp
        if t is not None and ev.userIdentity is not None:
            return t
        i = self._position(items, ev)
        if t is None:
            reason = bad.get(i) if bad else None
            self._skip(file, i, reason or "no usable time: the record has no eventTime")
        else:
            self._skip(file, i, "the record has no userIdentity")
        return None

    def _position(self, items: list, ev) -> int:
        """The position of ``ev`` in its file, for an error. The hot loop does not count
        positions; the first error of a file maps them all at once."""
        if self._positions_of is not items:
            self._positions_of = items
            self._positions = {id(x): i for i, x in enumerate(items)}
        return self._positions[id(ev)]

    def _skip(self, file: str, index: int, message: str) -> None:
        self.skipped += 1
        self.error(file, index, message)

    def _special(self, ev: Event, ty: str, p: str | None, t, en: str, err: str | None):
        if en == "ConsoleLogin":
            result = console_login_result(ev)
            if err is None and result is not None and result != "Success":
                err = f"ConsoleLogin{result}"[:64]
            elif err is None and result == "Success" and p and ty in ("IAMUser", "Root"):
                bump(self.console, p, t)
            return err
        if err is not None or ev.eventSource != "sts.amazonaws.com":
            return err
        params = assume_params(ev)
        role = params.roleArn if params is not None else None
        if not role:
            roles = role_resources(ev)
            role = roles[0] if roles else None
        if not role:
            return err
        ui = ev.userIdentity
        provider = subject = None
        if ty in PRINCIPAL_TYPES:
            caller = p or ui.principalId or "unknown"
        elif ty == "AWSAccount":
            caller = f"account:{ui.accountId or 'unknown'}"
        elif ty == "AWSService":
            caller = ui.invokedBy or ui.principalId or "unknown"
        elif ty in ("SAMLUser", "WebIdentityUser"):
            provider = (params.principalArn if params is not None else None) or ui.identityProvider
            subject = ui.userName
            caller = f"{provider}:{subject or ''}" if provider else (ui.principalId or "unknown")
        else:
            caller = ui.arn or ui.principalId or "unknown"
        side, caller_account = "s", None
        if ev.sharedEventID:
            if ty == "AWSAccount":
                side, caller_account = "o", ui.accountId
            elif ty in CROSS_ACCOUNT_CALLER_TYPES:
                side, caller_account = "c", ui.accountId
        key = (intern(role), intern(caller), ty, provider, subject, side, caller_account)
        bump(self.assume, key, t)
        return err

    # Merging.

    def fold(self) -> None:
        """Move the hot loop's groups into ``groups``, keyed by the key itself (hashes are
        per process, keys are not)."""
        groups = self.groups
        for first, last, n, key in self.hot.values():
            g = groups.get(key)
            if g is None:
                groups[key] = [first, last, n]
            else:
                g[2] += n
                if last > g[1]:
                    g[1] = last
                if first < g[0]:
                    g[0] = first
        self.hot.clear()

    def merge(self, other: Partial) -> None:
        self.fold()
        other.fold()
        self.read += other.read
        self.skipped += other.skipped
        self.filtered += other.filtered
        self.files += other.files
        self.errors_total += other.errors_total
        self.errors.extend(other.errors)
        if len(self.errors) > 2 * MAX_ERRORS:
            self.errors.sort(key=error_key)
            del self.errors[MAX_ERRORS:]
        groups = self.groups
        for key, (first, last, n) in other.groups.items():
            g = groups.get(key)
            if g is None:
                groups[key] = [first, last, n]
            else:
                g[2] += n
                if last > g[1]:
                    g[1] = last
                if first < g[0]:
                    g[0] = first
        for target, source in ((self.assume, other.assume), (self.console, other.console)):
            for key, (last, n) in source.items():
                g = target.get(key)
                if g is None:
                    target[key] = [last, n]
                else:
                    g[1] += n
                    if last > g[0]:
                        g[0] = last

    # Results.

    def evidence(self) -> TrailEvidence:
        """The evidence: rules applied once per group, everything sorted."""
        from .finalize import build_evidence

        self.fold()
        with no_gc():
            return build_evidence(self)


def _type_problem(ty: str | None) -> str:
    return "userIdentity has no type" if ty is None else f"unknown identity type {ty[:40]!r}"


def _unwrap_all(items: list[Item], bad: dict[int, str] | None):
    """The events inside envelopes and LookupEvents results, position for position: one that
    cannot be decoded becomes an empty event, skipped with its reason."""
    out: list[Event] = []
    copied = False
    for i, item in enumerate(items):
        ev = unwrap(item)
        if ev is None:
            if not copied:
                bad, copied = dict(bad or {}), True
            bad[i] = "LookupEvents CloudTrailEvent is not a decodable event"
            ev = Event()
        out.append(ev)
    return out, bad


def _interned(key: tuple) -> tuple:
    """The key of a new group with its strings interned: a new group's strings are fresh copies
    decoded from one event, and tens of thousands of groups would each keep their own copy of
    the same ARNs and names (about 350 bytes a group). Called once per group, not per event."""
    ty, p, ak, src, name, err = key
    return (
        ty if ty is None else intern(ty),
        p if p is None else intern(p),
        ak,
        src if src is None else intern(src),
        name if name is None else intern(name),
        err,
    )
