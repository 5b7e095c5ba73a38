"""`driftwatch rules check|test`, `driftwatch alerts` and `driftwatch silence add|list|expire`.

Registered in cli.py with `app.add_typer(rules_app, name="rules")`, `app.add_typer(silence_app, name="silence")`
and `app.command("alerts")(alerts_command)`. Errors a user can fix print one line and exit with code 2, as in
the rest of the CLI; `rules test` exits 1 when a test fails.
"""

from __future__ import annotations

import getpass
import json
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.console import Console
from rich.table import Table

from driftwatch.alerting.silences import parse_time  # shared with POST /api/silences
from driftwatch.config.loading import DEFAULT_CONFIG_NAME, load_settings
from driftwatch.config.settings import Settings
from driftwatch.errors import DriftwatchError

rules_app = typer.Typer(
    name="rules", help="Validate and unit-test alert rule files.", no_args_is_help=True, add_completion=False
)
silence_app = typer.Typer(
    name="silence",
    help="Mute alerts matching labels for a while (they still change state).",
    no_args_is_help=True,
    add_completion=False,
)

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)

ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config", "-c", help="Project config file; relative paths in it resolve against its folder."
    ),
]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="Output format: table or json.")]


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {_escape(message)}", highlight=False, markup=True)
    raise typer.Exit(code)


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except DriftwatchError as exc:
        _fail(str(exc))


def _check_format(fmt: str) -> None:
    if fmt not in ("table", "json"):
        _fail(f"--format must be table or json, got {fmt!r}")


def _open_database(
    settings: Settings, hint: str = "Stop `driftwatch serve` first, or use the server's API."
) -> Any:
    from driftwatch.storage.database import Database

    return Database(settings.storage, settings.database, lock_hint=hint)


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


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, allow_nan=False) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return _escape(str(value))


# --- rules ----------------------------------------------------------------------------------------------


def _known_channels(config: Path, explicit: bool) -> tuple[Any, Path | None]:
    """(channels declared in the main config, the rules path it names); nothing when there is no config."""
    from driftwatch.pipeline.alerts import alerting_settings, channel_configs

    if not explicit and not config.is_file():
        return {}, None
    settings = alerting_settings(load_settings(config))
    return channel_configs(settings), settings.rules


@rules_app.command("check")
def rules_check(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="Rule file or folder (default: the config's `alerting.rules`, else alert_rules/)."
        ),
    ] = None,
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
) -> None:
    """Validate rule files: every problem with its file, line and fix. Exit code 2 when there is one."""
    from driftwatch.alerting.rules import check_rules, load_rules
    from driftwatch.config.issues import RuleError

    explicit = config != Path(DEFAULT_CONFIG_NAME)
    with _errors():
        try:
            channels, configured = _known_channels(config, explicit)
        except RuleError as error:
            for issue in error.issues:
                out.print(_escape(str(issue)), highlight=False)
            raise typer.Exit(2) from None
        target = path or configured or Path("alert_rules")
        if not target.exists():
            _fail(
                f"{target}: no such file or folder (pass the rules folder, e.g. `driftwatch rules check alert_rules/`)"
            )
        issues = check_rules(target, channels)
        if issues:
            for issue in issues:
                out.print(_escape(str(issue)), highlight=False)
            count = len(issues)
            err.print(f"{count} problem{'s' if count != 1 else ''} found", highlight=False)
            raise typer.Exit(2)
        rule_set = load_rules(target, channels)
    out.print(
        f"ok: {len(rule_set.rules)} rule(s) in {len(rule_set.files)} file(s), "
        f"channels: {', '.join(sorted(rule_set.channels)) or 'none'}",
        highlight=False,
    )


@rules_app.command("test")
def rules_test(
    files: Annotated[list[Path], typer.Argument(help="Rule test files (*.test.yml).")],
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
) -> None:
    """Run rule unit tests: window-by-window input series and the alerts expected after given windows.

    Exit code 1 when a test fails, 2 when a test or rule file is invalid.
    """
    from driftwatch.alerting.rule_tests import run_rule_tests
    from driftwatch.config.issues import RuleError

    explicit = config != Path(DEFAULT_CONFIG_NAME)
    code = 0
    with _errors():
        try:
            channels, _ = _known_channels(config, explicit)
        except RuleError as error:
            for issue in error.issues:
                out.print(_escape(str(issue)), highlight=False)
            raise typer.Exit(2) from None
        for file in files:
            report = run_rule_tests(file, channels)
            out.print(_escape(report.format()), highlight=False)
            if report.issues:
                code = 2
            elif report.failures and code == 0:
                code = 1
    if code:
        raise typer.Exit(code)


# --- alerts ---------------------------------------------------------------------------------------------

STATE_CHOICES = {
    "active": ("pending", "firing"),
    "firing": ("firing",),
    "pending": ("pending",),
    "inactive": ("inactive",),
    "all": None,
}


