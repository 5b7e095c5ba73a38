"""Alerting wired to storage and the pipeline: real DuckDB files, a real loopback HTTP server, a hand-driven
clock. The restart tests close the database (or kill the process) between steps and reopen it."""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "alerting"))

from alerting_support import DAY, T0, FakeClock, LoopbackServer, make_rule, window_sample  # noqa: E402

from _demo import DEMO_END  # noqa: E402
from driftwatch.alerting.channels.base import Channel, SendResult  # noqa: E402
from driftwatch.alerting.channels.webhook import WebhookChannel  # noqa: E402
from driftwatch.alerting.delivery import META_RULE, RetryPolicy  # noqa: E402
from driftwatch.alerting.grouping import AlertGroup  # noqa: E402
from driftwatch.alerting.secret import Secret  # noqa: E402
from driftwatch.config.alerting import parse_alerting  # noqa: E402
from driftwatch.config.settings import Settings  # noqa: E402
from driftwatch.pipeline.alerts import (  # noqa: E402
    DuckDBOutbox,
    alert_cycle,
    alerting_settings,
    collect_samples,
    deliver_pending,
    deliver_with_settings,
    evaluate_and_enqueue,
    load_state,
    prepare_alerting,
)
from driftwatch.pipeline.cycle import run_cycle  # noqa: E402
from driftwatch.storage import alerts as store  # noqa: E402
from driftwatch.storage.database import Database  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MONITOR = "credit-default"


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.close()


@pytest.fixture
def second_loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "alerts.duckdb"


@pytest.fixture
def opened() -> Iterator[list[Channel]]:
    channels: list[Channel] = []
    yield channels
    for channel in channels:
        channel.close()


def hook(server: LoopbackServer, opened: list[Channel], name: str = "hook") -> WebhookChannel:
    channel = WebhookChannel(name, Secret(server.url + f"/hooks/{name}"), timeout_seconds=2.0)
    opened.append(channel)
    return channel


def table(db: Database, name: str) -> list[tuple[object, ...]]:
    return db.cursor().execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()


def outbox_rows(db: Database) -> list[store.StoredMessage]:
    return sorted(store.messages(db.cursor(), limit=1000), key=lambda m: m.id)


RULE = make_rule(channels=("hook",), for_windows=2, recover=0.1)


def test_reevaluating_the_same_window_changes_nothing(db_path: Path) -> None:
    samples = [window_sample(i, v) for i, v in enumerate([0.3, 0.4, 0.5])]
    now = T0 + 3 * DAY
    with Database(db_path) as db:
        assert evaluate_and_enqueue(db, [RULE], MONITOR, samples, now) == (1, 0)
        before = {name: table(db, name) for name in ("alert_state", "alert_outbox")}
        assert evaluate_and_enqueue(db, [RULE], MONITOR, samples, now) == (0, 0)
        assert evaluate_and_enqueue(db, [RULE], MONITOR, samples, now + DAY) == (
            0,
            0,
        )  # later `now`, same windows
        assert {name: table(db, name) for name in ("alert_state", "alert_outbox")} == before
    with Database(db_path) as db:  # and after a restart
        assert evaluate_and_enqueue(db, [RULE], MONITOR, samples, now + DAY) == (0, 0)
        (message,) = outbox_rows(db)
        assert (message.status, message.transition, message.alerts) == ("pending", "firing", 1)
        assert AlertGroup.from_dict(message.payload).alerts[0].instance.feature == "age"


