"""`driftwatch rules check|test`, `driftwatch alerts`, `driftwatch silence ...` and the `alerting:` config
section, through a real Typer app on real files and a real DuckDB file."""

from __future__ import annotations

import dataclasses
import json
import shutil
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from _demo import DEMO_END, SMALL_DEMO
from driftwatch.alerting.silences import parse_time
from driftwatch.cli.alerts import alerts_command
from driftwatch.cli.rules import rules_app
from driftwatch.cli.silence import silence_app
from driftwatch.config.alerting import ChannelEntry, RetrySettings, parse_alerting
from driftwatch.config.loading import load_settings
from driftwatch.demo import write_demo_project
from driftwatch.errors import ConfigError, InputError
from driftwatch.pipeline.alerts import alert_cycle, alerting_settings, channel_configs, prepare_alerting
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.storage.database import Database

REPO = Path(__file__).resolve().parents[1]

# The registration driftwatch/cli/__init__.py does.
app = typer.Typer()
app.add_typer(rules_app, name="rules")
app.add_typer(silence_app, name="silence")
app.command("alerts")(alerts_command)


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # no driftwatch.yml here unless a test writes one
    return CliRunner()


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The small demo after one cycle and one evaluation with the repo's rules; the database is closed."""
    config = write_demo_project(tmp_path_factory.mktemp("alerts") / "demo", SMALL_DEMO)
    shutil.copytree(REPO / "alert_rules", config.parent / "alert_rules", dirs_exist_ok=True)
    settings = load_settings(config)
    run = prepare_alerting(alerting_settings(settings))
    assert run is not None
    with Database(settings.storage, settings.database) as db:
        monitor = settings.monitor("credit-default")
        run_cycle(db, monitor, now=DEMO_END)
        alert_cycle(db, run, monitor, DEMO_END)
    yield config


MINIMAL_CONFIG = """\
storage: state/driftwatch.duckdb
monitors:
  m:
    predictions: {path: data/*.parquet}
    reference: {path: train.parquet}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    config = tmp_path / "project" / "driftwatch.yml"
    config.parent.mkdir()
    config.write_text(MINIMAL_CONFIG)
    return config


# --- rules check / rules test ---------------------------------------------------------------------------


def test_rules_check_passes_on_the_repo_rules(runner: CliRunner) -> None:
    result = runner.invoke(app, ["rules", "check", str(REPO / "alert_rules")])
    assert result.exit_code == 0, result.output
    assert "ok: 5 rule(s) in 1 file(s), channels: log" in result.stdout


BROKEN = """\
groups:
  - name: drift
    rules:
      - alert: PSIHigh
        select: {metric: psi, feature: "*"}
        condition: {op: ">", treshold: 0.25}
        for: 0
        route: {channels: [slak]}
