"""Shared fixtures: temporary projects on real files and a real DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftwatch.config import Settings, load_settings
from driftwatch.demo import DemoSpec, write_demo_project
from driftwatch.storage.database import Database

# A fixed end for generated data, so windows and expectations never depend on today's date.
DEMO_END = datetime(2026, 11, 1, tzinfo=UTC)
SMALL_DEMO = DemoSpec(days=24, rows_per_day=1500, reference_rows=15000, drift_day=14, missing_day=18, end=DEMO_END)


@pytest.fixture
def demo_settings(tmp_path: Path) -> Settings:
    """A small demo project (24 days, drift from day 14, missing-rate jump from day 18)."""
    config = write_demo_project(tmp_path / "demo", SMALL_DEMO)
    return load_settings(config)


@pytest.fixture
def demo_db(demo_settings: Settings) -> Iterator[Database]:
    with Database(demo_settings.storage, demo_settings.database) as db:
        yield db
