"""The HTML report without a browser: every value from AWS is escaped, the file fetches
nothing, prints well, names its evidence, and is byte-for-byte deterministic."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest

from dormant import __version__
from dormant.history import TrendPoint
from dormant.model import (
    AccountInfo,
    CoverageEntry,
    ExceptionStatus,
    Finding,
    FindingType,
    Observation,
    PrincipalType,
    Recommendation,
    Report,
    Verdict,
)
from dormant.sinks.formats import FORMATS, render
from dormant.sinks.formats.html import context

DIGEST = "ab" * 32


AS_OF = "2026-11-29T12:00:00Z"


def payload(field: str) -> str:
    """Markup that would run or fetch something if it were not escaped; names its field."""
    return (
        f'<img src=x onerror="window.__pwned=\'{field}\'"><script>window.__pwned="{field}"</script>'
    )


def hostile_report() -> Report:
    """A report in which every field that can come from AWS (or a hand-edited bundle) holds
    markup."""
    role = Finding(
        type=FindingType.UNUSED_ROLE,
        account_id="111122223333",
        principal_arn="arn:aws:iam::111122223333:role/" + payload("principal_arn"),
        principal_name=payload("principal_name"),
        principal_type=PrincipalType.ROLE,
        verdict=Verdict.UNUSED,
        reason="role last used 120 days ago " + payload("reason"),
        threshold_days=90,
        last_used="2026-08-01T00:00:00Z",
        created="2024-01-01T00:00:00Z",
        days_unused=120,
        evidence=(
            Observation(
                source=payload("evidence_source"),
                field=payload("evidence_field"),
                value=payload("evidence_value"),
                read_at="2026-11-29T11:59:00Z",
                data_as_of="2026-11-29T10:00:00Z",
                note=payload("evidence_note"),
            ),
        ),
        recommendation=Recommendation(
            summary=payload("recommendation_summary"),
            commands=("aws iam get-role --role-name " + payload("command"),),
        ),
        details={
            "tags": {payload("tag_key"): payload("tag_value")},
            "path": payload("details_path"),
            "assumed_by": [
                {
                    "caller": payload("assumed_caller"),
                    "kind": payload("assumed_kind"),
                    "last_seen": "2026-07-01T00:00:00Z",
                    "count": 3,
                }
            ],
            "policy_diff": "--- a\n+++ b\n@@ -1 +1 @@\n-"
            + payload("diff_removed")
            + "\n+"
            + payload("diff_added")
            + "\n",
        },
    )
    key = Finding(
        type=FindingType.UNUSED_ACCESS_KEY,
        account_id="111122223333",
        principal_arn="arn:aws:iam::111122223333:user/alice",
        principal_name="alice",
        principal_type=PrincipalType.USER,
        verdict=Verdict.NEVER_USED,
        reason="never used",
        threshold_days=90,
        created="2025-01-01T00:00:00Z",
        days_unused=697,
        access_key_id=payload("access_key_id"),
    )
    insufficient = Finding(
        type=FindingType.INACTIVE_USER,
        account_id="444455556666",
        principal_arn="arn:aws:iam::444455556666:user/bob",
        principal_name="bob",
        principal_type=PrincipalType.USER,
        verdict=Verdict.INSUFFICIENT_EVIDENCE,
        reason="an SSH key",
        threshold_days=90,
    )
    excluded = Finding(
        type=FindingType.UNUSED_ROLE,
        account_id="111122223333",
        principal_arn="arn:aws:iam::111122223333:role/vendor",
        principal_name=payload("excluded_name"),
        principal_type=PrincipalType.ROLE,
        verdict=Verdict.EXCLUDED,
        reason="unused",
        threshold_days=90,
        excluded_by=payload("excluded_by"),
    )
    return Report(
        as_of=AS_OF,
        accounts=(
            AccountInfo(
                "111122223333",
                payload("account_name"),
                "2026-11-29T11:59:00Z",
                payload("scanner_arn"),
                credential_report_generated_at="2026-11-29T06:00:00Z",
                ou_path=payload("ou_path"),
            ),
            AccountInfo(
                "444455556666",
                None,
                "2026-11-29T11:58:00Z",
                None,
                scan_status="not-scanned",
                scan_gaps=(payload("scan_gap"),),
            ),
        ),
        findings=(role, key, insufficient),
        excluded=(excluded,),
        coverage=(
            CoverageEntry(
                account_id="444455556666",
                source="other_credentials",
                status="denied",
                read_at="2026-11-29T11:58:00Z",
                errors=(
                    {
                        "operation": "ListSSHPublicKeys",
                        "code": "AccessDenied",
                        "message": payload("coverage_message"),
                        "target": payload("coverage_target"),
                    },
                ),
                affects="inactive users",
                operations={"ListSSHPublicKeys": {"calls": 1, "errors": 1, "status": "denied"}},
            ),
        ),
        exceptions=(
            ExceptionStatus(
                pattern=payload("exception_pattern"),
                owner=payload("exception_owner"),
                reason=payload("exception_reason"),
                expires="2025-01-01",
                expired=True,
                matched=(role.id,),
            ),
        ),
        thresholds={"UnusedIAMRole": 90},
        policy_source=payload("policy_source"),
        snapshot_digest=DIGEST,
        warnings=(payload("warning"),),
        assessed={"roles": 2},
    )


FIELDS = [
    "principal_arn",
    "principal_name",
    "reason",
    "evidence_source",
    "evidence_field",
    "evidence_value",
    "evidence_note",
    "recommendation_summary",
    "command",
    "tag_key",
    "tag_value",
    "details_path",
    "assumed_caller",
    "assumed_kind",
    "diff_removed",
    "diff_added",
    "access_key_id",
    "excluded_name",
    "excluded_by",
    "account_name",
    "ou_path",
    "scan_gap",
    "scanner_arn",
    "coverage_message",
    "coverage_target",
    "exception_pattern",
    "exception_owner",
    "exception_reason",
    "policy_source",
    "warning",
]


class Parsed(HTMLParser):
    """Tags, attributes, text, and the bodies of <style> and <script>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.raw: dict[str, list[str]] = {"style": [], "script": []}
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in self.raw:
            self._in = tag
            self.raw[tag].append("")

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in:
            self.raw[self._in][-1] += data
        else:
            self.text.append(data)


