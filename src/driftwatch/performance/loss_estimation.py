"""Direct Loss Estimation (DLE): a regression model's MAE and RMSE per window without labels.

NannyML's DLE (docs.nannyml.com, "Direct Loss Estimation") fits a second model, the *loss model*, on the
reference to predict each row's loss from what is known without the label: the features and the model's own
prediction. Per window the estimated metric is the mean of the predicted losses.

- **Loss models** (on the reference): m₁(x, ŷ) ≈ E[|e| | x, ŷ] and m₂(x, ŷ) ≈ E[e² | x, ŷ], e = ŷ − y, each a
  scikit-learn ``HistGradientBoostingRegressor`` (missing values handled natively; early stopping on an inner
  validation split). They are fit on a seeded 75 % of the reference rows; the other 25 % measure the kurtosis
  the interval needs (below), so that number is not an in-sample one.
- **Estimates** (per window, no labels): MAE = mean(m₁), MSE = mean(m₂), RMSE = √MSE (predictions clipped at 0).
- **Interval**: the realized metric, once labels arrive, differs from the estimate by the labels' noise given the
  rows: Var(mean |e|) = Σ Var(|e_i| | x_i) / n² with Var(|e| | x) = m₂ − m₁² (clipped at 0), and
  Var(mean e²) = Σ Var(e_i² | x_i) / n² with Var(e² | x) = (κ − 1) m₂², κ = E[e⁴] / E[e²]² taken as constant
  across rows and measured on the held-out reference rows as Σ e⁴ / Σ m₂² (3 for normal errors). MAE's interval
  is MAE ± z·se; RMSE's is √(MSE ± z·se(MSE)) (low clipped at 0), which keeps RMSE's skew. The loss models' own
  error is in it twice over: the variance adds the spread of the window mean across ``DEFAULT_MEMBERS``
  bootstrap members (each pair fit on a resample of the fit rows), and the standard errors are widened by
  ``LossModel.widen``, the root mean square z-score of held-out chunks' estimates against their realized values
  (at least 1). docs/decision-evidence.md measures the coverage this gives.

Assumptions: the error's distribution given (x, ŷ) is the reference's (covariate shift only: a concept drift
that changes y given x is invisible, as for CBPE); the features the loss model reads are those the error depends
on. Categorical features must be encoded as numbers by the caller (``encode_categories``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtri
from threadpoolctl import threadpool_limits

from driftwatch.performance.uncertainty import DEFAULT_CONFIDENCE, Interval

REGRESSION_ESTIMATED: tuple[str, ...] = ("mae", "rmse")
HELD_OUT_SHARE = 0.25
MIN_REFERENCE_ROWS = 200  # below this the loss models and κ are guesses
HELD_OUT_CHUNKS = 10
DEFAULT_MEMBERS = 5  # bootstrap members: their spread is the loss models' own error in the interval


@dataclass(frozen=True, eq=False)
class LossModel:
    """The fitted loss models (one pair per bootstrap member) and the held-out kurtosis κ (module docstring)."""

    abs_models: tuple[Any, ...]  # HistGradientBoostingRegressor each (scikit-learn has no type stubs)
    squared_models: tuple[Any, ...]
    kurtosis: float
    widen: float  # ≥ 1: how much the held-out reference says the stated variance is short
    n_features: int
    n_reference: int

    def member_losses(
        self, features: ArrayLike, prediction: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(m₁, m₂) of every member, shape (members, n), ≥ 0; rows with a missing prediction are dropped."""
        x = design_matrix(features, prediction, self.n_features)
        x = x[np.isfinite(x[:, -1])]
        if x.shape[0] == 0:
            empty = np.zeros((len(self.abs_models), 0))
            return empty, empty
        with threadpool_limits(limits=1, user_api="openmp"):  # see fit_loss_model
            m1 = np.array([np.asarray(m.predict(x), dtype=np.float64) for m in self.abs_models])
            m2 = np.array([np.asarray(m.predict(x), dtype=np.float64) for m in self.squared_models])
        return np.maximum(m1, 0.0), np.maximum(m2, 0.0)


