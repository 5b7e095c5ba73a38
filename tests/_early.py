"""Early starts: a session resource that takes long to start is started in the background right after
collection, and its fixture only waits for it when the first test needs it.

Why: most of the suite runs on one core of CI's two. An MLflow tracking server (~35 s to migrate its sqlite
schema), the container run of tests/test_deploy.py (a first start with a fresh numba cache, ~30-60 s) or the
decision-evidence script's quick run (~1 min) would otherwise hold the run while they start; started early,
that work runs on the idle core while the tests before them run. Nothing about the resource changes: the same process, the same arguments, the same readiness check,
only started sooner.

A test module opts in with a module-level `EARLY_STARTS = {"fixture_name": start}`, where `start(folder)`
returns a handle with `stop()`. tests/conftest.py starts the ones whose fixture a selected test uses (so
`-m "not slow"` or `-k` starts nothing it does not run); the fixture calls `take(name, folder_factory, start)`,
which returns the early handle or, when there is none, starts one now. Handles never taken (a run stopped by
`-x`, say) are stopped at the end of the session.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol


class Stoppable(Protocol):
    def stop(self) -> None: ...


Starter = Callable[[Path], Any]

_started: dict[str, Any] = {}
_folders: list[Path] = []


def start_needed(items: Iterable[Any]) -> list[str]:
    """Start, once each, the early resources that the selected test items use; the names started."""
    wanted: dict[str, Starter] = {}
    for item in items:
        module = getattr(item, "module", None)
        starts: dict[str, Starter] = getattr(module, "EARLY_STARTS", {})
        for name, start in starts.items():
            if name in getattr(item, "fixturenames", ()) and name not in _started:
                wanted.setdefault(name, start)
    for name, start in wanted.items():
        folder = Path(tempfile.mkdtemp(prefix=f"driftwatch-early-{name}-"))
        _folders.append(folder)
        try:
            _started[name] = start(folder)
        except Exception as error:  # noqa: BLE001 - the fixture starts it again and reports the error there
            _started[name] = error
    return list(wanted)


def take(name: str, folder: Callable[[], Path], start: Starter) -> Any:
    """The handle started early for `name`, or a new one started now in `folder()`. An early start that
    raised is tried again here, so its error is reported by the test that needs it."""
    early = _started.pop(name, None)
    if early is not None and not isinstance(early, Exception):
        return early
    return start(folder())


def stop_untaken() -> None:
    """Stop what was started but never taken, and remove the early folders."""
    while _started:
        _, handle = _started.popitem()
        if not isinstance(handle, Exception):
            handle.stop()
    while _folders:
        shutil.rmtree(_folders.pop(), ignore_errors=True)
