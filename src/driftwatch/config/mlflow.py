"""A reference in the MLflow Model Registry: `reference: mlflow://models/<name>@<alias>` (or `/<version>`) and its
`reference.mlflow:` options (docs/versions.md, "MLflow registry references").

Parsed here, once, like every other key; nothing here imports mlflow (it takes seconds): whether the optional
extra is installed is checked with `importlib.util.find_spec`, so a config naming a registry reference fails at
load with the install line instead of at the first cycle.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

from driftwatch.config.sections import Section
from driftwatch.errors import ConfigError

REGISTRY_SCHEME = "mlflow://"
MLFLOW_KEYS = ("artifact_path", "version_tag", "write_back", "tag_prefix")
INSTALL_HINT = "pip install 'driftwatch[mlflow]'"
# mlflow://models/<name>@<alias> or mlflow://models/<name>/<version>. Registered model names may hold spaces,
# dots and dashes, but not '@' or '/' (they would make the reference ambiguous).
_REFERENCE = re.compile(
    r"^mlflow://models/(?P<name>[^@/]+)(?:@(?P<alias>[A-Za-z0-9_-]+)|/(?P<version>[1-9][0-9]*))$"
)
_TAG_KEY = re.compile(r"^[A-Za-z0-9_.\-/ ]{1,250}$")


@dataclass(frozen=True)
class MlflowSettings:
    """How a registry version's training data is found, how logged versions map to it, and write-back."""

    # The artifact path on the version's run holding the training data (a Parquet/CSV/NDJSON file, or a folder
    # of them); when absent from the run, a logged dataset input whose source is a local file/URI is used.
    artifact_path: str = "reference"
    # None: a logged `model_version` value is the registry version number ("3"). A tag key: the registry
    # version whose tag of that key equals the logged value (e.g. a git SHA or "v3.2").
    version_tag: str | None = None
    write_back: bool = False  # a window's drift/performance summary set as tags on the model version
    tag_prefix: str = "driftwatch"  # write-back tag keys: <prefix>.<monitor>.<what>


@dataclass(frozen=True)
class RegistryReference:
    """A registered model and the alias or version number naming which version is the monitor's reference."""

    url: str  # as written, for messages and reports
    model: str
    alias: str | None = None
    version: int | None = None  # exactly one of alias / version is set
    settings: MlflowSettings = field(default_factory=MlflowSettings)


def is_registry_url(path: object) -> bool:
    return isinstance(path, str) and path.startswith(REGISTRY_SCHEME)


def mlflow_installed() -> bool:
    """True when the `mlflow` package (the extra's mlflow-skinny, or full mlflow) can be imported."""
    try:
        return importlib.util.find_spec("mlflow") is not None
    except (
        ImportError,
        ValueError,
    ):  # ValueError: a module entry without a spec (sys.modules["mlflow"] = None)
        return False


def parse_registry_reference(file: Path, key: str, url: str, options: object) -> RegistryReference:
    """The `reference.path` URL at dotted `key` and the `reference.mlflow` mapping (None: defaults)."""
    match = _REFERENCE.match(url)
    if match is None:
        raise ConfigError(
            file, key, "expected mlflow://models/<name>@<alias> or mlflow://models/<name>/<version>", url
        )
    if not mlflow_installed():
        raise ConfigError(
            file, key, f"a registry reference needs the MLflow client, which is not installed: {INSTALL_HINT}"
        )
    version = match.group("version")
    return RegistryReference(
        url=url,
        model=match.group("name"),
        alias=match.group("alias"),
        version=int(version) if version else None,
        settings=_settings(file, key.rsplit(".", 1)[0] + ".mlflow", options),
    )


def _settings(file: Path, key: str, data: object) -> MlflowSettings:
    s = Section(file, key, data, MLFLOW_KEYS)
    artifact_path = s.str_("artifact_path", "reference") or "reference"
    if artifact_path.startswith("/") or ".." in artifact_path.split("/"):
        raise s.error("artifact_path", "expected a path relative to the run's artifact root", artifact_path)
    version_tag = s.str_("version_tag")
    prefix = s.str_("tag_prefix", "driftwatch") or "driftwatch"
    for name, value in (("version_tag", version_tag), ("tag_prefix", prefix)):
        if value is not None and not _TAG_KEY.match(value):
            raise s.error(
                name, "expected an MLflow tag key (letters, digits, '_', '-', '.', ' ', '/')", value
            )
    return MlflowSettings(
        artifact_path=artifact_path.strip("/"),
        version_tag=version_tag,
        write_back=s.bool_("write_back", False),
        tag_prefix=prefix,
    )
