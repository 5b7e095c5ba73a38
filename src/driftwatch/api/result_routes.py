"""What the read routes of a monitor's stored results share (routes_multivariate.py, routes_quality.py,
routes_versions.py): one router shape, and one rule for turning a stored row into a JSON item.

- `results_router`: routes under `/api` that need the read token, with the 401 documented once.
- `json_item`: a stored row (a dataclass or a mapping) as JSON can carry it: NaN and ±inf become null (JSON has
  no spelling for them; `json_values.finite`), timestamps (stored naive UTC) become aware UTC, and lists of
  values (quantiles, reasons) are treated element by element. Extra fields are dropped by the route's
  `response_model`, so a row may carry more than its item shows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends

from driftwatch.api.json_values import finite
from driftwatch.api.models import error_responses
from driftwatch.durations import as_utc

NOT_FOUND = error_responses(404)


def results_router(read: Any, tag: str) -> APIRouter:
    """A router for `/api/...` read routes; `read` is the read-token dependency (public or bearer)."""
    return APIRouter(prefix="/api", tags=[tag], dependencies=[Depends(read)], responses=error_responses(401))


def json_item(row: Any) -> dict[str, Any]:
    """`row` (a dataclass instance or a mapping of column → value) as a JSON-ready dict."""
    values: Mapping[str, Any] = (
        dataclasses.asdict(row) if dataclasses.is_dataclass(row) and not isinstance(row, type) else row
    )
    return {key: _json_value(value) for key, value in values.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return finite(value)
