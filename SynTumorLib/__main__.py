"""``python -m SynTumorLib ...`` — the same commands as the ``syntumor`` console script."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
