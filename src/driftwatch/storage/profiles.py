"""Reference profiles in the database: written once per monitor × reference file, read by every window."""

from __future__ import annotations

import duckdb
import numpy as np

from driftwatch.stats.profile import CategoricalProfile, FeatureProfile, NumericProfile, ReferenceProfile
from driftwatch.storage.database import first_row, utcnow


def current_profile_id(cur: duckdb.DuckDBPyConnection, monitor: str) -> str | None:
    row = first_row(
        cur.execute("SELECT profile_id FROM reference_profiles WHERE monitor = ? AND is_current", [monitor])
    )
    return str(row[0]) if row else None


def save_profile(
    cur: duckdb.DuckDBPyConnection, monitor: str, path: str, profile: ReferenceProfile, current: bool = True
) -> None:
    """Store a profile and make it the monitor's current one (call inside a transaction). `current=False`
    stores it beside the current one: a registry reference keeps one profile per model version."""
    if current:
        cur.execute("UPDATE reference_profiles SET is_current = false WHERE monitor = ?", [monitor])
    cur.execute(
        "DELETE FROM reference_features WHERE monitor = ? AND profile_id = ?", [monitor, profile.profile_id]
    )
    cur.execute(
        "DELETE FROM reference_profiles WHERE monitor = ? AND profile_id = ?", [monitor, profile.profile_id]
    )
    cur.execute(
        "INSERT INTO reference_profiles VALUES (?, ?, ?, ?, ?, ?)",
        [monitor, profile.profile_id, path, profile.rows, utcnow(), current],
    )
    for feature in profile.features.values():
        if isinstance(feature, NumericProfile):
            cur.execute(
                "INSERT INTO reference_features VALUES (?, ?, ?, 'numeric', ?, ?, ?, ?, NULL, ?, ?, ?)",
                [
                    monitor,
                    profile.profile_id,
                    feature.name,
                    feature.rows,
                    feature.missing,
                    feature.edges,
                    feature.bin_counts,
                    feature.sorted_values,
                    _nullable(feature.mean),
                    _nullable(feature.std),
                ],
            )
        else:
            cur.execute(
                "INSERT INTO reference_features VALUES (?, ?, ?, 'categorical', ?, ?, NULL, ?, ?, NULL, NULL, NULL)",
                [
                    monitor,
                    profile.profile_id,
                    feature.name,
                    feature.rows,
                    feature.missing,
                    feature.bin_counts,
                    list(feature.categories),
                ],
            )


def load_profile(cur: duckdb.DuckDBPyConnection, monitor: str, profile_id: str) -> ReferenceProfile:
    """Read a stored profile back (the sorted reference values come through Arrow, without copies per value)."""
    head = first_row(
        cur.execute(
            "SELECT rows FROM reference_profiles WHERE monitor = ? AND profile_id = ?", [monitor, profile_id]
        )
    )
    if head is None:
        raise KeyError(f"no reference profile {profile_id} for monitor {monitor}")
    table = cur.sql(
        "SELECT feature, kind, rows, missing, edges, bin_counts, categories, sorted_values, mean, std "
        "FROM reference_features WHERE monitor = $1 AND profile_id = $2 ORDER BY feature",
        params=[monitor, profile_id],
    ).to_arrow_table()
    features: dict[str, FeatureProfile] = {}
    for i in range(table.num_rows):
        name = str(table.column("feature")[i].as_py())
        kind = table.column("kind")[i].as_py()
        rows = int(table.column("rows")[i].as_py())
        missing = int(table.column("missing")[i].as_py())
        counts = np.asarray(
            table.column("bin_counts")[i].values.to_numpy(zero_copy_only=False), dtype=np.int64
        )
        if kind == "numeric":
            features[name] = NumericProfile(
                name=name,
                rows=rows,
                missing=missing,
                edges=np.asarray(
                    table.column("edges")[i].values.to_numpy(zero_copy_only=False), dtype=np.float64
                ),
                bin_counts=counts,
                sorted_values=np.asarray(
                    table.column("sorted_values")[i].values.to_numpy(zero_copy_only=False), dtype=np.float64
                ),
                mean=_nan(table.column("mean")[i].as_py()),
                std=_nan(table.column("std")[i].as_py()),
            )
        else:
            features[name] = CategoricalProfile(
                name=name,
                rows=rows,
                missing=missing,
                categories=tuple(str(c) for c in table.column("categories")[i].as_py()),
                bin_counts=counts,
            )
    return ReferenceProfile(profile_id=profile_id, rows=int(head[0]), features=features)


def _nullable(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)
