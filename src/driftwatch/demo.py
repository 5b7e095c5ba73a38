"""A realistic demo project: a credit-default model's 30 days of prediction logs, with known drift.

What is in it (so tests and the README can say exactly what should be found):
- features `age`, `credit_score`, `num_accounts` (integers with heavy ties), `employment_years`, `income`
  (log-normal), `debt_ratio` (2% missing), `region` and `loan_purpose` (categorical);
- from day `drift_day` (default 18) on: `income` shifts up by 35% and `region` gains a new category `apac` and
  loses share of `north`; from day `missing_day` (default 22) on, `debt_ratio` goes 15% missing;
- `age`, `credit_score`, `num_accounts`, `employment_years` and `loan_purpose` never drift;
- each daily file carries a few malformed rows (an unparseable timestamp, broken JSON, a wrong type) and a
  request id repeated from the day before, which ingest must quarantine and de-duplicate.
- delayed labels (`data/labels/<day>.parquet`: `request_id`, `label` 0/1, `labelled_at`): each prediction's
  default is drawn from the model's own calibrated score and becomes known 1–14 days later; only labels known
  before the demo's end are written, so the last two weeks are partly labelled and the last day not at all.
  One label a day is for a quarantined request (its id never reaches the predictions table).
- a data-quality failure on day `stuck_day` (default -1: the last day): a logging bug writes `income` as the
  same default value (`STUCK_INCOME`) on every row, while the model still scored the real income. Only the
  constant check fails for it (docs/quality.md); the drift tests see income drift as on the days before.
- concept drift from day `concept_drift_day` (default 10) to `concept_drift_end` (exclusive, default 16): the
  true default probability reverses the credit score's effect while the inputs stay as they were, so the
  realized AUC falls from about 0.72 to about 0.43 with no input drift to warn of it (the CBPE estimate, which
  sees scores only, cannot see it either).
- a multivariate change from day `correlation_flip_day` (default 5) to `correlation_flip_end` (exclusive,
  default 8): `age` and `employment_years` move together (rank correlation about +0.7) in the reference and on
  other days, and in opposite directions (about -0.7) on those days. Each day's values are the same, only
  their pairing changes, so every per-feature test stays quiet; the monitor's `multivariate:` check sees it
  (`couple_features` below).
- a challenger (`challenger_days` > 0, as `driftwatch demo` runs it): model `v3.3` scores the same requests in
  shadow mode over the last `challenger_days` days (same request ids, its own rows). It agrees with `v3.2`
  except on `environment=prod-eu-central1`, where it under-weights debt (a bug in that region's feature
  pipeline), so its decisions flip there; the version comparison (`versions:` in the config) must say
  `candidate_worse` with the flips concentrated in that segment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from scipy.special import ndtri

from driftwatch.durations import to_naive_utc

DRIFTING = ("income", "region", "debt_ratio")
STUCK_FEATURE = "income"
STUCK_INCOME = 52000.0  # the logging bug's default fill
STABLE = ("age", "credit_score", "num_accounts", "employment_years", "loan_purpose")
NUMERIC = ("age", "income", "debt_ratio", "credit_score", "num_accounts", "employment_years")
CATEGORICAL = ("region", "loan_purpose")
_REGIONS = ("north", "south", "east", "west")
_PURPOSES = ("car", "home", "education", "business", "other")


@dataclass(frozen=True)
class DemoSpec:
    days: int = 30
    rows_per_day: int = 4000
    reference_rows: int = 40000
    drift_day: int = 18
    missing_day: int = 22
    concept_drift_day: int = 10
    concept_drift_end: int = 16  # exclusive
    stuck_day: int | None = -1  # income logged as one constant that day (negative: from the end; None: never)
    label_delay_days: tuple[float, float] = (1.0, 14.0)
    correlation_flip_day: int = 5
    correlation_flip_end: int = 8  # exclusive
    seed: int = 7
    challenger_days: int = 0  # the last days also scored by the shadow challenger v3.3 (0: none)
    end: datetime | None = None  # exclusive end (a UTC midnight); default: today's midnight

    def start(self) -> datetime:
        end = self.end or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return end - timedelta(days=self.days)


def _features(rng: np.random.Generator, n: int, drifted: bool, missing_jump: bool) -> dict[str, np.ndarray]:
    age = rng.integers(21, 70, n).astype(np.float64)
    income = rng.lognormal(mean=10.8, sigma=0.45, size=n) * (1.35 if drifted else 1.0)
    debt = np.clip(rng.beta(2.0, 5.0, n), 0, 1)
    debt[rng.random(n) < (0.15 if missing_jump else 0.02)] = np.nan
    score = np.clip(np.round(rng.normal(680, 60, n) / 5) * 5, 300, 850)
    accounts = rng.poisson(4, n).astype(np.float64)
    years = np.round(rng.gamma(2.0, 3.0, n), 1)
    region_p = [0.15, 0.25, 0.25, 0.2, 0.15] if drifted else [0.3, 0.25, 0.25, 0.2, 0.0]
    region = rng.choice(np.array([*_REGIONS, "apac"]), size=n, p=region_p)
    purpose = rng.choice(np.array(_PURPOSES), size=n, p=[0.3, 0.25, 0.15, 0.2, 0.1])
    return {
        "age": age,
        "income": np.round(income, 2),
        "debt_ratio": np.round(debt, 4),
        "credit_score": score,
        "num_accounts": accounts,
        "employment_years": years,
        "region": region,
        "loan_purpose": purpose,
    }


def _day(day: int | None, days: int) -> int | None:
    """A day index of the spec (negative: counted from the end)."""
    return None if day is None else day % days if day < 0 else day


def _stuck(feats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The features as a broken logger writes them: income the same default value on every row."""
    return {**feats, STUCK_FEATURE: np.full(feats[STUCK_FEATURE].size, STUCK_INCOME)}


