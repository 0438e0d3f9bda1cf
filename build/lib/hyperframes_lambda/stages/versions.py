"""What a plan records as "the renderer": this package and the page runtime it injects.

Both decide a frame's pixels, so both go into the plan hash, and a chunk worker with a
different one refuses the plan (the page runtime is pinned in code, see
:mod:`hyperframes_lambda.page.official_runtime`).
"""

from __future__ import annotations

from .._version import __version__
from ..page.official_runtime import PINNED


def renderer_version() -> str:
    """E.g. ``0.1.0+hyperframes@0.8.170``."""
    return f"{__version__}+{PINNED.package}@{PINNED.version}"
