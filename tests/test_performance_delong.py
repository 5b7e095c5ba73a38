"""DeLong's AUC variance, the F1 delta method and the reference spread, against independent oracles.

Oracles: a literal O(n·m) twin of DeLong et al. (1988) in exact fractions, scikit-learn's roc_auc_score for the
AUC the structural components average to, the stratified bootstrap's spread for the standard errors, and a
literal DerSimonian–Laird twin.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from driftwatch.performance.metrics import BINARY, REGRESSION, compute_metrics
from driftwatch.performance.spread import MIN_CHUNK_ROWS, dersimonian_laird, reference_spread
from driftwatch.performance.uncertainty import delong_variance, metric_intervals, ratio_stderr


def naive_delong(positives: list[float], negatives: list[float]) -> tuple[Fraction, Fraction]:
    """(AUC, Var) straight from DeLong, DeLong & Clarke-Pearson (1988), eqs. (2)–(5), in exact arithmetic."""

    def psi(x: float, y: float) -> Fraction:
        return Fraction(1) if x > y else Fraction(1, 2) if x == y else Fraction(0)

    m, n = len(positives), len(negatives)
    v10 = [sum((psi(x, y) for y in negatives), Fraction(0)) / n for x in positives]
    v01 = [sum((psi(x, y) for x in positives), Fraction(0)) / m for y in negatives]
    auc = sum(v10, Fraction(0)) / m
    s10 = sum(((v - auc) ** 2 for v in v10), Fraction(0)) / (m - 1)
    s01 = sum(((v - auc) ** 2 for v in v01), Fraction(0)) / (n - 1)
    return auc, s10 / m + s01 / n


def draw(rng: np.random.Generator, n: int, *, decimals: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    y = rng.random(n) < 0.35
    score = rng.normal(np.where(y, 1.2, 0.0), 1.0)
    if decimals is not None:
        score = np.round(score, decimals)  # heavy ties
    return y, score


@pytest.mark.parametrize(
    ("seed", "n", "decimals"),
    [(0, 60, None), (1, 200, None), (2, 200, 0), (3, 150, 1), (4, 9, None), (5, 40, 0)],
)
def test_delong_matches_the_naive_twin_with_and_without_ties(seed: int, n: int, decimals: int | None) -> None:
    rng = np.random.default_rng(seed)
    y, score = draw(rng, n, decimals=decimals)
    if y.sum() < 2 or (~y).sum() < 2:
        y[:2], y[-2:] = True, False
    auc, variance = naive_delong(score[y].tolist(), score[~y].tolist())
    assert delong_variance(y, score) == pytest.approx(float(variance), rel=1e-12, abs=1e-15)
    # The structural components average to the Mann–Whitney AUC, which is scikit-learn's.
    assert float(auc) == pytest.approx(roc_auc_score(y, score), rel=1e-12)
    assert compute_metrics(BINARY, y.astype(int), score)["roc_auc"] == pytest.approx(float(auc), rel=1e-12)


def test_tiny_windows_and_one_class() -> None:
    # two of each: the smallest window with a defined variance. By hand: V10 = (1, ¾), V01 = (¾, 1), AUC ⅞,
    # S10 = S01 = 2·(⅛)² = 1/32, Var = S10/2 + S01/2 = 1/32
    y = np.array([True, True, False, False])
    score = np.array([0.9, 0.5, 0.5, 0.1])
    auc, variance = naive_delong([0.9, 0.5], [0.5, 0.1])
    assert auc == Fraction(7, 8) and delong_variance(y, score) == pytest.approx(float(variance))
    assert variance == Fraction(1, 32)
    # one positive, or one class only: no sample variance, so NaN (the verdict then says "unknown")
    assert math.isnan(delong_variance(np.array([True, False, False]), np.array([0.9, 0.5, 0.1])))
    assert math.isnan(delong_variance(np.zeros(10, dtype=bool), np.linspace(0, 1, 10)))
    assert math.isnan(delong_variance(np.ones(10, dtype=bool), np.linspace(0, 1, 10)))
    # all scores tied: AUC ½ and every component ½, so the variance is exactly 0
    assert delong_variance(np.array([True, True, False, False]), np.full(4, 0.3)) == 0.0
    # perfect separation: variance 0 (AUC 1 has no sampling spread under DeLong)
    assert delong_variance(np.array([True, True, False, False]), np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    # metric_intervals passes it through: the interval of a one-class window is undefined
    out = metric_intervals(BINARY, np.array([1, 0, 0]), np.array([0.9, 0.5, 0.1]), n_boot=0)
    assert math.isnan(out["roc_auc"].stderr)


@pytest.mark.parametrize(("auc_shift", "n"), [(1.2, 600), (2.66, 1000)])
def test_delong_and_f1_standard_errors_agree_with_the_bootstrap(auc_shift: float, n: int) -> None:
    """The stratified bootstrap's sd (2,000 resamples) and the analytic stderr agree within 12 %.

    The bootstrap sd itself has a relative error of about 1/sqrt(2·2000) ≈ 1.6 %, and the two estimate the
    same quantity to first order, so 12 % is loose enough for the small-sample difference, tight enough to
    catch a missing factor (e.g. √2 or n vs n − 1 in the wrong place would be ≥ 40 % or a sign error)."""
    rng = np.random.default_rng(7)
    y = rng.random(n) < 0.3
    score = 1.0 / (1.0 + np.exp(-rng.normal(np.where(y, auc_shift, 0.0), 1.0) + auc_shift / 2))
    analytic = metric_intervals(BINARY, y.astype(int), score, n_boot=0)
    boot = metric_intervals(BINARY, y.astype(int), score, n_boot=2000, seed=1)
    for metric in ("roc_auc", "f1"):
        low, high = boot[metric].low, boot[metric].high
        boot_sd = (high - low) / (2 * 1.959963984540054)
        assert analytic[metric].stderr == pytest.approx(boot_sd, rel=0.12), metric


def test_ratio_stderr_literal() -> None:
    u = np.array([2.0, 0.0, 2.0, 0.0, 0.0, 2.0])
    v = np.array([2.0, 1.0, 2.0, 0.0, 1.0, 2.0])
    r = u.mean() / v.mean()
    d = u - r * v
    expected = math.sqrt(sum((x - d.mean()) ** 2 for x in d) / (len(d) - 1) / len(d)) / v.mean()
    assert ratio_stderr(u, v) == pytest.approx(expected, rel=1e-12)
    assert math.isnan(ratio_stderr(np.zeros(5), np.zeros(5)))
    assert math.isnan(ratio_stderr(np.ones(1), np.ones(1)))
    # F1 = 2TP / (2TP + FP + FN) is the ratio of the row means of u = 2·1[TP] and v = 2·1[TP] + 1[FP] + 1[FN]
    y = np.array([1, 0, 1, 0, 1, 1, 0, 0])
    score = np.array([0.9, 0.8, 0.2, 0.1, 0.7, 0.6, 0.4, 0.55])
    tp = np.array([1, 0, 0, 0, 1, 1, 0, 0], dtype=float)
    fp_or_fn = np.array([0, 1, 1, 0, 0, 0, 0, 1], dtype=float)
    assert metric_intervals(BINARY, y, score, n_boot=0)["f1"].stderr == pytest.approx(
        ratio_stderr(2 * tp, 2 * tp + fp_or_fn), rel=1e-12
    )


def naive_dersimonian_laird(values: list[float], variances: list[float]) -> float:
    w = [1 / v for v in variances]
    mean = sum(wi * a for wi, a in zip(w, values, strict=True)) / sum(w)
    q = sum(wi * (a - mean) ** 2 for wi, a in zip(w, values, strict=True))
    c = sum(w) - sum(wi * wi for wi in w) / sum(w)
    return max(0.0, (q - (len(values) - 1)) / c)


def test_dersimonian_laird_matches_the_literal_formula() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(0.9, 0.02, 15)
    variances = rng.uniform(1e-5, 4e-4, 15)
    assert dersimonian_laird(values, variances) == pytest.approx(
        naive_dersimonian_laird(values.tolist(), variances.tolist()), rel=1e-12
    )
    assert dersimonian_laird(np.full(5, 0.9), np.full(5, 1e-4)) == 0.0
    assert math.isnan(dersimonian_laird(np.array([0.9]), np.array([1e-4])))


def binormal_reference(
    rng: np.random.Generator, pieces: list[float], rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive pieces of ``rows`` rows, piece i with binormal separation pieces[i], prevalence 0.3."""
    ys, scores = [], []
    for shift in pieces:
        y = rng.random(rows) < 0.3
        ys.append(y.astype(int))
        scores.append(1.0 / (1.0 + np.exp(-rng.normal(np.where(y, shift, 0.0), 1.0))))
    return np.concatenate(ys), np.concatenate(scores)


