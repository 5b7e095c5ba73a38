"""`driftwatch.compare` and `driftwatch compare`: the same numbers from every kind of input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import scipy.stats

import driftwatch
from driftwatch.errors import InputError, SourceError


def frames(seed: int = 3, shift: float = 0.0, n: int = 3000) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.05] = np.nan
    return pl.DataFrame(
        {
            "x": x,
            "k": rng.integers(0, 5, n).astype(np.int64),
            "c": rng.choice(["a", "b", "c"], n),
            "when": pl.datetime_range(
                pl.datetime(2026, 1, 1), pl.datetime(2026, 1, 1), eager=True
            ).extend_constant(None, n - 1),
        }
    )


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    frames(1).write_parquet(ref)
    frames(2, shift=0.8).write_parquet(cur)
    return ref, cur


def test_library_accepts_polars_pandas_arrow_and_paths_with_identical_results(
    pair: tuple[Path, Path],
) -> None:
    ref_pl, cur_pl = pl.read_parquet(pair[0]), pl.read_parquet(pair[1])
    by_path = driftwatch.compare(pair[0], pair[1]).to_polars()
    by_polars = driftwatch.compare(ref_pl, cur_pl).to_polars()
    by_pandas = driftwatch.compare(ref_pl.to_pandas(), cur_pl.to_pandas()).to_polars()
    by_arrow = driftwatch.compare(ref_pl.to_arrow(), cur_pl.to_arrow()).to_polars()
    assert by_path.equals(by_polars) and by_path.equals(by_pandas) and by_path.equals(by_arrow)
    assert by_path["name"].to_list() == ["x", "k", "c"]  # the datetime column is neither kind
    assert by_path["kind"].to_list() == ["numeric", "numeric", "categorical"]


def test_statistics_match_scipy_and_drift_is_flagged(pair: tuple[Path, Path]) -> None:
    ref, cur = pl.read_parquet(pair[0]), pl.read_parquet(pair[1])
    result = driftwatch.compare(ref, cur)
    x = result.to_polars().filter(pl.col("name") == "x").row(0, named=True)
    a = ref["x"].drop_nans().drop_nulls().to_numpy()
    b = cur["x"].drop_nans().drop_nulls().to_numpy()
    expected = scipy.stats.ks_2samp(a, b)
    assert abs(x["ks_statistic"] - expected.statistic) <= 1e-12
    assert abs(x["ks_pvalue"] - expected.pvalue) <= 1e-9
    assert x["status"] == "drift"
    assert x["missing_share_reference"] == pytest.approx(ref["x"].is_nan().sum() / ref.height)
    assert result.drift is True
    c = result.to_polars().filter(pl.col("name") == "c").row(0, named=True)
    assert c["status"] == "ok" and c["unseen_share"] == 0.0


def test_explicit_feature_lists_and_errors(pair: tuple[Path, Path], tmp_path: Path) -> None:
    only = driftwatch.compare(pair[0], pair[1], numeric=["k"], categorical=["c"]).to_polars()
    assert only["name"].to_list() == ["k", "c"]
    with pytest.raises(InputError, match="no column 'nope'"):
        driftwatch.compare(pair[0], pair[1], numeric=["nope"])
    with pytest.raises(InputError, match="not numeric"):
        driftwatch.compare(pair[0], pair[1], numeric=["c"])
    with pytest.raises(SourceError, match="not found"):
        driftwatch.compare(tmp_path / "missing.parquet", pair[1])
    with pytest.raises(InputError, match="no columns in common"):
        driftwatch.compare(pl.DataFrame({"a": [1.0]}), pl.DataFrame({"b": [1.0]}))
    with pytest.raises(InputError, match="expected a path"):
        driftwatch.compare([1, 2], pair[1])


def test_pandas_frame_keeps_nan_as_missing() -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0, np.nan, 4.0] * 100})
    cur = pd.DataFrame({"x": [1.0, np.nan, np.nan, 4.0] * 100})
    row = driftwatch.compare(ref, cur).to_polars().row(0, named=True)
    assert row["missing_share_reference"] == 0.25 and row["missing_share_current"] == 0.5


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftwatch.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_json_contract_and_exit_codes(pair: tuple[Path, Path], tmp_path: Path) -> None:
    done = run_cli("compare", str(pair[0]), str(pair[1]), "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["drift"] is True
    for feature in doc["features"]:
        for key in (
            "name",
            "kind",
            "psi",
            "ks_statistic",
            "ks_pvalue",
            "missing_share_reference",
            "missing_share_current",
            "status",
        ):
            assert key in feature
        assert feature["status"] in ("ok", "warn", "drift", "insufficient_data")
    assert run_cli("compare", str(pair[0]), str(pair[1]), "--fail-on-drift").returncode == 1
    same = run_cli("compare", str(pair[0]), str(pair[0]), "--fail-on-drift", "--format", "json")
    assert same.returncode == 0 and json.loads(same.stdout)["drift"] is False

    missing = run_cli("compare", str(tmp_path / "nope.csv"), str(pair[1]))
    assert missing.returncode == 2
    assert "nope.csv" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    (tmp_path / "a.csv").write_text("a\n1\n")
    (tmp_path / "b.csv").write_text("b\n1\n")
    disjoint = run_cli("compare", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"))
    assert disjoint.returncode == 2 and "no columns in common" in disjoint.stderr
    (tmp_path / "c.xlsx").write_text("x")
    unreadable = run_cli("compare", str(tmp_path / "c.xlsx"), str(pair[1]))
    assert unreadable.returncode == 2 and "unknown file type" in unreadable.stderr


def scored(seed: int, shift: float, n: int = 4000) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, n)
    score = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + shift)))
    return pl.DataFrame(
        {
            "age": age,
            "score": score,
            "decision": np.where(score > 0.5, "decline", "approve"),
            "raw_prediction": score,
        }
    )


def test_model_output_is_watched_apart_from_the_features() -> None:
    ref, cur = scored(1, 0.0), scored(2, 1.0)
    result = driftwatch.compare(
        ref.drop("raw_prediction"), cur.drop("raw_prediction"), prediction="score", output="decision"
    )
    rows = {r["name"]: r for r in result.to_dict()["features"]}
    assert set(rows) == {"age", "score", "decision"}
    assert (rows["age"]["role"], rows["score"]["role"], rows["decision"]["role"]) == (
        "input",
        "output",
        "output",
    )
    assert rows["score"]["kind"] == "numeric" and rows["decision"]["kind"] == "categorical"
    assert rows["score"]["status"] == "drift" and rows["decision"]["status"] == "drift"
    assert rows["score"]["ks_statistic"] == pytest.approx(
        scipy.stats.ks_2samp(ref["score"].to_numpy(), cur["score"].to_numpy()).statistic, abs=1e-12
    )
    # Inputs alone decide the share; the moved output makes the window warn.
    assert result.decision.drift_share == 0.0 and result.decision.status == "warn"
    assert "model output: score drift, decision drift" in result.decision.reason
    # The log schema's name is picked up by itself; naming a column as both roles is an error.
    auto = driftwatch.compare(ref.drop("score", "decision"), cur.drop("score", "decision"))
    assert [(f.name, f.role) for f in auto.features] == [("age", "input"), ("raw_prediction", "output")]
    with pytest.raises(InputError, match="feature and as the model's output"):
        driftwatch.compare(ref, cur, numeric=["age", "score"], prediction="score")


def test_cli_shows_every_statistic_and_the_output(tmp_path: Path) -> None:
    ref, cur = tmp_path / "r.parquet", tmp_path / "c.parquet"
    scored(1, 0.0).write_parquet(ref)
    scored(2, 1.0).write_parquet(cur)
    done = run_cli("compare", str(ref), str(cur), "--prediction", "score", "--output", "decision")
    assert done.returncode == 0, done.stderr
    for header in ("psi", "test", "js", "hellinger", "w/σ", "missing", "status", "reason"):
        assert header in done.stdout
    assert "model output score: drift" in done.stdout
    assert "χ²" in done.stdout and "D 0." in done.stdout


def test_parquet_read_by_arrow_types_and_counts_columns_as_polars_does(tmp_path: Path) -> None:
    """Parquet paths are read with pyarrow, not polars; every column type must still mean what polars makes of
    it (kind, float64 values with null → NaN, category strings), including the ones handed to polars."""
    rng = np.random.default_rng(5)
    n = 2000

    minutes = pl.datetime_range(pl.datetime(2026, 1, 1), pl.datetime(2026, 1, 3), "1m", eager=True)

    def with_nan(values: np.ndarray) -> np.ndarray:
        return np.where(rng.random(n) < 0.1, np.nan, values)

    def frame(shift: float) -> pl.DataFrame:
        ints = rng.integers(-50, 50, n)
        return pl.DataFrame(
            {
                "i64": pl.Series(ints, dtype=pl.Int64).scatter(np.arange(0, n, 7), None),
                "u8": pl.Series(rng.integers(0, 200, n), dtype=pl.UInt8),
                "u64": pl.Series(rng.integers(0, 2**62, n).astype(np.uint64) * 3, dtype=pl.UInt64),
                "f32": pl.Series(rng.normal(shift, 1, n), dtype=pl.Float32).scatter([1, 2], None),
                "f64": pl.Series(with_nan(rng.normal(shift, 1, n))).scatter(3, None),
                "dec": pl.Series(ints).cast(pl.Decimal(10, 2)),
                "flag": pl.Series(rng.random(n) < 0.3 + shift / 10).scatter([0, 5], None),
                "s": pl.Series(rng.choice(["a", "b", "c"], n)).scatter([4], None),
                "cat": pl.Series(rng.choice(["x", "y"], n), dtype=pl.Categorical),
                "enum": pl.Series(rng.choice(["p", "q"], n), dtype=pl.Enum(["p", "q"])),
                "when": minutes[:n],
                "blob": pl.Series([b"x"] * n),
            }
        )

    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    frame(0.0).write_parquet(ref)
    frame(0.5).write_parquet(cur)
    ref_pl, cur_pl = pl.read_parquet(ref), pl.read_parquet(cur)
    by_path = driftwatch.compare(ref, cur).to_polars()
    assert by_path.equals(driftwatch.compare(ref_pl, cur_pl).to_polars())
    assert by_path["name"].to_list() == ["i64", "u8", "u64", "f32", "f64", "dec", "flag", "s", "cat", "enum"]
    assert by_path["kind"].to_list() == ["numeric"] * 6 + ["categorical"] * 4
    # Named explicitly, across kinds: numbers counted as categories, booleans as numbers.
    options = {"numeric": ["flag", "u8"], "categorical": ["i64", "f32", "when"]}
    explicit = driftwatch.compare(ref, cur, **options).to_polars()
    assert explicit.equals(driftwatch.compare(ref_pl, cur_pl, **options).to_polars())
    with pytest.raises(InputError, match="'s' is not numeric"):
        driftwatch.compare(ref, cur, numeric=["s"])
    # Column by column: the same values and category counts (names included) from Arrow as from polars.
    from driftwatch.comparison import _columns, as_table

    arrow, polars = _columns(as_table(ref, "reference")), _columns(ref_pl)
    for name in ref_pl.columns:
        assert arrow.kind(name) == polars.kind(name), name
        assert arrow.value_counts(name, "reference") == polars.value_counts(name, "reference"), name
        if polars.kind(name) == "numeric" or name == "flag":
            got, want = arrow.numeric_values(name, "reference"), polars.numeric_values(name, "reference")
            assert got.dtype == want.dtype == np.float64 and np.array_equal(got, want, equal_nan=True), name


def test_results_do_not_depend_on_the_thread_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    from driftwatch import comparison
    from driftwatch.stats import parallel

    ref, cur = frames(1, n=60_000), frames(2, shift=0.1, n=60_000)  # big enough to go on threads
    monkeypatch.setattr(parallel, "default_workers", lambda: 3)
    threaded = driftwatch.compare(ref, cur).to_dict()
    monkeypatch.setattr(comparison, "MAX_WORKERS", 1)
    assert driftwatch.compare(ref, cur).to_dict() == threaded


def test_cli_start_up_imports_only_what_the_command_needs(pair: tuple[Path, Path], tmp_path: Path) -> None:
    """`driftwatch compare` is often a CI step, where start-up is most of its time: the CLI module imports
    none of the heavy libraries, and comparing Parquet files needs neither polars nor pandas (nor scipy.stats,
    the service's or the report's libraries), also when a small window takes the exact missing-rate test."""
    heavy = ("numpy", "polars", "pandas", "pyarrow", "duckdb", "scipy", "numba", "yaml", "rich", "jinja2")
    # Nor, by its end, what only other commands use: scipy.stats alone costs ~0.5 s of CPU at import. The
    # exact missing-rate tests (stats.exact_tests) do without it: a 600-row window expects 30 missing values
    # of "x", under EXACT_BELOW_EXPECTED, so the compare runs Fisher's test; the binomial test (no reference
    # row count), which compare never reaches, is called before it.
    late = (
        "polars",
        "pandas",
        "scipy.stats",
        "duckdb",
        "jinja2",
        "plotly",
        "fastapi",
        "apscheduler",
        "sklearn",
    )
    # The compare process ends with os._exit (no interpreter tear-down), so the last look is taken there.
    script = (
        "import os, sys\n"
        "import driftwatch.cli as cli\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
        "from driftwatch.stats.decision import missing_rate_pvalue\n"
        "assert 0.0 < missing_rate_pvalue(0.05, 200000, 16 / 150, 150) < 0.01\n"
        "assert 0.0 < missing_rate_pvalue(0.05, None, 16 / 150, 150) < 0.01\n"
        "real_exit = os._exit\n"
        "def last_look(code):\n"
        f"    print(sorted(m for m in {late!r} if m in sys.modules), flush=True)\n"
        "    real_exit(code)\n"
        "os._exit = last_look\n"
        "cli.main()\n"
    )
    small = tmp_path / "small.parquet"
    frames(2, shift=0.8, n=600).write_parquet(small)
    argv = ["compare", str(pair[0]), str(small), "--format", "json"]
    done = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.argv[1:] = {argv!r}\n{script}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "[]", lines[0]
    assert json.loads(lines[1])["drift"] is True
    assert lines[2] == "[]", lines[2]


@pytest.mark.parametrize("case", ["drift", "ok", "missing file", "bad option"])
def test_compare_process_exit_codes_and_output_survive_the_fast_exit(
    pair: tuple[Path, Path], tmp_path: Path, case: str
) -> None:
    """The real `driftwatch compare` process skips interpreter tear-down (os._exit): its exit code, its whole
    output and an --html report must still come out as from a normal exit."""
    ref, cur = pair
    html = tmp_path / "report.html"
    args = {
        "drift": [str(ref), str(cur), "--format", "json", "--fail-on-drift", "--html", str(html)],
        "ok": [str(ref), str(ref), "--format", "json", "--fail-on-drift"],
        "missing file": [str(ref), str(tmp_path / "nope.parquet")],
        "bad option": [str(ref), str(cur), "--format", "yaml"],
    }[case]
    done = subprocess.run(
        [sys.executable, "-c", "from driftwatch.cli import main; main()", "compare", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if case in ("drift", "ok"):
        assert done.returncode == (1 if case == "drift" else 0), done.stderr
        result = json.loads(done.stdout)  # complete JSON: the buffer was flushed before the exit
        assert result["drift"] is (case == "drift")
        assert len(result["features"]) >= 2
        if case == "drift":
            assert html.read_text(encoding="utf-8").rstrip().endswith("</html>")
    else:
        assert done.returncode == 2, (done.returncode, done.stderr)
        assert done.stdout == ""
        assert ("nope.parquet" if case == "missing file" else "yaml") in done.stderr


def test_cli_default_config_name_is_the_config_modules() -> None:
    from driftwatch.cli import options
    from driftwatch.config import loading

    assert options.DEFAULT_CONFIG_NAME == loading.DEFAULT_CONFIG_NAME


def _dictionary_column() -> tuple[pa.ChunkedArray, int]:
    """Dictionary-encoded text as Arrow allows it: chunks with their own dictionaries and index types, null
    indices, a null dictionary entry, a repeated entry, an unused entry, a sliced chunk and an empty one; and
    how many rows refer to "" (a missing value, docs/values.md)."""

    def chunk(indices: list[int | None], index_type: pa.DataType, values: list[str | None]) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(indices, index_type), pa.array(values, pa.string()))

    rng = np.random.default_rng(5)
    big = [int(i) for i in rng.integers(0, 4, 5000)]
    column = pa.chunked_array(
        [
            chunk([0, 1, None, 0, 2], pa.int32(), ["a", "b", None, "unused"]),
            chunk([None, 3, 1, 1, 0, 2], pa.int32(), ["x", "x", "a", "b"]),  # "x" twice in the dictionary
            chunk(big, pa.int32(), ["a", "", "z", "b"]).slice(7, 4000),
            chunk([], pa.int32(), ["a"]),
        ]
    )
    return column, big[7 : 7 + 4000].count(1)


def test_dictionary_text_is_counted_from_its_indices(monkeypatch: pytest.MonkeyPatch) -> None:
    """The counts equal polars' for the same column, without the column going through polars."""
    from driftwatch.comparison import _ArrowColumns, _columns

    column, empty_text_rows = _dictionary_column()
    for index_type, value_type in (
        (pa.int8(), pa.string()),
        (pa.uint16(), pa.large_string()),
        (pa.int64(), pa.string()),
    ):
        typed = pa.chunked_array(
            [
                pa.DictionaryArray.from_arrays(c.indices.cast(index_type), c.dictionary.cast(value_type))
                for c in column.chunks
            ]
        )
        table = pa.table({"c": typed})
        want = _columns(pl.from_arrow(table)).value_counts("c", "reference")
        arrow = _ArrowColumns(table)

        def no_polars(*args: object, **kwargs: object) -> None:
            raise AssertionError("dictionary text went through polars")

        with monkeypatch.context() as patched:
            patched.setattr(_ArrowColumns, "_polars", no_polars)
            assert arrow.kind("c") == "categorical"
            got = arrow.value_counts("c", "reference")
        assert got == want, index_type
        # a null index in each of the first two chunks, one null entry used, and every "" (a missing value)
        assert got[None] == 1 + 1 + 1 + empty_text_rows and "" not in got
        assert "unused" not in got and got["x"] == 3  # entries 0 and 1 (twice) are both "x"


def test_compare_of_dictionary_text_equals_compare_of_plain_text() -> None:
    rng = np.random.default_rng(8)
    words = np.array(["red", "green", "blue", "cyan"])

    def table(p: list[float]) -> pa.Table:
        values = pa.array(words[rng.choice(4, 20_000, p=p)]).dictionary_encode()
        return pa.table({"colour": values, "x": rng.normal(size=20_000)})

    ref, cur = table([0.4, 0.3, 0.2, 0.1]), table([0.3, 0.3, 0.2, 0.2])
    plain = [t.cast(pa.schema([("colour", pa.string()), ("x", pa.float64())])) for t in (ref, cur)]
    assert driftwatch.compare(ref, cur).to_dict() == driftwatch.compare(*plain).to_dict()
