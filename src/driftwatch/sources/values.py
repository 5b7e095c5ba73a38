"""The value model: what a number and a category *are*, whatever file or frame they came from.

One definition, used at every door: the SQL that ingests prediction logs, labels and the reference file
(`sources.logs`), and the Python that `driftwatch compare` applies to polars/pandas/Arrow frames
(`comparison`). Both halves live here and tests/test_values.py holds them equal, value for value, against
DuckDB itself. The rules (docs/values.md):

Numbers (numeric features, the model's score, regression labels)
  - A native number is itself. A text is a number when it is a decimal literal: optional whitespace
    (space, \\t, \\n, \\r, \\v, \\f), one optional sign, digits with an optional fraction, an optional
    exponent; or ``inf``/``infinity``/``nan`` in any case, with one optional sign. Nothing else (no ``1_000``,
    no ``+-3``, no hex, no non-ASCII digits), so a text is read the same by DuckDB and by Python.
  - A boolean in a numeric column reads as 1 or 0 (``true``/``false`` in any case, as a text too), so its
    statistics are those of the share of true values.
  - NaN is *missing* (as a null is).
  - ±inf, and any literal too large for a double (``1e999``, ``10**400``), is not a finite number: the row is
    quarantined with that reason, never stored, since one infinite value breaks every mean, bin and score
    after it.

Categories (categorical features, the model's decision, labels and segments as text)
  - null, the empty string and NaN are *missing* (CSV cannot tell an empty string from a null, so no
    format may).
  - ``true``/``false`` in any case (``True``, ``TRUE``) and native booleans are the booleans ``true`` and
    ``false``. ``1``/``0``, ``yes``/``no`` stay what they are: a number and a text.
  - A number (native, or a text that is a number literal as above) is identified by its value: integral
    values as plain integers (``3``, ``3.0``, ``"3.00"``, ``"03"`` and ``3e0`` are all ``3``), others in their
    shortest round-trip form (``0.1``, ``1e+20``), ±inf as ``inf``/``-inf``.
  - Any other text is itself, byte for byte (no trimming, no case folding).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from driftwatch.stats.categories import category_kind

__all__ = [
    "category_kind",
    "canonical_category",
    "canonical_counts",
    "category_number_sql",
    "category_sql",
    "is_number_text",
    "number_sql",
    "numeric_sql",
    "parse_number",
    "parse_numeric",
]

_WS = "[ \\t\\n\\r\\v\\f]*"
# ASCII only: Python's case-insensitive match of a text pattern also takes U+0130 and U+0131 for i, which
# neither float() nor DuckDB reads ("ınf" is a text, not infinity).
_NUMBER = re.compile(
    _WS + r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:inf|infinity|nan))" + _WS, re.ASCII
)
LITERAL_WHITESPACE = " \t\n\r\v\f"  # what a number literal may have around it
_INT_LIMIT = 2.0**63  # integral values below it are written as integers (they fit a BIGINT exactly)


def is_number_text(text: str) -> bool:
    """Whether a text is a number literal of the value model (see the module docstring)."""
    return _NUMBER.fullmatch(text) is not None


def parse_number(text: str) -> float | None:
    """The number a text holds (NaN and ±inf included), or None when it is not a number literal.

    Python's float() accepts more (``1_000``, non-ASCII digits and spaces), DuckDB's cast more again
    (``+-3``); the regular expression admits only what both read, and both round a literal to the same
    double (correctly rounded), so this equals `number_sql` for every text.
    """
    if _NUMBER.fullmatch(text) is None:
        return None
    return float(text.strip(LITERAL_WHITESPACE))


def parse_numeric(text: str) -> float | None:
    """A numeric column's value from its text: a number literal, or a boolean as 1 or 0; else None."""
    number = parse_number(text)
    if number is None:
        lower = text.lower()
        if lower in ("true", "false"):
            return 1.0 if lower == "true" else 0.0
    return number


def numeric_sql(text: str, number: str) -> str:
    """SQL for a numeric column's DOUBLE (`parse_numeric`'s value) from its VARCHAR expression `text` and
    `number` (= `number_sql(text)`, a column computed once): a boolean's text is looked at only when the
    value is no number."""
    return (
        f"CASE WHEN {number} IS NULL AND {_MAY_BE_BOOLEAN.format(t=text)} "
        f"THEN CASE lower({text}) WHEN 'true' THEN 1.0::DOUBLE WHEN 'false' THEN 0.0::DOUBLE END "
        f"ELSE {number} END"
    )


