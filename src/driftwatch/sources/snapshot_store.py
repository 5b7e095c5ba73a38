"""Where snapshot files go: a local folder or object storage (pipeline/snapshots.py decides what and when).

Both stores publish a snapshot the same way, so that no partial snapshot is ever visible as complete:
1. the rows are exported (by DuckDB) into a local staging folder;
2. `publish` makes the files durable at their final place: locally fsync + one rename of the folder; in object
   storage one PUT per file (a PUT is atomic: an object is wholly there or not at all, a multipart upload too,
   since it appears only when completed);
3. `commit` writes `manifest.json` LAST (locally: temp name, fsync, rename; in object storage: one PUT). The
   manifest is the commit point: a snapshot location without it is not a snapshot, and `discard` removes what
   a stopped process left there.

Object storage goes through the same obstore layer as the sources (sources/objectstore.py: the same
`object_store:` options, credentials only from the environment, errors as SourceError naming the URL).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import obstore
from obstore.exceptions import BaseError as ObjectStoreError

from driftwatch.config.sources import ObjectStoreOptions, is_object_url
from driftwatch.errors import SourceError
from driftwatch.sources.objectstore import _reason, open_store, parse_pattern
from driftwatch.workdirs import new_workdir

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class SnapshotFile:
    path: str  # relative to the snapshot's location, e.g. day=2026-10-08/version=v3.2/part-0.parquet
    bytes: int


class SnapshotStore(Protocol):
    def location(self, monitor: str, snapshot_id: str) -> str:
        """Where the snapshot lives: a folder path or an object URL prefix (recorded in `snapshots.path`)."""
        ...

    def staging(self, location: str) -> Path:
        """A local folder (not yet existing) to export the rows into."""
        ...

    def publish(self, staged: Path, location: str) -> tuple[SnapshotFile, ...]: ...

    def commit(self, location: str, manifest: dict[str, Any]) -> None: ...

    def manifest(self, location: str) -> dict[str, Any] | None:
        """The snapshot's manifest, or None when there is none (the snapshot is not complete)."""
        ...

    def local_files(self, location: str, files: list[str]) -> AbstractContextManager[list[str]]:
        """A context manager yielding local paths of the snapshot's files (downloaded when remote)."""
        ...

    def discard(self, location: str) -> None:
        """Remove whatever is at the location and its staging folder (an incomplete snapshot)."""
        ...


def _fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk; POSIX only (Windows cannot open a folder)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parquet_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.parquet"))


def _relative(folder: Path, files: list[Path]) -> tuple[SnapshotFile, ...]:
    return tuple(SnapshotFile(p.relative_to(folder).as_posix(), p.stat().st_size) for p in files)