def _score(f: dict[str, np.ndarray]) -> np.ndarray:
    debt = np.nan_to_num(f["debt_ratio"], nan=0.3)
    z = -1.2 + 3.0 * debt - 0.012 * (f["credit_score"] - 680) - 0.4 * (np.log(f["income"]) - 10.8)
    return 1.0 / (1.0 + np.exp(-z))


def _true_probability(f: dict[str, np.ndarray], concept_drift: bool) -> np.ndarray:
    """P(default | x): the model's score is exactly right, except under concept drift, where a higher credit
    score now means more risk, not less (same inputs, a different relationship)."""
    if not concept_drift:
        return _score(f)
    debt = np.nan_to_num(f["debt_ratio"], nan=0.3)
    z = -1.2 + 3.0 * debt + 0.012 * (f["credit_score"] - 680) - 0.4 * (np.log(f["income"]) - 10.8)
    return 1.0 / (1.0 + np.exp(-z))


def _write_labels(folder: Path, frames: list[pl.DataFrame], end: datetime) -> None:
    """One file per day of arrival, holding the labels that became known that day (before `end` only)."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = pl.concat(frames).filter(pl.col("labelled_at") < to_naive_utc(end))
    labels = labels.with_columns(pl.col("labelled_at").dt.truncate("1d").alias("_day"))
    for (day,), part in labels.sort("labelled_at").group_by(["_day"], maintain_order=True):
        out = part.select(
            "request_id",
            "label",
            pl.col("labelled_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("labelled_at"),
        )
        out.write_parquet(folder / f"{day:%Y-%m-%d}.parquet")


CHALLENGER = "v3.3"
CHALLENGER_SEGMENT = "prod-eu-central1"  # the environment where the challenger disagrees


def _challenger_logs(logs: pl.DataFrame, feats: dict[str, np.ndarray], score: np.ndarray) -> pl.DataFrame:
    """The challenger's shadow rows for the same requests: the production score everywhere, except in
    `CHALLENGER_SEGMENT`, where its debt weight is a third of production's."""
    debt = np.nan_to_num(feats["debt_ratio"], nan=0.3)
    own = 1.0 / (1.0 + np.exp(-(np.log(score / (1.0 - score)) - 2.0 * debt + 0.6)))
    eu = logs["environment"].to_numpy() == CHALLENGER_SEGMENT
    challenger = np.where(eu, own, score)
    return logs.with_columns(
        model_version=pl.lit(CHALLENGER),
        raw_prediction=pl.Series(np.round(challenger, 5)),
        business_output=pl.Series(_decision(challenger)),
    )


