"""The HTML report in a real browser: Debian's Chromium, headless, driven by Playwright.

The demo company (plus two roles carrying markup in their tags and name) is scanned through
the CLI with the demo policy, --format html; the file is opened from disk. So is the report of
three accounts of tests/org_reports.py (grouped by account, one not scanned). No browser is ever
downloaded: without /usr/bin/chromium these tests skip, unless DORMANT_REQUIRE_BROWSER=1 (CI),
where they fail.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from test_scan_scenario import run_cli

from dormant.demo import moto_ext
from dormant.demo.company import DEMO_POLICY, company
from dormant.demo.seed import Expect, Role, seed

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRED = os.environ.get("DORMANT_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

SCRIPT_TAG = "<script>window.__pwned=1</script>"
IMG_TAG = '<img src=x onerror="window.__pwned=2">'
IMG_NAME = '<img src=x onerror="window.__pwned=3">'


def _browser_or_skip() -> None:
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[test]')")
    if missing:
        why = "browser tests need " + " and ".join(missing)
        if REQUIRED:
            pytest.fail(why + "; DORMANT_REQUIRE_BROWSER=1 makes them required")
        pytest.skip(why)


@pytest.fixture(scope="module")
def browser():
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def report(_emulator_server, tmp_path_factory) -> dict:
    """Scan the demo company, plus hostile roles, into an HTML report (history on, so the
    trend shows this run)."""
    _browser_or_skip()  # no scan when the browser tests cannot run
    emu = _emulator_server
    emu.reset()
    emu.set_auth(None)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    spec = company()
    unused = [Expect("UnusedIAMRole", "never-used")]
    spec.roles.append(
        Role("tagged-payload", age=200, tags={"note": SCRIPT_TAG, "owner": IMG_TAG}, expect=unused)
    )
    spec.roles.append(Role("renamed-later", age=200, expect=unused))
    try:
        labels = seed(emu, spec, now)
        # IAM role names cannot hold "<", but a hand-edited bundle's can: rename in the backend.
        moto_ext.backend("123456789012").get_role("renamed-later").name = IMG_NAME
        out = tmp_path_factory.mktemp("html")
        policy = out / "policy.toml"
        policy.write_text(DEMO_POLICY)
        html = out / "report.html"
        run_cli(
            "scan",
            "--policy",
            str(policy),
            "--format",
            "html",
            "--output",
            str(html),
            "--history",
            str(out / "history.db"),
            endpoint=emu.endpoint_url,
        )
    finally:
        emu.reset()
    dated = sum(1 for label in labels if label.verdict != "insufficient-evidence")
    return {"path": html, "findings": len(labels), "dated": dated}


class Page:
    """A page of the report with every console message, page error and request recorded."""

    def __init__(self, browser, path: Path) -> None:
        self.context = browser.new_context(viewport={"width": 1300, "height": 900})
        # A local file answers at once: a control that never becomes usable fails in 15 s,
        # not Playwright's default 30.
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.errors.append(f"console.{m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_load_state("load")

    def close(self) -> None:
        self.context.close()

    def visible_rows(self) -> list[dict]:
        return self.page.eval_on_selector_all(
            "#findings-table tbody.finding",
            """els => els.filter(e => !e.hidden && e.offsetParent !== null).map(e => ({
                type: e.dataset.type, verdict: e.dataset.verdict, days: e.dataset.days,
                principal: e.dataset.principal, search: e.dataset.search}))""",
        )


@pytest.fixture
def page(browser, report):
    p = Page(browser, report["path"])
    yield p
    p.close()


def test_cards_charts_and_table_render_with_no_fetch_and_no_error(page, report):
    pg = page.page
    n = report["findings"]
    assert int(pg.inner_text("#card-findings .n")) == n
    assert pg.locator("#findings-table tbody.finding").count() == n
    assert pg.inner_text("#f-shown") == str(n)
    assert "123456789012 (larkspur-freight-prod)" in pg.inner_text("#report-meta")
    assert "snapshot manifest sha256" in pg.inner_text("#snapshot-digest")
    assert "EXPIRED" in pg.inner_text("#exceptions")
    # The demo company has one Access Advisor job that fails: the gap is shown up front.
    assert pg.locator("#coverage-gaps").is_visible()
    assert "access_advisor" in pg.inner_text("#coverage-gaps")
    assert pg.locator("#coverage-ok").count() == 0

    # Charts: drawn, with a size, and holding the data's marks.
    for sel in ("#chart-histograms svg", "#chart-timeline svg", "#chart-accounts svg"):
        box = pg.locator(sel).first.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 30, sel
    assert pg.locator("#chart-histograms svg").count() >= 5
    # Every finding with a date is a mark (insufficient-evidence ones have none to plot).
    assert pg.locator("#chart-timeline circle").count() >= report["dated"] - 2
    assert pg.locator("#chart-types rect").count() >= 5
    assert pg.locator("#chart-trend circle").count() == 1  # this run, the first recorded

    # Evidence is collapsed on screen, and opens.
    first = pg.locator("#findings-table tbody.finding").first
    assert not first.locator("tr.evidence").is_visible()
    first.locator("button.toggle").click()
    assert first.locator("tr.evidence").is_visible()
    assert "Evidence" in first.locator("tr.evidence").inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "html-report.png"), full_page=True)

    # Print: no controls, every finding's evidence shown.
    pg.emulate_media(media="print")
    assert not pg.locator(".controls").is_visible()
    assert not pg.locator("button.toggle").first.is_visible()
    hidden = pg.eval_on_selector_all(
        "tr.evidence", "els => els.filter(e => e.offsetParent === null).length"
    )
    assert hidden == 0
    pg.pdf(path=str(ARTIFACTS / "html-report.pdf"))

    assert page.errors == []
    assert page.requests == [page.url], "the report fetched something"


def test_filter_and_sort(page, report):
    pg = page.page
    n = report["findings"]

    pg.select_option("#f-type", "UnusedIAMRole")
    rows = page.visible_rows()
    assert rows and {r["type"] for r in rows} == {"UnusedIAMRole"}
    assert pg.inner_text("#f-shown") == str(len(rows)) and len(rows) < n

    pg.select_option("#f-verdict", "never-used")
    both = page.visible_rows()
    assert both and {(r["type"], r["verdict"]) for r in both} == {("UnusedIAMRole", "never-used")}

    pg.click("#f-reset")
    assert len(page.visible_rows()) == n
    pg.fill("#f-q", "JENKINS legacy")  # every word, any case
    rows = page.visible_rows()
    assert rows and all("svc-jenkins-legacy" in r["principal"] for r in rows)
    assert len(rows) == 3  # its key, the key's rotation, the user
    pg.fill("#f-q", "no such principal")
    assert page.visible_rows() == [] and pg.inner_text("#f-shown") == "0"
    pg.click("#f-reset")

    def days() -> list[int]:
        return [int(r["days"]) if r["days"] else -1 for r in page.visible_rows()]

    pg.click("th[data-key=days] button")
    assert days() == sorted(days())
    assert pg.get_attribute("th[data-key=days]", "aria-sort") == "ascending"
    pg.click("th[data-key=days] button")
    assert days() == sorted(days(), reverse=True) and days()[0] > days()[-1]
    assert pg.get_attribute("th[data-key=days]", "aria-sort") == "descending"

    pg.click("th[data-key=principal] button")
    names = [r["principal"] for r in page.visible_rows()]
    assert names == sorted(names) and len(names) == n

    # Sorting keeps each finding's evidence with its row.
    tb = pg.locator("#findings-table tbody.finding").first
    tb.locator("button.toggle").click()
    assert tb.get_attribute("data-principal") in tb.locator("tr.evidence").inner_text().lower()
    assert page.errors == []


def test_markup_from_aws_is_shown_as_text_and_runs_nothing(page):
    pg = page.page
    pg.click("#f-expand")
    tagged = pg.locator("tbody.finding", has_text="tagged-payload")
    assert tagged.count() == 1
    text = tagged.inner_text()
    assert SCRIPT_TAG in text and IMG_TAG in text

    renamed = pg.locator("td.principal", has_text="__pwned=3")
    assert renamed.count() == 1 and renamed.inner_text() == IMG_NAME

    pg.fill("#f-q", "<img")  # and the filter finds it by that text
    assert len(page.visible_rows()) == 2

    assert pg.evaluate("typeof window.__pwned") == "undefined"
    assert pg.evaluate("document.querySelectorAll('img').length") == 0
    assert pg.evaluate("document.scripts.length") == 1
    assert page.errors == []  # not even a blocked attempt: nothing tried to run
    assert page.requests == [page.url]


@pytest.fixture(scope="module")
def org_report(_emulator_server, tmp_path_factory) -> dict:
    """The report of three accounts (tests/org_reports.py): one complete, one incomplete, one
    not scanned, one named with a script."""
    _browser_or_skip()
    import org_reports

    from dormant.sinks.formats import render

    emu = _emulator_server
    emu.reset()
    emu.set_auth(None)
    try:
        report, _ = org_reports.build(emu, dt.datetime.now(dt.UTC).replace(microsecond=0))
    finally:
        emu.reset()
    path = tmp_path_factory.mktemp("org-html") / "org.html"
    path.write_text(render(report, "html"), encoding="utf-8")
    counts = {a.account_id: 0 for a in report.accounts}
    for f in report.findings:
        counts[f.account_id] += 1
    return {"path": path, "counts": counts, "total": len(report.findings)}


@pytest.fixture
def org_page(browser, org_report):
    p = Page(browser, org_report["path"])
    yield p
    p.close()


def _heads(pg) -> list[dict]:
    """The account headings of the findings table, in order, with whether each is shown and
    the account of the finding that follows it."""
    return pg.eval_on_selector_all(
        "#findings-table tbody.acct-head",
        """els => els.map(e => {
            let next = e.nextElementSibling;
            while (next && next.hidden) { next = next.nextElementSibling; }
            return {account: e.dataset.account, shown: !e.hidden && e.offsetParent !== null,
                    text: e.innerText, next: next ? next.dataset.account : null};
        })""",
    )


def test_org_report_flags_the_account_not_scanned(org_page):
    from org_reports import LEGACY, SCRIPT_NAME

    pg = org_page.page
    banner = pg.locator("#not-scanned")
    assert banner.is_visible()
    assert "1 account(s) not scanned" in banner.inner_text()
    assert "legacy-archive" in banner.inner_text()
    assert f"arn:aws:iam::{LEGACY}:role/OrganizationAccountAccessRole" in banner.inner_text()
    # It stands out: the banner sits above the coverage gaps, in the report's alert colour.
    box, gaps = banner.bounding_box(), pg.locator("#coverage-gaps").bounding_box()
    assert box and gaps and box["y"] < gaps["y"]
    border = pg.eval_on_selector("#not-scanned", "e => getComputedStyle(e).borderTopColor")
    assert border == "rgb(198, 45, 66)"
    statuses = pg.eval_on_selector_all(
        "#accounts-table tbody tr", "els => els.map(e => e.querySelector('.badge').innerText)"
    )
    assert statuses == ["complete", "incomplete", "not scanned"]

    # The account named with a script shows its name as text and runs nothing.
    assert SCRIPT_NAME in pg.inner_text("#accounts-table")
    assert SCRIPT_NAME in pg.inner_text("#findings-table")
    assert pg.evaluate("typeof window.__pwned") == "undefined"
    assert pg.evaluate("document.scripts.length") == 1
    assert org_page.errors == []
    assert org_page.requests == [org_page.url]


def test_org_report_account_filter_and_grouping(org_page, org_report):
    from org_reports import LEGACY, PAYMENTS, SANDBOX

    pg = org_page.page
    counts = org_report["counts"]
    order = [a for a in (PAYMENTS, SANDBOX, LEGACY) if counts[a]]
    # Grouped: each heading shown, in id order, just before its account's findings.
    heads = _heads(pg)
    assert [h["account"] for h in heads] == order
    assert all(h["shown"] and h["next"] == h["account"] for h in heads)
    assert "111111111111 (payments-prod) · Root/Prod/Payments" in heads[0]["text"]

    def accounts_shown() -> list[str]:
        return pg.eval_on_selector_all(
            "#findings-table tbody.finding",
            "els => els.filter(e => !e.hidden && e.offsetParent !== null)"
            ".map(e => e.dataset.account)",
        )

    # The account filter: only that account's findings, under its heading alone.
    pg.select_option("#f-account", SANDBOX)
    assert accounts_shown() == [SANDBOX] * counts[SANDBOX]
    assert pg.inner_text("#f-shown") == str(counts[SANDBOX])
    shown = [h for h in _heads(pg) if h["shown"]]
    assert [h["account"] for h in shown] == [SANDBOX]
    assert f"{counts[SANDBOX]} of {counts[SANDBOX]} finding(s)" in shown[0]["text"]

    # A word filter across accounts: each heading counts what it shows.
    pg.click("#f-reset")
    pg.fill("#f-q", "pay-ci")
    shown = [h for h in _heads(pg) if h["shown"]]
    assert [h["account"] for h in shown] == [PAYMENTS]
    assert f"3 of {counts[PAYMENTS]} finding(s)" in shown[0]["text"]
    pg.click("#f-reset")

    # Sorted by another column the headings step aside; by account they come back.
    pg.click("th[data-key=days] button")
    assert not any(h["shown"] for h in _heads(pg))
    assert len(accounts_shown()) == org_report["total"]
    pg.click("th[data-key=account] button")
    assert accounts_shown() == sorted(accounts_shown())
    heads = _heads(pg)
    assert all(h["shown"] and h["next"] == h["account"] for h in heads)
    pg.click("th[data-key=account] button")  # descending: grouped still, last account first
    assert accounts_shown() == sorted(accounts_shown(), reverse=True)
    heads = _heads(pg)
    assert [h["account"] for h in heads if h["shown"]][0] == order[-1]
    assert all(h["next"] == h["account"] for h in heads)

    # The accounts table's findings count shows that account's findings.
    pg.click("th[data-key=account] button")
    pg.click(f"#accounts-table a.acct-show[data-account='{PAYMENTS}']")
    assert pg.eval_on_selector("#f-account", "e => e.value") == PAYMENTS
    assert accounts_shown() == [PAYMENTS] * counts[PAYMENTS]

    # Print: every finding, every heading (grouped order), no controls.
    pg.click("#f-reset")
    pg.emulate_media(media="print")
    assert all(h["shown"] for h in _heads(pg))
    assert not pg.locator(".controls").is_visible()
    assert org_page.errors == []
    assert org_page.requests == [org_page.url]
