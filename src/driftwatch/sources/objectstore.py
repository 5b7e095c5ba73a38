"""Prediction/label/reference files in object storage (S3 and S3-compatible servers such as MinIO, GCS, Azure).

A source path such as ``s3://bucket/predictions/**/*.parquet`` is split into a bucket, a listing prefix (the
key up to the last ``/`` before the first glob character) and a glob matched against each listed key (``*``
stays within one ``/`` segment, ``**`` crosses them, as for local files).

Reading: each new or changed object is downloaded to a temporary file named like the key (so its suffix still
tells the format and compression) and handed to the local reader (`sources.files.read_source`). Formats,
compression detection, line repair and quarantine are then exactly the local ones, and DuckDB reads a local file
at full speed; the cost is one sequential disk write of the object, small next to parsing it
(docs/benchmarks.md, "Sources").

Identity: an object is its URL plus its size and ETag. In `ingested_files` the ETag is stored as a 63-bit hash in
the `mtime_ns` column (a local file's identity is path + size + mtime there). The ETag of a single-part upload is
the MD5 of its bytes, so an identical re-upload is not even fetched; a multipart re-upload of the same bytes gets
a new ETag and is read again, and adds nothing, because rows are deduplicated by (request_id, model_version).

Listing (see `list_objects`): a full listing every cycle by default; with ``start_after`` (keys that sort in
time order, e.g. ``dt=2026-12-06/hour=05/part-0.parquet``) a cycle lists only keys after the greatest key
already seen (ListObjectsV2 ``StartAfter``), plus a full listing every ``full_relist_every`` cycles to catch a
late object whose key sorts before that.

Credentials: never in the config. The library's standard provider chains read them: ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, web identity and instance metadata for S3;
``GOOGLE_APPLICATION_CREDENTIALS`` / metadata for GCS; ``AZURE_STORAGE_*`` for Azure. ``anonymous: true`` (an
emulator, a public bucket) sends requests unsigned and looks for none; without it a missing credential fails the
source, never falling back to an unsigned read. Error messages name the URL and what failed, never a credential.

Endpoints: ``endpoint_url`` is each store type's own setting (S3/Azure ``endpoint``, GCS ``base_url``), so MinIO,
fake-gcs-server and Azurite are configured alike (tests/sources/ runs against all three kinds of server).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import obstore
from obstore.exceptions import BaseError as ObjectStoreError
from obstore.store import from_url

from driftwatch.config.sources import ObjectStoreOptions, is_object_url
from driftwatch.errors import SourceError, first_line
from driftwatch.workdirs import new_workdir

__all__ = [
    "Downloaded",
    "ObjectStoreOptions",
    "download",
    "is_object_url",
    "list_objects",
    "open_store",
    "parse_pattern",
]
_GLOB_CHARS = re.compile(r"[*?\[]")
_DOWNLOAD_CHUNK = 8 << 20
_S3_SCHEMES = ("s3", "s3a")
# The library's name for "send requests here instead of the provider's endpoint", per store type: S3 and Azure
# call it `endpoint`, GCS `base_url` (the same setting a service-account file's `gcs_base_url` gives).
_ENDPOINT_KEY = {"gs": "base_url"}


@dataclass(frozen=True)
class ObjectPattern:
    """A parsed ``scheme://bucket/prefix/glob`` source path."""

    url: str
    scheme: str
    bucket: str
    prefix: str  # the listing prefix: empty, or ending in "/"
    regex: re.Pattern[str]  # matched against the whole key

    @property
    def root(self) -> str:
        return f"{self.scheme}://{self.bucket}"

    def object_url(self, key: str) -> str:
        return f"{self.root}/{key}"


