"""Rule files: strict validation with the file, the line and the fix in every error."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from driftwatch.alerting.model import Op, Threshold
from driftwatch.alerting.rules import check_rules, load_rules, rule_files
from driftwatch.config.channels import ChannelConfig, parse_channel_config
from driftwatch.config.issues import RuleError, RuleIssue

REPO = Path(__file__).resolve().parents[2]

VALID = """\
channels:
  slack-ml: {type: slack, url_env: SLACK_WEBHOOK_URL}
  log: {type: log, path: alerts.log}
groups:
  - name: credit-default
    rules:
      - alert: FeaturePSIHigh
        select: {monitor: credit-default, metric: psi, feature: "*"}
        condition: {op: ">", threshold: 0.25, recover: 0.1, min_samples: 500}
        for: 2
        labels: {severity: warning}
        annotations:
          summary: "PSI {{ value | round(3) }} on {{ labels.feature }}"
        route: {channels: [slack-ml], repeat_interval: 24h, send_resolved: true}
      - alert: AUCDrop
        select: {monitor: credit-default, metric: roc_auc}
        condition: {op: "<", threshold: {reference_drop: 0.05}, min_labels: 1000}
        for: 1
        labels: {severity: critical}
        route: {channels: [slack-ml, log]}
"""


def write(tmp_path: Path, text: str, name: str = "rules.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def only_issue(path: Path, known: dict[str, ChannelConfig] | None = None) -> RuleIssue:
    issues = check_rules(path, known)
    assert len(issues) == 1, issues
    assert issues[0].file == str(path)
    return issues[0]


def test_a_valid_file_loads_into_rules(tmp_path: Path) -> None:
    rule_set = load_rules(write(tmp_path, VALID))
    psi, auc = rule_set.rules
    assert psi.name == "FeaturePSIHigh" and psi.line == 7 and psi.group == "credit-default"
    assert psi.select.feature == ("*",) and psi.select.monitor == ("credit-default",)
    assert psi.condition.op is Op.GT and psi.condition.recover == Threshold("absolute", 0.1)
    assert psi.condition.min_samples == 500 and psi.for_windows == 2
    assert psi.route.repeat_interval == timedelta(hours=24) and psi.route.channels == ("slack-ml",)
    assert auc.condition.threshold == Threshold("reference_drop", 0.05)
    assert auc.condition.min_samples == 1000
    assert auc.route.repeat_interval == timedelta(hours=24) and auc.route.send_resolved is True
    assert set(rule_set.channels) == {"slack-ml", "log"}
    assert rule_set.channels["slack-ml"].url_env == "SLACK_WEBHOOK_URL"


def test_the_demo_rules_are_valid() -> None:
    assert check_rules(REPO / "alert_rules") == []
    names = [r.name for r in load_rules(REPO / "alert_rules").rules]
    assert "FeaturePSIHigh" in names and "AUCDrop" in names


@pytest.mark.parametrize(
    ("old", "new", "line", "message", "fix"),
    [
        ("threshold: 0.25, recover", "treshold: 0.25, recover", 9, "unknown key `treshold`", "`threshold`"),
        (
            "        labels: {severity: warning}",
            "        labls: {severity: warning}",
            11,
            "unknown key `labls`",
            "`labels`",
        ),
        ("metric: psi,", "metric: psii,", 8, "unknown metric `psii`", "`psi`"),
        (
            "channels: [slack-ml], repeat",
            "channels: [slak-ml], repeat",
            14,
            "unknown channel `slak-ml`",
            "`slack-ml`",
        ),
        ("{{ value | round(3) }} on", "{{ value | round(3) } on", 13, "does not compile", "Jinja2"),
        ("{{ value | round(3) }} on", "{{ vlaue | round(3) }} on", 13, "unknown variable `vlaue`", "`value`"),
        ("{{ value | round(3) }} on", "{{ value | rund(3) }} on", 13, "does not compile", "Jinja2"),
        ("        for: 2", "        for: 0", 10, "`for`", "whole number"),
        ("        for: 2", "        for: 2d", 10, "`for`", "consecutive windows"),
        ("recover: 0.1,", "recover: 0.3,", 9, "wrong side of the threshold", "recover: 0.125"),
        ('op: ">"', 'op: "=>"', 9, "unknown op '=>'", '">="'),
        ("repeat_interval: 24h", "repeat_interval: 1 day", 14, "not a duration", "6h, 1d"),
        ("repeat_interval: 24h", "repeat_interval: 0h", 14, "not a duration", "30m"),
        ("severity: warning}", "severity: warning, feature: age}", 11, "label `feature`", "reserved"),
        ("send_resolved: true", "send_resolved: yes please", 14, "true or false", ""),
        (
            "      - alert: AUCDrop\n",
            "      - alert: FeaturePSIHigh\n",
            15,
            "defined twice",
            "own `alert` name",
        ),
        (
            "{monitor: credit-default, metric: roc_auc}",
            "{metric: roc_auc, feature: x}",
            16,
            "has no feature",
            "remove",
        ),
        ('op: "<", threshold: {reference', 'op: ">", threshold: {reference', 17, "needs op <", "drop"),
        (
            "min_labels: 1000}",
            "min_labels: 1000, min_samples: 5}",
            17,
            "both min_samples and min_labels",
            "keep one",
        ),
        (
            "threshold: {reference_drop: 0.05}",
            "threshold: {reference_dorp: 0.05}",
            17,
            "`reference_dorp`",
            "`reference_drop`",
        ),
    ],
)
def test_each_error_names_file_line_and_fix(
    tmp_path: Path, old: str, new: str, line: int, message: str, fix: str
) -> None:
    assert old in VALID
    issue = only_issue(write(tmp_path, VALID.replace(old, new, 1)))
    assert issue.line == line, issue
    assert message in issue.message, issue
    assert fix in issue.fix, issue


def test_recovery_on_the_wrong_side_for_a_falling_metric(tmp_path: Path) -> None:
    text = VALID.replace("threshold: {reference_drop: 0.05}", "threshold: 0.7, recover: 0.6")
    issue = only_issue(write(tmp_path, text))
    assert issue.line == 17 and "at or above" in issue.message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        VALID.replace("metric: psi,", "metric: psii,")
        .replace("for: 1", "for: 0")
        .replace("labels: {severity: critical}", "labels: {severity: critical, monitor: x}")
    )
    issues = check_rules(write(tmp_path, text))
    assert sorted(i.line for i in issues) == [8, 18, 19]
    with pytest.raises(RuleError) as caught:
        load_rules(tmp_path / "rules.yml")
    assert caught.value.issues == issues
    assert f"{tmp_path / 'rules.yml'}:8:" in str(caught.value)


def test_a_url_written_into_a_channel_is_refused_without_being_repeated(tmp_path: Path) -> None:
    secret = "https://hooks.slack.com/services/T000/B000/SECRETSECRET"
    text = VALID.replace("{type: slack, url_env: SLACK_WEBHOOK_URL}", f"{{type: slack, url: {secret!r}}}")
    issues = check_rules(write(tmp_path, text))
    assert any("url_env" in i.fix and i.line == 2 for i in issues), issues
    text2 = VALID.replace("url_env: SLACK_WEBHOOK_URL", f"url_env: {secret!r}")
    issues2 = check_rules(write(tmp_path, text2, "two.yml"))
    assert len(issues2) == 1 and "NAME of an environment variable" in issues2[0].message
    for issue in issues + issues2:
        assert "SECRETSECRET" not in str(issue)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("groups:\n  - name: a\n    rules:\n      - alert: X\n    name: b\n", 5, "duplicate key 'name'"),
        ("groups:\n  - name: a\n    rules: [\n", 4, "not valid YAML"),
        ("", 1, "empty"),
        ("- a\n- b\n", 1, "must be a mapping"),
        ("grups: []\n", 1, "unknown key `grups`"),
    ],
)
def test_file_level_problems(tmp_path: Path, text: str, line: int, message: str) -> None:
    issues = check_rules(write(tmp_path, text))
    assert issues and issues[0].line == line and message in issues[0].message, issues


def test_a_rule_without_channels_is_an_error_and_a_file_route_is_the_default(tmp_path: Path) -> None:
    body = """\
