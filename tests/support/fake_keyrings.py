"""Keyring backends for tests, loadable in subprocesses via PYTHON_KEYRING_BACKEND.

* ``FileKeyring``: persists to $FAKE_KEYRING_FILE, so a keyring-stored
  credential survives from one process to the next, as a real one does;
* ``HangingKeyring``: every call blocks, like a locked D-Bus secret service;
* ``RaisingKeyring``: every call raises, with a canary in the message to
  prove we never repeat a backend's text.
"""

from __future__ import annotations

import json
import os
import time

from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError


class FileKeyring(KeyringBackend):
    priority = 5  # type: ignore[assignment]

    def _path(self) -> str:
        return os.environ["FAKE_KEYRING_FILE"]

    def _read(self) -> dict[str, str]:
        try:
            with open(self._path()) as f:
                return json.load(f)  # type: ignore[no-any-return]
        except FileNotFoundError:
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._read().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._read()
        data[f"{service}/{username}"] = password
        with open(self._path(), "w") as f:
            json.dump(data, f)

    def delete_password(self, service: str, username: str) -> None:
        data = self._read()
        if data.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError("not found")
        with open(self._path(), "w") as f:
            json.dump(data, f)


class HangingKeyring(KeyringBackend):
    priority = 5  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        time.sleep(3600)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        time.sleep(3600)

    def delete_password(self, service: str, username: str) -> None:
        time.sleep(3600)


class RaisingKeyring(KeyringBackend):
    priority = 5  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringError("backend exploded CANARY-KEYRING-TEXT")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringError(f"cannot store {password}")  # echoes the secret: we must not repeat it

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringError("backend exploded CANARY-KEYRING-TEXT")
