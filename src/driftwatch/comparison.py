"""Ad-hoc comparison of two datasets with the same statistics and decisions as the scheduled pipeline.

`driftwatch.compare(reference, current)` accepts polars or pandas frames, Arrow tables or file paths
(.parquet, .csv, .ndjson/.jsonl) and returns a `CompareResult`; `driftwatch compare` prints it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from driftwatch.errors import InputError, SourceError
from driftwatch.sources.files import file_format
from driftwatch.stats.decision import OUTPUT_FEATURE, PREDICTION_FEATURE, Thresholds, WindowDecision
from driftwatch.stats.feature_drift import FeatureDrift, categorical_feature_stats, numeric_feature_stats
from driftwatch.stats.judgement import judge_window
from driftwatch.stats.profile import categorical_profile, numeric_profile

# The JSON fields of a feature, in order; statistics a kind does not have are null.
FEATURE_FIELDS = (
    "name",
    "kind",
    "psi",
    "ks_statistic",
    "ks_pvalue",
    "missing_share_reference",
    "missing_share_current",
    "unseen_share",
    "status",
    "reason",
    "rows_reference",
    "rows_current",
    "role",
)


@dataclass(frozen=True)
class CompareResult:
    features: Sequence[FeatureDrift]
    decision: WindowDecision
    rows_reference: int
    rows_current: int

    @property
    def drift(self) -> bool:
        return any(f.status == "drift" for f in self.decision.features)

    def feature_rows(self) -> list[dict[str, Any]]:
        rows = []
        for fs, fd in zip(self.features, self.decision.features, strict=True):
            row: dict[str, Any] = {"name": fs.name, "kind": fs.kind}
            for key, value in fs.stats.items():
                row[key] = None if value is None or np.isnan(value) else float(value)
            row["status"] = fd.status
            row["reason"] = fd.reason
            if fd.pvalue_adjusted is not None and not np.isnan(fd.pvalue_adjusted):
                row["pvalue_adjusted"] = float(fd.pvalue_adjusted)
            row["rows_reference"] = self.rows_reference
            row["rows_current"] = fs.rows
            row["role"] = fs.role
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for row in self.feature_rows():
            ordered = {k: row.get(k) for k in FEATURE_FIELDS}
            ordered.update({k: v for k, v in row.items() if k not in ordered})
            rows.append(ordered)
        return {
            "features": rows,
            "drift": self.drift,
            "drift_share": self.decision.drift_share,
            "dataset_status": self.decision.status,
        }

    def to_polars(self) -> pl.DataFrame:
        """One row per feature with the same fields as the JSON output."""
        return pl.DataFrame(self.to_dict()["features"], infer_schema_length=None)


def _read_path(path: str | Path, role: str) -> pl.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise SourceError(p, f"{role} file not found")
    fmt = file_format(str(p))
    try:
        if fmt == "parquet":
            return pl.read_parquet(p)
        if fmt == "csv":
            return pl.read_csv(p, infer_schema_length=None)
        return pl.read_ndjson(p, infer_schema_length=None)
    except Exception as exc:  # polars raises many exception types for unreadable files
        raise SourceError(
            p, f"cannot read as {fmt}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None


def as_polars(data: object, role: str) -> pl.DataFrame:
    """A polars frame from a path, polars/pandas frame or Arrow table."""
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, str | Path):
        return _read_path(data, role)
    module = type(data).__module__
    if module.startswith("pyarrow"):
        frame = pl.from_arrow(data)  # type: ignore[arg-type]
        if isinstance(frame, pl.DataFrame):
            return frame
    if module.startswith("pandas"):
        return pl.from_pandas(data)  # type: ignore[arg-type]
    raise InputError(
        f"{role}: expected a path, a polars or pandas DataFrame or an Arrow table, got {type(data).__name__}"
    )


def _is_numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() and dtype != pl.Boolean


def _is_categorical(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Categorical, pl.Boolean) or isinstance(dtype, pl.Enum)


def infer_kinds(
    reference: pl.DataFrame, current: pl.DataFrame, exclude: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """Columns present in both frames, split into numeric and categorical by the reference's types."""
    common = [c for c in reference.columns if c in current.columns and c not in exclude]
    if not common:
        raise InputError("the two datasets have no columns in common")
    numeric = [c for c in common if _is_numeric(reference.schema[c])]
    categorical = [c for c in common if _is_categorical(reference.schema[c])]
    if not numeric and not categorical:
        raise InputError("no common numeric or categorical columns to compare")
    return numeric, categorical


