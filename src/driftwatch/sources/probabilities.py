"""The normalising query's per-class probability fields (`predictions.probabilities`, config.probabilities).

Each class's field is read as a number by the value model (docs/values.md) into the column `p:<class>`; a row
is quarantined, with the reason, when a probability is missing (NaN included), not a number, not finite,
outside [0, 1], when the row's probabilities do not sum to 1 within `SUM_TOLERANCE`, or when its decision
(`output`) is not one of the classes. Class names and JSON paths are bound as parameters, never pasted.
"""

from __future__ import annotations

from typing import Protocol

from driftwatch.config.probabilities import SUM_TOLERANCE, ClassProbability
from driftwatch.sources.values import category_sql, json_path
from driftwatch.storage.probabilities import probability_column


class _Query(Protocol):
    """What this module uses of `sources.logs._Query` (a Protocol: logs imports this module, not the reverse)."""

    def bind(self, value: object) -> str: ...
    def doc_text(self, path: str) -> str: ...
    def require(self, name: str, role: str) -> None: ...
    def json_object(self, name: str) -> str: ...


class _Layout(Protocol):
    @property
    def output(self) -> str | None: ...
    @property
    def probabilities(self) -> tuple[ClassProbability, ...]: ...


class _Normaliser(Protocol):
    """What this module uses of `sources.logs._Normaliser`."""

    fmt: str
    reasons: list[str]

    @property
    def q(self) -> _Query: ...
    @property
    def layout(self) -> _Layout: ...
    def numeric(self, expr_text: str, label: str, alias: str) -> None: ...
    def numeric_field(self, name: str, label: str, alias: str) -> None: ...
    def rename_last(self, alias: str, name: str) -> None: ...


def add_probabilities(n: _Normaliser) -> None:
    """Add each class's probability column and the reasons a row's probabilities are refused."""
    classes = n.layout.probabilities
    if not classes:
        return
    aliases = []
    for i, item in enumerate(classes):
        alias = f"_pr{i}"
        label = f"probability of class {item.name!r}"
        _read(n, item, label, alias)
        n.rename_last(alias, probability_column(item.name))
        aliases.append(alias)
        n.reasons.append(
            f"CASE WHEN ({alias}_v IS NULL AND ({alias}_t IS NULL OR trim({alias}_t) = '')) OR isnan({alias}_v) "
            f"THEN {n.q.bind(label + ' is missing')} "
            f"WHEN NOT isinf({alias}_v) AND ({alias}_v < 0 OR {alias}_v > 1) "
            f"THEN {n.q.bind(label + ': ')} || CAST({alias}_v AS VARCHAR) || ' is outside [0, 1]' END"
        )
    total = " + ".join(f"{a}_v" for a in aliases)
    n.reasons.append(
        f"CASE WHEN isfinite({total}) AND abs({total} - 1.0) > {SUM_TOLERANCE!r} THEN 'class probabilities sum "
        f"to ' || CAST(round({total}, 6) AS VARCHAR) || ', not 1 (tolerance {SUM_TOLERANCE:g})' END"
    )
    if n.layout.output is not None:
        names = ", ".join(n.q.bind(c.name) for c in classes)
        decision = category_sql("_out_t", "_out_n")
        n.reasons.append(
            f"CASE WHEN {decision} IS NOT NULL AND {decision} NOT IN ({names}) THEN 'class ''' || "
            f"left({decision}, 60) || ''' is not one of the classes of predictions.probabilities' END"
        )


def _read(n: _Normaliser, item: ClassProbability, label: str, alias: str) -> None:
    """`alias`'s stages: a plain column as any numeric field; a JSON path inside the line (NDJSON) or inside
    the column's JSON object or struct (Parquet, CSV)."""
    if not item.path:
        n.numeric_field(item.column, label, alias)
        return
    inner = "$" + "".join(json_path(step)[1:] for step in item.path)
    if n.fmt == "ndjson":
        n.numeric(n.q.doc_text(json_path(item.column) + inner[1:]), label, alias)
        return
    n.q.require(item.column, label)
    # try(): a text column that is no JSON reads as missing (refused as such), not as a failed file.
    text = f"try(json_extract_string({n.q.json_object(item.column)}, {n.q.bind(inner)}))"
    n.numeric(text, label, alias)
