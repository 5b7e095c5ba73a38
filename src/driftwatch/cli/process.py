"""Ending a CLI process once its work is done and its output flushed, without tearing the interpreter down."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import NoReturn


def ended_quickly(app: Callable[[], object]) -> NoReturn:
    """Run `app` (the typer app), flush the output, and end the process with `os._exit`.

    Why: tearing the interpreter down frees a command's data object by object and unloads numba, pyarrow and
    DuckDB, work the OS does at once when the process ends: 0.25 s after `compare` at 1M rows, 0.3-0.5 s
    after a `driftwatch run` of a 1M-row day. Only for commands that hold nothing open by then: `compare`
    (an --html report is closed when written) and `run` (its database is closed, its reports written and
    closed, its alerts delivered before the command returns). Only for the real process: `app()` in tests
    is unchanged. An exception other than SystemExit propagates as usual (traceback, normal exit).
    """
    try:
        app()
        code = 0
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            raise  # a message to print: let the interpreter do it the usual way
        code = exc.code or 0
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
