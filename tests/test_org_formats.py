"""Reports of several accounts in every human format: each finding names its account, the
table, Markdown and HTML group by account (sorted by id) after an accounts summary that shows
each account's scan status, and a report of one account looks as it always did."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
from html.parser import HTMLParser

import pytest
from org_reports import GAPS, LEGACY, NAMES, OUS, PAYMENTS, SANDBOX, SCRIPT_NAME, build

from dormant.model import Report
from dormant.sinks.formats import render
from dormant.sinks.formats.csv_format import COLUMNS

ORDER = [PAYMENTS, SANDBOX, LEGACY]
MD_PRINCIPALS = {
    PAYMENTS: {"pay-ci", "pay-batch"},
    SANDBOX: {"dev-old-lambda"},
}
"""The principals of each scanned account's findings, as Markdown escapes them. (Whatever the
judge says of the account it could not read is about its root user at most.)"""


@pytest.fixture(scope="module")
def org(_emulator_server) -> tuple[Report, dict]:
    emu = _emulator_server
    emu.reset()
    emu.set_auth(None)
    try:
        return build(emu, dt.datetime.now(dt.UTC).replace(microsecond=0))
    finally:
        emu.reset()


def test_the_report_holds_each_accounts_findings(org):
    report, labels = org
    assert [a.account_id for a in report.accounts] == [LEGACY, SANDBOX, PAYMENTS]
    for account_id, expected in labels.items():
        got = {
            (str(f.type), f.principal_name) for f in report.findings if f.account_id == account_id
        }
        assert got == {(x.type, x.principal_name) for x in expected}, account_id


def _section(text: str, start: str, ends: list[str]) -> str:
    """``text`` from ``start`` to the first of ``ends`` after it (or the end)."""
    i = text.index(start)
    cut = [text.index(e, i + 1) for e in ends if e in text[i + 1 :]]
    return text[i : min(cut, default=len(text))]


def _count(report: Report, account_id: str) -> int:
    return sum(1 for f in report.findings if f.account_id == account_id)


def _principals(report: Report, account_id: str) -> set[str]:
    return {f.principal_name for f in report.findings if f.account_id == account_id}


def test_table_groups_by_account_after_an_accounts_summary(org):
    report, _ = org
    text = render(report, "table", width=220)
    headings = [
        "111111111111 (payments-prod) · Root/Prod/Payments",
        f"222222222222 ({SCRIPT_NAME}) · Root/Dev",
        "333333333333 (legacy-archive) · Root/Legacy",
    ]
    # The accounts summary comes first, then one section per account, sorted by id.
    positions = [text.index(h) for h in headings]
    assert text.index("Accounts (1 complete, 1 incomplete, 1 not scanned)") < positions[0]
    assert positions == sorted(positions)

    summary = _section(text, "Accounts (", headings[:1])
    rows = {line.split()[0]: line for line in summary.splitlines() if line[:1].isdigit()}
    assert list(rows) == ORDER
    assert re.search(r"payments-prod\s+Root/Prod/Payments\s+complete\s+4\s*$", rows[PAYMENTS])
    assert re.search(r"Root/Dev\s+incomplete\s+1\s+access_advisor: partial", rows[SANDBOX])
    assert re.search(
        rf"legacy-archive\s+Root/Legacy\s+NOT SCANNED\s+{_count(report, LEGACY)}\s+assume-role: de",
        rows[LEGACY],
    )
    # The sandbox's name is shown as it is, markup and all (a terminal runs nothing).
    assert SCRIPT_NAME in summary

    # Each section holds its account's findings and no other's.
    for account_id, heading in zip(ORDER, headings, strict=True):
        part = _section(text, heading, [h for h in headings if h != heading] + ["finding(s) ("])
        for other in ORDER:
            for name in _principals(report, other) - {"<root_account>"}:
                assert (name in part) == (other == account_id), (heading, name)
    legacy = _section(text, headings[2], ["warning:"])
    assert f"NOT SCANNED: {_count(report, LEGACY)} finding(s); what could not be read:" in legacy
    assert "sts:AssumeRole on resource: arn:aws:iam::333333333333:role/" in " ".join(legacy.split())
    sandbox = _section(text, headings[1], headings[2:])
    assert "1 finding(s); scan incomplete" in sandbox
    assert "access_advisor: partial — GetServiceLastAccessedDetails" in sandbox
    assert "4 finding(s); scan complete" in _section(text, headings[0], headings[1:])

    assert text.rstrip().endswith("3 account(s): 1 complete, 1 incomplete, 1 not scanned.")


def test_table_highlights_an_account_not_scanned(org):
    report, _ = org
    colored = render(report, "table", width=220, color=True)
    # White on red, in the summary and the account's section.
    assert colored.count("\x1b[1;37;41mNOT SCANNED\x1b[0m") == 2


def test_one_account_keeps_the_single_account_layout(org):
    report, _ = org
    one = _only(report, PAYMENTS)
    text = render(one, "table", width=220)
    assert "Account 111111111111 (payments-prod): 4 finding(s)" in text
    assert "Accounts (" not in text and "·" not in text and "scan complete" not in text
    md = render(one, "markdown")
    assert "As of " in md and "accounts: 111111111111 (payments-prod)." in md
    assert "## Accounts" not in md
    assert "| Account | Type | Principal | Subject |" in md


def _only(report: Report, account_id: str) -> Report:
    return dataclasses.replace(
        report,
        accounts=tuple(a for a in report.accounts if a.account_id == account_id),
        findings=tuple(f for f in report.findings if f.account_id == account_id),
        excluded=tuple(f for f in report.excluded if f.account_id == account_id),
        coverage=tuple(c for c in report.coverage if c.account_id == account_id),
    )


def test_markdown_has_an_accounts_table_and_a_section_per_account(org):
    report, _ = org
    md = render(report, "markdown")
    assert "As of " in md and "3 accounts: 1 complete, 1 incomplete, 1 not scanned." in md
    table = _section(md, "## Accounts", ["\n\n## "])
    rows = [line for line in table.splitlines() if line.startswith("| 1") or line.startswith("| 2")]
    rows += [line for line in table.splitlines() if line.startswith("| 3")]
    assert [r.split(" | ")[0][2:] for r in rows] == ORDER
    assert rows[0] == "| 111111111111 | payments-prod | Root/Prod/Payments | complete | 4 |  |"
    n = _count(report, LEGACY)
    assert f"| Root/Legacy | **not scanned** | {n} | assume-role: denied: AssumeRole" in rows[2]
    assert "| Root/Dev | **incomplete** | 1 | access\\_advisor: partial:" in rows[1]

    # The account name's markup is escaped: rendered Markdown shows it as text.
    escaped = 'sandbox \\<script\\>window.\\_\\_pwned="account"\\</script\\>'
    assert escaped in rows[1] and "<script>" not in md

    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Accounts",
        "## 111111111111 (payments-prod) · Root/Prod/Payments",
        f"## 222222222222 ({escaped}) · Root/Dev",
        "## 333333333333 (legacy-archive) · Root/Legacy",
    ]
    for i, account_id in enumerate(ORDER):
        part = _section(md, headings[i + 1], headings[i + 2 :] + ["**Not fully read**"])
        names = {
            line.split(" | ")[1]
            for line in part.splitlines()
            if line.startswith("| ") and not line.startswith(("| Type", "| ---"))
        }
        if account_id == LEGACY:
            assert _principals(report, LEGACY) <= {"<root_account>"}
            assert names == ({"\\<root\\_account\\>"} if _count(report, LEGACY) else set())
        else:
            assert names == MD_PRINCIPALS[account_id], account_id
    legacy = _section(md, headings[3], ["**Not fully read**"])
    assert (
        f"**not scanned**: {_count(report, LEGACY)} finding(s); what could not be read:" in legacy
    )
    assert "- assume-role: denied: AssumeRole AccessDenied: User: arn:aws:sts::" in legacy


def test_csv_names_each_rows_account_in_columns_added_at_the_end(org):
    report, _ = org
    text = render(report, "csv")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    # The columns of earlier versions keep their places; the new ones come last.
    assert header[:22] == list(COLUMNS[:22]) and header[0] == "account_id"
    assert header[-2:] == ["account_name", "ou_path"]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(report.findings) + len(report.excluded)
    seen = set()
    for row in rows:
        account_id = row["account_id"]
        seen.add(account_id)
        assert row["account_name"] == NAMES[account_id]
        assert row["ou_path"] == OUS[account_id]
    # Nothing is judged in an account that could not be read: it has no rows.
    assert seen == {PAYMENTS, SANDBOX} and _count(report, LEGACY) == 0
    # A name holding markup is data, written as it is.
    assert any(r["account_name"] == SCRIPT_NAME for r in rows)


def test_csv_of_an_account_not_in_an_organization_leaves_its_ou_empty(org):
    report, _ = org
    plain = dataclasses.replace(
        _only(report, PAYMENTS),
        accounts=tuple(
            dataclasses.replace(a, ou_path=None) for a in _only(report, PAYMENTS).accounts
        ),
    )
    rows = list(csv.DictReader(io.StringIO(render(plain, "csv"))))
    assert rows and {(r["account_name"], r["ou_path"]) for r in rows} == {("payments-prod", "")}


class _Html(HTMLParser):
    """Elements with an id or a data-account, in document order, with their text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[dict] = []
        self.text: list[str] = []
        self.tags: list[str] = []
        self._open: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        if tag in ("td", "th"):
            rows = [item for t, item in self._open if t == "tr"]
            if rows:
                rows[-1]["cells"].append("")
        if tag in ("tbody", "tr", "section", "option", "select"):
            item = {"tag": tag, **a, "text": "", "cells": []}
            self.items.append(item)
            self._open.append((tag, item))

    def handle_endtag(self, tag):
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                del self._open[i]
                break

    def handle_data(self, data):
        self.text.append(data)
        for _, item in self._open:
            item["text"] += data
        rows = [item for t, item in self._open if t == "tr"]
        if rows and rows[-1]["cells"]:
            rows[-1]["cells"][-1] += data


