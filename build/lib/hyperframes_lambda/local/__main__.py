"""``python -m hyperframes_lambda.local``: see :mod:`hyperframes_lambda.local.step_functions`."""

from __future__ import annotations

import sys

from .step_functions import main

if __name__ == "__main__":
    sys.exit(main())
