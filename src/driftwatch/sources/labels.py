"""Label files (external data): the normalising query that reads one into `request_id`, `label`,
`label_value`, `labelled_at` and `_reason`, on top of the shared log-row checks of `sources.logs`."""

from __future__ import annotations

from driftwatch.config.monitors import LabelSource, MonitorConfig
from driftwatch.config.performance import REGRESSION
from driftwatch.sources.logs import LogLayout, normalise_query, with_raw
from driftwatch.sources.values import number_sql


def label_layout(source: LabelSource) -> LogLayout:
    # The label travels in the layout's text `output` field: it may be a class name, 0/1 or a number.
    return LogLayout(
        id=source.id, timestamp=source.timestamp, numeric=(), categorical=(), output=source.label
    )


def label_batch_sql(
    fmt: str, path: str, columns: dict[str, str], monitor: MonitorConfig, compression: str = "auto"
) -> tuple[str, dict[str, object]]:
    """The normalising query for a label file: `request_id`, `label`, `label_value`, `labelled_at`, `_reason`.

    Beyond the shared checks (missing id, unparseable timestamp, malformed line) a row is quarantined when its
    label is missing (NaN included), a number that is not finite (``inf``, ``1e999``: stored, it would stop
    every later performance computation), for regression not a number, or, with `predictions.probabilities`,
    not one of its classes. The label is stored as its
    category identity (docs/values.md: ``1.0`` → ``1``, ``True`` → ``true``). Without a label timestamp in the
    source the label is stamped with the ingest time (`$now`).
    """
    assert monitor.labels is not None
    sql, params = normalise_query(
        fmt, path, columns, label_layout(monitor.labels), keep_source=True, compression=compression
    )
    ts = "ts" if monitor.labels.timestamp else "NULL::TIMESTAMP"
    not_number = (
        "WHEN label_value IS NULL THEN 'label: ''' || left(label, 60) || ''' is not a number' "
        if monitor.task == REGRESSION
        else ""
    )
    # A multiclass model's labels must be among the classes its probabilities cover (config.probabilities).
    classes = tuple(c.name for c in monitor.predictions.probabilities)
    if classes:
        params.update({f"class{i}": name for i, name in enumerate(classes)})
        names = ", ".join(f"$class{i}" for i in range(len(classes)))
        not_number += (
            f"WHEN label NOT IN ({names}) THEN "
            "'label ''' || left(label, 60) || ''' is not one of the classes of predictions.probabilities' "
        )
    extra = (
        "CASE WHEN label IS NULL OR trim(label) = '' THEN 'missing label' "
        "WHEN isinf(label_value) THEN 'label: ' || label || ' is not a finite number' "
        f"{not_number}END"
    )
    wrapped = (
        "SELECT _row, _src, request_id, label, label_value, coalesce(_ts, $now) AS labelled_at, "
        f"CASE WHEN _reason = 'malformed JSON line' THEN _reason "
        f"ELSE nullif(concat_ws('; ', _reason, {extra}), '') END AS _reason "
        f"FROM (SELECT *, output AS label, {number_sql('output')} AS label_value, {ts} AS _ts FROM ({sql}))"
    )
    # The raw text is built last, from the final reason, so a row rejected only for its label still keeps it.
    return with_raw(wrapped, fmt), params
