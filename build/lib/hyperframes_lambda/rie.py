"""``python -m hyperframes_lambda.rie``: the Lambda runtime interface emulator's command.

A way in kept at its documented name; the emulator is :mod:`hyperframes_lambda.local.rie`.
"""

from __future__ import annotations

import sys

from .local.rie import main

if __name__ == "__main__":
    sys.exit(main())
