"""The small demo project the pipeline tests share (a fixed end date, so nothing depends on today), and
`demo_project`, which writes a demo project's files from a copy made once per session."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from driftwatch.demo import DemoSpec, write_demo_project

DEMO_END = datetime(2026, 11, 1, tzinfo=UTC)
SMALL_DEMO = DemoSpec(
    days=24, rows_per_day=1500, reference_rows=15000, drift_day=14, missing_day=18, end=DEMO_END
)

# Generating a demo project costs ~0.4 s of CPU (the 24-day one), and about 75 tests and fixtures each need a
# fresh one; its files depend only on the spec and on whether SLACK_WEBHOOK_URL is set (driftwatch.demo), so
# each variant is written once into a private folder and copied from there (tests/test_demo_copies.py: byte
# for byte equal).
_TEMPLATES: dict[tuple[DemoSpec, bool], Path] = {}
_ROOT: list[Path] = []


def demo_project(folder: str | Path, spec: DemoSpec) -> Path:
    """What `write_demo_project(folder, spec)` writes, copied from the session's template; the config path.
    A spec without an end date (today's midnight) is written afresh: the date may change within a session."""
    if spec.end is None:
        return write_demo_project(folder, spec)
    key = (spec, bool(os.environ.get("SLACK_WEBHOOK_URL")))
    template = _TEMPLATES.get(key)
    if template is None:
        if not _ROOT:
            _ROOT.append(Path(tempfile.mkdtemp(prefix="driftwatch-demo-templates-")))
        template = _ROOT[0] / str(len(_TEMPLATES))
        write_demo_project(template, spec)
        _TEMPLATES[key] = template
    # New files with new modification times, as a fresh write makes them (ingestion keys files by path, size
    # and mtime); dirs_exist_ok writes over an existing project as write_demo_project does.
    shutil.copytree(template, folder, dirs_exist_ok=True, copy_function=shutil.copyfile)
    return Path(folder) / "driftwatch.yml"


def remove_templates() -> None:
    _TEMPLATES.clear()
    while _ROOT:
        shutil.rmtree(_ROOT.pop(), ignore_errors=True)
