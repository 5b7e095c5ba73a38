"""The API on a real temporary DuckDB file, through FastAPI's TestClient: reads, writes, auth, errors, reports,
metrics, and a hypothesis fuzzer over the OpenAPI schema that asserts no request ever gets a 5xx."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from _service import MONITOR, ROWS_PER_DAY, TOKEN, TestClient, labels_for, make_project, next_day_records
from driftwatch.api.app import create_app
from driftwatch.config.loading import load_settings
from driftwatch.config.server import ServerSettings
from driftwatch.config.settings import Settings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.storage.database import Database

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A 4-day demo project with one cycle run (a checkpointed DuckDB file each test copies)."""
    root = tmp_path_factory.mktemp("api")
    settings = load_settings(make_project(root / "demo"))
    with Database(settings.storage, settings.database) as db:
        run_cycle(db, settings.monitor(MONITOR))
        db.checkpoint()
    return settings


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return next_day_records(tmp_path_factory.mktemp("extra") / "demo")


def _copy(base: Settings, folder: Path) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    storage = folder / "driftwatch.duckdb"
    shutil.copy(base.storage, storage)
    return dataclasses.replace(base, storage=storage, reports_dir=folder / "reports")


@pytest.fixture
def settings(base: Settings, tmp_path: Path) -> Settings:
    return _copy(base, tmp_path / "db")


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    with Database(settings.storage, settings.database) as database:
        yield database


def client_for(settings: Settings, db: Database, token: str | None = TOKEN, **server: Any) -> TestClient:
    app = create_app(settings, db, ServerSettings(**server), token=token)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(settings: Settings, db: Database) -> TestClient:
    return client_for(settings, db)


def _stored(client: TestClient) -> int:
    body = client.get(f"/api/monitors/{MONITOR}").json()
    return int(body["predictions_stored"])


# --- reads ---------------------------------------------------------------------------------------------------


