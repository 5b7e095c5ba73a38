"""Version comparison (baseline vs candidate): the statistics against independent oracles, the config's errors,
and the whole cycle on a real DuckDB file (canary: disjoint request ids)."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon
from sklearn.metrics import roc_auc_score

from _versions_sim import START, write_project
from driftwatch.config.loading import load_settings
from driftwatch.config.versions import VersionSettings
from driftwatch.errors import ConfigError
from driftwatch.performance.versions import LabelledRows, TaskSpec, compare_metric, judge_family
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.versions import logged_versions
from driftwatch.stats.versions import FlipTest, category_counts, output_drift, shadow_comparison
from driftwatch.storage.database import Database
from driftwatch.storage.versions import comparison_details, comparisons
from test_performance_delong import naive_delong

# --- statistics against oracles ---------------------------------------------------------------------------------


def test_output_drift_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    b, c = rng.normal(0, 1, 700), rng.normal(0.2, 1.1, 300)
    bd = np.array(["yes" if v > 0 else "no" for v in b], dtype=object)
    cd = np.array(["yes" if v > 0.5 else ("no" if v > -1 else None) for v in c], dtype=object)
    drift = output_drift(b, c, bd, cd)
    ks = sps.ks_2samp(b, c)
    assert drift.score_ks == pytest.approx(ks.statistic, abs=1e-12)
    assert drift.score_ks_pvalue == pytest.approx(ks.pvalue, rel=1e-6)
    labels, bc, cc = category_counts(bd, cd)
    assert labels == ["", "no", "yes"] and bc.sum() == 700 and cc.sum() == 300
    table = np.stack([bc, cc])
    table = table[:, table.sum(axis=0) > 0]
    assert drift.decision_chi2_pvalue == pytest.approx(sps.chi2_contingency(table, correction=False).pvalue)
    assert drift.decision_js == pytest.approx(jensenshannon(bc / bc.sum(), cc / cc.sum(), base=2))
    assert drift.score_psi > 0.01


def test_shadow_agreement_wilson_and_score_difference() -> None:
    rng = np.random.default_rng(1)
    n = 1000
    b = rng.random(n)
    c = np.clip(b + rng.normal(0, 0.1, n), 0, 1)
    bd = np.where(b >= 0.5, "1", "0").astype(object)
    cd = np.where(c >= 0.5, "1", "0").astype(object)
    region = rng.choice(np.array(["a", "b"], dtype=object), n)
    result = shadow_comparison(b, c, bd, cd, {"region": region})
    agree = int((bd == cd).sum())
    assert result.pairs == result.decided_pairs == n
    assert result.agreement == agree / n and result.flip_share == pytest.approx(1 - agree / n)
    ci = sps.binomtest(agree, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert (result.agreement_low, result.agreement_high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    diff = c - b
    assert result.score_diff_mean == pytest.approx(diff.mean())
    assert result.score_diff_quantiles == pytest.approx(
        tuple(np.quantile(diff, [0.05, 0.25, 0.5, 0.75, 0.95]))
    )
    # Each segment value against the rest: the 2x2 chi-squared test (z² = X²).
    flipped = bd != cd
    for seg in result.segments:
        mask = region == seg.segment.split("=")[1]
        table = [
            [flipped[mask].sum(), (~flipped[mask]).sum()],
            [flipped[~mask].sum(), (~flipped[~mask]).sum()],
        ]
        assert seg.pvalue == pytest.approx(sps.chi2_contingency(table, correction=False).pvalue)
    assert not result.concentrated  # the noise is the same in both regions


def test_shadow_flips_concentrated_in_one_segment_are_named() -> None:
    rng = np.random.default_rng(2)
    n = 2000
    b = rng.random(n)
    region = rng.choice(np.array(["us", "eu", "apac"], dtype=object), n)
    c = np.where(region == "eu", rng.random(n), np.clip(b + rng.normal(0, 0.02, n), 0, 1))
    bd, cd = np.where(b >= 0.5, "1", "0").astype(object), np.where(c >= 0.5, "1", "0").astype(object)
    result = shadow_comparison(b, c, bd, cd, {"region": region}, test=FlipTest(alpha=0.05))
    assert [s.segment for s in result.concentrated] == ["region=eu"]
    # BH-adjusted p-values are never below the raw ones.
    assert all(s.adjusted_pvalue >= s.pvalue for s in result.segments)


def test_shadow_without_decisions_gives_the_score_difference_only() -> None:
    b = np.arange(10.0)
    result = shadow_comparison(b, b + 1.0, None, None, {})
    assert result.decided_pairs == 0 and math.isnan(result.agreement) and result.score_diff_mean == 1.0


def test_canary_auc_difference_is_the_two_sample_delong_test() -> None:
    rng = np.random.default_rng(3)
    yb, yc = rng.integers(0, 2, 60), rng.integers(0, 2, 50)
    sb = np.round(yb * 0.3 + rng.random(60), 2)  # ties on purpose
    sc = np.round(yc * 0.1 + rng.random(50), 2)
    m = compare_metric(
        TaskSpec("binary_classification"), "roc_auc", "*", LabelledRows(yb, sb), LabelledRows(yc, sc)
    )
    auc_b, var_b = naive_delong(sb[yb == 1].tolist(), sb[yb == 0].tolist())
    auc_c, var_c = naive_delong(sc[yc == 1].tolist(), sc[yc == 0].tolist())
    assert m.baseline_value == pytest.approx(roc_auc_score(yb, sb)) == pytest.approx(float(auc_b))
    assert m.candidate_value == pytest.approx(float(auc_c))
    z = (float(auc_b) - float(auc_c)) / math.sqrt(float(var_b) + float(var_c))
    assert m.pvalue == pytest.approx(sps.norm.sf(z), rel=1e-9)
    assert m.baseline_n == 60 and m.candidate_n == 50


def test_canary_accuracy_difference_is_the_two_proportion_test() -> None:
    yb, yc = np.array([1] * 80 + [0] * 120), np.array([1] * 40 + [0] * 60)
    sb = np.array([0.9] * 70 + [0.1] * 10 + [0.1] * 110 + [0.9] * 10)  # 180/200 right
    sc = np.array([0.9] * 30 + [0.1] * 10 + [0.1] * 50 + [0.9] * 10)  # 80/100 right
    m = compare_metric(
        TaskSpec("binary_classification"), "accuracy", "*", LabelledRows(yb, sb), LabelledRows(yc, sc)
    )
    pb, pc = 0.9, 0.8
    se = math.sqrt(pb * (1 - pb) / 199 + pc * (1 - pc) / 99)  # the stored stderr is s/sqrt(n), ddof 1
    assert m.delta == pytest.approx(pc - pb)
    assert m.pvalue == pytest.approx(sps.norm.sf((pb - pc) / se), rel=1e-6)


def test_one_bh_family_for_overall_and_segments() -> None:
    yb = np.tile([0, 1], 100)
    m = compare_metric(
        TaskSpec("binary_classification"),
        "accuracy",
        "*",
        LabelledRows(yb, yb * 0.9),
        LabelledRows(yb, yb * 0.9),
    )
    family = judge_family([m, m, m], alpha=0.05)
    assert all(not f.worse for f in family)


# --- config -------------------------------------------------------------------------------------------------------


def _config(tmp_path: Path, versions: str) -> Path:
    (tmp_path / "ref.parquet").touch()
    path = tmp_path / "driftwatch.yml"
    path.write_text(
        "storage: dw.duckdb\nmonitors:\n  m:\n    predictions: {path: 'p/*.parquet', prediction: score}\n"
        "    reference: ref.parquet\n    task: binary_classification\n" + versions
    )
    return path


def test_config_reads_versions_and_defaults(tmp_path: Path) -> None:
    settings = load_settings(
        _config(tmp_path, "    versions: {baseline: 1.4, candidate: '1.5', mode: shadow}\n")
    )
    v = settings.monitor("m").versions
    assert v == VersionSettings(baseline="1.4", candidate="1.5", mode="shadow", metric="roc_auc")
    assert logged_versions(v) == ("1.4", "1.5")
    assert logged_versions(v, {"1.4": "v14", "1.5": "v15"}.__getitem__) == ("v14", "v15")


@pytest.mark.parametrize(
    ("body", "key", "fragment"),
    [
        ("{baseline: '1', candidate: '1'}", "monitors.m.versions.candidate", "must differ"),
        ("{candidate: '1'}", "monitors.m.versions.baseline", "is required"),
        ("{baseline: '1', candidate: '2', mode: blue}", "monitors.m.versions.mode", "shadow, canary, auto"),
        ("{baseline: '1', candidate: '2', metric: rmse}", "monitors.m.versions.metric", "roc_auc"),
        (
            "{baseline: '1', candidate: '2', min_agreement: 1.5}",
            "monitors.m.versions.min_agreement",
            "between",
        ),
        ("{baseline: '1', candidate: '2', alpha: 0}", "monitors.m.versions.alpha", "above 0"),
        ("{baseline: '1', candidate: '2', colour: red}", "monitors.m.versions.colour", "unknown key"),
    ],
)
def test_config_errors_name_file_key_and_value(tmp_path: Path, body: str, key: str, fragment: str) -> None:
    path = _config(tmp_path, f"    versions: {body}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    text = str(err.value)
    assert str(path) in text and key in text and fragment in text


# --- the whole cycle (canary) -------------------------------------------------------------------------------


def _run(config: Path, days: int) -> tuple[Database, object]:
    settings = load_settings(config)
    db = Database(settings.storage, settings.database)
    summary = run_cycle(db, settings.monitor("m"), now=START + timedelta(days=days + 2))
    return db, summary


@pytest.fixture(scope="module")
def canary_effect(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Database, object]:
    root = tmp_path_factory.mktemp("canary-effect")
    db, summary = _run(write_project(root, days=2, rows=4000, mode="canary", effect=True, seed=11), 2)
    return root, db, summary


def test_canary_finds_the_candidate_worse_on_its_segment(
    canary_effect: tuple[Path, Database, object],
) -> None:
    _root, db, summary = canary_effect
    rows = comparisons(db.cursor(), "m", "1.4", "1.5")
    assert len(rows) == 2 and summary.versions is not None and len(summary.versions.windows) == 2
    for row in rows:
        assert row["mode"] == "canary" and row["pairs"] == 0
        assert row["status"] == "candidate_worse", row["reasons"]
        assert any("region=eu" in reason for reason in row["reasons"])
        assert row["metric"] == "roc_auc" and row["baseline_labels"] + row["candidate_labels"] == 4000
        details = comparison_details(db.cursor(), "m", "1.4", "1.5", row["window_start"])
        worse = [d["name"] for d in details if d["kind"] == "segment_metric" and d["flagged"]]
        assert "region=eu" in worse  # BH controls the false-discovery share, not every other segment
        shifted = [d["name"] for d in details if d["kind"] == "input" and d["flagged"]]
        assert shifted == []  # the split is random: the inputs match


def test_rerun_compares_nothing_new(canary_effect: tuple[Path, Database, object]) -> None:
    root, db, _summary = canary_effect
    before = comparisons(db.cursor(), "m", "1.4", "1.5")
    db.close()
    db2, summary = _run(root / "driftwatch.yml", 2)
    with db2:
        assert summary.versions is not None and summary.versions.windows == []
        assert comparisons(db2.cursor(), "m", "1.4", "1.5") == before


def test_canary_without_effect_is_ok(tmp_path: Path) -> None:
    db, _ = _run(write_project(tmp_path, days=2, rows=4000, mode="canary", effect=False, seed=12), 2)
    with db:
        rows = comparisons(db.cursor(), "m", "1.4", "1.5")
    assert [r["status"] for r in rows] == ["candidate_ok", "candidate_ok"], [r["reasons"] for r in rows]


def test_biased_canary_split_is_caught_not_credited_to_the_model(tmp_path: Path) -> None:
    config = write_project(tmp_path, days=1, rows=4000, mode="canary", effect=False, seed=13, biased=True)
    db, _ = _run(config, 1)
    with db:
        (row,) = comparisons(db.cursor(), "m", "1.4", "1.5")
        details = comparison_details(db.cursor(), "m", "1.4", "1.5", row["window_start"])
    shifted = [d["name"] for d in details if d["kind"] == "input" and d["flagged"]]
    assert shifted == ["x1"]
    assert row["status"] != "candidate_ok"
    assert any("traffic differs" in r and "x1" in r for r in row["reasons"]), row["reasons"]


# --- alert rules on the stored comparisons ---------------------------------------------------------------------

RULES = """\
channels:
  log: {type: log, path: alerts.log}
