"""stats.multivariate against independent oracles: a row-by-row twin (tests/naive.py) and scikit-learn's PCA."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score

from _multivariate_data import rows as make_rows
from driftwatch.pipeline.multivariate import mann_whitney_auc
from driftwatch.stats import multivariate as mv
from naive import naive_encode_row, naive_reconstruction_error


def _messy_rows(n: int, seed: int) -> mv.Rows:
    rng = np.random.default_rng(seed)
    base = make_rows(n, 0.8, rng)
    x = base.numeric["x"].copy()
    x[rng.random(n) < 0.1] = np.nan
    x[3] = np.inf
    region = list(base.categorical["region"])
    for i in range(0, n, 17):
        region[i] = None
    return mv.Rows({**base.numeric, "x": x}, {"region": region})


def test_encoding_matches_the_row_by_row_twin() -> None:
    reference = _messy_rows(2_000, 1)
    encoding = mv.fit_encoding(reference, top_categories=3)
    # The 4th region ("west", the rarest) goes to "other"; missing and inf impute the median.
    assert dict(encoding.categorical)["region"] == ("north", "south", "east")
    window = _messy_rows(300, 2)
    window.categorical["region"][5] = "unseen-city"  # type: ignore[index]
    got = mv.encode(encoding, window)
    medians = dict(zip(encoding.numeric, encoding.medians, strict=True))
    kept = {name: list(k) for name, k in encoding.categorical}
    for i in range(len(window)):
        raw = naive_encode_row(
            {n: float(window.numeric[n][i]) for n in encoding.numeric},
            {n: window.categorical[n][i] for n, _ in encoding.categorical},
            medians,
            kept,
        )
        expected = (np.array(raw) - encoding.center) / encoding.scale
        np.testing.assert_allclose(got[i], expected, rtol=1e-12, atol=1e-12)
    assert got.shape[1] == len(encoding.columns) == 4 * 2 + 3 + 2
    # The median is the reference's, over its finite values.
    finite = reference.numeric["x"][np.isfinite(reference.numeric["x"])]
    assert medians["x"] == pytest.approx(float(np.median(finite)))


def test_principal_axes_and_errors_match_sklearn_pca() -> None:
    rng = np.random.default_rng(3)
    matrix = mv.encode(mv.fit_encoding(make_rows(3_000, 0.8, rng)), make_rows(3_000, 0.8, rng))
    matrix = matrix[:, matrix.std(axis=0) > 0]
    for share in (0.5, 0.8, 0.9, 0.97):
        axes, explained = mv.principal_axes(matrix, share)
        pca = PCA(n_components=share, svd_solver="full").fit(matrix)
        assert axes.shape == pca.components_.shape
        assert explained == pytest.approx(float(pca.explained_variance_ratio_.sum()), rel=1e-10)
        for ours, theirs in zip(axes, pca.components_, strict=True):
            assert abs(float(ours @ theirs)) == pytest.approx(1.0, abs=1e-8)  # same axis up to sign
        # sklearn reconstructs around the fit mean; ours is centred by the reference encoding already.
        centred = matrix - matrix.mean(axis=0)
        expected = np.linalg.norm(
            centred - (pca.inverse_transform(pca.transform(matrix)) - matrix.mean(axis=0)), axis=1
        )
        np.testing.assert_allclose(mv.reconstruction_errors(axes, centred), expected, rtol=1e-8, atol=1e-10)


def test_reconstruction_error_matches_the_loop_twin() -> None:
    rng = np.random.default_rng(4)
    profile = mv.fit_profile(make_rows(2_000, 0.8, rng))
    window = mv.encode(profile.encoding, make_rows(50, -0.8, rng))
    components = profile.components.tolist()
    got = mv.reconstruction_errors(profile.components, window)
    for i in range(window.shape[0]):
        assert got[i] == pytest.approx(naive_reconstruction_error(window[i].tolist(), components), rel=1e-10)


def test_profile_survives_its_storage_form() -> None:
    rng = np.random.default_rng(5)
    profile = mv.fit_profile(_messy_rows(1_500, 5))
    again = mv.profile_from_dict(json.loads(json.dumps(mv.profile_to_dict(profile))))
    window = mv.encode(profile.encoding, make_rows(400, -0.8, rng))
    assert (
        mv.encode(again.encoding, make_rows(10, 0.8, np.random.default_rng(1))).tolist()
        == mv.encode(profile.encoding, make_rows(10, 0.8, np.random.default_rng(1))).tolist()
    )
    assert again.fingerprint == profile.fingerprint
    assert mv.reconstruction_result(again, window, 100) == mv.reconstruction_result(profile, window, 100)


def test_bars_are_quantiles_of_held_out_window_means_widened_for_sampling_without_replacement() -> None:
    profile = mv.fit_profile(make_rows(4_000, 0.8, np.random.default_rng(6)))
    errors = profile.reference_errors
    assert errors.size == 2_000 and profile.fit_rows == 2_000
    warn, drift = mv.reconstruction_bars(profile, 1_000)
    assert warn.window_size == drift.window_size == 1_000  # capped at half the held-out rows
    assert warn.quantile == 0.99 and drift.quantile == 0.999
    centre = float(errors.mean())
    # A new window's mean minus the held-out mean varies like σ²(1/1000 + 1/2000) (the subsample means of 1,000
    # of 2,000 values vary a third of that): checked against the normal approximation.
    sd = float(errors.std(ddof=1)) * math.sqrt(1 / 1_000 + 1 / 2_000)
    assert warn.value - centre == pytest.approx(2.326 * sd, rel=0.15)
    assert drift.value - centre == pytest.approx(3.090 * sd, rel=0.2)
    assert centre < warn.value < drift.value


def test_statuses_and_reasons() -> None:
    rng = np.random.default_rng(7)
    profile = mv.fit_profile(make_rows(20_000, 0.8, rng))
    ok = mv.reconstruction_result(profile, mv.encode(profile.encoding, make_rows(1_000, 0.8, rng)), 100)
    flipped = mv.reconstruction_result(profile, mv.encode(profile.encoding, make_rows(1_000, -0.8, rng)), 100)
    few = mv.reconstruction_result(profile, mv.encode(profile.encoding, make_rows(99, -0.8, rng)), 100)
    assert ok.status == "ok" and "<= warn bar" in ok.reason
    assert flipped.status == "drift" and flipped.value is not None and flipped.drift_bar is not None
    assert flipped.value > flipped.drift_bar and "> drift bar" in flipped.reason
    assert few.status == "insufficient_data" and few.reason == "99 rows < min_rows 100: not judged"
    assert mv.judge_classifier(0.8, 0.75, 0.85, 0.02, 1_000).status == "drift"
    assert mv.judge_classifier(0.53, 0.51, 0.55, 0.02, 1_000).status == "warn"
    assert mv.judge_classifier(0.53, 0.49, 0.57, 0.02, 1_000).status == "ok"
    assert mv.overall_status([ok, flipped]) == "drift"
    assert mv.overall_status([few]) == "insufficient_data"
    assert mv.overall_status([few, ok]) == "ok"


def test_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(8)
    labels = rng.random(500) < 0.3
    scores = np.asarray(np.round(rng.random(500) + 0.3 * labels, 1), dtype=np.float64)  # many ties
    assert mann_whitney_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), rel=1e-12)


def test_encode_refuses_rows_without_a_profiled_feature() -> None:
    profile = mv.fit_profile(make_rows(200, 0.8, np.random.default_rng(9)))
    with pytest.raises(ValueError, match="lack the profiled feature"):
        mv.encode(profile.encoding, mv.Rows({"x": np.zeros(3)}, {}))


def test_classifier_needs_a_row_per_fold_on_each_side() -> None:
    from driftwatch.config.multivariate import MultivariateSettings
    from driftwatch.pipeline.multivariate import domain_classifier

    profile = mv.fit_profile(make_rows(300, 0.8, np.random.default_rng(10)))
    window = mv.encode(profile.encoding, make_rows(4, 0.8, np.random.default_rng(11)))
    result = domain_classifier(profile, window, MultivariateSettings(enabled=True, min_rows=1), 1)
    assert result.status == "insufficient_data" and "5 cross-validation folds" in result.reason
    judged = domain_classifier(
        profile,
        mv.encode(profile.encoding, make_rows(60, 0.8, np.random.default_rng(12))),
        MultivariateSettings(enabled=True),
        50,
    )
    assert judged.status in ("ok", "warn") and judged.low is not None and judged.low <= 0.5 + 0.02


@pytest.mark.slow  # 2,000 bar samples of ~120,000 of 240,000 errors: ~30 s of CPU
def test_bars_are_learned_for_windows_over_100_000_rows_from_every_held_out_error() -> None:
    """More than 200,000 held-out errors (a large `reference_rows`): learn_threshold used to cut them to 200,000
    and then refuse the windows over 100,000 rows that max_window_rows allows, so every cycle failed. The bars
    now use every error, and the without-replacement correction the same N and mean."""
    import dataclasses

    small = mv.fit_profile(make_rows(4_000, 0.8, np.random.default_rng(6)))
    errors = np.random.default_rng(8).gamma(2.0, 1.0, 240_000)
    profile = dataclasses.replace(small, reference_errors=errors)
    assert mv.max_window_rows(profile) == 120_000
    warn, drift = mv.reconstruction_bars(profile, 150_000)
    n = warn.window_size
    assert 100_000 < n <= 120_000
    centre = float(errors.mean())
    sd = float(errors.std(ddof=1)) * math.sqrt(1 / n + 1 / errors.size)
    assert warn.value - centre == pytest.approx(2.326 * sd, rel=0.2)
    assert centre < warn.value < drift.value
