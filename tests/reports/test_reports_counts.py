"""What a page says about a window agrees with the rows it shows (issue 12, small things that erode trust).

A real project: a reference with the model's score and the truth, two days of plain-column logs and their
labels; on the second day one input and the model's score move. Run through the real cycle, rendered, read.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from driftwatch.cli import app
from driftwatch.config.loading import load_settings
from driftwatch.config.settings import Settings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.reports.site import INDEX_PAGE, render_reports, window_page
from driftwatch.stats.decision import OUTPUT_FEATURES
from driftwatch.storage.database import Database

START = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 2
ROWS = 800

CONFIG = """\
storage: state/dw.duckdb
reports_dir: reports
monitors:
  m:
    predictions:
      path: preds/*.parquet
      features: [x1, x2, colour]
      prediction: score
    reference:
      path: ref.parquet
      prediction: score
      target: y
    features:
      numeric: [x1, x2]
      categorical: [colour]
    task: binary_classification
    labels: labels/*.parquet
"""


def _score(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(1.5 * x1 + x2 - 0.3)))


def _frame(rng: np.random.Generator, n: int, shift: float) -> pl.DataFrame:
    x1, x2 = rng.normal(shift, 1, n), rng.normal(0, 1, n)
    score = _score(x1, x2)
    return pl.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "colour": rng.choice(["red", "green", "blue"], n),
            "score": score,
            "y": (rng.random(n) < score).astype(np.int64),
        }
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("counts")
    rng = np.random.default_rng(12)
    _frame(rng, 5000, 0.0).write_parquet(root / "ref.parquet")
    (root / "preds").mkdir()
    (root / "labels").mkdir()
    for day in range(DAYS):
        frame = _frame(rng, ROWS, 1.0 if day == DAYS - 1 else 0.0)
        ids = [f"r{day}-{i}" for i in range(ROWS)]
        served = [START + timedelta(days=day, seconds=int(s)) for s in np.sort(rng.integers(0, 86400, ROWS))]
        frame.drop("y").with_columns(
            pl.Series("request_id", ids), pl.Series("timestamp", served)
        ).write_parquet(root / "preds" / f"{day}.parquet")
        pl.DataFrame({"request_id": ids, "label": frame["y"]}).write_parquet(
            root / "labels" / f"{day}.parquet"
        )
    (root / "driftwatch.yml").write_text(CONFIG)
    settings = load_settings(root / "driftwatch.yml")
    with Database(settings.storage, settings.database) as db:
        run_cycle(db, settings.monitor("m"), now=START + timedelta(days=DAYS + 1))
        render_reports(db, settings)
    return settings


def _rows(page: str) -> dict[str, str]:
    found = re.findall(
        r'<td class="name" data-sort="([^"]*)">.*?<span class="status status-(\w+)">', page, re.S
    )
    return {html.unescape(name): status for name, status in found}


def test_window_summary_counts_the_rows_it_lists(project: Settings) -> None:
    page = (project.reports_dir / window_page("m", "*", "*", datetime(2026, 3, 3))).read_text()
    rows = _rows(page)
    inputs = {n: s for n, s in rows.items() if n not in OUTPUT_FEATURES}
    outputs = {n: s for n, s in rows.items() if n in OUTPUT_FEATURES}
    # The planted change: x1 moves by 1σ, and with it the model's score.
    assert inputs["x1"] == "drift" and outputs == {"raw_prediction": "drift"}, rows
    line = re.search(r"<p>([\d,]+ rows · .*?)</p>", page)
    assert line, page
    summary = html.unescape(line.group(1))
    drifting = sum(s == "drift" for s in inputs.values())
    warning = sum(s == "warn" for s in inputs.values())
    assert f"{drifting} drifting and {warning} warning of {len(inputs)} input features" in summary, summary
    assert "model output: raw_prediction drift" in summary, summary


def test_index_counts_inputs_only(project: Settings) -> None:
    index = (project.reports_dir / INDEX_PAGE).read_text()
    assert re.search(r'<td class="num" data-sort="1">1 of 3</td>', index), index


def test_estimated_performance_shows_no_labels_used(project: Settings) -> None:
    page = (project.reports_dir / window_page("m", "*", "*", datetime(2026, 3, 2))).read_text()
    table = page.split('id="performance-table"', 1)[1].split("</table>", 1)[0]
    cells = {
        html.unescape(re.sub(r"<[^>]+>", "", r[0])): [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in r[1:]]
        for r in (
            re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)
        )
        if r
    }
    # columns: metric, value, interval, baseline, labels, coverage, status, reason
    assert cells["roc_auc"][3] == f"{ROWS:,} of {ROWS:,}" and cells["roc_auc"][4] == "100.0%"
    estimated = {m: c for m, c in cells.items() if m.startswith("estimated_")}
    assert estimated
    for metric, c in estimated.items():
        assert (c[3], c[4]) == ("none used", "—"), (metric, c)


def test_cli_performance_table_shows_no_labels_used_for_estimates(project: Settings) -> None:
    config = project.storage.parent.parent / "driftwatch.yml"
    done = CliRunner().invoke(
        app, ["results", "--config", str(config), "--performance"], terminal_width=400, env={"COLUMNS": "400"}
    )
    assert done.exit_code == 0, done.output
    lines = [line for line in done.output.splitlines() if "estimated_roc_auc" in line]
    assert len(lines) == DAYS, done.output
    assert all("none used" in line and f"{ROWS:,}" not in line for line in lines), lines
    realized = [
        line for line in done.output.splitlines() if re.search(r"\broc_auc\b", line) and "estim" not in line
    ]
    assert realized and all(f"{ROWS:,}" in line for line in realized), done.output
