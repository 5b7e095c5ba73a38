"""`driftwatch silence add|list|expire`: mute alerts matching labels for a while (they still change state).

While `driftwatch serve` holds the database, each command's error shows the same change as one curl command
against the server's API."""

from __future__ import annotations

import getpass
import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer

from driftwatch.cli.console import errors, escape, fail, out, print_json
from driftwatch.cli.options import (
    DEFAULT_CONFIG_NAME,
    ConfigOption,
    FormatOption,
    check_format,
    load,
    open_database,
)
from driftwatch.durations import utc_now

if TYPE_CHECKING:
    from driftwatch.config.settings import Settings

silence_app = typer.Typer(
    name="silence",
    help="Mute alerts matching labels for a while (they still change state).",
    no_args_is_help=True,
    add_completion=False,
)

# Where `driftwatch serve` listens unless told otherwise (its --host and --port defaults).
SERVER_URL = "http://127.0.0.1:8080"


def _through_server(settings: Settings, method: str, path: str, body: dict[str, Any] | None = None) -> str:
    """The lock hint of a silence command: the same change as one curl command against the running server."""
    parts = ["curl"] if method == "GET" else ["curl", "-X", method]
    if method != "GET" or not settings.server.public_reads:
        parts += ["-H", f'"Authorization: Bearer ${settings.server.token_env}"']
    if body is not None:
        payload = json.dumps(body, ensure_ascii=False)
        parts += ["-H", shlex.quote("Content-Type: application/json"), "-d", shlex.quote(payload)]
    parts.append(shlex.quote(f"{SERVER_URL}{path}"))
    where = "the address `driftwatch serve` listens on, by default"
    return f"Do it through the server's API instead ({where} {SERVER_URL}): {' '.join(parts)}"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


@silence_app.command("add")
def silence_add(
    match: Annotated[
        list[str],
        typer.Option("--match", help="label=glob, e.g. feature=age or monitor=credit-* (repeatable)."),
    ],
    until: Annotated[str, typer.Option(help="End: 2026-12-01, 2026-12-01T08:00Z, or a duration such as 3d.")],
    comment: Annotated[str, typer.Option(help="Why: shown with the silence.")],
    start: Annotated[
        str | None, typer.Option("--from", help="Start (same forms as --until); default now.")
    ] = None,
    created_by: Annotated[str | None, typer.Option(help="Who (default: the current user).")] = None,
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
    fmt: FormatOption = "table",
) -> None:
    """Add a silence: alerts whose labels match every matcher are recorded as suppressed, not sent."""
    from driftwatch.alerting.silences import new_silence, parse_matchers, parse_time
    from driftwatch.pipeline.alerts import stored_silence
    from driftwatch.storage import alerts as store

    check_format(fmt)
    now = utc_now()
    with errors():
        matchers = parse_matchers(match)
        starts_at = parse_time(start, now) if start else now
        silence = new_silence(matchers, starts_at, parse_time(until, now), comment, created_by or _user())
        row = stored_silence(silence, now)
        settings = load(config)
        body: dict[str, Any] = {"matchers": matchers, "ends_at": until, "comment": comment}
        if start:
            body["starts_at"] = start
        body["created_by"] = row.created_by
        hint = _through_server(settings, "POST", "/api/silences", body)
        with open_database(settings, hint) as db:
            store.insert_silence(db, row)
    if fmt == "json":
        print_json(row.to_dict(now))
        return
    matched = ", ".join(f"{k}={v}" for k, v in sorted(row.matchers.items()))
    out.print(f"silence {row.id} added: {escape(matched)} until {row.ends_at.isoformat()}", highlight=False)


@silence_app.command("list")
def silence_list(
    show_all: Annotated[bool, typer.Option("--all", help="Include silences that have ended.")] = False,
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
    fmt: FormatOption = "table",
) -> None:
    """List silences that have not ended (with --all, every silence)."""
    from driftwatch.storage import alerts as store

    check_format(fmt)
    now = utc_now()
    with errors():
        settings = load(config)
        hint = _through_server(settings, "GET", "/api/silences" + ("?all=true" if show_all else ""))
        with open_database(settings, hint) as db:
            rows = store.load_silences(db.cursor(), now, include_ended=show_all)
    items = [row.to_dict(now) for row in rows]
    if fmt == "json":
        print_json(items)
        return
    if not items:
        out.print("no silences" if show_all else "no active or upcoming silences", highlight=False)
        return
    _silence_table(items)


def _silence_table(items: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table()
    for col in ("id", "active", "matchers", "starts_at", "ends_at", "created_by", "comment"):
        table.add_column(col)
    for item in items:
        matched = ", ".join(f"{k}={v}" for k, v in sorted(item["matchers"].items()))
        table.add_row(
            item["id"],
            "yes" if item["active"] else "no",
            escape(matched),
            item["starts_at"][:16],
            item["ends_at"][:16],
            escape(item["created_by"]),
            escape(item["comment"]),
        )
    out.print(table)


@silence_app.command("expire")
def silence_expire(
    silence_id: Annotated[str, typer.Argument(metavar="ID", help="The silence's id (see `silence list`).")],
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
) -> None:
    """End a silence now. Alerts it hid are announced by the next window evaluated."""
    from driftwatch.storage import alerts as store

    now = utc_now()
    with errors():
        settings = load(config)
        hint = _through_server(settings, "DELETE", f"/api/silences/{quote(silence_id, safe='')}")
        with open_database(settings, hint) as db:
            row = store.expire_silence(db, silence_id, now)
    if row is None:
        fail(f"no silence with id {silence_id!r} (see `driftwatch silence list --all`)")
    out.print(f"silence {row.id} ended at {row.ends_at.isoformat()}", highlight=False)
