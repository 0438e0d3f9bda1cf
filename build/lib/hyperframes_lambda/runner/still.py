"""Stills of a project on this machine: plan once, capture only the frames asked for.

The plan is a png-sequence plan (lossless, alpha-capable capture, no soundtrack), so a
PNG still holds the very bytes a png-sequence render captures for that frame.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..stages.plan import plan
from ..stages.still import StillRequest, StillResult, render_stills, still_format
from ..timing import frame_at

STILL_PLAN: dict[str, Any] = {"format": "png-sequence", "muted": True, "maxParallelChunks": 1}


def still_paths(output: Path, frames: Sequence[int]) -> list[Path]:
    """One frame: ``output`` itself; several: ``poster-000030.png``, … beside it."""
    if len(frames) == 1:
        return [output]
    stem = output.name.removesuffix(output.suffix)
    return [output.with_name(f"{stem}-{frame:06d}{output.suffix}") for frame in frames]


def render_still_files(
    project: Path,
    output: Path,
    *,
    frames: Sequence[int] = (),
    times: Sequence[float] = (),
    quality: int | None = None,
    config: Mapping[str, Any] | None = None,
) -> list[StillResult]:
    """Write frames ``frames`` and the frames shown at ``times`` (seconds) of ``project``
    to ``output`` (see :func:`still_paths`); its extension picks png, jpeg or webp."""
    image_format = still_format(output)
    with tempfile.TemporaryDirectory(prefix="hf-still-") as work:
        planned = plan(project, {**(config or {}), **STILL_PLAN}, Path(work) / "plan")
        wanted = [*frames, *(frame_at(t, planned.fps) for t in times)]
        unique = list(dict.fromkeys(wanted))
        requests = [
            StillRequest(frame, path, image_format, quality)
            for frame, path in zip(unique, still_paths(output, unique), strict=True)
        ]
        return render_stills(planned.plan_dir, requests)
