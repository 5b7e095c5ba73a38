"""The OpenAPI schema matches what the server does: schemathesis (`st run`, every phase and every check) against
a real `driftwatch serve` on 127.0.0.1, with the write token; 0 server errors and 0 schema mismatches.

Run against the real server rather than the ASGI app so the answers are the ones a client gets (uvicorn's
framing, the body limits, the scheduler running). Settings, and the one documented allowance (a schema-valid
body or roll-up may still be refused with a 422 naming the problem, where validity depends on the monitor's
config and data), are in tests/schemathesis/schemathesis.toml.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from _service import TOKEN, make_project, served

pytestmark = pytest.mark.slow  # a server start and ~1000 generated requests: about 2 minutes on 2 cores

BIN = Path(sys.executable).parent
CONFIG = Path(__file__).parent / "schemathesis" / "schemathesis.toml"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("schema")
    config = make_project(root / "demo")
    log = root / "serve.log"
    with served(config, log, timeout=120, env={**os.environ, "DRIFTWATCH_TOKEN": TOKEN}) as url:
        yield url
    assert "internal error" not in log.read_text() and "Traceback" not in log.read_text()


def test_schemathesis_finds_no_server_error_and_no_mismatch(server: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            str(BIN / "st"),
            "--no-color",
            "--config-file",
            str(CONFIG),
            "run",
            f"{server}/openapi.json",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-2000:]  # exit 1 on any failure
    summary = done.stdout[done.stdout.rfind("SUMMARY") :]
    selected = re.search(r"Selected: (\d+)/(\d+)", summary)
    tested = re.search(r"Tested: (\d+)", summary)
    assert selected and tested, summary
    assert selected.group(1) == selected.group(2) == tested.group(1), summary  # every operation was tested


def test_the_schema_names_the_operations_that_need_the_token(server: str) -> None:
    schema = httpx.get(f"{server}/openapi.json", timeout=10).json()
    secured = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") == [{"bearerToken": []}]
    }
    writes = {
        ("POST", "/api/monitors/{name}/runs"),
        ("POST", "/api/monitors/{name}/predictions"),
        ("POST", "/api/monitors/{name}/labels"),
        ("POST", "/api/silences"),
        ("DELETE", "/api/silences/{silence_id}"),
    }
    assert secured == writes  # public_reads is on in the demo project
    # ... and each of them refuses a request without the token, or with a wrong one.
    for method, path in sorted(writes):
        concrete = path.replace("{name}", "credit-default").replace("{silence_id}", "0" * 32)
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            answer = httpx.request(
                method, server + concrete, headers=headers, json={"records": []}, timeout=30
            )
            assert answer.status_code == 401, (method, path, answer.text)
