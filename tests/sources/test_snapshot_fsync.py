"""A local snapshot's renames are durable: after the folder rename (publish) and the manifest rename (the commit
point) the folder holding the new entry is fsynced — without it a power cut can undo a rename whose files were
flushed (review finding, sources/snapshot_store.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from driftwatch.sources.snapshot_store import MANIFEST, LocalSnapshotStore

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd")


def test_each_rename_is_followed_by_an_fsync_of_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def rename(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        real_rename(src, dst)
        events.append(("rename", str(Path(dst).resolve())))

    store = LocalSnapshotStore(tmp_path / "snap")
    location = store.location("m", "s1")
    staged = store.staging(location)
    (staged / "day=2026-01-01").mkdir(parents=True)
    (staged / "day=2026-01-01" / "part-0.parquet").write_bytes(b"PAR1")
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    store.publish(staged, location)
    store.commit(location, {"files": []})
    final = Path(location).resolve()
    renames = [i for i, e in enumerate(events) if e[0] == "rename"]
    assert [events[i][1] for i in renames] == [str(final), str(final / MANIFEST)]
    # After each rename, before the next step: the folder that holds the renamed entry is synced.
    after_publish = events[renames[0] + 1 : renames[1]]
    assert ("fsync", str(final.parent)) in after_publish
    assert ("fsync", str(final)) in events[renames[1] + 1 :]
    assert (final / MANIFEST).exists()
