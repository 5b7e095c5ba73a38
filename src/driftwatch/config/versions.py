"""A monitor's `versions:` section: which logged model versions are compared (baseline vs candidate), how
(shadow, canary or auto), and the bars of the verdict. See docs/versions.md.

The versions are literal `model_version` strings as logged. A registry alias (`@champion`) is turned into a
logged version by the pipeline's resolver (`pipeline.versions.logged_versions`), not here: config is parsed
once and knows no registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from driftwatch.config.performance import BINARY, DEFAULT_JUDGED, MULTICLASS, REGRESSION, TASK_METRICS
from driftwatch.config.sections import Section

SHADOW = "shadow"
CANARY = "canary"
AUTO = "auto"
MODES = (SHADOW, CANARY, AUTO)
VERSION_KEYS = (
    "baseline",
    "candidate",
    "mode",
    "metric",
    "min_pairs",
    "min_agreement",
    "min_labels",
    "tolerance",
    "alpha",
    "segment_min_pairs",
    "min_flip_lift",
    "input_psi",
    "input_js",
)


@dataclass(frozen=True)
class VersionSettings:
    """Baseline vs candidate: the versions, the traffic mode and the verdict's bars (docs/versions.md)."""

    baseline: str
    candidate: str
    mode: str = AUTO  # shadow: same request ids; canary: disjoint; auto: decided per window from the overlap
    metric: str | None = None  # canary: the metric compared on labelled rows; None = the task's default
    min_pairs: int = 200  # shadow: fewer paired requests in a window → insufficient_data
    min_agreement: float = 0.9  # shadow: agreement significantly below this → candidate_worse
    min_labels: int = 100  # canary: labelled rows each version needs
    tolerance: float = 0.0  # canary: the smallest metric drop that matters
    alpha: float = 0.05  # every test's level (segment and feature families are BH-corrected)
    segment_min_pairs: int = 30  # shadow: a segment value with fewer pairs is not tested
    min_flip_lift: float = 0.05  # shadow: flip rate above the rest's by this much to count as concentrated
    input_psi: float = 0.1  # canary: a numeric input shift must reach this PSI (and be significant)
    input_js: float = 0.1  # canary: a categorical input shift must reach this JS distance


def _alpha(s: Section) -> float:
    alpha = s.number("alpha", 0.05, 0.0, 0.5)
    if alpha == 0.0:
        raise s.error("alpha", "expected a number above 0 (a test at level 0 never rejects)", alpha)
    return alpha


# The metrics a comparison can judge. Shadow: a paired test on the same labelled requests
# (performance.versions.compare_paired). Canary: an analytic standard error on each version's own rows
# (performance.uncertainty). The multiclass macro metrics and R² (canary) have neither, and multiclass log loss
# needs class probabilities a single logged score cannot carry: such a comparison could never reach a verdict.
SHADOW_METRICS: dict[str, tuple[str, ...]] = {
    BINARY: TASK_METRICS[BINARY],
    MULTICLASS: ("accuracy",),
    REGRESSION: ("mae", "rmse", "mape", "r2"),
}
CANARY_METRICS: dict[str, tuple[str, ...]] = {
    BINARY: TASK_METRICS[BINARY],
    MULTICLASS: ("accuracy",),
    REGRESSION: ("mae", "rmse", "mape"),
}


def judgeable_metrics(task: str, mode: str) -> tuple[str, ...]:
    """The metrics `versions.metric` may name for a task and mode (auto may run either test: both must exist)."""
    if mode == SHADOW:
        return SHADOW_METRICS[task]
    if mode == CANARY:
        return CANARY_METRICS[task]
    return tuple(m for m in SHADOW_METRICS[task] if m in CANARY_METRICS[task])


_WHY_NOT = {
    SHADOW: "has no paired test on the same labelled requests (shadow mode)",
    CANARY: "has no standard error to compare two versions' own labelled rows (canary mode)",
    AUTO: "cannot be judged in both shadow and canary mode (auto may run either)",
}


def _version(s: Section, key: str) -> str:
    raw = s.data.get(key)
    # YAML reads `1.4` as a float; a version is text as logged, so a number is taken as written.
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    return s.str_(key, required=True) or ""


def _metric(s: Section, task: str | None, mode: str) -> str | None:
    metric = s.str_("metric")
    if task is None:
        if metric is not None:
            raise s.error("metric", "needs the monitor's `task` to measure", metric)
        return None
    if metric is None:
        return DEFAULT_JUDGED[task][0]
    if metric not in TASK_METRICS[task]:
        raise s.error("metric", f"expected one of {', '.join(TASK_METRICS[task])} for {task}", metric)
    allowed = judgeable_metrics(task, mode)
    if metric not in allowed:
        raise s.error(
            "metric",
            f"{metric} {_WHY_NOT[mode]}, so the comparison could never reach a verdict; "
            f"for {task} with mode {mode} use one of {', '.join(allowed)}",
            metric,
        )
    return metric


def is_alias(name: str) -> bool:
    """`@champion`: a registry alias of the monitor's registered model, not a logged model_version."""
    return name.startswith("@")


def parse_versions(
    file: Path, path: str, data: object, task: str | None, registry_model: str | None = None
) -> VersionSettings | None:
    """The `versions:` section (None when absent). Raises ConfigError naming the file, key and value.

    `registry_model`: the registered model of the monitor's `mlflow://` reference, if it has one; only then may
    `baseline`/`candidate` name a registry alias (`@champion`), resolved to a logged version each cycle.
    """
    if data is None:
        return None
    s = Section(file, path, data, VERSION_KEYS)
    baseline, candidate = _version(s, "baseline"), _version(s, "candidate")
    for key, name in (("baseline", baseline), ("candidate", candidate)):
        if is_alias(name) and registry_model is None:
            raise s.error(
                key,
                "a registry alias needs the monitor's reference in the MLflow registry "
                "(reference: {path: mlflow://models/<name>@<alias>}); else name the logged model_version",
                name,
            )
        if is_alias(name) and len(name) == 1:
            raise s.error(key, "names no alias after '@' (e.g. '@champion')", name)
    if baseline == candidate:
        raise s.error("candidate", "must differ from `baseline`", candidate)
    if baseline == "*" or candidate == "*":
        raise s.error(
            "baseline" if baseline == "*" else "candidate", "'*' means every version; name one", "*"
        )
    mode = s.choice("mode", AUTO, MODES)
    return VersionSettings(
        baseline=baseline,
        candidate=candidate,
        mode=mode,
        metric=_metric(s, task, mode),
        min_pairs=s.int_("min_pairs", 200, 1) or 200,
        min_agreement=s.number("min_agreement", 0.9, 0.0, 1.0),
        min_labels=s.int_("min_labels", 100, 1) or 100,
        tolerance=s.number("tolerance", 0.0, 0.0),
        alpha=_alpha(s),
        segment_min_pairs=s.int_("segment_min_pairs", 30, 1) or 30,
        min_flip_lift=s.number("min_flip_lift", 0.05, 0.0, 1.0),
        input_psi=s.number("input_psi", 0.1, 0.0),
        input_js=s.number("input_js", 0.1, 0.0, 1.0),
    )
