"""Silences over the API, on a real temporary DuckDB file through FastAPI's TestClient: add, list, expire, the
next alert evaluation recording a matching alert as suppressed, auth, and bad input answered 422 (never 5xx)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from _service import MONITOR, TOKEN, TestClient, make_project
from driftwatch.api.app import create_app
from driftwatch.config.loading import load_settings
from driftwatch.config.server import ServerSettings
from driftwatch.config.settings import Settings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.storage import alerts as store
from driftwatch.storage.database import Database

AUTH = {"Authorization": f"Bearer {TOKEN}"}
# The demo's data ends 2026-11-01; its last window (10-31) is closed and inside `alerting.backfill`.
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


class Clock:
    """The app's clock, moved by the tests."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The 4-day demo project with one cycle run and no alert evaluated yet (a file each test copies)."""
    settings = load_settings(make_project(tmp_path_factory.mktemp("silences") / "demo"))
    with Database(settings.storage, settings.database) as db:
        run_cycle(db, settings.monitor(MONITOR))
        db.checkpoint()
    return settings


@pytest.fixture
def settings(base: Settings, tmp_path: Path) -> Settings:
    storage = tmp_path / "db" / "driftwatch.duckdb"
    storage.parent.mkdir()
    shutil.copy(base.storage, storage)
    return dataclasses.replace(base, storage=storage, reports_dir=tmp_path / "reports")


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    with Database(settings.storage, settings.database) as database:
        yield database


@pytest.fixture
def clock() -> Clock:
    return Clock()


def client_for(settings: Settings, db: Database, clock: Clock, **server: Any) -> TestClient:
    app = create_app(settings, db, ServerSettings(**server), clock=clock, token=TOKEN)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(settings: Settings, db: Database, clock: Clock) -> TestClient:
    return client_for(settings, db, clock)


def _add(client: TestClient, **body: Any) -> dict[str, Any]:
    payload = {"matchers": {"feature": "age"}, "duration": "2h", "comment": "retraining", **body}
    response = client.post("/api/silences", headers=AUTH, json=payload)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _stored(db: Database) -> list[store.SilenceRow]:
    return store.load_silences(db.cursor())


# --- the whole story -------------------------------------------------------------------------------------


def test_add_list_suppress_expire(client: TestClient, db: Database, clock: Clock) -> None:
    response = client.post(
        "/api/silences",
        headers=AUTH,
        json={
            "matchers": {"alertname": "FeaturePSIHigh", "feature": "income"},
            "ends_at": "2026-11-03T00:00:00Z",
            "comment": "income shift is the new campaign; retraining",
            "created_by": "ana",
        },
    )
    assert response.status_code == 201, response.text
    silence = response.json()
    sid = silence["id"]
    assert silence == {
        "id": sid,
        "matchers": {"alertname": "FeaturePSIHigh", "feature": "income"},
        "starts_at": "2026-11-01T12:00:00Z",
        "ends_at": "2026-11-03T00:00:00Z",
        "comment": "income shift is the new campaign; retraining",
        "created_by": "ana",
        "created_at": "2026-11-01T12:00:00Z",
        "expired_at": None,
        "state": "active",
    }
    assert client.get("/api/silences").json() == {"items": [silence]}
    assert client.get(f"/api/silences/{sid}").json() == silence

    # The next cycle evaluates the alerts: income's PSI alert fires, silenced; region's is sent.
    run = client.post(f"/api/monitors/{MONITOR}/runs", headers=AUTH)
    assert run.status_code == 200, run.text
    firing = {
        (a["rule"], a["feature"])
        for a in client.get("/api/alerts").json()["items"]
        if a["state"] == "firing" and a["segment"] == "*"
    }
    assert {("FeaturePSIHigh", "income"), ("FeaturePSIHigh", "region")} <= firing  # silenced still fire
    suppressed = store.messages(db.cursor(), status="suppressed", limit=1000)
    assert suppressed and {m.silenced_by for m in suppressed} == {sid}
    assert {m.rule for m in suppressed} == {"FeaturePSIHigh"}
    for message in suppressed:
        assert {a["labels"]["feature"] for a in message.payload["alerts"]} == {"income"}
    sent = store.messages(db.cursor(), limit=1000)
    sent_features = {
        a["labels"].get("feature")
        for m in sent
        if m.status != "suppressed" and m.rule == "FeaturePSIHigh"
        for a in m.payload["alerts"]
    }
    assert "region" in sent_features and "income" not in sent_features

    clock.now = NOW + timedelta(hours=1)
    expired = client.delete(f"/api/silences/{sid}", headers=AUTH)
    assert expired.status_code == 200, expired.text
    body = expired.json()
    assert body["state"] == "expired"
    assert body["ends_at"] == body["expired_at"] == "2026-11-01T13:00:00Z"
    clock.now = NOW + timedelta(hours=2)
    again = client.delete(f"/api/silences/{sid}", headers=AUTH)  # idempotent: the first end is kept
    assert again.status_code == 200 and again.json()["ends_at"] == "2026-11-01T13:00:00Z"

    assert client.get("/api/silences").json() == {"items": []}
    (ended,) = client.get("/api/silences", params={"all": "true"}).json()["items"]
    assert ended["id"] == sid and ended["state"] == "expired"


