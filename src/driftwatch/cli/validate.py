"""`driftwatch validate`: a model's realized metrics on labelled data against bars, as a CI gate (exit 1 on a miss)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from driftwatch.cli.console import err, errors, escape, out, print_json
from driftwatch.cli.options import FormatOption, check_format
from driftwatch.cli.tables import clean_json

if TYPE_CHECKING:
    from driftwatch.validation import ValidateResult


def validate(
    reference: Annotated[
        Path,
        typer.Option("--reference", help="Reference (training) data with target and prediction columns."),
    ],
    current: Annotated[Path, typer.Option("--current", help="Current labelled data the gate judges.")],
    target: Annotated[str, typer.Option("--target", help="Column with the true label or value.")],
    prediction: Annotated[
        str,
        typer.Option(
            "--prediction",
            help="Column with the model's output: binary the positive class's score, multiclass the predicted "
            "class, regression the predicted value.",
        ),
    ],
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            help="A bar METRIC=VALUE, repeatable (auc=0.85, accuracy=0.9, rmse=12). Higher-is-better metrics "
            "must reach it, losses stay at or below it.",
        ),
    ] = None,
    drift_bar: Annotated[
        float | None,
        typer.Option(
            "--drift-bar",
            help="Also compare the features; fail when the share of drifting input features exceeds this "
            "(0 = any drifting feature fails).",
        ),
    ] = None,
    task: Annotated[
        str,
        typer.Option(
            "--task",
            help="auto, binary_classification, multiclass_classification or regression (auto: from the columns).",
        ),
    ] = "auto",
    positive_label: Annotated[
        str, typer.Option("--positive-label", help="Binary: the label value that counts as positive.")
    ] = "1",
    decision_threshold: Annotated[
        float, typer.Option("--decision-threshold", help="Binary: a score at or above it predicts positive.")
    ] = 0.5,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the result as JSON to this file.")
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report (works offline).")
    ] = None,
    fmt: FormatOption = "table",
) -> None:
    """Judge a model's metrics on labelled data against bars — exit 1 when any bar fails, 2 on bad input."""
    from driftwatch.validation import validate as run_validate

    check_format(fmt)
    with errors():
        result = run_validate(
            str(reference),
            str(current),
            target=target,
            prediction=prediction,
            thresholds=threshold or [],
            task=task,
            drift_bar=drift_bar,
            positive_label=_label(positive_label),
            decision_threshold=decision_threshold,
        )
        payload = clean_json(result.to_dict())
        if json_path is not None:
            import json

            from driftwatch.reports.render import write_atomic

            write_atomic(json_path, json.dumps(payload, indent=2) + "\n")
            err.print(f"JSON written to {escape(str(json_path))}", highlight=False)
        if html is not None:
            from driftwatch.reports.render import write_atomic
            from driftwatch.reports.validation import render_validation

            write_atomic(html, render_validation(result, str(reference), str(current)))
            err.print(f"report written to {escape(str(html))}", highlight=False)
    if fmt == "json":
        print_json(payload)
    else:
        _print(result)
    if not result.passed:
        raise typer.Exit(1)


def _label(text: str) -> str | int | float:
    """`--positive-label 1` means the number 1 (labels read as numbers compare as numbers), else the text."""
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def _print(result: ValidateResult) -> None:
    from rich.table import Table

    table = Table()
    for col in ("metric", "bar", "current", "95% interval", "reference", "verdict"):
        table.add_column(col)
    barred = {c.bar.metric: c for c in result.checks}
    for metric, value in result.current.items():
        check = barred.get(metric)
        ref = result.reference.get(metric)
        verdict = "" if check is None else ("[green]pass[/]" if check.passed else "[bold red]FAIL[/]")
        if check is not None and check.close:
            verdict += " (close)"
        table.add_row(
            escape(metric),
            escape(check.bar.rule) if check else "",
            _num(value.value),
            f"{_num(value.low)} – {_num(value.high)}",
            _num(ref.value) if ref else "",
            verdict,
        )
    out.print(table)
    for note in result.notes:
        out.print(escape(note), highlight=False)
    if result.drift_bar is not None:
        out.print(
            f"drift share {result.drift_share:.3g} (bar {result.drift_bar:g}): "
            + ("[green]pass[/]" if result.drift_passed else "[bold red]FAIL[/]"),
            highlight=False,
        )
    if result.passed:
        out.print(f"[green]passed[/]: {len(result.checks)} bar(s) met", highlight=False)
    else:
        out.print("[bold red]failed[/]: " + escape("; ".join(result.failures())), highlight=False)


def _num(value: float) -> str:
    return "—" if value != value else f"{value:.4g}"
