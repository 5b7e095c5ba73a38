"""tests/_demo.py's `demo_project` copies a per-session template instead of generating each demo project: the
copy must be exactly what `write_demo_project` writes, for every variant the copy is keyed on."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

import _demo
from _demo import SMALL_DEMO, demo_project
from _service import DAYS, END, spec
from driftwatch.demo import DemoSpec, write_demo_project


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("demo", [SMALL_DEMO, spec()], ids=["small", "service"])
def test_a_copied_project_is_byte_for_byte_a_written_one(tmp_path: Path, demo: DemoSpec) -> None:
    written = write_demo_project(tmp_path / "written", demo)
    first = demo_project(tmp_path / "first", demo)
    second = demo_project(tmp_path / "second", demo)  # from the template
    assert first.name == second.name == written.name == "driftwatch.yml"
    assert _files(tmp_path / "first") == _files(tmp_path / "written") == _files(tmp_path / "second")


def test_copies_are_new_files_not_the_templates_times(tmp_path: Path) -> None:
    """Ingestion keys a file by path, size and mtime: a copy gets the time of its making, as a write does."""
    demo_project(tmp_path / "first", SMALL_DEMO)
    template = _demo._TEMPLATES[(SMALL_DEMO, bool(os.environ.get("SLACK_WEBHOOK_URL")))]
    for path in template.rglob("*"):
        os.utime(path, (946_684_800, 946_684_800))  # 2000-01-01
    second = demo_project(tmp_path / "second", SMALL_DEMO)
    assert second.stat().st_mtime > 946_684_800 + 86_400


def test_writing_over_a_project_matches_writing_over_it(tmp_path: Path) -> None:
    # _service.next_day_records writes the 5-day project over a folder; the copy must leave the same files.
    longer = spec(days=DAYS + 1, end=END + timedelta(days=1))
    for name, write in (("written", write_demo_project), ("copied", demo_project)):
        write(tmp_path / name, spec())
        write(tmp_path / name, longer)
    assert _files(tmp_path / "copied") == _files(tmp_path / "written")


def test_the_slack_variant_is_its_own_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    demo_project(tmp_path / "plain", spec())
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.invalid/T/B/x")
    demo_project(tmp_path / "slack", spec())
    write_demo_project(tmp_path / "written", spec())
    assert _files(tmp_path / "slack") == _files(tmp_path / "written")
    assert "slack" in (tmp_path / "slack" / "driftwatch.yml").read_text()
    assert "slack" not in (tmp_path / "plain" / "driftwatch.yml").read_text()
