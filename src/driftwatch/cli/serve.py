"""`driftwatch serve`: the API, the scheduler and the reports in one process that owns the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from driftwatch.cli.console import errors
from driftwatch.cli.options import DEFAULT_CONFIG_NAME, ConfigOption, load


def serve(
    config: ConfigOption = Path(DEFAULT_CONFIG_NAME),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
) -> None:
    """Run the service: the API, the scheduler and the reports in one process that owns the database."""
    from driftwatch.service import serve as run_server

    with errors():
        # Parsed once here: the server, the worker and the alerting all get this object.
        settings = load(config)
        run_server(settings, host=host, port=port)
