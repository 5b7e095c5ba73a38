"""Delayed labels through real cycles: files appear over two weeks, corrections replace labels, labels may
arrive before their prediction or for ids never logged, and bad rows are quarantined with a reason."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from driftwatch.config.loading import load_settings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.storage.database import Database
from driftwatch.storage.performance_results import performance_history, performance_results

START = datetime(2026, 5, 4, tzinfo=UTC)
N = 1000

CONFIG = """\
storage: state/dw.duckdb
monitors:
  m:
    predictions:
      path: preds/*.parquet
      features: [x1]
      prediction: score
    reference:
      path: ref.parquet
      prediction: score
      target: y
    features:
      numeric: [x1]
    window: 1d
    min_rows: 100
    task: binary_classification
    labels:
      path: labels/*.csv
      timestamp: labelled_at
    performance:
      min_labels: 100
      min_coverage: 0.3
"""


def score_of(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(2.0 * x - 0.2)))


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Project:
    """Four days of predictions; each label becomes known 1–14 days after its prediction."""

    def __init__(self, root: Path, seed: int = 5) -> None:
        self.root = root
        rng = np.random.default_rng(seed)
        x = rng.normal(0, 1, 10_000)
        s = score_of(x)
        pl.DataFrame({"x1": x, "score": s, "y": (rng.random(x.size) < s).astype(np.int64)}).write_parquet(
            root / "ref.parquet"
        )
        (root / "preds").mkdir()
        (root / "labels").mkdir()
        (root / "driftwatch.yml").write_text(CONFIG)
        self.predictions: dict[int, pl.DataFrame] = {}
        labels = []
        for day in range(4):
            x = rng.normal(0, 1, N)
            s = score_of(x)
            served = [START + timedelta(days=day, seconds=int(v)) for v in np.sort(rng.integers(0, 86400, N))]
            ids = [f"d{day}-{i:04d}" for i in range(N)]
            self.predictions[day] = pl.DataFrame(
                {"request_id": ids, "timestamp": served, "x1": x, "score": s}
            )
            delay = rng.uniform(86400, 14 * 86400, N)
            labels += [
                (rid, int(y), t + timedelta(seconds=float(d)))
                for rid, y, t, d in zip(ids, rng.random(N) < s, served, delay, strict=True)
            ]
        self.labels = sorted(labels, key=lambda r: r[2])
        self.written_until = START

    def write_predictions(self, day: int) -> None:
        self.predictions[day].write_parquet(self.root / "preds" / f"{day}.parquet")

    def deliver_labels(self, until: datetime, extra: list[list[str]] | None = None) -> None:
        """One CSV per day of arrival for the labels known in [written_until, until), as a label feed would."""
        day = self.written_until
        while day < until:
            rows = [[r, str(y), iso(t)] for r, y, t in self.labels if day <= t < day + timedelta(days=1)]
            if day == self.written_until and extra:
                rows += extra
            self.write_csv(f"{day:%Y-%m-%d}.csv", rows)
            day += timedelta(days=1)
        self.written_until = until

    def write_csv(self, name: str, rows: list[list[str]]) -> None:
        with open(self.root / "labels" / name, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["request_id", "label", "labelled_at"])
            writer.writerows(rows)

    def cycle(self, db: Database, days: int) -> object:
        mon = load_settings(self.root / "driftwatch.yml").monitor("m")
        return run_cycle(db, mon, now=START + timedelta(days=days))


def test_labels_arriving_over_two_weeks(tmp_path: Path) -> None:
    project = Project(tmp_path)
    settings = load_settings(tmp_path / "driftwatch.yml")
    for day in range(3):  # day 3's predictions are late: they land in round 3, after some of their labels
        project.write_predictions(day)
    ghosts = [["ghost-1", "1", iso(START)], ["ghost-2", "0", iso(START)]]
    bad = [["", "1", iso(START)], ["d0-0001", "", iso(START)], ["d0-0002", "1", "next tuesday"]]
    day0 = START.replace(tzinfo=None)
    seen: list[dict] = []
    with Database(settings.storage, settings.database) as db:
        cur = db.cursor()

        # Round 1, day 3: about 11 % of day 0 is labelled.
        project.deliver_labels(START + timedelta(days=3), extra=ghosts + bad)
        r1 = project.cycle(db, 3)
        assert r1.labels.without_prediction == 2  # the two ghosts
        assert r1.labels.rows_quarantined == 3
        reasons = dict(
            cur.execute("SELECT row_number, reason FROM quarantine WHERE kind = 'labels'").fetchall()
        )
        assert sorted(reasons.values()) == sorted(
            ["missing request_id", "missing label", "unparseable timestamp 'next tuesday'"]
        )
        seen.append(_auc(cur, day0))

        # Round 2, day 6: some day-3 labels arrive before day 3's predictions do; they wait.
        project.deliver_labels(START + timedelta(days=6))
        r2 = project.cycle(db, 6)
        early = sum(1 for r, _y, t in project.labels if r.startswith("d3-") and t < START + timedelta(days=6))
        assert early > 50
        assert r2.labels.without_prediction == 2 + early
        seen.append(_auc(cur, day0))

        # Round 3, day 9: day 3's predictions land and pick up their waiting labels.
        project.write_predictions(3)
        project.deliver_labels(START + timedelta(days=9))
        r3 = project.cycle(db, 9)
        assert r3.labels.without_prediction == 2
        day3 = _auc(cur, day0 + timedelta(days=3))
        known = sum(1 for r, _y, t in project.labels if r.startswith("d3-") and t < START + timedelta(days=9))
        assert day3["n_labels"] == known
        seen.append(_auc(cur, day0))

        # Round 4, day 16: everything is known; one correction flips five of day 0's labels.
        corrected = [f"d0-{i:04d}" for i in range(10, 15)]
        project.deliver_labels(START + timedelta(days=16))
        old = {r: str(y) for r, y, _t in project.labels if r in corrected}
        late = iso(START + timedelta(days=15, hours=12))
        project.write_csv("corrections.csv", [[r, str(1 - int(old[r])), late] for r in corrected])
        r4 = project.cycle(db, 16)
        assert r4.labels.labels_replaced == 5
        now_labels = dict(
            cur.execute("SELECT request_id, label FROM labels WHERE request_id IN ?", [corrected]).fetchall()
        )
        assert all(now_labels[r] == str(1 - int(old[r])) for r in corrected)
        history = cur.execute(
            "SELECT request_id, label, replaced_by FROM label_history ORDER BY 1"
        ).fetchall()
        assert [(h[0], h[1]) for h in history] == sorted(old.items())
        assert all(h[2].endswith("corrections.csv") for h in history)
        seen.append(_auc(cur, day0))

        # A stale re-delivery (older than the correction) does not undo it.
        project.write_csv("stale.csv", [[corrected[0], old[corrected[0]], iso(START + timedelta(days=2))]])
        r5 = project.cycle(db, 16)
        assert r5.labels.labels_replaced == 0 and r5.labels.labels_unchanged == 1
        assert r5.performance is not None and r5.performance.windows_computed == 0

        coverage = [s["coverage"] for s in seen]
        assert coverage == sorted(coverage) and coverage[0] < 0.3 <= coverage[-1] == 1.0, coverage
        assert seen[0]["status"] == "insufficient_labels"
        assert "no verdict, no alert" in seen[0]["reason"]
        assert seen[-1]["status"] in ("ok", "degraded") and seen[-1]["n_labels"] == N
        # Fully labelled: delays from U(1 d, 14 d), median 7.5 d and p90 12.7 d.
        assert abs(seen[-1]["delay_median_s"] / 86400 - 7.5) < 0.6
        assert abs(seen[-1]["delay_p90_s"] / 86400 - 12.7) < 0.6
        # The history shows the window's AUC settling as labels came in, one version per recomputation.
        versions = performance_history(cur, "m", "roc_auc", day0)
        assert [v["n_labels"] for v in versions] == [s["n_labels"] for s in seen]
        assert versions[-1]["value"] == seen[-1]["value"]


def _auc(cur: object, window_start: datetime) -> dict:
    rows = performance_results(cur, monitor="m", metric="roc_auc")  # type: ignore[arg-type]
    wanted = window_start.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
    return next(r for r in rows if r["window_start"] == wanted)


NDJSON_CONFIG = CONFIG.replace("labels/*.csv\n      timestamp: labelled_at", "labels/*.ndjson")


def test_labels_without_timestamps_upsert_idempotently(tmp_path: Path) -> None:
    project = Project(tmp_path)
    (tmp_path / "driftwatch.yml").write_text(NDJSON_CONFIG)
    project.write_predictions(0)
    settings = load_settings(tmp_path / "driftwatch.yml")
    ids = project.predictions[0]["request_id"].to_list()[:300]

    def write(name: str, labels: dict[str, object], junk: str = "") -> None:
        lines = [json.dumps({"request_id": r, "label": y}) for r, y in labels.items()]
        (tmp_path / "labels" / name).write_text("\n".join(lines) + "\n" + junk)

    with Database(settings.storage, settings.database) as db:
        cur = db.cursor()
        write("a.ndjson", dict.fromkeys(ids, 1), junk='{"request_id": "x", "label": \n')
        first = project.cycle(db, 2)
        assert first.labels.labels_new == 300 and first.labels.rows_quarantined == 1
        assert cur.execute("SELECT reason FROM quarantine WHERE kind = 'labels'").fetchall() == [
            ("malformed JSON line",)
        ]
        stamped = cur.execute("SELECT min(labelled_at), max(labelled_at) FROM labels").fetchall()[0]
        # The same labels again, in a new file: nothing changes, nothing is recomputed.
        write("b.ndjson", dict.fromkeys(ids, 1))
        second = project.cycle(db, 2)
        assert second.labels.labels_unchanged == 300 and second.labels.labels_replaced == 0
        assert second.performance is not None and second.performance.windows_computed == 0
        assert cur.execute("SELECT min(labelled_at), max(labelled_at) FROM labels").fetchall()[0] == stamped
        # A different label for ten of them replaces those ten only.
        write("c.ndjson", dict.fromkeys(ids[:10], 0))
        third = project.cycle(db, 2)
        assert third.labels.labels_replaced == 10
        assert cur.execute("SELECT count(*) FROM label_history").fetchall() == [(10,)]
        assert cur.execute("SELECT count(*) FROM labels WHERE label = '0'").fetchall() == [(10,)]
        assert third.performance is not None and third.performance.windows_computed == 1
        row = _auc(cur, START.replace(tzinfo=None))
        assert row["n_labels"] == 300 and row["coverage"] == 0.3
        assert row["delay_median_s"] > 0  # without a label timestamp, delay runs to when it was ingested
