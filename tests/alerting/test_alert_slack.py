"""Slack Block Kit payloads: golden files with the clock pinned, and the limits Slack enforces."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from alerting_support import DAY, T0, LoopbackServer, make_rule, window_sample
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwatch.alerting.channels.slack import (
    BUTTON_TEXT_LIMIT,
    HEADER_LIMIT,
    MAX_BLOCKS,
    SECTION_LIMIT,
    URL_LIMIT,
    SlackChannel,
    slack_payload,
)
from driftwatch.alerting.evaluation import evaluate, fingerprint
from driftwatch.alerting.grouping import AlertGroup, group_notifications
from driftwatch.alerting.model import Alert, InstanceKey, Op, Transition
from driftwatch.alerting.secret import Secret

GOLDEN = Path(__file__).parent / "golden"
BASE_URL = "https://driftwatch.example.com"
# Set to regenerate the golden files after a deliberate change; review the diff before committing.
UPDATE = os.environ.get("DRIFTWATCH_UPDATE_GOLDEN") == "1"


def psi_group(features: int, transition: Transition = Transition.FIRING) -> AlertGroup:
    rule = make_rule(
        channels=("slack-ml",),
        recover=0.1,
        annotations={
            "summary": "PSI {{ value | round(3) }} on {{ feature }} ({{ monitor }})",
            "description": "PSI above {{ threshold }}; resolves below {{ recover }}.",
        },
    )
    samples = [window_sample(0, 0.26 + 0.003 * i, feature=f"feature_{i:03d}") for i in range(features)]
    state = evaluate([rule], samples, {}, [], T0 + DAY)
    if transition is Transition.FIRING:
        (group,) = group_notifications(state.notifications)
        return group
    healed = [window_sample(1, 0.05, feature=f"feature_{i:03d}") for i in range(features)]
    (group,) = group_notifications(evaluate([rule], healed, state.new_state, [], T0 + 2 * DAY).notifications)
    return group


def assert_block_kit_limits(payload: dict[str, Any]) -> None:
    assert isinstance(payload["text"], str) and payload["text"].strip()
    blocks = payload["blocks"]
    assert 0 < len(blocks) <= MAX_BLOCKS
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            assert block["text"]["type"] == "plain_text"
            assert 0 < len(block["text"]["text"]) <= HEADER_LIMIT
        elif kind == "section":
            assert 0 < len(block["text"]["text"]) <= SECTION_LIMIT
        elif kind == "context":
            assert 0 < len(block["elements"]) <= 10
            assert all(0 < len(e["text"]) <= SECTION_LIMIT for e in block["elements"])
        elif kind == "actions":
            for button in block["elements"]:
                assert len(button["text"]["text"]) <= BUTTON_TEXT_LIMIT
                assert len(button["url"]) <= URL_LIMIT and button["url"].startswith("https://")
        else:
            pytest.fail(f"unexpected block type {kind}")


def listed_and_more(payload: dict[str, Any]) -> tuple[int, int]:
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    listed = sum(text.count("• ") for text in sections)
    more = 0
    for block in payload["blocks"]:
        if block["type"] == "context" and block["elements"][0]["text"].startswith("+"):
            more = int(block["elements"][0]["text"][1:].split()[0])
    return listed, more


@pytest.mark.parametrize("features", [1, 10, 200])
def test_golden_payloads_within_block_kit_limits(features: int) -> None:
    payload = slack_payload(psi_group(features), BASE_URL)
    path = GOLDEN / f"slack_{features}.json"
    if UPDATE:
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert payload == json.loads(path.read_text(encoding="utf-8"))
    assert_block_kit_limits(payload)
    listed, more = listed_and_more(payload)
    assert listed + more == features
    assert payload["blocks"][-1]["elements"][0]["url"] == f"{BASE_URL}/reports/credit-default/2026-03-02.html"


def test_the_200_feature_message_lists_the_worst_first_and_counts_the_rest() -> None:
    payload = slack_payload(psi_group(200), BASE_URL)
    listed, more = listed_and_more(payload)
    assert (listed, more) == (30, 170)
    first_list = next(b for b in payload["blocks"] if b["type"] == "section" and "• " in b["text"]["text"])
    assert first_list["text"]["text"].startswith("• *feature_199*")
    assert payload["text"].startswith("[FIRING] FeaturePSIHigh · credit-default: feature_199 0.857")
    assert payload["text"].endswith("+195 more")


def test_resolved_golden_payload() -> None:
    payload = slack_payload(psi_group(3, Transition.RESOLVED), BASE_URL)
    path = GOLDEN / "slack_resolved_3.json"
    if UPDATE:
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert payload == json.loads(path.read_text(encoding="utf-8"))
    assert payload["blocks"][0]["text"]["text"].startswith("✅ Resolved")
    assert payload["text"].startswith("[RESOLVED]")
    assert "recovered" in json.dumps(payload)


def make_alert(index: int, feature: str, value: float) -> Alert:
    key = InstanceKey("Drift", "m", "v1", "all", feature)
    return Alert(
        instance=key,
        metric="psi",
        value=value,
        op=Op.GT,
        threshold=0.25,
        recover=None,
        baseline=None,
        samples=1000,
        labels={"alertname": "Drift", "monitor": "m", "feature": feature},
        annotations={"summary": f"PSI on {feature}"},
        starts_at=T0,
        report_url="/r" if index == 0 else None,
        fingerprint=fingerprint(key),
    )


def alert_group(alerts: list[Alert], rule: str = "Drift", monitor: str = "m") -> AlertGroup:
    return AlertGroup(
        "k", "slack-ml", Transition.FIRING, rule, monitor, T0, T0 + DAY, T0 + DAY, tuple(alerts)
    )


@settings(max_examples=40, deadline=None)
@given(
    names=st.lists(st.text(alphabet="ab<>&*_ xé", min_size=1, max_size=700), min_size=1, max_size=400),
    max_listed=st.sampled_from([1, 30, 10_000]),
    long_title=st.text(min_size=1, max_size=400),
)
def test_property_any_group_fits_block_kit(names: list[str], max_listed: int, long_title: str) -> None:
    alerts = [make_alert(i, name, 0.3 + i) for i, name in enumerate(names)]
    payload = slack_payload(alert_group(alerts, rule=long_title, monitor=long_title), BASE_URL, max_listed)
    assert_block_kit_limits(payload)
    listed, more = listed_and_more(payload)
    if len(alerts) > 1:
        assert listed + more == len(alerts)
        assert listed <= max_listed


def test_user_data_is_escaped_for_mrkdwn() -> None:
    payload = slack_payload(alert_group([make_alert(0, "<!channel> & co", 0.3), make_alert(1, "b", 0.4)]))
    text = json.dumps(payload)
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; co" in text


def test_no_button_without_a_usable_report_link() -> None:
    relative_only = slack_payload(alert_group([make_alert(0, "a", 0.3)]), report_base_url=None)
    assert all(b["type"] != "actions" for b in relative_only["blocks"])
    absolute = slack_payload(alert_group([make_alert(0, "a", 0.3)]), report_base_url="http://h:8000/")
    assert absolute["blocks"][-1]["elements"][0]["url"] == "http://h:8000/r"


def test_a_template_error_is_shown_with_the_raw_labels() -> None:
    rule = make_rule(
        channels=("slack-ml",), annotations={"summary": "{{ labels.owner }} look at {{ feature }}"}
    )
    (group,) = group_notifications(evaluate([rule], [window_sample(0, 0.4)], {}, [], T0 + DAY).notifications)
    payload = slack_payload(group, BASE_URL)
    assert_block_kit_limits(payload)
    text = json.dumps(payload)
    assert "An annotation template failed" in text
    assert "feature=age" in text and "owner" in text


def test_slack_channel_posts_the_payload_to_the_webhook(loopback: LoopbackServer) -> None:
    url = Secret(f"{loopback.url}/services/T000/B000/XXXXSECRET")
    channel = SlackChannel("slack-ml", url, BASE_URL)
    group = psi_group(2)
    result = channel.send(group, group.dedupe_key)
    channel.close()
    assert result.ok and result.status_code == 200
    (request,) = loopback.requests
    assert request.path == "/services/T000/B000/XXXXSECRET"
    assert request.json() == slack_payload(group, BASE_URL)
    assert "XXXXSECRET" not in repr(channel)


def test_a_huge_group_is_cut_at_fifty_blocks_with_the_rest_counted() -> None:
    # 1000 lines of ~300 characters need about 100 sections: far past the block limit.
    alerts = [make_alert(i, f"{i:04d}_" + "x" * 280, 0.3 + i) for i in range(1000)]
    payload = slack_payload(alert_group(alerts), BASE_URL, max_listed=10_000)
    assert_block_kit_limits(payload)
    assert len(payload["blocks"]) == MAX_BLOCKS
    listed, more = listed_and_more(payload)
    assert listed + more == 1000 and more > 0
    assert payload["blocks"][-1]["type"] == "actions"  # the report link survives the cut
