"""Reading one mapping of driftwatch.yml: unknown keys refused, every error naming the file and dotted key.

Every section parser of driftwatch.yml (monitors, performance, server, alerting, database, and new ones such as
sources) reads its mapping through `Section`, so a misspelt key gets the same "did you mean" everywhere and a
bad value is reported as `file: dotted.key: message (got value)`.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from driftwatch.errors import ConfigError


class Section:
    """One mapping of the YAML, remembering its dotted path so errors can name the key."""

    def __init__(self, file: Path, path: str, data: object, known: Collection[str]) -> None:
        self.file = file
        self.path = path
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(file, path or "(top level)", "expected a mapping of keys to values", data)
        self.data: Mapping[str, Any] = data
        known = tuple(known)
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
                raise ConfigError(file, self.key(str(key)), f"unknown key{hint}")

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, message: str, value: object = None) -> ConfigError:
        return ConfigError(self.file, self.key(name), message, value)

    def str_(self, name: str, default: str | None = None, required: bool = False) -> str | None:
        value = self.data.get(name, default)
        if value is None:
            if required:
                raise self.error(name, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(name, "expected a non-empty string", value)
        return value

    def int_(self, name: str, default: int | None, minimum: int) -> int | None:
        value = self.data.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(name, f"expected a whole number >= {minimum}", value)
        return int(value)

    def bool_(self, name: str, default: bool) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise self.error(name, "expected true or false", value)
        return value

    def number(self, name: str, default: float, low: float, high: float = float("inf")) -> float:
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            if high != float("inf"):
                bounds = f" between {low:g} and {high:g}"
            else:
                bounds = f" >= {low:g}" if low != float("-inf") else ""
            raise self.error(name, f"expected a number{bounds}", value)
        return float(value)

    def names(self, name: str) -> tuple[str, ...]:
        value = self.data.get(name)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(name, "expected a list of column names", value)
        if len(set(value)) != len(value):
            raise self.error(name, "lists a column twice", value)
        return tuple(value)

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.data.get(name, default)
        if value not in choices:
            raise self.error(name, f"expected one of {', '.join(choices)}", value)
        return str(value)


def resolve_path(base: Path, value: str) -> str:
    """`value` as written, made absolute against the config file's folder (so a project runs from anywhere)."""
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path))
