"""Prediction and label logs in object storage, read by real cycles from real servers over loopback HTTP: S3
(moto), GCS (fake-gcs-server) and Azure Blob (Azurite), each test that is not about one provider running against
each (the `object_server` fixture): incremental listing, changed and re-uploaded objects, multipart objects,
formats, the reference, and faults."""

from __future__ import annotations

import gzip
import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from object_servers import AZURITE_KEY, GCSServer

from _configs import MONITOR_TAIL
from conftest import S3_ENV, FaultProxy, ObjectServer
from driftwatch.config.loading import load_settings
from driftwatch.config.monitors import FeatureSpec
from driftwatch.errors import ConfigError
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.ingest import ingest_predictions
from driftwatch.pipeline.labels import ingest_labels
from driftwatch.sources.objectstore import glob_regex, parse_pattern
from driftwatch.storage.database import Database

FEATURES = FeatureSpec(numeric=("age", "income"), categorical=("region",))
NOW = datetime(2026, 3, 10, tzinfo=UTC)


def config(
    bucket: str,
    endpoint: str,
    glob: str = "logs/*.ndjson",
    extra: str = "",
    labels: str = "",
    scheme: str = "s3",
    options: str = "",
) -> str:
    return f"""\
storage: dw.duckdb
monitors:
  m:
    predictions:
      path: {scheme}://{bucket}/{glob}
      model_version: model_version
      object_store:
        endpoint_url: {endpoint}
        timeout_s: 5
        max_retries: 1
{options}{extra}
{MONITOR_TAIL}{labels}"""


def record(rid: str, ts: str = "2026-03-01T10:00:00Z", age: float = 30.0, region: str = "north") -> dict:
    return {
        "request_id": rid,
        "timestamp": ts,
        "model_version": "v1",
        "input_features": {"age": age, "income": 50000.0, "region": region},
    }


def ndjson(records: list[dict]) -> bytes:
    return ("\n".join(json.dumps(r) for r in records) + "\n").encode()


class Project:
    """A monitor whose predictions are in a fresh bucket of `server`, reached at `endpoint` (a proxy's URL) or
    directly; the reference is a local file unless a test moves it."""

    def __init__(self, root: Path, server: ObjectServer, endpoint: str | None = None, **kw: str) -> None:
        self.root = root
        self.server = server
        self.scheme = server.scheme
        self.bucket = server.new_bucket()
        pl.DataFrame(
            {
                "age": [20.0 + i % 50 for i in range(200)],
                "income": [40000.0 + 37 * i for i in range(200)],
                "region": ["north", "south"] * 100,
            }
        ).write_parquet(root / "train.parquet")
        self.endpoint = server.endpoint(endpoint or server.url)
        (root / "driftwatch.yml").write_text(
            config(self.bucket, self.endpoint, scheme=self.scheme, options=server.store_options, **kw)
        )
        self.settings = load_settings(root / "driftwatch.yml")
        self.monitor = self.settings.monitor("m")
        self.db = Database(root / "dw.duckdb")

    def put(self, key: str, body: bytes) -> None:
        self.server.put(self.bucket, key, body)

    def url(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket}/{key}"

    def source_options(self) -> str:
        """The `object_store:` lines for another source (labels, reference) of the same server."""
        return f"      object_store:\n        endpoint_url: {self.endpoint}\n{self.server.store_options}"

    def ingest(self, on_file=None):  # type: ignore[no-untyped-def]
        return ingest_predictions(self.db, self.monitor, FEATURES, on_file)

    def count(self) -> int:
        return int(self.db.cursor().execute('SELECT count(*) FROM "predictions:m"').fetchone()[0])


@pytest.fixture
def project(tmp_path: Path, object_server: ObjectServer) -> Project:
    return Project(tmp_path, object_server)


# Tests about one provider's behaviour (multipart uploads) or about code no provider changes (timeouts, the
# metrics) run against S3 only.
s3_only = pytest.mark.parametrize("object_server", ["s3"], indirect=True)


def test_glob_regex_matches_like_a_local_glob() -> None:
    assert parse_pattern("s3://b/logs/2026-*/*.parquet").prefix == "logs/"
    assert parse_pattern("s3://b/logs/a.csv").prefix == "logs/"
    assert parse_pattern("s3://b/*.csv").prefix == ""
    one = glob_regex("logs/*.ndjson")
    import re

    assert re.match(one, "logs/a.ndjson") and not re.match(one, "logs/x/a.ndjson")
    deep = glob_regex("logs/**/*.ndjson")
    assert re.match(deep, "logs/a.ndjson") and re.match(deep, "logs/x/y/a.ndjson")
    assert not re.match(deep, "logs/a.ndjson.tmp")


