"""Small, careful JSON files: created 0600 from the start, replaced atomically.

A reader never sees a half-written file: we write a sibling temp file (opened
with mode 0600 by ``os.open``, never chmod-ed after the fact), fsync it and
``os.replace`` it over the old one, then fsync the directory. A file that
does not parse is moved aside to ``<name>.corrupt-<time>`` and reported, never
silently overwritten, so nothing a person might want back is lost.

Every read goes through ``read_regular``: a regular file only, opened without
blocking and capped in size, so a FIFO or a device planted where a file of
ours (or a ``.env.xai``) should be can neither hang a call nor fill memory.

Only ``os``, ``stat`` and ``json`` here: ``read_json`` is on the offline status() path.
"""

import errno
import json
import os
import stat
import time

from ._errors import HomeInsecure, StoreCorrupt, StoreError

__all__ = [
    "check_private",
    "corrupt",
    "ensure_private_dir",
    "fsync_dir",
    "loads_strict",
    "read_json",
    "read_regular",
    "remove",
    "set_aside",
    "write_json",
]

_DIR_MODE = 0o700
_FILE_MODE = 0o600
#: The most any JSON file of ours in the home holds (a credential or state file is a few KiB; a model listing
#: tens): a bigger one was not written by us, and reading it whole could exhaust memory.
JSON_CAP = 4 * 1024 * 1024


def check_private(path: str, st: "os.stat_result | None" = None) -> None:
    """``HomeInsecure`` when ``path`` is owned by another user or writable by group or others.

    The same rule ssh applies to ``~/.ssh``: a file someone else can write may
    have been planted (a credential, a ``.env.xai`` naming another host), so it
    is refused, never used and never silently "fixed". ``st`` is the file's
    ``fstat`` when the caller already opened it (no race with a swap).
    Not on Windows, where ownership and modes do not work this way.
    """
    if os.name == "nt":
        return
    if st is None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(f"Cannot inspect {path} ({exc.strerror}).") from None
    if st.st_uid != os.geteuid():
        raise HomeInsecure(
            f"{path} belongs to another user (uid {st.st_uid}), so xai-oauth will not use it.",
            action=f"If it is really yours, run: chown {os.geteuid()} '{path}'; else set XAI_OAUTH_HOME to a "
            "directory of your own.",
        )
    if st.st_mode & 0o022:
        raise HomeInsecure(
            f"{path} can be written by other users (mode {st.st_mode & 0o777:o}), so xai-oauth will not use it.",
            action=f"Check its contents, then run: chmod go-w '{path}'",
        )


def ensure_private_dir(path: str) -> None:
    """Create ``path`` and any missing parents, each 0700; an existing one must pass ``check_private``.

    (``os.makedirs`` gives only the leaf the mode; the parents it creates would be 0755.)
    A parent that vanishes meanwhile (a sign-out removing its empty slot's
    folders) is made again.
    """
    for attempt in range(3):
        missing = []
        head = os.path.abspath(path)
        while not os.path.isdir(head):
            missing.append(head)
            parent = os.path.dirname(head)
            if parent == head:
                break
            head = parent
        try:
            for directory in reversed(missing):
                _make_dir(directory)
            break
        except FileNotFoundError:
            if attempt == 2:
                raise StoreError(f"Cannot create the directory {path} (its parent keeps vanishing).") from None
    check_private(path)


def _make_dir(directory: str) -> None:
    try:
        os.mkdir(directory, _DIR_MODE)
    except FileExistsError:
        pass
    except FileNotFoundError:
        raise  # its parent vanished: the caller walks the path again
    except OSError as exc:
        raise StoreError(f"Cannot create the directory {directory} ({exc.strerror}).") from None


def _finite(text: str) -> float:
    number = float(text)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError("a number too large for a float")
    return number


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


#: Built once: ``json.loads`` with hooks builds a new decoder on every call, and a stream parses every event.
_STRICT_JSON = json.JSONDecoder(parse_constant=_no_constants, parse_float=_finite)


