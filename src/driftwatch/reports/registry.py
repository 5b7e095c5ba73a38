"""What the overview page says about a registry reference (`mlflow://models/...`): the version it names now,
every time it moved to another version (a new champion), and the last write-back to each version."""

from __future__ import annotations

import duckdb

from driftwatch.config.monitors import MonitorConfig
from driftwatch.reports.render import format_utc
from driftwatch.storage.registry import registry_changes, writebacks


def registry_items(cur: duckdb.DuckDBPyConnection, config: MonitorConfig) -> list[tuple[str, str]]:
    """(label, text) provenance lines; none for a file reference."""
    ref = config.reference.registry
    if ref is None:
        return []
    changes = registry_changes(cur, config.name)
    if not changes:
        return [("registry reference", f"{ref.url} (not resolved yet)")]
    items = [("registry reference", f"{ref.url} → version {changes[-1].version}")]
    history = [
        f"{format_utc(c.changed_at)}: "
        + (
            f"version {c.version}"
            if c.previous_version is None
            else f"version {c.previous_version} → {c.version}"
        )
        for c in reversed(changes)
    ]
    items.append(("reference changes", "; ".join(history)))
    done = writebacks(cur, config.name)
    if done:
        items.append(
            (
                "write-back",
                "; ".join(
                    f"version {w.version}: {w.status} (window {format_utc(w.window_start)}"
                    + (f", {w.error})" if w.error else ")")
                    for w in done
                ),
            )
        )
    return items
