"""The README's driftwatch commands are ones the CLI accepts, and its silence example does not expire: a newcomer
copies them as they are (issue 12: the example's fixed date had passed, so it exited 2)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from driftwatch.cli import app
from driftwatch.config.loading import load_settings
from driftwatch.storage import alerts as store
from driftwatch.storage.database import Database

ROOT = Path(__file__).resolve().parents[1]
PREFIX = re.compile(r"^(?:\.venv/bin/(?:uv run )?)?driftwatch (.*)$")


def readme_commands() -> list[str]:
    """Every `driftwatch …` command in the README: in shell blocks (continued lines joined, `&&` chains split)
    and in inline code; synopses with [optional] parts or a|b choices are not commands and are left out."""
    text = (ROOT / "README.md").read_text()
    pieces: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        pieces += block.replace("\\\n", " ").splitlines()
    pieces += re.findall(r"(?<!`)`([^`\n]+)`(?!`)", text)
    commands = []
    for piece in pieces:
        for part in piece.split("&&"):
            match = PREFIX.match(part.strip())
            if match and not re.search(r"[\[|]", match.group(1)):
                commands.append(match.group(1).strip())
    return commands


def parse(args: list[str]) -> Any:
    """Parse as the CLI would, without running the command: unknown options, missing values and wrong
    types raise click's usage errors. (Typer ships its own copy of click, so groups are told by what they
    do, not by class.)"""
    # A bare name in running text (`driftwatch compare`) names a command: it must exist, its arguments are
    # elsewhere.
    bare = all(re.fullmatch(r"[a-z]+", a) for a in args)
    command: Any = typer.main.get_command(app)
    ctx = command.make_context("driftwatch", list(args), resilient_parsing=bare)
    while hasattr(command, "resolve_command"):
        protected = getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])
        name, sub, rest = command.resolve_command(ctx, [*protected, *ctx.args])
        assert sub is not None, args
        command = sub
        ctx = sub.make_context(name, rest, parent=ctx, resilient_parsing=bare)
    return ctx


def test_the_readme_has_the_commands_a_newcomer_copies() -> None:
    commands = readme_commands()
    first_words = {
        " ".join(c.split()[:2]) if c.split()[0] in ("rules", "silence") else c.split()[0] for c in commands
    }
    assert {
        "demo",
        "run",
        "results",
        "compare",
        "serve",
        "alerts",
        "rules check",
        "silence add",
    } <= first_words


@pytest.mark.parametrize("command", readme_commands())
def test_every_readme_command_parses(command: str) -> None:
    parse(shlex.split(command))


def test_the_readme_silence_example_adds_a_silence_whenever_it_is_run(tmp_path: Path) -> None:
    """Run the README's own silence command against a project: it must succeed today and any later day, so
    it can give no fixed date."""
    (example,) = [c for c in readme_commands() if c.startswith("silence add")]
    args = shlex.split(example)
    config = tmp_path / "driftwatch.yml"
    config.write_text(
        "storage: state/driftwatch.duckdb\nmonitors:\n  m:\n"
        "    predictions: {path: data/*.parquet}\n    reference: {path: train.parquet}\n"
    )
    done = CliRunner().invoke(app, [*args, "--config", str(config)])
    assert done.exit_code == 0, done.output
    settings = load_settings(config)
    with Database(settings.storage, settings.database) as db:
        (silence,) = store.load_silences(db.cursor())
    assert silence.comment == args[args.index("--comment") + 1]
    until = args[args.index("--until") + 1]
    assert not re.match(r"\d{4}-\d{2}-\d{2}", until), f"works today, but a fixed date expires: {until}"


def _masked(text: str) -> list[str]:
    """Lines with what changes from run to run masked: the run id, durations, dates (the demo ends today)."""
    text = re.sub(r"\brun [0-9a-f]{8}\b", "run <id>", text)
    text = re.sub(r"\b\d+(?:\.\d+)?s\b", "<s>", text)
    text = re.sub(r"\b\d{4}-\d{2}-\d{2}\b", "<date>", text)
    return [line.rstrip() for line in text.strip().splitlines()]


@pytest.mark.slow
def test_the_readme_sample_output_is_what_the_demo_prints(tmp_path: Path) -> None:
    """The README's "What the demo shows" block is a real `driftwatch demo` run, not an older one: regenerate
    it (`driftwatch demo`, copy the summary) whenever this fails."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## What the demo shows", 1)[1]
    sample = re.search(r"```\n(.*?)```", section, re.S)
    assert sample, "no sample output block"
    done = subprocess.run(
        [sys.executable, "-m", "driftwatch.cli", "demo", "--dir", str(tmp_path / "driftwatch-demo")],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "300", "SLACK_WEBHOOK_URL": ""},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    printed = done.stdout.split("\ndone in ", 1)[0]
    assert _masked(sample.group(1)) == _masked(printed)


def test_no_documented_silence_ends_on_a_date_already_past() -> None:
    """A copied example must not exit 2 because its fixed end date has passed: docs use durations (`7d`)."""
    today = datetime.now(UTC).date()
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for match in re.finditer(r"silence add [^\n`]*--until (\d{4}-\d{2}-\d{2})", path.read_text()):
            assert date.fromisoformat(match.group(1)) > today, f"{path.name}: {match.group(0)}"
