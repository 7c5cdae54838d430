"""The per-profile secret behind conversation ids: made once, exclusively, 0600, and never sent anywhere.

``_conversation`` turns a conversation's start into its id with an HMAC under
this key, so that every turn (from any process) finds the same id while the
id itself says nothing about the conversation. It lives in the profile's slot
directory: two profiles (two people) never share ids. Made with a hard link
from a finished temp file, so two processes racing to make it agree on one
key and neither ever reads a half-written one.
"""

from __future__ import annotations

import os

from ..store._files import ensure_private_dir, fsync_dir, read_regular, remove
from ..store._paths import Paths

__all__ = ["KEY_BYTES", "conversation_key"]

KEY_BYTES = 32


def conversation_key(paths: Paths) -> bytes:
    """This profile's conversation secret, made on first use."""
    path = paths.conversation_key
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    ensure_private_dir(paths.dir)
    tmp = f"{path}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(KEY_BYTES))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # exclusive: an existing key (another process won the race) is kept
        except FileExistsError:
            pass
    finally:
        remove(tmp)
    fsync_dir(paths.dir)
    return _read(path)


def _read(path: str) -> bytes:
    key = read_regular(path, 1024, what="conversation key", follow=False, private=True)
    if len(key) < KEY_BYTES:
        from ..store._files import corrupt

        raise corrupt(path, "conversation key", "was too short")
    return key
