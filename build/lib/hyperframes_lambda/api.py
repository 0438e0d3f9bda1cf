"""The Python API: ``from hyperframes_lambda import render``.

One call renders a project on this machine with the same plan → chunks → assemble stages
as Lambda, and returns a :class:`RenderResult`. Paths may be ``str`` or ``os.PathLike``;
options are keyword arguments (the CLI's flags, same names and defaults); failures raise
:class:`~hyperframes_lambda.errors.RenderError` subclasses with a stable ``code``, and leave
nothing at ``output``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from .compile.variables import load_variables
from .config import OutputFormat
from .runner.local_render import RenderOptions, RenderResult, render_local, resolve_project
from .runner.progress import ProgressCallback
from .runner.still import render_still_files
from .stages.still import StillResult


def render(
    project: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    fps: Fraction | int | str | None = None,
    width: int | None = None,
    height: int | None = None,
    quality: Literal["draft", "standard", "high"] = "standard",
    format: OutputFormat | None = None,
    codec: Literal["h264", "h265"] | None = None,
    crf: int | None = None,
    bitrate: str | None = None,
    entry: str | None = None,
    variables: Mapping[str, Any] | None = None,
    variables_file: str | os.PathLike[str] | None = None,
    strict_variables: bool = False,
    strict_assets: bool = False,
    lint: bool = True,
    strict_lint: bool = False,
    chunks: int | None = None,
    chunk_size: int | None = None,
    workers: int | None = None,
    pages: int | None = None,
    dump_frames: str | os.PathLike[str] | None = None,
    frame_range: tuple[int, int] | None = None,
    time_range: tuple[float, float] | None = None,
    every_nth_frame: int | None = None,
    gif_loop: int | None = None,
    muted: bool = False,
    audio_bitrate: str | None = None,
    thumbnail_at: float | None = None,
    on_progress: ProgressCallback | None = None,
) -> RenderResult:
    """Render the composition in ``project`` (a directory, or its entry HTML file) to
    ``output``.

    ``format`` defaults to the output's extension (``.mp4``, ``.mov``, ``.webm``, ``.gif``,
    audio only ``.m4a``/``.mp3``/``.wav``; a path without one is a png-sequence directory).
    ``frame_range`` ``(first, last)`` (inclusive, 0-based) or ``time_range`` ``(from, to)``
    seconds renders part of the composition, its soundtrack cut to the same span.
    ``every_nth_frame``/``gif_loop`` shape a GIF; ``muted`` drops the audio stream;
    ``audio_bitrate`` (``"128k"``) sets AAC/MP3/Opus; ``thumbnail_at`` seconds also writes
    that frame as a PNG beside the output (``promo.mp4`` → ``promo.png``). ``fps``,
    ``width``/``height`` default to the composition's. ``chunks``/``chunk_size`` split the
    frames, rendered by ``workers`` processes with ``pages`` browsers each. ``on_progress`` receives
    :class:`~hyperframes_lambda.runner.progress.Progress` events for plan, frames and assemble.

    ``variables`` (or ``variables_file``, a JSON object; not both) are checked against the
    composition's ``data-composition-variables``: an undeclared key or a value of another
    type is a plan warning, or with ``strict_variables`` raises
    :class:`~hyperframes_lambda.errors.InvalidVariablesError` (``INVALID_VARIABLES``).

    HyperFrames' linter runs first (``lint``): its findings are ``RenderResult.lint``;
    ``strict_lint`` makes an error-severity finding raise
    :class:`~hyperframes_lambda.errors.LintFailedError` (``LINT_FAILED``).
    """
    if variables_file is not None:
        given = None if variables is None else json.dumps(dict(variables))
        variables = load_variables(
            given, Path(variables_file), inline_name="variables", file_name="variables_file"
        )
    options = RenderOptions(
        fps=fps, width=width, height=height, quality=quality, format=format, codec=codec,
        crf=crf, bitrate=bitrate, entry_file=entry, variables=dict(variables or {}),
        strict_variables=strict_variables, strict_assets=strict_assets, lint=lint,
        strict_lint=strict_lint, chunks=chunks,
        chunk_size=chunk_size, workers=workers,
        pages=pages, dump_frames=Path(dump_frames) if dump_frames is not None else None,
        frame_range=frame_range, time_range=time_range, every_nth_frame=every_nth_frame,
        gif_loop=gif_loop, muted=muted, audio_bitrate=audio_bitrate, thumbnail=thumbnail_at,
    )  # fmt: skip
    return render_local(Path(project), Path(output), options, on_progress=on_progress)


def still(
    project: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    frames: Sequence[int] = (),
    times: Sequence[float] = (),
    quality: int | None = None,
    fps: Fraction | int | str | None = None,
    width: int | None = None,
    height: int | None = None,
    entry: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> list[StillResult]:
    """Write frames of ``project`` as images: ``frames`` (0-based) and the frames shown at
    ``times`` (seconds). ``output``'s extension picks PNG, JPEG or WebP (``quality`` 1-100
    for the last two); several frames go to ``NAME-<frame>.ext`` beside it. A PNG still is
    the frame a png-sequence render captures, byte for byte."""
    project_dir, entry_file = resolve_project(Path(project), entry)
    config = {
        "fps": fps, "width": width, "height": height, "entryFile": entry_file,
        "variables": dict(variables or {}),
    }  # fmt: skip
    return render_still_files(
        project_dir, Path(output), frames=frames, times=times, quality=quality,
        config={k: v for k, v in config.items() if v is not None},
    )  # fmt: skip
