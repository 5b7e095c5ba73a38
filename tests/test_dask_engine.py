"""`compare --engine dask`: the current Parquet dataset counted on a real 2-worker LocalCluster (separate
processes) gives the single-node result: every statistic but Wasserstein bit for bit with the in-memory
comparison, and the whole document (Wasserstein and its bound too) equal to the streamed one. A worker killed
while it runs a partition is survived with the same result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from distributed import Client, WorkerPlugin

import driftwatch
from driftwatch.cli.tables import clean_json
from driftwatch.distributed import dataset_partitions
from driftwatch.errors import InputError, SourceError
from test_streaming import _same, _table

ROWS = 90_000


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A reference file, a current file of 6 row groups, and the same current rows as a folder of 3 files."""
    rng = np.random.default_rng(21)
    folder = tmp_path_factory.mktemp("dask")
    reference = _table(rng, 20_000, 0.0)
    current = _table(rng, ROWS, 0.05)
    normal = current.column("normal").to_numpy().copy()
    normal[[3, 40_000, 89_999]] = [np.inf, -np.inf, np.inf]  # refused rows, as ingest quarantines them
    current = current.set_column(0, "normal", pa.array(normal))
    pq.write_table(reference, folder / "reference.parquet")
    pq.write_table(current, folder / "current.parquet", row_group_size=15_000)
    parts = folder / "parts"
    parts.mkdir()
    for i, start in enumerate(range(0, ROWS, 30_000)):
        pq.write_table(current.slice(start, 30_000), parts / f"part-{i}.parquet", row_group_size=10_000)
    return folder / "reference.parquet", folder / "current.parquet", parts


def _statistics_equal(on_cluster: dict[str, Any], in_memory: dict[str, Any]) -> None:
    """Bit for bit but Wasserstein (within its bound) and the reason text, which quotes Wasserstein."""
    assert {k: v for k, v in on_cluster.items() if k != "features"} == {
        k: v for k, v in in_memory.items() if k != "features"
    }
    for got, want in zip(on_cluster["features"], in_memory["features"], strict=True):
        for key, value in want.items():
            if key == "wasserstein_norm":
                bound = got["wasserstein_norm_bound"]
                assert abs(got[key] - value) <= bound * (1 + 1e-9) + 1e-15, (want["name"], bound)
            elif key != "reason":
                assert _same(got[key], value), (want["name"], key, got[key], value)
    tested = {k for f in in_memory["features"] for k in f}
    assert {"ks_statistic", "ks_pvalue", "psi", "js_distance", "chi2_statistic", "chi2_pvalue"} <= tested


def test_the_cluster_gives_the_single_node_result(cluster: Any, data: tuple[Path, Path, Path]) -> None:
    reference, current, parts = data
    address = cluster.scheduler_address
    # Partitions: one per row group, across files too.
    assert len(dataset_partitions(current, "input_features")[0]) == 6
    assert len(dataset_partitions(parts, "input_features")[0]) == 9
    in_memory = driftwatch.compare(reference, current).to_dict()
    streamed = driftwatch.compare(reference, current, memory_budget="1GiB").to_dict()
    on_cluster = driftwatch.compare(reference, current, engine="dask", scheduler=address).to_dict()
    _statistics_equal(on_cluster, in_memory)
    assert on_cluster == streamed  # Wasserstein too: a function of the merged partial only
    assert on_cluster["rows_excluded"]["current"] == {"feature 'normal': not a number or not finite": 3}
    kinds = {f["kind"] for f in on_cluster["features"]}
    assert kinds == {"numeric", "categorical"}
    # The same rows as a folder of files, and as a glob over it: other partitions, the same integers.
    assert driftwatch.compare(reference, parts, engine="dask", scheduler=address).to_dict() == streamed
    globbed = driftwatch.compare(reference, f"{parts}/part-*.parquet", engine="dask", scheduler=address)
    assert globbed.to_dict() == streamed


def kill_once_plugin(marker: str, task: str = "driftwatch-partial") -> Any:
    """A worker plugin that ends its worker's process (no clean-up, as a machine lost would) when a task whose
    key holds `task` starts executing while `marker` exists, removing it first: exactly one worker dies, mid-computation.
    Registered on the scheduler, so the worker the nanny restarts gets it too (and finds no marker). Defined
    in a function so that it is pickled by value: the workers cannot import this test module."""

    class KillOnce(WorkerPlugin):
        name = "driftwatch-kill-once"

        def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
            if finish == "executing" and task in str(key):
                try:
                    os.remove(marker)
                except FileNotFoundError:
                    return
                os._exit(1)

    return KillOnce()


