"""A real PostgreSQL server for the database-source tests: initdb + pg_ctl in a temporary folder.

Binaries: /usr/lib/postgresql/<version>/bin (Debian), else on PATH, else installed by .ci/install-postgres.
PostgreSQL refuses to run as root, so as root the server runs as the `postgres` (or `nobody`) user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def server_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def find_or_install() -> tuple[Path | None, str]:
    """The server binaries' folder, installing them when missing; (None, why) when that is not possible."""
    if (found := server_bin()) is not None:
        return found, ""
    run = subprocess.run([str(REPO / ".ci/install-postgres")], capture_output=True, text=True, timeout=900)
    if (found := server_bin()) is not None:
        return found, ""
    return None, f"no PostgreSQL server binaries and .ci/install-postgres failed: {run.stderr.strip()[-300:]}"


class PostgresServer:
    def __init__(self, bindir: Path, port: int) -> None:
        self.bindir = bindir
        self.port = port
        self.root = Path(tempfile.mkdtemp(prefix="driftwatch-pg-"))
        self.data = self.root / "data"
        self.user = None
        if os.geteuid() == 0:
            self.user = next(u for u in ("postgres", "nobody") if _has_user(u))
            pw = pwd.getpwnam(self.user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", "driftwatch", "--auth=trust", "-E", "UTF8", "--no-sync"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.root / "log"),
            "start",
            "-o",
            f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=64MB",
        )
        self.uri = f"postgresql://driftwatch@127.0.0.1:{port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
