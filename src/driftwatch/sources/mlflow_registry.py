"""The MLflow Model Registry as an external source: every call driftwatch makes to an MLflow tracking server.

Imported only by a monitor whose reference is `mlflow://models/...` (pipeline.registry); mlflow itself is
imported inside `open_client`, never at driftwatch import time (it takes seconds, and it is an optional extra).
The server comes from the standard environment (MLFLOW_TRACKING_URI, and MLFLOW_TRACKING_USERNAME/PASSWORD or
MLFLOW_TRACKING_TOKEN for its credentials): nothing here reads or logs a credential, and the URI is shown only
without its user-info part.

Every failure (server down, unknown model, alias or version, no training data) becomes a SourceError naming the
reference and the server, so the cycle records it as a source failure and the next cycle tries again.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftwatch.config.mlflow import INSTALL_HINT, MlflowSettings, RegistryReference
from driftwatch.errors import SourceError

DATA_SUFFIXES = (".parquet", ".csv", ".tsv", ".ndjson", ".jsonl", ".json", ".gz", ".zst")
# MLflow's REST client retries a refused connection 7 times with exponential backoff by default (minutes);
# a monitoring cycle should fail fast and try again next cycle. Set only when the environment has no value.
_BOUNDED_REQUESTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
_COMPLETE = ".driftwatch-complete"  # written last in a version's cache folder: the download finished


@dataclass(frozen=True)
class RegistryVersion:
    """One registered model version as the registry describes it."""

    model: str
    version: int
    run_id: str | None
    source: str
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"mlflow://models/{self.model}/{self.version}"


def tracking_uri() -> str:
    """The tracking server's URI for messages: MLFLOW_TRACKING_URI without any user:password@ part."""
    raw = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not raw:
        return "(MLFLOW_TRACKING_URI not set: MLflow's local ./mlruns)"
    parts = urllib.parse.urlsplit(raw)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        parts = parts._replace(netloc=netloc)
    return urllib.parse.urlunsplit(parts)


def open_client() -> Any:
    """An `mlflow.MlflowClient` for the environment's tracking server (SourceError without the extra)."""
    for name, value in _BOUNDED_REQUESTS.items():
        os.environ.setdefault(name, value)
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise SourceError("mlflow://", f"the MLflow client is not installed: {INSTALL_HINT}") from None
    return MlflowClient()