"""


def test_rules_check_reports_file_and_line_and_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "broken.yml").write_text(BROKEN)
    (folder / "broken.test.yml").write_text("not: a rule file")  # rule tests are not rule files
    result = runner.invoke(app, ["rules", "check", str(folder)])
    assert result.exit_code == 2
    broken = str(folder / "broken.yml")
    assert f"{broken}:6: unknown key `treshold`" in result.stdout
    assert "did you mean `threshold`?" in result.stdout
    assert f"{broken}:7: `for`" in result.stdout
    assert f"{broken}:8: unknown channel `slak`" in result.stdout
    assert "broken.test.yml" not in result.stdout
    assert "problems found" in result.stderr


def test_rules_check_defaults_to_the_configs_rules_and_knows_its_channels(
    runner: CliRunner, project: Path
) -> None:
    rules = project.parent / "alert_rules"
    rules.mkdir()
    (rules / "r.yml").write_text(BROKEN.replace("treshold", "threshold").replace("for: 0", "for: 1"))
    result = runner.invoke(app, ["rules", "check", "--config", str(project)])
    assert result.exit_code == 2 and "unknown channel `slak`" in result.stdout

    # Declared in the main config's `alerting.channels`.
    (rules / "r.yml").write_text(BROKEN.replace("treshold", "threshold").replace("for: 0", "for: 1"))
    settings = parse_alerting(
        project, project.parent, {"channels": {"slak": {"type": "log", "path": "a.log"}}}
    )
    assert set(channel_configs(settings)) == {"slak"}
    result = runner.invoke(app, ["rules", "check", str(rules)])  # no config in the cwd: channels unknown
    assert result.exit_code == 2


def test_rules_check_on_a_missing_path(runner: CliRunner) -> None:
    result = runner.invoke(app, ["rules", "check", "nowhere/"])
    assert result.exit_code == 2 and "no such file or folder" in result.stderr


def test_rules_test_runs_the_demo_tests(runner: CliRunner) -> None:
    result = runner.invoke(app, ["rules", "test", str(REPO / "alert_rules" / "demo.test.yml")])
    assert result.exit_code == 0, result.output
    assert "5 test(s), 0 failure(s): ok" in result.stdout


def test_rules_test_exits_1_on_a_failing_test_and_2_on_an_invalid_file(
    runner: CliRunner, tmp_path: Path
) -> None:
    shutil.copy(REPO / "alert_rules" / "demo.yml", tmp_path / "demo.yml")
    failing = tmp_path / "failing.test.yml"
    failing.write_text(
        textwrap.dedent(
            """\
            rule_files: [demo.yml]
            tests:
              - name: expects a firing alert too early
                input_series:
                  - labels: {monitor: credit-default, metric: psi, feature: age}
                    values: "0.3 0.3"
                expected:
                  - at_window: 1
                    alerts:
                      - {alert: FeaturePSIHigh, labels: {feature: age}, state: firing}
            """
        )
    )
    result = runner.invoke(app, ["rules", "test", str(failing)])
    assert result.exit_code == 1
    assert "FAILED expects a firing alert too early (window 1)" in result.stdout

    invalid = tmp_path / "invalid.test.yml"
    invalid.write_text("rule_files: [demo.yml]\ntests: []\nwindw: 1d\n")
    result = runner.invoke(app, ["rules", "test", str(invalid)])
    assert result.exit_code == 2
    assert f"{invalid}:3:" in result.stdout


# --- alerts ---------------------------------------------------------------------------------------------


def test_alerts_json_lists_firing_alerts_after_a_demo_cycle(runner: CliRunner, demo_project: Path) -> None:
    result = runner.invoke(
        app, ["alerts", "--config", str(demo_project), "--state", "firing", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    alerts = json.loads(result.stdout)
    assert alerts and {a["state"] for a in alerts} == {"firing"}
    overall = {(a["rule"], a["feature"]) for a in alerts if a["segment"] == "*"}
    assert {("FeaturePSIHigh", "income"), ("FeaturePSIHigh", "region")} <= overall
    income = next(a for a in alerts if a["feature"] == "income" and a["segment"] == "*")
    assert income["monitor"] == "credit-default" and income["value"] > 0.25
    assert income["firing_since"].endswith("Z") and income["last_window"] == "2026-10-31T00:00:00Z"

    table = runner.invoke(app, ["alerts", "--config", str(demo_project)])
    assert table.exit_code == 0 and "FeaturePSIHigh" in table.stdout and "income" in table.stdout


def test_alerts_outbox_lists_the_messages_owed(runner: CliRunner, demo_project: Path) -> None:
    result = runner.invoke(app, ["alerts", "--config", str(demo_project), "--outbox", "--format", "json"])
    assert result.exit_code == 0, result.output
    messages = json.loads(result.stdout)
    assert messages and {m["status"] for m in messages} == {"pending"}
    assert {m["channel"] for m in messages} == {"log"}
    # Only the week-over-week accuracy rule has an episode that both starts and ends within the demo's month.
    assert {m["transition"] for m in messages if m["rule"] != "AccuracyDownWeekOverWeek"} == {"firing"}
    assert {m["transition"] for m in messages if m["rule"] == "AccuracyDownWeekOverWeek"} == {
        "firing",
        "resolved",
    }
    bad = runner.invoke(app, ["alerts", "--config", str(demo_project), "--state", "burning"])
    assert bad.exit_code == 2 and "--state must be one of" in bad.stderr


def test_alerts_on_a_fresh_project(runner: CliRunner, project: Path) -> None:
    result = runner.invoke(app, ["alerts", "--config", str(project)])
    assert result.exit_code == 0 and "no active alerts" in result.stdout
    assert runner.invoke(app, ["alerts", "--config", str(project), "-f", "json"]).stdout.strip() == "[]"


# --- silences -------------------------------------------------------------------------------------------


def test_silence_add_list_expire(runner: CliRunner, project: Path) -> None:
    config = ["--config", str(project)]
    added = runner.invoke(
        app,
        ["silence", "add", "--match", "feature=age", "--match", "monitor=credit-*", "--until", "3d"]
        + ["--comment", "retraining on new data", "--created-by", "ana", "--format", "json", *config],
    )
    assert added.exit_code == 0, added.output
    silence = json.loads(added.stdout)
    assert silence["matchers"] == {"feature": "age", "monitor": "credit-*"} and silence["active"] is True

    listed = json.loads(runner.invoke(app, ["silence", "list", "-f", "json", *config]).stdout)
    assert [s["id"] for s in listed] == [silence["id"]]
    assert "retraining on new data" in runner.invoke(app, ["silence", "list", *config]).stdout

    expired = runner.invoke(app, ["silence", "expire", silence["id"], *config])
    assert expired.exit_code == 0 and f"silence {silence['id']} ended" in expired.stdout
    assert json.loads(runner.invoke(app, ["silence", "list", "-f", "json", *config]).stdout) == []
    (ended,) = json.loads(runner.invoke(app, ["silence", "list", "--all", "-f", "json", *config]).stdout)
    assert ended["active"] is False and ended["expired_at"] is not None

    missing = runner.invoke(app, ["silence", "expire", "nope", *config])
    assert missing.exit_code == 2 and "no silence with id 'nope'" in missing.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--match", "feature", "--until", "1d", "--comment", "x"], "is not label=pattern"),
        (["--match", "feature=age", "--until", "someday", "--comment", "x"], "neither a duration"),
        (["--match", "feature=age", "--until", "1d", "--comment", " "], "needs a comment"),
        (["--match", "feature=age", "--until", "2020-01-01", "--comment", "x"], "before it starts"),
    ],
)
def test_silence_add_rejects_bad_input(
    runner: CliRunner, project: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["silence", "add", *args, "--config", str(project)])
    assert result.exit_code == 2
    assert message in result.stderr


def test_parse_time_forms() -> None:
    now = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)
    assert parse_time("2h", now) == now + timedelta(hours=2)
    assert parse_time("2026-12-01", now) == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_time("2026-12-01T08:00Z", now) == datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert parse_time("2026-12-01T09:00+01:00", now) == datetime(2026, 12, 1, 8, tzinfo=UTC)
    with pytest.raises(InputError):
        parse_time("next tuesday", now)


# --- the `alerting:` config section ---------------------------------------------------------------------


def test_parse_alerting_full_section(tmp_path: Path) -> None:
    file = tmp_path / "driftwatch.yml"
    settings = parse_alerting(
        file,
        tmp_path,
        {
            "enabled": True,
            "rules": "rules",
            "report_base_url": "https://driftwatch.example.com/",
            "backfill": "3d",
            "channels": {
                "slack-ml": {"type": "slack", "url_env": "SLACK_WEBHOOK_URL", "timeout": "5s"},
                "hook": {"type": "webhook", "url_env": "ALERT_WEBHOOK_URL"},
                "log": {"type": "log", "path": ".driftwatch/alerts.log"},
            },
            "retry": {"base": "2s", "cap": "10m", "max_attempts": 5},
        },
    )
    assert settings.rules == tmp_path / "rules"
    assert settings.report_base_url == "https://driftwatch.example.com"
    assert settings.backfill == timedelta(days=3)
    assert settings.channels["slack-ml"] == ChannelEntry(
        "slack-ml", "slack", url_env="SLACK_WEBHOOK_URL", timeout="5s"
    )
    assert settings.retry == RetrySettings(base_seconds=2, cap_seconds=600, max_attempts=5)
    configs = channel_configs(settings)
    assert configs["slack-ml"].timeout_seconds == 5 and configs["log"].path == ".driftwatch/alerts.log"

    default = parse_alerting(file, tmp_path, None)
    assert default.rules == tmp_path / "alert_rules" and default.enabled and not default.channels


SECRET = "https://hooks.slack.com/services/T000/B000/SECRETSECRET"


@pytest.mark.parametrize(
    ("section", "key", "message"),
    [
        ({"rule": "x"}, "alerting.rule", "did you mean 'rules'?"),
        ({"enabled": "yes"}, "alerting.enabled", "true or false"),
        ({"channels": {"s": {"type": "slack", "url": SECRET}}}, "alerting.channels.s.url", "secrets"),
        ({"channels": {"s": {"type": "slack", "url_env": SECRET}}}, "alerting.channels.s.url_env", "NAME"),
        (
            {"channels": {"s": {"type": "teams", "url_env": "X"}}},
            "alerting.channels.s.type",
            "slack, webhook, log",
        ),
        ({"channels": {"s": {"type": "log"}}}, "alerting.channels.s.path", "file to append"),
        (
            {"channels": {"s": {"type": "log", "path": "a", "url_env": "X"}}},
            "alerting.channels.s.url_env",
            "unknown",
        ),
        ({"retry": {"base": "1m", "cap": "10s"}}, "alerting.retry.cap", "at least"),
        ({"retry": {"max_attempts": 0}}, "alerting.retry.max_attempts", ">= 1"),
        ({"report_base_url": "driftwatch.example.com"}, "alerting.report_base_url", "external URL"),
        ({"backfill": "soon"}, "alerting.backfill", "duration"),
    ],
)
def test_parse_alerting_errors_name_the_key_and_never_echo_a_url(
    tmp_path: Path, section: dict[str, object], key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_alerting(tmp_path / "driftwatch.yml", tmp_path, section)
    assert caught.value.key == key
    assert message in str(caught.value)
    assert "SECRETSECRET" not in str(caught.value)


def test_alerting_settings_are_read_from_the_config_file(project: Path) -> None:
    settings = alerting_settings(load_settings(project))
    assert settings.rules == project.parent / "alert_rules" and settings.base_dir == project.parent
    assert prepare_alerting(settings) is None  # no rules folder: alerting is off


def test_alerting_settings_are_the_section_load_settings_parsed(project: Path) -> None:
    """`load_settings` always parses `alerting:` (the defaults when absent), so `alerting_settings` hands that
    object on; a `Settings` built without the section gets the same defaults."""
    loaded = load_settings(project)
    assert loaded.alerting is not None
    assert alerting_settings(loaded) is loaded.alerting
    assert alerting_settings(dataclasses.replace(loaded, alerting=None)) == loaded.alerting
