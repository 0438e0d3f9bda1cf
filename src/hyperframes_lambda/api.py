"""The Python API: ``from hyperframes_lambda import render``.

One call renders a project on this machine with the same plan → chunks → assemble stages
as Lambda, and returns a :class:`RenderResult`. Paths may be ``str`` or ``os.PathLike``;
options are keyword arguments (the CLI's flags, same names and defaults); failures raise
:class:`~hyperframes_lambda.errors.RenderError` subclasses with a stable ``code``, and leave
nothing at ``output``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from .runner.local_render import RenderOptions, RenderResult, render_local
from .runner.progress import ProgressCallback


def render(
    project: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    fps: Fraction | int | str | None = None,
    width: int | None = None,
    height: int | None = None,
    quality: Literal["draft", "standard", "high"] = "standard",
    format: Literal["mp4", "mov", "webm", "png-sequence"] | None = None,
    codec: Literal["h264", "h265"] | None = None,
    crf: int | None = None,
    bitrate: str | None = None,
    entry: str | None = None,
    variables: Mapping[str, Any] | None = None,
    strict_assets: bool = False,
    lint: bool = True,
    strict_lint: bool = False,
    chunks: int | None = None,
    chunk_size: int | None = None,
    workers: int | None = None,
    pages: int | None = None,
    dump_frames: str | os.PathLike[str] | None = None,
    on_progress: ProgressCallback | None = None,
) -> RenderResult:
    """Render the composition in ``project`` (a directory, or its entry HTML file) to
    ``output``.

    ``format`` defaults to the output's extension (``.mp4``, ``.mov``, ``.webm``; a path
    without one is a png-sequence directory). ``fps``, ``width``/``height`` default to the
    composition's. ``chunks``/``chunk_size`` split the frames, rendered by ``workers``
    processes with ``pages`` browsers each. ``on_progress`` receives
    :class:`~hyperframes_lambda.runner.progress.Progress` events for plan, frames and assemble.

    HyperFrames' linter runs first (``lint``): its findings are ``RenderResult.lint``;
    ``strict_lint`` makes an error-severity finding raise
    :class:`~hyperframes_lambda.errors.LintFailedError` (``LINT_FAILED``).
    """
    options = RenderOptions(
        fps=fps, width=width, height=height, quality=quality, format=format, codec=codec,
        crf=crf, bitrate=bitrate, entry_file=entry, variables=dict(variables or {}),
        strict_assets=strict_assets, lint=lint, strict_lint=strict_lint, chunks=chunks,
        chunk_size=chunk_size, workers=workers,
        pages=pages, dump_frames=Path(dump_frames) if dump_frames is not None else None,
    )  # fmt: skip
    return render_local(Path(project), Path(output), options, on_progress=on_progress)