def test_health_and_monitors(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["scheduler_running"] is False
    (mon,) = health["monitors"]
    assert mon["name"] == MONITOR and mon["last_run_status"] == "ok"
    assert mon["last_successful_cycle"].endswith("Z")

    (info,) = client.get("/api/monitors").json()
    assert info["window"] == "1d" and info["schedule"] == "15 0 * * *"
    assert info["latest_window"]["window_start"] == "2026-10-31T00:00:00Z"
    detail = client.get(f"/api/monitors/{MONITOR}").json()
    assert detail["predictions_stored"] == 4 * ROWS_PER_DAY
    assert detail["rows_quarantined"] >= 4 * 3
    assert detail["windows_computed"] == 4 and detail["windows_queued"] == 0


def test_windows_and_results_count_judged_and_not_judged_windows(client: TestClient, tmp_path: Path) -> None:
    # Judged windows (600 rows, min_rows 500): all counted as judged.
    windows = client.get(f"/api/monitors/{MONITOR}/windows").json()
    assert (windows["judged"], windows["not_judged"]) == (4, 0)
    results = client.get(f"/api/monitors/{MONITOR}/results").json()
    assert (results["windows_judged"], results["windows_not_judged"]) == (4, 0)
    # The counts cover every matching window, not just the page shown.
    page = client.get(f"/api/monitors/{MONITOR}/windows", params={"limit": 1}).json()
    assert (page["judged"], page["not_judged"]) == (4, 0)

    # The same project with min_rows above the windows' 600 rows: nothing judged, and the API says so
    # instead of a page of windows that merely lack drift.
    config = make_project(tmp_path / "small")
    config.write_text(config.read_text().replace("min_rows: 500", "min_rows: 700"))
    small = load_settings(config)
    with Database(small.storage, small.database) as db:
        run_cycle(db, small.monitor(MONITOR))
        unjudged = client_for(small, db)
        windows = unjudged.get(f"/api/monitors/{MONITOR}/windows").json()
        assert (windows["total"], windows["judged"], windows["not_judged"]) == (4, 0, 4)
        assert {w["status"] for w in windows["items"]} == {"insufficient_data"}
        results = unjudged.get(f"/api/monitors/{MONITOR}/results").json()
        assert (results["windows_judged"], results["windows_not_judged"]) == (0, 4)
        assert {r["status"] for r in results["items"]} == {"insufficient_data"}


def test_windows_and_results_with_filters(client: TestClient) -> None:
    windows = client.get(f"/api/monitors/{MONITOR}/windows").json()
    assert windows["total"] == 4 and [w["rows"] for w in windows["items"]] == [ROWS_PER_DAY] * 4
    page = client.get(f"/api/monitors/{MONITOR}/windows", params={"limit": 1, "offset": 3}).json()
    assert page["items"][0]["window_start"] == "2026-10-31T00:00:00Z" and page["total"] == 4

    all_rows = client.get(f"/api/monitors/{MONITOR}/results").json()
    assert all_rows["total"] == 4 * 10  # 8 features + the score and the decision mix
    income = client.get(
        f"/api/monitors/{MONITOR}/results",
        params={"feature": "income", "from": "2026-10-30T00:00:00Z", "to": "2026-11-01"},
    ).json()
    assert [r["window_start"] for r in income["items"]] == ["2026-10-30T00:00:00Z", "2026-10-31T00:00:00Z"]
    assert all(r["status"] == "drift" for r in income["items"])  # drift planted from day 2
    first = income["items"][0]
    assert first["psi"] == first["statistics"]["psi"] and first["ks_statistic"] is not None

    assert client.get(f"/api/monitors/{MONITOR}/results", params={"model_version": "v9"}).json()["total"] == 0
    segment = client.get(
        f"/api/monitors/{MONITOR}/results", params={"segment": "environment=prod-us-west1", "feature": "age"}
    ).json()
    assert segment["total"] == 4 and segment["items"][0]["segment"] == "environment=prod-us-west1"


def test_rollup(client: TestClient) -> None:
    body = client.get(f"/api/monitors/{MONITOR}/results", params={"rollup": "2d", "feature": "region"}).json()
    assert body["rollup"] == "2d"
    assert [(r["window_start"], r["windows"]) for r in body["items"]] == [
        ("2026-10-27T00:00:00Z", 1),
        ("2026-10-29T00:00:00Z", 2),
        ("2026-10-31T00:00:00Z", 1),
    ]
    assert body["items"][0]["ks_statistic"] is None  # not mergeable
    bad = client.get(f"/api/monitors/{MONITOR}/results", params={"rollup": "36h"})
    # A bad query parameter is a 422 naming it, like every other invalid parameter (documented in the schema).
    assert bad.status_code == 422 and "whole multiple of the window" in bad.json()["detail"]
    assert bad.json()["detail"].startswith("query.rollup: ")
    assert client.get(f"/api/monitors/{MONITOR}/results", params={"rollup": "soon"}).status_code == 422


def test_performance_alerts_runs(client: TestClient, db: Database) -> None:
    perf = client.get(f"/api/monitors/{MONITOR}/performance")
    assert perf.status_code == 200
    if db.table_exists("performance_results"):
        assert isinstance(perf.json()["items"], list)
    alerts = client.get("/api/alerts").json()
    assert alerts["items"] == [] or isinstance(alerts["items"][0], dict)
    runs = client.get("/api/runs").json()
    assert runs["total"] == 1 and runs["items"][0]["status"] == "ok" and runs["items"][0]["seconds"] > 0
    assert client.get(f"/api/monitors/{MONITOR}/runs").json()["total"] == 1
    assert client.get("/api/runs", params={"status": "failed"}).json()["total"] == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/monitors/nope"),
        ("get", "/api/monitors/nope/windows"),
        ("get", "/api/monitors/nope/results"),
        ("get", "/api/monitors/nope/performance"),
        ("get", "/api/monitors/nope/runs"),
        ("get", "/api/runs?monitor=nope"),
        ("post", "/api/monitors/nope/runs"),
        ("post", "/api/monitors/nope/predictions"),
        ("post", "/api/monitors/nope/labels"),
    ],
)
def test_unknown_monitor_is_404(client: TestClient, method: str, path: str) -> None:
    response = client.request(method.upper(), path, headers=AUTH, json={"records": [{}]})
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": f"no monitor named 'nope' (known: {MONITOR})"}


