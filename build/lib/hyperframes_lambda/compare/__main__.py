"""``python -m hyperframes_lambda.compare``: see :mod:`hyperframes_lambda.compare.cli`."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
