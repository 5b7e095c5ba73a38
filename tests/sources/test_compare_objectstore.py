"""`driftwatch compare` over Parquet datasets in object storage (a real moto S3 server on loopback): in memory,
streamed (`--memory-budget`) and on the session's 2-worker Dask cluster, each giving the same document as the
same rows read from local files; a missing bucket or key is a clear error naming the URL, never a credential."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import driftwatch
from conftest import S3_ENV, S3Server
from driftwatch.cli.tables import clean_json
from driftwatch.errors import DriftwatchError, SourceError
from test_streaming import _table

ROWS = 30_000


def _parquet(table: pa.Table, row_group_size: int) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=row_group_size)
    return sink.getvalue()


@pytest.fixture(scope="module")
def data(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same rows locally (one reference file, one current file) and in a bucket (the reference as one
    object, the current as three objects of several row groups each, plus an object that is not Parquet)."""
    rng = np.random.default_rng(20)
    reference = _table(rng, 8_000, 0.0)
    current = _table(rng, ROWS, 0.05)
    normal = current.column("normal").to_numpy().copy()
    normal[[5, 12_000]] = [np.inf, -np.inf]  # rows every engine refuses alike
    current = current.set_column(0, "normal", pa.array(normal))
    folder = tmp_path_factory.mktemp("objcmp")
    pq.write_table(reference, folder / "reference.parquet")
    pq.write_table(current, folder / "current.parquet", row_group_size=7_000)
    bucket = s3_server.new_bucket()
    s3_server.put(bucket, "ref/reference.parquet", _parquet(reference, 3_000))
    for i, start in enumerate(range(0, ROWS, 10_000)):
        s3_server.put(bucket, f"cur/day={i}/part-{i}.parquet", _parquet(current.slice(start, 10_000), 4_000))
    s3_server.put(bucket, "cur/_SUCCESS", b"")  # a writer's marker: not a .parquet object, left out
    return {
        "local": (folder / "reference.parquet", folder / "current.parquet"),
        "reference": f"s3://{bucket}/ref/reference.parquet",
        "folder": f"s3://{bucket}/cur/",
        "glob": f"s3://{bucket}/cur/*/part-*.parquet",
        "bucket": bucket,
        "endpoint": s3_server.url,
    }


