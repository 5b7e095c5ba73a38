"""The cycle-scope data-quality checks (parse, type, duplicates: judged on the rows each cycle read, so they belong
to no window) are shown on the monitor's overview page, escaped: they used to be stored and reachable only
through the API and /metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import polars as pl

from driftwatch.config.loading import load_settings
from driftwatch.pipeline.cycle import run_monitor
from driftwatch.reports.site import overview_page
from driftwatch.storage.database import Database

NOW = datetime(2026, 3, 3, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>"  # a feature name, quoted by the checks' reasons

CONFIG = """\
storage: dw.duckdb
monitors:
  m:
    predictions:
      path: logs/*
      features: ["<script>alert(1)</script>", income, region]
      prediction: score
    reference:
      path: train.parquet
    features:
      numeric: ["<script>alert(1)</script>", income]
      categorical: [region]
    min_rows: 1
"""


def line(i: int, age: object) -> str:
    return json.dumps(
        {
            "request_id": f"r{i}",
            "timestamp": f"2026-03-02T10:{i % 60:02d}:00Z",
            HOSTILE: age,
            "income": 1000.5 * i,
            "region": "north",
            "score": 0.5,
        }
    )


class _Rows(HTMLParser):
    """The cells of each row of `#quality-cycles-table`, and whether a <script> tag opened inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.rows: list[list[str]] = []
        self.script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and ("id", "quality-cycles-table") in attrs:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag == "td":
            self.rows[-1].append("")
        elif self.inside and tag == "script":
            self.script = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside and self.rows and self.rows[-1]:
            self.rows[-1][-1] += data


def test_the_overview_lists_the_latest_cycles_checks_escaped(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    pl.DataFrame({HOSTILE: [20.0, 40.0], "income": [1.0, 2.0], "region": ["north", "south"]}).write_parquet(
        tmp_path / "train.parquet"
    )
    (tmp_path / "driftwatch.yml").write_text(CONFIG)
    lines = [line(i, 20 + i % 30) for i in range(200)] + [line(1000 + i, "forty") for i in range(4)]
    (tmp_path / "logs" / "day.ndjson").write_text("\n".join(lines) + "\n")
    settings = load_settings(tmp_path / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = run_monitor(db, settings, "m", now=NOW)
    assert summary.ingest.rows_quarantined == 4
    html = (settings.reports_dir / overview_page("m")).read_text()
    assert 'id="quality-cycles"' in html
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    table = _Rows()
    table.feed(html)
    assert not table.script
    by_check = {(cells[2], cells[3]): cells for cells in table.rows if cells}
    parse = by_check[("parse", "(cycle)")]
    assert parse[1] == summary.run_id[:8]
    assert parse[4] == "fail"  # 4 of 204 rows: above the 1 % fail bar
    assert parse[5] == f"{100 * 4 / 204:.2f} %"
    assert f"feature '{HOSTILE}': … is not a number: 4" in parse[6]  # shown as text
    assert by_check[("type", HOSTILE)][4] == "fail"
    assert by_check[("duplicates", "(cycle)")][4] == "ok"
    n = len([cells for cells in table.rows if cells])  # one cycle: every row is the latest cycle's
    assert f"latest cycle: {n} checks: 2 fail, {n - 2} ok" in html


def test_no_section_before_a_cycle_read_a_row(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    pl.DataFrame({HOSTILE: [20.0, 40.0], "income": [1.0, 2.0], "region": ["north", "south"]}).write_parquet(
        tmp_path / "train.parquet"
    )
    (tmp_path / "driftwatch.yml").write_text(CONFIG)
    settings = load_settings(tmp_path / "driftwatch.yml")
    with Database(settings.storage) as db:
        run_monitor(db, settings, "m", now=NOW)
    assert 'id="quality-cycles"' not in (settings.reports_dir / overview_page("m")).read_text()