def test_pending_then_active_then_expired(client: TestClient, clock: Clock) -> None:
    silence = _add(client, starts_at="2026-11-02", duration="1d")
    assert (silence["starts_at"], silence["ends_at"]) == ("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z")
    assert silence["state"] == "pending"
    clock.now = datetime(2026, 11, 2, 6, tzinfo=UTC)
    assert client.get("/api/silences").json()["items"][0]["state"] == "active"
    clock.now = datetime(2026, 11, 3, tzinfo=UTC)  # ends_at is exclusive
    assert client.get("/api/silences").json()["items"] == []
    assert client.get("/api/silences?all=true").json()["items"][0]["state"] == "expired"


def test_ends_at_takes_the_cli_forms(client: TestClient) -> None:
    by_duration = _add(client, duration=None, ends_at="3d")  # like `--until 3d`: from now
    assert by_duration["ends_at"] == "2026-11-04T12:00:00Z"
    naive = _add(client, duration=None, ends_at="2026-11-05T08:00")  # naive is UTC
    assert naive["ends_at"] == "2026-11-05T08:00:00Z"
    offset = _add(client, duration=None, ends_at="2026-11-05T09:00+01:00")
    assert offset["ends_at"] == "2026-11-05T08:00:00Z"
    default_author = _add(client)
    assert default_author["created_by"] == "api" and default_author["ends_at"] == "2026-11-01T14:00:00Z"


# --- auth, unknown ids, bad input ------------------------------------------------------------------------


def test_writes_need_the_token(client: TestClient, db: Database) -> None:
    body = {"matchers": {"feature": "age"}, "duration": "1h", "comment": "x"}
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"}):
        response = client.post("/api/silences", headers=headers, json=body)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert TOKEN not in response.text
    assert _stored(db) == []
    sid = _add(client)["id"]
    assert client.delete(f"/api/silences/{sid}").status_code == 401
    assert client.get(f"/api/silences/{sid}").json()["state"] == "active"  # reads are public by default
    assert client.get("/api/silences").status_code == 200


def test_private_reads_need_the_token(settings: Settings, db: Database, clock: Clock) -> None:
    client = client_for(settings, db, clock, public_reads=False)
    assert client.get("/api/silences").status_code == 401
    assert client.get("/api/silences", headers=AUTH).status_code == 200


def test_unknown_id_is_404(client: TestClient) -> None:
    for response in (
        client.delete("/api/silences/nope", headers=AUTH),
        client.get("/api/silences/nope"),
    ):
        assert response.status_code == 404
        assert response.json() == {
            "error": "not_found",
            "detail": "no silence with id 'nope' (see GET /api/silences?all=true)",
        }


GOOD: dict[str, Any] = {"matchers": {"feature": "age"}, "ends_at": "2026-11-02", "comment": "why"}
DROP = "<leave this key out>"


