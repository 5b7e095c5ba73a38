"""A monitor's `retention:` section: how long raw rows are kept (docs/configuration.md, "Retention").

Only raw rows expire: prediction rows, quarantined rows and labels. What the monitor computed from them
(per-window results, the `feature_bins` partial counts that roll-ups merge, performance results, alerts, runs)
is kept for good.

The default is OFF (every key `null`: nothing is ever deleted). Why: a user upgrading to a version with
retention must not lose rows they did not decide to lose; deleting is the one step that cannot be undone.
The documented starting point is `predictions: 90d, quarantine: 30d, labels: 180d`.

A prediction row may only go once no computation will need it again: its window must be closed, past the
label horizon (labels arriving later still join it by request id) and past the longest alert look-back. A
retention shorter than that is refused here, at config load, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from driftwatch.config.sections import Section, resolve_path
from driftwatch.config.sources import ObjectStoreOptions, is_object_url, parse_object_store
from driftwatch.durations import format_duration, parse_duration
from driftwatch.errors import ConfigError

RETENTION_KEYS = ("predictions", "quarantine", "labels", "label_horizon", "batch_rows", "snapshot")
SNAPSHOT_KEYS = ("path", "object_store")
DEFAULT_LABEL_HORIZON = timedelta(days=30)
DEFAULT_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class RetentionSettings:
    """How long each kind of raw row is kept; None = forever (the default)."""

    predictions: timedelta | None = None
    quarantine: timedelta | None = None
    labels: timedelta | None = None
    # How long after a window closes its labels may still arrive. Its performance is recomputed when they do,
    # which needs the window's prediction rows, so they are kept at least this long after the window's end.
    label_horizon: timedelta = DEFAULT_LABEL_HORIZON
    batch_rows: int = DEFAULT_BATCH_ROWS  # rows deleted per transaction: the writer lock is held that long
    # A local folder or an object-store URL (s3://bucket/prefix): expiring prediction rows are exported to
    # Parquet there first, and only rows in a completed snapshot are deleted (pipeline/snapshots.py). None: rows
    # are deleted without a copy.
    snapshot: str | None = None
    # How to reach the object store of an s3:// / gs:// / az:// `snapshot` (the sources' `object_store:` keys).
    snapshot_store: ObjectStoreOptions = ObjectStoreOptions()

    @property
    def enabled(self) -> bool:
        return self.predictions is not None or self.quarantine is not None or self.labels is not None


def _duration(s: Section, name: str, default: timedelta | None) -> timedelta | None:
    raw = s.data.get(name)
    if raw is None:
        return default
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise s.error(name, str(exc), raw) from None


def parse_retention(
    file: Path, base: Path, path: str, data: object, window: timedelta, has_labels: bool
) -> RetentionSettings:
    """The `retention:` section (None = off). Raises ConfigError naming the key when it is too short."""
    s = Section(file, path, data, RETENTION_KEYS)
    snapshot, store = _snapshot(file, base, s)
    settings = RetentionSettings(
        predictions=_duration(s, "predictions", None),
        quarantine=_duration(s, "quarantine", None),
        labels=_duration(s, "labels", None),
        label_horizon=_duration(s, "label_horizon", DEFAULT_LABEL_HORIZON) or DEFAULT_LABEL_HORIZON,
        batch_rows=s.int_("batch_rows", DEFAULT_BATCH_ROWS, 1) or DEFAULT_BATCH_ROWS,
        snapshot=snapshot,
        snapshot_store=store,
    )
    _check_predictions(s, settings, window, has_labels)
    _check_labels(s, settings, has_labels)
    return settings


def _snapshot(file: Path, base: Path, s: Section) -> tuple[str | None, ObjectStoreOptions]:
    """`snapshot: <folder or URL>` or `snapshot: {path: s3://bucket/prefix, object_store: {...}}`.

    The mapping form takes the same `object_store:` keys as a source, so the block can be copied into the
    `predictions` source that reads a snapshot back.
    """
    raw = s.data.get("snapshot")
    if raw is None or isinstance(raw, str):
        path = s.str_("snapshot")
        store = ObjectStoreOptions()
    else:
        sub = Section(file, s.key("snapshot"), raw, SNAPSHOT_KEYS)
        path = sub.str_("path", required=True)
        store = parse_object_store(file, sub.key("object_store"), sub.data.get("object_store"))
    if path is None:
        return None, store
    if is_object_url(path):
        if not path.partition("://")[2].strip("/"):
            raise s.error("snapshot", "names no bucket (expected e.g. s3://bucket/snapshots)", path)
        return path.rstrip("/"), store
    if "://" in path:
        raise s.error("snapshot", "expected a local folder or an s3://, gs:// or az:// URL", path)
    if store != ObjectStoreOptions():
        raise s.error("snapshot", "`object_store` is only for an object-store URL (s3://...)", path)
    return resolve_path(base, path), store


def _check_labels(s: Section, settings: RetentionSettings, has_labels: bool) -> None:
    if settings.labels is None or not has_labels:
        return
    if settings.labels < settings.label_horizon:
        raise s.error(
            "labels",
            f"is shorter than `label_horizon` ({format_duration(settings.label_horizon)}): a label could expire "
            "before the window it belongs to is final",
            format_duration(settings.labels),
        )
    if settings.predictions is None or settings.labels < settings.predictions:
        kept = "forever" if settings.predictions is None else f"for {format_duration(settings.predictions)}"
        raise s.error(
            "labels",
            f"is shorter than `predictions` (kept {kept}): a window whose rows are kept could be recomputed "
            "(e.g. after a reference change) without its expired labels, and its performance would change",
            format_duration(settings.labels),
        )


def minimum_prediction_retention(
    settings: RetentionSettings, window: timedelta, has_labels: bool
) -> timedelta:
    """The shortest `predictions` retention this monitor allows: one window, plus the label horizon when
    labels are read (a row at a window's start is `window` older than the window's end)."""
    return window + (settings.label_horizon if has_labels else timedelta(0))


def _check_predictions(s: Section, settings: RetentionSettings, window: timedelta, has_labels: bool) -> None:
    if settings.predictions is None:
        return
    least = minimum_prediction_retention(settings, window, has_labels)
    if settings.predictions < least:
        why = (
            f"the window ({format_duration(window)}) plus the label horizon "
            f"({format_duration(settings.label_horizon)}): labels arriving after the window closes still need "
            "its prediction rows to compute its performance"
            if has_labels
            else f"one window ({format_duration(window)}): a window's rows must stay until it has closed and "
            "been computed"
        )
        raise s.error(
            "predictions",
            f"is shorter than {format_duration(least)}, {why}; keep at least {format_duration(least)}",
            format_duration(settings.predictions),
        )


def check_lookback(
    file: Path, monitor: str, settings: RetentionSettings, lookback: timedelta, what: str
) -> None:
    """Refuse a prediction retention shorter than a look-back that recomputes from raw rows (`what` says whose).

    Used for the alerting `backfill` (the first evaluation may replay that far) and the rules' longest
    `for` + `keep_firing_for` span: whatever an alert can look back over must still be reproducible from the
    raw rows (a reference change recomputes those windows).
    """
    if settings.predictions is not None and settings.predictions < lookback:
        raise ConfigError(
            file,
            f"monitors.{monitor}.retention.predictions",
            f"is shorter than {what} ({format_duration(lookback)}): the windows an alert looks back over must "
            f"keep their rows; keep at least {format_duration(lookback)}",
            format_duration(settings.predictions),
        )
