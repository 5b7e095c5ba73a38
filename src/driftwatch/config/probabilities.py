"""`predictions.probabilities`: a multiclass model's per-class probabilities, one source field per class.

```yaml
predictions:
  probabilities: {cat: p_cat, dog: p_dog, bird: "$.scores.bird"}
```

Each class name maps to a column (a top-level field of an NDJSON line), or to a JSON path `$.<column>.<key>...`
into a column holding a JSON object or a Parquet struct (as `features:` may). The same fields are read from the
reference, whose `target` gives the labels the per-class calibrators are fit on (docs/performance.md,
"Estimation for multiclass classifiers"). Class names are compared with labels and the model's decision by
their identity (docs/values.md): `1`, not `1.0`; `true`, not `True`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from driftwatch.errors import ConfigError

# How far a row's probabilities may sum from 1 before the row is quarantined. Loose enough for probabilities
# logged with 3 decimals over ten classes (at most 10 × 0.0005 = 0.005 off), tight enough that a row missing a
# class or holding percentages is refused; the calibration renormalises each row anyway.
SUM_TOLERANCE = 0.01
_PATH_STEP = re.compile(r'\.(?:"((?:[^"\\]|\\.)*)"|([^."]+))')


@dataclass(frozen=True)
class ClassProbability:
    """One class's probability: the source `column`, and inside it the JSON `path` keys (empty: the column)."""

    name: str
    column: str
    path: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        """As configured, for messages."""
        return "$." + ".".join([self.column, *self.path]) if self.path else self.column


def class_name(key: object) -> str | None:
    """A YAML key as a class identity (docs/values.md), or None when it cannot be one (empty, NaN, ±inf,
    a number written in a form its labels would never have)."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        if not math.isfinite(key):
            return None
        return str(int(key)) if key.is_integer() else repr(key)
    if not isinstance(key, str) or not key:
        return None
    try:
        number = float(key)
    except ValueError:
        return key if key not in ("True", "False", "TRUE", "FALSE") else None
    # A number as text is stored by its value ("1.0" → "1"), so a class spelt otherwise would never match.
    canonical = class_name(number)
    return key if canonical == key else None


def parse_source(value: str) -> tuple[str, tuple[str, ...]] | None:
    """`column` or `$.column.key...` (a step may be quoted: `$."a.b".c`) as (column, path); None when malformed."""
    if not value.startswith("$"):
        return value, ()
    steps: list[str] = []
    at = 1
    while at < len(value):
        match = _PATH_STEP.match(value, at)
        if match is None:
            return None
        quoted, plain = match.groups()
        steps.append(re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else plain)
        at = match.end()
    if not steps:
        return None
    return steps[0], tuple(steps[1:])


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _ascii_lower(name: str) -> str:
    """DuckDB's rule for column names: A-Z and a-z are one; other letters (É/é, ß/ss) stay apart."""
    return name.translate(_ASCII_LOWER)


def parse_probabilities(file: Path, path: str, data: object) -> tuple[ClassProbability, ...]:
    """The mapping class → source field (None: not configured). At least two classes, each named once."""
    if data is None:
        return ()
    if not isinstance(data, Mapping):
        raise ConfigError(file, path, "expected a mapping of class name → probability column", data)
    if len(data) < 2:
        raise ConfigError(file, path, "needs at least two classes (class name → probability column)", data)
    out: list[ClassProbability] = []
    seen: dict[str, object] = {}
    for key, value in data.items():
        name = class_name(key)
        where = f"{path}.{key}"
        if name is None:
            raise ConfigError(
                file,
                where,
                "a class name must be a non-empty text, a whole or finite number, or true/false, written as "
                "its labels are stored (1 not 1.0, true not True; docs/values.md)",
                key,
            )
        # Stored as a column `p:<class>`, and DuckDB's column names ignore case: `Cat` and `cat` would be one
        # column, and every ingest would fail adding the second.
        folded = _ascii_lower(name)
        if folded in seen:
            also = seen[folded]
            raise ConfigError(
                file,
                where,
                f"class {name!r} is named twice (also as {also!r}); class names must differ in more than "
                "upper/lower case, as each is stored as a column and column names ignore ASCII case",
                key,
            )
        seen[folded] = key
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(file, where, "expected a column name or a JSON path like $.scores.cat", value)
        parsed = parse_source(value)
        if parsed is None:
            raise ConfigError(
                file, where, 'not a JSON path: expected $.column.key (quote a step: $."a.b")', value
            )
        out.append(ClassProbability(name, *parsed))
    sources = [c.source for c in out]
    twice = next((s for s in sources if sources.count(s) > 1), None)
    if twice is not None:
        raise ConfigError(file, path, f"two classes read the same field {twice!r}", twice)
    return tuple(out)
