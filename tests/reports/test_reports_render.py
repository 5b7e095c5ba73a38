"""Rendering plumbing: safe names, paths confined to the reports folder, JSON that cannot end a script
element, atomic writes, and the standalone comparison page."""

from __future__ import annotations

import html
import json
import os
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import polars as pl
import pytest
from reports_support import XSS_CATEGORY, XSS_FEATURE

from driftwatch.comparison import compare
from driftwatch.reports import charts
from driftwatch.reports.comparison import render_comparison, write_comparison
from driftwatch.reports.render import (
    ReportPathError,
    ensure_static,
    format_number,
    plotly_js,
    resolve_inside,
    script_json,
    segment_slug,
    slug,
    write_atomic,
    write_report,
)
from driftwatch.reports.site import window_page


@pytest.mark.parametrize(
    ("name", "expected"),
    [("v3.2", "v3.2"), ("credit-default", "credit-default"), ("environment=eu", "environment=eu")],
)
def test_safe_names_are_kept(name: str, expected: str) -> None:
    assert slug(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "..",
        ".",
        "../../etc/passwd",
        "a/b",
        "a\\b",
        "",
        " ",
        ".hidden",
        "<script>",
        "名前",
        "x" * 300,
        "a\x00b",
    ],
)
def test_unsafe_names_become_one_harmless_path_part(name: str) -> None:
    result = slug(name)
    assert re.fullmatch(r"[A-Za-z0-9_=-][A-Za-z0-9._=-]*", result), result
    assert len(result) <= 90
    assert result not in (".", "..")


def test_different_names_never_share_a_slug() -> None:
    names = ["a/b", "a-b", "a b", "a.b", "a..b", "../a-b", "A-B"]
    assert len({slug(n) for n in names}) == len(names)
    assert segment_slug("*") == "all" and segment_slug("env=all") != "all"


def test_window_page_paths_hold_no_traversal() -> None:
    path = window_page("m", "../../../etc", "region=../../x", datetime(2026, 1, 2, 3, 4))
    assert ".." not in path.split("/")
    assert path.endswith("/2026-01-02T0304.html")
    assert len(path.split("/")) == 4


