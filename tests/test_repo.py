"""The repository's promises to a newcomer: the README's two commands, CI running the same one, the docs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    first_section = text.split("\n## ")[1]
    assert first_section.startswith("Start here")
    return re.findall(r"```sh\n(.+?)\n```", first_section)


def test_readme_starts_with_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    demo, tests = commands
    assert demo.endswith("driftwatch demo")
    assert tests.endswith("pytest")
    assert tests in (ROOT / ".ci" / "run").read_text()


def test_no_lock_file_is_committed() -> None:
    assert "uv.lock" in (ROOT / ".gitignore").read_text()


def test_docs_linked_from_readme_exist() -> None:
    text = (ROOT / "README.md").read_text()
    for link in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (ROOT / link).is_file(), link
