"""Which database holds the shared state, and how one transaction reaches it: SQLite in the home, or PostgreSQL.

The embedded default is one SQLite file in the home (``state.db``, WAL mode,
0600 from the start): nothing to start, and every server and process on the
machine shares it. ``XAI_OAUTH_STORE_URL=postgresql://…`` names a PostgreSQL
database instead, for several machines; ``sqlite:///path`` names another
SQLite file.

One statement text serves both engines: parameters are written ``:name``
and turned into psycopg's ``%(name)s`` once per statement. Everything else
that differs (the write lock, a blob's type) is the caller's to ask of
``engine``.

A transaction borrows a connection from a small idle list and gives it back;
a connection that failed is dropped, never reused. Failures come out as our
own errors: ``StoreUnavailable`` (the server is down, unreachable or refused
us; the message names the database by host, port and name, never its
password), ``StoreBusy`` (a lock was held too long), ``StoreCorrupt`` (the
SQLite file is not a database), ``StoreError`` otherwise. The password of a
URL is remembered as a secret, so ``_redact.scrub`` strips it from any text.

psycopg is imported only when a PostgreSQL URL is used (about 100 ms), and
sqlite3 only when the state store is opened (about 2 ms): ``status()``
without a URL imports neither.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from .._exceptions import ConfigError
from .._redact import remember_secret
from ._errors import StoreBusy, StoreCorrupt, StoreError, StoreUnavailable
from ._files import check_private, ensure_private_dir

__all__ = [
    "ENGINES",
    "STATE_FILE",
    "Database",
    "Transaction",
    "check_store_url",
    "open_database",
    "shown_url",
]

ENGINES = ("sqlite", "postgresql")
#: The embedded store's file in the home.
STATE_FILE = "state.db"
#: Seconds to wait for a lock (SQLite's busy timeout, PostgreSQL's lock_timeout) before ``StoreBusy``.
LOCK_WAIT = 30.0
#: Seconds to wait for PostgreSQL to accept a connection before ``StoreUnavailable``.
CONNECT_TIMEOUT = 5
#: Idle connections kept for the next transaction (a server's worker threads share them).
MAX_IDLE = 4
#: libpq's TCP settings unless the URL says otherwise: a cut network is noticed in about 25 s, not 2 hours.
TCP_DEFAULTS = {"keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5", "keepalives_count": "3"}

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def check_store_url(url: str) -> str:
    """``url`` when it names a database we can use (``postgresql://``, ``postgres://``, ``sqlite:///``).

    Its password, if any, is remembered as a secret at once. ``config_invalid``
    otherwise, with the URL shown without its password.
    """
    parts = urlsplit(url.strip())
    if parts.password:
        remember_secret(parts.password)
        remember_secret(unquote(parts.password))
    scheme = parts.scheme.lower()
    if scheme in ("postgresql", "postgres") and (parts.hostname or "host=" in parts.query):
        return url.strip()
    if scheme == "sqlite" and parts.path not in ("", "/") and not parts.netloc:
        return url.strip()
    raise ConfigError(
        f"XAI_OAUTH_STORE_URL must be postgresql://user@host/dbname or sqlite:///path, got {shown_url(url)!r}.",
        action="Set XAI_OAUTH_STORE_URL=postgresql://USER:PASSWORD@HOST:5432/DBNAME, or unset it for the home's "
        "SQLite file.",
    )


def shown_url(url: str) -> str:
    """``url`` as people may see it: scheme, user, host, port and database, never the password or the options."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() == "sqlite":
        return f"sqlite://{parts.path}"
    user = f"{unquote(parts.username)}@" if parts.username else ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    host = parts.hostname or ""
    if not host:
        host = next((unquote(v) for k, _, v in (p.partition("=") for p in parts.query.split("&")) if k == "host"), "")
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


class Transaction:
    """One open transaction: ``query`` for rows, ``execute`` for a change (the count of rows it touched)."""

    def __init__(self, database: Database, connection: Any) -> None:
        self.database, self.connection = database, connection
        self.engine = database.engine

    def query(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        cursor = self.connection.execute(self.database.statement(sql), params)
        return list(cursor.fetchall())

    def execute(self, sql: str, **params: Any) -> int:
        cursor = self.connection.execute(self.database.statement(sql), params)
        return int(cursor.rowcount)

    def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        if self.engine == "sqlite":
            self.connection.executemany(sql, rows)
        else:
            with self.connection.cursor() as cursor:
                cursor.executemany(self.database.statement(sql), rows)


class Database:
    """A state database: ``engine`` (``sqlite`` or ``postgresql``), ``where`` (as people may see it), transactions."""

    def __init__(self, url: str, *, lock_wait: float = LOCK_WAIT) -> None:
        self.url = check_store_url(url)
        self.engine = "sqlite" if urlsplit(self.url).scheme.lower() == "sqlite" else "postgresql"
        self.where = shown_url(self.url)
        self.lock_wait = lock_wait
        self._idle: list[Any] = []
        self._mutex = threading.Lock()
        self._statements: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Database({self.where!r})"

    def statement(self, sql: str) -> str:
        """``sql`` in this engine's parameter style (cached: the same few statements run all day)."""
        if self.engine == "sqlite":
            return sql
        found = self._statements.get(sql)
        if found is None:
            found = self._statements[sql] = _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
        return found

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Transaction]:
        """One transaction, committed when the block ends, rolled back when it raises.

        ``write`` takes SQLite's write lock at the start (``BEGIN IMMEDIATE``),
        so two writers queue instead of failing when one upgrades; PostgreSQL
        locks rows as the statements ask (``SELECT … FOR UPDATE``).
        """
        connection = self._borrow()
        healthy = False
        try:
            with self._translated():
                if self.engine == "sqlite":
                    connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                else:
                    connection.execute("BEGIN")
                    connection.execute(f"SET LOCAL lock_timeout = '{int(self.lock_wait * 1000)}ms'")
                try:
                    yield Transaction(self, connection)
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
                connection.execute("COMMIT")
            healthy = True
        finally:
            self._give_back(connection, healthy)

    def close(self) -> None:
        with self._mutex:
            idle, self._idle = self._idle, []
        for connection in idle:
            with contextlib.suppress(Exception):
                connection.close()

    # -- connections --------------------------------------------------------------------------------------------

    def _borrow(self) -> Any:
        with self._mutex:
            if self._idle:
                return self._idle.pop()
        with self._translated():
            return self._connect()

    def _give_back(self, connection: Any, healthy: bool) -> None:
        if healthy:
            with self._mutex:
                if len(self._idle) < MAX_IDLE:
                    self._idle.append(connection)
                    return
        with contextlib.suppress(Exception):
            connection.close()

    def _connect(self) -> Any:
        if self.engine == "sqlite":
            return _connect_sqlite(urlsplit(self.url).path, self.lock_wait)
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        given = conninfo_to_dict(self.url)
        extra = {k: v for k, v in TCP_DEFAULTS.items() if k not in given}
        if "connect_timeout" not in given:
            extra["connect_timeout"] = str(CONNECT_TIMEOUT)
        return psycopg.connect(make_conninfo(self.url, **extra), autocommit=True)

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """The engine's exceptions as ours, with no password in any message."""
        from .._redact import scrub

        if self.engine == "sqlite":
            import sqlite3

            try:
                yield
            except sqlite3.DatabaseError as exc:
                text = str(exc)
                if "locked" in text or "busy" in text:
                    raise StoreBusy(
                        f"The state database {self.where} stayed locked for {self.lock_wait:g} s."
                    ) from None
                if "not a database" in text or "malformed" in text:
                    raise StoreCorrupt(
                        f"The state database {self.where} is damaged ({text}).",
                        action=f"Move {self.where.removeprefix('sqlite://')} aside; a new one is made on the next "
                        "start (cooldowns and usage history start again).",
                    ) from None
                raise StoreError(f"The state database {self.where} failed: {text}.") from None
            return
        import psycopg
        from psycopg import errors

        try:
            yield
        except errors.LockNotAvailable:
            raise StoreBusy(f"A row of {self.where} stayed locked for {self.lock_wait:g} s.") from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise StoreUnavailable(
                f"The state database {self.where} is not answering: {scrub(_first_line(exc))}.",
                action=f"Check that PostgreSQL at {self.where} is up and reachable (and the user and password in "
                "XAI_OAUTH_STORE_URL), then try again.",
                where=self.where,
            ) from None
        except psycopg.Error as exc:
            raise StoreError(
                f"The state database {self.where} refused a statement: {scrub(_first_line(exc))}."
            ) from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _connect_sqlite(path: str, lock_wait: float) -> Any:
    """The SQLite file at ``path``, made 0600 from the start in a private directory, in WAL mode."""
    import sqlite3

    directory = os.path.dirname(path) or "."
    ensure_private_dir(directory)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        check_private(path)
    else:
        os.close(fd)
    connection = sqlite3.connect(path, timeout=lock_wait, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def open_database(url: str | None, home: str, *, lock_wait: float = LOCK_WAIT) -> Database:
    """The state database ``url`` names, or the home's SQLite file when there is none."""
    return Database(url or "sqlite://" + os.path.join(os.path.abspath(home), STATE_FILE), lock_wait=lock_wait)
