"""``python -m xai_oauth``: the ``xai-oauth`` command."""

import sys

from .cli._main import main

sys.exit(main())
