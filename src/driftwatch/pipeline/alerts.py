"""Alerting in the pipeline: stored results → samples → evaluation → outbox (one transaction) → delivery.

    prepare_alerting(settings)            load and validate the rule files once (RuleError lists every problem)
    alert_cycle(db, run, monitor, now)    after a cycle: collect_samples + evaluate_and_enqueue
    collect_samples(db, monitor, now)     every stored result not evaluated yet, as `alerting.model.Sample`s
    evaluate_and_enqueue(...)             load state → evaluate → group → ONE transaction: changed state rows,
                                          outbox rows (ON CONFLICT (dedupe_key) DO NOTHING), suppressed rows
    deliver_pending(db, channels, now)    a `Sender` pass (or two, for meta-alerts) over the DuckDB outbox
    DuckDBOutbox(db)                      the `alerting.delivery.Outbox` protocol on the alert_outbox table

Which results are new is kept per monitor in `alert_progress`: the newest `computed_at` (drift and performance
results) or `finished_at` (runs) already evaluated. Results a crashed cycle stored but never evaluated are
therefore evaluated by the next one, and evaluating a window twice changes nothing (evaluation skips windows at
or before an instance's last evaluated window, and the outbox's dedupe key is unique).
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import yaml

from driftwatch.alerting.errors import ChannelConfigError
from driftwatch.alerting.evaluation import evaluate, lookback
from driftwatch.alerting.grouping import AlertGroup, group_notifications
from driftwatch.alerting.model import (
    AlertState,
    AlertStatus,
    InstanceKey,
    Notification,
    Rule,
    RuleSet,
    Sample,
)
from driftwatch.alerting.rules import load_rules
from driftwatch.alerting.silences import Silence
from driftwatch.config.alerting import AlertingSettings, parse_alerting
from driftwatch.config.channels import ChannelConfig, parse_channel_config
from driftwatch.config.issues import RuleError
from driftwatch.config.monitors import MonitorConfig
from driftwatch.config.settings import Settings
from driftwatch.durations import window_start as align_window
from driftwatch.storage import alerts as store
from driftwatch.storage.database import Database, first_row

if TYPE_CHECKING:  # the delivery side imports the HTTP clients: only when delivering (see _delivery())
    from driftwatch.alerting.channels.base import Channel
    from driftwatch.alerting.delivery import AttemptOutcome, DeliveryReport, OutboxRow, RetryPolicy, Sender

logger = logging.getLogger(__name__)

OVERALL = "*"  # the segment of all rows, and the model version of whole-monitor values
DRIFT_STATUS = {"ok": 0.0, "warn": 1.0, "drift": 2.0}
# Stored statistic → the metric name rules use for it, when they differ.
STAT_ALIASES = {"missing_share_current": "missing_share"}
ESTIMATE_PREFIX = "estimated_"  # as in pipeline.performance (CBPE estimates are stored beside real metrics)

ReportUrl = Callable[[str, str, str, datetime], str | None]  # (monitor, model_version, segment, window_start)


# --- settings → rules and channels ------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertingRun:
    """Validated rules and the settings they came with: what a cycle needs to evaluate and deliver."""

    settings: AlertingSettings
    rules: RuleSet


def alerting_settings(settings: Settings) -> AlertingSettings:
    """The project's `alerting:` settings: `settings.alerting` once config.py parses the section, else read
    from the config file here (defaults when the section is absent: rules in `alert_rules/` beside it)."""
    parsed = getattr(settings, "alerting", None)
    if isinstance(parsed, AlertingSettings):
        return parsed
    file = settings.config_path
    section = None
    if file.is_file():
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            data = None  # load_settings reported it already
        if isinstance(data, Mapping):
            section = data.get("alerting")
    return parse_alerting(file, file.parent, section)


def channel_configs(settings: AlertingSettings) -> dict[str, ChannelConfig]:
    """The main config's channels as the alerting package's `ChannelConfig`s (raises RuleError)."""
    file = str(settings.base_dir / "driftwatch.yml")
    return {
        name: parse_channel_config(name, entry.as_mapping(), file)
        for name, entry in settings.channels.items()
    }


def load_alerting_rules(settings: AlertingSettings) -> RuleSet:
    """Rule files of `settings.rules`, with the main config's channels known (raises RuleError)."""
    return load_rules(settings.rules, known_channels=channel_configs(settings))


