"""``python -m mtp_emulator``: see :mod:`mtp_emulator.cli`."""

import sys

from .cli import main

sys.exit(main())
