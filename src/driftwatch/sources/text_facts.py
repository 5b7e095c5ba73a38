"""The facts `sources.columns` needs of a text column of `compare`'s inputs, from its values' counts.

`text_facts` reads the column's category counts, one identity per distinct value (`sources.values.
canonical_counts`): a Python object and a `canonical_category` call per distinct text. That is cheap for a
category column and costly for the column `compare` looks at only to leave out, a prediction log's unique
request ids: 1M distinct ids took ~1.8 s, more than the rest of a 1M × 1M comparison. `arrow_text_facts` gives
the same facts from Arrow's value counts with regular expressions over the distinct texts: a text that is its
own identity for sure (not empty, blank, a boolean or a number under any reading, or a plainly written integer)
is counted in Arrow, and only the others (usually none) go through `canonical_counts`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from driftwatch.sources.columns import TIMESTAMP_PATTERN, ColumnFacts
from driftwatch.sources.values import LITERAL_WHITESPACE, canonical_counts

if TYPE_CHECKING:
    import pyarrow as pa

MANY_DISTINCT = 10_000
"""Above this many distinct texts a column's facts come from `arrow_text_facts` (below, the counts are kept for
the column's profile, should it be a feature)."""

# The characters `str.isspace()` (and so `str.strip()`) takes for whitespace, Python 3.11-3.13 alike
# (tests/test_text_facts.py computes them again).
_PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _class(chars: str) -> str:
    return "".join(f"\\x{{{ord(c):x}}}" for c in chars)


# Every text whose identity may differ from the text itself matches this (RE2 syntax, for
# `pyarrow.compute.match_substring_regex`); it matches more than that, which costs time, never a fact:
# - the empty text and every text `str.strip()` leaves empty (missing, or blank: not counted);
# - every number literal `sources.values.parse_number` reads ("1.0" and "1" are one category), as a text of
#   the characters a literal may hold: ASCII whitespace, sign, digits, dot, exponent and the letters of inf,
#   infinity and nan in either case (ASCII only, as `parse_number` reads them);
# - every text that is "true" or "false" in any case (as four or five of their letters).
# What a matching text's identity is, `canonical_counts` decides.
_MAY_NOT_BE_ITSELF = (
    "^(?:"
    f"[{_class(_PYTHON_WHITESPACE)}]*"
    f"|[{_class(LITERAL_WHITESPACE)}+\\-.0-9eEiInNfFtTyYaA]+"
    "|[tTrRuUeEfFaAlLsS]{4,5}"
    ")$"
)
# ...but an integer written plainly (no sign but a minus, none on 0, no leading zero, at most 15 digits, so
# that the double it is read as writes back as the same digits) is its own identity: ids made of digits are
# the other usual identifier.
_PLAIN_INTEGER = "^(?:0|-?[1-9][0-9]{0,14})$"

# A timestamp text as `text_facts` tells it (`strip()`, then `TIMESTAMP_PATTERN` in full), for RE2: the
# pattern between Python's whitespace. The same texts: the pattern starts with a digit, and where it may end
# in a space (the one before a time zone left out) it matches without that space too.
_STAMP = f"^[{_class(_PYTHON_WHITESPACE)}]*(?:{TIMESTAMP_PATTERN})[{_class(_PYTHON_WHITESPACE)}]*$"


def text_facts(name: str, type_name: str, counts: Mapping[str | None, int]) -> ColumnFacts:
    """The facts of a text column from its category counts (which its profile needs anyway): one pass over
    the distinct values instead of the rows. Empty and blank values count as absent, as in the pipeline."""
    present = _present(counts)
    return ColumnFacts(
        name,
        "categorical",
        type_name,
        non_null=sum(c for _, c in present),
        distinct=len(present),
        timestamp_text=bool(present) and _all_stamps(present),
    )


def arrow_text_facts(name: str, type_name: str, value_counts: pa.StructArray) -> ColumnFacts:
    """`text_facts(name, type_name, canonical_counts(value_counts))` without a Python object per value.

    `value_counts`: `pyarrow.compute.value_counts` of the column (distinct texts, null included, and counts).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    values, counts = value_counts.field("values"), value_counts.field("counts")
    # Texts that are their own identity, and not blank (`strip` leaves something of each).
    plain = pc.fill_null(
        pc.or_(
            pc.invert(pc.match_substring_regex(values, _MAY_NOT_BE_ITSELF)),
            pc.match_substring_regex(values, _PLAIN_INTEGER),
        ),
        False,
    )
    plain_values = values.filter(plain)
    present = _present(canonical_counts(value_count_pairs(value_counts.filter(pc.invert(plain)))))
    # Another text's identity may be a plain text ("0123" is 123, as "123" is): one category, counted once.
    shared = pc.sum(pc.is_in(pa.array([v for v, _ in present], values.type), value_set=plain_values))
    stamps = (
        (bool(present) or len(plain_values) > 0)
        and _all_stamps(present)
        and (len(plain_values) == 0 or bool(pc.all(pc.match_substring_regex(plain_values, _STAMP)).as_py()))
    )
    return ColumnFacts(
        name,
        "categorical",
        type_name,
        non_null=sum(c for _, c in present) + (pc.sum(counts.filter(plain)).as_py() or 0),
        distinct=len(present) + len(plain_values) - (shared.as_py() or 0),
        timestamp_text=stamps,
    )


def value_count_pairs(value_counts: pa.StructArray) -> Iterator[tuple[str | None, int]]:
    """(value, count) per distinct value of a `pyarrow.compute.value_counts` result."""
    return zip(
        value_counts.field("values").to_pylist(), value_counts.field("counts").to_pylist(), strict=True
    )


def _present(counts: Mapping[str | None, int]) -> list[tuple[str, int]]:
    """The identities that are values (not missing, not blank) with their counts."""
    return [(v, c) for v, c in counts.items() if v is not None and v.strip()]


def _all_stamps(present: list[tuple[str, int]]) -> bool:
    # all() stops at the first value that is not a timestamp: a pass only over a real timestamp column.
    stamp = re.compile(TIMESTAMP_PATTERN)
    return all(stamp.fullmatch(v.strip()) for v, _ in present)
