"""``python -m qkan`` runs the command line (the same as the ``qkan`` script)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