def prepare_alerting(settings: AlertingSettings | None) -> AlertingRun | None:
    """None when alerting is off or there is no rules folder; raises RuleError when the rules are invalid."""
    if settings is None or not settings.enabled or not settings.rules.exists():
        return None
    return AlertingRun(settings, load_alerting_rules(settings))


def open_channels(
    run: AlertingRun, env: Mapping[str, str] | None = None
) -> tuple[dict[str, Channel], list[str]]:
    """Channel objects for every declared channel that can be built, and a problem per one that cannot
    (its environment variable is not set). Problems name the variable, never a value."""
    from driftwatch.alerting.channels import build_channels

    env = os.environ if env is None else env
    channels: dict[str, Channel] = {}
    problems: list[str] = []
    for name, config in sorted(run.rules.channels.items()):
        try:
            channels.update(
                build_channels({name: config}, env, run.settings.report_base_url, run.settings.base_dir)
            )
        except ChannelConfigError as error:
            problems.append(str(error))
    return channels, problems


def retry_policy(settings: AlertingSettings) -> RetryPolicy:
    from driftwatch.alerting.delivery import RetryPolicy

    retry = settings.retry
    return RetryPolicy(
        base_seconds=retry.base_seconds, cap_seconds=retry.cap_seconds, max_attempts=retry.max_attempts
    )


# --- state and silences ---------------------------------------------------------------------------------


def _key(row: store.StateRow) -> InstanceKey:
    return InstanceKey(row.rule, row.monitor, row.model_version, row.segment, row.feature)


def _state(row: store.StateRow) -> AlertState:
    return AlertState(
        status=AlertStatus(row.state),
        bad_windows=row.pending_count,
        healthy_windows=row.healthy_count,
        last_window=row.last_window,
        active_since=row.active_since,
        fired_at=row.firing_since,
        last_notified_at=row.last_sent,
        last_value=row.value,
        resolved_at=row.resolved_at,
    )


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def _row(key: InstanceKey, state: AlertState) -> store.StateRow:
    return store.StateRow(
        rule=key.rule,
        monitor=key.monitor,
        model_version=key.model_version,
        segment=key.segment,
        feature=key.feature,
        state=state.status.value,
        pending_count=state.bad_windows,
        healthy_count=state.healthy_windows,
        active_since=state.active_since,
        firing_since=state.fired_at,
        last_window=state.last_window,
        last_sent=state.last_notified_at,
        resolved_at=state.resolved_at,
        value=_finite(state.last_value),
    )


def load_state(db: Database, monitor: str | None = None) -> dict[InstanceKey, AlertState]:
    return {_key(row): _state(row) for row in store.load_states(db.cursor(), monitor)}


def _silence(row: store.SilenceRow) -> Silence:
    return Silence(
        matchers=row.matchers,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        comment=row.comment,
        created_by=row.created_by,
        id=row.id,
    )


def stored_silence(silence: Silence, created_at: datetime) -> store.SilenceRow:
    """A new silence as the row `store.insert_silence` keeps (the CLI's `silence add`, `POST /api/silences`)."""
    return store.SilenceRow(
        id=silence.id,
        matchers=dict(silence.matchers),
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        comment=silence.comment,
        created_by=silence.created_by,
        created_at=created_at,
    )


def load_silences(db: Database, now: datetime) -> list[Silence]:
    """Silences that have not ended at `now` (active ones, and those starting later)."""
    return [_silence(row) for row in store.load_silences(db.cursor(), now, include_ended=False)]


# --- the outbox -----------------------------------------------------------------------------------------


def _new_message(
    group: AlertGroup, now: datetime, status: str = "pending", silenced_by: str | None = None
) -> store.NewMessage:
    """The outbox row of a message: created, and due, at `now` (the message itself is stored as it is)."""
    return store.NewMessage(
        dedupe_key=group.dedupe_key,
        channel=group.channel,
        rule=group.rule,
        monitor=group.monitor,
        transition=group.transition.value,
        window_start=group.window_start,
        alerts=len(group.alerts),
        payload=group.to_dict(),
        created_at=now,
        status=status,
        silenced_by=silenced_by,
    )


