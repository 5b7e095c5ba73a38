"""What kind of value a category's identity is: a boolean, a number or a text (docs/values.md).

Kept apart from the profile and the statistics (and free of numpy) so that `sources.values`, which
`driftwatch compare` imports at start-up, can use it without loading the numeric stack.
"""

from __future__ import annotations

import re
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