def test_reads_only_new_objects_and_skips_identical_reupload(project: Project) -> None:
    project.put("logs/a.ndjson", ndjson([record("a1"), record("a2")]))
    project.put("logs/b.ndjson", ndjson([record("b1")]))
    project.put("logs/skip.csv", b"not matched by the glob\n")
    first = project.ingest()
    assert (first.files_read, first.rows_inserted, first.failed_files) == (2, 3, [])
    assert project.count() == 3
    # Nothing new: nothing fetched or read.
    again = project.ingest()
    assert (again.files_read, again.rows_read) == (0, 0)
    # The same bytes uploaded again: same ETag, not even fetched.
    project.put("logs/a.ndjson", ndjson([record("a1"), record("a2")]))
    same = project.ingest()
    if project.scheme == "az":
        # Azure's ETag is not a hash of the content: every write makes a new one. The object is read again and
        # adds nothing (both rows are duplicates).
        assert (same.files_read, same.rows_inserted, same.rows_duplicate) == (1, 0, 2)
    else:
        assert (same.files_read, same.rows_read) == (0, 0)
    # A new object is read alone.
    project.put("logs/c.ndjson", ndjson([record("c1")]))
    third = project.ingest()
    assert (third.files_read, third.rows_inserted) == (1, 1)
    paths = [
        r[0] for r in project.db.cursor().execute("SELECT path FROM ingested_files ORDER BY path").fetchall()
    ]
    read = "aabc" if project.scheme == "az" else "abc"  # each version read is recorded
    assert paths == [project.url(f"logs/{n}.ndjson") for n in read]


def test_changed_object_is_read_again_and_adds_only_new_rows(project: Project) -> None:
    project.put("logs/a.ndjson", ndjson([record("a1"), record("a2")]))
    project.ingest()
    project.put("logs/a.ndjson", ndjson([record("a1"), record("a2"), record("a3")]))
    changed = project.ingest()
    assert (changed.files_read, changed.rows_read, changed.rows_inserted, changed.rows_duplicate) == (
        1,
        3,
        1,
        2,
    )
    assert project.count() == 3


@s3_only
def test_multipart_reupload_of_same_rows_adds_nothing(project: Project) -> None:
    # ~6 MB of rows: uploaded as one object, then again in 5 MiB parts (a multipart ETag, "...-2").
    rows = [record(f"r{i:06d}", age=float(i % 90)) for i in range(60_000)]
    body = ndjson(rows)
    assert len(body) > 5 << 20
    project.put("logs/big.ndjson", body)
    first = project.ingest()
    assert first.rows_inserted == 60_000
    from boto3.s3.transfer import TransferConfig

    s3 = project.server.client()  # type: ignore[union-attr]
    s3.upload_fileobj(
        io.BytesIO(body),
        project.bucket,
        "logs/big.ndjson",
        Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20),
    )
    etag = s3.head_object(Bucket=project.bucket, Key="logs/big.ndjson")["ETag"]
    assert etag.strip('"').endswith("-2")  # really multipart
    again = project.ingest()
    assert (again.files_read, again.rows_read, again.rows_inserted, again.rows_duplicate) == (
        1,
        60_000,
        0,
        60_000,
    )
    assert project.count() == 60_000


def test_compressed_and_parquet_objects_and_quarantine(tmp_path: Path, object_server: ObjectServer) -> None:
    p = Project(tmp_path, object_server, glob="logs/**")
    lines = ndjson([record("z1"), record("z2", ts="not-a-time")]) + b"{broken json\n"
    p.put("logs/day1/part.ndjson.gz", gzip.compress(lines))
    buf = io.BytesIO()
    pl.DataFrame(
        {
            "request_id": ["p1"],
            "timestamp": [datetime(2026, 3, 1, 11, tzinfo=UTC)],
            "model_version": ["v1"],
            "input_features": [{"age": 40.0, "income": 1.0, "region": "south"}],
        }
    ).write_parquet(buf)
    p.put("logs/day2/part.parquet", buf.getvalue())
    summary = p.ingest()
    assert (summary.files_read, summary.failed_files) == (2, [])
    assert (summary.rows_inserted, summary.rows_quarantined) == (2, 2)
    sources = {r[0] for r in p.db.cursor().execute("SELECT source FROM quarantine").fetchall()}
    assert sources == {p.url("logs/day1/part.ndjson.gz")}


