"""A CLI error is one line that shows user input as written (issue 14): an option value holding Rich markup,
such as `driftwatch results --format '[/oops]'`, used to end in a MarkupError traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from driftwatch.cli import app

BAD = "[/oops]"
CONFIG = """\
storage: state/driftwatch.duckdb
monitors:
  m:
    predictions: {path: data/*.parquet}
    reference: {path: train.parquet}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    config = tmp_path / "driftwatch.yml"
    config.write_text(CONFIG)
    (tmp_path / "ref.csv").write_text("age\n1\n2\n3\n")
    (tmp_path / "cur.csv").write_text("age\n4\n5\n6\n")
    return config


def _cases(config: Path) -> dict[str, list[str]]:
    folder = str(config.parent)
    cfg = ["--config", str(config)]
    ref, cur = f"{folder}/ref.csv", f"{folder}/cur.csv"
    return {
        "results --format": ["results", *cfg, "--format", BAD],
        "results --performance --format": ["results", *cfg, "--performance", "--format", BAD],
        "results --rollup": ["results", *cfg, "--rollup", BAD],
        "results --monitor": ["results", *cfg, "--monitor", "m" + BAD],
        "compare --format": ["compare", ref, cur, "--format", BAD],
        "compare --input-format": ["compare", ref, cur, "--input-format", f"csv,csv,{BAD}"],
        "compare missing file": ["compare", ref, f"{folder}/{BAD}.csv"],
        "report --window": ["report", *cfg, "--window", BAD],
        "alerts --format": ["alerts", *cfg, "--format", BAD],
        "runs --format": ["runs", *cfg, "--format", BAD],
        "runs --status": ["runs", *cfg, "--status", BAD],
        "runs --monitor": ["runs", *cfg, "--monitor", "m" + BAD],
        "alerts --state": ["alerts", *cfg, "--state", BAD],
        "silence list --format": ["silence", "list", *cfg, "--format", BAD],
        "silence expire": ["silence", "expire", BAD, *cfg],
        "run --config": ["run", "--config", f"{folder}/{BAD}/driftwatch.yml"],
        "rules check": ["rules", "check", f"{folder}/{BAD}", *cfg],
    }


CASES = list(_cases(Path("x/driftwatch.yml")))


@pytest.mark.parametrize("case", CASES)
def test_a_value_with_markup_is_one_error_line_shown_as_written(project: Path, case: str) -> None:
    result = CliRunner().invoke(app, _cases(project)[case], env={"COLUMNS": "300"})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and BAD in lines[0], lines[0]


def test_the_real_process_prints_the_value_as_written(tmp_path: Path) -> None:
    """`python -m driftwatch.cli`, the installed script's entry point, with a markup-like value and a backslash
    before it (which a plain `[` → `\\[` replacement turned into an escaped backslash and a live tag)."""
    for value in (BAD, "\\" + BAD):
        done = subprocess.run(
            [sys.executable, "-m", "driftwatch.cli", "results", "--format", value],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert done.stderr.strip() == f"error: --format must be table or json, got {value!r}"
        assert done.stdout == ""
