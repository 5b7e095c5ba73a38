"""A finished cycle's outcome as `runs.status` and `runs.error` record it.

- `ok`: the cycle ran every step and read every source it tried (its warnings, such as a glob that matched no
  file, are kept in `error`, each as `warning: …`).
- `degraded`: the cycle ran every step, but at least one file, object or whole source (predictions, labels, or a
  reference that fell back to its last copy) could not be read this cycle. `error` starts with `degraded:` and
  names what was not read; the reasons follow as warnings. What could be read was stored and judged, nothing is
  lost: the next cycle reads the rest again. When the predictions could not be read at all, the `degraded:`
  text says so ("no predictions were read").
- `failed`: the cycle stopped with an error before its end (pipeline/cycle.py records it as it raises).

`degraded` is not `failed` on purpose: code that looks for runs that stopped before a step (the quality stage's
catch-up, storage/quality.py) must not redo the work of a cycle that went to its end. `COMPLETED` (in
storage/runs.py) is the set of statuses of such cycles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from driftwatch.storage.runs import DEGRADED, OK

# Names listed in `runs.error` before "and N more": a glob of 10,000 broken files must not make a 1 MB row.
NAMES_SHOWN = 5


class _Step(Protocol):
    failed_files: list[tuple[str, str]]


class _Ingest(_Step, Protocol):
    files_read: int


class _Summary(Protocol):
    @property
    def ingest(self) -> _Ingest: ...
    @property
    def labels(self) -> _Step: ...
    @property
    def reference_warnings(self) -> list[str]: ...
    @property
    def warnings(self) -> list[str]: ...


def unread(summary: _Summary) -> list[str]:
    """What this cycle could not read, each as `<kind> <path, url or driver:table>`."""
    return (
        [f"predictions {path}" for path, _ in summary.ingest.failed_files]
        + [f"labels {path}" for path, _ in summary.labels.failed_files]
        + ["reference (its last copy was used)" for _ in summary.reference_warnings]
    )


@dataclass(frozen=True)
class RunOutcome:
    status: str  # ok or degraded
    note: str | None  # degraded: what was not read ("degraded: 2 unreadable this cycle (…)"); ok: None
    error: str | None  # as `runs.error` keeps it: the note, then every warning


def run_outcome(summary: _Summary) -> RunOutcome:
    """The outcome of a cycle that ran to its end."""
    warnings = [f"warning: {w}" for w in summary.warnings]
    missed = unread(summary)
    if not missed:
        return RunOutcome(OK, None, "; ".join(warnings) or None)
    shown = ", ".join(missed[:NAMES_SHOWN])
    more = f" and {len(missed) - NAMES_SHOWN} more" if len(missed) > NAMES_SHOWN else ""
    nothing = (
        "; no predictions were read" if summary.ingest.failed_files and summary.ingest.files_read == 0 else ""
    )
    note = f"{DEGRADED}: {len(missed)} unreadable this cycle ({shown}{more}){nothing}"
    return RunOutcome(DEGRADED, note, "; ".join([note, *warnings]))