@pytest.mark.parametrize(
    "query",
    [
        {"from": "yesterday"},
        {"to": "2026-13-45"},
        {"limit": 0},
        {"limit": 10**12},
        {"offset": -1},
        {"limit": "ten"},
        {"feature": "x" * 500},
    ],
)
def test_bad_query_parameters_are_422(client: TestClient, query: dict[str, Any]) -> None:
    response = client.get(f"/api/monitors/{MONITOR}/results", params=query)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request" and body["errors"][0]["where"].startswith("query.")


# --- auth ----------------------------------------------------------------------------------------------------


def test_writes_need_the_token(settings: Settings, db: Database, caplog: pytest.LogCaptureFixture) -> None:
    client = client_for(settings, db)
    with caplog.at_level(logging.DEBUG):
        missing = client.post(f"/api/monitors/{MONITOR}/runs")
        wrong = client.post(f"/api/monitors/{MONITOR}/runs", headers={"Authorization": "Bearer nope"})
        basic = client.post(f"/api/monitors/{MONITOR}/runs", headers={"Authorization": f"Basic {TOKEN}"})
    for response in (missing, wrong, basic):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert TOKEN not in response.text
    assert TOKEN not in caplog.text
    ok = client.post(f"/api/monitors/{MONITOR}/runs", headers=AUTH)
    assert ok.status_code == 200 and ok.json()["windows_computed"] == 0
    assert TOKEN not in repr(client.app.state.driftwatch.auth)  # type: ignore[attr-defined]


def test_no_token_configured_disables_writes_with_a_clear_message(settings: Settings, db: Database) -> None:
    client = client_for(settings, db, token="", token_env="DW_TEST_TOKEN_UNSET")
    response = client.post(f"/api/monitors/{MONITOR}/runs", headers=AUTH)
    assert response.status_code == 401
    assert "set the environment variable DW_TEST_TOKEN_UNSET" in response.json()["detail"]


def test_token_from_the_named_environment_variable(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DW_TEST_TOKEN", "from-env-123")
    app = create_app(settings, db, ServerSettings(token_env="DW_TEST_TOKEN"))
    client = TestClient(app)
    headers = {"Authorization": "Bearer from-env-123"}
    assert client.post(f"/api/monitors/{MONITOR}/runs", headers=headers).status_code == 200


def test_private_reads(settings: Settings, db: Database) -> None:
    client = client_for(settings, db, public_reads=False)
    for path in (
        "/api/monitors",
        f"/api/monitors/{MONITOR}/results",
        "/metrics",
        "/api/reports",
        "/reports/x.html",
    ):
        assert client.get(path).status_code == 401, path
    assert client.get("/api/monitors", headers=AUTH).status_code == 200
    assert client.get("/health").status_code == 200  # liveness stays open


# --- writes --------------------------------------------------------------------------------------------------


def test_push_predictions_then_run(client: TestClient, records: list[dict[str, Any]]) -> None:
    before = _stored(client)
    first = client.post(f"/api/monitors/{MONITOR}/predictions", headers=AUTH, json={"records": records})
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["received"], body["inserted"], body["duplicate"]) == (ROWS_PER_DAY, ROWS_PER_DAY, 0)
    again = client.post(
        f"/api/monitors/{MONITOR}/predictions", headers=AUTH, json=records
    )  # a bare list works too
    assert (again.json()["inserted"], again.json()["duplicate"]) == (0, ROWS_PER_DAY)
    assert _stored(client) == before + ROWS_PER_DAY
    # The pushed window waits for the next cycle: counted as queued (once) in the API and the metrics.
    assert client.get(f"/api/monitors/{MONITOR}").json()["windows_queued"] == 1
    assert f'driftwatch_windows_queued{{monitor="{MONITOR}"}} 1.0' in client.get("/metrics").text

    run = client.post(f"/api/monitors/{MONITOR}/runs", headers=AUTH).json()
    assert run["windows_computed"] == 1
    assert client.get(f"/api/monitors/{MONITOR}").json()["windows_queued"] == 0
    (window,) = run["windows"]
    assert window["window_start"] == "2026-11-01T00:00:00Z" and window["rows"] == ROWS_PER_DAY
    results = client.get(f"/api/monitors/{MONITOR}/results", params={"from": "2026-11-01T00:00:00Z"}).json()
    assert results["total"] == 10  # 8 features + 2 model outputs
    assert {r["feature"] for r in results["items"] if r["status"] == "drift"} >= {"income", "region"}


