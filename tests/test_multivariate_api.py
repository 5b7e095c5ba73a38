"""Multivariate results over HTTP (`GET /api/monitors/{name}/multivariate`, `/metrics`) and as alert-rule
samples, from one real cycle on Parquet files and a DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from _multivariate_data import write_project
from _service import TestClient
from driftwatch.alerting.evaluation import evaluate
from driftwatch.alerting.rules import load_rules
from driftwatch.api.app import create_app
from driftwatch.config.loading import load_settings
from driftwatch.config.settings import Settings
from driftwatch.pipeline.alerts.samples import collect_samples
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.reports.site import render_reports
from driftwatch.storage.database import Database

NOW = datetime(2026, 1, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Database]]:
    config = write_project(
        tmp_path_factory.mktemp("mv"), days=3, rows_per_day=800, flipped_days={1}, multivariate="true"
    )
    settings = load_settings(config)
    with Database(settings.storage, settings.database) as db:
        run_cycle(db, settings.monitor("mv"), now=NOW)
        yield settings, db


def test_route_lists_results_newest_first_with_filters(project: tuple[Settings, Database]) -> None:
    settings, db = project
    client = TestClient(create_app(settings, db))
    body = client.get("/api/monitors/mv/multivariate").json()
    assert body["enabled"] is True
    items = body["items"]
    assert len(items) == 6
    assert [i["window_start"][:10] for i in items[::2]] == ["2026-01-03", "2026-01-02", "2026-01-01"]
    flipped = [i for i in items if i["window_start"].startswith("2026-01-02")]
    assert {i["method"]: i["status"] for i in flipped} == {"classifier": "drift", "reconstruction": "drift"}
    auc = next(i for i in flipped if i["method"] == "classifier")
    assert auc["low"] > 0.52 and auc["low"] <= auc["value"] <= auc["high"] and auc["rows"] == 800
    only = client.get(
        "/api/monitors/mv/multivariate",
        params={"method": "reconstruction", "from": "2026-01-02", "to": "2026-01-03T00:00:00Z"},
    ).json()["items"]
    assert [(i["method"], i["window_start"][:10]) for i in only] == [("reconstruction", "2026-01-02")]
    assert client.get("/api/monitors/nope/multivariate").status_code == 404
    assert client.get("/api/monitors/mv/multivariate", params={"method": "pca"}).status_code == 422


def test_metrics_export_the_latest_window(project: tuple[Settings, Database]) -> None:
    settings, db = project
    text = TestClient(create_app(settings, db)).get("/metrics").text
    assert (
        'driftwatch_multivariate_status{method="reconstruction",model_version="*",monitor="mv"} 0.0' in text
    )
    assert 'driftwatch_multivariate_value{method="classifier",model_version="*",monitor="mv"}' in text
    assert 'driftwatch_metrics_collect_errors{section="multivariate"}' not in text


def test_alert_samples_and_a_rule_on_them(project: tuple[Settings, Database], tmp_path: Path) -> None:
    settings, db = project
    batch = collect_samples(db, settings.monitor("mv"), NOW)
    mine = {
        (s.metric, s.window_start.day): s.value
        for s in batch.samples
        if s.metric in {"multivariate_status", "pca_reconstruction_error", "domain_classifier_auc"}
    }
    assert mine[("multivariate_status", 2)] == 2.0
    assert mine[("multivariate_status", 1)] in (0.0, 1.0)
    assert mine[("domain_classifier_auc", 2)] is not None and mine[("domain_classifier_auc", 2)] > 0.6
    assert all(
        s.feature is None and s.segment == "*" for s in batch.samples if s.metric == "multivariate_status"
    )
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "channels: {log: {type: log, path: alerts.log}}\nroute: {channels: [log]}\n"
        "groups:\n  - name: mv\n    rules:\n      - alert: MultivariateDrift\n"
        "        select: {monitor: '*', metric: multivariate_status}\n"
        "        condition: {op: '>=', threshold: 2}\n"
    )
    rule_set = load_rules(rules)
    result = evaluate(rule_set, batch.samples, {}, [], NOW)
    fired = [(n.transition.value, n.window_start.day) for n in result.notifications]
    assert fired == [("firing", 2), ("resolved", 3)]


def test_window_page_shows_the_multivariate_section(project: tuple[Settings, Database]) -> None:
    settings, db = project
    written = render_reports(db, settings, monitor="mv")
    pages = {p.name: p for p in written if p.suffix == ".html"}
    flipped = next(p for name, p in pages.items() if "2026-01-02" in name)
    html = flipped.read_text()
    assert 'id="multivariate-table"' in html
    section = html[html.index('id="multivariate"') :]
    assert "domain classifier AUC" in section and "PCA reconstruction error" in section
    assert "<td>drift</td>" in section and "&gt; drift bar" in section  # reasons are escaped
