"""The value model (docs/values.md): one identity per number and category, whatever the format.

The SQL half (`sources.values`, used by ingest and the reference) and the Python half (used by `compare`) are
held equal value for value against DuckDB itself; then the same random frame, written in every format, must
give the same reference profile and the same statistics, bit for bit, through the pipeline and `compare`.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import driftwatch
from driftwatch.config.loading import load_settings
from driftwatch.errors import SourceError
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.reference import ensure_reference
from driftwatch.sources.values import (
    canonical_category,
    category_number_sql,
    category_sql,
    number_sql,
    numeric_sql,
    parse_number,
    parse_numeric,
)
from driftwatch.stats.categories import category_kind
from driftwatch.stats.profile import CategoricalProfile, NumericProfile
from driftwatch.storage.database import Database

# --- the two halves agree -------------------------------------------------------------------------------------

NUMBERISH = st.text(alphabet="0123456789+-.eE_ \t\n\rinfatyINFATY", max_size=8)
TEXTS = st.one_of(
    NUMBERISH, st.text(max_size=6), st.sampled_from(["True", "FALSE", "tRuE", "", " ", "nan", "-0"])
)


def sql_values(texts: list[str]) -> list[tuple]:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, s VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(texts)))
    return con.execute(
        f"SELECT {number_sql('s')}, {numeric_sql('s', number_sql('s'))}, {category_sql('s', 'n')} "
        f"FROM (SELECT *, {category_number_sql('s')} AS n FROM t) ORDER BY i"
    ).fetchall()


def same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))


@settings(max_examples=60, deadline=None)
@given(st.lists(TEXTS, min_size=1, max_size=40))
@example(
    ["+-3", "1_000", " 3 ", "03", "3.00", "3e0", "1e999", "-Infinity", "NaN", "true", "True", "١٢", "0x10"]
)
# "ınf" and "İNF": Python's case-insensitive match takes U+0131 and U+0130 for i, float() then raised
@example(["\u0131nf", "\u0130NF", "-\u0131nfinity", "na\u0131"])
def test_sql_and_python_read_every_text_alike(texts: list[str]) -> None:
    for text, (number, numeric, category) in zip(texts, sql_values(texts), strict=True):
        assert same(parse_number(text), number), text
        assert same(parse_numeric(text), numeric), text
        assert canonical_category(text) == category, text


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=40))
def test_a_double_has_one_identity_native_and_as_text(values: list[float]) -> None:
    """A double as DuckDB writes it, as Python writes it, and as the native value: one category."""
    con = duckdb.connect()
    texts = [r[0] for r in con.execute("SELECT CAST(unnest(?::DOUBLE[]) AS VARCHAR)", [values]).fetchall()]
    for value, text, (_, _, category) in zip(values, texts, sql_values(texts), strict=True):
        assert canonical_category(value) == canonical_category(repr(value)) == category, (value, text)
        if category is not None:
            assert category_kind(category) == "number"


def test_category_identities() -> None:
    assert [canonical_category(v) for v in (True, "True", "TRUE", "true", False, "False")] == [
        "true",
        "true",
        "true",
        "true",
        "false",
        "false",
    ]
    assert {canonical_category(v) for v in (3, 3.0, "3", "3.0", "03", " 3 ", "3e0", "+3")} == {"3"}
    assert [canonical_category(v) for v in (None, "", float("nan"), "NaN")] == [None] * 4
    assert [canonical_category(v) for v in (0.1, 1e20, -0.0, 2**63, float("-inf"), "1e999")] == [
        "0.1",
        "1e+20",
        "0",
        "9.223372036854776e+18",
        "-inf",
        "inf",
    ]
    # 1/0 and yes/no are not booleans; texts are kept byte for byte.
    assert [canonical_category(v) for v in (1, "yes", " a ", "1_000", "Ab")] == [
        "1",
        "yes",
        " a ",
        "1_000",
        "Ab",
    ]
    assert [category_kind(c) for c in ("true", "3", "-0.5", "1e+20", "-inf", "north", "1_000")] == [
        "boolean",
        "number",
        "number",
        "number",
        "number",
        "text",
        "text",
    ]


# --- the reported bug: spellings of one value drifted ------------------------------------------------------

PAIR_CONFIG = """\
storage: dw.duckdb
monitors:
  m:
    predictions:
      path: logs/*.parquet
      features: [owns_home, grade, x]
    reference:
      path: ref.csv
    features:
      numeric: [x]
      categorical: [owns_home, grade]
    min_rows: 10
"""


def test_a_pandas_style_csv_reference_and_parquet_logs_agree(tmp_path: Path) -> None:
    """Today's main: `True`/`False` in a reference CSV against Parquet booleans came out 100 % unseen, PSI 17.7,
    `drift` in every window, while `compare` said `ok`; `3` against `3.0` drifted in both."""
    rng = random.Random(1)
    n = 2000
    lines = ["owns_home,grade,x"] + [
        f"{rng.random() < 0.4},{rng.choice([1, 2, 3])},{rng.gauss(0, 1)!r}" for _ in range(n)
    ]
    (tmp_path / "ref.csv").write_text("\n".join(lines) + "\n")  # pandas' to_csv spelling: True/False
    (tmp_path / "logs").mkdir()
    start = datetime(2026, 3, 1, tzinfo=UTC)
    pl.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "timestamp": [start + timedelta(minutes=5 * i) for i in range(n)],
            "owns_home": [rng.random() < 0.4 for _ in range(n)],
            "grade": [float(rng.choice([1, 2, 3])) for _ in range(n)],
            "x": [rng.gauss(0, 1) for _ in range(n)],
        }
    ).write_parquet(tmp_path / "logs" / "a.parquet")
    (tmp_path / "driftwatch.yml").write_text(PAIR_CONFIG)
    config = load_settings(tmp_path / "driftwatch.yml")
    with Database(config.storage) as db:
        summary = run_cycle(db, config.monitor("m"), now=datetime(2026, 4, 1, tzinfo=UTC))
        profile = ensure_reference(db, config.monitor("m")).profile
    ref_owns = profile.features["owns_home"]
    assert isinstance(ref_owns, CategoricalProfile) and set(ref_owns.categories) == {"true", "false"}
    assert summary.windows
    for window in summary.windows:
        for feature, decision in zip(window.overall.features, window.overall.decision.features, strict=True):
            if feature.kind == "categorical":
                assert feature.stats["unseen_share"] == 0.0, feature.name
            assert decision.status != "drift", (feature.name, decision.reason)
    result = driftwatch.compare(
        tmp_path / "ref.csv",
        tmp_path / "logs" / "a.parquet",
        numeric=["x"],
        categorical=["owns_home", "grade"],
    )
    for row in result.feature_rows():
        assert row["status"] == "ok", row
        if row["kind"] == "categorical":
            assert row["unseen_share"] == 0.0


# --- one frame, every format: the same profile and statistics ---------------------------------------------

FEATURES = {"numeric": ["f", "n"], "categorical": ["b", "i", "s"]}
START = datetime(2026, 3, 2, tzinfo=UTC)

FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1.5, 3.0, 1e300, 5e-324]),
    st.none(),
)
TEXT = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=5),
    st.sampled_from(["007", "3.50", "True", "false", "nan", " x ", "é", "日本", "1e5", "-0", ""]),
    st.none(),
)
ROW = st.tuples(
    st.one_of(st.booleans(), st.none()),  # b
    st.one_of(st.integers(-1000, 1000), st.none()),  # i (written as 3 or 3.0 at random)
    TEXT,  # s
    FLOATS,  # f
    st.one_of(st.integers(-(2**40), 2**40), st.none()),  # n
    st.randoms(use_true_random=False),
)


def _bool_text(value: bool | None, rng: random.Random) -> str:
    return "" if value is None else rng.choice([str(value), str(value).upper(), str(value).lower()])


def _float_text(value: float | None, rng: random.Random) -> str:
    if value is None:
        return ""
    if math.isinf(value):
        return rng.choice(["inf", "Infinity", "1e999"]) if value > 0 else rng.choice(["-inf", "-Infinity"])
    if math.isnan(value):
        return rng.choice(["NaN", "nan"])
    return repr(value)


def _int_text(value: int | None, rng: random.Random) -> str:
    return "" if value is None else rng.choice([str(value), f"{value}.0"])


def write_formats(rows: list[tuple], root: Path) -> dict[str, Path]:
    """The frame as CSV (spellings varied per value), CSV.gz, Parquet, NDJSON with plain fields
    and NDJSON with the features in a JSON object; each with a request id and a timestamp in one day."""
    meta = [(f"r{k}", (START + timedelta(minutes=k)).isoformat()) for k in range(len(rows))]
    paths: dict[str, Path] = {}
    header = ["request_id", "timestamp", "b", "i", "s", "f", "n"]
    text_rows = [
        [
            rid,
            ts,
            _bool_text(b, r),
            _int_text(i, r),
            "" if s is None else s,
            _float_text(f, r),
            _int_text(n, r),
        ]
        for (rid, ts), (b, i, s, f, n, r) in zip(meta, rows, strict=True)
    ]
    paths["csv"] = root / "data.csv"
    with paths["csv"].open("w", newline="", encoding="utf-8") as out:
        csv.writer(out, quoting=csv.QUOTE_MINIMAL).writerows([header, *text_rows])
    paths["csv.gz"] = root / "data.csv.gz"
    paths["csv.gz"].write_bytes(gzip.compress(paths["csv"].read_bytes()))
    pl.DataFrame(
        {
            "request_id": [m[0] for m in meta],
            "timestamp": [START + timedelta(minutes=k) for k in range(len(rows))],
            "b": pl.Series([r[0] for r in rows], dtype=pl.Boolean),
            "i": pl.Series([r[1] for r in rows], dtype=pl.Int64),
            "s": pl.Series([r[2] for r in rows], dtype=pl.String),
            "f": pl.Series([r[3] for r in rows], dtype=pl.Float64),
            "n": pl.Series([r[4] for r in rows], dtype=pl.Int64),
        }
    ).write_parquet(root / "data.parquet")
    paths["parquet"] = root / "data.parquet"
    plain, nested = [], []
    for (rid, ts), (b, i, s, f, n, r) in zip(meta, rows, strict=True):
        values = {
            "b": b,
            "i": None if i is None else r.choice([i, float(i)]),
            "s": s,
            "f": f,  # json.dumps writes NaN and ±Infinity as bare tokens
            "n": None if n is None else r.choice([n, str(n)]),  # numeric strings in JSON too
        }
        plain.append(json.dumps({"request_id": rid, "timestamp": ts, **values}))
        nested.append(json.dumps({"request_id": rid, "timestamp": ts, "input_features": values}))
    (root / "plain").mkdir()
    (root / "nested").mkdir()
    paths["ndjson"] = root / "plain" / "data.ndjson"
    paths["ndjson"].write_text("\n".join(plain) + "\n", encoding="utf-8")
    paths["json-object"] = root / "nested" / "data.ndjson"
    paths["json-object"].write_text("\n".join(nested) + "\n", encoding="utf-8")
    return paths


def pipeline_result(root: Path, name: str, path: Path) -> tuple[dict, list]:
    """The reference profile built from `path` and the window statistics of `path` read as logs."""
    project = root / f"p-{name}"
    project.mkdir()
    features = "" if name == "json-object" else "      features: [b, i, s, f, n]\n"
    ref_features = "      features: input_features\n" if name == "json-object" else ""
    (project / "driftwatch.yml").write_text(
        f"storage: dw.duckdb\nmonitors:\n  m:\n    predictions:\n      path: {json.dumps(str(path))}\n"
        f"{features}    reference:\n      path: {json.dumps(str(path))}\n{ref_features}"
        "    features:\n      numeric: [f, n]\n      categorical: [b, i, s]\n    window: 1d\n    min_rows: 1\n"
    )
    config = load_settings(project / "driftwatch.yml")
    with Database(config.storage) as db:
        summary = run_cycle(db, config.monitor("m"), now=START + timedelta(days=3))
        profile = ensure_reference(db, config.monitor("m")).profile
    windows = [f for w in summary.windows for f in w.overall.features]
    return dict(profile.features), windows


def profile_key(feature: NumericProfile | CategoricalProfile) -> tuple:
    if isinstance(feature, NumericProfile):
        return (
            feature.rows,
            feature.missing,
            feature.edges.tobytes(),
            feature.bin_counts.tobytes(),
            feature.sorted_values.tobytes(),
        )
    return (feature.rows, feature.missing, feature.categories, feature.bin_counts.tobytes())


def stats_key(features: list) -> list[tuple]:
    return [
        (
            f.name,
            f.rows,
            tuple((k, np.float64(v).tobytes()) for k, v in sorted(f.stats.items())),
            f.bin_counts.tobytes(),
        )
        for f in features
    ]


@pytest.mark.slow
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(ROW, min_size=2, max_size=40))
def test_one_frame_in_every_format_gives_the_same_profile_and_statistics(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple]
) -> None:
    root = tmp_path_factory.mktemp("formats")
    paths = write_formats(rows, root)
    results = {}
    for name, path in paths.items():
        try:
            results[name] = pipeline_result(root, name, path)
        except SourceError as exc:
            if "no usable rows" in exc.message:
                return  # every row refused (all ±inf): nothing to compare, in any format
            raise
    first_name = next(iter(results))
    profile, windows = results[first_name]
    for name, (other_profile, other_windows) in results.items():
        assert {k: profile_key(v) for k, v in other_profile.items()} == {
            k: profile_key(v) for k, v in profile.items()
        }, (name, first_name)
        assert stats_key(other_windows) == stats_key(windows), (name, first_name)
    # `compare` on the same data, as files and as frames: the pipeline's statistics, bit for bit.
    frame = pl.read_parquet(paths["parquet"])
    categorical = frame.with_columns(pl.col("s").cast(pl.Categorical))
    inputs = {
        "csv": (paths["csv"], paths["csv"]),
        "parquet": (paths["parquet"], paths["parquet"]),
        "polars": (frame, frame),
        "pandas": (frame.to_pandas(), frame.to_pandas()),
        "arrow": (frame.to_arrow(), frame.to_arrow()),
        "csv against parquet": (paths["csv"], paths["parquet"]),
        # A category column as polars Categorical / pandas category against plain strings.
        "categorical against string": (categorical, frame),
        "pandas category against csv": (categorical.to_pandas(), paths["csv"]),
    }
    for label, (ref, cur) in inputs.items():
        result = driftwatch.compare(ref, cur, **FEATURES)
        assert stats_key(list(result.features)) == stats_key(windows), label


def test_a_type_change_is_reported_not_judged_as_drift(tmp_path: Path) -> None:
    """Numbers in the reference, texts in the logs (or booleans against 1/0): every value "unseen", PSI ≈ 17,
    but what changed is the data's type, so the feature says so instead of `drift`."""
    rng = random.Random(2)
    n = 600
    ref = pl.DataFrame(
        {
            "grade": [rng.choice([1, 2, 3]) for _ in range(n)],
            "owns_home": [rng.random() < 0.4 for _ in range(n)],
            "region": [rng.choice(["n", "s"]) for _ in range(n)],
        }
    )
    cur = pl.DataFrame(
        {
            "grade": [rng.choice(["A", "B", "C"]) for _ in range(n)],
            "owns_home": [int(rng.random() < 0.4) for _ in range(n)],
            "region": [rng.choice(["n", "s"]) for _ in range(n)],
        }
    )
    result = driftwatch.compare(ref, cur, categorical=["grade", "owns_home", "region"])
    rows = {r["name"]: r for r in result.feature_rows()}
    assert rows["grade"]["status"] == "insufficient_data"
    assert (
        rows["grade"]["reason"]
        == "values changed type: the reference holds numbers, this window texts (e.g. 'C')"
    )
    assert rows["owns_home"]["status"] == "insufficient_data"
    assert rows["owns_home"]["reason"].startswith(
        "values changed type: the reference holds booleans, this window numbers"
    )
    assert rows["region"]["status"] == "ok"
    assert not result.drift
    # The same through the pipeline: a CSV reference and Parquet logs.
    ref.write_csv(tmp_path / "ref.csv")
    (tmp_path / "logs").mkdir()
    start = datetime(2026, 3, 1, tzinfo=UTC)
    cur.with_columns(
        request_id=pl.Series([f"r{i}" for i in range(n)]),
        timestamp=pl.Series([start + timedelta(minutes=i) for i in range(n)]),
    ).write_parquet(tmp_path / "logs" / "a.parquet")
    (tmp_path / "driftwatch.yml").write_text(
        PAIR_CONFIG.replace("[owns_home, grade, x]", "[owns_home, grade, region]")
        .replace("      numeric: [x]\n", "")
        .replace("[owns_home, grade]", "[owns_home, grade, region]")
    )
    config = load_settings(tmp_path / "driftwatch.yml")
    with Database(config.storage) as db:
        summary = run_cycle(db, config.monitor("m"), now=datetime(2026, 4, 1, tzinfo=UTC))
    decision = summary.windows[0].overall.decision
    assert decision.feature("grade").reason == rows["grade"]["reason"]
    assert decision.feature("grade").status == "insufficient_data"
    assert decision.feature("owns_home").status == "insufficient_data"
    assert summary.drifting_features() == {}


EPOCH_CONFIG = """\
storage: dw.duckdb
monitors:
  m:
    predictions:
      path: logs/*
      features: [x]
    reference:
      path: ref.csv
    features:
      numeric: [x]
    min_rows: 1
"""


def test_timestamps_as_text_and_as_epochs_are_the_same_time(tmp_path: Path) -> None:
    """ISO text, epoch seconds / ms / µs / ns as numbers, numeric text and native integers: one instant.
    A number that is no epoch in those ranges (a compact date, a small count) is not taken for a time."""
    (tmp_path / "ref.csv").write_text("x\n1\n2\n")
    (tmp_path / "logs").mkdir()
    (tmp_path / "driftwatch.yml").write_text(EPOCH_CONFIG)
    instant = datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=UTC)
    seconds = instant.timestamp()
    stamps = {
        "iso": instant.isoformat(),
        "iso-offset": "2026-03-01T14:30:15.25+02:00",
        "seconds": seconds,
        "seconds-text": repr(seconds),
        "ms": int(seconds * 1_000),
        "us": int(seconds * 1_000_000),
        "ns-text": str(int(seconds * 1_000_000) * 1_000),
        "compact-date": 20260301,
        "small": 42,
    }
    lines = [json.dumps({"request_id": k, "timestamp": v, "x": 1}) for k, v in stamps.items()]
    (tmp_path / "logs" / "a.ndjson").write_text("\n".join(lines) + "\n")
    pl.DataFrame({"request_id": ["native"], "timestamp": [int(seconds * 1000)], "x": [1.0]}).write_parquet(
        tmp_path / "logs" / "b.parquet"
    )
    config = load_settings(tmp_path / "driftwatch.yml")
    with Database(config.storage) as db:
        run_cycle(db, config.monitor("m"), now=datetime(2026, 4, 1, tzinfo=UTC))
        stored = dict(db.cursor().execute('SELECT request_id, ts FROM "predictions:m"').fetchall())
        reasons = dict(db.cursor().execute("SELECT request_id, reason FROM quarantine").fetchall())
    want = instant.replace(tzinfo=None)
    assert stored == {
        k: want for k in ("iso", "iso-offset", "seconds", "seconds-text", "ms", "us", "ns-text", "native")
    }
    assert reasons == {
        "compact-date": "unparseable timestamp '20260301'",
        "small": "unparseable timestamp '42'",
    }


def test_compare_of_arrow_tables_refuses_an_infinite_value_not_one_under_a_null() -> None:
    """Arrow tables (what `compare` reads Parquet into): a float column's ±inf leaves its row out; an inf
    stored under a null is a missing value, not refused; integer columns and float32 are read alike."""
    import pyarrow as pa

    n = 300
    rng = np.random.default_rng(5)
    x = rng.normal(size=n)
    ref = pa.table({"x": x, "k": pa.array(np.arange(n) % 9), "h": pa.array(x, pa.float32())})
    hidden = x.copy()
    hidden[:4] = np.inf
    cur_x = x.copy()
    cur_x[10:13] = [np.inf, -np.inf, np.inf]
    cur = pa.table(
        {
            "x": pa.array(cur_x),
            "k": pa.array(np.arange(n) % 9),
            "h": pa.array(hidden.astype(np.float32), mask=np.arange(n) < 4),  # inf under 4 nulls
        }
    )
    result = driftwatch.compare(ref, cur).to_dict()
    assert result["rows_excluded"] == {
        "reference": {},
        "current": {"feature 'x': not a number or not finite": 3},
    }
    h = next(f for f in result["features"] if f["name"] == "h")
    assert h["missing_share_current"] == pytest.approx(4 / (n - 3))


def test_compare_leaves_out_the_rows_ingest_would_quarantine(tmp_path: Path) -> None:
    """A non-finite number in a numeric column: the row is left out of both datasets' statistics (as ingest
    quarantines it), counted in the JSON and named in the text output."""
    (tmp_path / "ref.csv").write_text("x,c\n" + "".join(f"{i % 7},{'ab'[i % 2]}\n" for i in range(200)))
    (tmp_path / "cur.csv").write_text(
        "x,c\n" + "".join(f"{i % 7},{'ab'[i % 2]}\n" for i in range(197)) + "inf,a\n1e999,b\n-Infinity,a\n"
    )
    result = driftwatch.compare(tmp_path / "ref.csv", tmp_path / "cur.csv")
    assert (result.rows_reference, result.rows_current) == (200, 197)
    assert result.to_dict()["rows_excluded"] == {
        "reference": {},
        "current": {"feature 'x': not a number or not finite": 3},
    }
    same = driftwatch.compare(
        tmp_path / "ref.csv", pl.read_csv(tmp_path / "cur.csv", infer_schema_length=None).head(197)
    )
    assert stats_key(list(result.features)) == stats_key(list(same.features))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "driftwatch.cli",
            "compare",
            str(tmp_path / "ref.csv"),
            str(tmp_path / "cur.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "current: 3 row(s) left out: feature 'x': not a number or not finite (3)" in done.stdout


def test_rows_stored_before_the_value_model_are_brought_to_it_when_the_profile_is_rebuilt(
    tmp_path: Path,
) -> None:
    """An older database holds `True`, `3.0` and ±inf; the profile (format 3) is rebuilt once after the upgrade,
    and the stored rows and labels are rewritten to their identities in the same transaction."""
    rng = random.Random(4)
    n = 400
    (tmp_path / "ref.csv").write_text(
        "owns_home,grade,x\n"
        + "".join(f"{rng.random() < 0.4},{rng.choice([1, 2, 3])},{rng.gauss(0, 1)!r}\n" for _ in range(n))
    )
    (tmp_path / "logs").mkdir()
    start = datetime(2026, 3, 1, tzinfo=UTC)
    pl.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "timestamp": [start + timedelta(minutes=i) for i in range(n)],
            "owns_home": [rng.random() < 0.4 for _ in range(n)],
            "grade": [rng.choice([1, 2, 3]) for _ in range(n)],
            "x": [rng.gauss(0, 1) for _ in range(n)],
        }
    ).write_parquet(tmp_path / "logs" / "a.parquet")
    (tmp_path / "driftwatch.yml").write_text(PAIR_CONFIG)
    config = load_settings(tmp_path / "driftwatch.yml")
    now = datetime(2026, 4, 1, tzinfo=UTC)
    with Database(config.storage) as db:
        run_cycle(db, config.monitor("m"), now=now)
        with db.transaction() as tx:  # what an older version stored
            tx.execute(
                """UPDATE "predictions:m" SET "f:owns_home" = CASE "f:owns_home" WHEN 'true' THEN 'True' ELSE 'False' END,
                "f:grade" = "f:grade" || '.0', "f:x" = CASE WHEN request_id = 'r1' THEN 'inf'::DOUBLE ELSE "f:x" END"""
            )
        (tmp_path / "ref.csv").write_text(
            (tmp_path / "ref.csv").read_text() + "True,1,0.5\n"
        )  # a new reference
        summary = run_cycle(db, config.monitor("m"), now=now)
        values = (
            db.cursor()
            .execute("""SELECT DISTINCT "f:owns_home", "f:grade" FROM "predictions:m" ORDER BY ALL""")
            .fetchall()
        )
        x = db.cursor().execute("""SELECT "f:x" FROM "predictions:m" WHERE request_id = 'r1'""").fetchone()
    assert {v for v, _ in values} == {"false", "true"} and {g for _, g in values} == {"1", "2", "3"}
    assert x == (None,)
    assert summary.profile_rebuilt and summary.drifting_features() == {}
