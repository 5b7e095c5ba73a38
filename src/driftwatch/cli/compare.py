"""`driftwatch compare`: two files feature by feature, e.g. as a CI gate (no project, no database)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from driftwatch.cli.console import err, errors, escape, fail, out, print_json
from driftwatch.cli.options import FormatOption, check_format
from driftwatch.cli.process import ended_quickly
from driftwatch.cli.tables import STATISTIC_COLUMNS, clean_json, statistic_cells

if TYPE_CHECKING:
    from driftwatch.comparison import CompareOptions, CompareResult


def compare(
    # Text, not Path: a Path would fold the "//" of s3://bucket/key into one slash.
    reference: Annotated[
        str,
        typer.Argument(
            help="Reference file (.parquet, .csv, .ndjson/.jsonl; .gz/.zst compressed too), or a Parquet "
            "dataset in object storage: s3://bucket/key.parquet, s3://bucket/prefix/ or a glob."
        ),
    ],
    current: Annotated[
        str, typer.Argument(help="Current file (or s3:// Parquet dataset) to compare with the reference.")
    ],
    numeric: Annotated[
        str | None, typer.Option(help="Comma-separated numeric features (default: inferred).")
    ] = None,
    categorical: Annotated[str | None, typer.Option(help="Comma-separated categorical features.")] = None,
    features: Annotated[
        str | None,
        typer.Option(
            "--features",
            help="Comma-separated features, numeric or categorical by the reference's type (default: inferred, "
            "leaving out identifiers, timestamps, labels and outputs).",
        ),
    ] = None,
    input_format: Annotated[
        str,
        typer.Option(
            "--input-format",
            help="How to read the files: auto (by suffix), csv, parquet or ndjson; or REF,CUR for each its own. "
            "(--format is the output format.)",
        ),
    ] = "auto",
    features_column: Annotated[
        str,
        typer.Option(
            "--features-column",
            help="A prediction log's column of JSON feature objects, flattened into one column per key.",
        ),
    ] = "input_features",
    prediction: Annotated[
        str | None,
        typer.Option(
            help="Column with the model's score, judged as the model's output (default: raw_prediction if "
            "both files have it)."
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            help="Column with the model's decision, judged as its decision mix (default: business_output if "
            "both files have it)."
        ),
    ] = None,
    fmt: FormatOption = "table",
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help="Exit with code 1 when any feature drifts.")
    ] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report (works offline).")
    ] = None,
    memory_budget: Annotated[
        str | None,
        typer.Option(
            "--memory-budget",
            help="Stream the current Parquet file in batches within this much memory (e.g. 2GiB) instead of "
            "reading it whole; same statistics, Wasserstein as an estimate with a bound (docs/scale.md).",
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="local (this machine), or dask: count the current Parquet dataset (a file, folder or glob) "
            "on the Dask cluster at --scheduler; same statistics, Wasserstein with a bound (docs/scale.md).",
        ),
    ] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="The Dask scheduler's address for --engine dask (tcp://HOST:8786)."),
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            "--endpoint-url",
            help="An S3-compatible server for s3:// inputs (http://HOST:9000; default: AWS_ENDPOINT_URL_S3, "
            "then AWS_ENDPOINT_URL). Credentials come from the environment (AWS_ACCESS_KEY_ID, ...), never "
            "from the command line or the URL; Dask workers use their own.",
        ),
    ] = None,
) -> None:
    """Compare two files feature by feature (PSI, exact KS, missing/unseen shares) — e.g. as a CI gate."""
    from driftwatch.comparison import CompareOptions

    check_format(fmt)
    formats = _split(input_format) or ["auto"]
    if len(formats) > 2:
        fail(f"--input-format takes one format or REF,CUR, got {input_format!r}")
    if engine not in ("local", "dask"):
        fail(f"--engine must be local or dask, got {engine!r}")
    if scheduler is not None and engine != "dask":
        fail("--scheduler is for --engine dask")
    if engine == "dask" and memory_budget is not None:
        fail("--memory-budget is for one machine; --engine dask reads one row group per task")
    with errors():
        result = _compared(
            reference,
            current,
            CompareOptions(
                numeric=_split(numeric),
                categorical=_split(categorical),
                features=_split(features),
                prediction=prediction,
                output=output,
                input_format=(formats[0], formats[-1]),
                features_column=features_column,
                endpoint_url=endpoint_url,
            ),
            html,
            memory_budget,
            (scheduler,) if engine == "dask" else None,
        )
    _show(result, fmt, fail_on_drift)


def _compared(
    reference: str,
    current: str,
    options: CompareOptions,
    html: Path | None,
    memory_budget: str | None,
    dask: tuple[str | None] | None,
) -> CompareResult:
    """The comparison on the engine the command line chose: a Dask cluster (`dask`: the scheduler's address),
    streamed within `memory_budget`, or in memory. A streamed or clustered report shows the statistics without
    the distribution charts, which would need the rows in memory."""
    from driftwatch.comparison import as_polars, compare_in_memory, load_pair

    ref_rows: Any = None  # the rows, for the report's charts: only in memory
    cur_rows: Any = None
    if dask is not None:
        from driftwatch.distributed import compare_dask

        result = compare_dask(str(reference), str(current), options, scheduler=dask[0])
    elif memory_budget is not None:
        from driftwatch.streaming import compare_streaming

        result = compare_streaming(str(reference), str(current), options, memory_budget=memory_budget)
    else:
        # Parquet arrives as Arrow tables, CSV/NDJSON as polars frames; the statistics load meanwhile.
        ref_frame, cur_frame = load_pair(
            str(reference), str(current), options.formats, options.features_column, options.store
        )
        result = compare_in_memory(ref_frame, cur_frame, options)
        if html is not None:
            ref_rows, cur_rows = as_polars(ref_frame, "reference"), as_polars(cur_frame, "current")
    if html is not None:
        from driftwatch.reports.comparison import render_comparison, write_comparison  # polars: only here

        page = render_comparison(result, str(reference), str(current), reference=ref_rows, current=cur_rows)
        written = write_comparison(html, page)
        err.print(f"report written to {escape(str(written))}", highlight=False)
    return result


def _show(result: CompareResult, fmt: str, fail_on_drift: bool) -> None:
    if fmt == "json":
        print_json(clean_json(result.to_dict()))
    else:
        _print_comparison(result)
    if fail_on_drift and result.drift:
        raise typer.Exit(1)


def _split(text: str | None) -> list[str] | None:
    """A comma-separated option as a list (None when not given)."""
    return [x.strip() for x in text.split(",") if x.strip()] if text else None


def _print_comparison(result: CompareResult) -> None:
    from rich.table import Table

    table = Table()
    cols = ["name", "kind", *STATISTIC_COLUMNS, "missing", "status", "reason"]
    for col in cols:
        table.add_column(col)
    for row in result.to_dict()["features"]:
        table.add_row(*[escape(cell) for cell in statistic_cells(row, cols)])
    out.print(table)
    verdict = "[bold red]drift[/]" if result.drift else "[green]no drift[/]"
    inputs = [f for f in result.decision.features if f.role == "input"]
    out.print(
        f"{verdict}: {sum(f.status == 'drift' for f in inputs)} of {len(inputs)} feature(s) drifting; "
        f"dataset {result.decision.status}",
        highlight=False,
    )
    for f in result.decision.features:
        if f.role == "output":
            out.print(f"model output {escape(f.name)}: {f.status}", highlight=False)
    bounds = [f for f in result.features if f.wasserstein_bound is not None]
    if bounds:  # streamed (--memory-budget): W1 comes from counts, the other statistics are exact
        worst = max(f.wasserstein_bound or 0.0 for f in bounds)
        out.print(
            f"w/σ estimated from streamed counts: within ±{worst:.3g} of the exact value", highlight=False
        )
    if result.excluded:
        listed = ", ".join(str(e) for e in result.excluded)
        out.print(f"excluded: {escape(listed)}", highlight=False)
    for side, excluded in (
        ("reference", result.excluded_reference),
        ("current", result.excluded_current),
    ):
        if excluded:  # rows ingest would quarantine (docs/values.md)
            why = "; ".join(f"{reason} ({rows:,})" for reason, rows in excluded.items())
            out.print(escape(f"{side}: {sum(excluded.values()):,} row(s) left out: {why}"), highlight=False)


def compare_process(app: Callable[[], object]) -> NoReturn:
    """`driftwatch compare` as a process: most of its time is start-up and tear-down, so it shortens both.

    The statistics (numba and its cached kernels, about 0.6 s) start loading before typer parses the
    arguments, and the process ends without tearing the interpreter down (`cli.process.ended_quickly`).
    `app` is the CLI's typer app, passed in by `driftwatch.cli.main` (this module must not import its package).
    """
    from driftwatch.comparison import start_loading_statistics

    start_loading_statistics()
    ended_quickly(app)
