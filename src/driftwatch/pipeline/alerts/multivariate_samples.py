"""Stored multivariate results → the values alert rules see (docs/alert-rules.md, "Multivariate metrics").

Per window (segment '*', feature none): `pca_reconstruction_error` (the mean error), `domain_classifier_auc`
and `domain_classifier_auc_low` (the AUC and its interval's lower bound), and `multivariate_status` (the worst
method's status: 0 ok, 1 warn, 2 drift; no data when no method judged the window). A method that did not judge
the window (too few rows) gives "no data", never 0.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb

from driftwatch.durations import as_utc, to_naive_utc
from driftwatch.stats.multivariate import CLASSIFIER, INSUFFICIENT, RECONSTRUCTION, STATUS_ORDER
from driftwatch.storage.multivariate import MultivariateRow, multivariate_results

OVERALL = "*"


@dataclass(frozen=True)
class MultivariateSample:
    """One value for the rules: (model version, metric, window, value, rows) and when it was stored."""

    model_version: str
    metric: str
    window: tuple[datetime, datetime]  # aware UTC
    value: float | None
    rows: int
    computed_at: datetime  # aware UTC


def _method_values(row: MultivariateRow) -> Iterator[tuple[str, float | None]]:
    judged = row.status != INSUFFICIENT
    if row.method == RECONSTRUCTION:
        yield "pca_reconstruction_error", row.value if judged else None
    elif row.method == CLASSIFIER:
        yield "domain_classifier_auc", row.value if judged else None
        yield "domain_classifier_auc_low", row.low if judged else None


def multivariate_samples(
    cur: duckdb.DuckDBPyConnection, monitor: str, since: datetime | None, cutoff: datetime | None
) -> list[MultivariateSample]:
    """The samples of results stored after ``since`` for windows starting at or after ``cutoff``."""
    rows = multivariate_results(
        cur,
        monitor,
        start=None if cutoff is None else to_naive_utc(cutoff),
        since=None if since is None else to_naive_utc(since),
    )
    samples: list[MultivariateSample] = []
    windows: dict[tuple[str, datetime], list[MultivariateRow]] = {}
    for row in sorted(rows, key=lambda r: (r.window_start, r.model_version, r.method)):
        windows.setdefault((row.model_version, row.window_start), []).append(row)
    for items in windows.values():
        samples += _window_samples(items)
    return samples


def _window_samples(items: Sequence[MultivariateRow]) -> list[MultivariateSample]:
    first = items[0]
    window = (as_utc(first.window_start), as_utc(first.window_end))
    computed = as_utc(max(r.computed_at for r in items))
    out = [
        MultivariateSample(first.model_version, metric, window, value, row.window_rows, computed)
        for row in items
        for metric, value in _method_values(row)
    ]
    worst = max((r.status for r in items), key=lambda s: STATUS_ORDER.get(s, -1))
    status = None if worst == INSUFFICIENT else float(STATUS_ORDER[worst])
    out.append(
        MultivariateSample(
            first.model_version, "multivariate_status", window, status, first.window_rows, computed
        )
    )
    return out
