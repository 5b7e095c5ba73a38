"""Data quality end to end: a demo project on a real DuckDB file, one real cycle with alerting and reports, then
what was stored, what fired, what the report, the API, `/metrics` and `driftwatch run` show."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _service import TestClient, make_project
from driftwatch.api.app import create_app
from driftwatch.cli import app as cli_app
from driftwatch.config.loading import load_settings
from driftwatch.config.server import ServerSettings
from driftwatch.config.settings import Settings
from driftwatch.demo import STABLE, STUCK_FEATURE, DemoSpec, write_demo_project
from driftwatch.pipeline.alerts import alerting_settings, collect_samples, prepare_alerting
from driftwatch.pipeline.cycle import CycleSummary, run_cycle, run_monitor
from driftwatch.reports.site import window_page
from driftwatch.storage import alerts as alert_store
from driftwatch.storage.database import Database
from driftwatch.storage.quality import QualityKey, QualityRow, quality_results, replace_quality

MONITOR = "credit-default"
END = datetime(2026, 11, 1, tzinfo=UTC)
SPEC = DemoSpec(days=10, rows_per_day=800, reference_rows=6000, drift_day=5, missing_day=7, end=END)
LAST = END - timedelta(days=1)
TOKEN = "quality-token-7c1e"


# A rule on any failed feature check, beside the demo's rules (docs/quality.md, "Where the results go").
QUALITY_RULES = """\
channels:
  quality-log: {type: log, path: .driftwatch/quality-alerts.log}
route: {channels: [quality-log]}
groups:
  - name: data-quality
    rules:
      - alert: DataQualityFailed
        select: {monitor: "*", metric: quality_feature_status, feature: "*"}
        condition: {op: ">=", threshold: 2}
        labels: {severity: warning}
        annotations:
          summary: "Data-quality check failed on {{ feature }} ({{ monitor }} {{ model_version }})"
"""


@dataclass
class Project:
    settings: Settings
    db: Database
    summary: CycleSummary


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """One 10-day demo project, one cycle with alerting, its reports rendered (income stuck on the last day)."""
    settings = load_settings(write_demo_project(tmp_path_factory.mktemp("quality") / "demo", SPEC))
    (settings.config_path.parent / "alert_rules" / "quality.yml").write_text(QUALITY_RULES)
    run = prepare_alerting(alerting_settings(settings))
    assert run is not None
    with Database(settings.storage, settings.database) as db:
        summary = run_monitor(db, settings, MONITOR, now=END, alerting=run)
        yield Project(settings, db, summary)


def rows(project: Project, **filters: object) -> list[QualityRow]:
    return quality_results(
        project.db.cursor(),
        MONITOR,
        filters.get("scope"),  # type: ignore[arg-type]
        filters.get("status"),  # type: ignore[arg-type]
        None,
        None,
        100_000,
    )


def test_the_stuck_column_fails_and_nothing_stable_fails(project: Project) -> None:
    stored = rows(project, scope="window")
    failed = {(r.check, r.feature, r.window_start) for r in stored if r.status == "fail"}
    assert ("constant", STUCK_FEATURE, LAST) in failed
    # Only on the stuck day: the income of every other window is varied.
    assert {w for c, f, w in failed if (c, f) == ("constant", STUCK_FEATURE)} == {LAST}
    constant = next(
        r for r in stored if (r.check, r.feature, r.window_start) == ("constant", STUCK_FEATURE, LAST)
    )
    assert "every one of 800 values is 52000" in constant.reason
    # The planted drift shows as what it is in data terms: a new region, debt_ratio missing.
    assert ("categories", "region", LAST) in failed
    assert ("missing", "debt_ratio", LAST) in failed
    # Stable features never fail a check, and no check fires where no problem was planted.
    assert not {f for _, f, _ in failed} & set(STABLE)
    assert {(c, f) for c, f, _ in failed} <= {
        ("constant", STUCK_FEATURE),
        ("categories", "region"),
        ("missing", "debt_ratio"),
    }


def test_values_outside_the_range_are_counted_in_the_window(project: Project) -> None:
    """Income moves up 35 % from the drift day: some windows reach past the learned range. The stored share is
    the exact count of the window's rows outside it (checked here against the database)."""
    outside = [r for r in rows(project, scope="window") if r.check == "range" and r.status != "ok"]
    for r in outside:
        low, high = (
            float(v.replace(",", "")) for v in r.reason.split("allowed [", 1)[1].split("]", 1)[0].split(", ")
        )
        column = '"prediction"' if r.feature == "raw_prediction" else f'"f:{r.feature}"'
        count, present = (
            project.db.cursor()
            .execute(
                f"SELECT count(*) FILTER (WHERE {column} < ? OR {column} > ?), count({column}) "
                f'FROM "predictions:{MONITOR}" WHERE ts >= ? AND ts < ?',
                [low, high, r.window_start.replace(tzinfo=None), r.window_end.replace(tzinfo=None)],
            )
            .fetchone()
        )
        assert r.value == pytest.approx(count / present, abs=1e-4), r.reason
        assert f"{count:,} of {present:,} values outside" in r.reason


