"""Parquet datasets in object storage for `driftwatch compare` (in memory, `--memory-budget`, `--engine dask`).

A dataset is ``s3://bucket/key.parquet`` (one object), ``s3://bucket/prefix/`` (its ``.parquet`` objects,
recursively) or a glob (``s3://bucket/prefix/*.parquet``: ``*`` within one ``/`` segment, ``**`` across them,
as for local files and for ingest, `sources.objectstore.glob_regex`). Objects are opened with pyarrow's own
filesystem (`pyarrow.fs.S3FileSystem`), so a Parquet reader asks for the footer and then each column chunk by
byte range: a row group is read, never the whole object.

Why pyarrow's filesystem here and obstore for ingest: ingest downloads whole objects to hand them to its local
readers; `compare` streams row groups, which pyarrow's Parquet reader does over any of its random-access files.

Where to send requests: `ObjectStoreOptions.endpoint_url` (``compare --endpoint-url``), else the standard
``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` environment variables, else AWS. Credentials: never an argument;
the AWS SDK's standard chain reads them (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
``AWS_SESSION_TOKEN``, profiles, web identity, instance metadata) in the process that reads: on a Dask worker,
the worker's own environment. Only the URL and the endpoint travel to workers. Errors name the URL and
pyarrow's first line, never a credential.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from driftwatch.config.sources import ObjectStoreOptions, has_credentials, is_object_url
from driftwatch.errors import SourceError, first_line

if TYPE_CHECKING:
    import pyarrow.fs as pafs

__all__ = ["ObjectStoreOptions", "is_object_url", "object_files", "open_object", "endpoint_from_env"]

_S3_SCHEMES = ("s3", "s3a")
_GLOB = re.compile(r"[*?\[]")
ENDPOINT_ENV = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
"""The AWS SDKs' standard variables for a custom endpoint, the service-specific one first."""


@dataclass(frozen=True)
class ObjectPath:
    """A parsed object URL: its bucket and key (the key may hold a glob or end in "/")."""

    url: str
    bucket: str
    key: str


def endpoint_from_env() -> str | None:
    """The endpoint the standard environment variables name, if any."""
    for name in ENDPOINT_ENV:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def parse_object_url(url: str) -> ObjectPath:
    """Bucket and key of an ``s3://`` URL; SourceError for another scheme or a URL naming no bucket."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in _S3_SCHEMES:
        raise SourceError(url, "compare reads object storage from s3:// URLs (S3 or an S3-compatible server)")
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise SourceError(url, "names no bucket (expected e.g. s3://bucket/prefix/*.parquet)")
    return ObjectPath(url, bucket, key)


def filesystem(options: ObjectStoreOptions | None) -> pafs.FileSystem:
    """pyarrow's S3 filesystem for `options`' endpoint (or the environment's); credentials from the SDK's
    chain, or none at all with `anonymous`."""
    import pyarrow.fs as pafs

    options = options or ObjectStoreOptions()
    kwargs: dict[str, Any] = {
        "connect_timeout": min(options.timeout_s, 10.0),
        "request_timeout": options.timeout_s,
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=options.max_retries + 1),
    }
    endpoint = options.endpoint_url or endpoint_from_env()
    shown = "s3://"
    if endpoint:
        shown = _checked_endpoint(endpoint)
        scheme, sep, host = endpoint.partition("://")
        kwargs["endpoint_override"] = host.rstrip("/") if sep else endpoint
        kwargs["scheme"] = scheme if sep else "https"
        # An S3-compatible server has one region, or none: do not ask AWS which region a bucket is in.
        kwargs["region"] = options.region or os.environ.get("AWS_REGION") or "us-east-1"
    elif options.region:
        kwargs["region"] = options.region
    if options.anonymous:
        kwargs["anonymous"] = True
    try:
        return pafs.S3FileSystem(**kwargs)
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for a bad endpoint or region
        message = first_line(exc).replace(endpoint, shown) if endpoint else first_line(exc)
        raise SourceError(shown, f"cannot open the object store: {message}") from None


def _checked_endpoint(endpoint: str) -> str:
    """The endpoint as messages may show it; SourceError for one that is not http(s)://host[:port][/path] or
    that carries a user or password (credentials come from the environment: a URL's would be echoed)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
        port = parts.port
    except ValueError:
        host = port = None
        parts = None
    if parts is not None and has_credentials(endpoint):
        shown = f"{parts.scheme}://{host or '?'}" + (f":{port}" if port else "")
        raise SourceError(
            shown,
            "the endpoint URL carries a user or password: give only scheme, host and port, and the "
            "credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
        )
    if "@" in endpoint:  # a URL urlsplit could not read, which may still hold a password: never echoed
        raise SourceError("(endpoint URL)", "is not a valid http(s)://HOST[:PORT] URL")
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise SourceError(endpoint, "is not an http(s)://HOST[:PORT] URL of an S3-compatible server")
    return endpoint


def object_files(url: str, role: str, options: ObjectStoreOptions | None) -> list[str]:
    """The Parquet objects of the dataset at `url` (one object, a folder or a glob) as ``s3://`` URLs, sorted
    by key; SourceError naming the URL when there are none or the store cannot be listed."""
    import pyarrow.fs as pafs

    path = parse_object_url(url)
    fs = filesystem(options)
    try:
        glob = _GLOB.search(path.key)
        if glob is not None:
            from driftwatch.sources.objectstore import glob_regex

            literal = path.key[: glob.start()]
            prefix = literal[: literal.rfind("/") + 1]
            regex = re.compile(glob_regex(path.key))
            keys = [k for k in _listed(fs, path.bucket, prefix) if regex.match(k)]
            if not keys:
                raise SourceError(url, f"no {role} objects match the pattern")
        elif path.key and not path.key.endswith("/"):
            info = fs.get_file_info(f"{path.bucket}/{path.key}")
            if info.type == pafs.FileType.File:
                return [url]
            if info.type == pafs.FileType.NotFound:
                raise SourceError(url, f"{role} object not found")
            keys = [k for k in _listed(fs, path.bucket, path.key + "/") if k.endswith(".parquet")]
        else:
            keys = [k for k in _listed(fs, path.bucket, path.key) if k.endswith(".parquet")]
    except SourceError:
        raise
    except Exception as exc:  # pyarrow's OSError for a missing bucket, refused credentials, no connection
        raise SourceError(url, f"cannot list the object store: {first_line(exc)}") from None
    if not keys:
        raise SourceError(url, f"{role} folder holds no .parquet objects")
    return [f"s3://{path.bucket}/{k}" for k in sorted(keys)]


def _listed(fs: pafs.FileSystem, bucket: str, prefix: str) -> list[str]:
    """The keys of the files under `prefix` (recursively). A missing bucket is an error, a missing prefix
    an empty list."""
    import pyarrow.fs as pafs

    bucket_info = fs.get_file_info(bucket)
    if bucket_info.type == pafs.FileType.NotFound:
        raise SourceError(f"s3://{bucket}", "bucket not found")
    base = f"{bucket}/{prefix}".rstrip("/")
    selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
    return [
        info.path.partition("/")[2] for info in fs.get_file_info(selector) if info.type == pafs.FileType.File
    ]


def open_object(url: str, options: ObjectStoreOptions | None) -> Any:
    """A random-access file over the object at `url` (pyarrow's: reads go out as byte-range GETs)."""
    path = parse_object_url(url)
    fs = filesystem(options)
    try:
        return fs.open_input_file(f"{path.bucket}/{path.key}")
    except Exception as exc:  # OSError for a missing object or bucket, refused credentials
        raise SourceError(url, f"cannot be opened: {first_line(exc)}") from None
