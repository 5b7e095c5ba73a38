"""HTML reports rendered from a real database: layout, links, escaping of user data, incremental renders,
the notes shown when performance or alerting is absent, and page size."""

from __future__ import annotations

import html
import json
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import plotly.graph_objects as go
import pytest
from reports_support import XSS_CATEGORY, XSS_FEATURE, ProjectSpec, build_project

from driftwatch.config.performance import PerformanceSettings
from driftwatch.config.settings import Settings
from driftwatch.reports.render import PLOTLY_FILE, STATIC_DIR
from driftwatch.reports.site import (
    INDEX_PAGE,
    MANIFEST,
    group_key,
    overview_page,
    render_reports,
    window_page,
)
from driftwatch.storage.database import Database

NOW = datetime(2026, 11, 2, 8, 30)
XSS_SPEC = ProjectSpec(
    monitor="shop",
    numeric=(XSS_FEATURE, "amount"),
    categorical={"country": ("de", XSS_CATEGORY, "<b>bold</b>")},
    versions=("v1", "../../v2<i>"),
    segment_values=("eu", "<u>us</u>"),
)
FIGURES = re.compile(r'<script type="application/json" id="dw-figures">(.*?)</script>', re.S)
HREF = re.compile(r'href="([^"]*)"')


@pytest.fixture(scope="module")
def xss_project(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_project(tmp_path_factory.mktemp("xss"), XSS_SPEC)


@pytest.fixture
def site(xss_project: Settings, tmp_path: Path) -> Iterator[tuple[Settings, Database]]:
    """The project with a fresh reports folder and an open database (a copy, so tests may write to it)."""
    storage = tmp_path / "db.duckdb"
    shutil.copy(xss_project.storage, storage)
    settings = replace(xss_project, storage=storage, reports_dir=tmp_path / "reports")
    with Database(settings.storage, settings.database) as db:
        yield settings, db


def pages(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.html"))


def figures_of(text: str) -> dict[str, object]:
    match = FIGURES.search(text)
    assert match, "page has no figures element"
    raw = match.group(1)
    assert "<" not in raw and ">" not in raw and "&" not in raw
    return json.loads(raw)


def test_layout_slugs_and_every_page_inside_the_reports_folder(site: tuple[Settings, Database]) -> None:
    settings, db = site
    written = render_reports(db, settings, now=NOW)
    root = settings.reports_dir.resolve()
    assert all(p.resolve().is_relative_to(root) for p in written)
    # 2 versions × 3 segments × 3 days, plus the overview and the index.
    assert len(written) == 2 * 3 * 3 + 2
    assert (root / STATIC_DIR / PLOTLY_FILE).stat().st_size > 1_000_000
    for path in pages(root):
        for part in path.relative_to(root).parts:
            assert not part.startswith("."), path
            assert re.fullmatch(r"[A-Za-z0-9._=-]+", part), path
    assert (root / "shop" / "v1" / "all" / "2026-10-31T0000.html").is_file()
    assert (root / "shop" / "v1" / "environment=eu" / "2026-10-31T0000.html").is_file()
    # The hostile version and segment names become distinct, harmless folder names.
    folders = {p.parent.relative_to(root).as_posix() for p in pages(root)}
    assert any(f.startswith("shop/v2-i-") for f in folders)
    assert any("environment=-u-us-u-" in f for f in folders)


def test_links_between_index_overview_and_window_pages_resolve(site: tuple[Settings, Database]) -> None:
    settings, db = site
    render_reports(db, settings, now=NOW)
    root = settings.reports_dir.resolve()
    reached: set[Path] = set()
    for page in pages(root):
        for href in HREF.findall(page.read_text()):
            href = html.unescape(href).split("#")[0]
            if not href:
                continue
            assert "://" not in href and not href.startswith("/"), (page, href)
            target = (page.parent / href).resolve()
            assert target.is_file(), (page, href)
            reached.add(target)
    index = (root / INDEX_PAGE).read_text()
    assert 'href="shop/index.html"' in index
    overview = root / overview_page("shop")
    assert overview in reached
    # Every window page is linked from the overview (and each one back to it and to the index).
    windows = [p for p in pages(root) if p.name != INDEX_PAGE]
    assert set(windows) <= reached
    window = root / window_page("shop", "v1", "*", datetime(2026, 10, 31))
    text = window.read_text()
    assert 'href="../../index.html#g=v1/all"' in text
    assert 'href="../../../index.html"' in text
    assert 'href="../../../static/plotly.min.js"' not in text  # a script, not a link
    assert '<script src="../../../static/plotly.min.js"></script>' in text


def test_user_data_renders_as_text_in_html_and_chart_json(site: tuple[Settings, Database]) -> None:
    settings, db = site
    render_reports(db, settings, now=NOW)
    root = settings.reports_dir
    hostile = (XSS_FEATURE, XSS_CATEGORY, "<b>bold</b>", "<u>us</u>", "../../v2<i>", "<img", 'alert(2)">')
    window = root / window_page("shop", "v1", "*", datetime(2026, 10, 31))
    for page in pages(root):
        text = page.read_text()
        for value in hostile:
            assert value not in text, (page, value)
        # Only our own script elements: figures, plotly (not on the index, which has no charts), page
        # script, drawing call.
        ours = 3 if page.name == INDEX_PAGE and page.parent == root else 4
        assert text.count("<script") == text.count("</script>") == ours, page
        figures_of(text)  # parses, and holds no raw <, > or &
    text = window.read_text()
    assert html.escape(XSS_FEATURE) in text
    figures = figures_of(text)
    dumped = json.dumps(figures)
    # Inside the charts, names are entity-escaped for plotly.js, which would otherwise render <b>/<a> tags.
    assert html.escape(XSS_FEATURE, quote=False) in dumped
    assert html.escape("<b>bold</b>", quote=False) in dumped
    assert json.dumps(html.escape(XSS_CATEGORY, quote=False)) in dumped  # a category label on the x axis
    overview = (root / overview_page("shop")).read_text()
    assert html.escape("../../v2<i>") in overview and html.escape("environment=<u>us</u>") in overview


def test_every_chart_is_a_valid_plotly_figure(site: tuple[Settings, Database]) -> None:
    settings, db = site
    render_reports(db, settings, now=NOW)
    root = settings.reports_dir
    window = figures_of((root / window_page("shop", "v1", "*", datetime(2026, 10, 31))).read_text())
    overview = figures_of((root / overview_page("shop")).read_text())
    charts = list(window.values()) + [fig for group in overview.values() for fig in group.values()]  # type: ignore[union-attr]
    assert len(window) == 2 * 2 + 1  # two numeric features (bins + ECDF), one categorical (shares)
    assert len(overview) == 6  # 2 versions × 3 segments
    for fig in charts:
        go.Figure(fig)  # raises on any property plotly.js does not know


def test_window_page_states_its_data_and_statistics(site: tuple[Settings, Database]) -> None:
    settings, db = site
    render_reports(db, settings, now=NOW)
    cur = db.cursor()
    profile_id, run_id = cur.execute(
        "SELECT profile_id, run_id FROM feature_results WHERE model_version = 'v1' AND segment = '*' LIMIT 1"
    ).fetchall()[0]
    text = window_text = (
        settings.reports_dir / window_page("shop", "v1", "*", datetime(2026, 10, 31))
    ).read_text()
    for expected in (
        "2026-11-02 08:30 UTC",  # generated
        "2026-10-31 00:00 – 2026-11-01 00:00 UTC",
        profile_id,
        run_id,
        "train.parquet",
        ">KS D<",
        ">χ²<",
        ">unseen<",
        ">missing cur.<",
    ):
        assert expected in text, expected
    statuses = dict(
        cur.execute(
            "SELECT feature, status FROM feature_results WHERE model_version = 'v1' AND segment = '*' "
            "AND window_start = '2026-10-31'"
        ).fetchall()
    )
    rows = re.findall(
        r'<td class="name" data-sort="([^"]*)">.*?<span class="status status-(\w+)">', window_text, re.S
    )
    assert {html.unescape(name): status for name, status in rows} == statuses


def test_only_changed_windows_are_rendered_again(site: tuple[Settings, Database]) -> None:
    settings, db = site
    first = render_reports(db, settings, now=NOW)
    assert len(first) == 20
    root = settings.reports_dir.resolve()
    again = render_reports(db, settings, now=NOW)
    assert sorted(again) == sorted([root / overview_page("shop"), root / INDEX_PAGE])
    # A recomputed window (new run id) is rendered again; nothing else is.
    with db.transaction() as tx:
        tx.execute(
            "UPDATE window_summaries SET run_id = 'rerun' WHERE model_version = 'v1' AND segment = '*' "
            "AND window_start = '2026-10-30'"
        )
    changed = render_reports(db, settings, now=NOW)
    assert sorted(changed) == sorted(
        [
            root / window_page("shop", "v1", "*", datetime(2026, 10, 30)),
            root / overview_page("shop"),
            root / INDEX_PAGE,
        ]
    )
    # A deleted page is rendered again even though its results did not change.
    (root / window_page("shop", "v1", "*", datetime(2026, 10, 29))).unlink()
    assert root / window_page("shop", "v1", "*", datetime(2026, 10, 29)) in render_reports(
        db, settings, now=NOW
    )
    # Named windows: every segment of that window, whether it changed or not.
    named = render_reports(db, settings, windows=[("v1", datetime(2026, 10, 31))], now=NOW)
    assert len(named) == 3 + 2
    assert json.loads((root / MANIFEST).read_text())


def test_notes_when_performance_and_alerting_are_absent(site: tuple[Settings, Database]) -> None:
    settings, db = site
    render_reports(db, settings, now=NOW)
    root = settings.reports_dir
    overview = (root / overview_page("shop")).read_text()
    assert "Performance is not configured for this monitor" in overview
    index = (root / INDEX_PAGE).read_text()
    assert "Performance is not configured" in index
    if db.table_exists("alert_state"):
        assert "No alerts for this monitor." in overview
        assert "none firing" in index
        with db.transaction() as tx:
            tx.execute("DROP TABLE alert_state")
            tx.execute("DROP TABLE IF EXISTS alert_outbox")
        render_reports(db, settings, now=NOW)
    overview = (root / overview_page("shop")).read_text()
    assert "Alerting is not set up" in overview
    assert "no alert state stored" in (root / INDEX_PAGE).read_text()


def test_alert_state_and_history_are_shown_escaped_when_stored(site: tuple[Settings, Database]) -> None:
    settings, db = site
    with db.transaction() as tx:
        # The columns the alerting tables have (storage/alert_schema.py); created here if not migrated yet.
        tx.execute(
            "CREATE TABLE IF NOT EXISTS alert_state (rule VARCHAR, monitor VARCHAR, model_version VARCHAR, "
            "segment VARCHAR, feature VARCHAR, state VARCHAR, pending_count INTEGER, healthy_count INTEGER, "
            "value DOUBLE, last_window TIMESTAMP, updated_at TIMESTAMP)"
        )
        tx.execute(
            "INSERT INTO alert_state (rule, monitor, model_version, segment, feature, state, pending_count, "
            "healthy_count, value, last_window, updated_at) VALUES ('<b>PSIHigh</b>', 'shop', 'v1', '*', ?, "
            "'firing', 2, 0, 0.31, '2026-10-31', '2026-11-01')",
            [XSS_FEATURE],
        )
    render_reports(db, settings, now=NOW)
    root = settings.reports_dir
    index = (root / INDEX_PAGE).read_text()
    assert "1 firing" in index
    overview = (root / overview_page("shop")).read_text()
    assert "&lt;b&gt;PSIHigh&lt;/b&gt;" in overview and "<b>PSIHigh" not in overview
    assert 'id="alert-state"' in overview


def test_a_served_window_page_with_20_features_stays_under_300_kb(tmp_path: Path) -> None:
    spec = ProjectSpec(
        monitor="wide",
        numeric=tuple(f"num_{i:02d}" for i in range(16)),
        categorical={f"cat_{i}": tuple(f"value_{j}" for j in range(12)) for i in range(4)},
        segment_values=("eu",),
        days=2,
        rows_per_day=3000,
        reference_rows=20000,
    )
    settings = build_project(tmp_path, spec)
    with Database(settings.storage, settings.database) as db:
        render_reports(db, settings, now=NOW)
    page = settings.reports_dir / window_page("wide", "v1", "*", datetime(2026, 10, 31))
    text = page.read_text()
    assert text.count('class="dw-chart"') == 16 * 2 + 4  # every numeric feature has bins and an ECDF
    assert page.stat().st_size <= 300 * 1024, page.stat().st_size


def test_performance_is_charted_and_tabled_when_stored(site: tuple[Settings, Database]) -> None:
    settings, db = site
    monitor = replace(
        settings.monitors["shop"],
        task="binary_classification",
        performance=PerformanceSettings(metrics=("roc_auc",)),
    )
    settings = replace(settings, monitors={"shop": monitor})
    with db.transaction() as tx:
        for day, value, status in (("2026-10-29", 0.80, "ok"), ("2026-10-30", 0.70, "degraded")):
            for metric, v, s in (
                ("roc_auc", value, status),
                ("estimated_roc_auc", 0.79, "estimate"),
                ("brier", 0.2, "info"),
            ):
                tx.execute(
                    "INSERT INTO performance_results (monitor, model_version, segment, window_start, metric, "
                    "window_end, value, low, high, n_predictions, n_labels, coverage, status, reason, baseline, "
                    "run_id, computed_at) VALUES ('shop', 'v1', '*', ?, ?, ?::TIMESTAMP + INTERVAL 1 DAY, ?, ?, ?, "
                    "600, 420, 0.7, ?, 'because <i>reasons</i>', 0.8, 'r', '2026-11-01')",
                    [day, metric, day, v, v - 0.03, v + 0.03, s],
                )
    render_reports(db, settings, now=NOW)
    root = settings.reports_dir
    overview = (root / overview_page("shop")).read_text()
    figure = figures_of(overview)["v1/all"]["performance"]  # type: ignore[index]
    names = [trace.get("name") for trace in figure["data"]]
    assert names == [
        "roc_auc",
        "roc_auc baseline",
        "label coverage",
        "estimated_roc_auc",
    ]  # brier: not judged
    go.Figure(figure)
    assert "Performance is not configured" not in overview
    window = (root / window_page("shop", "v1", "*", datetime(2026, 10, 30))).read_text()
    assert 'id="performance-table"' in window
    assert "because &lt;i&gt;reasons&lt;/i&gt;" in window and "420 of 600" in window and "70.0%" in window
    assert "0.67 – 0.73" in window
    index = (root / INDEX_PAGE).read_text()
    assert "No labels yet for the latest window." in index  # the latest window (10-31) has no rows
    later = (root / window_page("shop", "v1", "*", datetime(2026, 10, 31))).read_text()
    assert "No labels yet for this window." in later


def test_concurrent_renders_of_one_folder_do_not_lose_the_manifest(site: tuple[Settings, Database]) -> None:
    settings, db = site
    errors: list[BaseException] = []

    def render(windows: list[tuple[str, datetime]]) -> None:
        try:
            render_reports(db, settings, windows=windows, now=NOW)
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [
        threading.Thread(target=render, args=([("v1", datetime(2026, 10, day))],)) for day in (29, 30, 31)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    manifest = json.loads((settings.reports_dir / MANIFEST).read_text())
    assert sorted(k for k in manifest if k.startswith("shop/v1/")) == sorted(
        window_page("shop", "v1", segment, datetime(2026, 10, day))
        for segment in ("*", "environment=eu", "environment=<u>us</u>")
        for day in (29, 30, 31)
    )


def test_windows_without_a_verdict_say_not_judged(tmp_path: Path) -> None:
    # 150 rows a day over two segments: the overall windows (150 rows) are judged, the segments' (~75 rows,
    # under min_rows 100) are not, and their pages must not read like windows without drift.
    spec = ProjectSpec(monitor="tiny", rows_per_day=150, days=2)
    settings = replace(build_project(tmp_path / "tiny", spec), reports_dir=tmp_path / "reports")
    with Database(settings.storage, settings.database) as db:
        statuses = dict(
            db.cursor()
            .execute("SELECT segment, list(DISTINCT status) FROM window_summaries GROUP BY segment")
            .fetchall()
        )
        render_reports(db, settings, now=NOW)
    assert statuses["*"] != ["insufficient_data"]
    assert statuses["environment=eu"] == ["insufficient_data"]
    overview = (settings.reports_dir / overview_page("tiny")).read_text()
    notes = re.findall(r'<p class="note not-judged" data-group="([^"]*)">([^<]*)</p>', overview)
    assert notes, overview
    texts = {html.unescape(text) for _, text in notes}
    assert (
        "Not judged: 2 of 2 windows (fewer than min_rows 100 rows) have no drift verdict, which is not the same as no drift."
        in texts
    )
    groups = {group for group, _ in notes}
    assert group_key("v1", "environment=eu") in groups
    assert group_key("v1", "*") not in groups  # judged: no note

    day = datetime(2026, 10, 31)
    segment_page = (settings.reports_dir / window_page("tiny", "v1", "environment=eu", day)).read_text()
    assert re.search(
        r'<p class="note" id="not-judged">Not judged: \d+ rows, fewer than min_rows \(100\)', segment_page
    )
    overall_page = (settings.reports_dir / window_page("tiny", "v1", "*", day)).read_text()
    assert 'id="not-judged"' not in overall_page