def test_reference_spread_is_small_without_heterogeneity_and_finds_it_when_present() -> None:
    rng = np.random.default_rng(11)
    metrics = ("roc_auc", "accuracy", "log_loss")
    flat = [reference_spread(BINARY, *binormal_reference(rng, [2.0] * 20, 1500), metrics) for _ in range(10)]
    # τ² is a truncated moment estimate: 0 about half the time, small otherwise (vs a piece variance ~1e-4)
    auc_tau2 = [s.tau2["roc_auc"] for s in flat]
    assert sum(t == 0.0 for t in auc_tau2) >= 3 and np.mean(auc_tau2) < 3e-5
    # pieces alternate between two separations: population AUC Φ(1.8/√2) = 0.8985 and Φ(2.2/√2) = 0.9401,
    # half and half, so the between-piece sd is half their difference, 0.0208
    y, score = binormal_reference(rng, [1.8, 2.2] * 10, 1500)
    spread = reference_spread(BINARY, y, score, metrics)
    assert spread.note == ""
    assert math.sqrt(spread.tau2["roc_auc"]) == pytest.approx(0.0208, rel=0.35)
    assert spread.tau2["roc_auc"] > 3 * np.mean(auc_tau2)


def test_reference_spread_refuses_sorted_or_small_references() -> None:
    rng = np.random.default_rng(5)
    y, score = binormal_reference(rng, [2.0] * 20, 1000)
    by_class = np.argsort(y, kind="stable")
    assert "sorted by class" in reference_spread(BINARY, y[by_class], score[by_class], ("roc_auc",)).note
    by_score = np.argsort(score, kind="stable")
    note = reference_spread(BINARY, y[by_score], score[by_score], ("roc_auc",)).note
    assert "sorted" in note  # by class too, since the score predicts the class; either guard may fire
    small = reference_spread(
        BINARY, y[: 20 * MIN_CHUNK_ROWS - 1], score[: 20 * MIN_CHUNK_ROWS - 1], ("roc_auc",)
    )
    assert small.tau2 == {} and "fewer than" in small.note
    # regression sorted by the target: the prediction follows it, so the score guard catches it
    truth = np.sort(rng.normal(0, 1, 5000))
    note = reference_spread(REGRESSION, truth, truth + rng.normal(0, 0.3, 5000), ("mae",)).note
    assert "sorted by the score" in note
