"""Images, video and server-side search with the subscription (and an API key), end to end on the emulator."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from xai_oauth import ContentRefused, GenerationFailed, MalformedResponse, RequestRejected
from xai_oauth.api._media_rules import read_video_job, require_media_host, sniff_extension
from xai_oauth.emulator import Emulator, Fault
from xai_oauth.emulator._media import mp4, png
from xai_oauth.wire._answers import citations
from xai_oauth.wire._requests import search_tools

from .conftest import Agent
from .test_e2e import signed_in

API_KEY = "xai-CANARY-MEDIA-KEY-" + "m" * 40
IMAGES = "/v1/images/generations"
#: The agent's heredoc, measured: one small picture, then (when the test says go) a big one, with the peak
#: RSS (``ru_maxrss``) read just before and after the big one.
_MEASURED_CHILD = f"""
import json, resource, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
import exports
print(json.dumps(exports.image("a small fox")), flush=True)
sys.stdin.readline()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
made = exports.image("a big fox")
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"made": made, "before": before, "after": after}}))
"""


@pytest.fixture
def studio(agent: Agent, emulator: Emulator, tmp_path: Path) -> Path:
    """Signed in, an API key beside it, and a media folder of the test's own."""
    emulator.settings.api_key = API_KEY
    emulator.settings.video_retry_after = 0.05
    media = tmp_path / "media"
    agent.env.update(XAI_API_KEY=API_KEY, XAI_OAUTH_MEDIA_DIR=str(media))
    signed_in(agent)
    return media


def _is_png(path: str) -> bool:
    return Path(path).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