def test_bad_batch_is_refused_whole_with_per_record_errors(
    client: TestClient, records: list[dict[str, Any]]
) -> None:
    before = _stored(client)
    batch = [dict(r) for r in records[:5]]
    batch[1]["timestamp"] = "tomorrow-ish"
    del batch[2]["request_id"]
    batch[3]["input_features"] = {"age": "forty", "income": 5000}
    batch.append(["not", "an", "object"])  # type: ignore[arg-type]
    response = client.post(f"/api/monitors/{MONITOR}/predictions", headers=AUTH, json={"records": batch})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "4 of 6 record(s) are invalid; nothing was stored"
    errors = {e["index"]: e for e in body["errors"]}
    assert set(errors) == {1, 2, 3, 5}
    assert "unparseable timestamp 'tomorrow-ish'" in errors[1]["reason"]
    assert errors[1]["request_id"] == records[1]["request_id"]
    assert errors[2]["reason"] == "missing request_id" and errors[2]["request_id"] is None
    assert "feature 'age'" in errors[3]["reason"] and "not a number" in errors[3]["reason"]
    assert errors[5]["reason"] == "malformed JSON line"
    assert _stored(client) == before


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"rows": []}', 'expected {"records": [...]}'),
        (b"[]", "no records"),
        (b'"text"', "expected"),
        (b'[{"request_id": "a", "timestamp": "2026-11-01T00:00:00Z", "raw_prediction": NaN}]', "NaN"),
    ],
)
def test_malformed_bodies_are_4xx(client: TestClient, body: bytes, fragment: str) -> None:
    response = client.post(
        f"/api/monitors/{MONITOR}/predictions",
        headers={**AUTH, "Content-Type": "application/json"},
        content=body,
    )
    assert response.status_code == 422, response.text
    assert fragment in response.json()["detail"]


def test_body_over_the_limit_is_413(settings: Settings, db: Database, records: list[dict[str, Any]]) -> None:
    client = client_for(settings, db, max_body_bytes=4096)
    before = _stored(client)
    response = client.post(f"/api/monitors/{MONITOR}/predictions", headers=AUTH, json={"records": records})
    assert response.status_code == 413 and "4096" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the streamed size is checked too
        yield json.dumps({"records": records}).encode()

    streamed = client.post(f"/api/monitors/{MONITOR}/predictions", headers=AUTH, content=chunks())
    assert streamed.status_code == 413
    assert _stored(client) == before


def test_push_labels(client: TestClient, records: list[dict[str, Any]]) -> None:
    assert client.post(f"/api/monitors/{MONITOR}/predictions", headers=AUTH, json=records).status_code == 200
    labels = labels_for(records)
    response = client.post(f"/api/monitors/{MONITOR}/labels", headers=AUTH, json={"records": labels})
    assert response.status_code == 200, response.text
    assert response.json()["new"] == len(labels)
    again = client.post(f"/api/monitors/{MONITOR}/labels", headers=AUTH, json={"records": labels}).json()
    assert again["new"] == 0 and again["replaced"] == 0
    assert client.get(f"/api/monitors/{MONITOR}").json()["labels_stored"] >= len(labels)
    bad = client.post(f"/api/monitors/{MONITOR}/labels", headers=AUTH, json=[{"request_id": "x"}])
    assert bad.status_code == 422 and "missing label" in bad.json()["errors"][0]["reason"]


@pytest.mark.parametrize("when", ["9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z"])
def test_a_time_outside_the_accepted_range_is_refused_at_push(
    client: TestClient, records: list[dict[str, Any]], when: str
) -> None:
    """Issue 13.9: a year-9999 push used to be stored, and the next run computed a window from 0001-01-01."""
    before = _stored(client)
    batch = [dict(r) for r in records[:3]]
    batch[1]["timestamp"] = when
    response = client.post(f"/api/monitors/{MONITOR}/predictions", headers=AUTH, json={"records": batch})
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["index"] == 1
    assert error["reason"] == (
        f"timestamp {when[:-1]} UTC is outside the accepted range of times "
        "(from 1970-01-01 up to (not including) 2200-01-01 UTC)"
    )
    assert _stored(client) == before
    labels = labels_for(records[:2])
    labels[0]["labelled_at"] = when
    bad = client.post(f"/api/monitors/{MONITOR}/labels", headers=AUTH, json={"records": labels})
    assert bad.status_code == 422, bad.text
    assert "is outside the accepted range of times" in bad.json()["errors"][0]["reason"]