def _decision(score: np.ndarray) -> np.ndarray:
    """The business decision the model's score drives: its share is the decision mix driftwatch watches."""
    return np.where(score < 0.35, "approve_loan", "decline_loan")


def write_demo_project(folder: str | Path, spec: DemoSpec | None = None) -> Path:
    """Write data/, driftwatch.yml into `folder`; returns the config path."""
    spec = spec or DemoSpec()
    root = Path(folder)
    pred_dir = root / "data" / "predictions"
    pred_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    # Labels draw from their own stream, so the prediction logs stay exactly what they were without labels.
    label_rng = np.random.default_rng([spec.seed, 1])
    label_frames: list[pl.DataFrame] = []

    ref = _features(rng, spec.reference_rows, drifted=False, missing_jump=False)
    # The coupling draws from its own stream, so every other value stays exactly what it was without it.
    coupling_rng = multivariate_rng(spec.seed)
    couple_features(ref, flipped=False, rng=coupling_rng)
    ref_score = _score(ref)
    ref_frame = pl.DataFrame(
        {
            **ref,
            "score": ref_score,
            "label": (rng.random(spec.reference_rows) < ref_score).astype(np.int8),
            "decision": _decision(ref_score),
        }
    )
    ref_frame.write_parquet(root / "data" / "train.parquet")

    start = spec.start()
    previous_id: str | None = None
    for day in range(spec.days):
        day_start = start + timedelta(days=day)
        n = spec.rows_per_day
        feats = _features(rng, n, drifted=day >= spec.drift_day, missing_jump=day >= spec.missing_day)
        couple_features(feats, spec.correlation_flip_day <= day < spec.correlation_flip_end, coupling_rng)
        score = _score(feats)
        seconds = np.sort(rng.integers(0, 86400, n))
        ts = [(day_start + timedelta(seconds=int(s))).isoformat().replace("+00:00", "Z") for s in seconds]
        ids = [f"req-{day:03d}-{i:06d}" for i in range(n)]
        logged = _stuck(feats) if day == _day(spec.stuck_day, spec.days) else feats
        frame = pl.DataFrame(logged).with_columns(pl.col("debt_ratio").fill_nan(None))
        features_json = frame.select(pl.struct(pl.all()).struct.json_encode().alias("input_features"))[
            "input_features"
        ]
        logs = pl.DataFrame(
            {
                "request_id": ids,
                "timestamp": ts,
                "model_version": ["v3.2"] * n,
                "input_features": features_json,
                "raw_prediction": np.round(score, 5),
                "business_output": _decision(score),
                "environment": rng.choice(
                    np.array(["prod-us-west1", "prod-eu-central1"]), size=n, p=[0.6, 0.4]
                ),
            }
        )
        bad = pl.DataFrame(
            {
                "request_id": [f"req-{day:03d}-bad-ts", f"req-{day:03d}-bad-json", f"req-{day:03d}-bad-type"]
                + ([previous_id] if previous_id else []),
                "timestamp": ["yesterday-ish", ts[0], ts[1]] + ([ts[2]] if previous_id else []),
                "model_version": ["v3.2"] * (4 if previous_id else 3),
                "input_features": [
                    '{"age": 30}',
                    '{"age": 41, "income": ',
                    '{"age": "forty", "income": 52000}',
                ]
                + ([features_json[2]] if previous_id else []),
                "raw_prediction": [0.1] * (4 if previous_id else 3),
                "business_output": ["approve_loan"] * (4 if previous_id else 3),
                "environment": ["prod-us-west1"] * (4 if previous_id else 3),
            }
        )
        shadow = [_challenger_logs(logs, feats, score)] if day >= spec.days - spec.challenger_days else []
        pl.concat([logs, *shadow, bad]).write_parquet(pred_dir / f"{day_start:%Y-%m-%d}.parquet")
        previous_id = ids[-1]

        truth = _true_probability(feats, spec.concept_drift_day <= day < spec.concept_drift_end)
        low, high = spec.label_delay_days
        delay_s = label_rng.uniform(low * 86400, high * 86400, n + 1)
        served = np.array([to_naive_utc(day_start) + timedelta(seconds=int(s)) for s in seconds])
        label_frames.append(
            pl.DataFrame(
                {
                    "request_id": [*ids, f"req-{day:03d}-bad-ts"],
                    "label": np.append(label_rng.random(n) < truth, False).astype(np.int8),
                    "labelled_at": [
                        t + timedelta(seconds=float(d))
                        for t, d in zip([*served, served[0]], delay_s, strict=True)
                    ],
                }
            )
        )
    _write_labels(root / "data" / "labels", label_frames, start + timedelta(days=spec.days))

    rules_dir = root / "alert_rules"
    rules_dir.mkdir(exist_ok=True)
    rules = DEMO_RULES.read_text(encoding="utf-8")
    text = DEMO_CONFIG
    if os.environ.get("SLACK_WEBHOOK_URL"):
        # Post to Slack as well when a webhook is configured in the environment (its URL stays there).
        rules = rules.replace("route: {channels: [log]", "route: {channels: [log, slack]", 1)
        text += "  channels:\n    slack: {type: slack, url_env: SLACK_WEBHOOK_URL}\n"
    (rules_dir / "demo.yml").write_text(rules, encoding="utf-8")
    config = root / "driftwatch.yml"
    config.write_text(text, encoding="utf-8")
    return config


