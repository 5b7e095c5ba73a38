"""The reports in a real browser (headless Debian chromium over the DevTools protocol): pages load with no
console errors and no request leaving the machine, charts are drawn, the feature table sorts on a click,
links lead from the index to an overview to a window page, hostile names stay text, the standalone
comparison works from a file. Screenshots of each page type are saved (to docs/images/ with
DRIFTWATCH_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import functools
import html
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from reports_cdp import ROOT, Browser, Page, png_colours
from reports_support import END, XSS_CATEGORY, XSS_FEATURE, ProjectSpec, build_project

from driftwatch.comparison import compare
from driftwatch.config.loading import load_settings
from driftwatch.demo import DemoSpec, write_demo_project
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.reports.comparison import render_comparison, write_comparison
from driftwatch.reports.site import render_reports
from driftwatch.storage.database import Database

# About 30 s for the module here (12 s of it building the demo's database), over the ~20 s budget for unmarked
# tests: `-m "not slow"` skips it locally; CI runs everything.
pytestmark = pytest.mark.slow

# The screenshots in docs/ are refreshed only on request (DRIFTWATCH_UPDATE_SCREENSHOTS=1), so a test run
# does not leave the checkout modified; otherwise they go to a temporary folder and are checked there.
IMAGES = (
    ROOT / "docs" / "images"
    if os.environ.get("DRIFTWATCH_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.mkdtemp(prefix="driftwatch-screenshots-"))
)
BROWSER_DEMO = DemoSpec(days=10, rows_per_day=2000, reference_rows=8000, drift_day=5, missing_day=7, end=END)
CHARTS_DRAWN = (
    "document.querySelectorAll('.dw-chart').length > 0 && Array.from(document.querySelectorAll('.dw-chart'))"
    ".every(el => el.closest('[hidden]') || el.querySelector('.main-svg'))"
)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
        pass


@dataclass(frozen=True)
class Served:
    base: str  # http://127.0.0.1:port/
    root: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The demo (a shorter one) and a project with hostile names, rendered, served on 127.0.0.1."""
    root = tmp_path_factory.mktemp("sites")
    demo = load_settings(write_demo_project(root / "demo-project", BROWSER_DEMO))
    demo = replace(demo, reports_dir=root / "www" / "demo")
    with Database(demo.storage, demo.database) as db:
        run_cycle(db, demo.monitor("credit-default"), now=END)
        render_reports(db, demo)
    hostile = build_project(
        root / "xss-project",
        ProjectSpec(
            numeric=(XSS_FEATURE, "amount"), categorical={"country": ("de", XSS_CATEGORY, "<b>b</b>")}
        ),
    )
    hostile = replace(hostile, reports_dir=root / "www" / "xss")
    with Database(hostile.storage, hostile.database) as db:
        render_reports(db, hostile)
    handler = functools.partial(_QuietHandler, directory=str(root / "www"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{server.server_address[1]}/", root / "www")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    browser = Browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield browser.page
    finally:
        browser.close()


def open_page(page: Page, url: str) -> None:
    page.clear()
    page.navigate(url)
    page.wait_for(CHARTS_DRAWN + " || document.querySelectorAll('.dw-chart').length === 0")


def assert_clean(page: Page, allowed: tuple[str, ...]) -> None:
    """No console error or warning, no exception, no dialog, and every request to an allowed origin."""
    assert page.errors() == []
    urls = page.request_urls()
    assert urls, "no request recorded: is the Network domain enabled?"
    outside = [u for u in urls if not u.startswith(allowed + ("data:", "blob:", "about:"))]
    assert outside == []


def assert_not_blank(page: Page) -> None:
    colours, inked = png_colours(page.screenshot(height=1000, scale=0.25))
    assert colours > 20 and inked > 0.05, (colours, inked)


def save_screenshot(page: Page, name: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    (IMAGES / name).write_bytes(page.screenshot())


def test_index_overview_and_window_pages_in_the_browser(page: Page, served: Served) -> None:
    local = (served.base,)
    open_page(page, served.base + "demo/index.html")
    assert_clean(page, local)
    assert page.evaluate("document.querySelectorAll('#monitors tbody tr').length") == 1
    assert_not_blank(page)
    save_screenshot(page, "index.png")

    # index → overview, by clicking the monitor's link
    page.clear()
    page.click("#monitors tbody a")
    page.wait_event("Page.loadEventFired")
    page.wait_for(CHARTS_DRAWN)
    assert page.evaluate("location.pathname") == "/demo/credit-default/index.html"
    assert_clean(page, local)
    # One trend chart per feature plus the drift share (and performance, when the demo has labels).
    drawn = page.evaluate("document.querySelectorAll('.dw-chart .main-svg').length")
    assert drawn >= 8 + 2 + 1  # 8 inputs, the 2 watched outputs, the drift share
    assert page.evaluate("document.getElementById('drift-share').data[0].x.length") == BROWSER_DEMO.days
    assert_not_blank(page)
    save_screenshot(page, "overview.png")

    # The version × segment filter shows that group's windows and redraws the charts.
    groups = page.evaluate("Array.from(document.querySelectorAll('#dw-group option')).map(o => o.value)")
    assert groups[0] == "v3.2/all" and len(groups) == 3
    page.evaluate(
        f"(() => {{ const s = document.getElementById('dw-group'); s.value = {json.dumps(groups[1])};"
        " s.dispatchEvent(new Event('change')); })()"
    )
    visible = page.evaluate(
        "Array.from(document.querySelectorAll('#windows tbody tr')).filter(r => !r.hidden).map(r => r.dataset.group)"
    )
    assert visible == [groups[1]] * BROWSER_DEMO.days
    assert page.evaluate("decodeURIComponent(location.hash)") == "#g=" + groups[1]
    rows_in_segment = page.evaluate("document.getElementById('drift-share').data[0].text.length")
    assert rows_in_segment == BROWSER_DEMO.days

    # overview → window report of the newest window of that segment, by clicking its link
    page.clear()
    page.click("#windows tbody tr:not([hidden]) a")
    page.wait_event("Page.loadEventFired")
    page.wait_for(CHARTS_DRAWN)
    assert page.evaluate("location.pathname").startswith("/demo/credit-default/v3.2/environment=")
    assert_clean(page, local)
    slots = page.evaluate("document.querySelectorAll('.dw-chart').length")
    # numeric (6 inputs and the model's score): bins + ECDF; categorical (2 inputs and the decision mix): shares
    assert slots == (6 + 1) * 2 + (2 + 1)
    assert page.evaluate("document.querySelectorAll('.dw-chart .main-svg').length") >= slots
    assert page.evaluate("document.querySelectorAll('.dw-chart .bars .point').length") > 50

    # The feature table sorts by a click on a header, ascending then descending; empty cells stay last.
    psi = page.evaluate(
        "Array.from(document.querySelectorAll('#features thead th')).findIndex(th => th.textContent === 'PSI')"
    )
    assert psi > 0
    column = (
        f"Array.from(document.querySelectorAll('#features tbody tr')).map(r => r.cells[{psi}].dataset.sort)"
    )
    names = "Array.from(document.querySelectorAll('#features tbody tr')).map(r => r.cells[0].dataset.sort)"
    before = page.evaluate(names)
    page.click(f"#features thead th:nth-child({psi + 1})")
    ascending = [float(v) for v in page.evaluate(column)]
    assert ascending == sorted(ascending)
    page.click(f"#features thead th:nth-child({psi + 1})")
    descending = [float(v) for v in page.evaluate(column)]
    assert descending == sorted(ascending, reverse=True)
    assert page.evaluate(names) != before or before == sorted(before, key=str)
    page.click("#features thead th:nth-child(1)")
    assert page.evaluate(names) == sorted(before)
    assert_not_blank(page)
    save_screenshot(page, "window.png")

    # window → overview and → index links
    page.clear()
    page.click("#overview-link")
    page.wait_event("Page.loadEventFired")
    assert page.evaluate("location.pathname") == "/demo/credit-default/index.html"
    page.wait_for(CHARTS_DRAWN)
    assert page.evaluate("document.getElementById('dw-group').value") == groups[1]  # the hash keeps the group
    page.clear()
    page.click("nav.crumbs a")
    page.wait_event("Page.loadEventFired")
    assert page.evaluate("location.pathname") == "/demo/index.html"


def test_pages_opened_from_disk_draw_their_charts(page: Page, served: Served) -> None:
    window = next((served.root / "demo" / "credit-default" / "v3.2" / "all").glob("*.html"))
    open_page(page, window.as_uri())
    page.wait_for(CHARTS_DRAWN)
    assert_clean(page, ("file://",))


def test_hostile_names_stay_text_in_the_browser(page: Page, served: Served) -> None:
    window = sorted((served.root / "xss" / "shop" / "v1" / "all").glob("*.html"))[-1]
    url = served.base + window.relative_to(served.root).as_posix()
    open_page(page, url)
    page.wait_for(CHARTS_DRAWN)
    assert_clean(page, (served.base,))  # includes: no alert() dialog opened
    cells = page.evaluate(
        "Array.from(document.querySelectorAll('#features td.name a')).map(a => a.textContent)"
    )
    assert XSS_FEATURE in cells
    assert page.evaluate("document.querySelectorAll('img, b, script:not([src]):not([type])').length") == 2
    titles = page.evaluate("Array.from(document.querySelectorAll('.gtitle')).map(t => t.textContent)")
    assert any(XSS_FEATURE in t for t in titles), titles
    ticks = page.evaluate("Array.from(document.querySelectorAll('.xtick text')).map(t => t.textContent)")
    assert XSS_CATEGORY in ticks and "<b>b</b>" in ticks, ticks
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert html.escape(XSS_FEATURE) in window.read_text()


def test_standalone_comparison_page_from_disk(page: Page, tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    reference = pl.DataFrame(
        {
            "income": rng.lognormal(10, 0.4, 6000),
            "age": rng.integers(20, 70, 6000).astype(float),
            "region": rng.choice(["north", "south", "east"], 6000).tolist(),
        }
    )
    current = pl.DataFrame(
        {
            "income": rng.lognormal(10.25, 0.4, 2000),
            "age": rng.integers(20, 70, 2000).astype(float),
            "region": rng.choice(["north", "south", "apac"], 2000).tolist(),
        }
    )
    out = write_comparison(
        tmp_path / "compare.html",
        render_comparison(
            compare(reference, current),
            "train.parquet",
            "this_week.parquet",
            reference=reference,
            current=current,
        ),
    )
    open_page(page, out.as_uri())
    page.wait_for(CHARTS_DRAWN)
    assert_clean(page, (out.as_uri(),))
    assert page.evaluate("document.querySelectorAll('.dw-chart .main-svg').length") >= 6
    assert_not_blank(page)
    save_screenshot(page, "compare.png")


def test_screenshots_were_saved() -> None:
    # Runs last in this module (pytest keeps file order); each image must be a real, non-trivial PNG.
    for name in ("index.png", "overview.png", "window.png", "compare.png"):
        data = (IMAGES / name).read_bytes()
        assert data[:4] == b"\x89PNG" and len(data) > 20_000, name
    assert datetime.now().year >= 2024