def test_in_memory_and_streamed_give_the_local_documents(
    data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ref_local, cur_local = data["local"]
    endpoint = data["endpoint"]
    in_memory = driftwatch.compare(ref_local, cur_local).to_dict()
    streamed = driftwatch.compare(ref_local, cur_local, memory_budget="1GiB").to_dict()
    assert in_memory["rows_excluded"]["current"] == {"feature 'normal': not a number or not finite": 2}
    for current in (data["folder"], data["glob"]):
        got = driftwatch.compare(data["reference"], current, endpoint_url=endpoint).to_dict()
        assert got == in_memory, current  # bit for bit: D, p, PSI, chi², JS, W1 and the decision
        stream = driftwatch.compare(data["reference"], current, endpoint_url=endpoint, memory_budget="1GiB")
        assert stream.to_dict() == streamed, current
    # The endpoint from the standard environment variable, as the AWS SDKs and CLI take it.
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    one_object = f"s3://{data['bucket']}/cur/day=1/part-1.parquet"
    got = driftwatch.compare(data["reference"], one_object).to_dict()
    want = driftwatch.compare(ref_local, pq.read_table(cur_local).slice(10_000, 10_000)).to_dict()
    assert got == want


def test_objects_with_columns_in_another_order_or_widened_compare_alike(
    s3_server: S3Server, data: dict[str, Any], tmp_path: Any
) -> None:
    """Review finding: in memory, objects whose columns came in another order, or an integer column written as
    float by a later job, were refused, while the streamed and Dask engines read them by name."""
    current = pq.read_table(data["local"][1]).slice(0, 20_000)
    first, second = current.slice(0, 10_000), current.slice(10_000, 10_000)
    second = second.set_column(
        second.schema.get_field_index("count"), "count", second.column("count").cast(pa.float64())
    )
    second = second.select(list(reversed(second.column_names)))
    bucket = data["bucket"]
    s3_server.put(bucket, "mixed/part-0.parquet", _parquet(first, 4_000))
    s3_server.put(bucket, "mixed/part-1.parquet", _parquet(second, 4_000))
    local = tmp_path / "current.parquet"
    pq.write_table(current.set_column(1, "count", current.column("count").cast(pa.float64())), local)
    expected = driftwatch.compare(data["local"][0], local).to_dict()
    url = f"s3://{bucket}/mixed/"
    assert driftwatch.compare(data["reference"], url, endpoint_url=data["endpoint"]).to_dict() == expected
    streamed = driftwatch.compare(data["reference"], url, endpoint_url=data["endpoint"], memory_budget="1GiB")
    assert streamed.to_dict() == driftwatch.compare(data["local"][0], local, memory_budget="1GiB").to_dict()
    # An object without one of the features is refused, as streaming refuses it, not read as half missing.
    s3_server.put(bucket, "dropped/part-0.parquet", _parquet(first, 4_000))
    s3_server.put(bucket, "dropped/part-1.parquet", _parquet(second.drop_columns(["rounded"]), 4_000))
    for engine in ({}, {"memory_budget": "1GiB"}):
        with pytest.raises(DriftwatchError, match="rounded"):
            driftwatch.compare(
                data["reference"], f"s3://{bucket}/dropped/", endpoint_url=data["endpoint"], **engine
            )


def test_the_dask_cluster_reads_the_objects_itself(cluster: Any, data: dict[str, Any]) -> None:
    from distributed import Client

    ref_local, cur_local = data["local"]
    streamed = driftwatch.compare(ref_local, cur_local, memory_budget="1GiB").to_dict()
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        # The workers read credentials from their own environment: give them the test server's, as a
        # deployment gives its workers theirs. Only the URL and the endpoint travel with the tasks.
        client.run(os.environ.update, S3_ENV)
        got = driftwatch.compare(
            data["reference"], data["glob"], engine="dask", client=client, endpoint_url=data["endpoint"]
        ).to_dict()
    assert got == streamed  # the statistics of the single-node stream, Wasserstein and its bound too
    from driftwatch.comparison import CompareOptions
    from driftwatch.distributed import dataset_partitions

    partitions, _ = dataset_partitions(
        data["folder"], "input_features", CompareOptions(endpoint_url=data["endpoint"]).store
    )
    assert len(partitions) == 9  # 3 objects x 3 row groups, by byte range from each footer
    assert {p.store.endpoint_url for p in partitions if p.store} == {data["endpoint"]}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("s3://no-such-bucket-dw/cur/", "bucket not found"),
        ("s3://{bucket}/cur/day=9/part-9.parquet", "current object not found"),
        ("s3://{bucket}/nothing-here/", "current folder holds no .parquet objects"),
        ("s3://{bucket}/cur/*.csv", "no current objects match the pattern"),
        ("gs://{bucket}/cur/", "s3:// URLs"),
    ],
)
def test_a_missing_bucket_or_key_names_the_url_and_no_credential(
    data: dict[str, Any], path: str, message: str
) -> None:
    url = path.format(bucket=data["bucket"])
    for engine in ({}, {"memory_budget": "1GiB"}):
        with pytest.raises(SourceError) as caught:
            driftwatch.compare(data["reference"], url, endpoint_url=data["endpoint"], **engine)
        text = str(caught.value)
        assert message in text, text
        assert url.split("/")[2] in text  # the bucket, as the URL names it
        assert S3_ENV["AWS_SECRET_ACCESS_KEY"] not in text and S3_ENV["AWS_ACCESS_KEY_ID"] not in text


