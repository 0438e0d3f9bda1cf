"""hyperframes-lambda: deterministic, chunked rendering of HyperFrames compositions."""

from __future__ import annotations

__version__ = "0.1.0"