groups:
  - name: g
    rules:
      - alert: A
        select: {metric: psi}
        condition: {op: ">", threshold: 0.2}
"""
    issue = only_issue(write(tmp_path, body), {"log": ChannelConfig("log", "log", path="x.log")})
    assert issue.line == 4 and "no channels" in issue.message and "route" in issue.fix
    with_default = "route: {channels: [log], repeat_interval: 6h}\n" + body
    rule_set = load_rules(write(tmp_path, with_default), {"log": ChannelConfig("log", "log", path="x.log")})
    assert rule_set.rules[0].route.channels == ("log",)
    assert rule_set.rules[0].route.repeat_interval == timedelta(hours=6)


def test_channels_may_come_from_the_main_config_but_not_conflict(tmp_path: Path) -> None:
    no_channels = VALID.split("groups:", 1)[1]
    path = write(tmp_path, "groups:" + no_channels)
    known = {
        "slack-ml": parse_channel_config("slack-ml", {"type": "slack", "url_env": "SLACK_WEBHOOK_URL"}),
        "log": parse_channel_config("log", {"type": "log", "path": "alerts.log"}),
    }
    assert len(load_rules(path, known).rules) == 2
    conflicting = {
        **known,
        "slack-ml": parse_channel_config("slack-ml", {"type": "webhook", "url_env": "OTHER"}),
    }
    issue = only_issue(write(tmp_path, VALID, "with_channels.yml"), conflicting)
    assert issue.line == 2 and "declared differently" in issue.message


def test_parse_channel_config_rejects_bad_declarations() -> None:
    with pytest.raises(RuleError) as caught:
        parse_channel_config("hook", {"type": "webhok", "url_env": "X"}, "driftwatch.yml")
    assert "unknown type 'webhok'" in str(caught.value) and "driftwatch.yml" in str(caught.value)
    with pytest.raises(RuleError, match="`urlenv`"):
        parse_channel_config("hook", {"type": "webhook", "url_env": "X", "urlenv": "Y"})
    config = parse_channel_config("hook", {"type": "webhook", "url_env": "HOOK_URL", "timeout": "5s"})
    assert config.timeout_seconds == 5.0 and config.type == "webhook"


def test_a_directory_loads_rule_files_but_not_rule_tests(tmp_path: Path) -> None:
    write(tmp_path, VALID, "a.yml")
    write(tmp_path, "not: [a rule file", "a.test.yml")
    write(tmp_path, "ignored", "notes.txt")
    assert rule_files(tmp_path) == [tmp_path / "a.yml"]
    assert len(load_rules(tmp_path).rules) == 2


def test_rules_across_files_share_channels_and_names(tmp_path: Path) -> None:
    write(tmp_path, VALID, "a.yml")
    second = """\
groups:
  - name: other
    rules:
      - alert: FeaturePSIHigh
        select: {metric: psi}
        condition: {op: ">", threshold: 0.2}
        route: {channels: [log]}
"""
    write(tmp_path, second, "b.yml")
    issues = check_rules(tmp_path)
    assert len(issues) == 1 and issues[0].file == str(tmp_path / "b.yml") and issues[0].line == 4
    assert "a.yml:7" in issues[0].message


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    assert "cannot read" in check_rules(tmp_path / "nope.yml")[0].message
    (tmp_path / "empty").mkdir()
    assert "no rule files" in check_rules(tmp_path / "empty")[0].message
