"""The package's version, in a module of its own so that any layer can read it.

``hyperframes_lambda.__version__`` re-exports it; a module inside the package imports it
from here, never from the package top (which would run upward through ``__init__``).
Keep it equal to ``version`` in ``pyproject.toml``.
"""

from __future__ import annotations

__version__ = "0.1.0"
