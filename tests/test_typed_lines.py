"""The typed fast path for NDJSON (`sources.typed_lines`) gives, row for row, what the per-field normalising
query gives (`sources.logs.normalise_query`), for every kind of line; it vouches for the clean lines and sends
every line whose typed parse could differ through the per-field query; and the blank-line test of the NDJSON
reader keeps exactly the lines `trim` kept."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from driftwatch.sources.files import NDJSON_LINE, stream_rows
from driftwatch.sources.logs import LogLayout, normalise_query
from driftwatch.sources.typed_lines import TYPED, normalising
from test_ingest_ndjson import FLAT_LINES, NESTED_LINES, TS, flat, nested

NESTED = LogLayout(
    id="request_id",
    timestamp="timestamp",
    numeric=("age", "income"),
    categorical=("region",),
    features_json="input_features",
    model_version="model_version",
    prediction="score",
    output="decision",
    segments=("channel",),
)
FLAT = LogLayout(
    id="request_id",
    timestamp="timestamp",
    numeric=("age", "income"),
    categorical=("region",),
    model_version="model_version",
    prediction="score",
    output="decision",
    segments=("channel",),
)

# Lines aimed at where DuckDB's typed parse and the value model could part: strings DuckDB's cast reads but the
# value model does not (and the other way round), non-finite values spelled every way, numbers as texts of
# every shape, nested values, blank and padded ids, epoch times, keys missing, repeated or in another case.
TRICKY_NESTED = [
    nested("t01", features={"age": "1_000", "income": "+-3", "region": "a"}),
    nested("t02", features={"age": " 2.5 ", "income": "1.5", "region": "a"}),
    nested("t03", features={"age": "nan(1)", "income": "+nan", "region": "a"}),
    nested("t04", features={"age": "Infinity", "income": "-inf", "region": "a"}),
    nested("t05", features={"age": "true", "income": "FALSE", "region": "a"}),
    nested("t06", features={"age": True, "income": False, "region": False}),
    nested("t07", features={"age": 1e308, "income": -1e308, "region": 1e5}),
    nested("t08", features={"age": 1, "income": 2, "region": 3.0}),
    nested("t09", features={"age": 1, "income": 2, "region": "[not a list"}),
    nested("t10", features={"age": 1, "income": 2, "region": "{not an object"}),
    nested("t11", features={"age": 1, "income": 2, "region": "03"}),
    nested("t12", features={"age": 1, "income": 2, "region": None}),
    nested("t13", features={"age": 1, "income": 2}),
    nested("t14", features={"age": 1, "income": 2, "region": "a", "extra": {"deep": 1}}),
    nested("t15", features={"age": 1, "income": 2, "Region": "a"}),
    nested(1.5),
    nested(100000.0),
    nested(-0.0),
    nested(True),
    nested("\u3000"),
    nested("t16", ts=1772359200),
    nested("t17", ts=1772359200123),
    nested("t18", ts="1772359200"),
    nested("t19", ts="1969-12-31T23:59:59Z"),
    nested("t20", ts="2200-01-01T00:00:00Z"),
    nested("t21", ts=[1]),
    nested("t22", model_version={"v": 1}, channel=[1], decision=None),
    nested("t23", model_version=None, channel=None, decision=2.50),
    nested("t24", score=None),
    nested("t25", score="0.5"),
    nested("t26", score=1e400),
    nested("t27", features={"age": 1, "income": 2, "region": 'caf\u00e9 \\ "q"'}),
    '{"request_id": "t28", "timestamp": "' + TS + '", "model_version": "v1", "score": 0.1, "decision": "a", '
    '"channel": "web", "input_features": {"age": 1, "income": 2, "region": "a"}, "request_id": "t28b"}',
    '{"request_id": "t29", "timestamp": "' + TS + '", "model_version": "v1", "score": 0.1, "decision": "a", '
    '"channel": "web", "input_features": {"age": 1, "income": 2, "region": "a", "age": 3}}',
    '{"Request_ID": "t30", "timestamp": "'
    + TS
    + '", "input_features": {"age": 1, "income": 2, "region": "a"}}',
    "\u00a0" + nested("t31"),
    "\u3000",
    "\u00a0",
    "\t",
    "\t" + nested("t32"),
    nested("t33", features={"age": "1e5", "income": ".5", "region": "5."}),
    nested("t34", features={"age": "5.", "income": "\u0663", "region": "\u0663"}),
    nested("t35", features={"age": "0x1A", "income": "1e", "region": "-"}),
    nested("t36", features={"age": "-0", "income": "00012", "region": "00012"}),
    nested("t37"),
]
TRICKY_FLAT = [
    flat("u01", age="1_000", income=" 7 "),
    flat("u02", age=True, income="nan"),
    flat("u03", region={"a": 1}),
    flat("u04", region=[]),
    flat("u05", region="{x"),
    flat("u06", score="1e999"),
    flat("u07"),
]


def _read(path: Path, layout: LogLayout, typed: bool, batch_rows: int) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    columns = {NDJSON_LINE: "VARCHAR"}
    if typed:
        plan = normalising(con, "ndjson", str(path), columns, layout, sample_lines=0)
        assert plan.typed
        reader = con.cursor()
        batches = [plan.finish(con, b) for b in stream_rows(reader, plan.sql, plan.params, batch_rows)]
    else:
        sql, params = normalise_query("ndjson", str(path), columns, layout)
        batches = list(stream_rows(con.cursor(), sql, params, batch_rows))
    table = pa.concat_tables(batches) if batches else None
    return [] if table is None else [tuple(r.values()) for r in table.to_pylist()]


CASES = [
    ("nested", NESTED, NESTED_LINES + TRICKY_NESTED),
    ("flat", FLAT, FLAT_LINES + TRICKY_FLAT),
]


@pytest.mark.parametrize("batch_rows", [1, 7, 10_000])
@pytest.mark.parametrize(("name", "layout", "lines"), CASES, ids=[c[0] for c in CASES])
def test_typed_path_gives_the_normalising_querys_rows_and_reasons(
    tmp_path: Path, name: str, layout: LogLayout, lines: list[str], batch_rows: int
) -> None:
    path = tmp_path / f"{name}.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    typed = _read(path, layout, typed=True, batch_rows=batch_rows)
    expected = _read(path, layout, typed=False, batch_rows=batch_rows)
    assert len(expected) > 30
    for got, want in zip(typed, expected, strict=True):
        assert got == want


def _typed_rows(path: Path, layout: LogLayout) -> dict[int, bool]:
    """Row number -> whether the fast query vouched for the line."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    plan = normalising(con, "ndjson", str(path), {NDJSON_LINE: "VARCHAR"}, layout, sample_lines=0)
    table = con.sql(plan.sql, params=plan.params).to_arrow_table()
    return dict(zip(table.column("_row").to_pylist(), table.column(TYPED).to_pylist(), strict=True))