def _numeric_values(frame: pl.DataFrame, name: str, role: str) -> np.ndarray:
    if name not in frame.columns:
        raise InputError(f"{role} has no column {name!r}")
    try:
        series = frame[name].cast(pl.Float64, strict=True)
    except Exception:
        raise InputError(f"{role} column {name!r} is not numeric") from None
    return series.fill_null(np.nan).to_numpy()


def _value_counts(frame: pl.DataFrame, name: str, role: str) -> dict[str | None, int]:
    if name not in frame.columns:
        raise InputError(f"{role} has no column {name!r}")
    counts = frame.select(pl.col(name).cast(pl.String).value_counts(sort=False)).unnest(name)
    return {(None if v is None else str(v)): int(c) for v, c in counts.iter_rows()}


def compare(
    reference: object,
    current: object,
    *,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    bins: int = 10,
    thresholds: Thresholds | None = None,
    prediction: str | None = None,
    output: str | None = None,
) -> CompareResult:
    """Compare `current` with `reference`, feature by feature (PSI, exact KS, chi², JS, Hellinger, normalised
    Wasserstein, missing and unseen shares, status).

    Features default to the columns both datasets share: numeric by type, strings and booleans categorical.
    `prediction` (the model's score, numeric) and `output` (its decision, categorical) name columns judged as
    the model's output (role "output"): same statistics, but outside the input features' correction family
    and drift share. They default to the log schema's `raw_prediction` / `business_output` when both datasets
    have them.
    """
    ref = as_polars(reference, "reference")
    cur = as_polars(current, "current")
    both = set(ref.columns) & set(cur.columns)
    if prediction is None and PREDICTION_FEATURE in both:
        prediction = PREDICTION_FEATURE
    if output is None and OUTPUT_FEATURE in both:
        output = OUTPUT_FEATURE
    outputs = [c for c in (prediction, output) if c is not None]
    if numeric is None and categorical is None:
        num_names, cat_names = infer_kinds(ref, cur, exclude=outputs)
    else:
        num_names, cat_names = list(numeric or []), list(categorical or [])
        both_roles = sorted(set(outputs) & {*num_names, *cat_names})
        if both_roles:
            raise InputError(f"column {both_roles[0]!r} is named as a feature and as the model's output")
    stats: list[FeatureDrift] = []
    references: dict[str, np.ndarray] = {}  # each feature's reference bin counts, for the learned PSI bars
    for name, is_numeric, role in (
        *((n, True, "input") for n in num_names),
        *((n, False, "input") for n in cat_names),
        *(((prediction, True, "output"),) if prediction is not None else ()),
        *(((output, False, "output"),) if output is not None else ()),
    ):
        if is_numeric:
            num_profile = numeric_profile(name, _numeric_values(ref, name, "reference"), bins)
            drift = numeric_feature_stats(num_profile, _numeric_values(cur, name, "current"))
            references[name] = num_profile.bin_counts
        else:
            cat_profile = categorical_profile(name, _value_counts(ref, name, "reference"))
            drift = categorical_feature_stats(cat_profile, _value_counts(cur, name, "current"))
            references[name] = cat_profile.bin_counts
        stats.append(drift if role == "input" else dataclasses.replace(drift, role="output"))
    decision = judge_window(stats, references, thresholds or Thresholds())
    return CompareResult(stats, decision, ref.height, cur.height)
