"""Step 2 of a cycle for a monitor whose reference is in the MLflow Model Registry (`mlflow://models/...`).

Each cycle resolves the reference (alias → registry version) once and records when that version changes (a new
champion: `registry_changes`). Every window is then compared with the profile of ITS model version: the logged
`model_version` maps to a registry version (equal to the version number, or through a version tag), whose
training data is downloaded once into a cache beside the database and profiled once (`registry_versions`).
A window whose logged version maps to no registry version is compared with the version the reference names
now. So an alias move changes which profile NEW windows of the new version use; the old version's windows keep
their results and are not recomputed. A file reference never comes here (pipeline.reference, unchanged).

Write-back (`reference.mlflow.write_back`): after the windows and performance, each touched version's latest
window summary is set as tags on its registry version; a failure is recorded and retried next cycle, never
raised.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from driftwatch.config.mlflow import MlflowSettings, RegistryReference
from driftwatch.config.monitors import FeatureSpec, MonitorConfig
from driftwatch.config.versions import is_alias
from driftwatch.errors import SourceError
from driftwatch.pipeline.reference import (
    ReferenceOutcome,
    build_profile,
    cached_profile,
    infer_features,
    profile_settings,
)
from driftwatch.sources import mlflow_registry as mr
from driftwatch.sources.columns import Exclusion
from driftwatch.sources.logs import NO_VERSION
from driftwatch.stats.profile import ReferenceProfile
from driftwatch.storage import registry as store
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.profiles import save_profile
from driftwatch.storage.stored_values import canonicalise_stored_values
from driftwatch.storage.windows import PlannedWindow

CACHE_FOLDER = ".driftwatch-mlflow"  # beside the database, like the object-store mirror


def logged_value(version: mr.RegistryVersion, settings: MlflowSettings) -> str | None:
    """The `model_version` value the logs carry for a registry version (None: the tag is not set on it)."""
    if settings.version_tag is None:
        return str(version.version)
    return version.tags.get(settings.version_tag)


@dataclass
class RegistryCycle:
    """One cycle's view of the registry: the version the reference names now, and a profile per version."""

    db: Database
    monitor: MonitorConfig  # reference.path: the current version's local copy (for labels/performance)
    ref: RegistryReference
    client: Any
    current: mr.RegistryVersion
    run_id: str
    features: FeatureSpec = field(default_factory=FeatureSpec)
    outcome: ReferenceOutcome | None = None
    change: store.RegistryChange | None = None
    warnings: list[str] = field(default_factory=list)
    _profiles: dict[int, ReferenceProfile] = field(default_factory=dict)
    _versions: dict[str, mr.RegistryVersion] | None = None
    _failed: set[int] = field(default_factory=set)

    @property
    def reference(self) -> ReferenceOutcome:
        assert self.outcome is not None  # set by open_registry_cycle
        return self.outcome

    def change_note(self) -> str | None:
        """What moved this cycle, for the run's printed summary; None when the reference names the same version."""
        c = self.change
        if c is None:
            return None
        was = "" if c.previous_version is None else f"version {c.previous_version} → "
        return f"{c.reference}: {was}version {c.version}"

    def resolve_version_name(self, name: str) -> str:
        """A `versions:` baseline/candidate as a logged model_version: `@alias` is looked up in the registry
        (this cycle, so a moved alias compares the new version from now on); any other name is already logged."""
        if not is_alias(name):
            return name
        return resolve_alias(self.ref.settings, self.ref.model, name[1:])

    def registry_version(self, logged: str) -> mr.RegistryVersion | None:
        """The registry version a logged `model_version` value stands for; None when none matches."""
        if logged_value(self.current, self.ref.settings) == logged:
            return self.current
        if self._versions is None:
            listed = mr.model_versions(self.client, self.ref.model)
            self._versions = {}
            for v in listed:
                value = logged_value(v, self.ref.settings)
                if value is not None:
                    self._versions.setdefault(value, v)
        return self._versions.get(logged)

    def profile_for(self, window: PlannedWindow) -> ReferenceProfile | None:
        """The profile a window is compared with; None when its version's reference cannot be had this cycle
        (the window stays queued and the run says why)."""
        try:
            version = self.registry_version(window.model_version)
        except SourceError as exc:
            self._skip(window, exc)
            return None
        if version is None or version.version == self.current.version:
            return self.reference.profile
        if version.version in self._failed:
            return None
        hit = self._profiles.get(version.version)
        if hit is not None:
            return hit
        try:
            return self._ensure(version).profile
        except SourceError as exc:
            self._failed.add(version.version)
            self._skip(window, exc)
            return None

    def _skip(self, window: PlannedWindow, exc: SourceError) -> None:
        self.warnings.append(
            f"model version {window.model_version}: reference unavailable ({exc}); its windows wait for the next cycle"
        )
        return None

    def _ensure(self, version: mr.RegistryVersion) -> ReferenceOutcome:
        """The version's stored profile, downloading and building it the first time (or when it changed)."""
        db, name, model = self.db, self.monitor.name, self.ref.model
        cache = db.path.parent / CACHE_FOLDER / _safe(name) / _safe(model)
        local = mr.download_reference(self.client, version, self.ref.settings, cache)
        monitor = replace(self.monitor, reference=replace(self.monitor.reference, path=local))
        pid = version_profile_id(monitor, self.features, version, self.ref.settings)
        cur = db.cursor()
        stored = store.stored_version(cur, name, model, version.version)
        is_current = version.version == self.current.version
        if stored is not None and stored.profile_id == pid:
            profile = cached_profile(db, name, pid)
            if is_current:
                with db.transaction() as tx:
                    store.make_profile_current(tx, name, pid)
            self._profiles[version.version] = profile
            return ReferenceOutcome(profile, self.features, False, 0)
        try:
            profile, rejected = build_profile(cur, monitor, self.features, pid)
        except SourceError as exc:  # name the registry version, not the cache path
            raise SourceError(version.url, exc.message) from None
        now = utcnow()
        with db.transaction() as tx:
            label = f"{version.url} (run {version.run_id}: {os.path.basename(local)})"
            save_profile(tx, name, label, profile, current=is_current)
            if is_current:
                store.make_profile_current(tx, name, pid)
                f = self.features
                canonicalise_stored_values(
                    tx, name, f.numeric, f.categorical, self.monitor.predictions.segments
                )
            store.save_version(
                tx, name, model, store.StoredVersion(version.version, version.run_id, pid, local), now
            )
            if stored is not None:  # the version's data or the profile settings changed: only its windows
                reason = f"reference of {version.url} changed"
                store.requeue_profile_windows(tx, name, stored.profile_id, reason, now)
        self._profiles[version.version] = profile
        return ReferenceOutcome(profile, self.features, True, rejected)