class DuckDBOutbox:
    """The `Outbox` protocol on the alert_outbox / alert_attempts / channel_health tables.

    `channels`, when given, limits `pending` to rows for those channels: rows for a channel this process
    cannot build (its environment variable is not set here) stay pending for a process that can, instead of
    failing.
    """

    def __init__(
        self,
        db: Database,
        channels: Iterable[str] | None = None,
        resend_intervals: Mapping[str, timedelta] | None = None,
    ) -> None:
        self._db = db
        self._channels = None if channels is None else frozenset(channels)
        # Alertmanager channels: firing alerts are re-posted every interval (see enqueue_alertmanager_resends).
        # Checked from `pending`, which every delivery pass calls, so re-posts go on wherever delivery runs.
        self._resend = dict(resend_intervals or {})
        self._next_resend_check: datetime | None = None

    def enqueue(self, messages: Sequence[AlertGroup], now: datetime) -> int:
        rows = [_new_message(m, now) for m in messages]
        with self._db.transaction() as tx:
            return store.insert_messages(tx, rows)

    def pending(self, now: datetime, limit: int = 100) -> list[OutboxRow]:
        from driftwatch.alerting.delivery import AttemptOutcome, OutboxRow

        if self._resend and (self._next_resend_check is None or now >= self._next_resend_check):
            enqueue_alertmanager_resends(self._db, self._resend, now)
            # A fifth of the shortest interval: each slot's re-post goes out early in the slot.
            self._next_resend_check = now + min(self._resend.values()) / 5
        out: list[OutboxRow] = []
        for item in store.due_messages(self._db.cursor(), now, limit, self._channels):
            try:
                message = AlertGroup.from_dict(item.payload)
            except (KeyError, TypeError, ValueError) as error:
                reason = f"stored message cannot be read ({type(error).__name__}: {error})"
                self.record_attempt(item.id, AttemptOutcome.FAILED, None, reason, None, now)
                self.mark_failed(item.id, reason, now)
                logger.error("notification %s failed: %s", item.dedupe_key, reason)
                continue
            assert item.created_at is not None and item.next_attempt_at is not None
            out.append(
                OutboxRow(
                    id=item.id,
                    dedupe_key=item.dedupe_key,
                    channel=item.channel,
                    message=message,
                    attempts=item.attempts,
                    created_at=item.created_at,
                    next_attempt_at=item.next_attempt_at,
                )
            )
        return out

    def record_attempt(
        self,
        row_id: int,
        outcome: AttemptOutcome,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
        attempted_at: datetime,
    ) -> None:
        store.record_attempt(
            self._db, row_id, outcome.value, status_code, error, next_attempt_at, attempted_at
        )

    def mark_delivered(self, row_id: int, at: datetime) -> None:
        store.finish_message(self._db, row_id, "delivered", at)

    def mark_failed(self, row_id: int, reason: str, at: datetime) -> None:
        store.finish_message(self._db, row_id, "failed", at, reason)

    def mark_channel_unhealthy(self, channel: str, reason: str, at: datetime) -> bool:
        return store.mark_channel(self._db, channel, False, reason, at)

    def mark_channel_healthy(self, channel: str, at: datetime) -> None:
        store.mark_channel(self._db, channel, True, None, at)


def resend_intervals(channels: Mapping[str, Channel]) -> dict[str, timedelta]:
    """The re-post interval of every Alertmanager channel among `channels`."""
    return {
        name: interval
        for name, channel in channels.items()
        if isinstance(interval := getattr(channel, "resend_interval", None), timedelta)
    }


def enqueue_alertmanager_resends(db: Database, intervals: Mapping[str, timedelta], now: datetime) -> int:
    """Enqueue a re-post of every alert still firing to each Alertmanager channel, once per resend slot
    (idempotent within a slot: the dedupe key holds the slot). Returns the rows inserted."""
    if not intervals:
        return 0
    from driftwatch.alerting.channels.alertmanager import resend_groups

    cur = db.cursor()
    firing = [row for row in store.load_states(cur) if row.state == "firing"]
    if not firing:
        return 0
    # A firing message is created after its window was evaluated: no earlier row can describe these alerts.
    since = min((row.firing_since for row in firing if row.firing_since is not None), default=None)
    delivered = store.delivered_firing_payloads(
        cur, list(intervals), since or datetime(1970, 1, 1, tzinfo=UTC)
    )
    groups = resend_groups(delivered, [_key(row) for row in firing], intervals, now)
    if not groups:
        return 0
    with db.transaction() as tx:
        return store.insert_messages(tx, [_new_message(g, now) for g in groups])


