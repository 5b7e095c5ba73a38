"""After a cycle: evaluate the monitor's new samples against its stored state, and commit the changed state,
the messages owed and the suppressed ones in ONE transaction.

Which results are new is kept per monitor in `alert_progress`: the newest `computed_at` (drift and performance
results) or `finished_at` (runs) already evaluated. Results a crashed cycle stored but never evaluated are
therefore evaluated by the next one, and evaluating a window twice changes nothing (evaluation skips windows at
or before an instance's last evaluated window, and the outbox's dedupe key is unique).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from driftwatch.alerting.evaluation import evaluate
from driftwatch.alerting.grouping import AlertGroup, group_notifications
from driftwatch.alerting.model import InstanceKey, Notification, Rule, RuleSet, Sample
from driftwatch.config.monitors import MonitorConfig
from driftwatch.durations import utc_now
from driftwatch.pipeline.alerts.outbox import new_message
from driftwatch.pipeline.alerts.samples import ReportUrl, collect_samples, past_samples
from driftwatch.pipeline.alerts.settings import AlertingRun
from driftwatch.pipeline.alerts.state import current_silences, state_row, states
from driftwatch.storage import alerts as store
from driftwatch.storage.database import Database


def _silenced_by(group: AlertGroup, notifications: Sequence[Notification]) -> str | None:
    by_key = {n.dedupe_key: n.silenced_by for n in notifications}
    ids = sorted({silence for k in group.notification_keys if (silence := by_key.get(k))})
    return ",".join(ids) if ids else None


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
        previous = states(tx, monitor_name)
        result = evaluate(rules, items, previous, current_silences(tx, now), now, history)
        messages = [new_message(g, now) for g in group_notifications(result.notifications)]
        suppressed = [
            new_message(g, now, "suppressed", _silenced_by(g, result.suppressed))
            for g in group_notifications(result.suppressed)
        ]
        changed = [
            state_row(key, result.new_state[key]) for key in sorted(result.changed, key=InstanceKey.sort_key)
        ]
        store.upsert_states(tx, changed, now)
        enqueued = store.insert_messages(tx, messages)
        silenced = store.insert_messages(tx, suppressed)
        if evaluated_through is not None:
            store.set_evaluated_through(tx, monitor_name, evaluated_through, now)
    return enqueued, silenced


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
    now = now or utc_now()
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
