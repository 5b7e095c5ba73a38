"""The demo project's full cycle on a temporary folder: drift found where it was put, and nowhere else."""

from __future__ import annotations

from datetime import timedelta

from _demo import DEMO_END, SMALL_DEMO
from driftwatch.config.settings import Settings
from driftwatch.demo import DRIFTING, STABLE
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.storage.database import Database
from driftwatch.storage.results import feature_results


def drift_start(day: int) -> str:
    start = DEMO_END - timedelta(days=SMALL_DEMO.days) + timedelta(days=day)
    return start.isoformat().replace("+00:00", "Z")


def test_demo_cycle_finds_exactly_the_planted_drift(demo_settings: Settings, demo_db: Database) -> None:
    mon = demo_settings.monitor("credit-default")
    summary = run_cycle(demo_db, mon, now=DEMO_END)
    assert summary.windows_computed == SMALL_DEMO.days
    assert summary.ingest.rows_inserted == SMALL_DEMO.days * SMALL_DEMO.rows_per_day
    assert summary.ingest.rows_quarantined == SMALL_DEMO.days * 3
    assert summary.ingest.rows_duplicate == SMALL_DEMO.days - 1

    results = feature_results(demo_db.cursor(), monitor="credit-default")
    # 8 input features, plus the model's score and decision mix watched alongside them.
    assert len(results) == SMALL_DEMO.days * 10
    outputs = [r for r in results if r["feature"] in ("raw_prediction", "business_output")]
    assert len(outputs) == SMALL_DEMO.days * 2
    assert {r["kind"] for r in outputs if r["feature"] == "business_output"} == {"categorical"}
    # The planted input drift moves the score a little (PSI ~0.02-0.04, but W1 0.1-0.19 σ with KS p_adj
    # < 0.05): a warning from the drift day on, as the peers would flag it, never drift; ok before it.
    assert all(r["status"] != "drift" and r["psi"] is not None for r in outputs)
    assert all(r["status"] == "ok" for r in outputs if r["window_start"] < drift_start(SMALL_DEMO.drift_day))
    status = {(r["feature"], r["window_start"]): r["status"] for r in results}
    drift_from = {
        "income": SMALL_DEMO.drift_day,
        "region": SMALL_DEMO.drift_day,
        "debt_ratio": SMALL_DEMO.missing_day,
    }
    for feature in DRIFTING:
        for day in range(SMALL_DEMO.days):
            expected = "drift" if day >= drift_from[feature] else "ok"
            got = status[(feature, drift_start(day))]
            if expected == "drift":
                assert got == "drift", (feature, day, got)
            else:
                assert got in ("ok", "warn"), (feature, day, got)
    stable = [status[(f, drift_start(d))] for f in STABLE for d in range(SMALL_DEMO.days)]
    assert stable.count("drift") == 0
    # False alarms at the warn level stay rare on stable features too.
    assert stable.count("warn") <= len(stable) * 0.05

    row = next(
        r
        for r in results
        if r["feature"] == "debt_ratio" and r["window_start"] == drift_start(SMALL_DEMO.days - 1)
    )
    assert "missing" in row["reason"]
    assert row["missing_share_current"] > 0.1
    for key in (
        "monitor",
        "model_version",
        "window_start",
        "window_end",
        "feature",
        "rows",
        "psi",
        "ks_statistic",
        "ks_pvalue",
        "status",
    ):
        assert key in row
    assert row["model_version"] == "v3.2"


def test_segments_are_computed_from_the_same_rows(demo_settings: Settings, demo_db: Database) -> None:
    run_cycle(demo_db, demo_settings.monitor("credit-default"), now=DEMO_END)
    cur = demo_db.cursor()
    per_segment = cur.execute(
        "SELECT segment, sum(rows) FROM window_summaries GROUP BY segment ORDER BY segment"
    ).fetchall()
    totals = dict(per_segment)
    assert set(totals) == {"*", "environment=prod-eu-central1", "environment=prod-us-west1"}
    assert totals["environment=prod-eu-central1"] + totals["environment=prod-us-west1"] == totals["*"]
    seg = feature_results(
        cur, monitor="credit-default", segment="environment=prod-us-west1", feature="income"
    )
    assert [r["status"] for r in seg][-1] == "drift"


def test_rerun_is_idempotent_and_a_new_reference_recomputes(
    demo_settings: Settings, demo_db: Database
) -> None:
    mon = demo_settings.monitor("credit-default")
    run_cycle(demo_db, mon, now=DEMO_END)
    cur = demo_db.cursor()
    snapshot = cur.execute(
        "SELECT * EXCLUDE (run_id, computed_at) FROM feature_results ORDER BY ALL"
    ).fetchall()
    stats = cur.execute("SELECT * FROM feature_stats ORDER BY ALL").fetchall()
    assert run_cycle(demo_db, mon, now=DEMO_END).windows_computed == 0
    assert (
        cur.execute("SELECT * EXCLUDE (run_id, computed_at) FROM feature_results ORDER BY ALL").fetchall()
        == snapshot
    )
    # Touching the reference rebuilds the profile and recomputes every window to the same numbers.
    import os

    ref = mon.reference.path
    st = os.stat(ref)
    os.utime(ref, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    again = run_cycle(demo_db, mon, now=DEMO_END)
    assert again.profile_rebuilt and again.windows_computed == SMALL_DEMO.days
    assert cur.execute("SELECT * FROM feature_stats ORDER BY ALL").fetchall() == stats
    runs = cur.execute("SELECT status, count(*) FROM runs GROUP BY 1").fetchall()
    assert runs == [("ok", 3)]


def test_crash_mid_cycle_loses_nothing(demo_settings: Settings, demo_db: Database, monkeypatch) -> None:
    """A failure while computing windows leaves them queued; the next run computes them, none doubled."""
    import driftwatch.pipeline.windows as windows

    mon = demo_settings.monitor("credit-default")
    real = windows.store_window
    calls = {"n": 0}

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(windows, "store_window", crashing)
    try:
        run_cycle(demo_db, mon, now=DEMO_END)
    except RuntimeError:
        pass
    monkeypatch.setattr(windows, "store_window", real)
    cur = demo_db.cursor()
    assert cur.execute("SELECT count(*) FROM window_summaries WHERE segment = '*'").fetchall() == [(4,)]
    assert cur.execute("SELECT status FROM runs").fetchall() == [("failed",)]
    resumed = run_cycle(demo_db, mon, now=DEMO_END)
    assert resumed.windows_computed == SMALL_DEMO.days - 4
    assert cur.execute("SELECT count(*) FROM window_summaries WHERE segment = '*'").fetchall() == [
        (SMALL_DEMO.days,)
    ]
    assert cur.execute('SELECT count(*) FROM "predictions:credit-default"').fetchall() == [
        (SMALL_DEMO.days * SMALL_DEMO.rows_per_day,)
    ]