def test_cli_reads_s3_and_fails_cleanly(data: dict[str, Any]) -> None:
    ref_local, cur_local = data["local"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **S3_ENV}
        env.pop("AWS_ENDPOINT_URL", None)
        command = [sys.executable, "-m", "driftwatch.cli", "compare", *args, "--format", "json"]
        return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)

    done = run(
        data["reference"], data["folder"], "--endpoint-url", data["endpoint"], "--memory-budget", "1GiB"
    )
    assert done.returncode == 0, done.stderr
    expected = driftwatch.compare(ref_local, cur_local, memory_budget="1GiB").to_dict()
    assert json.loads(done.stdout) == clean_json(expected)
    missing = f"s3://{data['bucket']}/cur/day=7/part-7.parquet"
    failed = run(data["reference"], missing, "--endpoint-url", data["endpoint"])
    assert failed.returncode == 2, failed.stderr
    assert missing in failed.stderr and "Traceback" not in failed.stderr
    assert S3_ENV["AWS_SECRET_ACCESS_KEY"] not in failed.stderr + failed.stdout


def test_cli_endpoint_from_the_service_specific_variable_first_and_never_a_password(
    data: dict[str, Any],
) -> None:
    """Review findings: the CLI took AWS_ENDPOINT_URL over AWS_ENDPOINT_URL_S3 (the SDKs' order, and the
    library's), and an endpoint URL holding a user and password was echoed in the error."""
    ref_local, cur_local = data["local"]

    def run(*args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **S3_ENV}
        env.pop("AWS_ENDPOINT_URL", None)
        env.update(env_vars)
        command = [sys.executable, "-m", "driftwatch.cli", "compare", *args, "--format", "json"]
        return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)

    done = run(
        data["reference"],
        data["folder"],
        AWS_ENDPOINT_URL="http://general.invalid:4566",
        AWS_ENDPOINT_URL_S3=data["endpoint"],
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == clean_json(driftwatch.compare(ref_local, cur_local).to_dict())
    for endpoint in (
        "ftp://admin:s3cret@10.0.0.1:9000",
        "http://admin:s3cret@127.0.0.1:9000",
        "http://admin:s3cret@[::1",
    ):
        for failed in (
            run(data["reference"], data["folder"], "--endpoint-url", endpoint),
            run(data["reference"], data["folder"], AWS_ENDPOINT_URL=endpoint),
        ):
            assert failed.returncode == 2, (endpoint, failed.stderr)
            assert "s3cret" not in failed.stderr + failed.stdout, failed.stderr
            assert "Traceback" not in failed.stderr and "error:" in failed.stderr
    refused = run(data["reference"], data["folder"], "--endpoint-url", "ftp://10.0.0.1:9000")
    assert refused.returncode == 2 and "http(s)://HOST[:PORT]" in refused.stderr, refused.stderr


def test_errors_are_driftwatch_errors_for_an_unreachable_endpoint(data: dict[str, Any]) -> None:
    from conftest import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(DriftwatchError) as caught:
        driftwatch.compare(data["reference"], data["folder"], endpoint_url=dead)
    assert data["reference"] in str(caught.value) or data["folder"] in str(caught.value)
    assert S3_ENV["AWS_SECRET_ACCESS_KEY"] not in str(caught.value)


def test_a_row_group_is_read_by_byte_range_not_the_whole_object(
    s3_server: S3Server, fault_proxy: Any
) -> None:
    from driftwatch.config.sources import ObjectStoreOptions
    from driftwatch.sources.batches import parquet_row_group, parquet_shape

    rng = np.random.default_rng(3)
    wide = pa.table({f"c{i}": rng.random(40_000) for i in range(8)})  # random floats: ~2.5 MB, incompressible
    body = _parquet(wide, 10_000)
    bucket = s3_server.new_bucket()
    s3_server.put(bucket, "wide.parquet", body)
    url = f"s3://{bucket}/wide.parquet"
    store = ObjectStoreOptions(endpoint_url=fault_proxy.url)
    assert parquet_shape(url, "current", store).row_groups == 4
    before = fault_proxy.bytes_sent
    group = parquet_row_group(url, 2, ["c5"], store)
    assert group.column("c5").to_pylist() == wide.column("c5").slice(20_000, 10_000).to_pylist()
    read = fault_proxy.bytes_sent - before
    # One column of one of four row groups is 1/32 of the data: the footer and that column chunk, by range.
    assert 0 < read < len(body) // 8, (read, len(body))
