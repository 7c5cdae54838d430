"""The ``StoreError`` branch of the exception tree: what can go wrong where state is kept.

Files in the home, the OS keyring, the state database (the home's SQLite or
PostgreSQL). The whole tree is drawn in ``xai_oauth/_exceptions.py``; this
branch lives beside the store it speaks for. Like the rest of the tree, each
class carries a stable ``code`` and an ``action`` a person can follow.
"""

from .._exceptions import XaiOAuthError

__all__ = [
    "HomeInsecure",
    "KeyringUnavailable",
    "StoreBusy",
    "StoreCorrupt",
    "StoreError",
    "StoreKeyInvalid",
    "StoreUnavailable",
]


class StoreError(XaiOAuthError):
    """The credential store could not be read or written."""

    code = "store_error"
    action = "Check that XAI_OAUTH_HOME is writable, or set XAI_OAUTH_STORE=file."


class StoreCorrupt(StoreError):
    """A stored file is not valid; it has been moved aside (``.corrupt-*``), not overwritten."""

    code = "store_corrupt"
    action = "The damaged file was kept aside; call start() to sign in again."


class StoreBusy(StoreError):
    """Another process held the credential lock for too long."""

    code = "store_busy"
    action = "Another xai-oauth process is busy with the credential; try again in a few seconds."


class HomeInsecure(StoreError):
    """The home, or a file in it, is owned by another user or writable by others: it may have been planted.

    Refused as ssh refuses such a ``~/.ssh``; the ``action`` names the exact
    chmod or chown, which only the person should run.
    """

    code = "home_insecure"
    action = "Make the xai-oauth home yours and private (chmod 700), or set XAI_OAUTH_HOME elsewhere."


class KeyringUnavailable(StoreError):
    """The OS keyring holds the credential but did not answer in time, or raised."""

    code = "keyring_unavailable"
    action = "Unlock the system keyring and try again, or set XAI_OAUTH_STORE=file and sign in again."


class StoreUnavailable(StoreError):
    """The shared state store (PostgreSQL, or the home's SQLite file) did not answer, or refused the connection.

    The message and ``where`` name the database by host, port and name, never
    by its password. Nothing was written: what was stored is as it was.
    """

    code = "store_unavailable"
    action = "Check that the database named by XAI_OAUTH_STORE_URL is up and reachable, then try again."


class StoreKeyInvalid(StoreError):
    """The key that seals sign-ins in a shared store is missing, malformed, or not the one they were sealed with.

    Nothing is overwritten: a store sealed under another key keeps its rows
    until the right key is given.
    """

    code = "store_key_invalid"
    action = "Set XAI_OAUTH_STORE_KEY (or XAI_OAUTH_STORE_KEY_FILE) to the key this store's sign-ins were sealed with."
