"""How do processes take turns on a slot's files, when sign-out removes the lock file itself?

An exclusive ``flock`` on the slot's ``.lock``, held for one read-modify-write
and released by closing (so a killed holder releases it too). Sign-out
removes the file while it holds it, so that nothing of the sign-in is left;
a process that opened the old file meanwhile would then lock a file nobody
else can see. So every acquisition checks, once locked, that the path still
names the very file it locked, and starts again on the new one otherwise
(as ``git``, Nix and portage lock). Waiting is a poll without blocking, so
``timeout`` holds.

filelock is not used here: its waiters keep probing a file that was removed
while they waited and can time out on it. It stays the lock where ``flock``
is missing (Windows, some network filesystems), where sign-out leaves the
file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Iterator

from ._errors import StoreBusy, StoreError

__all__ = ["POLL_SECONDS", "exclusive", "try_lock"]

#: How often a waiter tries again: as filelock's default poll interval.
POLL_SECONDS = 0.05
_UNSUPPORTED = {errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL}


@contextlib.contextmanager
def exclusive(path: str, timeout: float) -> Iterator[bool]:
    """Hold the lock on ``path`` (made 0600 when missing); ``StoreBusy`` after ``timeout`` seconds of waiting.

    ``FileNotFoundError`` when the folder of ``path`` is missing. Yields whether the holder may remove the
    file (True with ``flock`` and the checks above).
    """
    fd = _acquire(path, timeout)
    if fd is None:
        with _filelock(path, timeout):
            yield False
        return
    try:
        yield True
    finally:
        os.close(fd)  # releases the lock


def _acquire(path: str, timeout: float) -> int | None:
    """The locked descriptor of the file ``path`` names now; None where there is no ``flock``."""
    try:
        import fcntl  # noqa: F401 - only to know whether there is flock
    except ImportError:  # Windows
        return None
    deadline = time.monotonic() + timeout
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    while True:
        try:
            fd = os.open(path, flags, 0o600)
        except FileNotFoundError:
            raise  # its folder is gone (a sign-out removed it): the caller makes it again
        except OSError as exc:
            raise StoreError(f"Cannot open the lock file {path} ({exc.strerror}).") from None
        outcome = try_lock(fd, path)
        if outcome == "locked":
            return fd
        os.close(fd)
        if outcome == "unsupported":
            return None
        if outcome == "busy":
            if time.monotonic() >= deadline:
                raise StoreBusy(f"Another process held the xai-oauth lock for over {timeout:g} s.")
            time.sleep(POLL_SECONDS)
        # "removed": the holder before us removed (or replaced) the file; lock the one the path names now


def try_lock(fd: int, path: str) -> str:
    """One try to lock ``fd``, opened on ``path``: locked, busy, removed (locked, but ``path`` names another
    file now, so the lock guards nothing; released again) or unsupported (no ``flock`` here)."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in _UNSUPPORTED:
            return "unsupported"
        if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
            return "busy"
        raise StoreError(f"Cannot lock {path} ({exc.strerror}).") from None
    try:
        named = os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False))
    except FileNotFoundError:
        named = False
    if not named:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return "removed"
    return "locked"


@contextlib.contextmanager
def _filelock(path: str, timeout: float) -> Iterator[None]:
    """filelock where there is no ``flock``; its lock object is let go only where Ctrl-C is held.

    filelock's finalizer runs when the object goes, and Python drops any exception raised inside a finalizer, so
    a Ctrl-C landing there would be lost (``xai-oauth login`` went on polling). Held, it is delivered as the
    block ends (``_interrupts.deferred_interrupts``).
    """
    import filelock

    from ._interrupts import deferred_interrupts

    held = [filelock.FileLock(path, timeout=timeout, mode=0o600)]
    try:
        held[0].acquire()
    except filelock.Timeout as busy:
        with deferred_interrupts():
            busy.__traceback__ = None  # its frames hold the lock object too
            held.clear()
        raise StoreBusy(f"Another process held the xai-oauth lock for over {timeout:g} s.") from None
    except BaseException:
        with deferred_interrupts():
            held.clear()
        raise
    try:
        yield
    finally:
        with deferred_interrupts():
            held[0].release()
            held.clear()