def loads_strict(raw: "bytes | str") -> object:
    """``json.loads`` that refuses what no file of ours holds: NaN, Infinity, 1e400, nesting past the stack.

    Every failure is ``ValueError`` (a ``RecursionError`` from a deeply
    nested document included), so callers have one thing to catch.
    """
    try:
        text = raw if isinstance(raw, str) else raw.decode(json.detect_encoding(raw), "surrogatepass")  # as json.loads
        return _STRICT_JSON.decode(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def read_regular(path: str, cap: int, *, what: str = "file", follow: bool = True, private: bool = False) -> bytes:
    """The bytes of the regular file at ``path``, at most ``cap`` of them; never blocks, never reads without end.

    Opened with ``O_NONBLOCK`` (a FIFO opens at once instead of waiting for
    a writer) and checked with ``fstat`` on the open descriptor (no race with
    a swap): anything but a regular file is refused with ``StoreError``, so
    a planted FIFO or a symlink to ``/dev/zero`` can neither hang us nor fill
    memory. A file over ``cap`` bytes is refused too. ``follow=False`` adds
    ``O_NOFOLLOW``: the home's own files are written by us, never as links.
    ``private`` applies ``check_private`` to the opened file.
    ``FileNotFoundError`` passes through; every other failure is ``StoreError``
    naming the ``what`` and the path.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == getattr(errno, "ELOOP", None) and not follow:
            raise _refused(what, path, "is a symbolic link, and xai-oauth writes only plain files there") from None
        raise StoreError(f"Cannot read the {what} at {path} ({exc.strerror}).") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refused(what, path, f"is {_kind(st.st_mode)}, not a regular file")
        if private:
            check_private(path, st)
        if st.st_size > cap:
            raise _refused(what, path, f"is {st.st_size} bytes, more than the {cap} such a file may hold")
        chunks, left = [], cap + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise StoreError(f"Cannot read the {what} at {path} ({exc.strerror}).") from None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > cap:  # it grew after the fstat
        raise _refused(what, path, f"holds more than the {cap} bytes such a file may hold")
    return raw


def _refused(what: str, path: str, why: str) -> StoreError:
    return StoreError(
        f"The {what} at {path} {why}, so xai-oauth did not read it.",
        action=f"Look at what {path} is; if it is not yours, remove it.",
    )


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a plain file"


def read_json(
    path: str, *, what: str = "file", keep_damaged: bool = True, cap: int = JSON_CAP
) -> "dict[str, object] | None":
    """The JSON object in ``path``; None when the file does not exist.

    A file that exists but is not a JSON object (or is one we would choke
    on: see ``loads_strict``) is set aside and ``StoreCorrupt`` is raised,
    naming where it went; a cache, whose loss costs nothing, passes
    ``keep_damaged=False`` and the file is deleted instead. Something that
    is not a regular file (a FIFO, a link, a device) or is over ``cap``
    bytes is a ``StoreError`` and is left where it is: it was not written by
    us, and what it is should be looked at by a person.
    """
    try:
        raw = read_regular(path, cap, what=what, follow=False, private=True)
    except FileNotFoundError:
        return None
    try:
        data = loads_strict(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        if not keep_damaged:
            remove(path)
            raise StoreCorrupt(f"The {what} at {path} was damaged; it was removed.")
        raise corrupt(path, what)
    return data


def corrupt(path: str, what: str, why: str = "was damaged") -> StoreCorrupt:
    """Set ``path`` aside; the ``StoreCorrupt`` to raise, naming where it went."""
    kept = set_aside(path)
    return StoreCorrupt(f"The {what} at {path} {why}; it was moved to {kept}.")


def set_aside(path: str) -> str:
    """Rename a damaged file out of the way and return its new name."""
    kept = f"{path}.corrupt-{int(time.time())}"
    try:
        os.replace(path, kept)
    except OSError:
        return path
    return kept


def write_json(path: str, data: "dict[str, object]") -> None:
    """Atomically replace ``path`` with ``data`` as JSON, mode 0600 from creation."""
    directory = os.path.dirname(path)
    ensure_private_dir(directory)
    tmp = f"{path}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
    payload = json.dumps(data, indent=1, sort_keys=True).encode()
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), _FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            remove(tmp)
            raise
        os.replace(tmp, path)
    except OSError as exc:
        remove(tmp)
        raise StoreError(f"Cannot write {path} ({exc.strerror}).") from None
    fsync_dir(directory)


def remove(path: str) -> None:
    """Delete ``path`` if it exists."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StoreError(f"Cannot delete {path} ({exc.strerror}).") from None


def fsync_dir(directory: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
