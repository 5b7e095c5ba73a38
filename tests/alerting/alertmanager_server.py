"""A real Prometheus Alertmanager for the tests: Debian's `prometheus-alertmanager` binary on a loopback port.

`start_alertmanager` finds the binary (PATH, or the Debian package's /usr/bin/prometheus-alertmanager), installs
the package with apt-get when it is missing (running `apt-get update` first if the package is unknown), writes a
config with a short `resolve_timeout`, starts it with clustering off (`--cluster.listen-address=`), and waits
for `/-/ready`. It returns None with the reason when the binary cannot be had (the fixture skips with it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

BINARY_NAMES = ("alertmanager", "prometheus-alertmanager")
DEBIAN_PACKAGE = "prometheus-alertmanager"
RESOLVE_TIMEOUT_SECONDS = 3

CONFIG = f"""\
global:
  resolve_timeout: {RESOLVE_TIMEOUT_SECONDS}s
route:
  receiver: sink
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: sink
"""


@dataclass
class Alertmanager:
    url: str
    process: subprocess.Popen[bytes]
    folder: Path

    def alerts(self, **filters: str) -> list[dict[str, object]]:
        """GET /api/v2/alerts (active, silenced, inhibited and unprocessed: Alertmanager's defaults)."""
        params = [("filter", f'{k}="{v}"') for k, v in filters.items()]
        response = httpx.get(f"{self.url}/api/v2/alerts", params=params, timeout=10)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


def find_binary() -> str | None:
    for name in BINARY_NAMES:
        found = shutil.which(name)
        if found:
            return found
    debian = Path("/usr/bin/prometheus-alertmanager")
    return str(debian) if debian.is_file() else None


def install_binary() -> tuple[str | None, str]:
    """Install Debian's package; (binary, "") or (None, why not)."""
    apt = shutil.which("apt-get")
    if apt is None:
        return None, "no apt-get on this machine to install prometheus-alertmanager"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "--no-install-recommends", DEBIAN_PACKAGE]
    result = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900, check=False)
    if result.returncode != 0:
        subprocess.run([apt, "update"], capture_output=True, text=True, env=env, timeout=900, check=False)
        result = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900, check=False)
    binary = find_binary()
    if binary is None:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        return None, f"`apt-get install {DEBIAN_PACKAGE}` failed: {tail[0]}"
    return binary, ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_alertmanager() -> tuple[Alertmanager | None, str]:
    binary = find_binary()
    reason = ""
    if binary is None:
        binary, reason = install_binary()
    if binary is None:
        return None, reason
    folder = Path(tempfile.mkdtemp(prefix="driftwatch-am-"))
    (folder / "alertmanager.yml").write_text(CONFIG, encoding="utf-8")
    (folder / "data").mkdir()
    port = free_port()
    log = (folder / "alertmanager.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments
        [
            binary,
            f"--config.file={folder / 'alertmanager.yml'}",
            f"--storage.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    server = Alertmanager(f"http://127.0.0.1:{port}", process, folder)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = (folder / "alertmanager.log").read_text(errors="replace")[-500:]
            server.stop()
            raise RuntimeError(f"alertmanager exited with {process.returncode}: {output}")
        try:
            if httpx.get(f"{server.url}/-/ready", timeout=1).status_code == 200:
                return server, ""
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("alertmanager did not become ready within 30 s")
