"""The public surface: exports and xai_oauth expose exactly what is documented; status stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import platformdirs
import pytest

import exports
import xai_oauth
from xai_oauth._paths import default_home

from .conftest import ROOT


def test_exports_exposes_exactly_the_documented_functions() -> None:
    assert exports.__all__ == ["chat", "logout", "models", "poll", "refresh", "start", "status", "usage"]
    public = {n for n in vars(exports) if not n.startswith("_") and callable(getattr(exports, n))}
    assert public == set(exports.__all__)


def test_package_all_is_sorted_and_resolves() -> None:
    assert xai_oauth.__all__ == sorted(xai_oauth.__all__)
    for name in xai_oauth.__all__:
        assert getattr(xai_oauth, name) is not None
    with pytest.raises(AttributeError):
        xai_oauth.nothing_here  # noqa: B018


def test_every_error_has_code_and_action() -> None:
    codes = set()
    for name in xai_oauth.__all__:
        obj = getattr(xai_oauth, name)
        if isinstance(obj, type) and issubclass(obj, xai_oauth.XaiOAuthError):
            assert obj.__doc__ and obj.code and obj.action, name
            codes.add(obj.code)
    assert {"access_denied", "expired", "reauth_required", "rate_limited", "no_pending_login", "network"} <= codes


def test_status_fast_path_imports_nothing_heavy() -> None:
    code = (
        f"import sys, json; before = set(sys.modules); sys.path.insert(0, {str(ROOT)!r}); "
        "from exports import status; r = status(); "
        "print(json.dumps([r['state'], sorted(set(sys.modules) - before)]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30).stdout
    state, loaded = json.loads(out)
    assert state == "logged_out"
    ours = [m for m in loaded if m.startswith("xai_oauth")]
    assert ours == [
        "xai_oauth",
        "xai_oauth._exceptions",
        "xai_oauth._files",
        "xai_oauth._paths",
        "xai_oauth._settings",
        "xai_oauth._slots",
        "xai_oauth._state",
        "xai_oauth._status",
    ]
    heavy = {"httpx2", "jwt", "keyring", "platformdirs", "filelock", "pathlib", "typing", "dataclasses"}
    assert not heavy & {m.split(".")[0] for m in loaded}, loaded


@pytest.mark.parametrize("xdg", [None, "/tmp/xdg-data"])
def test_default_home_agrees_with_platformdirs(xdg: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if xdg is None:
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_DATA_HOME", xdg)
    assert default_home() == platformdirs.user_data_dir("xai-oauth", appauthor=False)
