"""Annotation templates: checked at load, rendered in a sandbox, and never fatal when rendering."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from driftwatch.alerting.templates import MAX_RENDERED_CHARS, check_template, render_annotations

CONTEXT = {
    "alertname": "FeaturePSIHigh",
    "value": 0.31234,
    "metric": "psi",
    "feature": "age",
    "labels": {"alertname": "FeaturePSIHigh", "feature": "age", "severity": "warning"},
    "window_start": datetime(2026, 3, 2, tzinfo=UTC),
}


def test_renders_values_labels_and_dates() -> None:
    rendered = render_annotations(
        {
            "summary": "PSI {{ value | round(3) }} on {{ labels.feature }}",
            "when": "{{ window_start.strftime('%Y-%m-%d') }}",
        },
        CONTEXT,
    )
    assert rendered.values == {"summary": "PSI 0.312 on age", "when": "2026-03-02"}
    assert rendered.error is None


@pytest.mark.parametrize(
    "source",
    [
        "{{ labels.owner }} should look",  # missing label: StrictUndefined
        "{{ missing_everywhere }}",
        "{{ value / 0 }}",
        "{{ labels.__class__.__mro__ }}",  # the sandbox refuses internals
    ],
)
def test_a_render_error_falls_back_to_a_plain_message(source: str) -> None:
    rendered = render_annotations({"summary": source, "ok": "fine"}, CONTEXT)
    summary = rendered.values["summary"]
    assert summary.startswith("FeaturePSIHigh: psi=0.31234 [labels: alertname=FeaturePSIHigh, feature=age")
    assert "template error: annotation 'summary'" in summary
    assert rendered.values["ok"] == "fine"
    assert rendered.error is not None and "summary" in rendered.error


def test_rendered_text_is_capped() -> None:
    rendered = render_annotations({"big": "{% for i in range(5000) %}xx{% endfor %}"}, CONTEXT)
    assert len(rendered.values["big"]) == MAX_RENDERED_CHARS


@pytest.mark.parametrize(
    ("source", "message", "fix"),
    [
        ("{{ value | round(3) }", "does not compile", "Jinja2"),
        ("{% if value %}x", "does not compile", "endif"),
        ("{{ value | no_such_filter }}", "does not compile", "Jinja2"),
        ("{{ vlaue }}", "unknown variable `vlaue`", "did you mean `value`"),
        ("{{ thresold }}", "unknown variable `thresold`", "did you mean `threshold`"),
    ],
)
def test_check_template_finds_problems_before_any_alert(source: str, message: str, fix: str) -> None:
    (problem,) = check_template(source)
    assert message in problem.message and fix in problem.fix


def test_check_template_accepts_every_documented_variable() -> None:
    source = (
        "{{ value }} {{ threshold }} {{ recover }} {{ baseline }} {{ samples }} {{ labels }} {{ monitor }}"
    )
    source += (
        " {{ metric }} {{ feature }} {{ model_version }} {{ segment }} {{ window_start }} {{ window_end }}"
    )
    source += (
        " {{ report_url }} {{ state }} {{ alertname }} {% for k, v in labels.items() %}{{ k }}{% endfor %}"
    )
    assert check_template(source) == []
