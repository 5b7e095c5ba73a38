"""A monitor's `stream_rows`: windows larger than it are read from DuckDB in record batches through the partials.

Two real cycles on the same files, one with every window read whole and one streamed in batches of 700 rows,
must store the same results: every statistic, status and row count bit for bit, per segment too, except
Wasserstein, which the streamed run stores as an estimate within the `wasserstein_norm_bound` it stores beside
it. Windows under the bound are read whole (no bound stored).

The data-quality checks too: the first day holds values far outside the reference's range (x1) and a feature
stuck at one value (n); both runs must find them (a streamed window's ECDF is evaluated at the reference's
values, so its ends are not the window's min and max: the range check reads the exact extremes instead).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from driftwatch.config.loading import load_settings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.storage.database import Database
from driftwatch.storage.quality import QualityRow, quality_results
from driftwatch.storage.results import feature_results

START = datetime(2026, 3, 2)
W1_IN_REASON = re.compile(r"w1 [-+.0-9e]+")
CONFIG = """\
storage: state/dw.duckdb
monitors:
  m:
    predictions:
      path: preds/*.parquet
      features: [x1, x2, n, colour]
      prediction: score
      segments: [region]
    reference:
      path: ref.parquet
      prediction: score
    features:
      numeric: [x1, x2, n]
      categorical: [colour]
    window: 1d
    min_rows: 50
"""


def _frame(rng: np.random.Generator, n: int, shift: float) -> dict[str, Any]:
    x2 = rng.exponential(2.0 + shift, n)
    x2[rng.random(n) < 0.05] = np.nan
    return {
        "x1": rng.normal(shift, 1.0, n),
        "x2": x2,
        "n": rng.poisson(4.0 + shift, n).astype(np.float64),
        "colour": list(rng.choice(["a", "b", "c"], n)),
        "score": rng.random(n) ** (1.0 + shift),
        "region": list(rng.choice(["eu", "us"], n, p=[0.7, 0.3])),
    }


Run = tuple[list[dict[str, Any]], list[QualityRow]]


def _run(root: Path, config: str) -> Run:
    rng = np.random.default_rng(7)
    pl.DataFrame(_frame(rng, 2500, 0.0)).write_parquet(root / "ref.parquet")
    (root / "preds").mkdir()
    for day, rows in enumerate((3000, 400)):  # the second day's window is under the bound
        frame = _frame(rng, rows, 0.2 * (day + 1))
        if day == 0:  # broken data for the quality checks: 10 % of x1 far outside, n stuck at one value
            frame["x1"][:300] = 1e6
            frame["n"] = np.full(rows, 4.0)
        served = [START + timedelta(days=day, seconds=int(s)) for s in np.sort(rng.integers(1, 86000, rows))]
        ids = [f"d{day}-{i}" for i in range(rows)]
        pl.DataFrame({"request_id": ids, "timestamp": served, **frame}).write_parquet(
            root / "preds" / f"{day}.parquet"
        )
    (root / "driftwatch.yml").write_text(config)
    settings = load_settings(root / "driftwatch.yml")
    db = Database(settings.storage, settings.database)
    with db:
        run_cycle(db, settings.monitor("m"), now=(START + timedelta(days=3)).replace(tzinfo=UTC))
        quality = quality_results(db.cursor(), "m", "window", None, None, None, 1000)
        return feature_results(db.cursor(), monitor="m", segment=None), quality


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    whole = _run(tmp_path_factory.mktemp("whole"), CONFIG)
    streamed = _run(tmp_path_factory.mktemp("streamed"), CONFIG + "    stream_rows: 700\n")
    return whole, streamed


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b


def test_streamed_windows_store_the_in_memory_results(runs: tuple[Run, Run]) -> None:
    (whole, _), (streamed, _) = runs
    key = ("segment", "window_start", "feature")
    assert [tuple(r[k] for k in key) for r in whole] == [tuple(r[k] for k in key) for r in streamed]
    segments = {r["segment"] for r in whole}
    assert segments == {"*", "region=eu", "region=us"}
    bounded = 0
    for want, got in zip(whole, streamed, strict=True):
        for name, value in want.items():
            if name in ("run_id", "computed_at"):
                continue
            if name == "wasserstein_norm" and "wasserstein_norm_bound" in got:
                assert abs(got[name] - value) <= got["wasserstein_norm_bound"] * (1 + 1e-9) + 1e-15
                bounded += 1
                continue
            if name == "reason" and "wasserstein_norm_bound" in got:  # the reason quotes W1's value
                got_reason, value = W1_IN_REASON.sub("w1 _", got[name]), W1_IN_REASON.sub("w1 _", value)
                assert got_reason == value
                continue
            assert _same(got[name], value), (want["segment"], want["window_start"], want["feature"], name)
        first_day = want["window_start"].startswith(START.date().isoformat())
        # Streamed exactly where the window is over the bound: the first day (3000 rows), not the second.
        assert ("wasserstein_norm_bound" in got) == (first_day and want["kind"] == "numeric")
    # x1, x2, n and the score, overall and per region.
    assert bounded == 4 * 3


def test_streamed_windows_judge_data_quality_as_in_memory(runs: tuple[Run, Run]) -> None:
    """Every check's status is the in-memory one, except that a streamed numeric window's near-constant share
    is only bounded: there it may be `not_judged` (never a fail the in-memory run did not find)."""
    (_, whole), (_, streamed) = runs
    key = [(r.window_start, r.check, r.feature) for r in whole]
    assert key == [(r.window_start, r.check, r.feature) for r in streamed]
    first_day = START.replace(tzinfo=UTC)
    by_key = {(r.window_start, r.check, r.feature): r for r in streamed}
    assert by_key[(first_day, "range", "x1")].status == "fail"
    assert "301 of 3,000 values outside" in by_key[(first_day, "range", "x1")].reason
    assert by_key[(first_day, "constant", "n")].status == "fail"
    for want, got in zip(whole, streamed, strict=True):
        where = (want.window_start, want.check, want.feature)
        if want.check == "constant" and got.status == "not_judged":
            assert want.status != "fail", where
            continue
        assert got.status == want.status, where
        if want.check == "range":
            assert (got.value, got.reason) == (want.value, want.reason), where
