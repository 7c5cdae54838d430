"""The image answer's scanner: pictures decoded in pieces into sinks, the rest of the JSON kept for the parser."""

from __future__ import annotations

import base64
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xai_oauth import MalformedResponse
from xai_oauth.api._b64_scan import B64Scanner
from xai_oauth.api._media_rules import read_images


class Sinks:
    def __init__(self) -> None:
        self.files: list[io.BytesIO] = []

    def open(self, number: int) -> io.BytesIO:
        assert number == len(self.files)  # numbered in order, one each
        self.files.append(io.BytesIO())
        return self.files[-1]


def scan(raw: bytes, cuts: list[int], *, max_picture: int = 1 << 20) -> tuple[object, list[bytes]]:
    sinks = Sinks()
    scanner = B64Scanner(sinks.open, max_picture=max_picture, max_rest=1 << 20, cap_hint="raise the cap")
    at = 0
    for cut in sorted({c % (len(raw) + 1) for c in cuts}):
        scanner.feed(raw[at:cut])
        at = cut
    scanner.feed(raw[at:])
    return json.loads(scanner.finish()), [f.getvalue() for f in sinks.files]


pictures = st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=4)
texts = st.text(max_size=30)


@settings(max_examples=150, deadline=None)
@given(pictures, st.lists(st.integers(min_value=0), max_size=12), st.booleans(), texts, st.booleans())
def test_any_split_any_escape_several_pictures(
    datas: list[bytes], cuts: list[int], slash_escaped: bool, revised: str, spaced: bool
) -> None:
    items = [{"revised_prompt": revised, "b64_json": base64.b64encode(d).decode()} for d in datas]
    raw = json.dumps({"data": items}, separators=None if spaced else (",", ":"))
    if slash_escaped:
        raw = raw.replace("/", "\\/")  # every slash: in the pictures and in the prompts alike
    body, written = scan(raw.encode(), cuts)
    assert written == datas
    assert [i["revised_prompt"] for i in body["data"]] == [revised] * len(datas)  # type: ignore[index]
    found = read_images(body, [f"file{n}" for n in range(len(datas))])
    assert [p.file for p in found] == [f"file{n}" for n in range(len(datas))]
    assert all(p.data is None and p.url is None for p in found)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0), max_size=8), texts)
def test_the_key_inside_a_string_or_as_a_value_is_not_a_picture(cuts: list[int], text: str) -> None:
    tricky = {
        "note": 'say "b64_json": "AAAA" here',
        "b64_json_not": "AAAA",
        "x": "b64_json",
        "data": [{"url": "https://imgen.x.ai/a.png", "revised_prompt": text + '\\"b64_json\\":'}],
        "b64_json": None,
    }
    raw = json.dumps(tricky).encode()
    body, written = scan(raw, cuts)
    assert body == tricky and written == []


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0), max_size=8))
def test_an_empty_value_is_left_for_the_reader(cuts: list[int]) -> None:
    body, written = scan(b'{"data": [{"b64_json": "", "url": "https://imgen.x.ai/a.png"}]}', cuts)
    assert written == [] and body == {"data": [{"b64_json": "", "url": "https://imgen.x.ai/a.png"}]}


@pytest.mark.parametrize(
    "value",
    [
        "QUJD\\nRA==",  # an escape other than \/
        "QUJDRA",  # not whole quads
        "QQ==QUJD",  # data after padding
        "QUJ*",  # outside the alphabet
        "QUJD RA==",
        "#0",  # a marker cannot be smuggled in: it is not base64
    ],
)
def test_what_b64decode_validate_refused_is_refused(value: str) -> None:
    raw = ('{"data": [{"b64_json": "' + value + '"}]}').encode()
    for size in (1, 3, len(raw)):
        with pytest.raises(MalformedResponse):
            scan(raw, list(range(0, len(raw), size)))


def test_a_cut_off_answer_and_the_caps() -> None:
    with pytest.raises(MalformedResponse, match="ended inside a picture"):
        scan(b'{"data": [{"b64_json": "QUJD', [])
    big = json.dumps({"data": [{"b64_json": base64.b64encode(bytes(5000)).decode()}]}).encode()
    with pytest.raises(MalformedResponse, match="over") as refused:
        scan(big, [100, 2000], max_picture=4096)
    assert refused.value.action == "raise the cap"
    scanner = B64Scanner(Sinks().open, max_picture=1 << 20, max_rest=10)
    with pytest.raises(MalformedResponse, match="besides pictures"):
        scanner.feed(b'{"revised_prompt": "a long prompt indeed"}')


def test_pieces_are_decoded_as_they_come_not_held() -> None:
    """The scanner keeps under four characters of base64 between chunks: the picture is in the sink, not here."""
    sinks = Sinks()
    scanner = B64Scanner(sinks.open, max_picture=1 << 20, max_rest=1 << 20)
    data = bytes(range(256)) * 40
    raw = json.dumps({"data": [{"b64_json": base64.b64encode(data).decode()}]}).encode()
    for at in range(0, len(raw), 1001):
        scanner.feed(raw[at : at + 1001])
        assert len(scanner._pending) < 4 and len(scanner._rest) < 64
    assert json.loads(scanner.finish()) == {"data": [{"b64_json": "#0"}]}
    assert sinks.files[0].getvalue() == data
