"""Small, careful JSON files: created 0600 from the start, replaced atomically.

A reader never sees a half-written file: we write a sibling temp file (opened
with mode 0600 by ``os.open``, never chmod-ed after the fact), fsync it and
``os.replace`` it over the old one, then fsync the directory. A file that
does not parse is moved aside to ``<name>.corrupt-<time>`` and reported, never
silently overwritten, so nothing a person might want back is lost.

Only ``os`` and ``json`` here: ``read_json`` is on the offline status() path.
"""

import json
import os
import time

from ._exceptions import StoreCorrupt, StoreError

__all__ = ["ensure_private_dir", "read_json", "remove", "set_aside", "write_json"]

_DIR_MODE = 0o700
_FILE_MODE = 0o600


def ensure_private_dir(path: str) -> None:
    """Create ``path`` (and parents) as 0700 if missing."""
    try:
        os.makedirs(path, mode=_DIR_MODE, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"Cannot create the directory {path} ({exc.strerror}).") from None


def read_json(path: str, *, what: str = "file") -> "dict[str, object] | None":
    """The JSON object in ``path``; None when the file does not exist.

    A file that exists but is not a JSON object is set aside and
    ``StoreCorrupt`` is raised, naming where it went.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"Cannot read the {what} at {path} ({exc.strerror}).") from None
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        kept = set_aside(path)
        raise StoreCorrupt(f"The {what} at {path} was damaged; it was moved to {kept}.")
    return data


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
    _fsync_dir(directory)


def remove(path: str) -> None:
    """Delete ``path`` if it exists."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StoreError(f"Cannot delete {path} ({exc.strerror}).") from None


def _fsync_dir(directory: str) -> None:
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
