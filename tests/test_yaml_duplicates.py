"""A key written twice in a config file is an error naming the file, the line and the key (PyYAML alone keeps
the last one without a word); a rule file's log channel may not write outside the project folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from driftwatch.alerting.rules import check_rules, load_rules
from driftwatch.config.channels import log_path_problem, parse_channel_config
from driftwatch.config.issues import RuleError
from driftwatch.config.loading import load_settings
from driftwatch.config.yaml_lines import DuplicateKeyError, load_yaml_unique_keys
from driftwatch.errors import ConfigError

MINIMAL = """\
storage: state/dw.duckdb
monitors:
  credit-default:
    window: 1d
    predictions:
      path: data/predictions/*.parquet
    reference:
      path: data/train.parquet
"""


def write(tmp_path: Path, text: str, name: str = "driftwatch.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "line", "key", "first"),
    [
        # a monitor setting: the second `window:` silently won before
        (MINIMAL.replace("    window: 1d\n", "    window: 1d\n    window: 7d\n"), 5, "window", 4),
        # the server section written twice
        (MINIMAL + "server:\n  public_reads: false\nserver:\n  public_reads: true\n", 11, "server", 9),
        # a monitor declared twice: the first one's settings would be lost whole
        (MINIMAL + "  credit-default:\n    predictions: {path: x.parquet}\n", 9, "credit-default", 3),
        # inside a flow mapping
        (MINIMAL.replace("path: data/train.parquet", "{path: a.parquet, path: b.parquet}"), 8, "path", 8),
    ],
)
def test_duplicate_keys_in_driftwatch_yml_name_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, first: int
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: line {line}: duplicate key {key!r} (first at line {first})"), message
    assert caught.value.file == str(path) and caught.value.key == f"line {line}"


def test_merge_keys_may_still_be_overridden() -> None:
    text = "base: &b {window: 1d, segments: []}\nmonitor:\n  <<: *b\n  window: 7d\n"
    assert load_yaml_unique_keys(text)["monitor"] == {"window": "7d", "segments": []}
    assert load_yaml_unique_keys(text) == yaml.safe_load(text)  # otherwise the same as safe_load
    with pytest.raises(DuplicateKeyError):
        load_yaml_unique_keys("a: 1\nb: {c: 1, c: 2}\n")


def test_a_valid_config_still_loads(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL))
    assert list(settings.monitors) == ["credit-default"]


RULES = """\
channels:
  log: {{type: log, path: {path}}}
groups:
  - name: g
    rules:
      - alert: FeaturePSIHigh
        select: {{monitor: credit-default, metric: psi, feature: "*"}}
        condition: {{op: ">", threshold: 0.25}}
        route: {{channels: [log]}}
"""


def test_duplicate_keys_in_a_rule_file_name_the_line(tmp_path: Path) -> None:
    text = RULES.format(path="alerts.log").replace(
        '        condition: {op: ">", threshold: 0.25}\n',
        '        condition: {op: ">", threshold: 0.25}\n        condition: {op: "<", threshold: 0.1}\n',
    )
    (issue,) = check_rules(write(tmp_path, text, "rules.yml"))
    assert issue.line == 9 and "duplicate key 'condition' (first at line 8)" in issue.message


@pytest.mark.parametrize(
    "path", ["/tmp/evil.log", "../outside.log", "logs/../../outside.log", "~/alerts.log", "'C:/x.log'", "."]
)
def test_a_rule_file_log_channel_may_not_write_outside_the_project(tmp_path: Path, path: str) -> None:
    rules = write(tmp_path, RULES.format(path=path), "rules.yml")
    with pytest.raises(RuleError) as caught:
        load_rules(rules)
    (issue,) = caught.value.issues
    assert issue.file == str(rules) and issue.line == 2
    assert "`path` of channel `log`" in issue.message and "inside the project folder" in issue.message


@pytest.mark.parametrize("path", ["alerts.log", ".driftwatch/alerts.log", "logs/./a/../alerts.log"])
def test_a_rule_file_log_channel_inside_the_project_loads(tmp_path: Path, path: str) -> None:
    rule_set = load_rules(write(tmp_path, RULES.format(path=path), "rules.yml"))
    assert rule_set.channels["log"].path == path
    assert log_path_problem(path) is None


def test_the_main_config_may_name_any_log_file() -> None:
    # driftwatch.yml is the operator's own file: /var/log/... is a legitimate destination there.
    config = parse_channel_config("log", {"type": "log", "path": "/var/log/driftwatch/alerts.log"})
    assert config.path == "/var/log/driftwatch/alerts.log"
