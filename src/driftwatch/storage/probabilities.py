"""A multiclass monitor's per-class probability columns in its predictions table: `p:<class>`, DOUBLE.

Stored on the prediction row itself (not in a side table) so that everything that already follows a row
(dedup by request id and version, retention, snapshots, the window reads) carries them without a change.
Columns are added when `predictions.probabilities` names a new class; rows stored before that hold NULL there
and are left out of the estimate (docs/performance.md, "Estimation for multiclass classifiers").
"""

from __future__ import annotations

from driftwatch.storage.schema import quote_identifier

PROBABILITY_PREFIX = "p:"


def probability_column_name(class_name: str) -> str:
    """The unquoted column holding a class's probability (prefixed: it can never collide with another column)."""
    return PROBABILITY_PREFIX + class_name


def probability_column(class_name: str) -> str:
    return quote_identifier(probability_column_name(class_name))
