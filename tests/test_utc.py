"""The one naive ↔ aware UTC conversion (driftwatch.durations): naive means UTC, never local time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from driftwatch.durations import as_utc, iso_utc, naive_utc_now, to_naive_utc, utc_now, window_start

PARIS_SUMMER = timezone(timedelta(hours=2))
NAIVE = datetime(2026, 3, 2, 0, 0)


@pytest.mark.parametrize(
    "moment", [NAIVE, NAIVE.replace(tzinfo=UTC), datetime(2026, 3, 2, 2, 0, tzinfo=PARIS_SUMMER)]
)
def test_every_form_of_one_instant_converts_to_the_same_utc(moment: datetime) -> None:
    assert as_utc(moment) == NAIVE.replace(tzinfo=UTC) and as_utc(moment).tzinfo is UTC
    assert to_naive_utc(moment) == NAIVE and to_naive_utc(moment).tzinfo is None
    assert iso_utc(moment) == "2026-03-02T00:00:00Z"
    assert window_start(moment, timedelta(days=1)) == NAIVE.replace(tzinfo=UTC)


def test_naive_utc_now_is_naive_utc() -> None:
    before = datetime.now(UTC).replace(tzinfo=None)
    now = naive_utc_now()
    assert now.tzinfo is None and before <= now <= datetime.now(UTC).replace(tzinfo=None)


def test_utc_now_is_aware_utc() -> None:
    before = datetime.now(UTC)
    now = utc_now()
    assert now.tzinfo is UTC and before <= now <= datetime.now(UTC)


@pytest.fixture
def local_time_not_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A process whose local time is not UTC, so a conversion that reads naive as local shows itself."""
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("local_time_not_utc")
@pytest.mark.parametrize(
    "moment", [NAIVE, NAIVE.replace(tzinfo=UTC), datetime(2026, 3, 2, 2, 0, tzinfo=PARIS_SUMMER)]
)
def test_channel_text_and_cli_json_read_naive_as_utc_whatever_the_local_zone(moment: datetime) -> None:
    from driftwatch.alerting.channels.formatting import format_time, rfc3339
    from driftwatch.cli.tables import json_default

    assert format_time(moment) == "2026-03-02 00:00 UTC"
    assert rfc3339(moment) == "2026-03-02T00:00:00Z"
    assert json_default(moment) == "2026-03-02T00:00:00Z"
