"""The API's request and response bodies, as pydantic models so /docs and /openapi.json describe them.

Times are UTC and serialised as ISO 8601 with a `Z`. Numbers that are undefined (NaN, infinite) are `null`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from driftwatch.timestamps import RANGE_TEXT, YEAR_PATTERN


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer has this shape."""

    error: str = Field(description="a short machine-readable code, e.g. not_found, invalid_request")
    detail: str = Field(description="what went wrong, in one sentence")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="per-item problems, when any: the first 100 (texts cut to 1000 characters)"
    )
    errors_omitted: int | None = Field(
        default=None, description="how many more per-item problems there were beyond `errors`, when any"
    )


_ERROR_DESCRIPTIONS = {
    400: "a request the server cannot act on (the detail says why)",
    401: "missing or wrong token (reads need it too with `server.public_reads: false`)",
    404: "no such monitor, silence or file",
    409: "a cycle of this monitor is still running",
    413: "body over `server.max_body_bytes`",
    422: "invalid request: a parameter or the body (JSON nested over 32 levels included)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for error statuses a route can answer, all with the `ErrorBody` shape."""
    return {status: {"model": ErrorBody, "description": _ERROR_DESCRIPTIONS[status]} for status in statuses}


class RunInfo(BaseModel):
    run_id: str
    monitor: str
    trigger: str = Field(description="cli, schedule, startup, api or demo")
    started_at: datetime
    finished_at: datetime | None
    status: str = Field(
        description="running, ok, degraded (every step ran, but a file, object or source could not be read), "
        "failed, or interrupted (its process stopped before it finished; marked so when driftwatch next started)"
    )
    seconds: float | None
    rows_ingested: int
    rows_duplicate: int
    rows_quarantined: int
    files_failed: int
    windows_computed: int
    rows_expired: int = Field(0, description="raw rows deleted by the monitor's retention in this cycle")
    alerts_firing: int | None = Field(
        None,
        description="the monitor's alert instances firing after this cycle's alert evaluation (null: alerting "
        "off, the cycle failed, or a run recorded before driftwatch kept it)",
    )
    alerts_enqueued: int | None = Field(None, description="notifications this cycle's evaluation enqueued")
    alerts_suppressed: int | None = Field(None, description="notifications a silence suppressed")
    error: str | None


class RunsPage(BaseModel):
    items: list[RunInfo]
    total: int
    limit: int
    offset: int


class MonitorHealth(BaseModel):
    name: str
    last_successful_cycle: datetime | None
    last_run_status: str | None
    last_run_finished: datetime | None
    next_scheduled_cycle: datetime | None
    cycle_running: bool


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    scheduler_running: bool
    monitors: list[MonitorHealth]


class WindowSummary(BaseModel):
    monitor: str
    model_version: str
    segment: str
    window_start: datetime
    window_end: datetime
    rows: int
    features: int
    features_warn: int
    features_drift: int
    drift_share: float | None
    status: str = Field(description="ok, warn, drift or insufficient_data")
    run_id: str
    computed_at: datetime


class WindowsPage(BaseModel):
    items: list[WindowSummary]
    total: int
    limit: int
    offset: int
    judged: int = Field(description="of the `total` windows matching, those with a drift verdict")
    not_judged: int = Field(
        description="of the `total` windows matching, those with status insufficient_data (fewer rows than "
        "min_rows): no verdict, which is not the same as no drift"
    )


class MonitorInfo(BaseModel):
    name: str
    window: str = Field(description="window width, e.g. 1d")
    window_seconds: int
    numeric_features: list[str] | None = Field(description="null when inferred from the reference")
    categorical_features: list[str] | None
    segments: list[str]
    task: str | None
    labels_configured: bool
    schedule: str | None = Field(description="cron expression (UTC); null when not scheduled")
    next_scheduled_cycle: datetime | None
    cycle_running: bool
    last_run: RunInfo | None
    latest_window: WindowSummary | None


class MonitorDetail(MonitorInfo):
    predictions_stored: int
    rows_quarantined: int
    labels_stored: int
    windows_computed: int
    windows_queued: int


class FeatureResult(BaseModel):
    monitor: str
    model_version: str
    segment: str
    window_start: datetime
    window_end: datetime
    feature: str
    kind: str
    rows: int
    status: str
    reason: str
    windows: int | None = Field(default=None, description="roll-ups only: windows merged into the period")
    psi: float | None = None
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    statistics: dict[str, float | None] = Field(default_factory=dict, description="every stored statistic")


class ResultsPage(BaseModel):
    items: list[FeatureResult]
    total: int
    limit: int
    offset: int
    rollup: str | None = None
    windows_judged: int = Field(
        description="windows (or roll-up periods) among the `total` rows with at least one feature judged"
    )
    windows_not_judged: int = Field(
        description="windows among the `total` rows whose every feature is insufficient_data: no verdict, "
        "which is not the same as no drift"
    )


class PerformanceRow(BaseModel):
    model_config = ConfigDict(extra="allow")

    monitor: str
    model_version: str
    segment: str
    window_start: datetime
    window_end: datetime
    metric: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    n_predictions: int | None = None
    n_labels: int | None = None
    coverage: float | None = None
    status: str | None = None
    reason: str | None = None
    baseline: float | None = None


class PerformancePage(BaseModel):
    items: list[PerformanceRow]
    note: str | None = None


class AlertsPage(BaseModel):
    items: list[dict[str, Any]]
    note: str | None = None


class WindowComputed(BaseModel):
    model_version: str
    window_start: datetime
    window_end: datetime
    rows: int
    status: str
    drift_share: float | None


class FileProblem(BaseModel):
    path: str
    reason: str


class CycleResult(BaseModel):
    run_id: str
    monitor: str
    status: str = Field(
        "ok", description="ok, or degraded: a file, object or source could not be read this cycle (see error)"
    )
    error: str | None = Field(None, description="a degraded run: what was not read")
    seconds: float
    files_read: int
    rows_ingested: int
    rows_duplicate: int
    rows_quarantined: int
    files_failed: list[FileProblem]
    profile_rebuilt: bool
    windows_computed: int
    windows: list[WindowComputed]
    drifting_features: dict[str, int] = Field(description="feature → windows of this run where it drifts")


class RecordError(BaseModel):
    index: int = Field(description="0-based position of the record in the batch")
    request_id: str | None
    reason: str


class PushResult(BaseModel):
    batch_id: str = Field(description="the source name in quarantine/ingested_files is api:<batch_id>")
    received: int
    inserted: int
    duplicate: int = Field(description="records whose request id was already stored (a re-sent batch)")


class LabelPushResult(BaseModel):
    batch_id: str
    received: int
    new: int
    replaced: int
    unchanged: int
    windows_queued: int


class ReportFile(BaseModel):
    path: str
    url: str
    bytes: int
    modified: datetime


class ReportsPage(BaseModel):
    items: list[ReportFile]


# What ingest stores as text: a string as written; a number, boolean, object or list as its JSON text. An id
# must hold something other than spaces (ingest refuses '' and '   ').
AsText = Annotated[str, Field(min_length=1, pattern="[^ ]")] | int | float | bool | dict[str, Any] | list[Any]
OptionalText = str | int | float | bool | dict[str, Any] | list[Any] | None


class PredictionRecord(BaseModel):
    """One prediction in the default log schema (field names follow the monitor's `predictions:` config)."""

    model_config = ConfigDict(extra="allow")

    request_id: AsText = Field(
        description="unique per prediction; a string that is not blank (other values "
        "are stored as their JSON text)"
    )
    timestamp: (
        Annotated[str, Field(json_schema_extra={"format": "date-time", "pattern": YEAR_PATTERN})] | float
    ) = Field(
        description=f"ISO 8601 (naive times are UTC), or a Unix epoch in s, ms, µs or ns told by its size "
        f"(docs/values.md); {RANGE_TEXT}"
    )
    model_version: OptionalText = Field(default=None, description="stored as text")
    input_features: dict[str, Any] = Field(
        description="feature → value; each value must suit the feature's type in the reference"
    )
    raw_prediction: float | bool | str | None = Field(
        default=None,
        description="the score: a finite number; numeric text is read as its number and a boolean as 1/0 "
        "(docs/values.md); anything else, or ±inf, refuses the batch with a 422",
    )
    business_output: OptionalText = Field(default=None, description="stored as text")
    environment: OptionalText = Field(default=None, description="a segment: stored as text")


class PredictionBatch(BaseModel):
    records: list[PredictionRecord]


class LabelRecord(BaseModel):
    """One delayed label (field names follow the monitor's `labels:` config)."""

    model_config = ConfigDict(extra="allow")

    request_id: AsText = Field(description="the prediction's request id (stored as text)")
    label: str | float | int | bool | dict[str, Any] | list[Any] = Field(
        description="a class, 0/1 or a number; stored as text"
    )
    labelled_at: str | None = Field(
        default=None,
        description="when the label became known (ISO 8601), under the name `labels.timestamp` gives; "
        "required when that is configured",
    )


class LabelBatch(BaseModel):
    records: list[LabelRecord]


class SilenceRequest(BaseModel):
    """A new silence: the same fields and rules as `driftwatch silence add`."""

    model_config = ConfigDict(extra="forbid")

    matchers: dict[str, str] = Field(
        description='label → glob (fnmatch, case-sensitive), e.g. {"alertname": "FeaturePSIHigh", '
        '"feature": "age"}; an alert is silenced when every matcher matches (a missing label counts as '
        '""). At least one.',
        max_length=64,
        json_schema_extra={"minProperties": 1},
    )
    comment: str = Field(
        description="why: shown with the silence; must not be blank",
        max_length=4000,
        json_schema_extra={"pattern": r"\S"},
    )
    ends_at: str | None = Field(
        default=None,
        description="end: an ISO date or time (2026-12-01, 2026-12-01T08:00Z; naive is UTC) or a duration "
        "from now (3d), as `silence add --until`. Give this or `duration`.",
        max_length=100,
    )
    duration: str | None = Field(
        default=None,
        description="length from `starts_at`, e.g. 2h or 3d; instead of `ends_at`",
        max_length=100,
    )
    starts_at: str | None = Field(
        default=None, description="start, in the forms of `ends_at`; default now", max_length=100
    )
    created_by: str | None = Field(default=None, description='who; default "api"', max_length=200)


class SilenceInfo(BaseModel):
    id: str
    matchers: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str
    created_at: datetime
    expired_at: datetime | None = Field(description="when it was expired early (DELETE or `silence expire`)")
    state: Literal["pending", "active", "expired"] = Field(
        description="pending before starts_at, active until ends_at, then expired"
    )


class SilencesPage(BaseModel):
    items: list[SilenceInfo]
