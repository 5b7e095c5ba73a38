"""A monitor's `compute:` section: large windows counted on a Dask cluster (docs/scale.md).

    compute:
      engine: dask
      scheduler: tcp://10.0.0.5:8786
      min_rows: 5000000      # windows of at least this many rows go to the cluster
      batch_rows: 1000000    # rows per partition shipped to a worker (default)
      timeout: 10            # seconds to reach the scheduler / to find a worker (default)

Validated here, once, with the file, dotted key and value in every error; the pipeline
(`pipeline.cluster_windows`) only reads the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from driftwatch.config.sections import Section

COMPUTE_KEYS = ("engine", "scheduler", "min_rows", "batch_rows", "timeout")
ENGINES = ("dask",)
DEFAULT_BATCH_ROWS = 1_000_000
"""Rows per partition: large enough that a task's scheduling cost (~ms) vanishes against its counting (~1 s
per million rows and 4 features), small enough that a partition of 22 features is ~180 MB on the wire."""
DEFAULT_TIMEOUT = 10.0
# A distributed address: protocol, host (a name, IPv4 or [IPv6]) and an optional port. Checked at load so a
# typo is a config error naming the key, not a warning in every run.
_ADDRESS = re.compile(r"^(tcp|tls|ucx|ws|wss)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(:[0-9]{1,5})?$")


@dataclass(frozen=True)
class ComputeSettings:
    """Where and from what size a monitor's windows are counted on a cluster."""

    scheduler: str
    min_rows: int
    engine: str = "dask"
    batch_rows: int = DEFAULT_BATCH_ROWS
    timeout: float = DEFAULT_TIMEOUT


def parse_compute(file: Path, path: str, data: object) -> ComputeSettings | None:
    """The `compute:` mapping of a monitor; None when it is absent (every window on this machine)."""
    if data is None:
        return None
    s = Section(file, path, data, COMPUTE_KEYS)
    engine = s.data.get("engine")
    if engine not in ENGINES:
        raise s.error("engine", f"expected one of {', '.join(ENGINES)} (is required)", engine)
    scheduler = s.str_("scheduler", required=True) or ""
    if not _ADDRESS.match(scheduler.strip()):
        raise s.error("scheduler", "expected a Dask scheduler address such as tcp://HOST:8786", scheduler)
    min_rows = s.int_("min_rows", None, 1)
    if min_rows is None:
        raise s.error("min_rows", "is required: windows of at least this many rows go to the cluster")
    return ComputeSettings(
        scheduler=scheduler.strip(),
        min_rows=min_rows,
        engine=str(engine),
        batch_rows=s.int_("batch_rows", DEFAULT_BATCH_ROWS, 1_000) or DEFAULT_BATCH_ROWS,
        timeout=s.number("timeout", DEFAULT_TIMEOUT, 0.1, 3600.0),
    )