@pytest.mark.parametrize(
    ("change", "where", "fragments"),
    [
        ({"matchers": {}}, "body.matchers", ["at least one matcher"]),
        ({"matchers": {"feature": ""}}, "body.matchers", ["'feature'", "empty pattern"]),
        ({"matchers": {" ": "age"}}, "body.matchers", ["no label name", "' '"]),
        ({"matchers": {"feature": 5}}, "body.matchers.feature", ["valid string", "(got 5)"]),
        ({"matchers": ["feature=age"]}, "body.matchers", ["should be an object", "a JSON array"]),
        ({"matchers": {"feature": "a", " feature": "b"}}, "body.matchers", ["matched twice"]),
        ({"ends_at": "someday"}, "body.ends_at", ["'someday'", "neither a duration"]),
        (
            {"ends_at": "2026-11-01T00:00:00Z"},
            "body.ends_at",
            ["2026-11-01T00:00:00+00:00", "before it starts"],
        ),
        ({"starts_at": "2026-11-03"}, "body.ends_at", ["before it starts"]),
        ({"starts_at": "next week"}, "body.starts_at", ["'next week'"]),
        ({"ends_at": "99999999w"}, "body.ends_at", ["out of range"]),
        ({"ends_at": DROP, "duration": "soon"}, "body.duration", ["'soon'", "not a duration"]),
        ({"ends_at": DROP, "duration": "0h"}, "body.duration", ["positive"]),
        ({"ends_at": DROP, "duration": "9" * 40 + "w"}, "body.duration", ["after year 9999"]),
        ({"duration": "1h"}, "body.ends_at", ["both were given"]),
        ({"ends_at": DROP}, "body.ends_at", ["neither was given"]),
        ({"ends_at": 1767225600}, "body.ends_at", ["valid string", "(got 1767225600)"]),
        ({"comment": "  "}, "body.comment", ["needs a comment", "'  '"]),
        ({"comment": None}, "body.comment", ["valid string", "(got None)"]),
        ({"endsAt": "2026-11-02"}, "body.endsAt", ["Extra inputs", "'2026-11-02'"]),
        ({"comment": "x" * 5000}, "body.comment", ["4000 characters"]),
    ],
)
def test_bad_input_is_422_naming_the_field_and_value(
    client: TestClient, db: Database, change: dict[str, Any], where: str, fragments: list[str]
) -> None:
    body = {k: v for k, v in {**GOOD, **change}.items() if v != DROP}
    response = client.post("/api/silences", headers=AUTH, json=body)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["error"] == "invalid_request"
    assert answer["errors"][0]["where"] == where
    assert answer["detail"].startswith(f"{where}: ")
    for fragment in fragments:
        assert fragment in answer["detail"], answer["detail"]
    assert _stored(db) == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "Invalid JSON"),
        (b"{not json", "Invalid JSON"),
        (b"[]", "should be an object"),
        (b"null", "should be an object"),
        (b'{"matchers": {"feature": "\\ud800"}, "ends_at": "1d", "comment": "x"}', "Invalid JSON"),
        (b'{"comment": "x"}', "body.matchers: Field required"),
    ],
)
def test_malformed_bodies_are_422(client: TestClient, db: Database, body: bytes, fragment: str) -> None:
    response = client.post(
        "/api/silences", headers={**AUTH, "Content-Type": "application/json"}, content=body
    )
    assert response.status_code == 422, response.text
    assert fragment in response.json()["detail"]
    assert _stored(db) == []


def test_body_over_the_limit_is_413(settings: Settings, db: Database, clock: Clock) -> None:
    client = client_for(settings, db, clock, max_body_bytes=1024)
    body = {"matchers": {"feature": "age"}, "ends_at": "1d", "comment": "x" * 2000}
    assert client.post("/api/silences", headers=AUTH, json=body).status_code == 413
    assert _stored(db) == []


def test_bad_all_parameter_is_422(client: TestClient) -> None:
    response = client.get("/api/silences", params={"all": "perhaps"})
    assert response.status_code == 422 and response.json()["errors"][0]["where"] == "query.all"


# --- user strings are data -------------------------------------------------------------------------------

NASTY = "</script><img src=x onerror=alert(1)> \"quoted\" 'single' \\ back\nline\u2028sep é 🙂 \x00 {{ x }}"


def test_user_strings_round_trip_as_data(client: TestClient, db: Database) -> None:
    silence = _add(
        client,
        matchers={"feature": "[ab]*", "monitor": NASTY},
        comment=NASTY,
        created_by="<b>ana</b>",
    )
    assert silence["comment"] == NASTY and silence["matchers"]["monitor"] == NASTY
    assert silence["created_by"] == "<b>ana</b>"
    listed = client.get("/api/silences")
    assert listed.headers["content-type"].startswith("application/json")
    assert json.loads(listed.text)["items"][0]["comment"] == NASTY
    (row,) = _stored(db)
    assert row.comment == NASTY and row.matchers["monitor"] == NASTY
    # The rule that matchers are globs holds over HTTP as on the CLI: `[ab]*` is a character class.
    assert client.delete(f"/api/silences/{silence['id']}", headers=AUTH).json()["comment"] == NASTY


def test_openapi_documents_the_silence_endpoints(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert set(paths["/api/silences"]) == {"get", "post"}
    assert set(paths["/api/silences/{silence_id}"]) == {"get", "delete"}
    ref = paths["/api/silences"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/SilenceRequest"
    assert "SilenceRequest" in schema["components"]["schemas"]
    assert "201" in paths["/api/silences"]["post"]["responses"]