def test_row_count_is_judged_once_there_is_history(project: Project) -> None:
    counts = sorted(
        (r.window_start, r.status) for r in rows(project, scope="window") if r.check == "row_count"
    )
    assert len(counts) == SPEC.days
    assert [s for _, s in counts[:7]] == ["not_judged"] * 7
    assert [s for _, s in counts[7:]] == ["ok"] * 3  # 800 rows a day: the usual volume


def test_the_cycle_checks_its_ingest(project: Project) -> None:
    cycle = {(r.check, r.feature): r for r in rows(project, scope="cycle")}
    ingest = project.summary.ingest
    parse = cycle[("parse", None)]
    assert parse.status == "warn"  # 3 malformed rows a day: > 0, < 1 %
    assert parse.value == pytest.approx(ingest.rows_quarantined / ingest.rows_read)
    assert "feature 'age': … is not a number: 10" in parse.reason
    assert cycle[("type", "age")].status == "warn"
    assert cycle[("type", "income")].status == "ok"
    duplicates = cycle[("duplicates", None)]
    assert duplicates.value == pytest.approx(ingest.rows_duplicate / ingest.rows_read)
    assert duplicates.status == "ok"


def test_alert_samples(project: Project) -> None:
    samples = collect_samples(project.db, project.settings.monitor(MONITOR), END).samples
    by = {(s.metric, s.feature, s.model_version, s.window_start): s.value for s in samples}
    assert by[("quality_constant", STUCK_FEATURE, "v3.2", LAST)] == 2
    assert by[("quality_feature_status", STUCK_FEATURE, "v3.2", LAST)] == 2
    assert (
        by[("quality_failures", None, "v3.2", LAST)] == 3
    )  # income constant, region categories, debt missing
    assert by[("quality_status", None, "v3.2", LAST)] == 2
    assert by[("quality_row_count", None, "v3.2", LAST)] == 0
    assert by[("quality_row_count", None, "v3.2", END - timedelta(days=SPEC.days))] is None  # not judged
    # age's malformed rows warn in the cycle's `quality_type`, a series of its own: its windows stay ok.
    cycle_type = [
        s for s in samples if (s.metric, s.feature, s.model_version) == ("quality_type", "age", "*")
    ]
    assert [s.value for s in cycle_type] == [1]
    assert {v for (m, f, _, _), v in by.items() if (m, f) == ("quality_feature_status", "age")} == {0}


def test_the_failure_fires_a_rule(project: Project) -> None:
    firing = alert_store.alert_instances(project.db.cursor(), ("firing",), MONITOR)
    quality = {a["feature"] for a in firing if a["rule"] == "DataQualityFailed"}
    assert STUCK_FEATURE in quality
    assert not quality & set(STABLE)


def test_the_window_report_shows_the_section(project: Project) -> None:
    page = project.settings.reports_dir / window_page(MONITOR, "v3.2", "*", LAST)
    html = page.read_text()
    assert 'id="quality"' in html and 'id="quality-table"' in html
    section = html[html.index('id="quality"') :]
    assert "constant" in section and "every one of 800 values is 52000" in section
    assert "status-fail" in section
    segment = project.settings.reports_dir / window_page(MONITOR, "v3.2", "environment=prod-us-west1", LAST)
    assert "see the all-rows page" in segment.read_text()


