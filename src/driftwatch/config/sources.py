"""The `object_store:` section of a prediction, label or reference source, and the `database:` section of a
prediction, label or reference source (docs/sources.md).

Only how to reach the store and how to list it: credentials are refused here with a message saying where they
go (the environment and the providers' standard chains), so a secret can never be committed in a config file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from driftwatch.durations import parse_duration
from driftwatch.errors import ConfigError

OBJECT_URL_SCHEMES = ("s3", "s3a", "gs", "az", "abfs", "abfss")

OBJECT_STORE_KEYS = (
    "endpoint_url",
    "region",
    "start_after",
    "full_relist_every",
    "timeout_s",
    "max_retries",
    "anonymous",
)
_SECRET_WORDS = ("key", "secret", "token", "password", "credential")


@dataclass(frozen=True)
class ObjectStoreOptions:
    """How to reach an object store and list it; never a credential (those come from the environment)."""

    # An S3-compatible server (MinIO, moto, Ceph), a GCS emulator (fake-gcs-server) or Azurite: http(s)://host:port
    # (Azure: http(s)://host:port/<account>). None = the provider's own endpoint.
    endpoint_url: str | None = None
    region: str | None = None
    start_after: bool = False  # keys sort in time order: list only after the greatest key seen
    full_relist_every: int = 24  # with start_after: a full listing every N cycles, for late objects
    timeout_s: float = 60.0  # one request, connect to last byte
    max_retries: int = 2  # per request, with backoff, before the cycle records the source as failed
    # Send requests unsigned and look for no credentials at all: for an emulator (or a public bucket) only. Off by
    # default, so a real store always goes through the provider's credential chain and a missing credential is an
    # error, never a silent anonymous read.
    anonymous: bool = False


def is_object_url(path: str) -> bool:
    """True for a source path in object storage (``s3://``, ``gs://``, ...), False for a local path."""
    scheme, sep, _ = path.partition("://")
    return bool(sep) and scheme.lower() in OBJECT_URL_SCHEMES


def has_credentials(url: str) -> bool:
    """Whether an endpoint URL carries a user or password (a `@` before its host): refused, and never echoed,
    wherever an endpoint is given (config, `compare --endpoint-url`, the environment)."""
    return "@" in url.partition("://")[2].partition("/")[0]


def parse_object_store(file: Path, key: str, data: object) -> ObjectStoreOptions:
    """The `object_store:` mapping at dotted `key`; ConfigError naming the key for anything wrong."""
    if data is None:
        return ObjectStoreOptions()
    if not isinstance(data, Mapping):
        raise ConfigError(file, key, "expected a mapping of keys to values", data)
    for name in data:
        if any(word in str(name).lower() for word in _SECRET_WORDS):
            raise ConfigError(
                file,
                f"{key}.{name}",
                "credentials never go in the config: set them in the environment (AWS_ACCESS_KEY_ID, "
                "AWS_SECRET_ACCESS_KEY, GOOGLE_APPLICATION_CREDENTIALS, ...) or use the provider's role",
            )
        if name not in OBJECT_STORE_KEYS:
            raise ConfigError(
                file, f"{key}.{name}", f"unknown key; known keys: {', '.join(OBJECT_STORE_KEYS)}"
            )
    endpoint = data.get("endpoint_url")
    if endpoint is not None and (
        not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://"))
    ):
        raise ConfigError(file, f"{key}.endpoint_url", "expected an http:// or https:// URL", endpoint)
    if endpoint is not None and has_credentials(endpoint):
        # Not echoed back: the part before `@` is a user and likely a password.
        raise ConfigError(
            file,
            f"{key}.endpoint_url",
            "the URL carries a user or password: give only scheme, host and port; credentials come from the "
            "environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, ...)",
        )
    region = data.get("region")
    if region is not None and (not isinstance(region, str) or not region):
        raise ConfigError(file, f"{key}.region", "expected a region name", region)
    start_after = _flag(file, f"{key}.start_after", data.get("start_after", False))
    return ObjectStoreOptions(
        endpoint_url=endpoint,
        region=region,
        start_after=start_after,
        full_relist_every=_whole(file, f"{key}.full_relist_every", data.get("full_relist_every", 24), 1),
        timeout_s=_seconds(file, f"{key}.timeout_s", data.get("timeout_s", 60.0)),
        max_retries=_whole(file, f"{key}.max_retries", data.get("max_retries", 2), 0),
        anonymous=_flag(file, f"{key}.anonymous", data.get("anonymous", False)),
    )


def _flag(file: Path, key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(file, key, "expected true or false", value)
    return value


def _whole(file: Path, key: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(file, key, f"expected a whole number >= {minimum}", value)
    return value


def _seconds(file: Path, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
        raise ConfigError(file, key, "expected seconds between 0 and 3600", value)
    return float(value)


DATABASE_KEYS = ("driver", "uri", "table", "query", "watermark", "tiebreak", "lookback", "batch_rows")
# A reference is read whole, once per change: no watermark. `version`: a query returning one value that changes
# when the data does (e.g. the table's latest update time; docs/sources.md), so an unchanged reference is not
# read again.
REFERENCE_DATABASE_KEYS = ("driver", "uri", "table", "query", "version")


@dataclass(frozen=True)
class DatabaseSourceOptions:
    """A table or query in an SQL database, pulled incrementally by a (timestamp, id) watermark."""

    driver: str  # postgresql, sqlite, duckdb, snowflake, bigquery, flightsql, or a DB-API module name
    uri: str  # may hold ${ENV} references, filled in when connecting (never stored expanded)
    table: str | None = None
    query: str | None = None
    watermark: str | None = None  # the timestamp column; None = the source's `timestamp`
    tiebreak: str | None = None  # the unique id column; None = the source's `id`
    lookback: timedelta = field(default=timedelta(0))  # late rows up to this far behind the watermark
    batch_rows: int = (
        1_000_000  # at most this many rows per pull (capped by the ingest slice: one transaction)
    )
    version: str | None = None  # a reference's version query (REFERENCE_DATABASE_KEYS)


def parse_database_source(
    file: Path, key: str, data: object, keys: tuple[str, ...] = DATABASE_KEYS
) -> DatabaseSourceOptions | None:
    """The `database:` mapping at dotted `key`, or None when absent; `keys`: those allowed there."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise ConfigError(file, key, "expected a mapping of keys to values", data)
    for name in data:
        if name not in keys:
            raise ConfigError(file, f"{key}.{name}", f"unknown key; known keys: {', '.join(keys)}")
    text = {n: data.get(n) for n in ("driver", "uri", "table", "query", "watermark", "tiebreak", "version")}
    for name, value in text.items():
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(file, f"{key}.{name}", "expected a non-empty string", value)
    if not text["driver"] or not text["uri"]:
        raise ConfigError(file, key, "needs `driver` (e.g. postgresql) and `uri` (secrets as ${ENV_VAR})")
    if (text["table"] is None) == (text["query"] is None):
        raise ConfigError(file, key, "needs exactly one of `table` or `query`")
    if _has_literal_password(str(text["uri"])):
        raise ConfigError(
            file,
            f"{key}.uri",
            "holds a password: write it as ${ENV_VAR} and set that variable in the environment",
        )
    raw = data.get("lookback")
    try:
        lookback = timedelta(0) if raw is None else parse_duration(raw)
    except ValueError as exc:
        raise ConfigError(file, f"{key}.lookback", str(exc), raw) from None
    return DatabaseSourceOptions(
        driver=str(text["driver"]),
        uri=str(text["uri"]),
        table=text["table"],
        query=text["query"],
        watermark=text["watermark"],
        tiebreak=text["tiebreak"],
        lookback=lookback,
        batch_rows=_whole(file, f"{key}.batch_rows", data.get("batch_rows", 1_000_000), 1),
        version=text["version"],
    )


def _has_literal_password(uri: str) -> bool:
    """user:password@ in a URI, password= in a query string or in libpq's keyword form (`host=db password=x`),
    whose password is not an ${ENV} reference."""
    import re

    env_ref = r"\$\{[A-Za-z_][A-Za-z0-9_]*\}"
    m = re.search(r"://[^:/@\s]+:([^@\s]+)@", uri)
    if m and not re.fullmatch(env_ref, m.group(1)):
        return True
    for m in re.finditer(r"(?i)(?:^|[?&\s;])password\s*=\s*('[^']*'|[^&\s;]*)", uri):
        value = m.group(1).strip("'")
        if value and not re.fullmatch(env_ref, value):
            return True
    return False