def test_state_and_messages_commit_together(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while writing the outbox rolls the state change back too: the next run fires again."""
    samples = [window_sample(i, 0.4) for i in range(2)]
    with Database(db_path) as db:

        def broken(*args: object, **kwargs: object) -> int:
            raise RuntimeError("disk full")

        monkeypatch.setattr(store, "insert_messages", broken)
        with pytest.raises(RuntimeError):
            evaluate_and_enqueue(db, [RULE], MONITOR, samples, T0 + 2 * DAY)
        assert table(db, "alert_state") == [] and table(db, "alert_outbox") == []
        monkeypatch.undo()
        assert evaluate_and_enqueue(db, [RULE], MONITOR, samples, T0 + 2 * DAY) == (1, 0)


KILLED_AFTER_ENQUEUE = """
import os, sys
sys.path.insert(0, {support!r})
from alerting_support import DAY, T0, make_rule, window_sample
from driftwatch.pipeline.alerts import evaluate_and_enqueue
from driftwatch.storage.database import Database

db = Database({path!r})
rule = make_rule(channels=("hook",), for_windows=2, recover=0.1)
print(evaluate_and_enqueue(db, [rule], "credit-default", [window_sample(i, 0.4) for i in range(2)], T0 + 2 * DAY))
sys.stdout.flush()
os._exit(9)  # killed before anything is sent, without closing the database
"""


def test_killed_after_enqueue_delivers_exactly_once_after_restart(
    db_path: Path, loopback: LoopbackServer, opened: list[Channel]
) -> None:
    script = KILLED_AFTER_ENQUEUE.format(support=str(REPO / "tests" / "alerting"), path=str(db_path))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 9, done.stderr
    assert done.stdout.strip() == "(1, 0)"
    assert loopback.requests == []

    clock = FakeClock(T0 + 2 * DAY)
    with Database(db_path) as db:  # the restart
        channels = {"hook": hook(loopback, opened)}
        report = deliver_pending(db, channels, clock=clock, sleep=clock.sleep)
        assert report.delivered == 1
        assert len(loopback.requests) == 1
        (message,) = outbox_rows(db)
        assert message.status == "delivered" and message.attempts == 1
        assert loopback.requests[0].headers["Idempotency-Key"] == message.dedupe_key
        clock.advance(3600)
        assert deliver_pending(db, channels, clock=clock, sleep=clock.sleep).delivered == 0
    with Database(db_path) as db:  # delivered rows stay delivered across a restart
        assert deliver_pending(db, channels, clock=clock, sleep=clock.sleep).delivered == 0
        assert evaluate_and_enqueue(db, [RULE], MONITOR, [window_sample(1, 0.4)], clock()) == (0, 0)
    assert len(loopback.requests) == 1


class DiesAfterSending:
    """A channel whose process dies right after the receiver answered 2xx (before it is recorded)."""

    def __init__(self, inner: Channel) -> None:
        self.inner = inner
        self.name = inner.name
        self.min_interval_seconds = 0.0

    def send(self, message: AlertGroup, idempotency_key: str) -> SendResult:
        self.inner.send(message, idempotency_key)
        raise KeyboardInterrupt  # not an Exception: the Sender does not catch it, like a kill

    def close(self) -> None:
        self.inner.close()


def test_crash_between_2xx_and_recording_resends_once_with_the_same_idempotency_key(
    db_path: Path, loopback: LoopbackServer, opened: list[Channel]
) -> None:
    """The one duplicate the docs allow, and why webhook receivers can drop it."""
    clock = FakeClock(T0 + 2 * DAY)
    with Database(db_path) as db:
        evaluate_and_enqueue(db, [RULE], MONITOR, [window_sample(i, 0.4) for i in range(2)], clock())
        with pytest.raises(KeyboardInterrupt):
            deliver_pending(db, {"hook": DiesAfterSending(hook(loopback, opened))}, clock=clock)
    with Database(db_path) as db:
        assert deliver_pending(db, {"hook": hook(loopback, opened)}, clock=clock).delivered == 1
        assert deliver_pending(db, {"hook": hook(loopback, opened)}, clock=clock).delivered == 0
    first, second = loopback.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.body == second.body


def test_restart_keeps_pending_counters_firing_alerts_and_resolutions(
    db_path: Path, loopback: LoopbackServer, opened: list[Channel]
) -> None:
    rule = make_rule(channels=("hook",), for_windows=3, recover=0.1)
    clock = FakeClock(T0 + 2 * DAY)
    with Database(db_path) as db:  # two bad windows: pending, counter 2
        assert evaluate_and_enqueue(
            db, [rule], MONITOR, [window_sample(i, 0.4) for i in range(2)], clock()
        ) == (
            0,
            0,
        )
    with Database(db_path) as db:  # restart; the third bad window fires
        (state,) = load_state(db, MONITOR).values()
        assert (state.status.value, state.bad_windows) == ("pending", 2)
        assert evaluate_and_enqueue(db, [rule], MONITOR, [window_sample(2, 0.4)], clock()) == (1, 0)
        deliver_pending(db, {"hook": hook(loopback, opened)}, clock=clock, sleep=clock.sleep)
    assert len(loopback.requests) == 1
    clock.advance(3600)
    with Database(db_path) as db:  # restart while firing: the same windows again, and a new one, send nothing
        samples = [window_sample(i, 0.4) for i in range(4)]
        assert evaluate_and_enqueue(db, [rule], MONITOR, samples, clock()) == (0, 0)
        assert deliver_pending(db, {"hook": hook(loopback, opened)}, clock=clock).delivered == 0
        (state,) = load_state(db, MONITOR).values()
        assert state.status.value == "firing" and state.fired_at == T0 + 2 * DAY
    with Database(db_path) as db:  # a healthy window resolves it, once
        assert evaluate_and_enqueue(db, [rule], MONITOR, [window_sample(4, 0.05)], clock()) == (1, 0)
        deliver_pending(db, {"hook": hook(loopback, opened)}, clock=clock)
    with Database(db_path) as db:  # the resolution is remembered
        assert evaluate_and_enqueue(db, [rule], MONITOR, [window_sample(4, 0.05)], clock()) == (0, 0)
        assert [m.transition for m in outbox_rows(db)] == ["firing", "resolved"]
    assert [r.json()["status"] for r in loopback.requests] == ["firing", "resolved"]


def test_500_then_200_delivers_once_and_records_two_attempts(
    db_path: Path, loopback: LoopbackServer, opened: list[Channel]
) -> None:
    loopback.reply(500, body="rollup_error")
    clock = FakeClock(T0 + 2 * DAY)
    policy = RetryPolicy(base_seconds=5, cap_seconds=60)
    with Database(db_path) as db:
        evaluate_and_enqueue(db, [RULE], MONITOR, [window_sample(i, 0.4) for i in range(2)], clock())
        channels = {"hook": hook(loopback, opened)}
        first = deliver_pending(
            db, channels, clock=clock, sleep=clock.sleep, policy=policy, rng=random.Random(3)
        )
        assert (first.delivered, first.retried) == (0, 1)
    with Database(db_path) as db:  # the retry survives a restart
        for _ in range(3):
            clock.advance(60)
            deliver_pending(db, channels, clock=clock, sleep=clock.sleep, policy=policy)
        (message,) = outbox_rows(db)
        assert (message.status, message.attempts) == ("delivered", 2)
        tries = store.attempts(db.cursor(), message.id)
        assert [(a["outcome"], a["status_code"]) for a in tries] == [("retry", 500), ("delivered", 200)]
        assert "rollup_error" in (tries[0]["error"] or "")
    assert len(loopback.requests) == 2


def test_404_marks_the_channel_unhealthy_and_raises_a_meta_alert_on_the_other(
    db_path: Path, loopback: LoopbackServer, second_loopback: LoopbackServer, opened: list[Channel]
) -> None:
    loopback.reply(404, body="channel_not_found")
    clock = FakeClock(T0 + 2 * DAY)
    with Database(db_path) as db:
        evaluate_and_enqueue(db, [RULE], MONITOR, [window_sample(i, 0.4) for i in range(2)], clock())
        channels = {"hook": hook(loopback, opened), "backup": hook(second_loopback, opened, "backup")}
        report = deliver_pending(db, channels, clock=clock, sleep=clock.sleep)
        assert (report.failed, report.meta_alerts, report.delivered) == (1, 1, 1)
        assert report.unhealthy_channels == ["hook"]
        failed, meta = outbox_rows(db)
        assert (failed.channel, failed.status, failed.attempts) == ("hook", "failed", 1)
        assert (meta.channel, meta.rule, meta.status) == ("backup", META_RULE, "delivered")
        (health,) = store.channel_health(db.cursor())
        assert (health["channel"], health["healthy"]) == ("hook", False)
        assert "404" in (health["reason"] or "") or "channel_not_found" in (health["reason"] or "")
    assert len(loopback.requests) == 1  # a permanent failure is not retried
    (meta_request,) = second_loopback.requests
    assert meta_request.json()["groupLabels"]["alertname"] == META_RULE
    assert "hook" in json.dumps(meta_request.json())


def test_silenced_alert_is_stored_as_suppressed_and_announced_after_expiry(
    db_path: Path, loopback: LoopbackServer, opened: list[Channel]
) -> None:
    clock = FakeClock(T0 + 2 * DAY)
    silence = store.SilenceRow(
        id="s1",
        matchers={"feature": "age"},
        starts_at=T0,
        ends_at=T0 + 30 * DAY,
        comment="retraining",
        created_by="test",
        created_at=T0,
    )
    rule = make_rule(channels=("hook",), for_windows=1, recover=0.1)
    with Database(db_path) as db:
        store.insert_silence(db, silence)
        samples = [window_sample(0, 0.4), window_sample(0, 0.4, feature="income")]
        assert evaluate_and_enqueue(db, [rule], MONITOR, samples, clock()) == (1, 1)
        deliver_pending(db, {"hook": hook(loopback, opened)}, clock=clock)
        rows = {m.status: m for m in outbox_rows(db)}
        assert rows["suppressed"].silenced_by == "s1" and rows["suppressed"].attempts == 0
        assert AlertGroup.from_dict(rows["suppressed"].payload).alerts[0].instance.feature == "age"
        assert rows["delivered"].payload["alerts"][0]["instance"]["feature"] == "income"
        assert [r.json()["commonLabels"]["feature"] for r in loopback.requests] == ["income"]

        # Still silenced: the next window changes state quietly.
        assert evaluate_and_enqueue(db, [rule], MONITOR, [window_sample(1, 0.4)], clock()) == (0, 1)
        clock.advance(3600)
        assert store.expire_silence(db, "s1", clock()) is not None
        assert evaluate_and_enqueue(db, [rule], MONITOR, [window_sample(2, 0.4)], clock()) == (1, 0)
        deliver_pending(db, {"hook": hook(loopback, opened)}, clock=clock)
    announced = loopback.requests[-1].json()
    assert announced["commonLabels"]["feature"] == "age" and announced["status"] == "firing"
    assert len(loopback.requests) == 2


def test_rows_for_a_channel_this_process_cannot_build_stay_pending(db_path: Path) -> None:
    with Database(db_path) as db:
        evaluate_and_enqueue(db, [RULE], MONITOR, [window_sample(i, 0.4) for i in range(2)], T0 + 2 * DAY)
        assert deliver_pending(db, {}, now=T0 + 2 * DAY).failed == 0
        assert [m.status for m in outbox_rows(db)] == ["pending"]
        assert deliver_pending(db, {}, now=T0 + 2 * DAY, leave_unknown_pending=False).failed == 1


def test_duckdb_outbox_survives_a_restart(db_path: Path) -> None:
    rule = make_rule(channels=("hook",))
    from driftwatch.alerting.evaluation import evaluate
    from driftwatch.alerting.grouping import group_notifications

    groups = group_notifications(evaluate([rule], [window_sample(0, 0.4)], {}, [], T0 + DAY).notifications)
    with Database(db_path) as db:
        assert DuckDBOutbox(db).enqueue(groups, T0) == 1
    with Database(db_path) as db:
        (row,) = DuckDBOutbox(db).pending(T0)
        assert row.message == groups[0] and row.attempts == 0 and row.created_at == T0
        assert DuckDBOutbox(db).enqueue(groups, T0) == 0


# --- a real cycle on the demo ----------------------------------------------------------------------------


def test_samples_and_alerts_from_a_real_demo_cycle(demo_settings: Settings, demo_db: Database) -> None:
    shutil.copytree(
        REPO / "alert_rules", demo_settings.config_path.parent / "alert_rules", dirs_exist_ok=True
    )
    monitor = demo_settings.monitor(MONITOR)
    run_cycle(demo_db, monitor, now=DEMO_END)

    batch = collect_samples(demo_db, monitor, DEMO_END)
    metrics = {s.metric for s in batch.samples}
    assert {
        "psi",
        "ks_statistic",
        "ks_pvalue",
        "chi2_pvalue",
        "js_distance",
        "hellinger",
        "wasserstein_norm",
        "missing_share",
        "unseen_share",
        "drift_status",
        "dataset_drift_share",
        "rows",
        "quarantined_rows",
        "windows_without_data",
        "roc_auc",
        "performance_status",
        "label_coverage",
        "label_count",
    } <= metrics
    by_metric = {(s.metric, s.feature, s.segment, s.window_start): s for s in batch.samples}
    last = DEMO_END - DAY
    assert by_metric[("windows_without_data", None, "*", last)].value == 0
    assert by_metric[("drift_status", "income", "*", last)].value == 2
    assert by_metric[("drift_status", "age", "*", last)].value == 0
    assert by_metric[("psi", "income", "*", last)].samples == 1500
    (quarantined,) = [s for s in batch.samples if s.metric == "quarantined_rows"]
    assert quarantined.value and quarantined.value > 0
    assert batch.through is not None

    run = prepare_alerting(alerting_settings(demo_settings))
    assert run is not None
    summary = alert_cycle(demo_db, run, monitor, DEMO_END)
    assert summary.enqueued >= 1 and summary.firing > 0
    firing = store.alert_instances(demo_db.cursor(), ("firing",), MONITOR)
    assert {(a["rule"], a["feature"]) for a in firing if a["segment"] == "*"} >= {
        ("FeaturePSIHigh", "income"),
        ("FeaturePSIHigh", "region"),
    }
    assert not {a["feature"] for a in firing} & {"age", "credit_score", "num_accounts", "employment_years"}

    # Nothing new stored: the next evaluation reads nothing but the latest closed window, and sends nothing.
    again = alert_cycle(demo_db, run, monitor, DEMO_END)
    assert (again.samples, again.enqueued, again.suppressed) == (1, 0, 0)

    # Delivery through the demo's log channel (relative to the project folder).
    report = deliver_pending(demo_db, {"log": _log_channel(demo_settings)}, now=DEMO_END)
    assert report.delivered == summary.enqueued
    log = demo_settings.config_path.parent / ".driftwatch" / "alerts.log"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    # Dataset- and performance-level alerts (DatasetDrift, AUCDrop) carry no feature label.
    assert {line["labels"].get("feature") for line in lines} >= {"income", "region"}


def _log_channel(settings: Settings) -> Channel:
    from driftwatch.pipeline.alerts import open_channels

    run = prepare_alerting(alerting_settings(settings))
    assert run is not None
    channels, problems = open_channels(run, env={})
    assert problems == []
    return channels["log"]


def test_a_crashed_evaluation_is_caught_up_by_the_next_one(
    demo_settings: Settings, demo_db: Database
) -> None:
    """Results stored by a cycle whose evaluation never ran are evaluated by the next one."""
    shutil.copytree(
        REPO / "alert_rules", demo_settings.config_path.parent / "alert_rules", dirs_exist_ok=True
    )
    monitor = demo_settings.monitor(MONITOR)
    run = prepare_alerting(alerting_settings(demo_settings))
    assert run is not None
    run_cycle(demo_db, monitor, now=DEMO_END - 3 * DAY)
    alert_cycle(demo_db, run, monitor, DEMO_END - 3 * DAY)
    through = store.evaluated_through(demo_db.cursor(), MONITOR)
    assert through is not None

    run_cycle(demo_db, monitor, now=DEMO_END - DAY)  # its evaluation "crashed": never ran
    run_cycle(demo_db, monitor, now=DEMO_END)
    batch = collect_samples(demo_db, monitor, DEMO_END, since=through)
    windows = {
        s.window_start for s in batch.samples if (s.metric, s.feature, s.segment) == ("psi", "income", "*")
    }
    assert windows == {DEMO_END - 3 * DAY, DEMO_END - 2 * DAY, DEMO_END - DAY}

    alert_cycle(demo_db, run, monitor, DEMO_END)
    (last,) = {
        row[0]
        for row in demo_db.cursor()
        .execute("SELECT last_window FROM alert_state WHERE feature = 'income' AND segment = '*'")
        .fetchall()
    }
    assert last == (DEMO_END - DAY).replace(tzinfo=None)
    newer = store.evaluated_through(demo_db.cursor(), MONITOR)
    assert newer is not None and newer > through


def test_first_evaluation_skips_windows_older_than_backfill(
    demo_settings: Settings, demo_db: Database
) -> None:
    monitor = demo_settings.monitor(MONITOR)
    run_cycle(demo_db, monitor, now=DEMO_END)
    base = demo_settings.config_path.parent
    (base / "rules").mkdir()
    (base / "rules" / "psi.yml").write_text(
        textwrap.dedent(
            """\
            channels: {log: {type: log, path: alerts.log}}
            groups:
              - name: g
                rules:
                  - alert: AnyPSI
                    select: {metric: psi, feature: "*"}
                    condition: {op: ">=", threshold: 0}
                    route: {channels: [log]}
            """
        )
    )
    settings = parse_alerting(demo_settings.config_path, base, {"rules": "rules", "backfill": "2d"})
    run = prepare_alerting(settings)
    assert run is not None
    alert_cycle(demo_db, run, monitor, DEMO_END)
    first_windows = {
        row[0] for row in demo_db.cursor().execute("SELECT DISTINCT firing_since FROM alert_state").fetchall()
    }
    assert first_windows == {(DEMO_END - 2 * DAY).replace(tzinfo=None)}
    assert settings.backfill == timedelta(days=2)


def test_deliver_with_settings_builds_channels_from_the_environment(
    tmp_path: Path, db_path: Path, loopback: LoopbackServer
) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yml").write_text(
        textwrap.dedent(
            """\
            groups:
              - name: g
                rules:
                  - alert: FeaturePSIHigh
                    select: {metric: psi, feature: "*"}
                    condition: {op: ">", threshold: 0.25}
                    route: {channels: [hook]}
            """
        )
    )
    settings = parse_alerting(
        tmp_path / "driftwatch.yml",
        tmp_path,
        {"rules": "rules", "channels": {"hook": {"type": "webhook", "url_env": "HOOK_URL"}}},
    )
    run = prepare_alerting(settings)
    assert run is not None and set(run.rules.channels) == {"hook"}
    with Database(db_path) as db:
        assert evaluate_and_enqueue(db, run.rules, MONITOR, [window_sample(0, 0.4)], T0 + DAY) == (1, 0)
        report, problems = deliver_with_settings(db, run, T0 + DAY, env={})
        assert report.delivered == 0 and problems == [
            "channel 'hook' needs environment variable HOOK_URL (set it to the webhook URL where driftwatch runs)"
        ]
        assert [m.status for m in outbox_rows(db)] == ["pending"]
        report, problems = deliver_with_settings(db, run, T0 + DAY, env={"HOOK_URL": loopback.url + "/x"})
        assert (report.delivered, problems) == (1, [])
    assert len(loopback.requests) == 1 and loopback.requests[0].path == "/x"


def test_a_window_without_a_verdict_is_no_data_for_dataset_rules_never_ok(tmp_path: Path) -> None:
    from _service import make_project
    from driftwatch.alerting.evaluation import evaluate
    from driftwatch.alerting.model import AlertStatus
    from driftwatch.config.loading import load_settings

    # 600-row windows under min_rows 700: none is judged.
    config = make_project(tmp_path / "small")
    config.write_text(config.read_text().replace("min_rows: 500", "min_rows: 700"))
    settings = load_settings(config)
    monitor = settings.monitor(MONITOR)
    with Database(settings.storage, settings.database) as db:
        run_cycle(db, monitor)
        batch = collect_samples(db, monitor, DEMO_END + 400 * DAY)
    overall = sorted(
        (s for s in batch.samples if s.segment == "*" and s.metric.startswith("dataset_")),
        key=lambda s: (s.window_start, s.metric),
    )
    assert {s.metric for s in overall} == {"dataset_drift_share", "dataset_status", "dataset_judged"}
    for s in overall:
        assert s.value == (0.0 if s.metric == "dataset_judged" else None), s
    assert all(s.value is None for s in batch.samples if s.metric == "drift_status")

    # A firing dataset rule is not resolved by windows without a verdict: they are no data, not "ok".
    rule = make_rule("DatasetDrift", "dataset_drift_share", ">=", 0.5, feature=None)
    not_judged = [s for s in overall if s.metric == "dataset_drift_share"]
    start = not_judged[0].window_start - DAY
    bad = dataclasses.replace(not_judged[0], window_start=start, window_end=start + DAY, value=0.8)
    fired = evaluate([rule], [bad], {}, [], start + 2 * DAY)
    (key,) = fired.new_state
    assert fired.new_state[key].status is AlertStatus.FIRING
    after = evaluate([rule], not_judged, fired.new_state, [], not_judged[-1].window_end + DAY)
    assert after.new_state[key].status is AlertStatus.FIRING
    assert not after.notifications
    # ... and "not judged" is a value a rule can fire on.
    unjudged_rule = make_rule("WindowsNotJudged", "dataset_judged", "<", 1.0, for_windows=3, feature=None)
    judged_samples = [s for s in overall if s.metric == "dataset_judged"]
    state = evaluate([unjudged_rule], judged_samples, {}, [], judged_samples[-1].window_end + DAY).new_state
    assert [v.status for v in state.values()] == [AlertStatus.FIRING]
