"""Temporary folders for a pulled batch, a downloaded object or a snapshot being staged, named by their process.

Each is removed when its work is done, but a process killed meanwhile (SIGKILL, the OOM killer, a power cut)
leaves its folder behind: up to a pulled batch of 500k uncompressed rows each. So the folder's name carries
the process id and its PID namespace (`driftwatch-<kind>-<namespace>-<pid>-<random>`), and `sweep_workdirs` (at the
start of every cycle) removes the folders of processes of its own namespace that are gone. A live process's
folders are never touched, whoever runs it; a folder of another namespace (another container sharing the
temporary folder, whose process ids mean nothing here) is left alone; a process id reused since only keeps an
old folder a little longer.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile

_PREFIX = "driftwatch-"
_NAME = re.compile(r"driftwatch-[a-z-]+?-(\d+)-(\d+)-[^/]+")


@functools.cache
def _namespace() -> int:
    """This process's PID namespace (its inode under /proc), 0 where there is none to read; read once."""
    try:
        link = os.readlink("/proc/self/ns/pid")  # 'pid:[4026531836]'
    except OSError:
        return 0
    digits = "".join(c for c in link if c.isdigit())
    return int(digits) if digits else 0


def new_workdir(kind: str) -> str:
    """A new empty folder in the system's temporary folder, for this process's `kind` of work."""
    return tempfile.mkdtemp(prefix=f"{_PREFIX}{kind}-{_namespace()}-{os.getpid()}-")


def sweep_workdirs() -> int:
    """Remove the folders `new_workdir` left behind by processes that no longer run; returns how many."""
    root = tempfile.gettempdir()
    try:
        names = os.listdir(root)
    except OSError:
        return 0
    removed = 0
    namespace = _namespace()
    for name in names:
        found = _NAME.fullmatch(name) if name.startswith(_PREFIX) else None
        if found is None or int(found.group(1)) != namespace or _alive(int(found.group(2))):
            continue
        shutil.rmtree(os.path.join(root, name), ignore_errors=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process, or a number we cannot ask about: leave its folder alone
    return True
