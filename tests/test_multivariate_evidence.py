"""Evidence for the multivariate methods (docs/decision-evidence.md, "Multivariate drift").

A correlation flip (x, y: corr +0.8 → −0.8; every marginal unchanged) in 1,000-row windows must be caught in
≥ 90 % of windows while the per-feature decision (the real one: `stats.feature_drift` + `stats.judgement`)
stays quiet; windows without drift must be flagged in ≤ 5 %.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest

from _multivariate_data import rows as make_rows
from driftwatch.config.multivariate import MultivariateSettings
from driftwatch.pipeline.multivariate import domain_classifier
from driftwatch.stats import multivariate as mv
from driftwatch.stats.decision import Thresholds
from driftwatch.stats.feature_drift import categorical_feature_stats, numeric_feature_stats
from driftwatch.stats.judgement import judge_window, reference_counts
from driftwatch.stats.profile import ReferenceProfile, categorical_profile, numeric_profile

WINDOW = 1_000
SETTINGS = MultivariateSettings(enabled=True)


def _univariate_profile(reference: mv.Rows) -> ReferenceProfile:
    features: dict[str, object] = {n: numeric_profile(n, v) for n, v in reference.numeric.items()}
    for name, values in reference.categorical.items():
        features[name] = categorical_profile(name, dict(Counter(values)))
    return ReferenceProfile("evidence", len(reference), features)  # type: ignore[arg-type]


def _univariate_status(profile: ReferenceProfile, window: mv.Rows) -> str:
    stats = [numeric_feature_stats(profile.features[n], v) for n, v in window.numeric.items()]  # type: ignore[arg-type]
    stats += [
        categorical_feature_stats(profile.features[n], dict(Counter(v)))  # type: ignore[arg-type]
        for n, v in window.categorical.items()
    ]
    decision = judge_window(stats, reference_counts(profile), Thresholds())
    return "drift" if decision.n_drift else "warn" if decision.n_warn else "ok"


def _rates(
    judge: Callable[[np.ndarray], mv.MethodResult], windows: list[mv.Rows], profile: mv.MultivariateProfile
) -> Counter[str]:
    return Counter(judge(mv.encode(profile.encoding, w)).status for w in windows)


@pytest.mark.slow
def test_correlation_flip_caught_with_quiet_marginals_and_few_false_alarms() -> None:
    rng = np.random.default_rng(2026)
    reference = make_rows(20_000, 0.8, rng)
    profile = mv.fit_profile(reference)
    univariate = _univariate_profile(reference)
    flipped = [make_rows(WINDOW, -0.8, rng) for _ in range(200)]
    steady = [make_rows(WINDOW, 0.8, rng) for _ in range(200)]

    # (a) reconstruction error: 200 windows each.
    def reconstruction(m: np.ndarray) -> mv.MethodResult:
        return mv.reconstruction_result(profile, m, 100)

    caught = _rates(reconstruction, flipped, profile)
    quiet = _rates(reconstruction, steady, profile)
    assert caught["drift"] / 200 >= 0.90, caught
    assert (quiet["drift"] + quiet["warn"]) / 200 <= 0.05, quiet

    # (b) domain classifier (about 0.3 s a window): 30 windows each.
    def classifier(m: np.ndarray) -> mv.MethodResult:
        return domain_classifier(profile, m, SETTINGS, 100)

    caught_c = _rates(classifier, flipped[:30], profile)
    quiet_c = _rates(classifier, steady[:30], profile)
    assert caught_c["drift"] / 30 >= 0.90, caught_c
    assert quiet_c["drift"] / 30 <= 0.05 and (quiet_c["drift"] + quiet_c["warn"]) / 30 <= 0.10, quiet_c

    # The real per-feature decision on the flipped windows: no feature drifts.
    univariate_flipped = Counter(_univariate_status(univariate, w) for w in flipped)
    assert univariate_flipped["drift"] / 200 <= 0.05, univariate_flipped
    print(
        f"\nreconstruction flipped {dict(caught)} steady {dict(quiet)}; classifier flipped {dict(caught_c)}"
        f" steady {dict(quiet_c)}; per-feature decision on flipped windows {dict(univariate_flipped)}"
    )