def test_clean_lines_are_typed_and_every_doubtful_line_goes_the_per_field_way(tmp_path: Path) -> None:
    clean = [
        nested("c1"),
        nested("c2", features={"age": True, "income": -0.0, "region": 7}),
        nested("c3", features={"age": None, "income": 1e300, "region": None}, ts=1772359200),
        nested("c4", model_version=None, channel=None, decision=2.5),
        nested(
            "c5", features={"age": "2", "income": "-1e3", "region": "a"}
        ),  # DuckDB's strict cast of a text
    ]
    doubtful = [
        nested("d1", features={"age": "1_000", "income": 1, "region": "a"}),  # the value model refuses it
        nested("d2", features={"age": "nan", "income": 1, "region": "a"}),  # NaN, spelled as DuckDB reads it
        nested("d3", features={"age": 1e400, "income": 1, "region": "a"}),  # not finite
        nested("d4", features={"age": 1, "income": 1, "region": {"n": 1}}),  # nested category
        nested("d5", features={"age": 1, "income": 1, "region": "[x"}),  # a text that starts like one
        nested("d6", features={"age": 1, "income": 1}),  # a key missing
        nested("  "),  # blank id
        nested("d7", ts="2300-01-01T00:00:00Z"),  # out of range
        nested("d8", ts="soon"),
        nested("d9", input_features=None),
        '{"request_id": "d10", "request_id": "d10", "timestamp": "' + TS + '", "model_version": "v1", '
        '"score": 0.1, "decision": "a", "channel": "web", "input_features": {"age": 1, "income": 2, "region": "a"}}',
        "{broken",
    ]
    path = tmp_path / "mix.ndjson"
    path.write_text("\n".join(clean + doubtful) + "\n", encoding="utf-8")
    typed = _typed_rows(path, NESTED)
    assert [typed[i] for i in range(1, len(clean) + 1)] == [True] * len(clean)
    assert [typed[i] for i in range(len(clean) + 1, len(clean) + len(doubtful) + 1)] == [False] * len(
        doubtful
    )


