"""A reference's rows read jointly (every feature of a row together), for the multivariate profile.

The per-feature profile reads the loaded reference column by column (`sources.reference_rows`), which keeps
each marginal but loses which values came from the same row. The multivariate profile needs the rows, so it
reads the same temp table (`load_reference_rows`, usually with a reservoir sample) in one query.
"""

from __future__ import annotations

import duckdb
import numpy as np
import numpy.typing as npt

from driftwatch.sources.reference_rows import REFERENCE_TABLE
from driftwatch.storage.schema import feature_column


def reference_joint_rows(
    cur: duckdb.DuckDBPyConnection, numeric: tuple[str, ...], categorical: tuple[str, ...]
) -> tuple[dict[str, npt.NDArray[np.float64]], dict[str, list[str | None]]]:
    """The loaded good rows' numeric (float64, NaN missing) and categorical (text, None missing) features,
    aligned row by row."""
    select = [f"coalesce({feature_column(n)}, 'NaN'::DOUBLE) AS _n{i}" for i, n in enumerate(numeric)]
    select += [f"{feature_column(n)}::VARCHAR AS _c{i}" for i, n in enumerate(categorical)]
    select.append("1 AS _one")
    result = cur.execute(
        f"SELECT {', '.join(select)} FROM {REFERENCE_TABLE} WHERE _reason IS NULL"
    ).fetchnumpy()
    return (
        {n: np.asarray(result[f"_n{i}"], dtype=np.float64) for i, n in enumerate(numeric)},
        {
            n: [None if v is None else str(v) for v in result[f"_c{i}"].tolist()]
            for i, n in enumerate(categorical)
        },
    )
