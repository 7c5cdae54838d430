"""Refresh storms: N fresh processes meet one expired token (or all force a refresh) at the same instant.

Against the emulator's rotating refresh tokens with reuse detection: a single
refresh token sent twice would revoke the grant and show up as ``refused``.
"""

from __future__ import annotations

import pytest

from xai_oauth.emulator import Emulator
from xai_oauth.emulator._storm import run_storm

#: every test here starts fresh interpreters or waits in real time
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("processes", [8, 16])
def test_expired_token_storm_refreshes_exactly_once(emulator: Emulator, processes: int) -> None:
    result = run_storm(emulator, processes)
    assert result.failures == 0, result
    assert result.refresh_requests == 1 and result.refused == 0, result
    assert result.grant_works_after and emulator.stats()["live_grants"] == 1, result


@pytest.mark.parametrize("processes", [8, 16])
def test_forced_refresh_storm_never_reuses_a_token(emulator: Emulator, processes: int) -> None:
    result = run_storm(emulator, processes, forced=True)
    assert result.failures == 0, result
    assert result.refresh_requests == processes and result.refused == 0, result
    assert result.grant_works_after and emulator.stats().get("reuse_detected", 0) == 0, result
