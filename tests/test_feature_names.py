"""Any feature name a file header or a JSON object can hold goes through reference → ingest → window statistics.

The names below are the awkward ones: a double quote (once emptied the feature silently: every stored value
NULL, so the window read "psi 16.1; missing 0 → 1"), a dot (a JSON path separator), spaces, a backslash, a
single quote, unicode, an SQL keyword, and `_line` (the NDJSON reader's own name for a line). Each is tested as a plain
column (Parquet reference, logs in each format) and as a key of the JSON `input_features` object (features
inferred from the reference). Two kinds of name are refused at the reference with a reason that says so: the
empty string, which a JSON object can hold but a config cannot name, and the reader's own columns `_row` and
`_src` as plain columns (they would be ambiguous beside the row number and raw row it adds).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from driftwatch.config.loading import load_settings
from driftwatch.errors import SourceError
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.reference import ensure_reference
from driftwatch.storage.database import Database
from driftwatch.storage.results import feature_results
from driftwatch.storage.schema import prediction_table, value_column

NUMERIC = ('a"b', "a.b", "two words", "back\\slash", "it's", "ünï 名", "select", "_line")
CATEGORICAL = ('c"at', "c.at")
DAY = datetime(2026, 3, 2, tzinfo=UTC)
ROWS = 400


def frame(seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {name: rng.normal(i, 1.0, ROWS) for i, name in enumerate(NUMERIC)}
    for name in CATEGORICAL:
        data[name] = rng.choice(["x", "y", "z"], ROWS).tolist()
    return pl.DataFrame(data)


def log_frame() -> pl.DataFrame:
    ts = [(DAY + timedelta(seconds=60 * i)).isoformat().replace("+00:00", "Z") for i in range(ROWS)]
    return pl.concat(
        [pl.DataFrame({"request_id": [f"r{i}" for i in range(ROWS)], "timestamp": ts}), frame(2)],
        how="horizontal",
    )


def write_config(root: Path, predictions: dict, reference: dict, features: bool) -> None:
    monitor: dict[str, object] = {
        "predictions": predictions,
        "reference": reference,
        "min_rows": 1,
    }
    if features:
        monitor["features"] = {"numeric": list(NUMERIC), "categorical": list(CATEGORICAL)}
    # JSON is YAML: every name is written exactly, whatever it holds.
    (root / "driftwatch.yml").write_text(json.dumps({"storage": "dw.duckdb", "monitors": {"m": monitor}}))


def check_round_trip(root: Path) -> None:
    settings = load_settings(root / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = run_cycle(db, settings.monitor("m"), now=DAY + timedelta(days=2))
        assert summary.ingest.failed_files == []
        assert (summary.ingest.rows_inserted, summary.ingest.rows_quarantined) == (ROWS, 0)
        cur = db.cursor()
        for name in NUMERIC + CATEGORICAL:
            stored = cur.execute(
                f"SELECT count({value_column(name)}) FROM {prediction_table('m')}"
            ).fetchone()
            assert stored == (ROWS,), name
        results = {r["feature"]: r for r in feature_results(cur, monitor="m")}
    assert set(NUMERIC + CATEGORICAL) <= set(results)
    for name in NUMERIC + CATEGORICAL:
        row = results[name]
        assert row["missing_share_current"] == 0.0, (name, row["reason"])
        assert row["missing_share_reference"] == 0.0, (name, row["reason"])
        # Same distributions: a working feature is not drifting (an emptied one read PSI ≈ 16).
        assert row["status"] in ("ok", "warn"), (name, row["status"], row["reason"])
        assert row["psi"] < 0.25, (name, row["psi"])


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_awkward_names_as_plain_columns(tmp_path: Path, fmt: str) -> None:
    frame(1).write_parquet(tmp_path / "train.parquet")
    (tmp_path / "logs").mkdir()
    logs = log_frame()
    path = tmp_path / "logs" / f"day.{fmt}"
    if fmt == "csv":
        logs.write_csv(path)
    elif fmt == "ndjson":
        logs.write_ndjson(path)
    else:
        logs.write_parquet(path)
    write_config(
        tmp_path,
        {"path": "logs/*", "features": list(NUMERIC + CATEGORICAL)},
        {"path": "train.parquet"},
        features=True,
    )
    check_round_trip(tmp_path)


def json_lines(data: pl.DataFrame, with_meta: bool) -> str:
    lines = []
    for i, row in enumerate(data.iter_rows(named=True)):
        features = {k: row[k] for k in NUMERIC + CATEGORICAL}
        record: dict[str, object] = {"input_features": features}
        if with_meta:
            record = {"request_id": row["request_id"], "timestamp": row["timestamp"], **record}
        lines.append(json.dumps(record, ensure_ascii=i % 2 == 0))  # both escaped and raw unicode
    return "\n".join(lines) + "\n"


def test_awkward_names_as_json_keys_inferred_from_the_reference(tmp_path: Path) -> None:
    (tmp_path / "train.ndjson").write_text(json_lines(frame(1), with_meta=False))
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "day.ndjson").write_text(json_lines(log_frame(), with_meta=True))
    write_config(
        tmp_path,
        {"path": "logs/*"},
        {"path": "train.ndjson", "features": "input_features"},
        features=False,
    )
    check_round_trip(tmp_path)


def test_an_empty_feature_name_is_refused_at_the_reference_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "train.ndjson").write_text(
        "".join(json.dumps({"input_features": {"": i, "age": i}}) + "\n" for i in range(50))
    )
    (tmp_path / "logs").mkdir()
    write_config(
        tmp_path, {"path": "logs/*"}, {"path": "train.ndjson", "features": "input_features"}, features=False
    )
    settings = load_settings(tmp_path / "driftwatch.yml")
    with Database(settings.storage) as db, pytest.raises(SourceError) as caught:
        ensure_reference(db, settings.monitor("m"))
    assert caught.value.path == str(tmp_path / "train.ndjson")
    assert "empty feature name" in caught.value.message


@pytest.mark.parametrize("name", ["_row", "_src", "_ROW", "_Src", "_DW_ROW_STRUCT"])
def test_the_readers_own_column_names_are_refused_at_the_reference(tmp_path: Path, name: str) -> None:
    pl.DataFrame({name: [1.0, 2.0], "age": [3.0, 4.0]}).write_parquet(tmp_path / "train.parquet")
    (tmp_path / "logs").mkdir()
    write_config(tmp_path, {"path": "logs/*", "features": [name]}, {"path": "train.parquet"}, features=False)
    settings = load_settings(tmp_path / "driftwatch.yml")
    with Database(settings.storage) as db, pytest.raises(SourceError) as caught:
        ensure_reference(db, settings.monitor("m"))
    assert f"has a column named {name!r}, a name driftwatch's reader keeps for itself" in caught.value.message
