"""A corpus of malformed files, written by the tests themselves so each case is readable here.

One bad line or row is quarantined with its row number and the reason (naming the line for CSV, where a row can
span lines); every other row of the file is ingested. DuckDB's readers refuse such a file as a whole (they used
to fail it on every run: "CSV Parser state machine reached an invalid state", or a misleading "has no column
'request_id'; its columns are: request_id, …"); `sources.repair` reads it again line by line. A file that
cannot be read at all is named with what is wrong with it. Empty files are read as 0 rows; a glob that matches
nothing says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from driftwatch.config.loading import load_settings
from driftwatch.config.monitors import FeatureSpec
from driftwatch.pipeline.ingest import ingest_predictions
from driftwatch.pipeline.labels import ingest_labels
from driftwatch.pipeline.reference import ensure_reference
from driftwatch.storage.database import Database

MAX_LINE_BYTES = 2_000_000  # sources.repair.MAX_LINE_BYTES, as the reasons print it
FEATURES = FeatureSpec(numeric=("age", "income"), categorical=("region",))

CONFIG = """\
storage: dw.duckdb
monitors:
  m:
    predictions:
      path: logs/*
      features: [age, income, region]
      prediction: score
    reference:
      path: {reference}
    features:
      numeric: [age, income]
      categorical: [region]
    min_rows: 1
    task: binary_classification
    labels:
      path: labels/*
"""

HEADER = b"request_id,timestamp,age,income,region,score\n"


def good_csv(i: int) -> bytes:
    return f"r{i},2026-03-02T10:{i:02d}:00Z,{20 + i},{1000 * i}.5,north,0.5\n".encode()


def good_json(i: int, **extra: object) -> bytes:
    record = {"request_id": f"r{i}", "timestamp": f"2026-03-02T10:{i:02d}:00Z"}
    record |= {"age": 20 + i, "income": 1000 * i + 0.5, "region": "north", "score": 0.5, **extra}
    return json.dumps(record).encode()


def with_region(i: int, region: bytes) -> bytes:
    """A good line whose region is replaced by raw bytes (json.dumps would escape them)."""
    return good_json(i).replace(b"north", region)


def position(line: bytes, needle: bytes) -> int:
    return line.index(needle) + 1


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    (tmp_path / "labels").mkdir()
    pl.DataFrame({"age": [20.0, 40.0], "income": [1.0, 2.0], "region": ["north", "south"]}).write_parquet(
        tmp_path / "train.parquet"
    )
    (tmp_path / "driftwatch.yml").write_text(CONFIG.format(reference="train.parquet"))
    return tmp_path


def ingest(project: Path) -> tuple[object, list[tuple], list[str]]:
    """Ingest logs/*: (summary, quarantine rows (row, reason, raw), stored request ids)."""
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = ingest_predictions(db, settings.monitor("m"), FEATURES)
        cur = db.cursor()
        quarantined = cur.execute(
            "SELECT row_number, reason, raw FROM quarantine WHERE kind = 'predictions' ORDER BY row_number"
        ).fetchall()
        ids = [r[0] for r in cur.execute('SELECT request_id FROM "predictions:m" ORDER BY ts').fetchall()]
    return summary, quarantined, ids


# --- CSV ----------------------------------------------------------------------------------------------------

CSV_CASES: dict[str, tuple[bytes, str]] = {
    # name: (the bad row, the expected reason)
    "short row": (b"r3,2026-03-02T10:03:00Z,23,north,0.5\n", "row has 5 fields, the header has 6 (line 4)"),
    "long row": (
        b"r3,2026-03-02T10:03:00Z,23,1,north,0.5,extra\n",
        "row has 7 fields, the header has 6 (line 4)",
    ),
    "unterminated quote": (b'r3,2026-03-02T10:03:00Z,"23,1,north,0.5\n', "unterminated quote (line 4)"),
    "invalid UTF-8": (
        b"r3,2026-03-02T10:03:00Z,23,1,nor\xffth,0.5\n",
        "invalid UTF-8: byte 0xFF at byte 33 of the line (line 4)",
    ),
    "stray carriage return": (
        b"r3,2026-03-02T10:03:00Z,23,1,nor\rth,0.5\n",
        "carriage return in an unquoted field (line 4)",
    ),
}


@pytest.mark.parametrize("case", list(CSV_CASES))
def test_one_bad_csv_row_is_quarantined_and_the_rest_ingested(project: Path, case: str) -> None:
    bad, reason = CSV_CASES[case]
    rows = [good_csv(1), good_csv(2), bad, good_csv(4), good_csv(5)]
    (project / "logs" / "day.csv").write_bytes(HEADER + b"".join(rows))
    summary, quarantined, ids = ingest(project)
    assert summary.failed_files == []
    assert ids == ["r1", "r2", "r4", "r5"]
    assert [(q[0], q[1]) for q in quarantined] == [(3, reason)]
    assert quarantined[0][2] == bad.decode("utf-8", "backslashreplace").rstrip("\n")
    assert (summary.rows_read, summary.rows_inserted, summary.rows_quarantined) == (5, 4, 1)


def test_csv_row_numbers_count_records_not_lines_and_ignore_blank_lines(project: Path) -> None:
    """A quoted field across lines is one row; an empty line is none: numbered as DuckDB numbers a clean file."""
    rows = [
        good_csv(1),
        b'r2,2026-03-02T10:02:00Z,22,1,"two\nlines",0.5\n',
        b"\n",
        b"r3,2026-03-02T10:03:00Z,23\n",  # row 3, on line 6
        good_csv(4),
        b"r5,2026-03-02T10:05:00Z,25,1,north,0.5\r\n",  # one CRLF line among LF lines: read as any other
    ]
    (project / "logs" / "day.csv").write_bytes(HEADER + b"".join(rows))
    summary, quarantined, ids = ingest(project)
    assert summary.failed_files == []
    assert ids == ["r1", "r2", "r4", "r5"]
    assert [(q[0], q[1]) for q in quarantined] == [(3, "row has 3 fields, the header has 6 (line 6)")]


def test_an_unterminated_quote_costs_one_row_not_the_rest_of_the_file(project: Path) -> None:
    rows = [good_csv(1), b'r2,2026-03-02T10:02:00Z,"22,1,north,0.5\n'] + [good_csv(i) for i in range(3, 40)]
    (project / "logs" / "day.csv").write_bytes(HEADER + b"".join(rows))
    summary, quarantined, ids = ingest(project)
    assert summary.failed_files == []
    assert [(q[0], q[1]) for q in quarantined] == [(2, "unterminated quote (line 3)")]
    assert ids == ["r1"] + [f"r{i}" for i in range(3, 40)]


def test_a_huge_csv_line_is_quarantined_without_being_kept_whole(project: Path) -> None:
    huge = b"r3,2026-03-02T10:03:00Z,23,1," + b"x" * (3 * MAX_LINE_BYTES) + b"\n"
    (project / "logs" / "day.csv").write_bytes(HEADER + good_csv(1) + good_csv(2) + huge + good_csv(4))
    summary, quarantined, ids = ingest(project)
    assert summary.failed_files == []
    assert ids == ["r1", "r2", "r4"]
    [(row, reason, raw)] = quarantined
    assert (row, reason) == (
        3,
        f"line of {len(huge) - 1:,} bytes, over the limit of 2,000,000 bytes for one line (line 4)",
    )
    assert raw.startswith("r3,2026-03-02T10:03:00Z,23,1,xxx") and raw.endswith(
        f"({MAX_LINE_BYTES + 1:,} bytes in all)"
    )
    assert len(raw) < 20_000


# --- NDJSON -------------------------------------------------------------------------------------------------

CR_BETWEEN_TOKENS = good_json(3).replace(b", ", b",\r", 1)
CR_IN_STRING = with_region(3, b"no\rrth")
AT_CR = position(CR_IN_STRING, b"\r")
RS = with_region(3, b"no\x1erth")
AT_RS = position(RS, b"\x1e")
BAD_UTF8 = with_region(3, b"no\xc3rth")
AT_BAD = position(BAD_UTF8, b"\xc3")
NDJSON_CASES: dict[str, tuple[bytes, str | None]] = {
    # name: (line 3, the reason it is quarantined, or None when it is a good line)
    "lone CR between tokens": (CR_BETWEEN_TOKENS, None),
    "CRLF": (good_json(3) + b"\r", None),
    "CR inside a string": (
        CR_IN_STRING,
        f"malformed JSON line: Invalid control character at: line 1 column {AT_CR} (char {AT_CR - 1})",
    ),
    "raw 0x1E": (RS, f"control character 0x1E at character {AT_RS} (not allowed in JSON)"),
    "invalid UTF-8": (BAD_UTF8, f"invalid UTF-8: byte 0xC3 at byte {AT_BAD} of the line"),
    # DuckDB's own reader takes a NUL; its JSON parser refuses the line.
    "NUL byte": (with_region(3, b"no\x00rth"), "malformed JSON line"),
}


@pytest.mark.parametrize("case", list(NDJSON_CASES))
def test_one_bad_ndjson_line_is_quarantined_and_the_rest_ingested(project: Path, case: str) -> None:
    line, reason = NDJSON_CASES[case]
    lines = [good_json(1), good_json(2), line, good_json(4), good_json(5)]
    (project / "logs" / "day.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    summary, quarantined, ids = ingest(project)
    assert summary.failed_files == []
    if reason is None:
        assert (ids, quarantined) == (["r1", "r2", "r3", "r4", "r5"], [])
    else:
        assert ids == ["r1", "r2", "r4", "r5"]
        assert [(q[0], q[1]) for q in quarantined] == [(3, reason)]
        assert quarantined[0][2] == line.decode("utf-8", "backslashreplace")
    assert summary.rows_read == 5


def test_a_single_crlf_last_line_is_read(project: Path) -> None:
    (project / "logs" / "day.ndjson").write_bytes(good_json(1) + b"\n" + good_json(2) + b"\r\n")
    summary, quarantined, ids = ingest(project)
    assert (summary.failed_files, quarantined, ids) == ([], [], ["r1", "r2"])


def test_a_20_mb_ndjson_line_is_quarantined_and_the_rest_ingested(project: Path) -> None:
    huge = good_json(3, blob="x" * (20 * 2**20))
    (project / "logs" / "day.ndjson").write_bytes(
        b"\n".join([good_json(1), good_json(2), huge, good_json(4)])
    )
    summary, quarantined, ids = ingest(project)
    assert summary.failed_files == []
    assert ids == ["r1", "r2", "r4"]
    [(row, reason, raw)] = quarantined
    assert (row, reason) == (
        3,
        f"line of {len(huge):,} bytes, over the limit of 2,000,000 bytes for one line",
    )
    assert raw.startswith('{"request_id": "r3"') and len(raw) < 20_000


def test_every_kind_of_bad_line_in_one_file(project: Path) -> None:
    """Line numbers stay right with several repairs in one file, blank lines counted as lines."""
    lines = [good_json(1), b"", b"{not json"] + [v[0] for v in NDJSON_CASES.values()] + [good_json(9)]
    lines[3] = lines[3].replace(b'"r3"', b'"r10"')  # the good ones get ids of their own
    lines[4] = lines[4].replace(b'"r3"', b'"r11"')
    (project / "logs" / "day.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    summary, quarantined, ids = ingest(project)
    assert summary.failed_files == []
    assert sorted(ids) == ["r1", "r10", "r11", "r9"]
    assert [q[0] for q in quarantined] == [3, 6, 7, 8, 9]
    assert quarantined[0][1] == "malformed JSON line"


# --- files that cannot be read, empty files, globs that match nothing ----------------------------------------


def test_unreadable_files_say_what_is_wrong(project: Path) -> None:
    frame = pl.DataFrame({"request_id": ["r1"], "timestamp": ["2026-03-02T10:00:00Z"], "age": [1.0]})
    frame.write_parquet(project / "whole.parquet")
    data = (project / "whole.parquet").read_bytes()
    (project / "logs" / "truncated.parquet").write_bytes(data[: len(data) // 2])
    (project / "logs" / "image.csv").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (project / "logs" / "binary.csv").write_bytes(b"\x00\x01\xfe\xff" * 100 + b"\n" + b"\xff" * 10)
    (project / "logs" / "packed.ndjson").write_bytes(b"\x1f\x8b\x08\x00" + bytes(200))
    (project / "logs" / "wide.csv").write_bytes("request_id,timestamp\nr1,2026\n".encode("utf-16"))
    summary, _, _ = ingest(project)
    failed = {Path(p).name: reason for p, reason in summary.failed_files}
    assert failed["truncated.parquet"].startswith("cannot read as parquet: the Parquet file is incomplete (")
    assert "no PAR1 footer at the end: truncated?" in failed["truncated.parquet"]
    assert failed["image.csv"] == "is not csv text: it starts like a PNG image"
    assert failed["wide.csv"] == "is not csv text: it starts like UTF-16 text (save it as UTF-8)"
    assert failed["binary.csv"].startswith("the header line is not text (")
    assert failed["binary.csv"].endswith("): is this a CSV file?")
    # gzip is told by the content, whatever the name (as `compare` reads it): this one is broken.
    assert failed["packed.ndjson"].startswith("cannot be decompressed as gzip: ")


@pytest.mark.parametrize("name", ["day.csv", "day.ndjson", "day.parquet", "day.csv.gz"])
def test_an_empty_file_is_read_as_no_rows_and_again_when_it_changes(project: Path, name: str) -> None:
    path = project / "logs" / name
    if name.endswith(".gz"):
        import gzip

        path.write_bytes(gzip.compress(b""))
    else:
        path.write_bytes(b"")
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        first = ingest_predictions(db, settings.monitor("m"), FEATURES)
        assert (first.failed_files, first.files_read, first.rows_read) == ([], 1, 0)
        assert db.cursor().execute("SELECT rows_read FROM ingested_files").fetchall() == [(0,)]
        assert ingest_predictions(db, settings.monitor("m"), FEATURES).files_read == 0
        if name == "day.ndjson":
            path.write_bytes(good_json(1) + b"\n")
            again = ingest_predictions(db, settings.monitor("m"), FEATURES)
            assert (again.failed_files, again.files_read, again.rows_inserted) == ([], 1, 1)


def test_a_glob_that_matches_nothing_is_reported(project: Path) -> None:
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = ingest_predictions(db, settings.monitor("m"), FEATURES)
        labels = ingest_labels(db, settings.monitor("m"))
    assert summary.warnings == [
        f"no predictions file matches {str(project / 'logs' / '*')!r}: nothing was read (is the path right?)"
    ]
    assert labels.warnings == [
        f"no label file matches {str(project / 'labels' / '*')!r}: nothing was read (is the path right?)"
    ]


# --- labels and the reference go through the same reader ---------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_a_bad_label_line_is_quarantined_and_the_rest_upserted(project: Path, fmt: str) -> None:
    if fmt == "csv":
        data = b"request_id,label\nr1,1\nr2,0,extra\nr3,\xff\nr4,1\n"
    else:
        data = b'{"request_id": "r1", "label": 1}\n{"request_id": "r2", \x1e"label": 0}\r\n{"request_id": "r4", "label": 1}'
    (project / "labels" / f"l.{fmt}").write_bytes(data)
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = ingest_labels(db, settings.monitor("m"))
        stored = db.cursor().execute("SELECT request_id FROM labels ORDER BY 1").fetchall()
        quarantined = (
            db.cursor()
            .execute("SELECT row_number, reason FROM quarantine WHERE kind = 'labels' ORDER BY 1")
            .fetchall()
        )
    assert summary.failed_files == []
    assert [r[0] for r in stored] == ["r1", "r4"] if fmt == "csv" else ["r1", "r4"]
    if fmt == "csv":
        assert quarantined == [
            (2, "row has 3 fields, the header has 2 (line 3)"),
            (3, "invalid UTF-8: byte 0xFF at byte 4 of the line (line 4)"),
        ]
    else:
        assert quarantined == [(2, "control character 0x1E at character 22 (not allowed in JSON)")]


def test_a_reference_with_a_broken_row_is_profiled_from_its_good_rows(project: Path) -> None:
    rows = "".join(f"{20 + i},{1000 + i},{'north' if i % 2 else 'south'}\n" for i in range(50))
    broken = b'30,"1000,north\n'
    (project / "train.csv").write_bytes(b"age,income,region\n" + rows.encode() + broken + b"31,1001,north\n")
    (project / "driftwatch.yml").write_text(CONFIG.format(reference="train.csv"))
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        outcome = ensure_reference(db, settings.monitor("m"))
    assert outcome.profile.rows == 51
    assert outcome.rows_rejected == 1


def test_an_empty_reference_says_so(project: Path) -> None:
    (project / "train.csv").write_bytes(b"")
    (project / "driftwatch.yml").write_text(CONFIG.format(reference="train.csv"))
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db, pytest.raises(Exception, match="the reference file is empty"):
        ensure_reference(db, settings.monitor("m"))


def test_a_file_growing_between_runs_is_read_again_whole(project: Path) -> None:
    """A repaired file is recorded like any other: unchanged, it is not read again; changed, it is."""
    path = project / "logs" / "day.ndjson"
    path.write_bytes(good_json(1) + b"\n\xff\n")
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        first = ingest_predictions(db, settings.monitor("m"), FEATURES)
        assert (first.rows_inserted, first.rows_quarantined) == (1, 1)
        assert ingest_predictions(db, settings.monitor("m"), FEATURES).files_read == 0
        with path.open("ab") as f:
            f.write(good_json(2) + b"\n")
        os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 1_000_000_000))
        again = ingest_predictions(db, settings.monitor("m"), FEATURES)
        # The bad line quarantined by the first read is not counted again (it used to be: the run's
        # quarantined_rows, and an alert on it, saw the same line twice).
        assert (again.rows_read, again.rows_inserted, again.rows_duplicate, again.rows_quarantined) == (
            3,
            1,
            1,
            0,
        )
        total = db.cursor().execute("SELECT count(*) FROM quarantine").fetchone()
    assert total == (1,)


def test_a_changed_file_does_not_count_its_quarantined_rows_again(project: Path) -> None:
    """The same for rows quarantined by the query (not the reader), and for labels."""
    path = project / "logs" / "day.csv"
    path.write_bytes(HEADER + good_csv(1) + b"r2,2026-03-02T10:02:00Z,forty,1,north,0.5\n")
    labels = project / "labels" / "l.csv"
    labels.write_bytes(b"request_id,label\nr1,1\nr2,\n")
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        first = ingest_predictions(db, settings.monitor("m"), FEATURES)
        first_labels = ingest_labels(db, settings.monitor("m"))
        assert (first.rows_quarantined, first_labels.rows_quarantined) == (1, 1)
        for f, line in ((path, good_csv(3)), (labels, b"r3,0\n")):
            with f.open("ab") as out:
                out.write(line)
            os.utime(f, ns=(os.stat(f).st_atime_ns, os.stat(f).st_mtime_ns + 1_000_000_000))
        again = ingest_predictions(db, settings.monitor("m"), FEATURES)
        again_labels = ingest_labels(db, settings.monitor("m"))
        assert (again.rows_read, again.rows_inserted, again.rows_duplicate, again.rows_quarantined) == (
            3,
            1,
            1,
            0,
        )
        assert again_labels.rows_quarantined == 0
        assert db.cursor().execute("SELECT count(*) FROM quarantine").fetchone() == (2,)


def test_a_run_whose_globs_match_nothing_says_so_in_its_summary_and_in_runs(project: Path) -> None:
    """`driftwatch run` (a real process) prints the warning, and the run's row keeps it (status ok)."""
    cmd = [sys.executable, "-m", "driftwatch.cli", "run", "--config", str(project / "driftwatch.yml")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "warning: no predictions file matches" in done.stdout
    assert "warning: no label file matches" in done.stdout
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        [(status, error)] = db.cursor().execute("SELECT status, error FROM runs").fetchall()
    assert status == "ok"
    assert error == (
        f"warning: no predictions file matches {str(project / 'logs' / '*')!r}: nothing was read (is the path "
        f"right?); warning: no label file matches {str(project / 'labels' / '*')!r}: nothing was read (is the "
        "path right?)"
    )


def test_features_inferred_from_a_reference_with_a_broken_row_near_the_top(project: Path) -> None:
    """DuckDB's sniffer, meeting the bad row, used to read the header as one column named "age,income,region"."""
    rows = "".join(f"{20 + i},{1000 + i},{'north' if i % 2 else 'south'}\n" for i in range(50))
    (project / "train.csv").write_bytes(b"age,income,region\n" + b'30,"1000,north\n' + rows.encode())
    config = CONFIG.format(reference="train.csv")
    (project / "driftwatch.yml").write_text(
        config[: config.index("    features:\n      numeric")] + "    min_rows: 1\n"
    )
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        outcome = ensure_reference(db, settings.monitor("m"))
    assert outcome.features == FeatureSpec(numeric=("age", "income"), categorical=("region",))
    assert (outcome.profile.rows, outcome.rows_rejected) == (50, 1)


def test_physical_lines_match_a_plain_split_whatever_the_chunk_and_line_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The chunked line splitter against the obvious one (bytes.split), with tiny chunks and limits."""
    import io
    import random

    from driftwatch.sources import repair

    rng = random.Random(1)
    pieces = [b"a", b"bb", b"\n", b"\r\n", b"\r", b"xyzxyzxyz"]
    for _ in range(300):
        monkeypatch.setattr(repair, "CHUNK_BYTES", rng.choice([1, 2, 3, 7, 64]))
        monkeypatch.setattr(repair, "MAX_LINE_BYTES", rng.choice([3, 5, 10, 1000]))
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        expected = []
        for number, line in enumerate(lines, 1):
            cut = line[: repair.MAX_LINE_BYTES + 1]
            expected.append((number, cut.removesuffix(b"\r"), len(line)))
        assert list(repair.physical_lines(io.BytesIO(data))) == expected, data


@pytest.mark.parametrize(
    "where", ["short row near the top", "long row near the top", "short row at line 30,002"]
)
def test_features_inferred_from_a_reference_whatever_its_bad_row(project: Path, where: str) -> None:
    """A bad row near the top, or beyond DuckDB's sniffing sample, used to fail inference ("Referenced column
    "age" not found", "CSV Error on Line: 30002") instead of reading the repaired copy."""
    good = [f"{20 + i % 50},{1000 + i},{'north' if i % 2 else 'south'}\n".encode() for i in range(30_050)]
    bad = b"30,north\n" if "short" in where else b"30,1000,north,extra\n"
    at = 30_000 if "30,002" in where else 1
    (project / "train.csv").write_bytes(
        b"age,income,region\n" + b"".join(good[:at]) + bad + b"".join(good[at:])
    )
    config = CONFIG.format(reference="train.csv")
    (project / "driftwatch.yml").write_text(
        config[: config.index("    features:\n      numeric")] + "    min_rows: 1\n"
    )
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        outcome = ensure_reference(db, settings.monitor("m"))
    assert outcome.features == FeatureSpec(numeric=("age", "income"), categorical=("region",))
    assert (outcome.profile.rows, outcome.rows_rejected) == (30_050, 1)


def test_an_error_that_is_not_the_readers_is_raised_as_it_is_without_a_repair(tmp_path: Path) -> None:
    """Only DuckDB's reader refusing a row leads to a repaired re-read; a bug in the caller's SQL (or a
    transaction conflict, a full disk) is raised at once, not hidden behind a slow second read."""
    import duckdb

    from driftwatch.sources.files import read_source, source_file

    path = tmp_path / "day.csv"
    path.write_bytes(b"a,b\n1,2\n3,4\n")
    calls: list[str] = []

    def use(readable: object) -> None:
        calls.append(readable.fmt)  # type: ignore[attr-defined]
        con.execute("SELECT no_such_column FROM read_csv($path)", {"path": readable.path})  # type: ignore[attr-defined]

    with duckdb.connect() as con, pytest.raises(duckdb.BinderException, match="no_such_column"):
        read_source(con, source_file(str(path)), use)
    assert calls == ["csv"]


# Files DuckDB reads cleanly, each followed by one bad row (last, so the rows before it keep their numbers) that
# makes DuckDB refuse the whole file and `sources.repair` read it. The repaired rows must be DuckDB's rows.
CLEAN_PARTS = {
    "a quote inside an unquoted field": b"id,h\n1,5'11\"\n2,170\n3,6'0\"\n4,180\n",
    "quotes inside and around fields": b'id,h\n1,a"b\n2,"x,""y"""\n3,"two\nlines"\n4,c""d\n5,""\n',
    "blank lines before the header": b"\n\nid,h\n1,2\n3,4\n",
    "blank CRLF lines before the header": b"\r\n\r\nid,h\r\n1,2\r\n3,4\r\n",
}


@pytest.mark.parametrize("case", list(CLEAN_PARTS))
def test_a_repaired_csv_reads_its_good_rows_as_duckdb_reads_them(tmp_path: Path, case: str) -> None:
    """Repair used to open a quoted field at any odd `"`: lines 2-4 of `1,5'11"` … became one refused record,
    losing the good row 2 and renumbering the rest; a blank first line quarantined every row."""
    import duckdb

    from driftwatch.sources.files import read_source, source_file

    clean = CLEAN_PARTS[case]
    (tmp_path / "clean.csv").write_bytes(clean)
    (tmp_path / "day.csv").write_bytes(clean + b"9,1,extra\n")
    read = "SELECT _row, _src FROM ({sql}) ORDER BY _row"
    from driftwatch.sources.files import source_sql

    with duckdb.connect() as con:
        expected = con.execute(
            read.format(sql=source_sql("csv")), {"path": str(tmp_path / "clean.csv")}
        ).fetchall()

        def rows(readable: object) -> tuple[str, list[tuple], list[tuple]]:
            got = con.execute(read.format(sql=source_sql(readable.fmt)), {"path": readable.path}).fetchall()  # type: ignore[attr-defined]
            refused = [(r.row, r.reason) for r in readable.rejected]  # type: ignore[attr-defined]
            return readable.fmt, got, refused  # type: ignore[attr-defined]

        fmt, got, refused = read_source(con, source_file(str(tmp_path / "day.csv")), rows)
    assert fmt == "rows"  # read by the repair, not by DuckDB
    assert len(expected) >= 2
    assert got == expected
    last = clean.count(b"\n") + 1  # the bad row's line
    assert refused == [(len(expected) + 1, f"row has 3 fields, the header has 2 (line {last})")]


def test_a_csv_whose_last_row_has_a_field_too_many_is_not_read_as_empty(project: Path) -> None:
    """DuckDB's sniffer took the longest row for the header and skipped every line above it: the file was read
    as 0 rows, without an error (found while fixing the repair's quotes)."""
    (project / "logs" / "day.csv").write_bytes(
        HEADER + good_csv(1) + good_csv(2) + b"r3,2026-03-02T10:03:00Z,23,1,north,0.5,extra\n"
    )
    summary, quarantined, ids = ingest(project)
    assert ids == ["r1", "r2"]
    assert [(q[0], q[1]) for q in quarantined] == [(3, "row has 7 fields, the header has 6 (line 4)")]


def test_times_outside_the_accepted_range_are_quarantined_from_files(project: Path) -> None:
    """Issue 13.9 at ingest: a year 1 or 9999 (a sentinel upstream), or a time before 1970, in a log or label
    file is quarantined with the range, not stored to make a window thousands of years from the others."""
    rows = [good_csv(1), good_csv(2).replace(b"2026-03-02T10:02:00Z", b"9999-12-31T00:00:00Z")]
    rows += [good_csv(3).replace(b"2026-03-02T10:03:00Z", b"0001-01-01T00:00:00Z"), good_csv(4)]
    # Half an hour past 1970 at UTC+1 is half an hour before it at UTC: the range is of UTC times.
    rows += [good_csv(5).replace(b"2026-03-02T10:05:00Z", b"1970-01-01T00:30:00+01:00")]
    (project / "logs" / "day.csv").write_bytes(HEADER + b"".join(rows))
    summary, quarantined, ids = ingest(project)
    assert ids == ["r1", "r4"]
    outside = (
        " UTC is outside the accepted range of times (from 1970-01-01 up to (not including) 2200-01-01 UTC)"
    )
    assert [(q[0], q[1]) for q in quarantined] == [
        (2, "timestamp 9999-12-31T00:00:00" + outside),
        (3, "timestamp 0001-01-01T00:00:00" + outside),
        (5, "timestamp 1969-12-31T23:30:00" + outside),
    ]
    config = (
        (project / "driftwatch.yml")
        .read_text()
        .replace("      path: labels/*\n", "      path: labels/*\n      timestamp: at\n")
    )
    (project / "driftwatch.yml").write_text(config)
    (project / "labels" / "l.csv").write_bytes(
        b"request_id,label,at\nr1,1,2026-03-03T00:00:00Z\nr4,0,2200-01-01T00:00:00Z\n"
    )
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        ingest_labels(db, settings.monitor("m"))
        stored = db.cursor().execute("SELECT request_id FROM labels").fetchall()
        reasons = (
            db.cursor().execute("SELECT row_number, reason FROM quarantine WHERE kind = 'labels'").fetchall()
        )
    assert stored == [("r1",)]
    assert reasons == [(2, "timestamp 2200-01-01T00:00:00" + outside)]


def test_repaired_copies_are_not_left_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An in-memory connection used to stage repaired copies in `.tmp` of the current directory; a process
    killed mid-read left its copy there for good. Now: the system temp folder, and orphans are deleted."""
    import duckdb

    from driftwatch.sources.files import read_source, source_file

    monkeypatch.chdir(tmp_path)
    (tmp_path / "day.csv").write_bytes(b"a,b\n1,2\n3\n4,5\n")
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    staging = Path(__import__("tempfile").gettempdir())
    orphan = staging / f"dw-repaired-{int(gone.stdout)}-killed.parquet"
    orphan.write_bytes(b"left by a killed process")
    mine = staging / f"dw-repaired-{os.getpid()}-busy.parquet"
    mine.write_bytes(b"being read by this process")
    seen: list[str] = []
    try:
        with duckdb.connect() as con:
            read_source(con, source_file(str(tmp_path / "day.csv")), lambda r: seen.append(r.path))
        assert len(seen) == 1 and Path(seen[0]).parent == staging
        assert not Path(seen[0]).exists()
        assert not (tmp_path / ".tmp").exists()
        assert not orphan.exists()
        assert mine.exists()
    finally:
        mine.unlink()
        orphan.unlink(missing_ok=True)