def test_a_layout_reading_one_key_as_number_and_text_is_not_typed() -> None:
    con = duckdb.connect()
    layout = LogLayout(id="request_id", timestamp="timestamp", numeric=("x",), categorical=(), prediction="x")
    assert normalising(con, "ndjson", "f.ndjson", {NDJSON_LINE: "VARCHAR"}, layout, sample_lines=0).typed
    clash = LogLayout(
        id="request_id", timestamp="timestamp", numeric=(), categorical=(), prediction="request_id"
    )
    assert not normalising(con, "ndjson", "f.ndjson", {NDJSON_LINE: "VARCHAR"}, clash, sample_lines=0).typed
    cased = LogLayout(id="request_id", timestamp="timestamp", numeric=("a", "A"), categorical=())
    assert not normalising(con, "ndjson", "f.ndjson", {NDJSON_LINE: "VARCHAR"}, cased, sample_lines=0).typed


def test_blank_lines_are_those_trim_empties(tmp_path: Path) -> None:
    """The reader skips a line `trim` would empty, without trimming every line (`sources.files.source_sql`)."""
    con = duckdb.connect()
    spaces = [
        chr(c)
        for c in con.sql(
            "SELECT list(cp) FROM range(1, 1114112) t(cp) WHERE (cp < 55296 OR cp > 57343) "
            "AND trim(chr(cp::INT) || 'x') <> chr(cp::INT) || 'x'"
        ).fetchall()[0][0]
    ]
    lines = [
        "",
        "\t",
        "\x0b",
        "\x0c",
        "x",
        " x",
        "\t{}",
        *spaces,
        *(s + "{}" for s in spaces),
        "\u3000\u00a0 ",
        "é",
    ]
    path = tmp_path / "blank.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sql, params = normalise_query("ndjson", str(path), {NDJSON_LINE: "VARCHAR"}, FLAT)
    rows = con.sql(f"SELECT _row FROM ({sql})", params=params).fetchall()
    kept = [r[0] for r in rows]
    by_trim = [
        i + 1 for i, line in enumerate(lines) if con.execute("SELECT trim($l)", {"l": line}).fetchall()[0][0]
    ]
    assert kept == by_trim


FEATURE_OBJECTS = [
    {"age": 30, "income": 50000.5, "region": "north"},
    {"age": None, "income": 1e300, "region": None},
    {"age": True, "income": False, "region": True},
    {"age": "2", "income": "-1e3", "region": 7},
    {"age": "1_000", "income": "+-3", "region": "a"},
    {"age": " 2.5 ", "income": "nan(1)", "region": "a"},
    {"age": "Infinity", "income": "-inf", "region": "a"},
    {"age": 1, "income": 2, "region": {"n": 1}},
    {"age": 1, "income": 2, "region": "[x"},
    {"age": 1, "income": 2},
    {"age": 1, "income": 2, "region": "a", "Region": "b"},
    {"age": 1, "income": 2, "region": 3.0},
]
FEATURE_TEXTS = [
    *(json.dumps(o) for o in FEATURE_OBJECTS),
    '{"age": 1e400, "income": NaN, "region": "a"}',
    '{"age": 1, "age": 2, "income": 3, "region": "a"}',
    "[1, 2]",
    "not json",
    "",
    None,
    '"text"',
]


def _features_rows(path: Path, layout: LogLayout) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    columns = {"request_id": "VARCHAR", "timestamp": "VARCHAR", "input_features": "VARCHAR"}
    sql, params = normalise_query("parquet", str(path), columns, layout)
    return [tuple(r.values()) for r in con.sql(sql, params=params).to_arrow_table().to_pylist()]


