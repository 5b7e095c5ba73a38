"""The CLI's one pair of consoles and its one way to stop with an error.

Every message that can hold user input (a file name, an option value, a config value) goes through `escape`,
so Rich never reads it as markup: `driftwatch results --format '[/oops]'` prints one error line, not a
`MarkupError` traceback. Rich is imported on first use only (its import is a noticeable part of a short
command's start-up).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from driftwatch.errors import DriftwatchError

if TYPE_CHECKING:
    from rich.console import Console


class LazyConsole:
    """A rich Console made on first use."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def get(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def print(self, *objects: Any, **options: Any) -> None:
        self.get().print(*objects, **options)

    @property
    def is_terminal(self) -> bool:
        return self.get().is_terminal


out = LazyConsole(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = LazyConsole(stderr=True, soft_wrap=True)


def escape(text: str) -> str:
    """`text` shown as written: Rich markup in it (`[bold]`, `[/x]`) is not interpreted."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: message` (escaped: the message may quote user input) and exit with `code`."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True)
    raise typer.Exit(code)


@contextmanager
def errors() -> Iterator[None]:
    """A `DriftwatchError` (bad config, unreadable file, locked database …) becomes one error line, exit 2."""
    try:
        yield
    except DriftwatchError as exc:
        fail(str(exc))


def print_json(value: Any, default: Any = None) -> None:
    """One JSON document on stdout (NaN refused: JSON has none)."""
    sys.stdout.write(json.dumps(value, default=default, allow_nan=False) + "\n")