def test_run_now_waits_for_a_running_cycle_then_409(settings: Settings, db: Database) -> None:
    client = client_for(settings, db, run_wait=timedelta(milliseconds=50))
    runner = client.app.state.driftwatch.runner  # type: ignore[attr-defined]
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with runner.holding(MONITOR):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(5)
        response = client.post(f"/api/monitors/{MONITOR}/runs", headers=AUTH)
        assert response.status_code == 409 and "still running" in response.json()["detail"]
        assert client.get("/health").json()["monitors"][0]["cycle_running"] is True
    finally:
        release.set()
        thread.join()
    assert client.post(f"/api/monitors/{MONITOR}/runs", headers=AUTH).status_code == 200


def test_unexpected_errors_are_a_bare_500(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    @client.app.get("/boom")  # type: ignore[attr-defined]
    def boom() -> None:
        raise RuntimeError("internal detail /srv/secret/path")

    with caplog.at_level(logging.ERROR, logger="driftwatch.api"):
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "detail": "internal error; the server log has the details",
    }
    assert "RuntimeError" in caplog.text


# --- reports, static files, metrics, schema ----------------------------------------------------------------


def test_reports_are_served_from_inside_the_folder_only(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    root = settings.reports_dir
    (root / "credit-default").mkdir(parents=True)
    (root / "index.html").write_text("<h1>reports</h1>")
    (root / "credit-default" / "2026-10-31.html").write_text("<p>day</p>")
    outside = tmp_path / "secret.txt"
    outside.write_text("do not serve")
    (root / "link.txt").symlink_to(outside)
    outside_page = tmp_path / "secret.html"
    outside_page.write_text("do not serve")
    (root / "leak.html").symlink_to(outside_page)  # listed and served by neither route

    assert client.get("/reports/credit-default/2026-10-31.html").text == "<p>day</p>"
    page = client.get("/reports/")
    assert page.status_code == 200 and "reports" in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    for attempt in (
        "/reports/../secret.txt",
        "/reports/%2e%2e/secret.txt",
        "/reports/..%2fsecret.txt",
        "/reports/credit-default/..%2f..%2fsecret.txt",
        f"/reports/{quote(str(outside), safe='')}",
        "/reports/link.txt",
        "/reports/leak.html",
        "/reports/missing.html",
    ):
        response = client.get(attempt)
        assert response.status_code == 404, attempt
        assert "do not serve" not in response.text
    listed = client.get("/api/reports").json()["items"]
    assert {i["url"] for i in listed} == {"/reports/index.html", "/reports/credit-default/2026-10-31.html"}


def test_plotly_script_from_memory_with_caching(client: TestClient) -> None:
    first = client.get("/static/plotly.min.js")
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/javascript")
    assert len(first.content) > 1_000_000 and "max-age" in first.headers["cache-control"]
    etag = first.headers["etag"]
    second = client.get("/static/plotly.min.js", headers={"If-None-Match": etag})
    assert second.status_code == 304 and second.content == b""


def test_metrics_at_exactly_metrics(client: TestClient) -> None:
    response = client.get("/metrics", follow_redirects=False)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    labels = f'feature="income",model_version="v3.2",monitor="{MONITOR}"'
    assert f"driftwatch_feature_psi{{{labels}}}" in text
    assert f"driftwatch_feature_ks_statistic{{{labels}}}" in text
    assert f"driftwatch_feature_status{{{labels}}} 2.0" in text
    assert f'driftwatch_dataset_drift_share{{model_version="v3.2",monitor="{MONITOR}"}}' in text
    assert f'driftwatch_last_successful_cycle_timestamp_seconds{{monitor="{MONITOR}"}}' in text
    assert (
        f'driftwatch_rows_ingested_total{{kind="predictions",monitor="{MONITOR}"}} {4 * ROWS_PER_DAY}.0'
        in text
    )
    assert f'driftwatch_rows_quarantined_total{{kind="predictions",monitor="{MONITOR}"}}' in text
    assert f'driftwatch_cycles_total{{monitor="{MONITOR}",status="ok"}} 1.0' in text
    assert f'driftwatch_cycle_duration_seconds_count{{monitor="{MONITOR}"}} 1.0' in text
    assert "driftwatch_metrics_collect_errors{" not in text


def test_metrics_cap_features_keeping_the_most_severe(settings: Settings, db: Database) -> None:
    text = client_for(settings, db, metrics_max_features=2).get("/metrics").text
    statuses = [line for line in text.splitlines() if line.startswith("driftwatch_feature_status{")]
    assert len(statuses) == 2 and all(line.endswith(" 2.0") for line in statuses)
    assert f'driftwatch_features_not_exported{{monitor="{MONITOR}"}} 8.0' in text  # 10 watched, 2 shown


def test_openapi_documents_the_push_bodies(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    push_op = schema["paths"]["/api/monitors/{name}/predictions"]["post"]
    ref = push_op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/PredictionBatch"
    assert "PredictionRecord" in schema["components"]["schemas"]
    assert "FeatureResult" in schema["components"]["schemas"]
    assert client.get("/docs").status_code == 200


# --- fuzzing -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_client(base: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = _copy(base, tmp_path_factory.mktemp("fuzz"))
    with Database(settings.storage, settings.database) as db:
        yield client_for(settings, db)


_TEXT = st.text(max_size=24)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)
_RECORD = st.fixed_dictionaries(
    {},
    optional={
        "request_id": _JSON | _TEXT,
        "timestamp": st.sampled_from(["2026-11-01T10:00:00Z", "2026-11-01", "x"]) | _JSON,
        "model_version": _JSON,
        "input_features": st.dictionaries(st.sampled_from(["age", "income", "region", "zzz"]), _JSON) | _JSON,
        "raw_prediction": _JSON,
        "business_output": _JSON,
        "environment": _JSON,
        "label": _JSON,
        "labelled_at": _JSON,
    },
)


def _param_value(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    kinds = {s.get("type") for s in schema.get("anyOf", [schema])}
    formats = {s.get("format") for s in schema.get("anyOf", [schema])}
    options: list[st.SearchStrategy[Any]] = [_TEXT]
    if "integer" in kinds:
        options.append(st.integers(-(2**66), 2**66))
    if "date-time" in formats:
        options.append(st.datetimes().map(lambda d: d.isoformat()))
    if "string" in kinds:
        options.append(st.sampled_from(["*", "v3.2", "income", "7d", "1d", "environment=prod-us-west1"]))
    return st.one_of(*options)


@st.composite
def _requests(draw: st.DrawFn, schema: dict[str, Any]) -> tuple[str, str, dict[str, Any], Any]:
    operations = [
        (path, method, op)
        for path, item in sorted(schema["paths"].items())
        for method, op in sorted(item.items())
        if not path.endswith("/runs") or method == "get"  # running cycles is covered elsewhere; keep it fast
    ]
    path, method, op = draw(st.sampled_from(operations))
    query: dict[str, Any] = {}
    for param in op.get("parameters", []):
        if param["in"] == "path":
            value = draw(st.sampled_from([MONITOR, MONITOR]) | _TEXT.filter(bool))
            path = path.replace("{" + param["name"] + "}", quote(str(value), safe=""))
        elif param["in"] == "query" and draw(st.booleans()):
            query[param["name"]] = draw(_param_value(param.get("schema", {})))
    body = None
    if method == "post":
        body = draw(st.lists(_RECORD, max_size=4).map(lambda r: {"records": r}) | _JSON)
    return method, path, query, body


def test_fuzz_openapi_no_5xx(fuzz_client: TestClient) -> None:
    schema = fuzz_client.get("/openapi.json").json()

    @hyp_settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(_requests(schema))
    def check(request: tuple[str, str, dict[str, Any], Any]) -> None:
        method, path, query, body = request
        response = fuzz_client.request(
            method.upper(),
            path,
            params=query,
            headers=AUTH,
            content=None if body is None else json.dumps(body),
        )
        assert response.status_code < 500, (method, path, query, body, response.text[:300])

    check()
