"""Evidence on real data (issue 12, item 7): a public data set set up the way a new user has their own model,
run end to end through `driftwatch run` with a minimal config and the defaults.

Run:  .venv/bin/python benchmarks/real_data_evidence.py [--out docs/real-data-evidence.json] [--workdir DIR]

The data: the RAND Health Insurance Experiment (Manning et al. 1987; 20,190 person-years), the `randhie` set
bundled in statsmodels' wheel (no download). The model predicts whether a member sees a doctor at least once in
the year (`any_visit`, 69 % of person-years) from the plan they were on (coinsurance, individual deductible,
participation incentive, maximum deductible: assigned at random in the experiment) and their health (chronic
disease count, physical limitation, self-rated health).

What a new user has, and what this script writes:

- `data/reference.csv` — the training part (30 % of the rows, seeded), written by pandas as a user would
  (booleans as `True`/`False`), with a `record_id` column, the target, and the model's score and decision on it.
  The score is out-of-fold (5-fold `cross_val_predict`), so the reference performance is an honest baseline;
  the deployed model is a scikit-learn `HistGradientBoostingClassifier` fit on the whole reference.
- `data/logs/YYYY-MM-DD.parquet` — one plain-column Parquet file per day (request_id, timestamp,
  model_version, the seven features, raw_prediction, business_output), drawn without replacement from the
  other 70 %, about `--rows-per-day` rows a day (Poisson), ending yesterday (UTC), so `driftwatch run` with the
  wall clock computes every day.
- `data/labels/YYYY-MM-DD.parquet` — each prediction's label arrives 3–10 days (uniform) after it was served
  and lands in the file of the day it arrived; files of days not yet over are not written, so the last days
  have few or no labels, as in production.
- `driftwatch.yml` — the config a new user writes: the file paths, which columns are the id, version,
  features, score and decision, the task and the labels. Nothing else: every threshold is a default.

The change point, a subpopulation shift: from `--change-day` on, a share `--segment-share` (default 0.8) of
each day's members comes from the chronically ill half (chronic disease count at or above the reference's
median), against about one half before. A realistic cause is a new employer group with an older, sicker
workforce joining the plan. What it moves, measured directly on the rows (the `truth` block: two-sample KS D
and total-variation distance of the served rows against the reference, before and after the change): the
chronic disease count strongly, physical limitation and self-rated health (which correlate with it) less, the
randomised plan variables not at all. That is the yardstick for the flags.

The script runs the real CLI as subprocesses (`driftwatch run`, then `driftwatch results --format json` and
`--performance --format json`) and reports, per feature, the share of windows flagged `warn` or `drift` before
and after the change, and the performance verdicts. Everything goes to `--out` (JSON) and stdout (Markdown).
Re-run it after a change to the defaults with the same command: the data are the same for the same seed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy import stats as sps

ROOT: Final = Path(__file__).resolve().parents[1]
MONITOR: Final = "rand-hie"
MODEL_VERSION: Final = "hie-gbm-1"
NUMERIC: Final = (
    "coinsurance_pct",
    "log_incentive",
    "log_max_deductible",
    "physical_limitation",
    "chronic_diseases",
)
CATEGORICAL: Final = ("individual_deductible", "self_rated_health")
FEATURES: Final = (
    "coinsurance_pct",
    "individual_deductible",
    "log_incentive",
    "log_max_deductible",
    "physical_limitation",
    "chronic_diseases",
    "self_rated_health",
)
TARGET: Final = "any_visit"
SEGMENT_FEATURE: Final = "chronic_diseases"
THRESHOLD: Final = 0.5  # driftwatch's default `threshold`: the score at which a prediction counts as positive
OUTPUTS: Final = ("raw_prediction", "business_output")
FLAGS: Final = ("warn", "drift")
JUDGED: Final = ("ok", "warn", "drift")

CONFIG: Final = f"""\
# What a new user writes: where the files are and what the columns mean. Every threshold is a default.
monitors:
  {MONITOR}:
    predictions:
      path: data/logs/*.parquet
      model_version: model_version
      features: [{", ".join(FEATURES)}]
      prediction: raw_prediction
      output: business_output
    reference:
      path: data/reference.csv
      target: {TARGET}
      prediction: raw_prediction
      output: business_output
    task: binary_classification
    labels:
      path: data/labels/*.parquet
      timestamp: labelled_at
"""

# The same, with the features named by kind: what the user tries next when the minimal config fails them (on
# 2026-12-06's main, the reference's `record_id` was inferred as a feature and no log file could be read).
EXPLICIT_CONFIG: Final = (
    CONFIG.replace(
        "monitors:", "storage: .driftwatch/explicit.duckdb\nreports_dir: reports-explicit\nmonitors:"
    )
    + f"""\
    features:
      numeric: [{", ".join(NUMERIC)}]
      categorical: [{", ".join(CATEGORICAL)}]
"""
)
VARIANTS: Final = {
    "minimal": ("driftwatch.yml", CONFIG),
    "explicit": ("driftwatch-explicit.yml", EXPLICIT_CONFIG),
}


# --- the data ---------------------------------------------------------------------------------------------------


def load_randhie() -> pd.DataFrame:
    """The bundled RAND HIE rows, renamed to what a feature store would call them (one row per person-year)."""
    from statsmodels.datasets import randhie

    raw = randhie.load_pandas().data
    health = np.select(
        [raw["hlthp"] == 1, raw["hlthf"] == 1, raw["hlthg"] == 1], ["poor", "fair", "good"], "excellent"
    )
    return pd.DataFrame(
        {
            # lncoins = ln(coinsurance + 1): back to the plan's percentage (0, 25, 50, 95 or 100)
            "coinsurance_pct": np.rint(np.expm1(raw["lncoins"])).astype(np.int64),
            "individual_deductible": raw["idp"] == 1,
            "log_incentive": raw["lpi"].round(6),
            "log_max_deductible": raw["fmde"].round(6),
            "physical_limitation": raw["physlm"].round(6),
            "chronic_diseases": raw["disea"].round(6),
            "self_rated_health": health,
            TARGET: (raw["mdvis"] > 0).astype(np.int64),
        }
    )


def model_matrix(frame: pd.DataFrame) -> np.ndarray:
    """The model's inputs: numbers as they are, the boolean as 0/1, self-rated health one-hot."""
    health = pd.get_dummies(frame["self_rated_health"]).reindex(
        columns=["excellent", "good", "fair", "poor"], fill_value=False
    )
    parts = [frame[list(NUMERIC)].to_numpy(np.float64), frame[["individual_deductible"]].to_numpy(np.float64)]
    return np.hstack([*parts, health.to_numpy(np.float64)])


def decision(score: np.ndarray) -> np.ndarray:
    """The business decision: members unlikely to see a doctor get a check-up reminder."""
    return np.where(score < THRESHOLD, "send_checkup_reminder", "none")


def make_model(seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_depth=3, max_iter=150, learning_rate=0.05, random_state=seed)


def write_project(
    root: Path,
    *,
    days: int,
    change_day: int,
    rows_per_day: int,
    segment_share: float,
    seed: int,
    end: dt.datetime,
) -> dict[str, Any]:
    """Write reference, daily logs, labels and the config under `root`; return facts about what was written."""
    from sklearn.model_selection import cross_val_predict

    rng = np.random.default_rng(seed)
    data = load_randhie()
    order = rng.permutation(len(data))
    n_ref = int(round(0.3 * len(data)))
    reference, pool = data.iloc[order[:n_ref]].reset_index(drop=True), data.iloc[order[n_ref:]]

    x_ref, y_ref = model_matrix(reference), reference[TARGET].to_numpy()
    oof = cross_val_predict(make_model(seed), x_ref, y_ref, cv=5, method="predict_proba")[:, 1]
    model = make_model(seed).fit(x_ref, y_ref)

    ref_out = reference.assign(raw_prediction=oof.round(6), business_output=decision(oof))
    ref_out.insert(0, "record_id", [f"hie-{i:05d}" for i in range(len(ref_out))])
    (root / "data" / "logs").mkdir(parents=True)
    (root / "data" / "labels").mkdir()
    ref_out.to_csv(root / "data" / "reference.csv", index=False)  # pandas writes booleans as True/False

    cut = float(np.median(reference[SEGMENT_FEATURE]))
    in_segment = pool[SEGMENT_FEATURE].to_numpy() >= cut
    segment, rest = (
        list(rng.permutation(pool.index[in_segment])),
        list(rng.permutation(pool.index[~in_segment])),
    )
    mixed = list(rng.permutation(pool.index))
    used: set[int] = set()

    def take(source: list[int], n: int) -> list[int]:
        out = []
        while len(out) < n:
            if not source:
                raise SystemExit(
                    "the held-out rows ran out: lower --rows-per-day, --days or --segment-share "
                    f"(the pool has {len(pool):,} rows, {int(in_segment.sum()):,} in the segment)"
                )
            i = source.pop()
            if i not in used:
                used.add(i)
                out.append(i)
        return out

    start = end - dt.timedelta(days=days)
    labels: list[pd.DataFrame] = []
    for day in range(days):
        n = int(rng.poisson(rows_per_day))
        if day < change_day:
            idx = take(mixed, n)
        else:
            k = int(rng.binomial(n, segment_share))
            idx = take(segment, k) + take(rest, n - k)
            idx = list(rng.permutation(idx))
        rows = pool.loc[idx].reset_index(drop=True)
        score = model.predict_proba(model_matrix(rows))[:, 1]
        day_start = start + dt.timedelta(days=day)
        served = [day_start + dt.timedelta(seconds=float(s)) for s in np.sort(rng.uniform(0, 86400, n))]
        ids = [f"{day_start:%Y%m%d}-{i:05d}" for i in range(n)]
        log = pd.DataFrame(
            {
                "request_id": ids,
                "timestamp": pd.to_datetime(served, utc=True),
                "model_version": MODEL_VERSION,
                **{f: rows[f] for f in FEATURES},
                "raw_prediction": score.round(6),
                "business_output": decision(score),
            }
        )
        log.to_parquet(root / "data" / "logs" / f"{day_start:%Y-%m-%d}.parquet", index=False)
        delay = rng.uniform(3 * 86400, 10 * 86400, n)
        labels.append(
            pd.DataFrame(
                {
                    "request_id": ids,
                    "label": rows[TARGET].to_numpy(),
                    "labelled_at": log["timestamp"] + pd.to_timedelta(delay, unit="s"),
                    "day": day,
                }
            )
        )
    all_labels = pd.concat(labels, ignore_index=True)
    arrived = all_labels[all_labels["labelled_at"] < pd.Timestamp(end)]
    for date, part in arrived.groupby(arrived["labelled_at"].dt.strftime("%Y-%m-%d")):
        part.drop(columns="day").to_parquet(root / "data" / "labels" / f"{date}.parquet", index=False)
    for file, text in VARIANTS.values():
        (root / file).write_text(text)

    logs = pd.concat(
        [pd.read_parquet(p) for p in sorted((root / "data" / "logs").glob("*.parquet"))], ignore_index=True
    )
    logs["day"] = (logs["timestamp"] - pd.Timestamp(start)).dt.days
    return {
        "reference_rows": len(reference),
        "pool_rows": len(pool),
        "segment_cut": cut,
        "reference_segment_share": float((reference[SEGMENT_FEATURE] >= cut).mean()),
        "log_rows": len(logs),
        "labels_arrived": len(arrived),
        "labels_pending": len(all_labels) - len(arrived),
        "reference_auc_out_of_fold": _auc(y_ref, oof),
        "truth": truth(reference, logs, change_day),
        "realized_auc": {
            "before": _auc(*_labels_scores(logs, all_labels, lambda d: d < change_day)),
            "after": _auc(*_labels_scores(logs, all_labels, lambda d: d >= change_day)),
        },
    }


def _labels_scores(logs: pd.DataFrame, labels: pd.DataFrame, when: Any) -> tuple[np.ndarray, np.ndarray]:
    merged = logs.merge(labels[["request_id", "label"]], on="request_id")
    part = merged[merged["day"].map(when)]
    return part["label"].to_numpy(), part["raw_prediction"].to_numpy()


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(y, score)), 4)


def truth(reference: pd.DataFrame, logs: pd.DataFrame, change_day: int) -> dict[str, dict[str, float]]:
    """How far each feature really moved: the served rows against the reference, before and after the change.
    Numeric: two-sample KS D; categorical: total-variation distance of the category shares."""
    out: dict[str, dict[str, float]] = {}
    for name in FEATURES:
        row = {}
        for side, part in (
            ("before", logs[logs["day"] < change_day]),
            ("after", logs[logs["day"] >= change_day]),
        ):
            if name in NUMERIC:
                row[f"ks_d_{side}"] = round(float(sps.ks_2samp(reference[name], part[name]).statistic), 4)
            else:
                p = reference[name].astype(str).value_counts(normalize=True)
                q = part[name].astype(str).value_counts(normalize=True)
                row[f"tv_{side}"] = round(float(0.5 * p.subtract(q, fill_value=0).abs().sum()), 4)
        out[name] = row
    return out


# --- running driftwatch as a user does ---------------------------------------------------------------------------


def driftwatch(args: Sequence[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """The installed CLI, as a separate process (the same interpreter's `driftwatch`)."""
    return subprocess.run(
        [sys.executable, "-m", "driftwatch.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def run_driftwatch(root: Path, config: str, timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    run = driftwatch(["run", "--config", config], root, timeout)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(
            f"driftwatch run --config {config} failed ({run.returncode}):\n{run.stdout}\n{run.stderr}"
        )
    results = driftwatch(["results", "--config", config, "--format", "json"], root, timeout)
    performance = driftwatch(
        ["results", "--config", config, "--performance", "--format", "json"], root, timeout
    )
    for done in (results, performance):
        if done.returncode != 0:
            raise SystemExit(
                f"driftwatch results --config {config} failed ({done.returncode}):\n{done.stderr}"
            )
    return {
        "run_stdout": run.stdout.strip(),
        "run_stderr": run.stderr.strip(),
        "run_seconds": round(seconds, 1),
        "results": json.loads(results.stdout),
        "performance": json.loads(performance.stdout) if performance.stdout.strip().startswith("[") else [],
    }


# --- what it said ------------------------------------------------------------------------------------------------


def summarise_features(
    results: list[dict[str, Any]], start: dt.datetime, change_day: int
) -> dict[str, dict[str, Any]]:
    """Per feature and side of the change: the status counts, and the flagged shares of the judged windows."""
    by_feature: dict[str, dict[str, Counter[str]]] = {}
    reasons: dict[str, Counter[str]] = {}
    example: dict[str, str] = {}
    for row in results:
        day = _day(row["window_start"], start)
        side = "before" if day < change_day else "after"
        by_feature.setdefault(row["feature"], {"before": Counter(), "after": Counter()})[side][
            row["status"]
        ] += 1
        if row["status"] in FLAGS or row["status"] not in JUDGED:
            reasons.setdefault(row["feature"], Counter())[_reason_kind(row.get("reason") or "")] += 1
            example.setdefault(row["feature"], f"day {day}: {row['status']}: {row.get('reason') or ''}")
    out = {}
    for feature, sides in by_feature.items():
        entry: dict[str, Any] = {}
        for side, counts in sides.items():
            judged = sum(counts[s] for s in JUDGED)
            entry[side] = {
                "windows": sum(counts.values()),
                "judged": judged,
                "counts": dict(sorted(counts.items())),
                "flagged_share": _share(counts["warn"] + counts["drift"], judged),
                "drift_share": _share(counts["drift"], judged),
            }
        entry["reasons"] = dict(reasons.get(feature, Counter()).most_common(3))
        entry["example"] = example.get(feature)
        out[feature] = entry
    return out


def _reason_kind(reason: str) -> str:
    """A reason without its numbers, so equal reasons count together."""
    text = "".join("#" if c.isdigit() else c for c in reason)
    while "##" in text:
        text = text.replace("##", "#")
    return text[:160]


def summarise_performance(rows: list[dict[str, Any]], start: dt.datetime, change_day: int) -> dict[str, Any]:
    """The judged metric (and its CBPE estimate) per window, and the verdict counts on each side."""
    windows: dict[str, dict[str, Any]] = {}
    for row in rows:
        w = windows.setdefault(row["window_start"], {"day": _day(row["window_start"], start)})
        w[row["metric"]] = {
            k: row.get(k)
            for k in ("value", "low", "high", "baseline", "status", "n_labels", "coverage", "reason")
        }
    # a judged metric is one that got a verdict somewhere (a metric short of labels is insufficient_labels
    # whether judged or not)
    judged_metrics = sorted({r["metric"] for r in rows if r["status"] in ("ok", "degraded")})
    verdicts: dict[str, dict[str, dict[str, int]]] = {}
    for metric in judged_metrics:
        for w in windows.values():
            if metric in w:
                side = "before" if w["day"] < change_day else "after"
                counts = verdicts.setdefault(metric, {"before": {}, "after": {}})[side]
                counts[w[metric]["status"]] = counts.get(w[metric]["status"], 0) + 1
    # per window, only the judged metrics and their CBPE estimates (the other metrics are stored as `info`)
    keep = {"day", *judged_metrics, *(f"estimated_{m}" for m in judged_metrics)}
    return {
        "judged_metrics": judged_metrics,
        "verdicts": verdicts,
        "windows": {start: {k: v for k, v in w.items() if k in keep} for start, w in sorted(windows.items())},
    }


def _day(window_start: str, start: dt.datetime) -> int:
    moment = dt.datetime.fromisoformat(window_start.replace("Z", "+00:00"))
    return (moment - start).days


def _share(k: int, n: int) -> float | None:
    return round(k / n, 3) if n else None


# --- output -------------------------------------------------------------------------------------------------------


def markdown(report: dict[str, Any]) -> str:
    p = report["parameters"]
    facts = report["data"]
    lines = [
        f"driftwatch {report['driftwatch']['git']} · {report['generated_at']} · {report['machine']['cpu']}",
        "",
        f"reference {facts['reference_rows']:,} rows; logs {facts['log_rows']:,} rows over {p['days']} days "
        f"(change on day {p['change_day']}: segment share {facts['reference_segment_share']:.2f} → "
        f"{p['segment_share']:.2f}); labels {facts['labels_arrived']:,} arrived, {facts['labels_pending']:,} "
        f"not yet. Realized AUC on every label: before {facts['realized_auc']['before']}, after "
        f"{facts['realized_auc']['after']}; reference (out-of-fold) {facts['reference_auc_out_of_fold']}.",
    ]
    for name, variant in report["variants"].items():
        lines += [
            "",
            f"### config `{name}` (`driftwatch run` {variant['run_seconds']} s)",
            "",
            "```",
            _shorten(variant["run_stdout"]),
            "```",
            "",
        ]
        lines += feature_table(variant["features"], facts["truth"])
        lines += performance_table(variant["performance"])
    return "\n".join(lines)


def _shorten(text: str, keep: int = 3) -> str:
    """The run summary, with a long run of same-kind lines (one per unreadable file) cut to a few."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        head = lines[i].split()[:2]
        j = i
        while j < len(lines) and lines[j].split()[:2] == head:
            j += 1
        if j - i > keep:
            out += lines[i : i + keep] + [f"  … and {j - i - keep} more like it"]
            i = j
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out)


def feature_table(features: dict[str, Any], truth_: dict[str, dict[str, float]]) -> list[str]:
    if not features:
        return ["No feature result was stored.", ""]
    lines = [
        "| feature | moved before → after (KS D or TV) | judged before / after | flagged before | drift before "
        "| flagged after | drift after | statuses before → after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for feature, entry in features.items():
        t = truth_.get(feature, {})
        moved = " → ".join(f"{v:.3f}" for v in t.values()) if t else "—"
        b, a = entry.get("before", {}), entry.get("after", {})
        lines.append(
            f"| `{feature}` | {moved} | {b.get('judged', 0)} / {a.get('judged', 0)} | "
            f"{_pct(b.get('flagged_share'))} | {_pct(b.get('drift_share'))} | {_pct(a.get('flagged_share'))} | "
            f"{_pct(a.get('drift_share'))} | {_counts(b.get('counts', {}))} → {_counts(a.get('counts', {}))} |"
        )
    return [*lines, ""]


def performance_table(perf: dict[str, Any]) -> list[str]:
    if not perf["windows"]:
        return ["No performance result was stored."]
    lines = [
        f"- `{metric}` verdicts: before {_counts(sides['before'])}; after {_counts(sides['after'])}"
        for metric, sides in perf["verdicts"].items()
    ]
    lines += [
        "",
        "| day | AUC | interval | baseline | labels | status | CBPE AUC |",
        "|---|---|---|---|---|---|---|",
    ]
    for w in perf["windows"].values():
        r, e = w.get("roc_auc", {}), w.get("estimated_roc_auc", {})
        lines.append(
            f"| {w['day']} | {_num(r.get('value'))} | {_num(r.get('low'))}–{_num(r.get('high'))} | "
            f"{_num(r.get('baseline'))} | {r.get('n_labels', '—')} | {r.get('status', '—')} | {_num(e.get('value'))} |"
        )
    return lines


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.0f} %"


def _num(v: Any) -> str:
    return "—" if v is None else f"{v:.3f}"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "—"


def machine() -> dict[str, str]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": str(os.cpu_count()), "python": platform.python_version()}


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
        return rev.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def evidence(
    *,
    days: int = 28,
    change_day: int = 14,
    rows_per_day: int = 350,
    segment_share: float = 0.8,
    seed: int = 12,
    workdir: Path | None = None,
    timeout: float = 600,
) -> dict[str, Any]:
    """Write the project, run driftwatch on it and summarise; the whole report as a dict."""
    if not 0 < change_day < days:
        raise SystemExit(f"--change-day must be between 1 and {days - 1}, got {change_day}")
    end = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - dt.timedelta(days=days)
    scratch = None
    if workdir is None:
        scratch = Path(tempfile.mkdtemp(prefix="dw-real-data-"))
        root = scratch
    else:
        root = workdir.resolve()
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
    try:
        facts = write_project(
            root,
            days=days,
            change_day=change_day,
            rows_per_day=rows_per_day,
            segment_share=segment_share,
            seed=seed,
            end=end,
        )
        runs = {name: run_driftwatch(root, file, timeout) for name, (file, _text) in VARIANTS.items()}
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return {
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "driftwatch": {"git": git_revision()},
        "machine": machine(),
        "parameters": {
            "days": days,
            "change_day": change_day,
            "rows_per_day": rows_per_day,
            "segment_share": segment_share,
            "seed": seed,
            "first_day": f"{start:%Y-%m-%d}",
        },
        "data": facts,
        "variants": {
            name: {
                "config": VARIANTS[name][1],
                "run_stdout": ran["run_stdout"],
                "run_stderr": ran["run_stderr"],
                "run_seconds": ran["run_seconds"],
                "features": summarise_features(ran["results"], start, change_day),
                "performance": summarise_performance(ran["performance"], start, change_day),
            }
            for name, ran in runs.items()
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--change-day", type=int, default=14, help="the first day of the shifted population")
    parser.add_argument("--rows-per-day", type=int, default=350, help="mean rows a day (Poisson)")
    parser.add_argument(
        "--segment-share", type=float, default=0.8, help="chronically ill share after the change"
    )
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--workdir", type=Path, help="keep the project here (replaced) instead of a temp folder"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "real-data-evidence.json")
    args = parser.parse_args(argv)
    report = evidence(
        days=args.days,
        change_day=args.change_day,
        rows_per_day=args.rows_per_day,
        segment_share=args.segment_share,
        seed=args.seed,
        workdir=args.workdir,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(markdown(report))
    print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
