"""Shared fixtures: temporary projects on real files and a real DuckDB file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import _early
from _demo import SMALL_DEMO, demo_project, remove_templates
from driftwatch.config.loading import load_settings
from driftwatch.config.settings import Settings
from driftwatch.storage.database import Database


@pytest.fixture
def demo_settings(tmp_path: Path) -> Settings:
    """A small demo project (24 days, drift from day 14, missing-rate jump from day 18)."""
    config = demo_project(tmp_path / "demo", SMALL_DEMO)
    return load_settings(config)


@pytest.fixture
def demo_db(demo_settings: Settings) -> Iterator[Database]:
    with Database(demo_settings.storage, demo_settings.database) as db:
        yield db


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the slow session resources the selected tests need in the background (tests/_early.py); nothing
    for `--collect-only`, which runs no test, and nothing in a pytest-xdist worker: every worker collects every
    test but runs only those it is handed, so each would start them all (the other core is busy with the other
    worker's tests anyway); there a fixture starts its resource when a test first needs it."""
    if not session.config.option.collectonly and not os.environ.get("PYTEST_XDIST_WORKER"):
        _early.start_needed(session.items)


def pytest_sessionfinish(session: pytest.Session) -> None:
    _early.stop_untaken()
    remove_templates()


@pytest.fixture(scope="session")
def cluster() -> Iterator[Any]:
    """A real Dask cluster, started once per session: two worker processes of one thread each (what a small
    cluster looks like). Used by `compare --engine dask` and by monitors' `compute:` windows."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as local:
        yield local
