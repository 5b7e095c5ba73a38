"""Alerting in the pipeline: stored results → samples → evaluation → outbox (one transaction) → delivery.

One module per concern; this package's names are the pipeline's alerting API (the CLI, the worker, the API
and `pipeline.cycle` import them from here):

    settings.py     prepare_alerting(settings)   load and validate the rule files once (RuleError lists every
                                                 problem); alerting_settings, channel_configs
    samples.py      collect_samples(db, monitor, now)   every stored result not evaluated yet, as
                                                 `alerting.model.Sample`s (rows from storage/alert_samples.py)
    state.py        stored instance state and silences ↔ the alerting package's types
    evaluation.py   alert_cycle(db, run, monitor, now)  after a cycle: collect_samples + evaluate_and_enqueue
                    evaluate_and_enqueue(...)    load state → evaluate → group → ONE transaction: changed state
                                                 rows, outbox rows (ON CONFLICT (dedupe_key) DO NOTHING),
                                                 suppressed rows
    outbox.py       DuckDBOutbox(db)             the `alerting.delivery.Outbox` protocol on the alert_outbox
                                                 table; Alertmanager re-posts
    delivery.py     deliver_pending(db, channels, now)  a `Sender` pass (or two, for meta-alerts) over the
                                                 outbox; open_channels, deliver_with_settings, lane_senders
"""

from driftwatch.pipeline.alerts.delivery import (
    deliver_pending,
    deliver_with_settings,
    lane_senders,
    open_channels,
    retry_policy,
)
from driftwatch.pipeline.alerts.evaluation import AlertCycleSummary, alert_cycle, evaluate_and_enqueue
from driftwatch.pipeline.alerts.outbox import DuckDBOutbox, enqueue_alertmanager_resends, resend_intervals
from driftwatch.pipeline.alerts.samples import SampleBatch, collect_samples, past_samples
from driftwatch.pipeline.alerts.settings import (
    AlertingRun,
    alerting_settings,
    channel_configs,
    load_alerting_rules,
    prepare_alerting,
)
from driftwatch.pipeline.alerts.state import load_state, stored_silence

__all__ = [
    "AlertCycleSummary",
    "AlertingRun",
    "DuckDBOutbox",
    "SampleBatch",
    "alert_cycle",
    "alerting_settings",
    "channel_configs",
    "collect_samples",
    "deliver_pending",
    "deliver_with_settings",
    "enqueue_alertmanager_resends",
    "evaluate_and_enqueue",
    "lane_senders",
    "load_alerting_rules",
    "load_state",
    "open_channels",
    "past_samples",
    "prepare_alerting",
    "resend_intervals",
    "retry_policy",
    "stored_silence",
]