def version_profile_id(
    monitor: MonitorConfig, features: FeatureSpec, version: mr.RegistryVersion, settings: MlflowSettings
) -> str:
    """16 hex digits fingerprinting the registry version, its run, where its data came from and the profile
    settings; not the cache file's mtime, so a cache emptied and downloaded again keeps the same id."""
    key = {
        **profile_settings(monitor, features),
        "registry": version.url,
        "run_id": version.run_id,
        "artifact_path": settings.artifact_path,
        "size": os.path.getsize(monitor.reference.path),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _safe(name: str) -> str:
    """A registered model or monitor name as one folder name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "_"


def open_registry_cycle(db: Database, monitor: MonitorConfig, run_id: str) -> RegistryCycle | None:
    """This cycle's registry view for a `mlflow://` reference (None for any other reference): the version the
    reference names now, its profile built when new, and the change recorded when it differs from last cycle.
    SourceError when the registry cannot be reached: the run records it and the next cycle tries again."""
    ref = monitor.reference.registry
    if ref is None:
        return None
    client = mr.open_client()
    current = mr.resolve_reference(client, ref)
    cache = db.path.parent / CACHE_FOLDER / _safe(monitor.name) / _safe(ref.model)
    local = mr.download_reference(client, current, ref.settings, cache)
    local_monitor = replace(monitor, reference=replace(monitor.reference, path=local))
    cycle = RegistryCycle(db, local_monitor, ref, client, current, run_id)
    excluded: tuple[Exclusion, ...] = ()
    if monitor.features is not None:
        cycle.features = monitor.features
    else:
        try:
            inferred = infer_features(db.cursor(), local_monitor)
        except SourceError as exc:
            raise SourceError(current.url, exc.message) from None
        cycle.features = FeatureSpec(numeric=inferred.numeric, categorical=inferred.categorical)
        excluded = inferred.excluded
    cycle.outcome = replace(cycle._ensure(current), excluded=excluded)
    cycle.change = _record_resolution(db, monitor.name, ref, current, run_id)
    return cycle


def reference_version(monitor: MonitorConfig) -> int:
    """The registry version the monitor's mlflow:// reference names now (one registry call; SourceError when
    it cannot be resolved). Nothing is recorded."""
    ref = monitor.reference.registry
    assert ref is not None
    return mr.resolve_reference(mr.open_client(), ref).version


def registry_features(db: Database, monitor: MonitorConfig) -> FeatureSpec:
    """The features a pushed batch is stored with: the config's, else those inferred from the training data of
    the version the reference names now (downloaded when not cached; call under the monitor's lock). Nothing is
    recorded: the next cycle resolves again, records any change and builds the profiles."""
    ref = monitor.reference.registry
    assert ref is not None
    if monitor.features is not None:
        return monitor.features
    client = mr.open_client()
    current = mr.resolve_reference(client, ref)
    stored = store.stored_version(db.cursor(), monitor.name, ref.model, current.version)
    local = stored.local_path if stored is not None and os.path.isfile(stored.local_path) else None
    if local is None:
        cache = db.path.parent / CACHE_FOLDER / _safe(monitor.name) / _safe(ref.model)
        local = mr.download_reference(client, current, ref.settings, cache)
    inferred = infer_features(db.cursor(), replace(monitor, reference=replace(monitor.reference, path=local)))
    return FeatureSpec(numeric=inferred.numeric, categorical=inferred.categorical)


def _record_resolution(
    db: Database, monitor: str, ref: RegistryReference, current: mr.RegistryVersion, run_id: str
) -> store.RegistryChange | None:
    """A `registry_changes` row when the reference resolves to another version than last cycle."""
    previous = store.last_resolution(db.cursor(), monitor)
    if previous == current.version:
        return None
    change = store.RegistryChange(ref.url, current.version, previous, run_id, utcnow())
    with db.transaction() as tx:
        store.record_change(tx, monitor, change)
    return change


def resolve_alias(settings: MlflowSettings, model: str, alias: str) -> str:
    """The logged `model_version` value of the version `model@alias` names now (for version comparisons that
    take their baseline/candidate from registry aliases). SourceError when it cannot be resolved."""
    url = f"mlflow://models/{model}@{alias}"
    client = mr.open_client()
    version = mr.resolve_reference(client, RegistryReference(url=url, model=model, alias=alias))
    value = logged_value(version, settings)
    if value is None:
        raise SourceError(version.url, f"has no tag {settings.version_tag!r} naming its logged model_version")
    return value


# --- write-back ------------------------------------------------------------------------------------------------


def write_back(cycle: RegistryCycle, touched: Iterable[str], performance_changed: bool) -> None:
    """Set each touched version's latest window summary as tags on its registry version.

    `touched`: logged versions with a window computed this cycle; with `performance_changed` every logged
    version is written (labels may have completed any of them). Versions whose last write-back failed are
    written again. Tags set to the same values change nothing, so a re-run is idempotent.
    """
    if not cycle.ref.settings.write_back:
        return
    db, name = cycle.db, cycle.monitor.name
    wanted = set(touched) | set(store.failed_writebacks(db.cursor(), name))
    if performance_changed:
        wanted |= set(store.logged_versions(db.cursor(), name))
    for logged, start, end, rows, n_features, n_drift, share, status in store.latest_overall_windows(
        db.cursor(), name, sorted(wanted)
    ):
        try:
            version = cycle.registry_version(logged)
        except SourceError as exc:
            cycle.warnings.append(f"write-back skipped: {exc}")
            return
        if version is None and logged == NO_VERSION:  # logs without a model_version: the version named now
            version = cycle.current
        if version is None:
            continue
        prefix = f"{cycle.ref.settings.tag_prefix}.{name}"
        tags = {
            f"{prefix}.window_start": start.isoformat() + "Z",  # stored naive UTC
            f"{prefix}.window_end": end.isoformat() + "Z",
            f"{prefix}.drift_status": status,
            f"{prefix}.drift_share": "" if share is None else f"{share:.6g}",
            f"{prefix}.features_drift": f"{n_drift}/{n_features}",
            f"{prefix}.rows": str(rows),
        }
        for metric, value, metric_status in store.window_performance(db.cursor(), name, logged, start):
            tags[f"{prefix}.performance.{metric}"] = "" if value is None else f"{value:.6g}"
            tags[f"{prefix}.performance.{metric}.status"] = metric_status
        _write(cycle, version, logged, start, tags)


def _write(
    cycle: RegistryCycle, version: mr.RegistryVersion, logged: str, start: datetime, tags: dict[str, str]
) -> None:
    error = None
    try:
        mr.set_version_tags(cycle.client, version, tags)
    except SourceError as exc:
        error = str(exc)
        cycle.warnings.append(f"write-back to {version.url} failed ({exc}); tried again next cycle")
    wb = store.WriteBack(version.version, logged, start, "failed" if error else "ok", error, utcnow())
    with cycle.db.transaction() as tx:
        store.record_writeback(tx, cycle.monitor.name, cycle.ref.model, wb)
