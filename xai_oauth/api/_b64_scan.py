"""Where do an image answer's pictures go while it arrives? Into files, decoded a piece at a time. Pure.

An ``/images/*`` answer is JSON whose ``"b64_json"`` strings hold whole pictures. Joining the body, parsing it
and decoding it held a picture about 4.5 times in memory (issue 22 item 5). ``B64Scanner`` reads the body as it
arrives: each ``"b64_json"`` string value is decoded in runs of whole base64 quads into a sink of its own (a
temporary file), and replaced in the rest of the JSON by a marker ``"#<n>"``, the n-th sink. What is left
(``revised_prompt``, ``url``, the brackets) is small and goes to the normal strict parser, which checks it all.

A small scanner for the one field, not an incremental JSON reader: ijson's fast path is a C extension (a
dependency to build and ship for one field), and its pure-Python backend costs microseconds a byte. Here the
base64 runs are found with one regular expression search per chunk, so the cost per byte is C's.

Only ``\\/`` is accepted as an escape inside a ``b64_json`` string (some encoders escape ``/``); any other
escape, a character outside the base64 alphabet, data after padding or a length that is not whole quads is
``MalformedResponse``, as ``base64.b64decode(validate=True)`` of the whole string was.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Protocol

from .._exceptions import MalformedResponse

__all__ = ["MARKER", "B64Scanner", "Sink"]

#: How a ``b64_json`` value the scanner took is left in the rest: ``"#0"``, ``"#1"``, ... (never valid base64).
MARKER = "#"

_KEY = b"b64_json"
_QUOTE_OR_ESCAPE = re.compile(rb'["\\]')


class Sink(Protocol):
    """Where one picture's bytes go (an open binary file)."""

    def write(self, data: bytes, /) -> object: ...


# The lexer's states: outside any string; inside a string of the rest; after a "b64_json" key; after its colon;
# inside a b64_json value.
_OUT, _STRING, _AFTER_KEY, _AFTER_COLON, _VALUE = range(5)


class B64Scanner:
    """``feed`` it the body's chunks in order, then ``finish()`` for the rest of the JSON (bytes).

    ``open_sink(n)`` is called when the n-th non-empty ``b64_json`` value starts; ``max_picture`` caps each
    decoded picture and ``max_rest`` the rest (both ``MalformedResponse`` when passed, naming ``cap_hint``).
    """

    def __init__(
        self, open_sink: Callable[[int], Sink], *, max_picture: int, max_rest: int, cap_hint: str = ""
    ) -> None:
        self._open_sink, self._max_picture, self._max_rest, self._hint = open_sink, max_picture, max_rest, cap_hint
        self._rest = bytearray()
        self._state = _OUT
        self._escaped = False  # the previous byte was a backslash (inside a string, or a value)
        self._string_start = 0  # where the current rest string's text starts in ``_rest``
        self._pending = b""  # base64 characters not yet a whole quad
        self._sink: Sink | None = None
        self._written = 0
        self._padded = False
        self.pictures = 0

    def feed(self, chunk: bytes) -> None:
        view, at = chunk, 0
        while at < len(view):
            if self._state == _VALUE:
                at = self._value(view, at)
            elif self._state in (_AFTER_KEY, _AFTER_COLON):
                at = self._between(view, at)
            else:
                at = self._text(view, at)
        if len(self._rest) > self._max_rest:
            raise MalformedResponse(f"The image answer holds over {self._max_rest / 1048576:g} MiB besides pictures.")

    def finish(self) -> bytes:
        """The rest of the JSON, each taken value replaced by its marker; a value cut off is ``MalformedResponse``."""
        if self._state == _VALUE:
            raise MalformedResponse("The image answer ended inside a picture.")
        return bytes(self._rest)

    def _text(self, view: bytes, at: int) -> int:
        """Outside a ``b64_json`` value: copy to the rest, tracking strings so a key is only found as a key."""
        if self._state == _OUT:
            quote = view.find(b'"', at)
            if quote < 0:
                self._rest += view[at:]
                return len(view)
            self._rest += view[at : quote + 1]
            self._state, self._string_start, self._escaped = _STRING, len(self._rest), False
            return quote + 1
        if self._escaped:  # the byte after a backslash that ended the last chunk
            self._rest += view[at : at + 1]
            self._escaped = False
            return at + 1
        found = _QUOTE_OR_ESCAPE.search(view, at)
        if found is None:
            self._rest += view[at:]
            return len(view)
        end = found.start()
        self._rest += view[at : end + 1]
        if view[end] == 0x5C:  # backslash: the next byte, wherever it is, belongs to the string
            self._escaped = True
            return end + 1
        key = self._rest[self._string_start : len(self._rest) - 1] == _KEY
        self._state = _AFTER_KEY if key else _OUT
        return end + 1

    def _between(self, view: bytes, at: int) -> int:
        """After a ``"b64_json"`` string: whitespace, ``:``, whitespace, then a string value is ours."""
        byte = view[at : at + 1]
        if byte in (b" ", b"\t", b"\r", b"\n"):
            self._rest += byte
        elif byte == b":" and self._state == _AFTER_KEY:
            self._rest += byte
            self._state = _AFTER_COLON
        elif byte == b'"' and self._state == _AFTER_COLON:
            self._rest += byte
            self._state, self._escaped = _VALUE, False
        else:  # not a key after all, or a value that is not a string: the strict parser judges it
            self._state = _OUT
            return at
        return at + 1

    def _value(self, view: bytes, at: int) -> int:
        """Inside a ``b64_json`` value: base64 runs to the sink; ``\\/`` is ``/``; the closing quote ends it."""
        if self._escaped:
            if view[at : at + 1] != b"/":
                raise MalformedResponse("An image in the answer is not valid base64.")
            self._escaped = False
            self._take(b"/")
            return at + 1
        found = _QUOTE_OR_ESCAPE.search(view, at)
        end = len(view) if found is None else found.start()
        if end > at:
            self._take(view[at:end])
        if found is None:
            return end
        if view[end] == 0x5C:
            self._escaped = True
            return end + 1
        self._close_value()
        return end + 1

    def _take(self, text: bytes) -> None:
        if self._padded:
            raise MalformedResponse("An image in the answer is not valid base64.")
        if self._sink is None:
            self._sink, self._written = self._open_sink(self.pictures), 0
        text = self._pending + text
        whole = len(text) - len(text) % 4
        self._pending = text[whole:]
        if whole:
            self._write(text[:whole])

    def _write(self, quads: bytes) -> None:
        try:
            data = base64.b64decode(quads, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedResponse("An image in the answer is not valid base64.") from None
        self._padded = quads.endswith(b"=")
        self._written += len(data)
        if self._written > self._max_picture:
            raise MalformedResponse(
                f"An image in the answer is over {self._max_picture / 1048576:g} MiB.", action=self._hint or None
            )
        assert self._sink is not None
        self._sink.write(data)

    def _close_value(self) -> None:
        if self._pending:
            raise MalformedResponse("An image in the answer is not valid base64.")
        if self._sink is not None:
            self._rest += f"{MARKER}{self.pictures}".encode()
            self.pictures += 1
        self._rest += b'"'
        self._sink, self._padded, self._state = None, False, _OUT
