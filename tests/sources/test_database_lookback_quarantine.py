"""The look-back of a PostgreSQL source (tests/sources/postgres.py, a real server) and quarantined rows: a row
quarantined earlier and corrected in the database within the look-back is stored (it used to be skipped for
good, its request id being quarantined); an unchanged bad row is not quarantined again; two different late bad
rows in two cycles are both quarantined (a constant look-back source name made the second collide with the
first's quarantine key and vanish)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from test_database_source import DAY, NOW, PgProject, rows

from driftwatch.pipeline.cycle import run_cycle

LOOKBACK = "        lookback: 6h"


def bad(request_id: str, hours: float) -> tuple[Any, ...]:
    """A row whose input_features is a JSON array, not an object: quarantined."""
    return (request_id, DAY + timedelta(hours=hours), "v1", "[1, 2]", 0.5, "approve", "prod")


def quarantined(p: PgProject, request_id: str) -> int:
    row = (
        p.db.cursor().execute("SELECT count(*) FROM quarantine WHERE request_id = ?", [request_id]).fetchone()
    )
    return int(row[0]) if row else 0


def is_stored(p: PgProject, request_id: str) -> bool:
    row = (
        p.db.cursor()
        .execute('SELECT count(*) FROM "predictions:m" WHERE request_id = ?', [request_id])
        .fetchone()
    )
    return bool(row and row[0])


def test_a_quarantined_row_corrected_in_the_database_is_stored(tmp_path: Path, pg_server: Any) -> None:
    p = PgProject(tmp_path, pg_server, extra=LOOKBACK)
    p.insert([*rows("a", 20, DAY + timedelta(hours=10)), bad("fix-me", 10.001)])
    first = run_cycle(p.db, p.monitor, now=NOW)
    assert (first.ingest.rows_inserted, first.ingest.rows_quarantined) == (20, 1)
    idle = run_cycle(
        p.db, p.monitor, now=NOW
    )  # read again by the look-back, unchanged: not quarantined again
    assert (idle.ingest.rows_inserted, idle.ingest.rows_quarantined, len(idle.windows)) == (0, 0, 0)
    assert quarantined(p, "fix-me") == 1 and not is_stored(p, "fix-me")

    fixed = json.dumps({"age": 33, "income": 50000.0, "region": "north"})
    with psycopg.connect(p.pg.uri, autocommit=True) as c:
        c.execute(f"UPDATE {p.table} SET input_features = %s WHERE request_id = 'fix-me'", [fixed])
    corrected = run_cycle(p.db, p.monitor, now=NOW)
    assert (corrected.ingest.rows_inserted, corrected.ingest.rows_quarantined) == (1, 0)
    assert is_stored(p, "fix-me")
    assert len(corrected.windows) == 1  # its window is computed again, with it
    stored = p.db.cursor().execute("SELECT rows FROM window_summaries WHERE segment = '*'").fetchall()
    assert stored == [(21,)]
    after = run_cycle(p.db, p.monitor, now=NOW)  # stored now: the look-back skips it
    assert (after.ingest.rows_read, after.ingest.rows_inserted, len(after.windows)) == (0, 0, 0)


def test_late_bad_rows_of_two_cycles_are_both_quarantined(tmp_path: Path, pg_server: Any) -> None:
    p = PgProject(tmp_path, pg_server, extra=LOOKBACK)
    p.insert(rows("a", 20, DAY + timedelta(hours=10)))
    run_cycle(p.db, p.monitor, now=NOW)
    p.insert([bad("late-bad-1", 8)])  # 2 h behind the watermark: only the look-back reads it
    one = run_cycle(p.db, p.monitor, now=NOW)
    assert one.ingest.rows_quarantined == 1
    p.insert([bad("late-bad-2", 7)])  # sorts first in the next look-back pull, where late-bad-1 was
    two = run_cycle(p.db, p.monitor, now=NOW)
    assert two.ingest.rows_quarantined == 1
    assert (quarantined(p, "late-bad-1"), quarantined(p, "late-bad-2")) == (1, 1)
    three = run_cycle(p.db, p.monitor, now=NOW)
    assert three.ingest.rows_quarantined == 0
    total = p.db.cursor().execute("SELECT count(*) FROM quarantine").fetchone()
    assert total == (2,)


def test_a_row_without_request_id_is_quarantined_once(tmp_path: Path, pg_server: Any) -> None:
    """A table whose request id may be NULL: the look-back reads the row again each cycle under a new source
    name, and `q.request_id = b.request_id` never matched NULL, so it was quarantined once per cycle."""
    p = PgProject(tmp_path, pg_server, extra=LOOKBACK)
    with psycopg.connect(p.pg.uri, autocommit=True) as c:
        c.execute(f"ALTER TABLE {p.table} DROP CONSTRAINT {p.table}_pkey")
        c.execute(f"ALTER TABLE {p.table} ALTER COLUMN request_id DROP NOT NULL")
    nameless = (None, DAY + timedelta(hours=9), "v1", json.dumps({"age": 30}), 0.5, "approve", "prod")
    p.insert([*rows("a", 20, DAY + timedelta(hours=10)), nameless])
    counts = [run_cycle(p.db, p.monitor, now=NOW).ingest.rows_quarantined for _ in range(3)]
    assert counts == [1, 0, 0]
    reasons = p.db.cursor().execute("SELECT request_id, reason FROM quarantine").fetchall()
    assert reasons == [(None, "missing request_id")]