# --- samples from stored results ------------------------------------------------------------------------


@dataclass
class SampleBatch:
    samples: list[Sample] = field(default_factory=list)
    through: datetime | None = None  # newest computed_at / finished_at read: the next `since`

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    def saw(self, moment: datetime | None) -> None:
        if moment is not None and (self.through is None or moment > self.through):
            self.through = moment


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


def collect_samples(
    db: Database,
    monitor: MonitorConfig,
    now: datetime,
    since: datetime | None = None,
    window_cutoff: datetime | None = None,
    report_url: ReportUrl | None = None,
) -> SampleBatch:
    """Samples of every result stored after `since` (all when None) for windows starting at or after
    `window_cutoff`:

    * per feature and window: every stored statistic under its own name (`psi`, `ks_statistic`, `ks_pvalue`,
      `chi2_pvalue`, `js_distance`, `hellinger`, `wasserstein_norm`, `unseen_share`, ...), `missing_share`
      (the window's missing share) and `drift_status` (0 ok, 1 warn, 2 drift; no data when insufficient);
      `samples` is the window's rows;
    * per window: `dataset_drift_share`, `dataset_status` (0 ok, 1 warn, 2 drift; both no data when the window
      was not judged), `dataset_judged` (1, or 0 when it had fewer than min_rows rows) and `rows` (feature None);
    * per finished run: `quarantined_rows` (model version and segment `*`; the run is its "window");
    * `windows_without_data`: closed windows since the last one with data, judged on the latest closed window;
    * performance, when the `performance_results` table exists: every stored metric (`roc_auc`, ...; no data
      while labels are insufficient), `performance_status` (0 ok, 1 degraded), `label_coverage`,
      `label_count`, with `samples` = labels and `baseline` = the reference's value.
    """
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware (UTC)")
    batch = SampleBatch()
    cur = db.cursor()
    name = monitor.name
    since_n = store.naive(since) or datetime(1970, 1, 1)
    cutoff_n = store.naive(window_cutoff) or datetime(1970, 1, 1)

    def sample(
        version: str,
        segment: str,
        feature: str | None,
        metric: str,
        start: datetime,
        end: datetime,
        value: float | None,
        samples: int | None,
        baseline: float | None = None,
    ) -> Sample:
        start_u, end_u = _utc(start), _utc(end)
        url = report_url(name, version, segment, start_u) if report_url is not None else None
        return Sample(
            monitor=name,
            model_version=version,
            segment=segment,
            feature=feature,
            metric=metric,
            window_start=start_u,
            window_end=end_u,
            value=value,
            samples=samples,
            baseline=baseline,
            report_url=url,
        )

    # Per feature: every statistic, missing_share and drift_status.
    rows = cur.execute(
        "SELECT r.model_version, r.segment, r.window_start, r.window_end, r.feature, r.rows, r.status, "
        "r.computed_at, list(s.statistic ORDER BY s.statistic), list(s.value ORDER BY s.statistic) "
        "FROM feature_results r LEFT JOIN feature_stats s "
        "USING (monitor, model_version, segment, window_start, feature) "
        "WHERE r.monitor = ? AND r.computed_at > ? AND r.window_start >= ? GROUP BY ALL "
        "ORDER BY r.window_start, r.model_version, r.segment, r.feature",
        [name, since_n, cutoff_n],
    ).fetchall()
    for version, segment, start, end, feature, n_rows, status, computed, names, values in rows:
        batch.saw(_utc(computed))
        n = int(n_rows)
        for stat, value in zip(names or [], values or [], strict=True):
            if stat is None:
                continue
            number = _number(value)
            batch.add(sample(version, segment, feature, str(stat), start, end, number, n))
            alias = STAT_ALIASES.get(str(stat))
            if alias is not None:
                batch.add(sample(version, segment, feature, alias, start, end, number, n))
        batch.add(sample(version, segment, feature, "drift_status", start, end, DRIFT_STATUS.get(status), n))

    # Per window: the share of drifting features, the verdict, whether there is one, and the rows. A window
    # with too few rows has no verdict: its share and status are "no data" (they change no alert, so they
    # never read as ok), and `dataset_judged` 0 makes "not judged" something a rule can fire on.
    rows = cur.execute(
        "SELECT model_version, segment, window_start, window_end, rows, drift_share, status, computed_at "
        "FROM window_summaries WHERE monitor = ? AND computed_at > ? AND window_start >= ? "
        "ORDER BY window_start, model_version, segment",
        [name, since_n, cutoff_n],
    ).fetchall()
    for version, segment, start, end, n_rows, share, status, computed in rows:
        batch.saw(_utc(computed))
        n = int(n_rows)
        judged = status != "insufficient_data"
        batch.add(
            sample(
                version,
                segment,
                None,
                "dataset_drift_share",
                start,
                end,
                _number(share) if judged else None,
                n,
            )
        )
        batch.add(sample(version, segment, None, "dataset_status", start, end, DRIFT_STATUS.get(status), n))
        batch.add(sample(version, segment, None, "dataset_judged", start, end, 1.0 if judged else 0.0, n))
        batch.add(sample(version, segment, None, "rows", start, end, float(n), n))

    # Per finished run: quarantined rows.
    rows = cur.execute(
        "SELECT started_at, finished_at, rows_quarantined, rows_ingested + rows_duplicate + rows_quarantined "
        "FROM runs WHERE monitor = ? AND finished_at IS NOT NULL AND finished_at > ? AND started_at >= ? "
        "ORDER BY started_at",
        [name, since_n, cutoff_n],
    ).fetchall()
    for started, finished, quarantined, read in rows:
        batch.saw(_utc(finished))
        end = finished if finished > started else started + timedelta(microseconds=1)
        batch.add(
            sample(OVERALL, OVERALL, None, "quarantined_rows", started, end, float(quarantined), int(read))
        )

    # Closed windows without data, judged on the latest closed window.
    width = monitor.window
    latest_end = align_window(now, width)
    found = first_row(
        cur.execute(
            "SELECT max(e) FROM (SELECT max(window_end) AS e FROM window_summaries WHERE monitor = ? "
            "UNION ALL SELECT max(window_end) FROM window_queue WHERE monitor = ? AND window_end <= ?)",
            [name, name, store.naive(latest_end)],
        )
    )
    if found is not None and found[0] is not None:
        last_data_end = _utc(found[0])
        gap = max(0, math.floor((latest_end - last_data_end) / width))
        batch.add(
            sample(
                OVERALL,
                OVERALL,
                None,
                "windows_without_data",
                latest_end - width,
                latest_end,
                float(gap),
                None,
            )
        )

    if db.table_exists("performance_results"):
        _performance_samples(db, name, since_n, cutoff_n, batch, sample)
    return batch