def design_matrix(
    features: ArrayLike, prediction: ArrayLike, n_features: int | None = None
) -> NDArray[np.float64]:
    """The loss model's input: the (n, d) features with the prediction as the last column."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    pred = np.asarray(prediction, dtype=np.float64)
    if x.ndim != 2 or pred.ndim != 1 or x.shape[0] != pred.shape[0]:
        raise ValueError(f"features (n, d) and prediction (n,) must align, got {x.shape} and {pred.shape}")
    if n_features is not None and x.shape[1] != n_features:
        raise ValueError(f"the loss model was fit on {n_features} feature(s), got {x.shape[1]}")
    if np.isinf(x).any() or np.isinf(pred).any():
        raise ValueError("features and predictions must not contain ±inf")
    return np.column_stack([x, pred])


def encode_categories(values: Sequence[Any], categories: Sequence[Any]) -> NDArray[np.float64]:
    """A categorical column as numbers: the index of each value in the reference's ``categories``; NaN for a
    value the reference never had (the gradient-boosting trees send it down their missing-value branch)."""
    index = {v: float(i) for i, v in enumerate(categories)}
    return np.array([index.get(v, np.nan) for v in values], dtype=np.float64)


def _regressor(seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        max_iter=150, learning_rate=0.1, early_stopping=True, validation_fraction=0.15, random_state=seed
    )


def fit_loss_model(
    features: ArrayLike,
    prediction: ArrayLike,
    truth: ArrayLike,
    *,
    seed: int = 0,
    members: int = DEFAULT_MEMBERS,
) -> LossModel:
    """Fit m₁ and m₂ on the reference (rows with a missing prediction or target dropped) and measure κ."""
    x = design_matrix(features, prediction)
    y = np.asarray(truth, dtype=np.float64)
    if y.shape != (x.shape[0],):
        raise ValueError(f"truth must be (n,) with n = {x.shape[0]}, got {y.shape}")
    keep = np.isfinite(x[:, -1]) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.shape[0] < MIN_REFERENCE_ROWS:
        raise ValueError(
            f"the reference has {x.shape[0]} usable row(s); a loss model needs at least {MIN_REFERENCE_ROWS}"
        )
    error = x[:, -1] - y
    rng = np.random.default_rng(seed)
    held_out = rng.random(x.shape[0]) < HELD_OUT_SHARE
    fit_rows = np.flatnonzero(~held_out)
    abs_models, squared_models = [], []
    for member in range(members):
        rows = rng.choice(fit_rows, fit_rows.size) if members > 1 else fit_rows  # a bootstrap resample
        # One OpenMP thread: the fits are small, and on a busy shared worker (the pipeline runs beside other
        # monitors' cycles) OpenMP's threads spin-wait for each other: 10x slower measured on 2 loaded cores.
        with threadpool_limits(limits=1, user_api="openmp"):
            abs_models.append(_regressor(seed + 2 * member).fit(x[rows], np.abs(error[rows])))
            squared_models.append(_regressor(seed + 2 * member + 1).fit(x[rows], error[rows] ** 2))
    model = LossModel(tuple(abs_models), tuple(squared_models), 3.0, 1.0, x.shape[1] - 1, int(x.shape[0]))
    return _checked_on_held_out(model, x[held_out], error[held_out], rng)


def _checked_on_held_out(
    model: LossModel, x: NDArray[np.float64], error: NDArray[np.float64], rng: np.random.Generator
) -> LossModel:
    """κ and the interval's widening factor, measured on reference rows no member was fit on.

    κ = Σ e⁴ / Σ m₂² (≥ 1; 3, normal errors, when undefined). The widening factor: the held-out rows are cut
    into ``HELD_OUT_CHUNKS`` random chunks, each chunk's MAE and MSE estimate is compared with its realized
    value in units of its own standard error, and the root mean square of those z-scores (at least 1) widens
    every later interval: what the stated variance misses on the reference (the loss models' bias, a wrong κ)
    it misses in the window too, under covariate shift at least as much.
    """
    m1s, m2s = model.member_losses(x[:, :-1], x[:, -1])
    m2 = m2s.mean(axis=0)
    denominator = float(np.sum(m2**2))
    kurtosis = max(float(np.sum(error**4)) / denominator, 1.0) if denominator > 0 else 3.0
    model = dataclasses.replace(model, kurtosis=kurtosis)
    z: list[float] = []
    for chunk in np.array_split(rng.permutation(error.size), HELD_OUT_CHUNKS):
        if chunk.size < 2:
            continue
        mae, mse = _moments(model, m1s[:, chunk], m2s[:, chunk])
        for (estimate, variance), realized in (
            (mae, np.abs(error[chunk]).mean()),
            (mse, (error[chunk] ** 2).mean()),
        ):
            if variance > 0:
                z.append((realized - estimate) / np.sqrt(variance))
    widen = max(float(np.sqrt(np.mean(np.square(z)))), 1.0) if z else 1.0
    return dataclasses.replace(model, widen=widen)


def _moments(
    model: LossModel, members_m1: NDArray[np.float64], members_m2: NDArray[np.float64]
) -> tuple[tuple[float, float], tuple[float, float]]:
    """((MAE, its variance), (MSE, its variance)) of a set of rows, before widening (module docstring)."""
    n = members_m1.shape[1]
    m1, m2 = members_m1.mean(axis=0), members_m2.mean(axis=0)
    # Labels' noise given the rows, plus the members' spread of the window mean (the loss models' own error).
    mae_var = float(np.maximum(m2 - m1**2, 0.0).sum()) / n**2 + _member_variance(members_m1)
    mse_var = (model.kurtosis - 1.0) * float(np.sum(m2**2)) / n**2 + _member_variance(members_m2)
    return (float(m1.mean()), mae_var), (float(m2.mean()), mse_var)


def estimate_losses(
    model: LossModel, features: ArrayLike, prediction: ArrayLike, *, confidence: float = DEFAULT_CONFIDENCE
) -> dict[str, tuple[float, Interval]]:
    """metric → (estimate, Interval(low, high, stderr)) for MAE and RMSE of one window (NaN when empty)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    members_m1, members_m2 = model.member_losses(features, prediction)
    n = members_m1.shape[1]
    nan = float("nan")
    if n == 0:
        return {m: (nan, Interval(nan, nan, nan)) for m in REGRESSION_ESTIMATED}
    z = float(ndtri(0.5 + confidence / 2.0))
    (mae, mae_var), (mse, mse_var) = _moments(model, members_m1, members_m2)
    mae_se, mse_se = model.widen * float(np.sqrt(mae_var)), model.widen * float(np.sqrt(mse_var))
    rmse = float(np.sqrt(mse))
    rmse_se = mse_se / (2.0 * rmse) if rmse > 0 else nan
    return {
        "mae": (mae, Interval(max(mae - z * mae_se, 0.0), mae + z * mae_se, mae_se)),
        "rmse": (
            rmse,
            Interval(float(np.sqrt(max(mse - z * mse_se, 0.0))), float(np.sqrt(mse + z * mse_se)), rmse_se),
        ),
    }


def _member_variance(per_member: NDArray[np.float64]) -> float:
    """Variance of the window mean across bootstrap members (0 with one member)."""
    if per_member.shape[0] < 2:
        return 0.0
    return float(np.var(per_member.mean(axis=1), ddof=1))
