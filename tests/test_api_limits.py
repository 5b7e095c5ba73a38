"""API edges on a real DuckDB file: deeply nested JSON is a 422 (not a RecursionError 500), bodies over
`server.max_body_bytes` are a 413 on every route, error bodies list at most 100 errors plus a count, query
times are ISO dates within the accepted range, and a 405 names every method of the path."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from _service import MONITOR, TOKEN, TestClient, make_project
from driftwatch.api.app import create_app
from driftwatch.api.errors import MAX_ERRORS
from driftwatch.api.limits import MAX_JSON_DEPTH, json_depth
from driftwatch.config.loading import load_settings
from driftwatch.config.server import ServerSettings
from driftwatch.config.settings import Settings
from driftwatch.storage.database import Database

AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
PUSH = f"/api/monitors/{MONITOR}/predictions"
BODY_ROUTES = (PUSH, f"/api/monitors/{MONITOR}/labels", "/api/silences")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(make_project(tmp_path_factory.mktemp("limits") / "demo"))


@pytest.fixture
def client(base: Settings, tmp_path: Path) -> Iterator[TestClient]:
    shutil.copy(base.storage, tmp_path / "db.duckdb") if base.storage.exists() else None
    settings = dataclasses.replace(base, storage=tmp_path / "db.duckdb", reports_dir=tmp_path / "reports")
    with Database(settings.storage, settings.database) as db:
        app = create_app(settings, db, ServerSettings(max_body_bytes=64 * 1024), token=TOKEN)
        yield TestClient(app, raise_server_exceptions=False)


def _error(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert set(body) <= {"error", "detail", "errors", "errors_omitted"}
    return body


@pytest.mark.parametrize("route", BODY_ROUTES)
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5000, 30_000])
def test_deep_nesting_is_a_422_on_every_body_route(client: TestClient, route: str, depth: int) -> None:
    body = "[" * depth + "]" * depth
    error = _error(client.post(route, content=body, headers=AUTH), 422)
    assert error["detail"] == f"the JSON body nests {depth} levels deep; this server accepts at most 32"


def test_nesting_inside_a_record_counts_and_brackets_in_strings_do_not(client: TestClient) -> None:
    deep: object = 1
    for _ in range(40):
        deep = {"x": deep}
    record = {"request_id": "r1", "timestamp": "2026-11-01T00:00:00Z", "input_features": {"age": deep}}
    error = _error(client.post(PUSH, json={"records": [record]}, headers=AUTH), 422)
    assert "nests 44 levels deep" in str(error["detail"])
    # The same bytes of brackets inside a string are just text: the record is judged on its merits.
    record["input_features"] = {"age": 40, "note": "[" * 100 + '\\"{' * 50}
    answer = client.post(PUSH, json={"records": [record]}, headers=AUTH)
    assert "levels deep" not in answer.text


def test_json_depth_counts_structure_only() -> None:
    # Exact once a body holds more than 32 brackets; below that, the bracket count (a bound) is enough.
    in_strings = b'{"a": [1, {"b": "' + b"[{" * 40 + b'"}], "c": "\\"[[", "d": "\\\\", "e": "]]]]"}'
    assert json.loads(in_strings)["c"] == '"[[' and json.loads(in_strings)["d"] == "\\"
    assert json_depth(in_strings) == 3
    assert json_depth(b"[[[]]]") <= MAX_JSON_DEPTH
    assert json_depth(b"5") == 0
    many = json.dumps([[i] for i in range(1000)]).encode()  # 2001 brackets, 2 levels
    assert json_depth(many) == 2
    assert json_depth(b"[" * 100) == 100  # unclosed: still measured


@pytest.mark.parametrize("route", BODY_ROUTES)
def test_a_body_over_the_limit_is_a_413_declared_or_streamed(client: TestClient, route: str) -> None:
    big = b'{"records": [' + b",".join([b'{"request_id": "x"}'] * 5000) + b"]}"
    assert len(big) > 64 * 1024
    error = _error(client.post(route, content=big, headers=AUTH), 413)
    assert "at most 65536" in str(error["detail"])

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    error = _error(client.post(route, content=chunks(), headers=AUTH), 413)
    assert "over 65536 bytes" in str(error["detail"])


def test_error_bodies_are_bounded(client: TestClient) -> None:
    n = 3000
    answer = client.post(PUSH, content=json.dumps({"records": [{}] * n}), headers=AUTH)
    error = _error(answer, 422)
    assert error["detail"] == f"{n} of {n} record(s) are invalid; nothing was stored"
    errors = error["errors"]
    assert isinstance(errors, list) and len(errors) == MAX_ERRORS
    assert [e["index"] for e in errors] == list(range(MAX_ERRORS))
    assert error["errors_omitted"] == n - MAX_ERRORS
    assert len(answer.content) < 20_000  # ~110 bytes an error before: 330 kB for these 3000


def test_a_long_reason_is_cut(client: TestClient) -> None:
    record = {"request_id": "r1", "timestamp": "x" * 5000, "input_features": {}}
    error = _error(client.post(PUSH, json={"records": [record]}, headers=AUTH), 422)
    (item,) = error["errors"]  # type: ignore[misc]
    assert len(item["reason"]) <= 1000
    assert "errors_omitted" not in error


@pytest.mark.parametrize("value", ["0.5", "1700000000", "-3", "1e9"])
def test_a_number_is_not_a_date(client: TestClient, value: str) -> None:
    for param in ("from", "to"):
        error = _error(client.get(f"/api/monitors/{MONITOR}/windows", params={param: value}), 422)
        assert error["detail"].startswith(f"query.{param}: expected an ISO 8601 date or time")  # type: ignore[union-attr]


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31T23:59:59Z", "1969-12-31T23:59:59", "2200-01-01"])
def test_times_outside_the_range_are_a_422(client: TestClient, value: str) -> None:
    for route in ("windows", "results", "performance"):
        error = _error(client.get(f"/api/monitors/{MONITOR}/{route}", params={"from": value}), 422)
        assert "outside the accepted range of times (from 1970-01-01" in str(error["detail"])


@pytest.mark.parametrize("value", ["1970-01-01", "2199-12-31T23:59:59Z", "2026-11-01T08:00:00+02:00"])
def test_times_inside_the_range_are_accepted(client: TestClient, value: str) -> None:
    assert (
        client.get(f"/api/monitors/{MONITOR}/windows", params={"from": value, "to": value}).status_code == 200
    )


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", f"/api/monitors/{MONITOR}/runs", "GET, POST"),
        ("PUT", "/api/silences", "GET, POST"),
        ("OPTIONS", "/api/silences/abc", "DELETE, GET"),
        ("DELETE", "/health", "GET"),
        ("POST", "/reports/a/b/index.html", "GET"),
    ],
)
def test_405_lists_every_method_of_the_path(client: TestClient, method: str, path: str, allow: str) -> None:
    answer = client.request(method, path, headers=AUTH)
    _error(answer, 405)
    assert answer.headers["allow"] == allow


def test_writes_still_need_the_token(client: TestClient) -> None:
    for route in BODY_ROUTES:
        answer = client.post(route, json={"records": []}, headers={"Content-Type": "application/json"})
        assert answer.status_code == 401, route
