"""``python -m tame_xr``: the ``tame-xr`` command."""

import sys

from .cli import main

sys.exit(main())
