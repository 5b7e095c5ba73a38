"""`driftwatch run`'s summary tells "judged, no drift" from "not judged" (issue 12, found item 2): daily windows
under min_rows used to print "no feature drifting in the computed windows" though none had a verdict."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from _service import make_project
from driftwatch.cli import app


def _run(config: Path) -> str:
    result = CliRunner().invoke(app, ["run", "--config", str(config)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())  # rich may wrap long lines


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("cli") / "demo")


def test_windows_under_min_rows_are_reported_as_not_judged(project: Path, tmp_path: Path) -> None:
    config = make_project(tmp_path / "small")
    # Every window has 600 rows; min_rows 700 leaves each of the 4 without a verdict.
    config.write_text(config.read_text().replace("min_rows: 500", "min_rows: 700"))
    output = _run(config)
    assert "windows computed: 4 (0 judged, 4 not judged)" in output
    assert "not judged: 4 windows with fewer than min_rows (700) rows: no drift verdict" in output
    assert "no window could be judged: drift unknown, not absent" in output
    assert "no feature drifting" not in output


def test_judged_windows_are_counted_as_such(project: Path) -> None:
    output = _run(project)
    assert "windows computed: 4" in output
    assert "not judged" not in output
    assert "features drifting:" in output  # the demo plants drift from day 2
