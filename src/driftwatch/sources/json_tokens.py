"""JSON text with the non-standard number tokens Python's `json.dumps` writes (`NaN`, `Infinity`, `-Infinity`),
made readable by polars without changing what any value means (docs/values.md).

The scheduled ingest reads NDJSON with DuckDB, which accepts these tokens (and `nan`, `inf`, `-inf` in any
case, and a literal beyond a double such as `1e999`); polars, which `driftwatch compare` reads NDJSON with,
refuses the whole file. So compare's reader, when polars refuses a text, rewrites every such token outside
string literals into a value that the value model reads the same way, and parses again:

- `NaN` (either sign) → `null`: NaN is missing, as a null is, for a number and for a category;
- `Infinity`, `inf` and an overflowing literal (`1e999`) → the same text as a JSON string (`"-Infinity"`): a
  text that is a number literal is that number, so the row is left out as "not a finite number" exactly as
  the ingest quarantines it, and as a category it is `inf`/`-inf` either way.

Only a text polars refused is rewritten (the usual file pays nothing), and only tokens outside strings: a
string `"NaN is bad"` stays as written.
"""

from __future__ import annotations

import math
import re

# A string literal (kept as it is), or a bare NaN/inf/infinity with an optional minus (DuckDB's spellings:
# any case), or a number literal that might overflow a double (an exponent of 3+ digits, or 309+ digits).
_TOKENS = re.compile(
    rb'"(?:[^"\\]|\\.)*"'
    rb"|(?P<word>-?(?i:infinity|inf|nan))(?![A-Za-z0-9_])"
    rb"|(?P<big>-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{3,})|-?[0-9]{309,}(?:\.[0-9]*)?)",
    re.DOTALL,
)


def _rewrite(match: re.Match[bytes]) -> bytes:
    word, big = match.group("word"), match.group("big")
    if word is not None:
        return b"null" if word.lstrip(b"-").lower() == b"nan" else b'"' + word + b'"'
    if big is not None and math.isinf(float(big)):
        return b'"' + big + b'"'
    return match.group(0)


def standard_json(data: bytes) -> bytes:
    """`data` (JSON or NDJSON text) with its non-finite number tokens rewritten as described above."""
    return _TOKENS.sub(_rewrite, data)


def standard_json_text(text: str) -> str:
    """`standard_json` for one text value (a JSON document held in a column)."""
    return standard_json(text.encode("utf-8")).decode("utf-8")
