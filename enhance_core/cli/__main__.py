"""``python -m enhance_core.cli SUBCOMMAND ...``: the headless subcommands, as ``enhance-studio`` runs them."""

import sys

from enhance_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
