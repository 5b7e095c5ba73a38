"""`driftwatch snapshot --from --to`: export a range of stored prediction rows to Parquet, deleting nothing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from driftwatch.cli.console import errors, escape, fail, out
from driftwatch.cli.options import DEFAULT_CONFIG_NAME, ConfigOption, MonitorOption, load, open_database


def _instant(option: str, value: str | None) -> datetime:
    """A --from/--to date or date-time as the naive UTC the database stores (a zone-less value is UTC)."""
    if value is None:
        fail(f"{option} is required (a date or date-time in UTC, e.g. 2026-10-01)")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option}: not a date or date-time: {value!r} (use e.g. 2026-10-01 or 2026-10-01T06:00)")
    if parsed.tzinfo is not None:
        from driftwatch.durations import to_naive_utc

        return to_naive_utc(parsed)
    return parsed


def snapshot(
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
    monitor: MonitorOption = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First instant exported (UTC), inclusive.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="End of the range (UTC), exclusive.")] = None,
    out_dir: Annotated[
        str | None,
        typer.Option(
            "--out",
            help="Folder or object-store URL (s3://bucket/prefix) to write into; default: the monitor's "
            "`retention.snapshot`.",
        ),
    ] = None,
) -> None:
    """Export prediction rows with FROM <= timestamp < TO to Parquet (by day and model version), with a manifest.

    Nothing is deleted. The snapshot reads back as a `predictions` source with the monitor's config. With an
    object-store URL, the monitor's `retention.snapshot.object_store` options (endpoint, region) are used.
    """
    from driftwatch.config.sources import is_object_url
    from driftwatch.pipeline.snapshots import configured_store, write_snapshot

    after, before = _instant("--from", start), _instant("--to", end)
    if before <= after:
        fail(f"--to ({end}) must be after --from ({start})")
    with errors():
        settings = load(config, monitor)
        names = [monitor] if monitor else list(settings.monitors)
        with open_database(settings, "Stop `driftwatch serve` while exporting, or run it later") as db:
            for name in names:
                mon = settings.monitor(name)
                root = out_dir if out_dir is None or is_object_url(out_dir) else str(Path(out_dir).resolve())
                store = configured_store(mon, root)
                if store is None:
                    fail(f"monitor {name}: give --out, or set `retention.snapshot` in the config")
                snap = write_snapshot(db, mon, store, after, before, status="on_demand")
                if snap is None:
                    out.print(f"{escape(name)}: no rows in the range; nothing written", highlight=False)
                    continue
                out.print(
                    f"{escape(name)}: {snap.rows:,} row(s) in {len(snap.files)} file(s), {snap.bytes:,} bytes "
                    f"-> {escape(snap.path)}",
                    highlight=False,
                )
