"""``python -m asyncflag``: the same as the ``asyncflag`` command."""

import sys

from .cli import main

sys.exit(main())
