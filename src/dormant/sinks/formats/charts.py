"""Chart geometry for the HTML report: numbers and labels only.

Each function turns report data into a plain dict of shapes (bars, dots, lines, ticks) in SVG
user units. The template draws them as inline SVG, so every label goes through Jinja's
autoescape like any other text, and no markup is built here. Pure and deterministic: the same
input gives the same shapes.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Any

from ...model import Finding, Verdict
from ...timeutil import parse_time

VERDICT_ORDER = (
    Verdict.UNUSED,
    Verdict.NEVER_USED,
    Verdict.INSUFFICIENT_EVIDENCE,
    Verdict.USED,
    Verdict.EXCLUDED,
)

BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("≤30", 30),
    ("≤90", 90),
    ("≤180", 180),
    ("≤1 y", 365),
    ("≤2 y", 730),
    (">2 y", None),
)
"""Days-unused buckets: label and inclusive upper bound (None: unbounded)."""
UNKNOWN_BUCKET = "n/a"

SERIES_CLASSES = tuple(f"s{i}" for i in range(6))
"""CSS classes of the line colours of the trend chart, reused in turn."""


def _verdict_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counts = {str(v): 0 for v in VERDICT_ORDER}
    for f in findings:
        counts[str(f.verdict)] += 1
    return {k: n for k, n in counts.items() if n}


def nice_max(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^k that is at least ``value`` (at least 1)."""
    if value <= 1:
        return 1
    exp = 10 ** int(math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * exp >= value:
            return step * exp
    return 10 * exp  # pragma: no cover - the loop always returns


def _ticks(top: int) -> list[int]:
    """Axis ticks from 0 to a ``nice_max`` value: 0, 1, 2 ... up to 5, else 4 or 5 steps."""
    if top <= 5:
        step = 1
    else:
        step = top // 4 if str(top).startswith("2") else top // 5
    return list(range(0, top + 1, step))


def bucket_of(days: int | None) -> str:
    if days is None:
        return UNKNOWN_BUCKET
    for label, upper in BUCKETS:
        if upper is None or days <= upper:
            return label
    return BUCKETS[-1][0]  # pragma: no cover


def histograms(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """Per finding type, a bar chart of days since last use, each bar stacked by verdict.

    One shared y scale, so panels compare at a glance.
    """
    labels = [label for label, _ in BUCKETS] + [UNKNOWN_BUCKET]
    by_type: dict[str, dict[str, list[Finding]]] = {}
    for f in findings:
        by_type.setdefault(str(f.type), {b: [] for b in labels})[bucket_of(f.days_unused)].append(f)
    if not by_type:
        return []
    top = nice_max(max(len(v) for per in by_type.values() for v in per.values()))
    width, height, left, bottom, top_pad = 280, 140, 26, 20, 10
    plot_h = height - bottom - top_pad
    slot = (width - left - 4) / len(labels)
    bar_w = slot * 0.7
    panels = []
    for ftype in sorted(by_type):
        bars = []
        for i, label in enumerate(labels):
            group = by_type[ftype][label]
            x = left + i * slot + (slot - bar_w) / 2
            y = height - bottom
            segments = []
            for verdict, n in _verdict_counts(group).items():
                h = plot_h * n / top
                y -= h
                segments.append(
                    {
                        "x": round(x, 1),
                        "y": round(y, 1),
                        "w": round(bar_w, 1),
                        "h": round(h, 1),
                        "verdict": verdict,
                        "title": f"{ftype}: {n} {verdict}, {label} days since last use",
                    }
                )
            bars.append(
                {
                    "label": label,
                    "cx": round(left + i * slot + slot / 2, 1),
                    "count": len(group),
                    "ty": round(y - 2, 1),
                    "segments": segments,
                }
            )
        panels.append(
            {
                "type": ftype,
                "total": sum(b["count"] for b in bars),
                "width": width,
                "height": height,
                "left": left,
                "base": height - bottom,
                "top": top,
                "ticks": [
                    {"value": t, "y": round(height - bottom - plot_h * t / top, 1)}
                    for t in _ticks(top)
                ],
                "bars": bars,
            }
        )
    return panels


TIME_TICKS: tuple[tuple[float, str], ...] = (
    (0, "as_of"),
    (1, "1 d"),
    (7, "1 w"),
    (30, "30 d"),
    (90, "90 d"),
    (180, "180 d"),
    (365, "1 y"),
    (730, "2 y"),
    (1825, "5 y"),
    (3650, "10 y"),
    (7300, "20 y"),
)
"""Ticks of the timeline, in days before ``as_of``."""


def timeline(findings: Sequence[Finding], as_of: str) -> dict[str, Any] | None:
    """Last use (or, never used, creation) of each finding before ``as_of``, a lane per type.

    The axis is days before ``as_of`` on a log scale (log of 1 + days), so last week and five
    years ago both stay readable; dashed marks show each threshold: a dot left of its type's
    mark is older than the threshold.
    """
    end = parse_time(as_of)
    items = []
    for f in findings:
        when = f.last_used or (f.created if f.verdict == Verdict.NEVER_USED else None)
        if when is not None:
            at = parse_time(when)
            days = max(0.0, (end - at).total_seconds() / 86400)
        elif f.verdict == Verdict.UNUSED and f.days_unused is not None:
            # No use in all the evidence covers (IAM's 400 days, say): plotted where the
            # evidence begins, hollow, since the last use is at least that old.
            days = float(f.days_unused)
            at = end - dt.timedelta(days=days)
        else:
            continue
        items.append((f, at, days, f.last_used is None))
    undated = len(findings) - len(items)
    if not items:
        return None
    types = sorted({str(f.type) for f, _, _, _ in items})
    thresholds = sorted({f.threshold_days for f, _, _, _ in items})
    oldest = max([d for _, _, d, _ in items] + thresholds)
    span = next((t for t, _ in TIME_TICKS if t >= oldest), oldest)
    left, right, lane_h, top_pad, axis_h = 190, 24, 26, 18, 22
    width = 900
    plot_w = width - left - right
    height = top_pad + lane_h * len(types) + axis_h

    def x_of(days: float) -> float:
        return round(left + plot_w * (1 - math.log1p(days) / math.log1p(span)), 1)

    lanes = [
        {"label": t, "y": top_pad + lane_h * i + lane_h / 2, "y0": top_pad + lane_h * i}
        for i, t in enumerate(types)
    ]
    lane_y = {lane["label"]: lane["y"] for lane in lanes}
    dots = []
    for f, at, days, never in sorted(items, key=lambda it: (str(it[0].type), it[1], it[0].id)):
        what = (
            "last used"
            if not never
            else "created, never used"
            if f.verdict == Verdict.NEVER_USED
            else "no use since at least"
        )
        dots.append(
            {
                "x": x_of(days),
                "y": lane_y[str(f.type)],
                "verdict": str(f.verdict),
                "hollow": never,
                "title": f"{f.principal_name}"
                + (f" {f.access_key_id}" if f.access_key_id else "")
                + f": {what} {at.date().isoformat()}, {int(days)} d before as_of ({f.verdict})",
            }
        )
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "top": top_pad,
        "base": top_pad + lane_h * len(types),
        "lanes": lanes,
        "dots": dots,
        "ticks": [{"label": label, "x": x_of(t)} for t, label in TIME_TICKS if t <= span],
        "marks": [{"label": f"threshold {t} d", "x": x_of(t)} for t in thresholds],
        "as_of_label": end.date().isoformat(),
        "undated": undated,
    }


def stacked_bars(groups: Sequence[tuple[str, Sequence[Finding]]]) -> dict[str, Any] | None:
    """Horizontal bars, one per (label, findings), stacked by verdict."""
    groups = [(label, fs) for label, fs in groups if fs]
    if not groups:
        return None
    left, right, row_h, top_pad, axis_h = 220, 36, 22, 6, 20
    width = 580
    plot_w = width - left - right
    top = nice_max(max(len(fs) for _, fs in groups))
    rows = []
    for i, (label, fs) in enumerate(groups):
        y = top_pad + i * row_h + 3
        x = float(left)
        segments = []
        for verdict, n in _verdict_counts(fs).items():
            w = plot_w * n / top
            segments.append(
                {
                    "x": round(x, 1),
                    "w": round(w, 1),
                    "verdict": verdict,
                    "title": f"{label}: {n} {verdict}",
                }
            )
            x += w
        rows.append(
            {
                "label": label,
                "y": y,
                "h": row_h - 6,
                "ty": y + (row_h - 6) / 2,
                "count": len(fs),
                "end": round(x + 4, 1),
                "segments": segments,
            }
        )
    height = top_pad + row_h * len(rows) + axis_h
    return {
        "width": width,
        "height": height,
        "left": left,
        "base": top_pad + row_h * len(rows),
        "rows": rows,
        "ticks": [{"value": t, "x": round(left + plot_w * t / top, 1)} for t in _ticks(top)],
    }


def trend(points: Sequence[Any], account_labels: dict[str, str]) -> dict[str, Any] | None:
    """Open findings per account over past runs: one line per account, a dot per run.

    ``points`` are history trend points (``run_id``, ``as_of``, ``counts`` by account), oldest
    first. Runs are spaced evenly: the labels give their dates.
    """
    if not points:
        return None
    accounts = sorted({a for p in points for a in p.counts})
    if not accounts:
        return None
    left, right, top_pad, bottom = 46, 230, 12, 34
    width, height = 900, 220
    plot_w = width - left - right
    plot_h = height - top_pad - bottom
    top = nice_max(max(max(p.counts.values(), default=0) for p in points))
    n = len(points)

    def x_of(i: int) -> float:
        return round(left + (plot_w / 2 if n == 1 else plot_w * i / (n - 1)), 1)

    def y_of(v: int) -> float:
        return round(top_pad + plot_h - plot_h * v / top, 1)

    series = []
    for k, account in enumerate(accounts):
        dots = []
        for i, p in enumerate(points):
            if account not in p.counts:
                continue
            v = p.counts[account]
            dots.append(
                {
                    "x": x_of(i),
                    "y": y_of(v),
                    "value": v,
                    "title": f"run {p.run_id}, as of {p.as_of}: {v} open finding(s) in "
                    f"{account_labels.get(account, account)}",
                }
            )
        series.append(
            {
                "label": account_labels.get(account, account),
                "cls": SERIES_CLASSES[k % len(SERIES_CLASSES)],
                "points": " ".join(f"{d['x']},{d['y']}" for d in dots),
                "dots": dots,
                "ly": top_pad + 14 * k + 8,
            }
        )
    every = max(1, math.ceil(n / 6))
    labels = [
        {"x": x_of(i), "label": str(p.as_of)[:10], "run": p.run_id}
        for i, p in enumerate(points)
        if i % every == 0 or i == n - 1
    ]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": left + plot_w,
        "top": top_pad,
        "base": top_pad + plot_h,
        "series": series,
        "labels": labels,
        "ticks": [{"value": t, "y": y_of(t)} for t in _ticks(top)],
        "runs": n,
    }