# Cheap first-character tests that spare most texts the costly part (measured on 3M short category texts:
# a failing TRY_CAST ~70 ns and lower() ~25 ns a value, the whole identity 0.47 -> 0.30 CPU-s). They admit
# every text the rules could read as a boolean (t, T, f, F) or a number (whitespace, sign, digit, dot, and
# the i/I/n/N of inf and nan), so they change no value.
_MAY_BE_BOOLEAN = "ascii({t}) IN (116, 84, 102, 70)"
_MAY_BE_NUMBER = (
    "(ascii({t}) BETWEEN 48 AND 57 OR ascii({t}) IN (43, 45, 46, 32, 9, 10, 11, 12, 13, 105, 73, 110, 78))"
)


def category_number_sql(text: str) -> str:
    """`number_sql` for a category's text, which is seldom a number: a text that cannot start a number
    literal is not cast at all."""
    return f"CASE WHEN {_MAY_BE_NUMBER.format(t=text)} THEN {number_sql(text)} END"


def number_sql(text: str) -> str:
    """SQL for the DOUBLE a VARCHAR expression holds under the value model, NULL when it is not a number.

    DuckDB's cast reads the same literals as `parse_number` except underscores between digits and a doubled
    sign (``+-3``), which it also accepts; two `strpos` guards refuse them (a regular expression here cost
    ~90 ns a value, most of an ingest's parsing time).
    """
    return (
        f"CASE WHEN strpos({text}, '_') = 0 AND strpos({text}, '+-') = 0 THEN TRY_CAST({text} AS DOUBLE) END"
    )


def _number_category(value: float) -> str | None:
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < _INT_LIMIT:
        return str(int(value))
    return repr(value)


def canonical_category(value: object) -> str | None:
    """A category's identity under the value model; None when missing.

    Takes what a frame or file holds (None, bool, int, float, or text); a text is read as `category_sql`
    reads it.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return _number_category(float(value))
    if isinstance(value, float):
        return _number_category(value)
    text = str(value)
    if text == "":
        return None
    lower = text.lower()
    if lower in ("true", "false"):
        return lower
    number = parse_number(text)
    return text if number is None else _number_category(number)


def canonical_counts(counts: Iterable[tuple[object, int]] | Mapping[object, int]) -> dict[str | None, int]:
    """Value → count with every value replaced by its identity and the counts of equal identities summed."""
    items = counts.items() if isinstance(counts, Mapping) else counts
    out: dict[str | None, int] = {}
    for value, count in items:
        key = canonical_category(value)
        out[key] = out.get(key, 0) + int(count)
    return out


def category_sql(text: str, number: str) -> str:
    """SQL for a category's identity from its VARCHAR expression `text` and `number` (=
    `category_number_sql(text)`, a column computed once), NULL when missing; `canonical_category`'s value."""
    return (
        f"CASE WHEN {text} IS NULL OR {text} = '' THEN NULL "
        f"WHEN {_MAY_BE_BOOLEAN.format(t=text)} AND lower({text}) IN ('true', 'false') THEN lower({text}) "
        f"WHEN {number} IS NULL THEN {text} "
        f"WHEN isnan({number}) THEN NULL "
        f"WHEN isinf({number}) THEN CASE WHEN {number} > 0 THEN 'inf' ELSE '-inf' END "
        f"WHEN {number} = trunc({number}) AND abs({number}) < 9223372036854775808.0 "
        f"THEN CAST(CAST({number} AS BIGINT) AS VARCHAR) "
        f"ELSE CAST({number} AS VARCHAR) END"
    )


# Epoch units told apart by magnitude, each over a range that starts in 2001 (1e9 s) and cannot overlap the
# next: seconds, milliseconds, microseconds, nanoseconds. A number outside them (a compact date 20260301,
# a small count) is not taken for a time.
EPOCH_UNITS = ((1e9, 1e11, 1_000_000.0), (1e12, 1e14, 1_000.0), (1e15, 1e17, 1.0), (1e18, 1e20, 0.001))


def epoch_sql(number: str) -> str:
    """SQL for the naive-UTC TIMESTAMP a DOUBLE expression holds as a Unix epoch (seconds, ms, µs or ns by
    magnitude, see `EPOCH_UNITS`), NULL when it is none of them."""
    cases = " ".join(
        f"WHEN {number} >= {low} AND {number} < {high} "
        f"THEN make_timestamp(CAST(round({number} * {to_us}) AS BIGINT))"
        for low, high, to_us in EPOCH_UNITS
    )
    return f"CASE {cases} END"


def json_path(name: str) -> str:
    """A JSON path selecting one key, quoted so any key works (`sources.logs`, feature inference)."""
    key = name.replace("\\", "\\\\").replace('"', '\\"')
    return '$."' + key + '"'
