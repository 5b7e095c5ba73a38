"""What kind of value a category's identity is: a boolean, a number or a text (docs/values.md).

Kept apart from the profile and the statistics (and free of numpy) so that `sources.values`, which
`driftwatch compare` imports at start-up, can use it without loading the numeric stack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Literal

CategoryKind = Literal["boolean", "number", "text"]

# A number's identity as `sources.values` writes it: an integer, the shortest round-trip form, or ±inf.
_CANONICAL_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]+)?(?:e[+-][0-9]+)?|inf)")


def category_kind(category: str) -> CategoryKind:
    """What a category's identity is: ``true``/``false`` are booleans, numbers are written as `sources.values`
    writes them (``3``, ``0.1``, ``1e+20``, ``-inf``), anything else is a text."""
    if category in ("true", "false"):
        return "boolean"
    return "number" if _CANONICAL_NUMBER.fullmatch(category) else "text"


_KIND_WORDS = {"boolean": "booleans", "number": "numbers", "text": "texts"}


def type_change(categories: Iterable[str], value_counts: Mapping[str | None, int]) -> str | None:
    """Why a window cannot be judged against the reference when its values changed type, else None.

    A type change is a window whose values are all of kinds the reference's categories never are (numbers in
    the reference, texts in the window; booleans against 1/0): every value would be "unseen", and the PSI of
    that is a statement about the data's type, not its distribution. A window mixing kinds is judged as usual.
    """
    reference = {category_kind(c) for c in categories}
    present = sorted(((-c, v) for v, c in value_counts.items() if v is not None and c > 0))
    current = {category_kind(v) for _, v in present}
    if not reference or not current or not reference.isdisjoint(current):
        return None
    ref_words = " and ".join(_KIND_WORDS[k] for k in sorted(reference))
    cur_words = " and ".join(_KIND_WORDS[k] for k in sorted(current))
    example = present[0][1]  # the most frequent value (the first by value among equals): the same everywhere
    return f"values changed type: the reference holds {ref_words}, this window {cur_words} (e.g. {example[:40]!r})"
