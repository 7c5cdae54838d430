"""A real, throwaway Secret Service: GNOME Keyring on its own D-Bus session bus.

The keyring store must be tested against the thing it meets on a Linux
desktop, not only against fakes. ``SecretService`` starts
``gnome-keyring-daemon`` under ``dbus-run-session``, with its data in a
temporary directory and its login collection unlocked by a throwaway
password, and hands back the one variable a client needs
(``DBUS_SESSION_BUS_ADDRESS``, in ``environ``). Nothing of the person's own
keyring or bus is touched: the child processes see only this bus.

``scripts/test.sh`` installs the daemon from the OS packages when it can
(``scripts/os-packages.sh``); ``missing()`` says why it cannot run otherwise.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["SecretService", "missing"]

PROGRAMS = ("dbus-run-session", "gnome-keyring-daemon")
#: Printed by the shell under dbus-run-session, before the daemon takes its place.
_SCRIPT = (
    'printf "%s\\n" "$DBUS_SESSION_BUS_ADDRESS"; exec gnome-keyring-daemon --foreground --unlock --components=secrets'
)
_SECRETS_NAME = "org.freedesktop.secrets"
_SERVICE_PATH, _SERVICE = "/org/freedesktop/secrets", "org.freedesktop.Secret.Service"
_PASSWORD = b"throwaway-test-password"
#: The collection ``--unlock`` creates and unlocks, the default one keyring writes to.
LOGIN_COLLECTION = "/org/freedesktop/secrets/collection/login"


def missing() -> str | None:
    """None when a Secret Service can be started here; else why not, in words for a skip message."""
    absent = [program for program in PROGRAMS if shutil.which(program) is None]
    if absent:
        return (
            f"{' and '.join(absent)} not installed (scripts/os-packages.sh installs gnome-keyring when run as root; "
            "elsewhere: apt-get install gnome-keyring)"
        )
    return None


class SecretService:
    """``with SecretService() as service:`` processes given ``service.environ`` reach a fresh, unlocked keyring."""

    def __init__(self, start_timeout: float = 15.0) -> None:
        self.start_timeout = start_timeout
        self._root: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.address = ""
        self._log = ""

    @property
    def environ(self) -> dict[str, str]:
        """What a client process needs to find this keyring (and nothing of the person's own)."""
        return {"DBUS_SESSION_BUS_ADDRESS": self.address}

    def __enter__(self) -> SecretService:
        reason = missing()
        if reason:
            raise RuntimeError(reason)
        self._root = tempfile.TemporaryDirectory(prefix="xai-oauth-secret-service-")
        root = self._root.name
        runtime = os.path.join(root, "run")
        os.makedirs(runtime, mode=0o700)
        daemon_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": root,
            "XDG_DATA_HOME": os.path.join(root, "data"),  # the keyrings/ the daemon creates: gone with root
            "XDG_RUNTIME_DIR": runtime,
        }
        self._log = os.path.join(root, "daemon.log")  # shown if it fails to start; else its noise stays here
        with open(self._log, "wb") as log:
            self._process = subprocess.Popen(
                ["dbus-run-session", "--", "sh", "-c", _SCRIPT],
                env=daemon_env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,  # one process group: __exit__ stops the bus and the daemon together
            )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(_PASSWORD)  # --unlock reads it to EOF
        self._process.stdin.close()
        self.address = self._process.stdout.readline().decode().strip()
        try:
            if not self.address.startswith("unix:"):
                raise RuntimeError("dbus-run-session did not start a session bus")
            self._wait_for_daemon()
        except (RuntimeError, OSError) as exc:  # the bus went away with the daemon, or never came
            with open(self._log, "rb") as log:
                said = log.read()[-2000:].decode(errors="replace")
            self.__exit__()
            raise RuntimeError(f"the Secret Service did not start ({exc}); its output:\n{said}") from None
        except BaseException:
            self.__exit__()
            raise
        return self

    @contextlib.contextmanager
    def _bus(self) -> Iterator[Callable[..., tuple[Any, ...]]]:
        """``call(path, interface, method, signature, *args)`` on one connection to this bus; each returns its body.

        One connection for a whole exchange: a Secret Service session belongs to the connection that opened it.
        jeepney is keyring's own D-Bus library on Linux.
        """
        from jeepney import DBusAddress, MessageType, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        with open_dbus_connection(bus=self.address) as connection:

            def call(path: str, interface: str, method: str, signature: str, *args: Any) -> tuple[Any, ...]:
                bus_name = "org.freedesktop.DBus" if interface == "org.freedesktop.DBus" else _SECRETS_NAME
                address = DBusAddress(path, bus_name=bus_name, interface=interface)
                reply = connection.send_and_get_reply(new_method_call(address, method, signature, args), timeout=10)
                if reply.header.message_type == MessageType.error:
                    raise RuntimeError(f"{method} failed: {reply.body}")
                return tuple(reply.body)

            yield call

    def lock(self) -> None:
        """Lock the login collection, as a screen lock or a timeout would: reads and writes then fail."""
        with self._bus() as call:
            call(_SERVICE_PATH, _SERVICE, "Lock", "ao", [LOGIN_COLLECTION])

    def unlock(self) -> None:
        """Unlock it again with the throwaway password (gnome-keyring's own call: no prompt to answer)."""
        with self._bus() as call:
            _, session = call(_SERVICE_PATH, _SERVICE, "OpenSession", "sv", "plain", ("s", ""))
            secret = (session, b"", _PASSWORD, "text/plain")
            interface = "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"
            call(_SERVICE_PATH, interface, "UnlockWithMasterPassword", "o(oayays)", LOGIN_COLLECTION, secret)

    def items(self, service: str) -> list[str]:
        """Every item (locked or not) whose ``service`` attribute is ``service``: what a person's keyring would show."""
        with self._bus() as call:
            unlocked, locked = call(_SERVICE_PATH, _SERVICE, "SearchItems", "a{ss}", {"service": service})
        return [*unlocked, *locked]

    def _wait_for_daemon(self) -> None:
        """Until gnome-keyring-daemon owns org.freedesktop.secrets (a client sooner would find no keyring)."""
        deadline = time.monotonic() + self.start_timeout
        while True:
            with self._bus() as call:
                (owned,) = call("/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", "s", _SECRETS_NAME)
            if owned:
                return
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError("gnome-keyring-daemon exited before it started")
            if time.monotonic() > deadline:
                raise RuntimeError(f"gnome-keyring-daemon did not start within {self.start_timeout:g} s")
            time.sleep(0.05)

    def __exit__(self, *exc: Any) -> None:
        if self._process is not None:
            try:
                os.killpg(self._process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self._process.wait(timeout=10)
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None
        if self._root is not None:
            self._root.cleanup()
            self._root = None