def _parse(html: str) -> _Html:
    h = _Html()
    h.feed(html)
    h.close()
    return h


def test_html_shows_each_account_its_status_and_groups_the_findings(org):
    report, _ = org
    html = render(report, "html")
    h = _parse(html)
    text = " ".join("".join(h.text).split())

    # Not scanned, up front: the account, its OU and what could not be read.
    (banner,) = [i for i in h.items if i.get("id") == "not-scanned"]
    assert "1 account(s) not scanned" in banner["text"]
    assert "legacy-archive" in banner["text"] and "Root/Legacy" in banner["text"]
    assert f"sts:AssumeRole on resource: arn:aws:iam::{LEGACY}:role/" in banner["text"]
    assert html.index('id="not-scanned"') < html.index('id="findings"')
    assert "3 accounts: 1 complete, 1 incomplete, 1 not scanned" in text

    # The accounts table: sorted by id, each with its name, OU, status and findings.
    rows = [
        i for i in h.items if i["tag"] == "tr" and "class" in i and i["class"].startswith("st-")
    ]
    assert [r["data-account"] for r in rows] == ORDER
    assert [r["class"] for r in rows] == ["st-complete", "st-incomplete", "st-not-scanned"]
    for r in rows:
        aid = r["data-account"]
        account, name, ou, status, findings, excluded, gaps = r["cells"]
        assert (account, name, ou) == (aid, NAMES[aid], OUS[aid])
        assert (findings, excluded) == (str(_count(report, aid)), "0")
        assert gaps == "".join(GAPS[aid])
    assert [r["cells"][3] for r in rows] == ["complete", "incomplete", "not scanned"]

    # Findings: under one heading per account, in id order; each names its account.
    bodies = [i for i in h.items if i.get("class") in ("finding", "acct-head")]
    heads = [b for b in bodies if b.get("class") == "acct-head"]
    assert len(bodies) - len(heads) == len(report.findings)
    # An account that could not be read has no findings (the banner above names it).
    assert [b["data-account"] for b in heads] == [PAYMENTS, SANDBOX]
    current = None
    for b in bodies:
        if b.get("class") == "acct-head":
            current = b["data-account"]
        else:
            assert b["data-account"] == current, (b.get("id"), current)
            assert NAMES[current] in b["text"]
    assert "111111111111 (payments-prod) · Root/Prod/Payments" in heads[0]["text"]
    assert "incomplete" in heads[1]["text"]
    # The account filter offers every account with findings, by id and name.
    options = [i for i in h.items if i["tag"] == "option" and i.get("value", "").isdigit()]
    labelled = {o["value"]: o["text"] for o in options}
    assert list(labelled) == [a for a in ORDER if _count(report, a)]
    assert labelled[PAYMENTS] == "111111111111 (payments-prod)"


def test_html_shows_an_account_name_with_markup_as_text(org):
    report, _ = org
    html = render(report, "html")
    h = _parse(html)
    assert SCRIPT_NAME in "".join(h.text)
    assert "<script>window.__pwned" not in html
    assert h.tags.count("script") == 1
    assert "&lt;script&gt;window.__pwned=&#34;account&#34;&lt;/script&gt;" in html