def test_a_worker_killed_mid_computation_is_survived(
    cluster: Any, data: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    reference, current, _ = data
    expected = driftwatch.compare(reference, current, memory_budget="1GiB").to_dict()
    marker = tmp_path / "kill-a-worker"
    marker.write_text("once")
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        plugin = kill_once_plugin(str(marker))
        client.register_plugin(plugin)
        try:
            got = driftwatch.compare(reference, current, engine="dask", client=client).to_dict()
        finally:
            client.unregister_worker_plugin(plugin.name)
        client.wait_for_workers(2, timeout=60)  # the nanny's new worker, for the tests after this one
    assert not marker.exists()  # a worker did die while running a partition
    assert got == expected


@pytest.mark.parametrize("lost", [1, 2])
def test_a_run_whose_profiles_are_lost_is_made_once_more(
    cluster: Any, data: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch, lost: int
) -> None:
    """The scattered profiles cancelled, as when the workers holding them are lost (Dask does not make a
    scattered value again, and cancels the tasks that need it): the run is made again with the profiles
    shipped anew and gives the in-memory result; cancelled twice, it is a clear error."""
    from driftwatch import distributed as engine

    reference, current, _ = data
    expected = driftwatch.compare(reference, current, memory_budget="1GiB").to_dict()
    real_broadcast = engine.broadcast
    shipped: list[Any] = []

    def cancelled(client: Any, value: object, timeout: float) -> Any:
        shipped.append(real_broadcast(client, value, timeout))
        if len(shipped) <= lost:
            client.cancel([shipped[-1]], force=True)
        return shipped[-1]

    monkeypatch.setattr(engine, "broadcast", cancelled)
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        if lost == 2:
            with pytest.raises(InputError, match="the cluster cancelled it twice"):
                driftwatch.compare(reference, current, engine="dask", client=client)
        else:
            got = driftwatch.compare(reference, current, engine="dask", client=client).to_dict()
            assert got == expected
    assert len(shipped) == 2


def test_an_unreachable_scheduler_is_a_clear_error(
    data: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    reference, current, _ = data
    with pytest.raises(InputError, match=r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        driftwatch.compare(
            reference, current, engine="dask", scheduler="tcp://127.0.0.1:9", connect_timeout=1.0
        )
    with pytest.raises(InputError, match="--scheduler"):
        driftwatch.compare(reference, current, engine="dask")
    with pytest.raises(SourceError, match="no current files match"):
        driftwatch.compare(reference, "/nonexistent/*.parquet", engine="dask", scheduler="tcp://x:1")
    with pytest.raises(InputError, match="engine must be"):
        driftwatch.compare(reference, current, engine="spark")
    monkeypatch.setitem(sys.modules, "distributed", None)  # as without the extra: the import fails
    with pytest.raises(InputError, match=r"pip install 'driftwatch\[dask\]'"):
        driftwatch.compare(reference, current, engine="dask", scheduler="tcp://127.0.0.1:9")


def test_cli_engine_dask(cluster: Any, data: tuple[Path, Path, Path], tmp_path: Path) -> None:
    reference, current, parts = data

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "driftwatch.cli",
            "compare",
            str(reference),
            *args,
            "--format",
            "json",
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=300)

    done = run(str(parts), "--engine", "dask", "--scheduler", cluster.scheduler_address)
    assert done.returncode == 0, done.stderr
    expected = driftwatch.compare(reference, current, memory_budget="1GiB").to_dict()
    assert json.loads(done.stdout) == clean_json(expected)
    for args, message in (
        (("--engine", "dask"), "--scheduler"),
        (("--engine", "dask", "--scheduler", "x", "--memory-budget", "1GiB"), "--memory-budget is for one"),
        (("--scheduler", "tcp://127.0.0.1:9"), "--scheduler is for --engine dask"),
    ):
        failed = run(str(current), *args)
        assert failed.returncode != 0 and message in failed.stderr, (args, failed.stderr)
        assert "Traceback" not in failed.stderr


def test_a_partial_travels_packed_and_arrives_exactly() -> None:
    from driftwatch.distributed import packed, unpacked
    from driftwatch.stats.partials import NumericPartial, numeric_partial
    from driftwatch.stats.profile import numeric_profile

    rng = np.random.default_rng(5)
    profile = numeric_profile("x", rng.normal(size=5_000))
    partial = numeric_partial(profile, rng.normal(size=3_000))
    huge = NumericPartial("x", np.array([0, 2**40, 3], dtype=np.int64), partial.bin_counts, 0.0, 1.0, 0, 0)
    empty = NumericPartial("x", np.empty(0, dtype=np.int64), partial.bin_counts, 0.0, 1.0, 0, 0)
    for original in (partial, huge, empty):
        back = unpacked(packed(original))
        assert isinstance(back, NumericPartial)
        assert back.ks_counts.dtype == np.int64 and np.array_equal(back.ks_counts, original.ks_counts)
        assert (back.low, back.high, back.name) == (original.low, original.high, original.name)
    assert len(packed(partial).counts) < partial.ks_counts.nbytes / 4  # type: ignore[union-attr]
