"""``python -m xai_oauth``: the ``xai-oauth`` command."""

import sys

from ._cli import main

sys.exit(main())
