"""No compile tax: kernels compiled once are loaded from the on-disk cache, wherever the package lives."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from driftwatch.kernels import numba_cache_dir

SRC = Path(__file__).resolve().parents[1] / "src"


def test_cache_dir_choice(tmp_path: Path) -> None:
    assert numba_cache_dir(tmp_path, {}, writable=lambda p: True) is None
    readonly = lambda p: False  # noqa: E731
    assert numba_cache_dir(tmp_path, {"XDG_CACHE_HOME": "/c"}, writable=readonly) == "/c/driftwatch/numba"
    assert numba_cache_dir(tmp_path, {"NUMBA_CACHE_DIR": "/mine"}, writable=readonly) is None
    assert numba_cache_dir(tmp_path, {}, writable=readonly) == str(
        Path.home() / ".cache" / "driftwatch" / "numba"
    )


def test_the_package_folder_check_is_real(tmp_path: Path) -> None:
    assert numba_cache_dir(tmp_path, {}) is None  # a writable folder keeps numba's default


def test_a_second_process_loads_kernels_instead_of_compiling(tmp_path: Path) -> None:
    """Two fresh processes on an empty cache folder: the first compiles and writes the cache, the second only
    loads it (numba's cache index files are the evidence; the timing is printed, never asserted)."""
    cache = tmp_path / "numba-cache"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(SRC)}
    script = (
        "import time; t = time.perf_counter();"
        "from driftwatch.pipeline.warmup import warm_kernels; warm_kernels();"
        "print(round(time.perf_counter() - t, 2))"
    )
    first = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert first.returncode == 0, first.stderr
    index_files = sorted(p.name for p in cache.rglob("*.nbi"))
    assert index_files, "the first process wrote no numba cache"
    stamps = {p: p.stat().st_mtime_ns for p in cache.rglob("*.nbc")}
    second = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert second.returncode == 0, second.stderr
    # Nothing was recompiled: the same cache entries, untouched.
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.nbc")} == stamps
    print(f"warm-up: first process {first.stdout.strip()} s, second {second.stdout.strip()} s")
    shutil.rmtree(cache)