# The repo's alert_rules/demo.yml links to this file, so the rules the tests load are the ones the demo ships.
DEMO_RULES = Path(__file__).with_name("demo_alert_rules.yml")


DEMO_CONFIG = """\
# The demo project written by `driftwatch demo`. Every key is documented in docs/configuration.md.
storage: .driftwatch/driftwatch.duckdb
reports_dir: reports
monitors:
  credit-default:
    predictions:
      path: data/predictions/*.parquet
      timestamp: timestamp
      id: request_id
      model_version: model_version
      features: input_features
      prediction: raw_prediction
      output: business_output
      segments: [environment]
    reference:
      path: data/train.parquet
      prediction: score
      output: decision
      target: label
    features:
      numeric: [age, income, debt_ratio, credit_score, num_accounts, employment_years]
      categorical: [region, loan_purpose]
    window: 1d
    min_rows: 500
    task: binary_classification
    positive_label: 1
    threshold: 0.5
    labels:
      path: data/labels/*.parquet
      id: request_id
      label: label
      timestamp: labelled_at
    performance:
      min_labels: 200
      min_coverage: 0.2
      metrics: [roc_auc]
    multivariate: {enabled: true, methods: [reconstruction]}
    versions: {baseline: v3.2, candidate: v3.3, mode: shadow}  # the shadow challenger (docs/versions.md)
alerting:
  rules: alert_rules
  backfill: 60d
"""


# --- the multivariate change ----------------------------------------------------------------------------------
# `age` and `employment_years` are drawn independently by `_features`; `couple_features` re-pairs a frame's
# employment years with its ages through a Gaussian copula: each row gets the years value whose rank follows
# rho * (age's normal score) + sqrt(1 - rho^2) * noise, rho = +0.7 normally and -0.7 on flipped days. The
# multiset of years values is unchanged (a permutation), so PSI, KS and chi2 of each feature see nothing; only
# the joint distribution, and so the multivariate check, changes.

COUPLED = ("age", "employment_years")
RHO = 0.7


def multivariate_rng(seed: int) -> np.random.Generator:
    """The coupling's own random stream (the demo's other streams are untouched by it)."""
    return np.random.default_rng([seed, 2])


def couple_features(frame: dict[str, np.ndarray], flipped: bool, rng: np.random.Generator) -> None:
    """Re-pair ``employment_years`` with ``age`` in place: rank correlation about +0.7, or −0.7 when flipped."""
    age, years = frame[COUPLED[0]], frame[COUPLED[1]]
    n = age.size
    # Ties in age (whole years) are broken at random, so the normal scores are distinct.
    age_rank = np.lexsort((rng.random(n), age)).argsort()
    score = ndtri((age_rank + 0.5) / n)
    rho = -RHO if flipped else RHO
    latent = rho * score + np.sqrt(1.0 - rho * rho) * rng.standard_normal(n)
    frame[COUPLED[1]] = np.sort(years)[latent.argsort().argsort()]
