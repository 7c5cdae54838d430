"""The event-stream parser: what httpx2's ``EventSource`` reads, from bytes cut anywhere, and bounded."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xai_oauth import MalformedResponse
from xai_oauth.transport._http import EventStream, Http
from xai_oauth.transport._sse import EventParser, EventTooLarge


def parsed(raw: bytes, cuts: list[int], max_event_bytes: int = 1 << 20) -> list[tuple[str, str]]:
    parser = EventParser(max_event_bytes)
    events: list[tuple[str, str]] = []
    for chunk in pieces(raw, cuts):
        events += parser.feed(chunk)
    return events


def pieces(raw: bytes, cuts: list[int]) -> list[bytes]:
    at, out = 0, []
    for cut in sorted({c % (len(raw) + 1) for c in cuts}):
        out.append(raw[at:cut])
        at = cut
    return [*out, raw[at:]]


def httpx2_reads(raw: bytes, cuts: list[int]) -> list[tuple[str, str]]:
    response = httpx2.Response(
        200,
        headers={"content-type": "text/event-stream"},
        content=iter(pieces(raw, cuts)),
        request=httpx2.Request("GET", "https://api.x.ai/v1/x"),
    )
    return [(event.event, event.data) for event in httpx2.EventSource(response)]


values = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12)
lines = st.one_of(
    st.tuples(
        st.sampled_from(["data", "event", "id", "retry", "dat", ""]), st.sampled_from([":", ": ", ":  "]), values
    ).map("".join),
    st.sampled_from(["data", "event", "retry: 12", "id: a\0b", ": keep-alive", ":", "data:[DONE]"]),
    st.just(""),  # the blank line that ends an event
)
breaks = st.sampled_from(["\n", "\r\n", "\r"])
streams = st.lists(st.tuples(lines, breaks).map("".join), max_size=25).map("".join)


@settings(max_examples=400, deadline=None)
@given(streams, st.lists(st.integers(min_value=0), max_size=8))
def test_it_reads_what_httpx2_reads_wherever_the_chunks_are_cut(text: str, cuts: list[int]) -> None:
    raw = text.encode()
    if raw.endswith(b"\r"):  # the one place the two differ (see the module doc)
        raw += b"\n"
    assert parsed(raw, cuts) == httpx2_reads(raw, cuts)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60), st.lists(st.integers(min_value=0), max_size=6))
def test_bytes_that_are_no_utf_8_read_as_httpx2_reads_them(noise: bytes, cuts: list[int]) -> None:
    raw = b"data: " + noise.replace(b"\r", b"").replace(b"\n", b"") + b"\n\nevent: e\ndata: \xe2\x82\n\n"
    assert parsed(raw, cuts) == httpx2_reads(raw, cuts)


def test_the_common_shapes() -> None:
    raw = (
        b": keep-alive\n\n"
        b'data: {"a":1}\n\n'
        b"event: response.created\r\ndata: x\r\ndata: y\r\n\r\n"
        b"data:no-space\r\rretry: 5\n\nid: 7\n\n"
        b"data: [DONE]\n\n"
    )
    expected = [
        ("message", '{"a":1}'),
        ("response.created", "x\ny"),
        ("message", "no-space"),
        ("message", ""),  # a retry alone is an event, as httpx2 reads it
        ("message", ""),
        ("message", "[DONE]"),
    ]
    assert parsed(raw, []) == expected
    assert parsed(raw, list(range(len(raw)))) == expected  # one byte at a time


def test_an_event_open_when_the_stream_ends_is_dropped() -> None:
    assert parsed(b"data: a\n\ndata: b\r", []) == [("message", "a")]
    assert parsed(b"data: a\n\ndata: b", []) == [("message", "a")]


def test_a_crlf_cut_between_its_two_bytes_is_one_line_break() -> None:
    parser = EventParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\n\r") == [("message", "a")]
    assert parser.feed(b"\n") == []  # the LF of that CRLF: no second blank line, no event


class TestItsBound:
    def test_a_line_that_never_ends_is_refused_once_past_the_bound(self) -> None:
        parser = EventParser(max_event_bytes=1000)
        parser.feed(b"data: " + b"x" * 900)
        with pytest.raises(EventTooLarge):
            parser.feed(b"x" * 200)

    def test_many_lines_of_one_event_count_together(self) -> None:
        with pytest.raises(EventTooLarge):
            parsed(b"data: xxxxxxxxxx\n" * 200, [], max_event_bytes=1000)

    def test_comments_do_not_count_and_each_event_starts_afresh(self) -> None:
        raw = (b": " + b"c" * 500 + b"\n") * 10 + (b"data: " + b"x" * 500 + b"\n\n") * 10
        assert len(parsed(raw, [], max_event_bytes=1000)) == 10

    def test_a_stream_of_one_endless_event_is_a_malformed_answer_through_http(self) -> None:
        def endless() -> Iterator[bytes]:
            yield b"data: "
            while True:
                yield b"x" * 65536

        transport = httpx2.MockTransport(
            lambda request: httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=endless())
        )
        http = Http(transport)
        with http.open_event_stream("https://api.x.ai/v1/chat/completions", {}) as opened:
            assert isinstance(opened, EventStream)
            with pytest.raises(MalformedResponse) as caught:
                list(opened)
        assert "api.x.ai sent a malformed event stream" in caught.value.message
        http.close()
