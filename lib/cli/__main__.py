"""``python -m lib.cli``: the local command line (see :mod:`lib.cli.main`)."""

import sys

from lib.cli.main import main

sys.exit(main())
