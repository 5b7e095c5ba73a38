"""Golden output: the index page for a database with hand-written rows and a pinned clock.

Regenerate after an intended change with `DRIFTWATCH_UPDATE_GOLDEN=1 pytest tests/reports/test_reports_golden.py`
and review the diff.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from driftwatch.config.monitors import MonitorConfig, PredictionSource, ReferenceSource
from driftwatch.config.performance import PerformanceSettings
from driftwatch.config.settings import Settings
from driftwatch.reports.render import render_template
from driftwatch.reports.site import index_context
from driftwatch.storage.database import Database

GOLDEN = Path(__file__).parent / "golden" / "index.html"
NOW = datetime(2026, 11, 2, 6, 0)


def _monitor(name: str, task: str | None) -> MonitorConfig:
    return MonitorConfig(
        name=name,
        predictions=PredictionSource(path="/data/predictions/*.parquet"),
        reference=ReferenceSource(path="/data/train.parquet"),
        task=task,
        performance=PerformanceSettings(metrics=("roc_auc",)),
    )


def _fill(db: Database) -> None:
    with db.transaction() as tx:
        for version, start, status, drift in (
            ("v3.1", "2026-10-30", "ok", 0),
            ("v3.2", "2026-10-31", "drift", 5),
            ("v3.2", "2026-10-30", "warn", 2),
        ):
            tx.execute(
                "INSERT INTO window_summaries VALUES ('credit <prod>', ?, '*', ?, ?::TIMESTAMP + INTERVAL 1 DAY, "
                "1500, 8, 1, ?, ?, ?, 'run-1', '2026-11-01 00:05')",
                [version, start, start, drift, drift / 8, status],
            )
        tx.execute(
            "INSERT INTO performance_results (monitor, model_version, segment, window_start, metric, window_end, "
            "value, n_predictions, n_labels, coverage, status, reason, baseline, run_id, computed_at) VALUES "
            "('credit <prod>', 'v3.2', '*', '2026-10-31', 'roc_auc', '2026-11-01', 0.712, 1500, 900, 0.6, "
            "'degraded', 'roc_auc 0.712 < 0.781 - 0.05', 0.781, 'run-1', '2026-11-01 00:05')"
        )
        tx.execute(
            "CREATE TABLE IF NOT EXISTS alert_state (rule VARCHAR, monitor VARCHAR, model_version VARCHAR, "
            "segment VARCHAR, feature VARCHAR, state VARCHAR, pending_count INTEGER, healthy_count INTEGER, "
            "updated_at TIMESTAMP)"
        )
        for feature in ("income", "region"):
            tx.execute(
                "INSERT INTO alert_state (rule, monitor, model_version, segment, feature, state, pending_count, "
                "healthy_count, updated_at) VALUES ('PSIHigh', 'credit <prod>', 'v3.2', '*', ?, 'firing', 2, 0, "
                "'2026-11-01')",
                [feature],
            )


def test_index_page_matches_golden(tmp_path: Path) -> None:
    settings = Settings(
        config_path=Path("/srv/driftwatch.yml"),
        storage=tmp_path / "db.duckdb",
        reports_dir=tmp_path / "reports",
        monitors={
            "credit <prod>": _monitor("credit <prod>", "binary_classification"),
            "empty": _monitor("empty", None),
        },
    )
    with Database(settings.storage) as db:
        _fill(db)
        page = render_template("index.html", index_context(db, settings, now=NOW))
    page = page.replace(str(settings.storage), "<DATABASE>")
    if os.environ.get("DRIFTWATCH_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(page, encoding="utf-8")
    assert page == GOLDEN.read_text(encoding="utf-8")
