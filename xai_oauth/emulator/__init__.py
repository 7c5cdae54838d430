"""A local stand-in for auth.x.ai and api.x.ai, serving real HTTP on 127.0.0.1.

For tests, for trying everything offline, and for the README's first command::

    python -m xai_oauth.emulator            # serve until Ctrl-C
    python -m xai_oauth.emulator --demo     # a whole sign-in, as an agent does it

Needs the ``emulator`` extra (``cryptography``, to sign RS256 tokens).
"""

from ._authority import MODELS_BY_TIER, Authority, Settings
from ._server import Emulator, Fault

__all__ = ["MODELS_BY_TIER", "Authority", "Emulator", "Fault", "Settings"]
