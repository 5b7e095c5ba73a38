"""A text column's facts from Arrow's counts (`sources.text_facts.arrow_text_facts`) equal the facts from its
category counts (`text_facts(canonical_counts(...))`), and `compare` takes the same columns either way."""

from __future__ import annotations

import sys
import uuid

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import driftwatch
import driftwatch.comparison as comparison
from driftwatch.sources import text_facts as tf
from driftwatch.sources.columns import TIMESTAMP_PATTERN
from driftwatch.sources.values import canonical_counts

# Texts at every edge of the value model: missing, empty and blank (ASCII and other whitespace), numbers that
# share an identity ("1", "1.0", " 01 "), numbers only Python's float() would read ("1_000", Arabic digits),
# inf/nan in every case (and with the non-ASCII letters a case-insensitive match takes for i), booleans in any
# case, timestamps with spaces around, and texts that are only themselves.
EDGES: list[str | None] = [
    None,
    "",
    " ",
    "\t\n",
    "\u3000",
    "\x1c\x1f",
    "\xa0x\xa0",
    "1",
    "1.0",
    " 01 ",
    "+.5",
    "0.5",
    "1e5",
    "1E+05",
    "100000",
    "123",
    "0123",
    "-7",
    "0",
    "-0",
    "123456789012345",
    "1234567890123456",
    "1_000",
    "\u0661\u0662",
    "-",
    ".",
    "e",
    "inf",
    "-Infinity",
    "INF",
    "NaN",
    "\tnan\n",
    "\u0131nf",
    "\u0130NF",
    "TRUE",
    "False",
    "tRuE",
    "truee",
    "fals",
    "2024-01-01",
    " 2024-01-01T00:00:00Z ",
    "abc",
    "a b",
    "0x10",
    "deadbeef",
    "aef",
]


def facts_both_ways(values: list[str | None], name: str = "c") -> tuple[object, object]:
    counts = pc.value_counts(pa.array(values, pa.string()))
    pairs = zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    expected = tf.text_facts(name, "string", canonical_counts(pairs))
    return tf.arrow_text_facts(name, "string", counts), expected


@pytest.mark.parametrize("value", EDGES)
def test_each_edge_text_alone_and_beside_plain_texts(value: str | None) -> None:
    for values in ([value, value], [value, "id-1", "id-2", value]):
        got, expected = facts_both_ways(values)
        assert got == expected, values


def test_every_edge_text_together_with_many_ids() -> None:
    rng = np.random.default_rng(7)
    ids = [str(uuid.UUID(bytes=rng.bytes(16))) for _ in range(3000)]
    values = EDGES * 3 + ids + ids[:40]
    got, expected = facts_both_ways(values)
    assert got == expected


# Characters at the edges of the rules: whitespace of both kinds, sign, digits, dot, exponent, the letters of
# inf/nan/true/false in both cases, the non-ASCII letters a case-insensitive match may take for them, others.
TRICKY = " \t\n\x0b\x1c\xa0\u3000+-.0129eEiInNfFaAtTyYrRuUlLsS\u0130\u0131\u017f\u212a:xZ_\u0661"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(TRICKY, max_size=7)), max_size=60))
def test_random_texts_of_tricky_characters(values: list[str | None]) -> None:
    got, expected = facts_both_ways(values + [f"id-{i}" for i in range(5)])
    assert got == expected, values


def test_digit_ids_are_counted_in_arrow_and_merge_with_their_other_spellings() -> None:
    ids = [str(i) for i in range(1, 5000)]
    got, expected = facts_both_ways(ids + ["0007", "7.0", " 12 ", "1e3"])
    assert got == expected
    assert got.distinct == len(ids)  # type: ignore[attr-defined]  # "0007", "7.0", ... are ids already counted