@pytest.mark.parametrize(
    "attempt",
    ["../outside.html", "a/../../outside.html", "/etc/passwd", "a/../..", "", "..", "./../x", "a\x00b"],
)
def test_paths_outside_the_reports_folder_are_refused(tmp_path: Path, attempt: str) -> None:
    root = tmp_path / "reports"
    root.mkdir()
    with pytest.raises(ReportPathError):
        resolve_inside(root, attempt)
    with pytest.raises(ReportPathError):
        write_report(root, attempt, "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]


def test_paths_inside_are_accepted_and_symlinks_out_refused(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    (root / "m").mkdir(parents=True)
    assert resolve_inside(root, "m/../index.html") == (root / "index.html").resolve()
    assert write_report(root, "m/v1/all/w.html", "<p>x</p>").read_text() == "<p>x</p>"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(ReportPathError):
        write_report(root, "link/page.html", "x")
    assert not (outside / "page.html").exists()


def test_script_json_cannot_end_the_script_element() -> None:
    value = {"</script><script>alert(1)</script>": ["<!--", "&amp;", "\u2028", "a>b"]}
    text = str(script_json(value))
    assert not re.search(r"[<>&\u2028]", text)
    assert json.loads(text) == value
    # NaN is not JSON (JSON.parse rejects the page's figures): it becomes null, a gap in the chart.
    assert json.loads(str(script_json({"x": [float("nan"), float("inf"), 1.5]}))) == {"x": [None, None, 1.5]}


def test_atomic_write_replaces_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "page.html"
    write_atomic(target, "old")
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["page.html"]
    assert target.stat().st_mode & 0o777 == 0o644  # readable by a web server running as another user


def test_static_plotly_bundle_is_written_once(tmp_path: Path) -> None:
    path = ensure_static(tmp_path)
    assert path == (tmp_path / "static" / "plotly.min.js").resolve()
    mtime = path.stat().st_mtime_ns
    ensure_static(tmp_path)
    assert path.stat().st_mtime_ns == mtime
    assert "</script" not in path.read_text().lower()


def test_format_number() -> None:
    assert format_number(None) == "—"
    assert format_number(float("nan")) == "—"
    assert format_number(1500) == "1,500"
    assert format_number(0.000123456) == "0.0001235"


def test_ecdf_downsampling_and_ks_location_match_the_statistic() -> None:
    rng = np.random.default_rng(1)
    ref = np.sort(rng.normal(0, 1, 20000))
    cur = rng.normal(0.3, 1, 3000)
    x, y = charts.ecdf_points(ref)
    assert len(x) <= charts.ECDF_POINTS and np.all(np.diff(x) > 0) and np.all(np.diff(y) >= 0)
    assert y[-1] == 1.0
    where = charts.ks_location(ref, np.sort(cur))
    assert where is not None
    from scipy.stats import ks_2samp

    assert where.distance == pytest.approx(ks_2samp(ref, cur).statistic, abs=1e-12)
    fig = charts.ecdf_chart(ref, cur, XSS_FEATURE, where.distance)
    go.Figure(fig)
    assert fig["layout"]["title"]["text"] == html.escape(XSS_FEATURE, quote=False)


def comparison_frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(5)
    n = 4000
    reference = pl.DataFrame(
        {
            "income": rng.lognormal(10, 0.4, n),
            XSS_FEATURE: rng.normal(0, 1, n),
            "region": rng.choice(["north", "south", "<b>east</b>"], n).tolist(),
        }
    )
    current = pl.DataFrame(
        {
            "income": rng.lognormal(10.3, 0.4, n // 2),
            XSS_FEATURE: rng.normal(0, 1, n // 2),
            "region": rng.choice(["north", XSS_CATEGORY], n // 2).tolist(),
        }
    )
    return reference, current


def test_comparison_page_is_standalone_and_escapes_user_data(tmp_path: Path) -> None:
    reference, current = comparison_frames()
    result = compare(reference, current)
    page = render_comparison(
        result,
        "train <v1>.parquet",
        "week.parquet",
        reference=reference,
        current=current,
        now=datetime(2026, 1, 1),
    )
    # Self-contained: plotly inlined, no script or stylesheet by URL, nothing to fetch.
    assert "<script src=" not in page and "<link" not in page
    assert "Plotly" in page and len(page) > 3_000_000
    assert plotly_js() in page
    # Outside plotly.js (whose strings mention map-tile servers it never uses for these charts), no URL at all.
    ours = page.replace(plotly_js(), "")
    assert not re.search(r"https?://|(src|href)=[\"']?//|url\(", ours)
    for hostile in (XSS_FEATURE, XSS_CATEGORY, "<b>east</b>", "train <v1>"):
        assert hostile not in page
    assert html.escape(XSS_FEATURE) in page and "train &lt;v1&gt;.parquet" in page
    figures = json.loads(re.search(r'id="dw-figures">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    # summary + income (bins, ECDF) + the hostile numeric (bins, ECDF) + region (shares)
    assert sorted(figures) == [
        "feature-0-bins",
        "feature-0-ecdf",
        "feature-1-bins",
        "feature-1-ecdf",
        "feature-2-bins",
        "summary",
    ]
    for fig in figures.values():
        go.Figure(fig)
    region = figures["feature-2-bins"]
    assert html.escape(XSS_CATEGORY, quote=False) not in json.dumps(region)  # unseen in the reference:
    assert "⟨unseen⟩" in json.dumps(region, ensure_ascii=False)  # it is counted in the unseen bar
    assert ">income<" in page and "drift" in page
    out = write_comparison(tmp_path / "out.html", page)
    assert out.read_text() == page


def test_comparison_page_without_the_data_still_shows_statistics() -> None:
    reference, current = comparison_frames()
    page = render_comparison(compare(reference, current), "ref", "cur")
    figures = json.loads(re.search(r'id="dw-figures">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert list(figures) == ["summary"]
    assert "Distributions are drawn when the compared data is passed" in page


def test_docs_describe_the_public_functions_and_constants() -> None:
    from reports_cdp import ROOT

    from driftwatch.reports import site

    text = (ROOT / "docs" / "reports.md").read_text()
    for name in ("render_reports", "render_comparison", "write_comparison", "window_page", "ReportPathError"):
        assert name in text, name
    assert site.MANIFEST in text
    assert "static/plotly.min.js" in text
    assert f"at most {charts.ECDF_POINTS} steps" in text
    for image in ("index.png", "overview.png", "window.png", "compare.png"):
        assert f"images/{image}" in text


def test_numeric_bin_labels_follow_the_binning_rule() -> None:
    # searchsorted(edges, x, side="right"): x == edge goes to the bin above, so bins are [a, b).
    assert charts.numeric_bin_labels([0.5, 13180.4, 26000.0]) == [
        "< 0.5",
        "[0.5, 13,180)",
        "[13,180, 26,000)",
        "≥ 26,000",
        "missing",
    ]
    assert charts.numeric_bin_labels([]) == ["all values", "missing"]