@dataclass(frozen=True)
class RemoteObject:
    """One listed object: its key, URL, size and ETag (None when the store gives none)."""

    key: str
    url: str
    size: int
    etag: str | None
    modified_ns: int

    @property
    def version(self) -> int:
        """The object's content version as a non-negative 63-bit integer: a hash of the ETag, else the
        modification time. Stored in ingested_files.mtime_ns."""
        if not self.etag:
            return self.modified_ns
        digest = hashlib.blake2b(self.etag.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") & ((1 << 63) - 1)


def parse_pattern(path: str) -> ObjectPattern:
    """Split an object-store source path; SourceError when it names no bucket."""
    scheme, _, rest = path.partition("://")
    bucket, _, key_glob = rest.partition("/")
    if not bucket:
        raise SourceError(path, "names no bucket (expected e.g. s3://bucket/prefix/*.parquet)")
    match = _GLOB_CHARS.search(key_glob)
    literal = key_glob if match is None else key_glob[: match.start()]
    prefix = literal[: literal.rfind("/") + 1]
    return ObjectPattern(path, scheme.lower(), bucket, prefix, re.compile(glob_regex(key_glob)))


def glob_regex(pattern: str) -> str:
    """A regex for a key glob: ``**/`` any number of segments, ``*`` and ``?`` within one, ``[...]`` a set."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[" and (end := pattern.find("]", i + 1)) > i + 1:
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out) + r"\Z"


def open_store(pattern: ObjectPattern, options: ObjectStoreOptions) -> Any:
    """An obstore store for the pattern's bucket. Credentials come from the environment (module docstring)."""
    config: dict[str, Any] = {}
    client: dict[str, Any] = {
        "timeout": timedelta(seconds=options.timeout_s),
        "connect_timeout": timedelta(seconds=min(options.timeout_s, 10.0)),
    }
    if options.endpoint_url:
        config[_ENDPOINT_KEY.get(pattern.scheme, "endpoint")] = options.endpoint_url
        client["allow_http"] = options.endpoint_url.startswith("http://")
    if options.region:
        if pattern.scheme not in _S3_SCHEMES:
            raise SourceError(pattern.url, "`object_store.region` applies to s3:// only")
        config["region"] = options.region
    if options.anonymous:
        # Explicit, never a fallback: without it a store with no credentials is an error (module docstring).
        config["skip_signature"] = True
    retry = {
        "max_retries": options.max_retries,
        "retry_timeout": timedelta(seconds=options.timeout_s),
        "backoff": {
            "init_backoff": timedelta(milliseconds=100),
            "max_backoff": timedelta(seconds=2),
            "base": 2,
        },
    }
    try:
        # Passed as one mapping: the stub's overloads are per store type, the URL's scheme picks the type.
        kwargs: dict[str, Any] = {"config": config or None, "client_options": client, "retry_config": retry}
        return from_url(pattern.root, **kwargs)
    except (ObjectStoreError, ValueError) as exc:
        raise SourceError(pattern.url, f"cannot open the object store: {_reason(exc)}") from None


def list_objects(store: Any, pattern: ObjectPattern, start_after: str | None = None) -> list[RemoteObject]:
    """The objects under the pattern's prefix whose key matches its glob, sorted by key.

    With `start_after`, only keys after it (S3 ListObjectsV2 StartAfter; GCS/Azure list from an offset the same
    way), so a time-ordered prefix of 100,000 objects costs one page per cycle instead of 100.
    Raises SourceError naming the URL when the store cannot be listed (unreachable, 5xx after retries,
    credentials refused): the caller records the source as failed for this cycle and reads nothing from it.
    """
    found: list[RemoteObject] = []
    try:
        stream = obstore.list(store, pattern.prefix or None, offset=start_after, chunk_size=1000)
        for chunk in stream:
            for meta in chunk:
                key = meta["path"]
                # The offset is re-checked here: some servers ignore it (fake-gcs-server, older S3-compatible
                # ones) or include the offset key itself (Azure's `startFrom`); a cycle must not see them again.
                if pattern.regex.match(key) and (start_after is None or key > start_after):
                    found.append(_remote(pattern, meta))
    except (ObjectStoreError, OSError, TimeoutError) as exc:
        raise SourceError(pattern.url, f"cannot list the object store: {_reason(exc)}") from None
    found.sort(key=lambda o: o.key)
    return found


@dataclass(frozen=True)
class Downloaded:
    """One object downloaded to a temporary file named like its key (so its suffix still tells the format and
    compression), with the object as read: the size and ETag of the GET response, which may be newer than the
    listing's (what is recorded as ingested is what was read). `remove` deletes the file and its folder."""

    local: str
    read: RemoteObject
    workdir: str = field(repr=False)

    def remove(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def download(
    store: Any, pattern: ObjectPattern, obj: RemoteObject, stop: threading.Event | None = None
) -> Downloaded:
    """Download one object (the caller removes it); SourceError, with nothing left behind, when it cannot be,
    or when `stop` is set (checked between chunks: a download ahead that is no longer wanted)."""
    workdir = new_workdir("object")
    local = os.path.join(workdir, os.path.basename(obj.key) or "object")
    try:
        result = obstore.get(store, obj.key)
        read = _remote(pattern, result.meta)
        with open(local, "wb") as out:
            for chunk in result.stream(min_chunk_size=_DOWNLOAD_CHUNK):
                if stop is not None and stop.is_set():
                    raise SourceError(obj.url, "download stopped")
                out.write(chunk)
    except BaseException as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        if isinstance(exc, ObjectStoreError | OSError | TimeoutError):
            raise SourceError(obj.url, f"cannot be fetched: {_reason(exc)}") from None
        raise
    return Downloaded(local, read, workdir)


def mirror_object(path: str, options: ObjectStoreOptions, cache_dir: str) -> str:
    """A local copy of one named object (a reference file), downloaded only when its ETag changed.

    The copy lives at ``cache_dir/<hash of the URL>/<version>/<name>`` with the object's modification time, so
    its path, size and mtime (the reference's identity) stay the same while the object does, and change with it.
    One HEAD request per call; older versions of the copy are removed.
    """
    pattern = parse_pattern(path)
    key = path.partition("://")[2].partition("/")[2]
    if not key or key.endswith("/") or _GLOB_CHARS.search(key):
        raise SourceError(path, "must name one object (no glob), e.g. s3://bucket/reference/train.parquet")
    store = open_store(pattern, options)
    try:
        obj = _remote(pattern, obstore.head(store, key))
    except (ObjectStoreError, OSError, TimeoutError) as exc:
        raise SourceError(path, f"cannot be read: {_reason(exc)}") from None
    home = os.path.join(cache_dir, hashlib.sha256(path.encode()).hexdigest()[:16])
    local = os.path.join(home, f"{obj.version:016x}", os.path.basename(key))
    if not (os.path.isfile(local) and os.path.getsize(local) == obj.size):
        os.makedirs(os.path.dirname(local), exist_ok=True)
        got = download(store, pattern, obj)
        try:
            shutil.move(got.local, local + ".part")  # the same folder: the rename below is atomic
        finally:
            got.remove()
        os.replace(local + ".part", local)
        os.utime(local, ns=(obj.modified_ns, obj.modified_ns))
        for old in os.listdir(home):
            if old != f"{obj.version:016x}":
                shutil.rmtree(os.path.join(home, old), ignore_errors=True)
    return local


def _remote(pattern: ObjectPattern, meta: Any) -> RemoteObject:
    key = str(meta["path"])
    modified = meta["last_modified"]
    return RemoteObject(
        key=key,
        url=pattern.object_url(key),
        size=int(meta["size"]),
        etag=_quoted_etag(meta.get("e_tag")),
        modified_ns=int(modified.timestamp() * 1_000_000) * 1000,
    )


def _quoted_etag(etag: str | None) -> str | None:
    """The ETag in its HTTP header form, quoted: a listing and a GET of the same object must give the same
    identity, and some servers quote it in one and not the other (fake-gcs-server's XML listing gives it bare,
    its GET headers quoted). S3 quotes both, so the identity of an S3 object already recorded is unchanged."""
    if not etag or etag.startswith(('"', 'W/"')):
        return etag
    return f'"{etag}"'


def _reason(exc: BaseException) -> str:
    """The library's message, first line only, with any query string (a presigned URL's signature) cut off."""
    text = first_line(exc)
    return re.sub(r"\?[^\s\"']*", "?…", text)[:500]
