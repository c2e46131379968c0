"""``python -m shapkit``: the command line."""

import sys

from shapkit._console import run

sys.exit(run())
