"""The parts of issue 21's hostile-input fixes that live in _http, _client, _media, _device, _tokens, _account."""

from __future__ import annotations

import math

import pytest

from xai_oauth._exceptions import MalformedResponse
from xai_oauth._redact import forget_secrets, scrub
from xai_oauth.api._media_rules import read_video_job, require_media_host
from xai_oauth.transport._http import parse_retry_after


@pytest.mark.parametrize("value", ["inf", "Infinity", "nan", "1e400", "-inf", str(10**400)])
def test_a_retry_after_no_one_can_wait_is_not_said(value: str) -> None:
    assert parse_retry_after(value) is None


def test_a_plain_retry_after_still_reads() -> None:
    assert parse_retry_after("7") == 7.0 and parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=0) is None


@pytest.mark.parametrize("duration", [10**400, float("inf"), 1e308])
def test_a_video_duration_out_of_range_is_unknown_not_internal(duration: object) -> None:
    job = read_video_job(
        200, {"status": "done", "video": {"url": "https://vidgen.x.ai/a.mp4", "duration": duration}}, "r"
    )
    assert job.duration is None or math.isfinite(job.duration)


@pytest.mark.parametrize("url", ["https://[x", "https://[evil.com].x.ai/a.png", "https://x.ai:99999/a.png"])
def test_a_download_address_that_cannot_be_read_is_refused(url: str) -> None:
    with pytest.raises(MalformedResponse):
        require_media_host(url)


def test_device_codes_and_tokens_are_remembered_for_scrub() -> None:
    from xai_oauth.auth._device_rules import PendingLogin
    from xai_oauth.store._credential import Credential

    forget_secrets()
    try:
        PendingLogin("3f2b8c1e-9a4d-4e7b-b0c6-5d1e2f3a4b5c", "ABCD", "u", "u", 1.0, 5.0, 1.0, "https://auth.x.ai", "c")
        Credential("deadbeefcafef00d1234", "0123456789abcdef", 2e9, 3600.0, 1e9)
        text = scrub("3f2b8c1e-9a4d-4e7b-b0c6-5d1e2f3a4b5c deadbeefcafef00d1234 0123456789abcdef")
        assert text == "[redacted] [redacted] [redacted]"
    finally:
        forget_secrets()