def test_start_after_lists_only_later_keys_and_relists_fully_every_n_cycles(
    tmp_path: Path, object_server: ObjectServer, store_proxy: FaultProxy
) -> None:
    extra = "        start_after: true\n        full_relist_every: 3"
    p = Project(tmp_path, object_server, endpoint=store_proxy.url, extra=extra)
    for hour in range(5):
        p.put(f"logs/2026-03-01T{hour:02d}.ndjson", ndjson([record(f"h{hour}")]))
    assert p.ingest().rows_inserted == 5  # first: full listing
    p.put("logs/2026-03-01T05.ndjson", ndjson([record("h5")]))
    p.put("logs/2026-03-01T00-late.ndjson", ndjson([record("late")]))  # sorts before the cursor
    second = p.ingest()  # incremental: lists from the cursor on, sees h5 only
    assert (second.files_read, second.rows_inserted) == (1, 1)
    state = p.db.cursor().execute("SELECT last_key, cycles_since_full FROM source_listings").fetchone()
    assert state == ("logs/2026-03-01T05.ndjson", 1)  # moved past what this cycle read
    assert p.ingest().files_read == 0
    fourth = p.ingest()  # third incremental cycle since the full one: the full re-list finds the late object
    assert (fourth.files_read, fourth.rows_inserted) == (1, 1)
    assert p.count() == 7


def test_failed_object_keeps_the_cursor_before_it(tmp_path: Path, object_server: ObjectServer) -> None:
    p = Project(tmp_path, object_server, glob="logs/*", extra="        start_after: true")
    p.put("logs/01.ndjson", ndjson([record("a")]))
    p.put("logs/02.txt", b"an object of no known type\n")
    p.put("logs/03.ndjson", ndjson([record("c")]))
    first = p.ingest()
    assert first.rows_inserted == 2
    assert [(u.rsplit("/", 1)[1], "unknown file type" in r) for u, r in first.failed_files] == [
        ("02.txt", True)
    ]
    second = p.ingest()  # incremental, but from before the failed object: it is retried (and fails again)
    assert [u.rsplit("/", 1)[1] for u, _ in second.failed_files] == ["02.txt"]
    assert p.db.cursor().execute("SELECT last_key FROM source_listings").fetchone() == ("logs/01.ndjson",)


def test_server_down_mid_cycle_fails_the_source_and_loses_nothing(
    tmp_path: Path, object_server: ObjectServer, store_proxy: FaultProxy
) -> None:
    p = Project(tmp_path, object_server, endpoint=store_proxy.url)
    p.put("logs/a.ndjson", ndjson([record("a1")]))
    p.put("logs/b.ndjson", ndjson([record("b1")]))
    store_proxy.down_at = "b.ndjson"  # listed and fetched a; the server goes away when b is fetched
    broken = p.ingest()
    assert broken.files_read == 1
    assert [u for u, _ in broken.failed_files] == [p.url("logs/b.ndjson")]
    assert "cannot be fetched" in broken.failed_files[0][1]
    # Down for a whole cycle: the listing fails, the source is reported failed, nothing read.
    down = p.ingest()
    assert down.files_read == 0 and len(down.failed_files) == 1
    assert "cannot list" in down.failed_files[0][1]
    assert any("failed this cycle" in w for w in down.warnings)
    store_proxy.up()
    back = p.ingest()
    assert (back.files_read, back.rows_inserted) == (1, 1)
    assert p.count() == 2


def test_5xx_fails_the_run_clearly_in_runs_and_the_next_cycle_reads(
    tmp_path: Path, object_server: ObjectServer, store_proxy: FaultProxy
) -> None:
    p = Project(tmp_path, object_server, endpoint=store_proxy.url)
    p.put("logs/a.ndjson", ndjson([record("a1")]))
    store_proxy.mode = "503"
    summary = run_cycle(p.db, p.monitor, now=NOW)
    assert summary.ingest.rows_inserted == 0
    assert store_proxy.requests >= 2  # retried before giving up
    status, files_failed, error = (
        p.db.cursor().execute("SELECT status, files_failed, error FROM runs").fetchone()
    )
    assert files_failed == 1
    assert f"{p.url('logs/*.ndjson')} failed this cycle" in error
    assert "503" in error
    assert S3_ENV["AWS_SECRET_ACCESS_KEY"] not in error and AZURITE_KEY not in error
    store_proxy.mode = "pass"
    ok = run_cycle(p.db, p.monitor, now=NOW)
    assert ok.ingest.rows_inserted == 1


