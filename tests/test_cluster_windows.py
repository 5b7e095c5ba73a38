"""A monitor's `compute:`: windows of at least `min_rows` rows counted on a real Dask cluster (the session's
2-process LocalCluster) store exactly what a single-node run stores.

Real cycles on the same files (tests/test_streamed_windows.py's data: a 3,000-row day and a 400-row day, three
segments): with `compute:` (min_rows 1,000, partitions of 1,000 rows) against the single-node run that streams
the same window in batches of 700 rows, every row of every result table is the same (run ids and times aside),
and against the run that reads it whole every value but Wasserstein (an estimate within the bound stored beside
it). A worker killed while it counts a partition changes nothing. A scheduler without workers, or none at the
address, falls back to this machine within the timeout, with a warning in the run record.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from distributed import Client, LocalCluster, get_task_stream

from driftwatch.config.loading import load_settings
from driftwatch.errors import ConfigError, InputError
from test_dask_engine import kill_once_plugin
from test_streamed_windows import CONFIG, START, W1_IN_REASON, _run

TABLES = ("window_summaries", "feature_results", "feature_stats", "feature_bins")


def _compute(address: str, timeout: float = 30) -> str:
    return (
        "    compute:\n"
        "      engine: dask\n"
        f"      scheduler: {address}\n"
        "      min_rows: 1000\n"
        "      batch_rows: 1000\n"
        f"      timeout: {timeout}\n"
    )


def _stored(root: Path) -> dict[str, Any]:
    """Every result table's rows without run ids, times and profile ids (a hash of the reference file's path,
    another folder here), in one order; and the runs' status and notes."""
    with duckdb.connect(str(root / "state" / "dw.duckdb"), read_only=True) as con:
        tables: dict[str, Any] = {}
        for table in TABLES:
            relation = con.sql(f"SELECT * FROM {table}")
            keep = [c for c in relation.columns if c not in ("run_id", "computed_at", "profile_id")]
            rows = con.sql(f"SELECT {', '.join(keep)} FROM {table} ORDER BY ALL").fetchall()
            tables[table] = [dict(zip(keep, row, strict=True)) for row in rows]
        tables["runs"] = con.sql("SELECT status, error FROM runs").fetchall()
    return tables


def _cycle(root: Path, config: str) -> dict[str, Any]:
    _run(root, config)
    return _stored(root)