def alerts_command(
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
    state: Annotated[
        str, typer.Option("--state", "-s", help="firing, pending, active (both), inactive or all.")
    ] = "active",
    monitor: Annotated[str | None, typer.Option("--monitor", "-m", help="Only this monitor.")] = None,
    outbox: Annotated[
        bool,
        typer.Option(
            "--outbox", help="List notifications (pending, delivered, failed, suppressed) instead of alerts."
        ),
    ] = False,
    status: Annotated[
        str | None, typer.Option(help="With --outbox: only pending, delivered, failed or suppressed rows.")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, help="With --outbox: at most this many rows, newest first.")
    ] = 50,
    fmt: FormatOption = "table",
) -> None:
    """Show alert instances (firing and pending by default) and, with --outbox, the notifications owed."""
    from driftwatch.storage import alerts as store

    _check_format(fmt)
    if state not in STATE_CHOICES:
        _fail(f"--state must be one of {', '.join(STATE_CHOICES)}, got {state!r}")
    if status is not None and status not in store.OUTBOX_STATUSES:
        _fail(f"--status must be one of {', '.join(store.OUTBOX_STATUSES)}, got {status!r}")
    with _errors():
        settings = load_settings(config)
        if monitor:
            settings.monitor(monitor)
        with _open_database(settings) as db:
            cur = db.cursor()
            if outbox:
                rows = [store.message_dict(m) for m in store.messages(cur, status, monitor, limit)]
                health = store.channel_health(cur)
            else:
                rows = store.alert_instances(cur, STATE_CHOICES[state], monitor)
                health = store.channel_health(cur)
    if fmt == "json":
        _print_json(rows)
        return
    if outbox:
        _outbox_table(rows)
    else:
        _alerts_table(rows, state)
    for channel in health:
        if not channel["healthy"]:
            out.print(
                f"[bold red]channel {_escape(channel['channel'])} unhealthy[/] since {channel['changed_at']}: "
                f"{_escape(channel['reason'] or '')}",
                highlight=False,
            )


def _alerts_table(rows: list[dict[str, Any]], state: str) -> None:
    if not rows:
        out.print(f"no {state} alerts" if state != "all" else "no alerts evaluated yet", highlight=False)
        return
    table = Table()
    cols = (
        "state",
        "rule",
        "monitor",
        "model_version",
        "segment",
        "feature",
        "value",
        "firing_since",
        "last_window",
    )
    for col in cols:
        table.add_column(col)
    for row in rows:
        cells = []
        for col in cols:
            value = row.get(col)
            if col in ("firing_since", "last_window") and isinstance(value, str):
                value = value[:16]
            cells.append(_cell(value))
        table.add_row(*cells)
    out.print(table)


def _outbox_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        out.print("no notifications", highlight=False)
        return
    table = Table()
    cols = (
        "id",
        "status",
        "channel",
        "rule",
        "monitor",
        "transition",
        "window_start",
        "alerts",
        "attempts",
        "last_error",
    )
    for col in cols:
        table.add_column(col)
    for row in rows:
        table.add_row(*[_cell(row[c][:16] if c == "window_start" else row[c]) for c in cols])
    out.print(table)


# --- silences -------------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


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
    from driftwatch.alerting.silences import new_silence, parse_matchers
    from driftwatch.pipeline.alerts import stored_silence
    from driftwatch.storage import alerts as store

    _check_format(fmt)
    now = _now()
    with _errors():
        matchers = parse_matchers(match)
        starts_at = parse_time(start, now) if start else now
        silence = new_silence(matchers, starts_at, parse_time(until, now), comment, created_by or _user())
        row = stored_silence(silence, now)
        settings = load_settings(config)
        body: dict[str, Any] = {"matchers": matchers, "ends_at": until, "comment": comment}
        if start:
            body["starts_at"] = start
        body["created_by"] = row.created_by
        hint = _through_server(settings, "POST", "/api/silences", body)
        with _open_database(settings, hint) as db:
            store.insert_silence(db, row)
    if fmt == "json":
        _print_json(row.to_dict(now))
        return
    matched = ", ".join(f"{k}={v}" for k, v in sorted(row.matchers.items()))
    out.print(f"silence {row.id} added: {_escape(matched)} until {row.ends_at.isoformat()}", highlight=False)


@silence_app.command("list")
def silence_list(
    show_all: Annotated[bool, typer.Option("--all", help="Include silences that have ended.")] = False,
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
    fmt: FormatOption = "table",
) -> None:
    """List silences that have not ended (with --all, every silence)."""
    from driftwatch.storage import alerts as store

    _check_format(fmt)
    now = _now()
    with _errors():
        settings = load_settings(config)
        hint = _through_server(settings, "GET", "/api/silences" + ("?all=true" if show_all else ""))
        with _open_database(settings, hint) as db:
            rows = store.load_silences(db.cursor(), now, include_ended=show_all)
    items = [row.to_dict(now) for row in rows]
    if fmt == "json":
        _print_json(items)
        return
    if not items:
        out.print("no silences" if show_all else "no active or upcoming silences", highlight=False)
        return
    table = Table()
    for col in ("id", "active", "matchers", "starts_at", "ends_at", "created_by", "comment"):
        table.add_column(col)
    for item in items:
        matched = ", ".join(f"{k}={v}" for k, v in sorted(item["matchers"].items()))
        table.add_row(
            item["id"],
            "yes" if item["active"] else "no",
            _escape(matched),
            item["starts_at"][:16],
            item["ends_at"][:16],
            _escape(item["created_by"]),
            _escape(item["comment"]),
        )
    out.print(table)


@silence_app.command("expire")
def silence_expire(
    silence_id: Annotated[str, typer.Argument(metavar="ID", help="The silence's id (see `silence list`).")],
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
) -> None:
    """End a silence now. Alerts it hid are announced by the next window evaluated."""
    from driftwatch.storage import alerts as store

    now = _now()
    with _errors():
        settings = load_settings(config)
        hint = _through_server(settings, "DELETE", f"/api/silences/{quote(silence_id, safe='')}")
        with _open_database(settings, hint) as db:
            row = store.expire_silence(db, silence_id, now)
    if row is None:
        _fail(f"no silence with id {silence_id!r} (see `driftwatch silence list --all`)")
        return
    out.print(f"silence {row.id} ended at {row.ends_at.isoformat()}", highlight=False)