def test_labels_from_the_store(tmp_path: Path, object_server: ObjectServer) -> None:
    p = Project(tmp_path, object_server)
    labels_path = p.url("labels/*.csv")
    (tmp_path / "driftwatch.yml").write_text(
        config(
            p.bucket,
            p.endpoint,
            scheme=p.scheme,
            options=object_server.store_options,
            labels=f"    task: binary_classification\n    labels:\n      path: {labels_path}\n"
            + p.source_options(),
        ).replace(
            "      model_version: model_version\n",
            "      model_version: model_version\n      prediction: score\n",
        )
    )
    mon = load_settings(tmp_path / "driftwatch.yml").monitor("m")
    p.put("labels/day1.csv", b"request_id,label\na1,1\na2,0\n")
    first = ingest_labels(p.db, mon)
    assert (first.files_read, first.labels_new, first.failed_files) == (1, 2, [])
    assert ingest_labels(p.db, mon).files_read == 0
    sources = p.db.cursor().execute("SELECT DISTINCT source FROM labels").fetchall()
    assert sources == [(p.url("labels/day1.csv"),)]


def test_config_refuses_credentials_and_keeps_urls(tmp_path: Path) -> None:
    (tmp_path / "train.parquet").write_bytes(b"")
    bad = config("bkt", "http://127.0.0.1:9", extra="        aws_secret_access_key: hunter2")
    (tmp_path / "driftwatch.yml").write_text(bad)
    with pytest.raises(ConfigError, match="credentials never go in the config") as err:
        load_settings(tmp_path / "driftwatch.yml")
    assert "hunter2" not in str(err.value)
    (tmp_path / "driftwatch.yml").write_text(config("bkt", "http://minio:hunter2@127.0.0.1:9"))
    with pytest.raises(ConfigError, match="carries a user or password") as err:
        load_settings(tmp_path / "driftwatch.yml")
    assert "hunter2" not in str(err.value) and "endpoint_url" in str(err.value)
    (tmp_path / "driftwatch.yml").write_text(config("bkt", "http://127.0.0.1:9"))
    mon = load_settings(tmp_path / "driftwatch.yml").monitor("m")
    assert mon.predictions.path == "s3://bkt/logs/*.ndjson"
    assert mon.predictions.object_store.endpoint_url == "http://127.0.0.1:9"


def test_reference_in_the_store_is_mirrored_once_and_rebuilt_when_it_changes(
    tmp_path: Path, object_server: ObjectServer
) -> None:
    p = Project(tmp_path, object_server)
    ref = io.BytesIO()
    pl.read_parquet(tmp_path / "train.parquet").write_parquet(ref)
    p.put("reference/train.parquet", ref.getvalue())
    text = (tmp_path / "driftwatch.yml").read_text()
    text = text.replace(
        "      path: train.parquet\n",
        f"      path: {p.url('reference/train.parquet')}\n" + p.source_options(),
    )
    (tmp_path / "driftwatch.yml").write_text(text)
    (tmp_path / "train.parquet").unlink()  # only the object remains
    mon = load_settings(tmp_path / "driftwatch.yml").monitor("m")
    assert mon.reference.path.startswith(f"{p.scheme}://")
    p.put("logs/a.ndjson", ndjson([record("a1")]))
    first = run_cycle(p.db, mon, now=NOW)
    assert first.profile_rebuilt and first.ingest.rows_inserted == 1
    copies = list((tmp_path / ".driftwatch-objects").rglob("train.parquet"))
    assert len(copies) == 1
    assert not run_cycle(p.db, mon, now=NOW).profile_rebuilt  # same object: same copy, same profile
    changed = io.BytesIO()
    pl.DataFrame(
        {"age": [1.0, 2.0, 3.0], "income": [1.0, 2.0, 3.0], "region": ["x", "y", "z"]}
    ).write_parquet(changed)
    p.put("reference/train.parquet", changed.getvalue())
    assert run_cycle(p.db, mon, now=NOW).profile_rebuilt
    assert len(list((tmp_path / ".driftwatch-objects").rglob("train.parquet"))) == 1  # the old copy is gone