_PERFORMANCE_COLUMNS = (
    "model_version",
    "segment",
    "window_start",
    "window_end",
    "metric",
    "value",
    "n_labels",
    "coverage",
    "status",
    "baseline",
    "computed_at",
)


def _performance_samples(
    db: Database,
    monitor: str,
    since: datetime,
    cutoff: datetime,
    batch: SampleBatch,
    sample: Callable[..., Sample],
) -> None:
    """Read defensively: the table's columns are checked, and a table without the expected ones is skipped."""
    cur = db.cursor()
    columns = {
        str(r[0])
        for r in cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'performance_results'"
        ).fetchall()
    }
    if not set(_PERFORMANCE_COLUMNS) <= columns:
        logger.warning(
            "performance_results lacks %s: no performance alerts", set(_PERFORMANCE_COLUMNS) - columns
        )
        return
    rows = cur.execute(
        f"SELECT {', '.join(_PERFORMANCE_COLUMNS)} FROM performance_results "
        "WHERE monitor = ? AND computed_at > ? AND window_start >= ? "
        "ORDER BY window_start, model_version, segment, metric",
        [monitor, since, cutoff],
    ).fetchall()
    windows: dict[tuple[str, str, datetime, datetime], list[dict[str, object]]] = {}
    for row in rows:
        item = dict(zip(_PERFORMANCE_COLUMNS, row, strict=True))
        batch.saw(_utc(item["computed_at"]))  # type: ignore[arg-type]
        key = (str(item["model_version"]), str(item["segment"]), item["window_start"], item["window_end"])
        windows.setdefault(key, []).append(item)  # type: ignore[arg-type]
    for (version, segment, start, end), items in windows.items():
        statuses = set()
        window_labels: int | None = None
        coverage: float | None = None
        for item in items:
            metric = str(item["metric"])
            status = str(item["status"])
            labels = None if item["n_labels"] is None else int(item["n_labels"])  # type: ignore[call-overload]
            value = _number(item["value"])
            if status == "insufficient_labels":
                value = None  # the pipeline's own gate: no verdict, no alert
            batch.add(
                sample(version, segment, None, metric, start, end, value, labels, _number(item["baseline"]))
            )
            if metric.startswith(ESTIMATE_PREFIX):
                continue
            statuses.add(status)
            window_labels = labels if window_labels is None else window_labels
            coverage = _number(item["coverage"]) if coverage is None else coverage
        if "degraded" in statuses:
            status_value: float | None = 1.0
        elif "ok" in statuses:
            status_value = 0.0
        else:
            status_value = None
        if statuses:
            batch.add(
                sample(version, segment, None, "performance_status", start, end, status_value, window_labels)
            )
            batch.add(sample(version, segment, None, "label_coverage", start, end, coverage, window_labels))
            count = None if window_labels is None else float(window_labels)
            batch.add(sample(version, segment, None, "label_count", start, end, count, window_labels))