class TestImages:
    def test_the_subscription_makes_images_into_files_never_into_the_dict(
        self, agent: Agent, emulator: Emulator, studio: Path
    ) -> None:
        made = agent("image('a red fox', n=2)")
        assert made["ok"] and made["model"] == "xai-grok/grok-imagine-image", made
        assert len(made["files"]) == 2 and len(set(made["files"])) == 2
        assert all(Path(f).parent == studio and Path(f).is_absolute() and _is_png(f) for f in made["files"])
        assert made["revised_prompt"] == "A detailed picture of a red fox"
        assert len(json.dumps(made)) < 600  # paths, never pictures
        sent = emulator.api_requests[-1]
        assert sent["path"] == IMAGES and sent["credential"] == "subscription" and sent["origin"] == "api"
        assert sent["body"]["response_format"] == "b64_json" and sent["body"]["n"] == 2
        assert "x-xai-token-auth" not in sent["headers"]  # the chat proxy's headers stay on the chat proxy

    def test_an_api_key_model_uses_the_key_and_out_dir_is_honoured(
        self, agent: Agent, emulator: Emulator, studio: Path, tmp_path: Path
    ) -> None:
        elsewhere = tmp_path / "elsewhere"
        made = agent(f"image('fox', model='xai/grok-imagine-image', out_dir={str(elsewhere)!r})")
        assert made["model"] == "xai/grok-imagine-image" and Path(made["files"][0]).parent == elsewhere
        assert emulator.api_requests[-1]["credential"] == "api_key"

    def test_urls_are_fetched_from_xai_hosts_only(self, agent: Agent, emulator: Emulator, studio: Path) -> None:
        emulator.settings.image_as_url = True
        fetched = agent("image('a fox by url')")
        assert fetched["ok"] and _is_png(fetched["files"][0])
        foreign = json.dumps({"data": [{"url": "https://images.example.com/fox.png"}]})
        emulator.inject(Fault(IMAGES, status=200, body=foreign, content_type="application/json"))
        refused = agent("image('a fox from elsewhere')")
        assert refused["error"] == "bad_response" and "images.example.com" in refused["message"]
        assert [p.name for p in studio.iterdir()] == [Path(fetched["files"][0]).name]  # nothing else written

    def test_a_big_picture_streams_to_disk_within_one_and_a_half_times_its_size(
        self, agent: Agent, emulator: Emulator, studio: Path
    ) -> None:
        """Issue 22 item 5: the child's peak RSS grows by well under 1.5 pictures (joined, parsed and decoded
        whole it grew by 4.5). A small picture first, so imports and the connection are in the baseline."""
        size = 32 * 1024 * 1024
        child = subprocess.Popen(
            [sys.executable, "-c", _MEASURED_CHILD],
            env=agent.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None and child.stdin is not None
        small = json.loads(child.stdout.readline())
        assert small["ok"], small
        emulator.settings.image_bytes = size
        child.stdin.write("go\n")
        child.stdin.flush()
        out, err = child.communicate(timeout=120)
        big = json.loads(out.strip().splitlines()[-1])
        assert big["made"]["ok"], (big, err[-2000:])
        assert Path(big["made"]["files"][0]).stat().st_size == size and _is_png(big["made"]["files"][0])
        grown = (big["after"] - big["before"]) * 1024  # ru_maxrss is in KiB on Linux
        assert grown < 1.5 * size, f"peak RSS grew {grown / 1048576:.0f} MiB for a {size >> 20} MiB picture"
        assert not [p for p in studio.iterdir() if p.name.endswith(".part")]

    def test_the_picture_cap_is_a_setting_for_base64_and_urls_alike(
        self, agent: Agent, emulator: Emulator, studio: Path
    ) -> None:
        emulator.settings.image_bytes = 300_000
        capped = agent("image('a big fox')", XAI_OAUTH_MAX_IMAGE_BYTES="200000")
        assert capped["error"] == "bad_response" and "XAI_OAUTH_MAX_IMAGE_BYTES" in capped["action"], capped
        assert list(studio.iterdir()) == []  # the part written so far is gone
        assert agent("image('a big fox')", XAI_OAUTH_MAX_IMAGE_BYTES="400000")["ok"]
        emulator.settings.image_as_url = True
        by_url = agent("image('a big fox by url')", XAI_OAUTH_MAX_IMAGE_BYTES="200000")
        assert by_url["error"] == "bad_response", by_url
        assert agent("image('fox')", XAI_OAUTH_MAX_IMAGE_BYTES="-1")["error"] == "config_invalid"

    def test_editing_sends_the_picture_inline(
        self, agent: Agent, emulator: Emulator, studio: Path, tmp_path: Path
    ) -> None:
        source = tmp_path / "cat.png"
        source.write_bytes(png("cat"))
        edited = agent(f"image('give it a hat', image={str(source)!r})")
        assert edited["ok"] and "edited from a" in edited["revised_prompt"]
        sent = emulator.api_requests[-1]
        assert sent["path"] == "/v1/images/edits" and sent["body"]["image"]["url"].startswith("data:image/png;base64,")
        (tmp_path / "notes.txt").write_text("not a picture")
        before = len(emulator.api_requests)
        wrong = agent(f"image('x', image={str(tmp_path / 'notes.txt')!r})")
        assert wrong["error"] == "invalid_request" and wrong["parameter"] == "image"
        assert agent("image('x', image='/no/such/file.png')")["error"] == "invalid_request"
        assert len(emulator.api_requests) == before  # refused before sending

    def test_quota_moderation_and_bad_numbers(self, agent: Agent, emulator: Emulator, studio: Path) -> None:
        emulator.inject(Fault(IMAGES, status=429, body='{"code": "resource-exhausted", "error": "Too many images"}'))
        limited = agent("image('fox')")
        assert limited["error"] == "rate_limited" and "tighter than chat" in limited["message"]
        emulator.settings.refuse_media = True
        refused = agent("image('fox')")
        assert refused["error"] == "content_refused" and "moderation" in refused["message"]
        emulator.settings.refuse_media = False
        assert agent("image('fox', n=0)")["error"] == "invalid_request"
        assert agent("image('fox', aspect_ratio='5:1')")["error"] == "invalid_request"  # the API's refusal
        assert agent("image('   ')")["error"] == "invalid_request"

    @pytest.mark.parametrize("tier", [0, 2])
    def test_free_and_x_basic_are_told_before_any_request(
        self, agent: Agent, emulator: Emulator, tmp_path: Path, tier: int
    ) -> None:
        emulator.settings.tier = tier
        agent.env["XAI_OAUTH_MEDIA_DIR"] = str(tmp_path / "media")
        signed_in(agent)
        for call in ("image('fox')", "video('fox', wait=False)"):
            denied = agent(call)
            assert denied["error"] == "tier_denied" and "API key" in denied["action"], denied
        assert emulator.api_requests == []


class TestVideo:
    def test_waiting_for_a_clip(self, agent: Agent, emulator: Emulator, studio: Path) -> None:
        done = agent("video('a fox running', duration=10, aspect_ratio='16:9', resolution='720p')")
        assert done["ok"] and done["status"] == "done" and done["duration"] == 10, done
        assert Path(done["file"]).read_bytes()[4:8] == b"ftyp" and done["file"].endswith(".mp4")
        assert done["model"] == "xai-grok/grok-imagine-video"
        assert emulator.api_requests[-1]["body"] == {
            "model": "grok-imagine-video",
            "prompt": "a fox running",
            "duration": 10,
            "aspect_ratio": "16:9",
            "resolution": "720p",
        }

    def test_an_agent_does_not_block_and_carries_on_in_another_process(
        self, agent: Agent, emulator: Emulator, studio: Path
    ) -> None:
        emulator.settings.api_key = API_KEY
        started = agent("video('a slow fox', model='xai/grok-imagine-video', wait=False)")
        assert started["status"] == "pending" and started["retry_after"] == 0.05
        request_id = started["request_id"]
        assert agent(f"video_status({request_id!r})")["status"] == "pending"  # the second of two pending reads
        done = agent(f"video_status({request_id!r})")
        assert done["status"] == "done" and Path(done["file"]).exists() and done["model"] == "xai/grok-imagine-video"
        assert {r["credential"] for r in emulator.api_requests} == {"api_key"}  # remembered across processes
        assert agent("video_status('../../etc/passwd')")["error"] == "invalid_request"

    @pytest.mark.parametrize(
        ("outcome", "error", "said"),
        [
            ("failed", "generation_failed", "could not be rendered"),
            ("expired", "generation_failed", "expired"),
            ("moderated", "content_refused", "moderation"),
        ],
    )
    def test_a_job_that_ends_badly_says_why(
        self, agent: Agent, emulator: Emulator, studio: Path, outcome: str, error: str, said: str
    ) -> None:
        emulator.settings.video_outcome = outcome
        ended = agent("video('a fox')")
        assert ended["error"] == error and said in ended["message"], ended
        assert not studio.exists() or not any(studio.iterdir())


class TestSearch:
    @pytest.mark.parametrize("model", ["xai-grok/grok-4.3", "xai/grok-4.3"])
    def test_search_on_any_model_whole_and_streamed_with_citations(
        self, agent: Agent, emulator: Emulator, studio: Path, model: str
    ) -> None:
        whole = agent(f"chat({model!r}, 'what is new?', search=['web', 'x'])")
        streamed = agent(f"chat({model!r}, 'what is new?', search='web,x', stream=True)")
        for answer in (whole, streamed):
            assert answer["lane"] == "responses" and answer["content"].startswith("Searched the web and X")
            assert answer["searched"] == ["what is new?"]  # the web search's query (X search gives none)
            assert answer["citations"] == [
                {"url": "https://docs.x.ai/docs/overview", "title": "xAI documentation"},
                {"url": "https://x.com/xai/status/1", "title": "xAI on X"},
            ]
        sent = emulator.api_requests[-1]
        assert sent["path"] == "/v1/responses" and sent["body"]["tools"] == [
            {"type": "web_search"},
            {"type": "x_search"},
        ]
        assert sent["body"]["include"] == ["no_inline_citations"]  # as xAI's Grok CLI asks on xAI's own routes
        assert sent["origin"] == ("proxy" if model.startswith("xai-grok/") else "api")

    def test_lane_choice_and_no_citations_without_search(self, agent: Agent, studio: Path) -> None:
        forced = agent("chat('xai-grok/grok-4.3', 'hi', lane='responses')")
        assert forced["lane"] == "responses" and "citations" not in forced
        plain = agent("chat('xai-grok/grok-4.3', 'hi')")
        assert plain["lane"] == "chat_completions" and "citations" not in plain
        wrong = agent("chat('xai-grok/grok-4.20-multi-agent-0309', 'hi', lane='chat_completions')")
        assert wrong["error"] == "unsupported_parameter" and wrong["parameter"] == "lane"


def test_no_secret_in_any_media_or_search_output(agent: Agent, emulator: Emulator, studio: Path) -> None:
    emulator.settings.video_outcome = "failed"
    for call in ("image('a')", "video('b')", "video('c', wait=False)", "chat('grok-4.3', 'd', search=['web'])"):
        agent(call)
    emulator.inject(Fault(IMAGES, status=400, body=json.dumps({"error": f"bad token {API_KEY}"})))
    agent("image('e')")
    for output in agent.outputs:
        for secret in [*emulator.authority.secrets(), API_KEY]:
            assert secret not in output


class TestPieces:
    def test_citations_from_annotations_lists_and_urls_once_each(self) -> None:
        found = citations(
            [{"type": "url_citation", "url": "https://a.example/1", "title": "A"}, {"type": "file_citation"}],
            ["https://a.example/1", "https://b.example/2", "javascript:alert(1)", 7],
        )
        assert found == [{"url": "https://a.example/1", "title": "A"}, {"url": "https://b.example/2", "title": None}]

    def test_search_tools(self) -> None:
        assert search_tools("web, X,web") == [{"type": "web_search"}, {"type": "x_search"}]
        for bad in ([], "images", [1], {"web": True}):
            with pytest.raises(RequestRejected):
                search_tools(bad)

    def test_video_job_states(self) -> None:
        assert read_video_job(202, {"status": "pending"}, "r").state == "pending"
        done = read_video_job(
            200, {"status": "done", "video": {"url": "https://vidgen.x.ai/a.mp4", "duration": 6}}, "r"
        )
        assert (done.state, done.url, done.duration) == ("done", "https://vidgen.x.ai/a.mp4", 6.0)
        with pytest.raises(GenerationFailed, match="went wrong"):
            read_video_job(200, {"status": "failed", "error": {"message": "went wrong"}}, "r")
        with pytest.raises(ContentRefused):
            read_video_job(200, {"status": "failed", "error": "Content violates usage guidelines"}, "r")
        for odd in ({"status": "queued?"}, [], {"status": "done", "video": {"url": 7}}):
            with pytest.raises(MalformedResponse):
                read_video_job(200, odd, "r")

    def test_media_hosts(self) -> None:
        for url in ("https://imgen.x.ai/a.png", "https://vidgen.x.ai/b.mp4", "http://127.0.0.1:9/_media/c"):
            assert require_media_host(url) == url
        for url in (
            "http://imgen.x.ai/a.png",
            "https://x.ai.example.com/a",
            "https://evilx.ai/a",
            "file:///etc/passwd",
        ):
            with pytest.raises(MalformedResponse):
                require_media_host(url)

    def test_sniffing(self) -> None:
        assert sniff_extension(png("a")[:16]) == "png" and sniff_extension(mp4("b")[:16]) == "mp4"
        assert sniff_extension(b"\xff\xd8\xff\xe0") == "jpg" and sniff_extension(b"RIFF\0\0\0\0WEBPVP8 ") == "webp"
        assert sniff_extension(base64.b64encode(b"text")) is None
