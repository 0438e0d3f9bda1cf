"""hyperframes-lambda: deterministic, chunked rendering of HyperFrames compositions.

    from hyperframes_lambda import render
    result = render("my-project", "out.mp4", fps=30, on_progress=print)

The render API loads on first use (PEP 562), so importing the package (as the Lambda
handler and the CLI do) stays cheap.

The folders are the layers, top down; a module imports only its own folder and the floors
below it (``tests/test_layers.py`` holds the code to this table)::

    ways in   __init__ api cli rie    the Python API, ``hyperframes-lambda``, the RIE command
              local/                  Step Functions and a Lambda runtime on this machine
              handler/                the Lambda adapter: events, storage, work dirs, dispatch
    runner/   a whole render in this process: progress, output target, exit codes
    stages/   plan, render a chunk, assemble, and the plan's hash, archive and chunking
    compile/  capture/  lint/         the project into one page; frames out of a page; the linter
    browser/  page/  compare/         Chromium and its font set; what runs in the page; measures
    media/  net/  aws/                ffmpeg; fetching; the client for a deployed stack
    ground    cache config errors timing _version

Where to start: the Lambda entry point is ``handler/dispatch.py`` (SAM's Handler
``hyperframes_lambda.handler.handler``), a local render is ``runner/local_render.py``, the
three stages are ``stages/plan.py``, ``stages/render_chunk.py`` and ``stages/assemble.py``.
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