# --- evaluation and the outbox, in one transaction ------------------------------------------------------


def _silenced_by(group: AlertGroup, notifications: Sequence[Notification]) -> str | None:
    by_key = {n.dedupe_key: n.silenced_by for n in notifications}
    ids = sorted({by_key[k] for k in group.notification_keys if by_key.get(k)})
    return ",".join(ids) if ids else None  # type: ignore[arg-type]


def evaluate_and_enqueue(
    db: Database,
    rules: RuleSet | Sequence[Rule],
    monitor_name: str,
    samples: Iterable[Sample],
    now: datetime,
    evaluated_through: datetime | None = None,
    history: Iterable[Sample] = (),
) -> tuple[int, int]:
    """Evaluate the samples of one monitor against its stored state and commit, in ONE transaction, the
    changed state rows, the messages owed (ON CONFLICT (dedupe_key) DO NOTHING) and the suppressed ones.

    Returns (messages enqueued, messages suppressed), counting rows actually inserted: evaluating the same
    windows again returns (0, 0). `evaluated_through`, when given, is stored as the monitor's progress in the
    same transaction. `history`: past samples relative rules compare with (see `past_samples`).
    """
    items = list(samples)
    stray = sorted({s.monitor for s in items if s.monitor != monitor_name})
    if stray:
        raise ValueError(f"samples of {', '.join(stray)} passed for monitor {monitor_name!r}")
    # State is read inside the write transaction: in-process writers are serialised, so two evaluations of
    # the same monitor cannot both act on the same previous state.
    with db.transaction() as tx:
        previous = {_key(row): _state(row) for row in store.load_states(tx, monitor_name)}
        silences = [_silence(row) for row in store.load_silences(tx, now, include_ended=False)]
        result = evaluate(rules, items, previous, silences, now, history)
        messages = [_new_message(g, now) for g in group_notifications(result.notifications)]
        suppressed = [
            _new_message(g, now, "suppressed", _silenced_by(g, result.suppressed))
            for g in group_notifications(result.suppressed)
        ]
        changed = [
            _row(key, result.new_state[key]) for key in sorted(result.changed, key=InstanceKey.sort_key)
        ]
        store.upsert_states(tx, changed, now)
        enqueued = store.insert_messages(tx, messages)
        silenced = store.insert_messages(tx, suppressed)
        if evaluated_through is not None:
            store.set_evaluated_through(tx, monitor_name, evaluated_through, now)
    return enqueued, silenced


def past_samples(
    db: Database,
    rules: RuleSet | Sequence[Rule],
    monitor: MonitorConfig,
    samples: Sequence[Sample],
    now: datetime,
) -> list[Sample]:
    """The stored values relative rules compare the new `samples` with: every result of windows starting up to
    `lookback(rules)` before the earliest new window, read by the same queries as the samples themselves (so a
    past value is exactly what a rule saw, or would have seen, for that window). Empty without relative rules."""
    span = lookback(rules)
    if span is None or not samples:
        return []
    earliest = min(s.window_start for s in samples)
    return collect_samples(db, monitor, now, since=None, window_cutoff=earliest - span).samples


@dataclass(frozen=True)
class AlertCycleSummary:
    monitor: str
    samples: int
    enqueued: int
    suppressed: int
    firing: int  # instances of this monitor firing after the evaluation