route: {channels: [log]}
groups:
  - name: versions
    rules:
      - alert: CandidateWorse
        select: {monitor: "*", metric: version_verdict}
        condition: {op: ">=", threshold: 1}
        for: 2
      - alert: CandidateAUCBelowBaseline
        select: {monitor: "*", metric: candidate_metric_delta}
        condition: {op: "<", threshold: 0, min_labels: 500}
        for: 2
      - alert: ShadowAgreementLow
        select: {monitor: "*", metric: version_agreement}
        condition: {op: "<", threshold: 0.95, min_samples: 200}
"""


def test_alert_rules_fire_on_version_samples(
    canary_effect: tuple[Path, Database, object], tmp_path: Path
) -> None:
    from driftwatch.alerting.evaluation import evaluate
    from driftwatch.alerting.rules import load_rules
    from driftwatch.pipeline.alerts.samples import collect_samples

    root, _db, _summary = canary_effect
    settings = load_settings(root / "driftwatch.yml")
    (tmp_path / "versions.yml").write_text(RULES)
    rules = load_rules(tmp_path / "versions.yml")
    now = START + timedelta(days=4)
    with Database(settings.storage, settings.database) as db:
        batch = collect_samples(db, settings.monitor("m"), now)
    mine = [s for s in batch.samples if s.metric.startswith(("version_", "candidate_"))]
    assert {(s.metric, s.model_version) for s in mine} >= {
        ("version_verdict", "1.5"),
        ("candidate_metric_delta", "1.5"),
    }
    assert all(s.value == 1.0 for s in mine if s.metric == "version_verdict")
    result = evaluate(rules, batch.samples, {}, (), now)
    fired = {n.rule for n in result.notifications}
    assert {"CandidateWorse", "CandidateAUCBelowBaseline"} <= fired  # worse in both windows
    assert "ShadowAgreementLow" not in fired  # a canary has no agreement: no data, no alert


# --- the API and /metrics over the stored comparisons -------------------------------------------------------


def test_api_and_metrics(canary_effect: tuple[Path, Database, object]) -> None:
    from _service import TestClient
    from driftwatch.api.app import create_app
    from driftwatch.config.server import ServerSettings

    root, _db, _summary = canary_effect
    settings = load_settings(root / "driftwatch.yml")
    with Database(settings.storage, settings.database) as db:
        client = TestClient(
            create_app(settings, db, ServerSettings(), token="t"), raise_server_exceptions=False
        )
        auth = {"Authorization": "Bearer t"}
        overview = client.get("/api/monitors/m/versions", headers=auth).json()
        assert overview["configured"] == {"baseline": "1.4", "candidate": "1.5", "mode": "canary"}
        assert overview["pairs"][0]["windows"] == 2
        page = client.get("/api/monitors/m/versions/1.4/1.5", headers=auth).json()
        assert [i["status"] for i in page["items"]] == ["candidate_worse", "candidate_worse"]
        start = page["items"][0]["window_start"]
        one = client.get(f"/api/monitors/m/versions/1.4/1.5/{start}", headers=auth)
        assert one.status_code == 200
        assert any(d["name"] == "region=eu" and d["flagged"] for d in one.json()["details"])
        for path in (
            "/api/monitors/nope/versions",
            "/api/monitors/m/versions/1.4/9.9",
            "/api/monitors/m/versions/1.4/1.5/2020-01-01T00:00:00Z",
        ):
            response = client.get(path, headers=auth)
            assert response.status_code == 404, (path, response.text)
        assert client.get("/api/monitors/m/versions/1.4/1.5/not-a-time", headers=auth).status_code == 422
        metrics = client.get("/metrics", headers=auth).text
        assert 'driftwatch_version_verdict{baseline="1.4",candidate="1.5",monitor="m"} 1.0' in metrics
        assert (
            'driftwatch_candidate_metric_delta{baseline="1.4",candidate="1.5",metric="roc_auc",monitor="m"}'
            in metrics
        )


# --- shadow through the whole cycle (needs predictions identified by request_id and model_version) -----------


@pytest.mark.parametrize("effect", [True, False])
def test_shadow_through_the_cycle(tmp_path: Path, effect: bool) -> None:
    config = write_project(
        tmp_path, days=2, rows=3000, mode="shadow", effect=effect, seed=21, config_mode="auto"
    )
    db, summary = _run(config, 2)
    with db:
        rows = comparisons(db.cursor(), "m", "1.4", "1.5")
        details = comparison_details(db.cursor(), "m", "1.4", "1.5", rows[0]["window_start"])
    assert len(rows) == 2
    for row in rows:
        # Both versions' rows of every request were kept: all 3000 requests are pairs.
        assert (
            row["mode"] == "shadow" and row["pairs"] == row["baseline_rows"] == row["candidate_rows"] == 3000
        )
        assert row["agreement_low"] <= row["agreement"] <= row["agreement_high"]
        assert row["flip_share"] == pytest.approx(1 - row["agreement"])
        assert len(row["score_diff_quantiles"]) == 5
    flagged = [d["name"] for d in details if d["kind"] == "segment_flips" and d["flagged"]]
    if effect:
        assert [r["status"] for r in rows] == ["candidate_worse"] * 2
        assert flagged == ["region=eu"]
        assert any("flip in region=eu" in reason for reason in rows[0]["reasons"])
    else:
        assert [r["status"] for r in rows] == ["candidate_ok"] * 2, [r["reasons"] for r in rows]
        assert flagged == [] and rows[0]["agreement"] > 0.95


def test_report_page_per_version_pair(canary_effect: tuple[Path, Database, object], tmp_path: Path) -> None:
    from driftwatch.reports.versions import render_version_pages, version_page

    root, _db, _summary = canary_effect
    settings = load_settings(root / "driftwatch.yml")
    with Database(settings.storage, settings.database) as db:
        (page,) = render_version_pages(db.cursor(), tmp_path, "m")
    assert page == tmp_path / version_page("m", "1.4", "1.5") == tmp_path / "m/versions/1.4-vs-1.5.html"
    html = page.read_text()
    assert html.count('class="version-window"') == 2 and html.count("candidate_worse") >= 2
    assert "region=eu" in html and "Metric by segment (labelled rows)" in html
    assert "roc_auc on region=eu" in html  # the reasons, escaped text


def test_demo_challenger_is_found_in_its_segment(tmp_path: Path) -> None:
    from _demo import DEMO_END
    from driftwatch.demo import CHALLENGER, CHALLENGER_SEGMENT, DemoSpec, write_demo_project
    from driftwatch.pipeline.cycle import run_monitor

    spec = DemoSpec(days=5, rows_per_day=2000, reference_rows=5000, challenger_days=2, end=DEMO_END)
    settings = load_settings(write_demo_project(tmp_path, spec))
    with Database(settings.storage, settings.database) as db:
        summary = run_monitor(db, settings, "credit-default", now=DEMO_END)
        assert (
            summary.versions is not None
            and [w.status for w in summary.versions.windows] == ["candidate_worse"] * 2
        )
        rows = comparisons(db.cursor(), "credit-default", "v3.2", CHALLENGER)
        details = comparison_details(
            db.cursor(), "credit-default", "v3.2", CHALLENGER, rows[0]["window_start"]
        )
    assert all(r["mode"] == "shadow" and r["pairs"] == 2000 for r in rows)
    assert [d["name"] for d in details if d["flagged"]] == [f"environment={CHALLENGER_SEGMENT}"]
    assert (settings.reports_dir / "credit-default/versions/v3.2-vs-v3.3.html").is_file()


def _naive_paired_delong(y: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> tuple[float, float, float]:
    """(AUC1, AUC2, Var(AUC2 − AUC1)) literally from DeLong et al. (1988), eqs. (2)–(5), O(n·m) loops."""

    def psi(a: float, b: float) -> float:
        return 1.0 if a > b else 0.5 if a == b else 0.0

    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    m, n = pos.size, neg.size
    v10 = [[sum(psi(s[i], s[j]) for j in neg) / n for i in pos] for s in (s1, s2)]
    v01 = [[sum(psi(s[i], s[j]) for i in pos) / m for j in neg] for s in (s1, s2)]
    auc = [sum(v) / m for v in v10]

    def cov(a: list[float], b: list[float]) -> float:
        ma, mb = sum(a) / len(a), sum(b) / len(b)
        return sum((x - ma) * (y_ - mb) for x, y_ in zip(a, b, strict=True)) / (len(a) - 1)

    s10 = [[cov(v10[r], v10[t]) for t in (0, 1)] for r in (0, 1)]
    s01 = [[cov(v01[r], v01[t]) for t in (0, 1)] for r in (0, 1)]
    var = (s10[0][0] + s10[1][1] - 2 * s10[0][1]) / m + (s01[0][0] + s01[1][1] - 2 * s01[0][1]) / n
    return auc[0], auc[1], var


def test_shadow_paired_auc_is_delongs_correlated_test() -> None:
    from driftwatch.performance.versions import compare_paired

    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 80)
    s1 = np.round(y * 0.4 + rng.random(80), 2)
    s2 = np.round(s1 + rng.normal(0, 0.2, 80), 2)  # correlated with s1, ties on purpose
    m = compare_paired(TaskSpec("binary_classification"), "roc_auc", "*", y, s1, s2)
    assert m is not None
    a1, a2, var = _naive_paired_delong(y, s1, s2)
    assert (m.baseline_value, m.candidate_value) == pytest.approx((a1, a2))
    assert m.pvalue == pytest.approx(sps.norm.sf((a1 - a2) / math.sqrt(var)), rel=1e-9)


def test_shadow_paired_accuracy_is_the_paired_z_test() -> None:
    from driftwatch.performance.versions import compare_paired

    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 300)
    s1, s2 = rng.random(300) * 0.5 + y * 0.4, rng.random(300) * 0.5 + y * 0.3
    m = compare_paired(TaskSpec("binary_classification"), "accuracy", "*", y, s1, s2)
    assert m is not None
    c1, c2 = (((s >= 0.5) == (y == 1)).astype(float) for s in (s1, s2))
    t = sps.ttest_rel(c1, c2).statistic  # mean(d) / (sd(d)/sqrt(n)): the same statistic
    assert m.pvalue == pytest.approx(sps.norm.sf(t), rel=1e-9)
    # F1 has a paired (delta-method) form since the review fix (tests/test_versions_paired.py); the multiclass
    # macro averages still have none.
    assert compare_paired(TaskSpec("binary_classification"), "f1", "*", y, s1, s2) is not None
    labels = np.array(["a", "b"], dtype=object)[y]
    spec = TaskSpec("multiclass_classification")
    assert compare_paired(spec, "f1_macro", "*", labels, labels, labels[::-1].copy()) is None
