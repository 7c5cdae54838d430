"""Ctrl-C and SIGTERM wait while a token answer is on its way to disk.

A signal that lands between sending a grant and saving its answer would drop
the only copy of a rotated refresh token. Inside ``deferred_interrupts()``
SIGINT and SIGTERM are noted instead of acted on; when the block ends, the
previous handlers come back and each noted signal is raised again, so the
process stops exactly as it would have, a few milliseconds later. The block
itself is bounded by the request's deadline, so a person is never ignored
for long. SIGKILL cannot be deferred; the journal (``_journal``) covers it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["deferred_interrupts", "remembered_interrupts"]

_DEFERRED = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the block, then deliver them. Off the main thread, a no-op (Python's rule)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def note(signum: int, frame: Any) -> None:
        caught.append(signum)

    previous: dict[int, Any] = {}
    for sig in _DEFERRED:
        try:
            previous[sig] = signal.signal(sig, note)
        except (OSError, ValueError):  # an embedding that does not let us: behave as before
            pass
    try:
        yield
    finally:
        for held, handler in previous.items():
            signal.signal(held, handler if handler is not None else signal.SIG_DFL)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)


@contextlib.contextmanager
def remembered_interrupts() -> Iterator[Callable[[], None]]:
    """Ctrl-C raises ``KeyboardInterrupt`` as usual, and is remembered: the ``check`` this yields raises it again.

    Python drops any exception raised inside a finalizer or a weakref callback, and a Ctrl-C can land in one
    (a poll loop lets objects go all the time), so a loop that must stop calls ``check`` between its steps.
    Off the main thread, ``check`` never raises (Python's rule: signals reach the main thread only).
    """
    seen: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return

    def interrupt(signum: int, frame: Any) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    def check() -> None:
        if seen:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)
