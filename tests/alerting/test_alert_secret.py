"""Secrets hide themselves everywhere a URL could leak."""

from __future__ import annotations

import logging
import pickle

import pytest

from driftwatch.alerting.secret import REDACTED, RedactingFilter, Secret

URL = "https://hooks.slack.com/services/T0001/B0001/XXXXSECRETXXXX"


def test_repr_str_and_format_hide_the_value() -> None:
    secret = Secret(URL)
    percent = "%s" % (secret,)  # noqa: UP031 - logging formats its arguments this way
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", percent, str([secret])):
        assert "XXXXSECRETXXXX" not in shown and "hooks.slack.com" not in shown
    assert secret.reveal() == URL
    with pytest.raises(TypeError):
        pickle.dumps(secret)


@pytest.mark.parametrize(
    "leak",
    [
        URL,
        "/services/T0001/B0001/XXXXSECRETXXXX",
        "https%3A%2F%2Fhooks.slack.com%2Fservices%2FT0001%2FB0001%2FXXXXSECRETXXXX",
    ],
)
def test_redact_removes_the_url_its_path_and_its_quoted_form(leak: str) -> None:
    assert Secret(URL).redact(f"error at {leak}: boom") == f"error at {REDACTED}: boom"


def test_redact_leaves_short_harmless_fragments_alone() -> None:
    assert Secret("http://h/").redact("http://h/ is down, / is fine") == f"{REDACTED} is down, / is fine"
    assert Secret("https://example.com/").redact("/ and https") == "/ and https"  # path "/" is no secret


def test_redacting_filter_cleans_messages_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.alerting.redaction")
    log_filter = RedactingFilter([Secret(URL)])
    logger.addFilter(log_filter)
    try:
        with caplog.at_level(logging.DEBUG, logger=logger.name):
            logger.info("POST %s", URL)
            try:
                raise ValueError(f"bad url {URL}")
            except ValueError:
                logger.exception("failed")
    finally:
        logger.removeFilter(log_filter)
    assert "XXXXSECRETXXXX" not in caplog.text
    assert f"POST {REDACTED}" in caplog.text and f"bad url {REDACTED}" in caplog.text
