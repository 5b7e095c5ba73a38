"""The `column = $column AND …` filter every list query builds from its optional arguments.

Column names come from the calling module's code, never from a request; values are bound as parameters.
"""

from __future__ import annotations

from collections.abc import Mapping


def equal_filters(values: Mapping[str, object | None], prefix: str = "") -> tuple[str, dict[str, object]]:
    """A WHERE clause (`1 = 1` when nothing is set) and its named parameters: one equality per value that
    is not None. `prefix` qualifies the columns (`r.` for a joined query)."""
    where = ["1 = 1"]
    params: dict[str, object] = {}
    for column, value in values.items():
        if value is not None:
            where.append(f"{prefix}{column} = ${column}")
            params[column] = value
    return " AND ".join(where), params
