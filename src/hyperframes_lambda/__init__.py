"""hyperframes-lambda: deterministic, chunked rendering of HyperFrames compositions.

    from hyperframes_lambda import render
    result = render("my-project", "out.mp4", fps=30, on_progress=print)

The render API loads on first use (PEP 562), so importing the package (as the Lambda
handler and the CLI do) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import RenderError

if TYPE_CHECKING:
    from .api import render, still
    from .runner.local_render import RenderOptions, RenderResult
    from .runner.progress import Progress, ProgressCallback

__all__ = [
    "Progress",
    "ProgressCallback",
    "RenderError",
    "RenderOptions",
    "RenderResult",
    "__version__",
    "render",
    "still",
]

_LAZY = {
    "render": ".api",
    "still": ".api",
    "RenderOptions": ".runner.local_render",
    "RenderResult": ".runner.local_render",
    "Progress": ".runner.progress",
    "ProgressCallback": ".runner.progress",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
