"""Media files, round 3 (issue 21 items 5 and 13): folders checked before any quota is spent, partial batches
reported, a finished clip given back rather than fetched again, video jobs forgotten at logout, and an unknown
job id said to be unknown (not a missing model). In process, on the emulator, with an API key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import xai_oauth
from xai_oauth import RequestRejected, ServerError
from xai_oauth.emulator import Emulator, Fault
from xai_oauth.emulator._media import png

API_KEY = "xai-MEDIA-FILES-" + "f" * 40
IMAGES = "/v1/images/generations"


@pytest.fixture
def keyed(emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Emulator:
    emulator.settings.api_key = API_KEY
    emulator.settings.video_retry_after = 0.05
    emulator.settings.video_pending_reads = 0
    for name, value in {**emulator.environ(), "XAI_API_KEY": API_KEY}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("XAI_OAUTH_MEDIA_DIR", str(tmp_path / "media"))
    return emulator


def test_an_unknown_video_job_is_said_to_be_unknown_not_a_missing_model(keyed: Emulator) -> None:
    with xai_oauth.Client() as client, pytest.raises(RequestRejected) as caught:
        client.video_status("unknown-id")
    said = f"{caught.value.message} {caught.value.action}"
    assert caught.value.code == "invalid_request" and "unknown-id" in said and "video()" in said
    assert "not available" not in said and "models()" not in said


@pytest.mark.parametrize("where", ["a file", "/proc/xai-oauth-test", "/dev/null/x"])
def test_a_folder_that_cannot_hold_files_is_refused_before_anything_is_sent(
    keyed: Emulator, tmp_path: Path, where: str
) -> None:
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("")
    out_dir = str(a_file) if where == "a file" else where
    with xai_oauth.Client() as client:
        for make in (
            lambda: client.image("a fox", "xai/grok-imagine-image", out_dir=out_dir),
            lambda: client.video("a fox", "xai/grok-imagine-video", out_dir=out_dir, wait=False),
        ):
            with pytest.raises(RequestRejected) as caught:
                make()
            assert caught.value.details.get("parameter") == "out_dir"
    assert keyed.api_requests == []  # no quota spent


def test_with_the_third_url_refused_the_two_files_written_are_reported(keyed: Emulator) -> None:
    names = [keyed.studio.keep(png(f"fox {n}"), "image/png", "png") for n in range(2)]
    urls = [f"{keyed.url}/_media/{name}" for name in names] + ["https://images.example.com/fox.png"]
    body = json.dumps({"data": [{"url": url} for url in urls]})
    keyed.inject(Fault(IMAGES, status=200, body=body, content_type="application/json"))
    with xai_oauth.Client() as client, pytest.raises(xai_oauth.XaiOAuthError) as caught:
        client.image("three foxes", "xai/grok-imagine-image", n=3)
    files = caught.value.details["files"]
    assert isinstance(files, list) and len(files) == 2 and all(Path(f).read_bytes()[:4] == b"\x89PNG" for f in files)
    assert sorted(os.listdir(Path(files[0]).parent)) == sorted(Path(f).name for f in files)  # no .part left
    assert not isinstance(caught.value, ServerError) or "images.example.com" in caught.value.message


def test_a_finished_clip_asked_for_again_is_the_same_file_not_another_copy(keyed: Emulator) -> None:
    with xai_oauth.Client() as client:
        started = client.video("a fox", "xai/grok-imagine-video", wait=False)
        first = client.video_status(started["request_id"])
        second = client.video_status(started["request_id"])
    assert first["status"] == second["status"] == "done" and second["file"] == first["file"]
    assert len(os.listdir(Path(first["file"]).parent)) == 1


def test_logout_forgets_the_video_jobs(keyed: Emulator) -> None:
    with xai_oauth.Client() as client:
        started = client.video("a fox", "xai/grok-imagine-video", wait=False)
        assert os.path.exists(client.account.paths.videos)
        client.account.logout()
        assert not os.path.exists(client.account.paths.videos)
    assert started["request_id"]


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
@pytest.mark.parametrize("revised", ["a fox \ud800 by night", "a fox \udcff", "ein Fuchs, grün 🦊"])
@pytest.mark.slow
def test_the_command_prints_what_the_server_said_whatever_it_holds(
    keyed: Emulator, revised: str, encoding: str
) -> None:
    """Issue 21 item 12: a lone surrogate (or text the terminal cannot encode) is shown escaped, not a traceback."""
    import base64
    import subprocess
    import sys

    from .conftest import ROOT

    picture = base64.b64encode(png("fox")).decode()
    body = json.dumps({"data": [{"b64_json": picture, "revised_prompt": revised}]})
    keyed.inject(Fault(IMAGES, status=200, body=body, content_type="application/json"))
    done = subprocess.run(
        [sys.executable, "-m", "xai_oauth", "image", "-m", "xai/grok-imagine-image", "a fox"],
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": encoding},
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    assert b"The model drew: " + revised[:5].encode() in done.stdout