def test_numbers_written_two_ways_are_one_category() -> None:
    got, expected = facts_both_ways(["1", "1.0", "01", " 1 ", "2", "2.0", "x", "y"])
    assert got == expected
    assert got.distinct == 4  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "values",
    [
        [f"2024-01-{d:02d}T00:00:{s:02d}Z" for d in range(1, 29) for s in range(60)],
        [f"2024-01-{d:02d}" for d in range(1, 29)] + ["\u3000", "", None, "2024-02-01 10:00"],
        [f"2024-01-{d:02d}" for d in range(1, 29)] + ["not a time"],
        ["", " ", None],
        [],
        [
            "2024-01-01T00:00 ",
            "\u30002024-01-01\u3000",
            "2024/01/01 10:00 UTC",
            "2024-01-01T00:00:00.5+01:00",
        ],
        ["2024-01-01T00:00Zx", "2024-01-01"],
        ["2024-1-01", "2024-01-01"],
    ],
    ids=[
        "stamps",
        "stamps-and-blanks",
        "one-not-a-stamp",
        "only-blanks",
        "empty",
        "spaces-and-zones",
        "trailing-text",
        "short-month",
    ],
)
def test_timestamp_texts(values: list[str | None]) -> None:
    got, expected = facts_both_ways(values)
    assert got == expected


WHITESPACE = st.text(" \t\n\x0b\x1c\xa0\u3000", max_size=2)
STAMPS = st.one_of(
    st.builds(
        lambda a, t, b: a + t + b,
        WHITESPACE,
        st.from_regex(TIMESTAMP_PATTERN, fullmatch=True).filter(str.isascii),
        WHITESPACE,
    ),
    st.text("0123456789-/:T .,Zz+UC\u3000", max_size=22),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(STAMPS, min_size=1, max_size=30))
def test_timestamp_texts_are_told_alike(values: list[str]) -> None:
    """Texts that are (or nearly are) timestamps, with whitespace around: Arrow's regular expression and
    `strip()` + Python's full match agree on whether every value is one."""
    got, expected = facts_both_ways(values)
    assert got == expected, values


def test_the_whitespace_class_is_pythons() -> None:
    assert tf._PYTHON_WHITESPACE == "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())


def test_every_text_that_may_not_be_itself_is_matched() -> None:
    """The regular expression matches (at least) every text whose identity is not the text itself."""
    differing = [v for v in EDGES if v is not None and canonical_counts({v: 1}) != {v: 1}]
    assert len(differing) >= 12  # the EDGES whose identity is another text (or none)
    matched = pc.match_substring_regex(pa.array(differing), tf._MAY_NOT_BE_ITSELF).to_pylist()
    assert all(matched), [v for v, m in zip(differing, matched, strict=True) if not m]


@pytest.mark.parametrize("reader", ["arrow", "polars"])
def test_compare_takes_the_same_columns_with_either_facts(
    reader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frame with an id column (unique texts), a near-unique free text, a category and numbers: `compare`
    excludes and judges alike whether its text facts come from Arrow's counts or from category counts."""
    n = 2000

    def frame(seed: int) -> pl.DataFrame:
        r = np.random.default_rng(seed)
        return pl.DataFrame(
            {
                "request_id": [str(uuid.UUID(bytes=r.bytes(16))) for _ in range(n)],
                "note": [f"free text {i % (n - 30)}" for i in range(n)],
                "when": [f"2024-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z" for i in range(n)],
                "region": r.choice(["north", "south", "1", "1.0"], n).tolist(),
                "x": r.normal(size=n),
            }
        )

    ref, cur = frame(1), frame(2)
    if reader == "arrow":
        ref_in, cur_in = ref.to_arrow(), cur.to_arrow()
    else:
        ref_in, cur_in = ref, cur
    monkeypatch.setattr(comparison, "MANY_DISTINCT", 10**9)  # category counts for every column
    by_counts = driftwatch.compare(ref_in, cur_in).to_dict()
    monkeypatch.setattr(comparison, "MANY_DISTINCT", 100)  # Arrow's counts for the many-valued ones
    by_arrow = driftwatch.compare(ref_in, cur_in).to_dict()
    assert by_arrow == by_counts
    assert {e["name"]: e["reason"] for e in by_arrow["excluded"]} == {
        "request_id": "identifier: 100 % unique",
        "when": "timestamp",
    }
    assert [f["name"] for f in by_arrow["features"]] == ["x", "note", "region"]
