"""`driftwatch silence add|list|expire` while another process (as `driftwatch serve` does) holds the DuckDB file:
one error line giving the curl command that does the same through the server's API, whose body the API accepts."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from _service import TOKEN, TestClient
from driftwatch.api.app import create_app
from driftwatch.cli.silence import SERVER_URL, silence_app
from driftwatch.config.loading import load_settings
from driftwatch.storage import alerts as store
from driftwatch.storage.database import Database

app = typer.Typer()
app.add_typer(silence_app, name="silence")

CONFIG = """\
storage: state/driftwatch.duckdb
monitors:
  m:
    predictions: {path: data/*.parquet}
    reference: {path: train.parquet}
"""

# Holds the file as another process would (DuckDB locks a file per process).
HOLD = "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()"


def _project(folder: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True)
    config = folder / "driftwatch.yml"
    config.write_text(CONFIG + extra)
    settings = load_settings(config)
    Database(settings.storage, settings.database).close()  # the file exists, migrated
    return config


@contextmanager
def held(config: Path) -> Iterator[None]:
    storage = load_settings(config).storage
    command = [sys.executable, "-c", HOLD, str(storage)]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdin is not None and process.stdout is not None
        try:
            assert process.stdout.readline().strip() == "held"
            yield
        finally:
            process.stdin.close()  # the holder exits at end of input
            process.wait(30)


def _refused(args: list[str]) -> list[str]:
    """The single error line of a refused command, split as a shell would split its curl command."""
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert "is in use by another process (is `driftwatch serve` running?)" in line
    assert "curl " in line
    return shlex.split(line[line.index("curl ") :])


def test_add_while_held_prints_the_curl_command_and_the_api_accepts_its_body(tmp_path: Path) -> None:
    config = _project(tmp_path / "project")
    args = ["silence", "add", "--match", "feature=age", "--match", "monitor=credit-*", "--until", "3d"]
    args += ["--comment", 'it\'s [retraining] "today"', "--created-by", "ana", "--config", str(config)]
    with held(config):
        curl = _refused(args)
    assert curl[:3] == ["curl", "-X", "POST"]
    assert curl[-1] == f"{SERVER_URL}/api/silences"
    # `$DRIFTWATCH_TOKEN` stays for the shell to expand: it is in double quotes in the printed line.
    assert curl[curl.index("-H") + 1] == "Authorization: Bearer $DRIFTWATCH_TOKEN"
    assert "Content-Type: application/json" in curl
    body = curl[curl.index("-d") + 1]

    settings = load_settings(config)
    with Database(settings.storage, settings.database) as db:
        client = TestClient(create_app(settings, db, token=TOKEN), raise_server_exceptions=False)
        response = client.post(
            "/api/silences",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            content=body.encode(),
        )
        assert response.status_code == 201, response.text
        silence = response.json()
        assert silence["matchers"] == {"feature": "age", "monitor": "credit-*"}
        assert silence["comment"] == 'it\'s [retraining] "today"' and silence["created_by"] == "ana"
        assert silence["state"] == "active"
        assert [row.id for row in store.load_silences(db.cursor())] == [silence["id"]]


def test_expire_and_list_while_held_name_the_endpoints(tmp_path: Path) -> None:
    config = _project(tmp_path / "project")
    with held(config):
        expire = _refused(["silence", "expire", "abc123", "--config", str(config)])
        listing = _refused(["silence", "list", "--all", "--config", str(config)])
    assert expire == [
        "curl",
        "-X",
        "DELETE",
        "-H",
        "Authorization: Bearer $DRIFTWATCH_TOKEN",
        f"{SERVER_URL}/api/silences/abc123",
    ]
    assert listing == ["curl", f"{SERVER_URL}/api/silences?all=true"]  # reads are public by default


def test_the_hint_names_the_configured_token_variable(tmp_path: Path) -> None:
    config = _project(tmp_path / "project", "server:\n  token_env: ONCALL_TOKEN\n  public_reads: false\n")
    with held(config):
        expire = _refused(["silence", "expire", "abc123", "--config", str(config)])
        listing = _refused(["silence", "list", "--config", str(config)])
    assert "Authorization: Bearer $ONCALL_TOKEN" in expire
    assert listing == ["curl", "-H", "Authorization: Bearer $ONCALL_TOKEN", f"{SERVER_URL}/api/silences"]


def test_bad_input_is_refused_before_the_database_is_opened(tmp_path: Path) -> None:
    config = _project(tmp_path / "project")
    with held(config):
        result = CliRunner().invoke(
            app,
            ["silence", "add", "--match", "feature", "--until", "1d", "--comment", "x", "-c", str(config)],
        )
    assert result.exit_code == 2 and "is not label=pattern" in result.stderr
    assert "curl" not in result.stderr


@pytest.mark.parametrize("until", ["99999999w", "0001-01-01T00:00+01:00"])
def test_times_out_of_range_are_one_line_errors(tmp_path: Path, until: str) -> None:
    config = _project(tmp_path / "project")
    result = CliRunner().invoke(
        app,
        ["silence", "add", "--match", "feature=age", "--until", until, "--comment", "x", "-c", str(config)],
    )
    assert result.exit_code == 2 and "out of range" in result.stderr