@contextmanager
def _calling(what: str) -> Iterator[None]:
    """MLflow's and the network's exceptions as one SourceError naming `what` and the server."""
    try:
        yield
    except SourceError:
        raise
    except Exception as exc:  # MlflowException, requests' errors, OSError: all mean "not this cycle"
        raise SourceError(what, f"MLflow registry at {tracking_uri()}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:500]


def _version(mv: Any) -> RegistryVersion:
    return RegistryVersion(
        model=str(mv.name),
        version=int(mv.version),
        run_id=str(mv.run_id) if mv.run_id else None,
        source=str(mv.source or ""),
        tags={str(k): str(v) for k, v in (mv.tags or {}).items()},
    )


def resolve_reference(client: Any, ref: RegistryReference) -> RegistryVersion:
    """The registry version the reference names now: its alias's target, or its fixed version number."""
    with _calling(ref.url):
        if ref.alias is not None:
            return _version(client.get_model_version_by_alias(ref.model, ref.alias))
        return _version(client.get_model_version(ref.model, str(ref.version)))


def model_versions(client: Any, model: str) -> list[RegistryVersion]:
    """Every version of a registered model (for mapping logged `model_version` values by tag)."""
    with _calling(f"mlflow://models/{model}"):
        found = client.search_model_versions(f"name = '{_quoted(model)}'")
        return sorted((_version(mv) for mv in found), key=lambda v: v.version)


def get_version(client: Any, model: str, version: int) -> RegistryVersion:
    with _calling(f"mlflow://models/{model}/{version}"):
        return _version(client.get_model_version(model, str(version)))


def _quoted(name: str) -> str:
    """A registered model name inside the search filter's single quotes."""
    return name.replace("\\", "\\\\").replace("'", "\\'")


def download_reference(client: Any, version: RegistryVersion, settings: MlflowSettings, cache: Path) -> str:
    """The version's training data as one local file, downloaded once into `cache` (a folder per version).

    The convention (docs/versions.md): the file, or a folder of files, at `settings.artifact_path` in the
    artifacts of the version's run; failing that, a dataset logged as the run's input (training context first)
    whose source is a local file or file:// URI. Registry versions do not change, so a finished download is
    reused for as long as the cache folder holds it.
    """
    folder = cache / f"{version.version}-{version.run_id or 'norun'}"
    marker = folder / _COMPLETE
    if marker.is_file():
        kept = marker.read_text().strip()
        if os.path.isfile(kept):
            return kept  # else the cache was cleaned up under us: download again
    if version.run_id is None:
        raise SourceError(
            version.url, "the model version has no run, so no training data can be found for it"
        )
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    local = _from_artifacts(client, version, settings, folder) or _from_dataset_input(client, version)
    if local is None:
        raise SourceError(
            version.url,
            f"no training data: run {version.run_id} has no artifact {settings.artifact_path!r} "
            "and no logged dataset input with a local source (docs/versions.md)",
        )
    marker.write_text(local)
    return local


def _from_artifacts(
    client: Any, version: RegistryVersion, settings: MlflowSettings, folder: Path
) -> str | None:
    run_id = str(version.run_id)
    with _calling(version.url):
        listed = client.list_artifacts(run_id, settings.artifact_path)
        if not listed:
            # A file at the path lists as nothing under it: look in its parent folder for it.
            parent = settings.artifact_path.rpartition("/")[0] or None
            if not any(a.path == settings.artifact_path for a in client.list_artifacts(run_id, parent)):
                return None
        path = client.download_artifacts(run_id, settings.artifact_path, str(folder))
    return _one_file(Path(path), version)


def _one_file(path: Path, version: RegistryVersion) -> str:
    """A downloaded file, or a folder's single data file; a folder of Parquet parts is joined into one file."""
    if path.is_file():
        return str(path)
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(DATA_SUFFIXES))
    if len(files) == 1:
        return str(files[0])
    if files and all(p.suffix.lower() == ".parquet" for p in files):
        import pyarrow.parquet as pq

        joined = path.parent / "reference.parquet"
        pq.write_table(pq.read_table([str(p) for p in files]), joined)  # pyarrow reads a list of parts
        return str(joined)
    names = ", ".join(p.name for p in files) or "none"
    raise SourceError(
        version.url, f"artifact folder {path.name!r} needs one data file or Parquet parts; it has: {names}"
    )


def _from_dataset_input(client: Any, version: RegistryVersion) -> str | None:
    with _calling(version.url):
        run = client.get_run(str(version.run_id))
    inputs = list(getattr(run.inputs, "dataset_inputs", None) or [])
    # The training dataset first: mlflow.log_input(..., context="training") tags it mlflow.data.context.
    inputs.sort(key=lambda d: 0 if _context(d) == "training" else 1)
    for item in inputs:
        local = _local_source(item.dataset.source)
        if local is not None:
            return local
    return None


def _context(dataset_input: Any) -> str | None:
    return next((t.value for t in dataset_input.tags or [] if t.key == "mlflow.data.context"), None)


def _local_source(source: str) -> str | None:
    """A dataset source's local file, from its JSON ({"uri": ...} or {"path": ...}); None for anything else."""
    try:
        data = json.loads(source)
    except (TypeError, ValueError):
        return None
    uri = data.get("uri") or data.get("path") if isinstance(data, dict) else None
    if not isinstance(uri, str):
        return None
    if uri.startswith("file://"):
        uri = urllib.parse.unquote(urllib.parse.urlsplit(uri).path)
    return uri if os.path.isabs(uri) and os.path.isfile(uri) else None


def set_version_tags(client: Any, version: RegistryVersion, tags: Mapping[str, str]) -> None:
    """Set tags on a model version (a tag set twice to the same value is unchanged: write-back is idempotent)."""
    with _calling(version.url):
        for key, value in tags.items():
            client.set_model_version_tag(version.model, str(version.version), key, value)
