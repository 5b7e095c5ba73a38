"""`driftwatch report`: re-render stored results on demand, one window or all, into another folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _demo import DEMO_END
from driftwatch.config.settings import Settings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.storage.database import Database


def report(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "driftwatch.cli", "report", "--config", str(settings.config_path), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_report_one_window_into_a_folder_and_all(demo_settings: Settings, tmp_path: Path) -> None:
    with Database(demo_settings.storage) as db:
        run_cycle(db, demo_settings.monitor("credit-default"), now=DEMO_END)
    out = tmp_path / "out"
    one = report(demo_settings, "--window", "2026-10-30", "--out", str(out))
    assert one.returncode == 0, one.stderr
    pages = sorted(p.name for p in out.rglob("2026-10-30*.html"))
    assert len(pages) == 3  # overall and the two environment segments
    assert not list(out.rglob("2026-10-29*.html"))
    # A --window with a UTC offset names the UTC instant: 02:00+02:00 is the 00:00 UTC window (it once kept the
    # wall-clock 02:00 and found no window).
    offset = report(demo_settings, "--window", "2026-10-30T02:00:00+02:00", "--out", str(tmp_path / "offset"))
    assert offset.returncode == 0, offset.stderr
    assert sorted(p.name for p in (tmp_path / "offset").rglob("2026-10-30*.html")) == pages
    assert (out / "index.html").is_file()
    everything = report(demo_settings, "--all")
    assert everything.returncode == 0, everything.stderr
    assert len(list(demo_settings.reports_dir.rglob("2026-*.html"))) == 24 * 3
    missing = report(demo_settings, "--window", "1999-01-01")
    assert missing.returncode == 2 and "no computed window" in missing.stderr
