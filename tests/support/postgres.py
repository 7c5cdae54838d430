"""A real, throwaway PostgreSQL server for the state store's tests.

``PostgresServer`` runs ``initdb`` into a temporary directory and starts the
server on a free loopback port (and a unix socket in the same directory),
with password authentication over TCP, so every URL a test uses carries a
password, as an operator's would: the canary checks can then look for it in
every output. PostgreSQL refuses to run as root, so as root the cluster
belongs to the ``postgres`` OS user (``runuser``); otherwise to whoever runs
the tests. ``fsync`` is off: the tests kill clients and restart the server
cleanly, and never need the cluster to survive a power cut.

``database()`` makes a fresh database and returns its URL, so tests never
see each other's rows. ``restart()`` stops and starts the server on the same
port (the tests of a database that goes away under load).

``scripts/test.sh`` installs PostgreSQL from the OS packages when it can
(``scripts/os-packages.sh``); ``missing()`` says why it cannot run otherwise.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Any

__all__ = ["PASSWORD", "USER", "PostgresServer", "binaries", "missing"]

USER = "xai_store"
#: A canary: no test output may ever contain it.
PASSWORD = "pg-canary-" + secrets.token_hex(8)


def binaries() -> str | None:
    """The newest PostgreSQL ``bin`` directory on this machine (Debian's layout), or one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return os.path.dirname(found[-1])
    on_path = shutil.which("initdb")
    return os.path.dirname(on_path) if on_path else None


def missing() -> str | None:
    """None when a PostgreSQL server can be started here; else why not, in words for a skip message."""
    if binaries() is None:
        return (
            "PostgreSQL is not installed (scripts/os-packages.sh installs it as root; elsewhere: apt-get install "
            "postgresql)"
        )
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser, so the server cannot run as the postgres user"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """``with PostgresServer() as pg: url = pg.database()``: a cluster of its own, gone when the block ends."""

    def __init__(self) -> None:
        bindir = binaries()
        assert bindir is not None, missing()
        self.bindir = bindir
        self.root = ""
        self.port = 0
        self._count = 0

    # -- running commands as the cluster's owner ------------------------------------------------------------------

    def _as_owner(self, *command: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        argv = list(command)
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd="/")
        if check and done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stdout[-1500:]} {done.stderr[-1500:]}")
        return done

    def __enter__(self) -> PostgresServer:
        self.root = tempfile.mkdtemp(prefix="xai-oauth-pg-")
        os.chmod(self.root, 0o755)
        data = os.path.join(self.root, "data")
        pwfile = os.path.join(self.root, "pw")
        with open(pwfile, "w") as handle:
            handle.write(PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        os.chmod(pwfile, 0o600)
        self._as_owner(
            os.path.join(self.bindir, "initdb"),
            "-D",
            data,
            "-U",
            USER,
            "--pwfile",
            pwfile,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        os.remove(pwfile)
        self._start()
        return self

    def _start(self) -> None:
        data = os.path.join(self.root, "data")
        for _ in range(5):  # a free port can be taken between the probe and the bind: try another
            self.port = self.port or _free_port()
            options = (
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            done = self._as_owner(
                os.path.join(self.bindir, "pg_ctl"),
                "-D",
                data,
                "-o",
                options,
                "-l",
                os.path.join(self.root, "log"),
                "-w",
                "-t",
                "60",
                "start",
                check=False,
            )
            if done.returncode == 0:
                return
            self.port = 0
        raise RuntimeError(f"PostgreSQL did not start: {self.log()[-2000:]}")

    def stop(self) -> None:
        self._as_owner(
            os.path.join(self.bindir, "pg_ctl"),
            "-D",
            os.path.join(self.root, "data"),
            "-m",
            "fast",
            "-w",
            "stop",
            check=False,
        )

    def restart(self) -> None:
        """Stop the server (every connection is cut) and start it again on the same port."""
        self.stop()
        self._start()

    def log(self) -> str:
        try:
            with open(os.path.join(self.root, "log")) as handle:
                return handle.read()
        except OSError:
            return ""

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases ----------------------------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> str:
        """Run ``sql`` as the cluster's superuser over the unix socket; its output."""
        done = self._as_owner(
            os.path.join(self.bindir, "psql"),
            "-h",
            self.root,
            "-p",
            str(self.port),
            "-U",
            USER,
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-At",
            "-c",
            sql,
        )
        return done.stdout

    def database(self) -> str:
        """A fresh, empty database; its URL (with the password, as an operator's would have)."""
        self._count += 1
        name = f"t{os.getpid()}_{self._count}_{int(time.time() * 1000) % 100000}"
        self.admin(f"CREATE DATABASE {name}")
        return self.url(name)

    def dump(self, url: str) -> str:
        """``pg_dump`` of the database ``url`` names, as text (what an operator's backup would hold)."""
        name = url.rsplit("/", 1)[1]
        done = self._as_owner(
            os.path.join(self.bindir, "pg_dump"), "-h", self.root, "-p", str(self.port), "-U", USER, name
        )
        return done.stdout
