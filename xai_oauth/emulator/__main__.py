"""``python -m xai_oauth.emulator``: the same as ``xai-oauth emulator`` (the command lives in ``cli``)."""

import sys

from ..cli._emulator import main

sys.exit(main())