@pytest.fixture(scope="module")
def client(project: Project) -> TestClient:
    app = create_app(project.settings, project.db, ServerSettings(), token=TOKEN)
    return TestClient(app, raise_server_exceptions=False)


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_api_lists_the_failures(client: TestClient) -> None:
    response = client.get(f"/api/monitors/{MONITOR}/quality", params={"status": "fail"}, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert body["failures"] == body["total"] > 0 and body["warnings"] == 0
    assert any(
        i["check"] == "constant"
        and i["feature"] == STUCK_FEATURE
        and i["window_start"].startswith("2026-10-31")
        for i in body["items"]
    )
    cycle = client.get(f"/api/monitors/{MONITOR}/quality", params={"scope": "cycle"}, headers=AUTH).json()
    assert {i["scope"] for i in cycle["items"]} == {"cycle"} and cycle["total"] > 0
    dated = client.get(
        f"/api/monitors/{MONITOR}/quality", params={"from": "2026-10-31", "scope": "window"}, headers=AUTH
    ).json()
    assert {i["window_start"][:10] for i in dated["items"]} == {"2026-10-31"}


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/monitors/nope/quality", {}, 404),
        (f"/api/monitors/{MONITOR}/quality", {"scope": "day"}, 422),
        (f"/api/monitors/{MONITOR}/quality", {"status": "broken"}, 422),
        (f"/api/monitors/{MONITOR}/quality", {"limit": "0"}, 422),
        (f"/api/monitors/{MONITOR}/quality", {"from": "yesterday"}, 422),
        (f"/api/monitors/{MONITOR}/quality", {"to": "0.5"}, 422),
    ],
)
def test_api_refuses_bad_requests_with_4xx(
    client: TestClient, path: str, params: dict[str, str], status: int
) -> None:
    response = client.get(path, params=params, headers=AUTH)
    assert response.status_code == status, response.text


def test_api_needs_the_token_when_reads_are_not_public(project: Project) -> None:
    app = create_app(project.settings, project.db, ServerSettings(public_reads=False), token=TOKEN)
    private = TestClient(app, raise_server_exceptions=False)
    assert private.get(f"/api/monitors/{MONITOR}/quality").status_code == 401
    assert private.get(f"/api/monitors/{MONITOR}/quality", headers=AUTH).status_code == 200


def test_metrics_export_the_latest_status(client: TestClient) -> None:
    text = client.get("/metrics").text
    line = next(
        line
        for line in text.splitlines()
        if line.startswith("driftwatch_quality_status{")
        and 'check="constant"' in line
        and f'feature="{STUCK_FEATURE}"' in line
    )
    assert line.endswith(" 2.0")
    failures = next(line for line in text.splitlines() if line.startswith("driftwatch_quality_failures{"))
    assert float(failures.rsplit(" ", 1)[1]) >= 3


def test_a_second_run_changes_nothing(project: Project) -> None:
    before = [(r.check, r.feature, r.window_start, r.status, r.value) for r in rows(project)]
    again = run_cycle(project.db, project.settings.monitor(MONITOR), now=END)
    assert again.windows_computed == 0 and again.quality.checked == 0
    assert [(r.check, r.feature, r.window_start, r.status, r.value) for r in rows(project)] == before


def test_a_recomputed_window_replaces_its_results(tmp_path: Path) -> None:
    settings = load_settings(make_project(tmp_path / "demo"))
    with Database(settings.storage, settings.database) as db:
        key = QualityKey(MONITOR, "window", "v1", LAST, END)
        for status in ("fail", "ok"):
            with db.transaction() as tx:
                replace_quality(tx, key, [("range", "age", status, 0.1, 0.0, 0.01, "r")], "run", END)
        stored = quality_results(db.cursor(), MONITOR, None, None, None, None, 10)
        assert [(r.check, r.feature, r.status) for r in stored] == [("range", "age", "ok")]


def test_run_prints_how_many_checks_failed(tmp_path: Path) -> None:
    config = make_project(tmp_path / "demo")  # 4 days, income stuck on the last
    result = CliRunner().invoke(cli_app, ["run", "--config", str(config)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "data quality:" in output
    assert f"constant on {STUCK_FEATURE} (1×)" in output
    shutil.rmtree(tmp_path / "demo", ignore_errors=True)
