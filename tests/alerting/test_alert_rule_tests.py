"""`driftwatch rules test`: the shipped demo tests pass, and a wrong expectation fails clearly."""

from __future__ import annotations

from pathlib import Path

from driftwatch.alerting.rule_tests import run_rule_tests

REPO = Path(__file__).resolve().parents[2]

RULES = """\
channels:
  log: {type: log, path: alerts.log}
route: {channels: [log], repeat_interval: 24h}
groups:
  - name: g
    rules:
      - alert: PSIHigh
        select: {metric: psi, feature: "*"}
        condition: {op: ">", threshold: 0.25, recover: 0.1}
        for: 2
        labels: {severity: warning}
        annotations: {summary: "PSI {{ value }} on {{ feature }}"}
"""


def write_pair(tmp_path: Path, tests: str) -> Path:
    (tmp_path / "rules.yml").write_text(RULES, encoding="utf-8")
    path = tmp_path / "rules.test.yml"
    path.write_text(tests, encoding="utf-8")
    return path


def test_the_demo_rule_tests_pass() -> None:
    report = run_rule_tests(REPO / "alert_rules" / "demo.test.yml")
    assert report.ok, report.format()
    assert report.tests_run >= 4


def test_a_passing_test(tmp_path: Path) -> None:
    path = write_pair(
        tmp_path,
        """\
rule_files: [rules.yml]
tests:
  - name: fires
    input_series:
      - labels: {monitor: m, metric: psi, feature: age}
        values: "0.3x2 _ 0.05"
    expected:
      - at_window: 1
        alerts: [{alert: PSIHigh, state: pending}]
      - at_window: 2
        alerts: [{alert: PSIHigh, labels: {feature: age, severity: warning}}]
        notifications: [{alert: PSIHigh, annotations: {summary: "PSI 0.3 on age"}}]
      - at_window: 3
        alerts: [{alert: PSIHigh, state: firing}]
        notifications: []
      - at_window: 4
        alerts: []
        notifications: [{alert: PSIHigh, transition: resolved}]
""",
    )
    report = run_rule_tests(path)
    assert report.ok, report.format()


def test_wrong_expectations_fail_with_clear_messages(tmp_path: Path) -> None:
    path = write_pair(
        tmp_path,
        """\
rule_files: [rules.yml]
tests:
  - name: wrong
    input_series:
      - labels: {monitor: m, metric: psi, feature: age}
        values: "0.3 0.3 0.3"
    expected:
      - at_window: 1
        alerts: [{alert: PSIHigh, state: firing}]
      - at_window: 2
        alerts: []
        notifications: [{alert: PSIHigh, annotations: {summary: "PSI 0.30 on age"}}]
      - at_window: 9
        alerts: []
""",
    )
    report = run_rule_tests(path)
    assert not report.ok and report.tests_run == 1
    messages = [str(f) for f in report.failures]
    assert messages[0] == "wrong (window 9): at_window is outside the series (1..3)"
    assert "expected alert PSIHigh firing {}, got: PSIHigh pending {feature=age" in messages[1]
    assert report.failures[1].line == 9
    assert messages[2].startswith("wrong (window 2): unexpected alert PSIHigh firing {feature=age")
    assert report.failures[2].line == 10
    assert "with annotations {'summary': 'PSI 0.30 on age'}" in messages[3]
    assert "'summary': 'PSI 0.3 on age'" in messages[3]
    assert "1 test(s), 4 failure(s): FAILED" in report.format()


def test_an_invalid_test_file_reports_lines(tmp_path: Path) -> None:
    path = write_pair(
        tmp_path,
        """\
rule_files: [rules.yml]
window: 1 day
tests:
  - name: bad
    input_series:
      - labels: {monitor: m, metrik: psi}
        values: "0.3 zero"
    expected:
      - at_windw: 1
""",
    )
    report = run_rule_tests(path)
    found = {(i.line, i.message.split(":")[0]) for i in report.issues}
    assert (2, "`window` in the test file is not a duration") in found
    assert any(line == 6 and "unknown key `metrik`" in msg for line, msg in found)
    assert any(line == 6 and "no `metric`" in msg for line, msg in found)
    assert any(line == 7 and "bad value 'zero'" in msg for line, msg in found)
    assert any(line == 9 and "unknown key `at_windw`" in msg for line, msg in found)


def test_invalid_rule_files_are_reported(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(RULES.replace("for: 2", "for: 0"), encoding="utf-8")
    path = tmp_path / "t.test.yml"
    path.write_text("rule_files: [rules.yml]\ntests: []\n", encoding="utf-8")
    report = run_rule_tests(path)
    assert [i.line for i in report.issues] == [10] and not report.ok