@pytest.fixture(scope="module")
def hostile() -> tuple[str, Parsed]:
    html = render(hostile_report(), "html", history=[])
    parsed = Parsed()
    parsed.feed(html)
    parsed.close()
    return html, parsed


def test_registered_as_a_format():
    from dormant.cli import FORMAT_NAMES

    assert "html" in FORMATS and "html" in FORMAT_NAMES


@pytest.mark.parametrize("field", FIELDS)
def test_every_aws_field_is_shown_as_text(hostile, field):
    html, parsed = hostile
    text = "".join(parsed.text)
    # Shown, literally, as text a person can read...
    assert f'window.__pwned="{field}"' in text, field
    # ...and never as markup.
    assert f"onerror=\"window.__pwned='{field}'\"" not in html
    assert f'<script>window.__pwned="{field}"' not in html


def test_no_markup_from_the_data(hostile):
    html, parsed = hostile
    tags = {t for t, _ in parsed.tags}
    assert "img" not in tags
    assert [t for t, _ in parsed.tags].count("script") == 1
    assert not [(t, a) for t, attrs in parsed.tags for a in attrs if a.lower().startswith("on")], (
        "no inline event handler"
    )
    assert "__pwned" not in "".join(parsed.raw["script"])


def test_csp_forbids_every_fetch_and_allows_only_the_inline_assets(hostile):
    html, parsed = hostile
    metas = [
        a
        for t, a in parsed.tags
        if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert len(metas) == 1
    csp = metas[0]["content"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["default-src"] == "'none'"
    for name in ("img-src", "connect-src", "font-src", "object-src", "base-uri", "form-action"):
        assert directives[name] == "'none'", name
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp

    def sha(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    (style,) = parsed.raw["style"]
    (script,) = parsed.raw["script"]
    assert directives["style-src"] == sha(style)
    assert directives["script-src"] == sha(script)
    # The CSP comes before anything it governs.
    assert html.index("Content-Security-Policy") < html.index("<style>")


def test_self_contained(hostile):
    html, parsed = hostile
    for tag, attrs in parsed.tags:
        assert "src" not in attrs or tag == "img", (tag, attrs)
        if "href" in attrs:
            assert attrs["href"].startswith("#"), (tag, attrs)
    assert not [t for t, _ in parsed.tags if t in ("link", "iframe", "object", "embed", "base")]
    assert "url(" not in "".join(parsed.raw["style"])
    assert "fetch(" not in "".join(parsed.raw["script"])
    assert "XMLHttpRequest" not in "".join(parsed.raw["script"])


def test_print_stylesheet(hostile):
    _, parsed = hostile
    (style,) = parsed.raw["style"]
    media = style[style.index("@media print") :]
    assert re.search(r"\.controls[^{]*\{[^}]*display:\s*none", media)
    assert re.search(r"tr\.evidence[^{]*\{[^}]*display:\s*table-row\s*!important", media)
    assert "break-inside" in media and "@page" in media


def test_names_the_evidence_the_time_and_the_tool(hostile):
    html, parsed = hostile
    text = " ".join(parsed.text)
    assert f"snapshot manifest sha256 {DIGEST}" in text
    assert AS_OF in text
    assert f"dormant {__version__}" in text


def test_same_report_same_bytes():
    points = [TrendPoint(1, "2026-10-01T00:00:00Z", {"111122223333": 5})]
    first = render(hostile_report(), "html", history=points)
    assert first == render(hostile_report(), "html", history=points)
    # Nothing of the rendering moment: only the report's own times appear.
    years = set(re.findall(r"\b20\d\d-\d\d-\d\d", first))
    assert years <= {
        "2026-11-29",
        "2026-08-01",
        "2024-01-01",
        "2025-01-01",
        "2026-07-01",
        "2026-10-01",
    }


def test_sections_that_must_stand_out(hostile):
    html, parsed = hostile
    text = " ".join(parsed.text)
    # Coverage gaps, prominently, before the findings.
    assert 'id="coverage-gaps"' in html
    assert html.index('id="coverage-gaps"') < html.index('id="findings"')
    assert "Coverage gaps: 1 source(s) not fully read" in text
    # The expired exception is flagged and links to the finding it no longer covers.
    assert "EXPIRED" in text
    role = hostile_report().findings[0]
    assert f'href="#f-{role.id}"' in html
    # Credential report freshness: 6 h before as_of is more than its 4 h cycle.
    assert "6 h before as_of" in text and "older than 4 h" in text
    # Who assumed the role, and the policy diff with added and removed lines.
    assert "Assumed by (CloudTrail)" in text
    assert 'class="add"' in html and 'class="del"' in html
    # Excluded, with the rule.
    assert 'window.__pwned="excluded_by"' in text


def test_charts_are_inline_svg_from_the_data(hostile):
    html, parsed = hostile
    ctx = context(hostile_report(), [])
    assert ctx["histograms"] and ctx["timeline"] and ctx["per_account"] and ctx["per_type"]
    svgs = [a for t, a in parsed.tags if t == "svg"]
    # One histogram per type, the timeline, per account, per type.
    assert len(svgs) == len(ctx["histograms"]) + 3
    # Four bars in the per-type and per-account charts' rects at least, one circle per dated
    # finding on the timeline (the insufficient one has no date).
    assert ctx["timeline"]["undated"] == 1
    assert len(ctx["timeline"]["dots"]) == 2
    assert "No recorded runs of these accounts yet." in " ".join(parsed.text)


def test_trend_line_from_history():
    points = [
        TrendPoint(1, "2026-10-01T00:00:00Z", {"111122223333": 5, "444455556666": 1}),
        TrendPoint(4, "2026-11-01T00:00:00Z", {"111122223333": 3}),
        TrendPoint(7, AS_OF, {"111122223333": 2, "444455556666": 1}),
    ]
    html = render(hostile_report(), "html", history=points)
    assert 'id="chart-trend"' in html
    chart = html[html.index('id="chart-trend"') :]
    chart = chart[: chart.index("</figure>")]
    assert chart.count("<polyline") == 2
    assert "run 7, as of 2026-11-29T12:00:00Z: 2 open finding(s) in 111122223333" in chart
    assert "run 4, as of 2026-11-01T00:00:00Z: 3 open finding(s)" in chart
    # History off: said so.
    off = render(hostile_report(), "html")
    assert 'id="trend-off"' in off and 'id="chart-trend"' not in off


def test_an_empty_report_renders():
    empty = Report(
        as_of=AS_OF,
        accounts=(AccountInfo("111122223333", None, AS_OF, None),),
        findings=(),
        excluded=(),
        coverage=(),
        exceptions=(),
        thresholds={},
        policy_source=None,
        snapshot_digest=None,
    )
    html = render(empty, "html")
    assert 'id="no-findings"' in html and 'id="coverage-ok"' in html
    assert "No findings to chart." in html


def test_the_cli_renders_the_same_bytes_twice(shared_data):
    from test_scan_scenario import run_cli

    csv = next(
        (shared_data / "custodian-placebo-iam" / "extracted_credential_reports").glob("*.csv")
    )
    args = ("analyze", str(csv), "--format", "html", "--no-history", "--as-of", AS_OF)
    first, second = (run_cli(*args).stdout for _ in range(2))
    assert first == second
    assert first.startswith("<!DOCTYPE html>") and "roles were not judged" in first
