"""Domain exceptions. Each carries the data a user needs to fix the problem, and none carries a secret."""

from __future__ import annotations

from pathlib import Path


class DriftwatchError(Exception):
    """Base class: everything driftwatch raises on purpose. The CLI prints these as one line, exit code 2."""


class ConfigError(DriftwatchError):
    """A configuration file is wrong. Names the file, the dotted key and the bad value."""

    def __init__(self, file: str | Path, key: str, message: str, value: object = None) -> None:
        self.file = str(file)
        self.key = key
        self.value = value
        self.message = message
        shown = "" if value is None else f" (got {value!r})"
        super().__init__(f"{self.file}: {key}: {message}{shown}")


class SourceError(DriftwatchError):
    """An input file cannot be read at all (missing, unreadable, wrong format). Names the path."""

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")


class InputError(DriftwatchError):
    """Bad input to a command or library call that is not a file problem (no common columns, bad option)."""


class DatabaseLockedError(DriftwatchError):
    """The DuckDB file is held by another process (usually `driftwatch serve`)."""

    def __init__(self, path: str | Path, hint: str = "") -> None:
        self.path = str(path)
        tail = f" {hint}" if hint else ""
        super().__init__(f"{self.path} is in use by another process (is `driftwatch serve` running?).{tail}")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (DuckDB, pyarrow and polars add pages of hints below it)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