@pytest.fixture(scope="module")
def single_node(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return {
        "whole": _cycle(tmp_path_factory.mktemp("whole"), CONFIG),
        "streamed": _cycle(tmp_path_factory.mktemp("streamed"), CONFIG + "    stream_rows: 700\n"),
    }


@pytest.fixture(scope="module")
def on_cluster(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[str]]:
    """The cycle with `compute:`, and the keys of the tasks the cluster ran meanwhile."""
    with Client(cluster.scheduler_address, set_as_default=False) as client, get_task_stream(client) as stream:
        stored = _cycle(tmp_path_factory.mktemp("cluster"), CONFIG + _compute(cluster.scheduler_address))
    return stored, [str(t["key"]) for t in stream.data]


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b


def test_a_window_over_min_rows_is_counted_on_the_cluster(
    on_cluster: tuple[dict[str, Any], list[str]],
) -> None:
    stored, tasks = on_cluster
    partitions = [t for t in tasks if t.startswith("driftwatch-window-")]
    assert len(partitions) == 3  # the 3,000-row day in partitions of 1,000; the 400-row day stayed here
    assert stored["runs"] == [("ok", None)]  # no warning: the cluster took it


def test_the_cluster_stores_the_single_node_rows(
    on_cluster: tuple[dict[str, Any], list[str]], single_node: dict[str, dict[str, Any]]
) -> None:
    stored, _ = on_cluster
    streamed = single_node["streamed"]
    for table in TABLES:
        assert stored[table] == streamed[table], table  # every row, every value, bit for bit
    bounds = [r for r in stored["feature_stats"] if r["statistic"] == "wasserstein_norm_bound"]
    assert len(bounds) == 4 * 3  # x1, x2, n and the score, overall and per region, on the first day only
    assert {str(r["window_start"].date()) for r in bounds} == {START.date().isoformat()}


def test_the_cluster_matches_the_in_memory_run_but_wasserstein(
    on_cluster: tuple[dict[str, Any], list[str]], single_node: dict[str, dict[str, Any]]
) -> None:
    """Against the window read whole: every statistic, status, bin and row count bit for bit; W1 within the
    bound stored beside it (the reasons quote W1)."""
    stored, _ = on_cluster
    whole = single_node["whole"]
    assert stored["window_summaries"] == whole["window_summaries"]
    assert stored["feature_bins"] == whole["feature_bins"]
    for got, want in zip(stored["feature_results"], whole["feature_results"], strict=True):
        got, want = dict(got), dict(want)  # the fixtures' rows stay as stored
        assert W1_IN_REASON.sub("w1 _", got.pop("reason")) == W1_IN_REASON.sub("w1 _", want.pop("reason"))
        assert got == want
    key = ("model_version", "segment", "window_start", "feature")
    bound = {
        tuple(r[k] for k in key): r["value"] for r in stored["feature_stats"] if "bound" in r["statistic"]
    }
    got_stats = [r for r in stored["feature_stats"] if r["statistic"] != "wasserstein_norm_bound"]
    checked = 0
    for got, want in zip(got_stats, whole["feature_stats"], strict=True):
        assert (got["statistic"], *(got[k] for k in key)) == (want["statistic"], *(want[k] for k in key))
        limit = bound.get(tuple(got[k] for k in key))
        if got["statistic"] == "wasserstein_norm" and limit is not None:
            assert abs(got["value"] - want["value"]) <= limit * (1 + 1e-9) + 1e-15
        else:
            assert _same(got["value"], want["value"]), (got, want)
            checked += got["statistic"] in ("ks_statistic", "ks_pvalue", "psi", "js_distance")
    assert checked > 0


def test_a_worker_killed_mid_window_changes_nothing(
    cluster: Any,
    on_cluster: tuple[dict[str, Any], list[str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    expected, _ = on_cluster
    marker = tmp_path_factory.mktemp("kill") / "kill-a-worker"
    marker.write_text("once")
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        plugin = kill_once_plugin(str(marker), "driftwatch-window-")
        client.register_plugin(plugin)
        try:
            stored = _cycle(tmp_path_factory.mktemp("killed"), CONFIG + _compute(cluster.scheduler_address))
        finally:
            client.unregister_worker_plugin(plugin.name)
        client.wait_for_workers(2, timeout=60)  # the nanny's new worker, for the tests after this one
    assert not marker.exists()  # a worker did die while counting a partition
    assert stored == expected  # and the run has no warning: the lost partition was shipped again


@pytest.fixture(scope="module")
def no_workers() -> Any:
    """A scheduler that no worker ever joins (in this process)."""
    with LocalCluster(n_workers=0, processes=False, protocol="tcp", dashboard_address=":0") as empty:
        yield empty


@pytest.mark.parametrize("where", ["no workers", "unreachable"])
def test_no_cluster_falls_back_to_this_machine_with_a_warning(
    where: str,
    no_workers: Any,
    single_node: dict[str, dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    address = no_workers.scheduler_address if where == "no workers" else "tcp://127.0.0.1:9"
    started = time.monotonic()
    stored = _cycle(tmp_path_factory.mktemp("fallback"), CONFIG + _compute(address, timeout=2))
    assert time.monotonic() - started < 120  # never waits for a worker that does not come
    [(status, note)] = stored["runs"]
    assert status == "ok"
    expected = "has no workers: none joined within 2 s" if where == "no workers" else "cannot reach"
    assert note.startswith(f"warning: window * {START:%Y-%m-%d} 00:00: computed on this machine"), note
    assert expected in note and address in note, note
    assert note.count("warning:") == 1  # one window over min_rows; a second would not wait again
    for table in TABLES:  # as without `compute:` (and without stream_rows: read whole)
        assert stored[table] == single_node["whole"][table], table


def test_compare_on_a_cluster_without_workers_stops_with_a_clear_error(
    no_workers: Any, tmp_path: Path
) -> None:
    """It used to wait forever for a worker."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    import driftwatch

    table = pa.table({"x": np.arange(100, dtype=np.float64)})
    pq.write_table(table, tmp_path / "a.parquet")
    started = time.monotonic()
    with pytest.raises(InputError, match=r"has no workers: none joined within 1 s"):
        driftwatch.compare(
            tmp_path / "a.parquet",
            tmp_path / "a.parquet",
            engine="dask",
            scheduler=no_workers.scheduler_address,
            connect_timeout=1.0,
        )
    with Client(no_workers.scheduler_address, set_as_default=False) as client:  # a client of one's own too
        with pytest.raises(InputError, match="has no workers"):
            driftwatch.compare(
                tmp_path / "a.parquet",
                tmp_path / "a.parquet",
                engine="dask",
                client=client,
                connect_timeout=1.0,
            )
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    ("body", "key", "message"),
    [
        ("engine: spark\n      scheduler: tcp://h:8786\n      min_rows: 5", "engine", "expected one of dask"),
        ("scheduler: tcp://h:8786\n      min_rows: 5", "engine", "expected one of dask"),
        ("engine: dask\n      min_rows: 5", "scheduler", "is required"),
        ("engine: dask\n      scheduler: h 8786\n      min_rows: 5", "scheduler", "tcp://HOST:8786"),
        ("engine: dask\n      scheduler: tcp://h:8786", "min_rows", "is required"),
        ("engine: dask\n      scheduler: tcp://h:8786\n      min_rows: 0", "min_rows", ">= 1"),
        (
            "engine: dask\n      scheduler: tcp://h:8786\n      min_rows: 5\n      batch_rows: 10",
            "batch_rows",
            ">=",
        ),
        (
            "engine: dask\n      scheduler: tcp://h:8786\n      min_rows: 5\n      timeout: -1",
            "timeout",
            "between",
        ),
        (
            "engine: dask\n      scheduler: tcp://h:8786\n      min_rows: 5\n      timout: 3",
            "timout",
            "timeout",
        ),
    ],
)
def test_compute_is_validated_at_load(tmp_path: Path, body: str, key: str, message: str) -> None:
    config = tmp_path / "driftwatch.yml"
    config.write_text(CONFIG + "    compute:\n      " + body + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert caught.value.key == f"monitors.m.compute.{key}"
    assert message in str(caught.value) and str(config) in str(caught.value)


def test_compute_settings_are_read(tmp_path: Path) -> None:
    config = tmp_path / "driftwatch.yml"
    config.write_text(CONFIG + _compute("tcp://10.0.0.5:8786", timeout=4))
    compute = load_settings(config).monitor("m").compute
    assert compute is not None
    assert (compute.engine, compute.scheduler, compute.min_rows, compute.batch_rows, compute.timeout) == (
        "dask",
        "tcp://10.0.0.5:8786",
        1000,
        1000,
        4.0,
    )
    assert load_settings(_written(tmp_path / "plain.yml", CONFIG)).monitor("m").compute is None


def _written(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_small_batches_are_gathered_into_full_partitions() -> None:
    """DuckDB hands out batches smaller than asked; each partition costs a reference-sized partial per feature,
    so they are joined first: every row once, in order, partitions of at least the asked rows but the last."""
    import numpy as np

    from driftwatch.pipeline.cluster_windows import gathered
    from driftwatch.storage.windows import WindowArrays

    sizes = [300, 450, 100, 700, 1200, 50]
    values = np.arange(sum(sizes), dtype=np.float64)
    codes = (np.arange(sum(sizes)) % 3).astype(np.int64)
    edges = np.cumsum([0, *sizes])
    batches = [
        WindowArrays(n, {"x": values[a:b]}, {"region": codes[a:b]})
        for n, a, b in zip(sizes, edges[:-1], edges[1:], strict=True)
    ]
    partitions = list(gathered(batches, 800))
    assert [p.rows for p in partitions] == [850, 1900, 50]
    assert np.array_equal(np.concatenate([p.numeric["x"] for p in partitions]), values)
    assert np.array_equal(np.concatenate([p.segment_codes["region"] for p in partitions]), codes)