class LocalSnapshotStore:
    """`<root>/<monitor>/<snapshot id>/…`, staged in the hidden sibling `.tmp-<snapshot id>` (same file system)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def location(self, monitor: str, snapshot_id: str) -> str:
        return str(self.root / monitor / snapshot_id)

    def staging(self, location: str) -> Path:
        final = Path(location)
        final.parent.mkdir(parents=True, exist_ok=True)
        return final.parent / f".tmp-{final.name}"

    def publish(self, staged: Path, location: str) -> tuple[SnapshotFile, ...]:
        # Flushed before the rename publishes them: a power cut must not leave empty files under the final name.
        for path in _parquet_files(staged):
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        os.rename(staged, location)
        _fsync_dir(
            Path(location).parent
        )  # the rename itself survives a power cut only once its folder is synced
        return _relative(Path(location), _parquet_files(Path(location)))

    def commit(self, location: str, manifest: dict[str, Any]) -> None:
        final = Path(location)
        tmp = final / f".{MANIFEST}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, final / MANIFEST)
        _fsync_dir(final)  # the commit point: durable only once the folder entry naming the manifest is

    def manifest(self, location: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((Path(location) / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return data

    @contextmanager
    def local_files(self, location: str, files: list[str]) -> Iterator[list[str]]:
        yield [str(Path(location) / f) for f in files]

    def discard(self, location: str) -> None:
        final = Path(location)
        shutil.rmtree(final.parent / f".tmp-{final.name}", ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)


class ObjectSnapshotStore:
    """`<url>/<monitor>/<snapshot id>/…` in a bucket (url = ``s3://bucket/prefix``), staged in a local temp folder.

    Data files are PUT under their final keys, then the manifest. A stopped process can leave data objects
    without a manifest: invisible as a snapshot, removed by `discard` on the next pass (and never read back by
    a reader that follows the manifest). A multipart upload cut short leaves only parts that S3 does not list;
    a bucket lifecycle rule (AbortIncompleteMultipartUpload) frees them.
    """

    def __init__(self, url: str, options: ObjectStoreOptions) -> None:
        self.url = url.rstrip("/")
        self.pattern = parse_pattern(self.url + "/")
        self.options = options
        self._store: Any = None
        self._staged: dict[str, Path] = {}  # location -> its local staging folder, removed by publish/discard

    @property
    def store(self) -> Any:
        if self._store is None:
            self._store = open_store(self.pattern, self.options)
        return self._store

    def _key(self, location: str, name: str = "") -> str:
        prefix = location.removeprefix(self.pattern.root + "/")
        return f"{prefix}/{name}" if name else prefix

    def location(self, monitor: str, snapshot_id: str) -> str:
        return f"{self.url}/{monitor}/{snapshot_id}"

    def staging(self, location: str) -> Path:
        staged = Path(new_workdir("snapshot")) / "rows"
        self._staged[location] = staged
        return staged

    def publish(self, staged: Path, location: str) -> tuple[SnapshotFile, ...]:
        files = _parquet_files(staged)
        try:
            for path in files:
                key = self._key(location, path.relative_to(staged).as_posix())
                try:
                    obstore.put(self.store, key, path)
                except (ObjectStoreError, OSError, TimeoutError) as exc:
                    raise SourceError(
                        self.pattern.object_url(key), f"cannot be written: {_reason(exc)}"
                    ) from None
            return _relative(staged, files)
        finally:
            self._drop_staging(location)

    def _drop_staging(self, location: str) -> None:
        staged = self._staged.pop(location, None)
        if staged is not None:
            shutil.rmtree(staged.parent, ignore_errors=True)

    def commit(self, location: str, manifest: dict[str, Any]) -> None:
        key = self._key(location, MANIFEST)
        try:
            obstore.put(self.store, key, json.dumps(manifest, indent=2).encode())
        except (ObjectStoreError, OSError, TimeoutError) as exc:
            raise SourceError(self.pattern.object_url(key), f"cannot be written: {_reason(exc)}") from None

    def manifest(self, location: str) -> dict[str, Any] | None:
        key = self._key(location, MANIFEST)
        try:
            body = obstore.get(self.store, key).bytes()
        except FileNotFoundError:
            return None
        except (ObjectStoreError, OSError, TimeoutError) as exc:
            raise SourceError(self.pattern.object_url(key), f"cannot be read: {_reason(exc)}") from None
        data: dict[str, Any] = json.loads(bytes(body))
        return data

    @contextmanager
    def local_files(self, location: str, files: list[str]) -> Iterator[list[str]]:
        """Downloads the files: what proves a row is in the snapshot is what the store holds, not a local copy."""
        workdir = new_workdir("snapshot-read")
        try:
            local: list[str] = []
            for i, name in enumerate(files):
                key = self._key(location, name)
                target = os.path.join(workdir, f"{i:06d}.parquet")
                try:
                    result = obstore.get(self.store, key)
                    with open(target, "wb") as out:
                        for chunk in result.stream(min_chunk_size=8 << 20):
                            out.write(chunk)
                except (ObjectStoreError, OSError, TimeoutError) as exc:
                    raise SourceError(
                        self.pattern.object_url(key), f"cannot be read: {_reason(exc)}"
                    ) from None
                local.append(target)
            yield local
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def discard(self, location: str) -> None:
        self._drop_staging(location)
        prefix = self._key(location) + "/"
        try:
            keys = [meta["path"] for chunk in obstore.list(self.store, prefix) for meta in chunk]
            if keys:
                obstore.delete(self.store, keys)
        except (ObjectStoreError, OSError, TimeoutError) as exc:
            raise SourceError(location, f"cannot remove an incomplete snapshot: {_reason(exc)}") from None


def snapshot_store(root: str, options: ObjectStoreOptions) -> SnapshotStore:
    """The store for a `retention.snapshot` value (or `driftwatch snapshot --out`)."""
    if is_object_url(root):
        return ObjectSnapshotStore(root, options)
    return LocalSnapshotStore(Path(root))


def store_for_location(location: str, options: ObjectStoreOptions) -> SnapshotStore:
    """The store holding a recorded snapshot location (it may predate a change of `retention.snapshot`)."""
    if is_object_url(location):
        scheme, _, rest = location.partition("://")
        return ObjectSnapshotStore(f"{scheme}://{rest.partition('/')[0]}", options)
    return LocalSnapshotStore(Path(location).parent.parent)
