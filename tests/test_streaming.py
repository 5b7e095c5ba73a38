"""`compare --memory-budget`: the current Parquet file streamed in batches through the partials gives the
in-memory comparison's result (every statistic but Wasserstein bit for bit, Wasserstein within its bound)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import driftwatch
from driftwatch import streaming
from driftwatch.errors import InputError
from driftwatch.sources.batches import parquet_batches, parquet_shape
from driftwatch.stats.profile import numeric_profile
from driftwatch.streaming import MIN_BATCH_ROWS, compare_streaming, plan_batch_rows

ROWS = 120_000


def _table(rng: np.random.Generator, rows: int, shift: float) -> pa.Table:
    normal = rng.normal(shift, 1.0, rows)
    normal[rng.random(rows) < 0.01] = np.nan
    texts = rng.choice(np.array(["red", "green", "blue", "teal"]), rows).astype(object)
    texts[rng.random(rows) < 0.02] = None
    return pa.table(
        {
            "normal": normal,
            "count": rng.poisson(3.0 + shift, rows).astype(np.int64),
            "rounded": np.round(rng.exponential(1.0 + shift, rows), 2),
            "colour": pa.array(texts, type=pa.string()),
            "raw_prediction": rng.random(rows) ** (1.0 + shift),
            "business_output": pa.array(np.where(rng.random(rows) < 0.3 + shift / 4, "yes", "no")),
        }
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    rng = np.random.default_rng(20)
    folder = tmp_path_factory.mktemp("streaming")
    reference = _table(rng, 30_000, 0.0)
    current = _table(rng, ROWS, 0.05)
    normal = current.column("normal").to_numpy().copy()
    normal[[7, 50_000]] = [np.inf, -np.inf]  # refused rows, as ingest would quarantine them
    current = current.set_column(0, "normal", pa.array(normal))
    pq.write_table(reference, folder / "reference.parquet")
    pq.write_table(current, folder / "current.parquet", row_group_size=25_000)
    return folder / "reference.parquet", folder / "current.parquet"


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return a == b


def assert_same_document(streamed: dict[str, object], in_memory: dict[str, object]) -> None:
    assert {k: v for k, v in streamed.items() if k != "features"} == {
        k: v for k, v in in_memory.items() if k != "features"
    }
    for got, want in zip(streamed["features"], in_memory["features"], strict=True):  # type: ignore[call-overload]
        for key, value in want.items():
            if key == "wasserstein_norm":
                bound = got.get("wasserstein_norm_bound")
                assert got.get("wasserstein_exact") is False and bound is not None
                assert abs(got[key] - value) <= bound * (1 + 1e-9) + 1e-15, (
                    want["name"],
                    got[key],
                    value,
                    bound,
                )
            else:
                assert _same(got[key], value), (want["name"], key, got[key], value)


def test_streamed_comparison_equals_the_in_memory_one(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    reference, current = files
    in_memory = driftwatch.compare(reference, current).to_dict()
    # Batches of at most 20,000 rows: 6 batches, across the file's row groups of 25,000 (the budget alone
    # would give one batch here, the reference being small).
    batches: list[int] = []
    monkeypatch.setattr(streaming, "MAX_BATCH_ROWS", 20_000)
    real_batches = streaming.parquet_batches

    def counted(*args: object) -> Iterator[pa.RecordBatch]:
        for batch in real_batches(*args):  # type: ignore[arg-type]
            batches.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(streaming, "parquet_batches", counted)
    streamed = driftwatch.compare(reference, current, memory_budget="1GiB").to_dict()
    assert batches == [20_000] * 6
    assert_same_document(streamed, in_memory)
    assert in_memory["rows_excluded"]["current"] == {"feature 'normal': not a number or not finite": 2}
    numeric = [f for f in in_memory["features"] if f["kind"] == "numeric"]
    assert numeric and all(f["ks_pvalue"] is not None for f in numeric)


def test_the_budget_sets_the_batch_size(files: tuple[Path, Path]) -> None:
    reference, current = files
    shape = parquet_shape(current, "current")
    profile = numeric_profile("normal", pq.read_table(reference, columns=["normal"]).column(0).to_numpy())
    small = plan_batch_rows(6 << 20, [profile], shape, ["normal", "count", "colour"])
    large = plan_batch_rows(1 << 30, [profile], shape, ["normal", "count", "colour"])
    assert MIN_BATCH_ROWS <= small.batch_rows < ROWS // 2 < large.batch_rows
    assert small.held + small.batch_rows * small.per_row <= 6 << 20
    batches = list(parquet_batches(current, ["normal"], small.batch_rows))
    assert len(batches) > 2 and sum(b.num_rows for b in batches) == ROWS
    with pytest.raises(InputError, match="too small"):
        plan_batch_rows(1 << 20, [profile], shape, ["normal"])


def test_cli_memory_budget_matches_in_memory_and_refuses_what_it_cannot_stream(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    reference, current = files

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "driftwatch.cli",
            "compare",
            str(reference),
            *args,
            "--format",
            "json",
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=300)

    streamed = run(str(current), "--memory-budget", "256MiB", "--html", str(tmp_path / "report.html"))
    assert streamed.returncode == 0, streamed.stderr
    in_memory = run(str(current))
    assert in_memory.returncode == 0, in_memory.stderr
    assert_same_document(json.loads(streamed.stdout), json.loads(in_memory.stdout))
    assert "normal" in (tmp_path / "report.html").read_text()

    csv = tmp_path / "current.csv"
    csv.write_text("normal\n1.0\n")
    for args, message in (
        ((str(current), "--memory-budget", "2 bananas"), "expected a size"),
        ((str(current), "--memory-budget", "1MiB"), "too small"),
        ((str(csv), "--memory-budget", "1GiB"), "streams Parquet"),
    ):
        done = run(*args)
        assert done.returncode != 0 and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_a_log_schema_current_file_is_refused_with_the_reason(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    log = tmp_path / "log.parquet"
    pq.write_table(pa.table({"input_features": ['{"normal": 1.0}']}), log)
    with pytest.raises(InputError, match="flatten it first"):
        compare_streaming(files[0], log, memory_budget="1GiB")