def test_a_features_column_read_by_its_typed_parse_gives_the_per_feature_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The typed parse of a Parquet/CSV features column (`sources.logs._Normaliser.typed_features`) against the
    same query with it switched off (every row read from the object's texts), object for object."""
    import pyarrow.parquet as pq

    from driftwatch.sources import logs

    n = len(FEATURE_TEXTS)
    path = tmp_path / "features.parquet"
    pq.write_table(
        pa.table(
            {
                "request_id": [f"r{i}" for i in range(n)],
                "timestamp": [TS] * n,
                "input_features": FEATURE_TEXTS,
            }
        ),
        path,
    )
    layout = LogLayout(
        id="request_id",
        timestamp="timestamp",
        numeric=("age", "income"),
        categorical=("region",),
        features_json="input_features",
    )
    calls: list[str] = []
    typed_features = logs._Normaliser.typed_features

    def spy(self: logs._Normaliser) -> tuple[str, str]:
        parsed, ok = typed_features(self)
        calls.append(parsed)
        return parsed, ok

    monkeypatch.setattr(logs._Normaliser, "typed_features", spy)
    typed = _features_rows(path, layout)
    assert calls and "from_json_strict" in calls[0]
    monkeypatch.setattr(logs._Normaliser, "typed_features", lambda self: ("NULL AS _ff", "false AS _fok"))
    by_text = _features_rows(path, layout)
    assert len(by_text) == n
    for got, want in zip(typed, by_text, strict=True):
        assert got == want


def test_a_file_whose_first_lines_the_typed_parse_refuses_is_read_the_per_field_way(tmp_path: Path) -> None:
    """The typed path is taken only when the file's first lines are all vouched for: a line it refuses costs
    far more than a clean one (`sources.typed_lines.normalising`)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    clean = [nested(f"c{i}") for i in range(50)]
    no_region = [nested(f"m{i}", features={"age": 1, "income": 2}) for i in range(50)]
    cases = {"clean": clean, "missing": no_region, "late": clean + no_region, "early": no_region[:1] + clean}
    typed = {}
    for name, lines in cases.items():
        path = tmp_path / f"{name}.ndjson"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        plan = normalising(con, "ndjson", str(path), {NDJSON_LINE: "VARCHAR"}, NESTED, sample_lines=60)
        typed[name] = plan.typed
        expected = _read(path, NESTED, typed=False, batch_rows=1000)
        got = [
            tuple(r.values())
            for r in pa.concat_tables(
                [plan.finish(con, b) for b in stream_rows(con.cursor(), plan.sql, plan.params, 1000)]
            ).to_pylist()
        ]
        assert got == expected
    assert typed == {"clean": True, "missing": False, "late": False, "early": False}
    path = tmp_path / "late.ndjson"
    plan = normalising(con, "ndjson", str(path), {NDJSON_LINE: "VARCHAR"}, NESTED, sample_lines=50)
    assert plan.typed  # the first 50 lines are clean; the rest go the per-field way line by line


def test_the_sample_leaves_the_cursor_free_for_finishing_the_batches(tmp_path: Path) -> None:
    """The sample check and `finish` share the ingest's cursor: a sample result left unfinished made `finish`
    fail on the first batch holding a line to read the per-field way ("connection has an unfinished result")."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    lines = [nested(f"c{i}") for i in range(20)] + ["{not json", nested("c20", ts="soon"), nested("c21")]
    path = tmp_path / "late-bad.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plan = normalising(con, "ndjson", str(path), {NDJSON_LINE: "VARCHAR"}, NESTED, sample_lines=10)
    assert plan.typed
    batches = [plan.finish(con, b) for b in stream_rows(con.cursor(), plan.sql, plan.params, 1000)]
    got = [tuple(r.values()) for r in pa.concat_tables(batches).to_pylist()]
    assert got == _read(path, NESTED, typed=False, batch_rows=1000)
    assert [r[-2] is not None for r in got].count(True) == 2  # the two bad lines have their reasons


def test_bad_lines_past_the_sample_are_quarantined_by_the_pipeline(tmp_path: Path) -> None:
    """Through `ingest_predictions`: the first lines are clean, so the file is read typed; the bad lines after
    them are read the per-field way and quarantined with their row numbers and reasons."""
    from driftwatch.sources.typed_lines import SAMPLE_LINES
    from test_ingest_ndjson import NESTED as NESTED_CONFIG
    from test_ingest_ndjson import ingest_lines

    clean = [nested(f"c{i:05d}") for i in range(SAMPLE_LINES + 20)]
    bad = ["{not json", nested("late", ts="soon")]
    lines = clean[: SAMPLE_LINES + 5] + bad + clean[SAMPLE_LINES + 5 :]
    stored, quarantined, counts = ingest_lines(tmp_path, lines, NESTED_CONFIG)
    assert counts == (len(lines), len(clean), 0, 2)
    assert [(q[0], q[2]) for q in quarantined] == [
        (SAMPLE_LINES + 6, "malformed JSON line"),
        (SAMPLE_LINES + 7, "unparseable timestamp 'soon'"),
    ]
    assert [q[3] for q in quarantined] == bad
    assert len(stored) == len(clean)
