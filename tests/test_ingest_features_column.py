"""The features as a JSON object in one column of a Parquet or CSV file (the default log schema as a table, and
what a database source's rows become): each row's object is parsed once for all features, and the stored rows
and quarantine reasons are those of the same records as NDJSON lines, pinned here as well."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from driftwatch.config.loading import load_settings
from driftwatch.config.monitors import FeatureSpec
from driftwatch.pipeline.ingest import ingest_predictions, prediction_layout
from driftwatch.sources.logs import normalise_query
from driftwatch.storage.database import Database

FEATURES = FeatureSpec(numeric=("age", 'in"come'), categorical=("region",))

CONFIG = """\
storage: dw.duckdb
monitors:
  m:
    predictions:
      path: logs/*
      model_version: model_version
    reference:
      path: train.parquet
    features:
      numeric: [age, 'in"come']
      categorical: [region]
    min_rows: 1
"""

# (request id, the input_features text): every way a features object can be right or wrong.
OBJECTS = [
    ("r1", '{"age": 30, "in\\"come": 50000.5, "region": "north"}'),
    ("r2", '{"age": null, "in\\"come": "41", "region": null}'),
    ("r3", '{"age": "forty", "in\\"come": 1, "region": "south"}'),
    ("r4", '{"age": 31, "in\\"come": 2, "region": {"nested": 1}}'),
    ("r5", '{"age": 32, "in\\"come": 3, "region": [1, 2]}'),
    ("r6", "[1, 2]"),
    ("r7", "{not json"),
    ("r8", None),
    ("r9", '{"in\\"come": 4, "region": 7, "extra": true}'),
    ("r10", '{"age": 1e999, "in\\"come": 5, "region": "east"}'),
    ("r11", '{"age": "  ", "in\\"come": -0.5, "region": ""}'),
]

EXPECTED_STORED = [
    ("r1", 30.0, 50000.5, "north"),
    ("r11", None, -0.5, None),
    ("r2", None, 41.0, None),
    ("r9", None, 4.0, "7"),
]
EXPECTED_REASONS = {
    "r3": "feature 'age': 'forty' is not a number",
    "r4": "feature 'region' is a nested value, expected a category",
    "r5": "feature 'region' is a nested value, expected a category",
    "r6": "input_features is not a JSON object",
    "r7": "input_features is not a JSON object",
    "r8": "input_features is missing",
    "r10": "feature 'age': '1e999' is not a finite number",
}


def write_project(root: Path, fmt: str) -> None:
    (root / "logs").mkdir(parents=True)
    pl.DataFrame({"age": [20.0, 30.0], 'in"come': [1.0, 2.0], "region": ["north", "south"]}).write_parquet(
        root / "train.parquet"
    )
    (root / "driftwatch.yml").write_text(CONFIG)
    ids = [rid for rid, _ in OBJECTS]
    times = [f"2026-03-01T10:00:{i:02d}Z" for i in range(len(OBJECTS))]
    if fmt == "ndjson":
        lines = []
        for rid, text, ts in zip(ids, (t for _, t in OBJECTS), times, strict=True):
            head = json.dumps({"request_id": rid, "timestamp": ts, "model_version": "v1"})[:-1]
            # The object's own text, pasted as it is (also when it is not JSON: the line is then malformed).
            lines.append(f'{head}, "input_features": {text if text is not None else "null"}}}')
        (root / "logs" / "a.ndjson").write_text("\n".join(lines) + "\n")
        return
    frame = pl.DataFrame(
        {
            "request_id": ids,
            "timestamp": times,
            "model_version": ["v1"] * len(OBJECTS),
            "input_features": [t for _, t in OBJECTS],
        }
    )
    if fmt == "parquet":
        frame.write_parquet(root / "logs" / "a.parquet")
    else:
        frame.write_csv(root / "logs" / "a.csv")


def ingest(root: Path) -> tuple[tuple[int, int, int], list[tuple], dict[str, str]]:
    settings = load_settings(root / "driftwatch.yml")
    with Database(settings.storage) as db:
        s = ingest_predictions(db, settings.monitor("m"), FEATURES)
        cur = db.cursor()
        stored = cur.execute(
            'SELECT request_id, "f:age", "f:in""come", "f:region" FROM "predictions:m" ORDER BY 1'
        ).fetchall()
        raw = cur.execute("SELECT raw, reason FROM quarantine").fetchall()
    reasons = {}
    for text, reason in raw:
        rid = json.loads(str(text))["request_id"] if not text.startswith('{"request_id": "r7"') else "r7"
        reasons[rid] = reason
    return (s.rows_read, s.rows_inserted, s.rows_quarantined), stored, reasons


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_features_column_rows_and_reasons_are_pinned(tmp_path: Path, fmt: str) -> None:
    write_project(tmp_path, fmt)
    counts, stored, reasons = ingest(tmp_path)
    assert counts == (11, 4, 7)
    assert stored == EXPECTED_STORED
    assert reasons == EXPECTED_REASONS


def test_features_column_matches_the_same_records_as_ndjson(tmp_path: Path) -> None:
    """NDJSON reads the features from the line itself (`sources.logs`, its own code path): same rows, same
    reasons, except the line whose object is not JSON (a malformed line there) and the JSON null (a NULL column
    value is a missing field, a JSON `null` an object that is not one)."""
    results = {}
    for fmt in ("parquet", "ndjson"):
        write_project(tmp_path / fmt, fmt)
        results[fmt] = ingest(tmp_path / fmt)
    (_, stored_p, reasons_p), (_, stored_n, reasons_n) = results["parquet"], results["ndjson"]
    assert stored_p == stored_n
    differ = {"r7", "r8"}
    assert {k: v for k, v in reasons_p.items() if k not in differ} == {
        k: v for k, v in reasons_n.items() if k not in differ
    }


def test_each_rows_features_object_is_parsed_once_for_all_features(tmp_path: Path) -> None:
    """One list-path `json_type` (the object's own type and the categories') and one list-path
    `json_extract_string` per row over the object, whatever the number of features (was one call per feature
    and kind, plus json_valid, json_type and a cast: 13 parses a row with 8 features)."""
    write_project(tmp_path, "parquet")
    monitor = load_settings(tmp_path / "driftwatch.yml").monitor("m")
    columns = {"request_id": "VARCHAR", "timestamp": "VARCHAR", "model_version": "VARCHAR"}
    columns["input_features"] = "VARCHAR"
    sql, params = normalise_query("parquet", "x.parquet", columns, prediction_layout(monitor, FEATURES))
    assert sql.count("json_extract_string(") == 1
    assert sql.count("json_type(") == 1  # the object's own type and the categories' types, in one list
    assert "json_valid(" not in sql and "::JSON" not in sql
    assert '$."in\\"come"' in params.values()  # paths are bound, never pasted


def test_struct_features_column_is_read_like_its_json_text(tmp_path: Path) -> None:
    """A Parquet struct features column (to_json of the struct) gives the same values as the JSON text."""
    write_project(tmp_path, "parquet")
    good = [(rid, json.loads(str(t))) for rid, t in OBJECTS[:2]]
    pl.DataFrame(
        {
            "request_id": [rid for rid, _ in good],
            "timestamp": ["2026-03-01T10:00:00Z", "2026-03-01T10:00:01Z"],
            "model_version": ["v1", "v1"],
            "input_features": [
                {"age": o["age"], 'in"come': str(o['in"come']), "region": o["region"]} for _, o in good
            ],
        }
    ).write_parquet(tmp_path / "logs" / "a.parquet")
    counts, stored, reasons = ingest(tmp_path)
    assert (counts, reasons) == ((2, 2, 0), {})
    assert stored == [("r1", 30.0, 50000.5, "north"), ("r2", None, 41.0, None)]