def alert_cycle(
    db: Database,
    run: AlertingRun,
    monitor: MonitorConfig,
    now: datetime | None = None,
    report_url: ReportUrl | None = None,
) -> AlertCycleSummary:
    """Evaluate every result of `monitor` stored since its last evaluation, and enqueue the messages owed.

    The first evaluation of a monitor skips windows older than `alerting.backfill`, so turning alerting on for
    a long history does not replay every past episode.
    """
    now = now or datetime.now(UTC)
    since = store.evaluated_through(db.cursor(), monitor.name)
    cutoff = None
    if since is None and run.settings.backfill is not None:
        cutoff = now - run.settings.backfill
    batch = collect_samples(db, monitor, now, since, cutoff, report_url)
    history = past_samples(db, run.rules, monitor, batch.samples, now)
    enqueued, suppressed = evaluate_and_enqueue(
        db, run.rules, monitor.name, batch.samples, now, evaluated_through=batch.through, history=history
    )
    firing = len(store.alert_instances(db.cursor(), ("firing",), monitor.name))
    return AlertCycleSummary(monitor.name, len(batch.samples), enqueued, suppressed, firing)


# --- delivery -------------------------------------------------------------------------------------------


def _merge(total: DeliveryReport, part: DeliveryReport) -> None:
    total.delivered += part.delivered
    total.retried += part.retried
    total.failed += part.failed
    total.meta_alerts += part.meta_alerts
    total.unhealthy_channels.extend(part.unhealthy_channels)


def deliver_pending(
    db: Database,
    channels: Mapping[str, Channel],
    now: datetime | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
    batch_size: int = 100,
    leave_unknown_pending: bool = True,
) -> DeliveryReport:
    """Attempt every due outbox row once; meta-alerts raised on the way get a second pass.

    The clock is `clock` when given, else `now` advanced by real elapsed time (so Slack pacing works), else
    the wall clock. Rows for channels not in `channels` stay pending when `leave_unknown_pending` (another
    process, with the channel's environment variable set, delivers them), else they fail.
    """
    if clock is None:
        if now is None:

            def clock() -> datetime:
                return datetime.now(UTC)

        else:
            started, origin = time.monotonic(), now

            def clock() -> datetime:
                return origin + timedelta(seconds=time.monotonic() - started)

    from driftwatch.alerting.delivery import DeliveryReport, Sender

    outbox = DuckDBOutbox(db, channels if leave_unknown_pending else None, resend_intervals(channels))
    sender = Sender(outbox, channels, clock, sleep, policy, rng, batch_size)
    total = DeliveryReport()
    for _ in range(3):  # a pass, then at most two for the meta-alerts it raised
        report = sender.deliver_due()
        _merge(total, report)
        if not report.meta_alerts:
            break
    return total


def deliver_with_settings(
    db: Database,
    run: AlertingRun,
    now: datetime | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[DeliveryReport, list[str]]:
    """One delivery pass with the configured channels and retry policy (what `driftwatch run` does after its
    cycles). Returns the report and a problem per channel that could not be built (rows for it stay pending).
    """
    channels, problems = open_channels(run, env)
    try:
        report = deliver_pending(db, channels, now, policy=retry_policy(run.settings))
    finally:
        for channel in channels.values():
            channel.close()
    return report, problems


def lane_senders(
    db: Database,
    channels: Mapping[str, Channel],
    policy: RetryPolicy,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Sender]:
    """One `Sender` per channel for the server's delivery lanes (`alerting.delivery.ChannelLanes`): each
    outbox hands out its own channel's rows, and re-posts that channel's alerts while they fire when it is an
    Alertmanager (without the re-posts Alertmanager would expire them after 4 × `resend_interval`)."""
    from driftwatch.alerting.delivery import Sender

    resend = resend_intervals(channels)
    return {
        name: Sender(
            DuckDBOutbox(db, [name], {name: resend[name]} if name in resend else None),
            channels,
            clock,
            policy=policy,
        )
        for name in channels
    }


__all__ = [
    "AlertCycleSummary",
    "AlertingRun",
    "DuckDBOutbox",
    "RuleError",
    "SampleBatch",
    "alert_cycle",
    "collect_samples",
    "deliver_pending",
    "deliver_with_settings",
    "enqueue_alertmanager_resends",
    "evaluate_and_enqueue",
    "load_state",
    "open_channels",
    "lane_senders",
    "prepare_alerting",
]