@s3_only
def test_slow_server_times_out_as_a_failed_source_then_reads(
    tmp_path: Path, object_server: ObjectServer, store_proxy: FaultProxy
) -> None:
    p = Project(tmp_path, object_server, endpoint=store_proxy.url)
    text = (tmp_path / "driftwatch.yml").read_text().replace("timeout_s: 5", "timeout_s: 1")
    (tmp_path / "driftwatch.yml").write_text(text)
    p.monitor = load_settings(tmp_path / "driftwatch.yml").monitor("m")
    p.put("logs/a.ndjson", ndjson([record("a1")]))
    store_proxy.mode, store_proxy.delay = "slow", 2.5
    started = time.monotonic()
    slow = p.ingest()
    assert time.monotonic() - started < 20  # bounded by timeout x retries, not hanging
    assert slow.rows_inserted == 0 and "cannot list" in slow.failed_files[0][1]
    store_proxy.mode = "pass"
    assert p.ingest().rows_inserted == 1


def test_half_written_object_fails_alone_and_is_read_once_complete(project: Project) -> None:
    buf = io.BytesIO()
    pl.DataFrame(
        {
            "request_id": ["h1", "h2"],
            "timestamp": [datetime(2026, 3, 1, 11, tzinfo=UTC)] * 2,
            "model_version": ["v1"] * 2,
            "input_features": [{"age": 40.0, "income": 1.0, "region": "south"}] * 2,
        }
    ).write_parquet(buf)
    whole = buf.getvalue()
    text = (project.root / "driftwatch.yml").read_text().replace("logs/*.ndjson", "logs/*")
    (project.root / "driftwatch.yml").write_text(text)
    project.monitor = load_settings(project.root / "driftwatch.yml").monitor("m")
    project.put("logs/a.parquet", whole[: len(whole) // 2])  # a writer that uploaded half a file
    project.put("logs/b.ndjson", ndjson([record("b1")]))
    first = project.ingest()
    assert first.rows_inserted == 1
    [(url, reason)] = first.failed_files
    assert url == project.url("logs/a.parquet") and "incomplete" in reason
    assert "driftwatch-object-" not in reason  # the temporary copy is not what the user needs to see
    project.put("logs/a.parquet", whole)
    second = project.ingest()
    assert (second.rows_inserted, second.failed_files) == (2, [])


@s3_only
def test_metrics_show_the_failed_source_until_a_cycle_reads_it(
    tmp_path: Path, object_server: ObjectServer, store_proxy: FaultProxy
) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from driftwatch.api.metrics import DriftwatchCollector

    p = Project(tmp_path, object_server, endpoint=store_proxy.url)
    p.put("logs/a.ndjson", ndjson([record("a1")]))
    registry = CollectorRegistry()
    registry.register(DriftwatchCollector(p.settings, p.db, None, 50))
    store_proxy.down()
    run_cycle(p.db, p.monitor, now=NOW)
    assert 'driftwatch_last_cycle_files_failed{monitor="m"} 1.0' in generate_latest(registry).decode()
    store_proxy.up()
    run_cycle(p.db, p.monitor, now=NOW)
    assert 'driftwatch_last_cycle_files_failed{monitor="m"} 0.0' in generate_latest(registry).decode()


def test_a_monitor_reads_predictions_labels_and_reference_from_the_store(
    tmp_path: Path, object_server: ObjectServer
) -> None:
    """The whole monitor in one bucket, as a team that keeps everything in GCS or S3 would have it: two cycles,
    the second finding nothing new and keeping the profile."""
    p = Project(tmp_path, object_server)
    ref = io.BytesIO()
    pl.read_parquet(tmp_path / "train.parquet").write_parquet(ref)
    p.put("reference/train.parquet", ref.getvalue())
    (tmp_path / "train.parquet").unlink()  # only the objects remain
    text = config(
        p.bucket,
        p.endpoint,
        scheme=p.scheme,
        options=object_server.store_options,
        labels=f"    task: binary_classification\n    labels:\n      path: {p.url('labels/*.csv')}\n"
        + p.source_options(),
    )
    text = text.replace(
        "      model_version: model_version\n",
        "      model_version: model_version\n      prediction: score\n",
    ).replace(
        "      path: train.parquet\n",
        f"      path: {p.url('reference/train.parquet')}\n" + p.source_options(),
    )
    (tmp_path / "driftwatch.yml").write_text(text)
    mon = load_settings(tmp_path / "driftwatch.yml").monitor("m")
    for part in range(2):
        rows = [record(f"r{part}-{i}", age=20.0 + i) | {"score": (i % 10) / 10} for i in range(30)]
        p.put(f"logs/part-{part}.ndjson", ndjson(rows))
    labels = "".join(f"r{part}-{i},{int(i % 10 >= 5)}\n" for part in range(2) for i in range(30))
    p.put("labels/day1.csv", ("request_id,label\n" + labels).encode())

    first = run_cycle(p.db, mon, now=NOW)
    assert first.profile_rebuilt
    assert (first.ingest.files_read, first.ingest.rows_inserted, first.ingest.failed_files) == (2, 60, [])
    assert (first.labels.files_read, first.labels.labels_new, first.labels.failed_files) == (1, 60, [])
    assert first.windows_computed >= 1 and first.performance is not None
    status, files_failed, error = (
        p.db.cursor().execute("SELECT status, files_failed, error FROM runs").fetchone()
    )
    assert (status, files_failed, error) == ("ok", 0, None)
    second = run_cycle(p.db, mon, now=NOW)
    assert not second.profile_rebuilt
    assert (second.ingest.files_read, second.labels.files_read) == (0, 0)
    assert p.count() == 60


def test_gcs_without_credentials_or_anonymous_fails_clearly(
    tmp_path: Path, gcs_server: GCSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`anonymous` is what lets a source reach the emulator without credentials; without it the provider's chain
    runs as for the real GCS, finds nothing here, and the source fails this cycle: never a silent unsigned read."""
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_SERVICE_ACCOUNT", "GOOGLE_SERVICE_ACCOUNT_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no gcloud application-default credentials file either
    p = Project(tmp_path, gcs_server)
    p.put("logs/a.ndjson", ndjson([record("a1")]))
    text = (tmp_path / "driftwatch.yml").read_text()
    (tmp_path / "driftwatch.yml").write_text(
        text.replace("        anonymous: true\n", "").replace("max_retries: 1", "max_retries: 0")
    )
    mon = load_settings(tmp_path / "driftwatch.yml").monitor("m")
    assert not mon.predictions.object_store.anonymous
    summary = ingest_predictions(p.db, mon, FEATURES, None)
    assert summary.rows_inserted == 0
    [(url, reason)] = summary.failed_files
    assert url == p.url("logs/*.ndjson") and "cannot list" in reason
    assert "token" in reason.lower()  # it went for a credential, as against the real GCS


def test_object_store_anonymous_is_a_flag_and_off_by_default(tmp_path: Path) -> None:
    (tmp_path / "train.parquet").write_bytes(b"")
    (tmp_path / "driftwatch.yml").write_text(config("bkt", "http://127.0.0.1:9", scheme="gs"))
    assert not load_settings(tmp_path / "driftwatch.yml").monitor("m").predictions.object_store.anonymous
    on = config("bkt", "http://127.0.0.1:9", scheme="gs", options="        anonymous: true\n")
    (tmp_path / "driftwatch.yml").write_text(on)
    assert load_settings(tmp_path / "driftwatch.yml").monitor("m").predictions.object_store.anonymous
    (tmp_path / "driftwatch.yml").write_text(on.replace("anonymous: true", "anonymous: 'yes'"))
    with pytest.raises(ConfigError, match="anonymous.*expected true or false"):
        load_settings(tmp_path / "driftwatch.yml")


def test_region_is_for_s3_only_and_endpoint_is_each_stores_own_setting() -> None:
    from driftwatch.errors import SourceError
    from driftwatch.sources.objectstore import ObjectStoreOptions, open_store

    with pytest.raises(SourceError, match="region` applies to s3:// only"):
        open_store(parse_pattern("gs://bkt/logs/*.ndjson"), ObjectStoreOptions(region="europe-west1"))
    # GCS's endpoint setting is `base_url`: passed as `endpoint` (the S3 name) the library refused it.
    gcs = ObjectStoreOptions(endpoint_url="http://127.0.0.1:9", anonymous=True)
    assert open_store(parse_pattern("gs://bkt/logs/*.ndjson"), gcs).config["base_url"] == "http://127.0.0.1:9"
