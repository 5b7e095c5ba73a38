"""Window pages drawn from what the cycle's statistics computed: no second fetch of the window, the same pages.

A cycle hands each numeric feature's ECDF steps and D's point (``FeatureDrift.ecdf``) to ``render_reports``;
the page must be the one drawn from the window's values fetched again (the path for pages rendered on their
own), and its D marker must sit where the statistic's merge found D.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from reports_support import END, XSS_FEATURE, ProjectSpec, write_project

from driftwatch.config.loading import load_settings
from driftwatch.pipeline.cycle import CycleSummary, computed_charts, run_cycle
from driftwatch.reports.site import render_reports, window_page
from driftwatch.storage import report_queries
from driftwatch.storage.database import Database

NOW = datetime(2026, 11, 2, 8, 30)
SPEC = ProjectSpec(monitor="shop", numeric=(XSS_FEATURE, "amount", "age"), segment_values=("eu", "us"))
FIGURES = re.compile(r'<script type="application/json" id="dw-figures">(.*?)</script>', re.S)


def _pages(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*.html"))}


@pytest.fixture(scope="module")
def cycled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CycleSummary]:
    folder = tmp_path_factory.mktemp("handed")
    config = write_project(folder, SPEC)
    settings = load_settings(config)
    with Database(settings.storage, settings.database) as db:
        summary = run_cycle(db, settings.monitor(SPEC.monitor), now=END)
    return config, summary


def test_handed_pages_fetch_nothing_and_equal_fetched_pages(
    cycled: tuple[Path, CycleSummary], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, summary = cycled
    settings = load_settings(config)
    handed_root, fetched_root = tmp_path / "handed", tmp_path / "fetched"
    with Database(settings.storage, settings.database) as db:
        fetched = report_queries.window_values

        def no_fetch(*args: object) -> object:
            features = args[-1]
            assert features == (), f"the window's values were fetched again: {features}"
            return fetched(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(report_queries, "window_values", no_fetch)
        charts = computed_charts(summary.windows)
        assert charts and all(set(features) == set(SPEC.numeric) for features in charts.values())
        render_reports(db, replace(settings, reports_dir=handed_root), now=NOW, computed=charts)
        monkeypatch.setattr(report_queries, "window_values", fetched)
        render_reports(db, replace(settings, reports_dir=fetched_root), now=NOW)
    handed, refetched = _pages(handed_root), _pages(fetched_root)
    assert len(handed) > 3
    assert handed == refetched


def test_the_d_marker_is_where_the_statistic_reached_d(
    cycled: tuple[Path, CycleSummary], tmp_path: Path
) -> None:
    config, summary = cycled
    settings = replace(load_settings(config), reports_dir=tmp_path)
    with Database(settings.storage, settings.database) as db:
        render_reports(db, settings, now=NOW, computed=computed_charts(summary.windows))
    last = summary.windows[-1]
    overall = last.overall
    page = tmp_path / window_page("shop", last.window.model_version, "*", last.window.start)
    match = FIGURES.search(page.read_text())
    assert match is not None
    figures = json.loads(match.group(1))
    checked = 0
    for drift in overall.features:
        if drift.kind != "numeric":
            continue
        assert drift.ecdf is not None and drift.ecdf.location is not None
        where = drift.ecdf.location
        title = html.escape(f"{drift.name}: ECDF", quote=False)
        figure = next(f for f in figures.values() if f["layout"]["title"]["text"] == title)
        marker = figure["data"][-1]
        assert marker["name"].startswith("D = ")
        assert marker["x"] == [where.x, where.x]
        assert marker["y"] == [where.reference, where.current]
        # The statistic's D is reached there (D is snapped to a multiple of 1/lcm in scipy's exact regime).
        assert where.distance == pytest.approx(drift.stats["ks_statistic"], abs=1e-12)
        assert np.isfinite(where.x)
        checked += 1
    assert checked == len(SPEC.numeric)


def test_pages_drawn_with_the_cycles_profiles_read_no_profile_and_are_the_same(
    cycled: tuple[Path, CycleSummary], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run_monitor` hands the reports the profiles the cycle holds (`cached_profiles`): reading a 1M-row
    reference back from the database a second time cost a `driftwatch run` ~0.3 s."""
    from driftwatch.pipeline.reference import cached_profiles
    from driftwatch.reports import site

    config, summary = cycled
    settings = load_settings(config)
    with Database(settings.storage, settings.database) as db:
        held = cached_profiles(db, SPEC.monitor)
        assert len(held) == 1 and next(iter(held))[0] == SPEC.monitor
        render_reports(db, replace(settings, reports_dir=tmp_path / "read"), now=NOW)
        read = site.load_profile

        def no_read(*args: object) -> object:
            raise AssertionError(f"a profile was read again: {args[1:]}")

        monkeypatch.setattr(site, "load_profile", no_read)
        render_reports(db, replace(settings, reports_dir=tmp_path / "held"), now=NOW, profiles=held)
        monkeypatch.setattr(site, "load_profile", read)
    assert _pages(tmp_path / "held") == _pages(tmp_path / "read")
    assert len(_pages(tmp_path / "held")) > 3
