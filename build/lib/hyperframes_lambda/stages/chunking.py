"""Slice a composition's frames into chunks (SPEC §5; the reference's formula, kept so the
numbers in user docs stay true: 60 frames → 6x10, 168 → 15x11+1x3, 480 → 16x30)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction

from ..errors import CompositionError, InvalidConfigError, PlanTooLargeError
from ..timing import frame_count

# A Lambda chunk is planned to take at most half of the function's timeout (900 s, Lambda's
# ceiling, unless HYPERFRAMES_LAMBDA_TIMEOUT_S says otherwise: the SAM template sets it to
# LambdaTimeoutSec), so a slow container or a retry still has room. A frame's cost is the
# larger of two estimates:
# - pixels: a pessimistic 5 frames/s at 1920x1080 (measured 11-20 fps on 2 cores; Lambda's
#   10 GB functions have 6 vCPUs), scaled by pixel count;
# - a floor for the work every frame costs whatever its size (seek, CDP round trips, the
#   screenshot): 120 fps was measured at 320x180 on this 2-core build machine (issue 23),
#   8.3 ms a frame; taken x3 for the same margin the 1080p figure carries, 25 ms.
# Pixels alone planned 108,000-frame chunks at 320x180: ~15 minutes at the measured rate.
ENV_LAMBDA_TIMEOUT = "HYPERFRAMES_LAMBDA_TIMEOUT_S"
DEFAULT_LAMBDA_TIMEOUT_S = 900
LAMBDA_TIMEOUT_SHARE = 0.5
LAMBDA_FPS_AT_1080P = 5.0
LAMBDA_FRAME_FLOOR_S = 0.025
ENV_MAX_FRAMES = "HYPERFRAMES_MAX_FRAMES"
DEFAULT_MAX_FRAMES = 1_080_000  # 10 hours at 30 fps
MAX_PARALLEL_CHUNKS = 256  # the Config.maxParallelChunks ceiling


@dataclass(frozen=True)
class Chunk:
    """Composition frames ``range(start_frame, end_frame, step)`` (absolute indices: a
    frame range or a GIF's every-Kth-frame only changes which frames are listed)."""

    index: int
    start_frame: int
    end_frame: int  # exclusive
    step: int = 1

    @property
    def frames(self) -> int:
        return len(self.indices)

    @property
    def indices(self) -> range:
        return range(self.start_frame, self.end_frame, self.step)


def place_chunks(chunks: list[Chunk], first_frame: int, step: int) -> list[Chunk]:
    """Chunks sliced over output positions ``0…N-1`` as composition frames: position
    ``p`` is frame ``first_frame + p * step``."""
    return [
        Chunk(c.index, first_frame + c.start_frame * step, first_frame + c.end_frame * step, step)
        if (first_frame, step) != (0, 1)
        else c
        for c in chunks
    ]


def lambda_timeout_s() -> int:
    """The function's timeout in seconds: ``$HYPERFRAMES_LAMBDA_TIMEOUT_S`` or 900."""
    raw = os.environ.get(ENV_LAMBDA_TIMEOUT, "").strip()
    if not raw:
        return DEFAULT_LAMBDA_TIMEOUT_S
    if not raw.isdigit() or int(raw) <= 0:
        raise InvalidConfigError(
            f"{ENV_LAMBDA_TIMEOUT}={raw[:40]!r} must be a positive whole number"
        )
    return int(raw)


def lambda_frame_seconds(width: int, height: int) -> float:
    """The seconds one frame is expected to take on Lambda: pixel cost, at least the floor."""
    by_pixels = (width * height) / (1920 * 1080) / LAMBDA_FPS_AT_1080P
    return max(by_pixels, LAMBDA_FRAME_FLOOR_S)


def lambda_frame_budget(width: int, height: int, timeout_s: int | None = None) -> int:
    """Most frames one Lambda chunk should hold to take at most half the function's timeout."""
    seconds = (timeout_s if timeout_s is not None else lambda_timeout_s()) * LAMBDA_TIMEOUT_SHARE
    return max(1, int(seconds / lambda_frame_seconds(width, height)))


def slice_chunks(
    total_frames: int,
    *,
    chunk_size: int | None = None,
    target_chunk_frames: int | None = None,
    max_parallel_chunks: int = 16,
) -> list[Chunk]:
    """The reference's chunking formula, verbatim in behaviour."""
    if total_frames <= 0:
        raise ValueError("total_frames must be positive")
    max_p = max_parallel_chunks
    if target_chunk_frames:
        auto_p = min(max_p, max(1, math.ceil(total_frames / target_chunk_frames)))
    else:
        auto_p = max_p
    resolved = chunk_size if chunk_size else max(10, math.ceil(total_frames / auto_p))
    count = min(max_p, max(1, math.ceil(total_frames / resolved)))
    effective = max(resolved, math.ceil(total_frames / count))
    count = min(count, math.ceil(total_frames / effective))
    return [
        Chunk(
            index=i,
            start_frame=i * effective,
            end_frame=total_frames if i == count - 1 else min(total_frames, (i + 1) * effective),
        )
        for i in range(count)
    ]


def max_frames() -> int:
    """The most frames one plan may have: ``$HYPERFRAMES_MAX_FRAMES`` or 1,080,000."""
    raw = os.environ.get(ENV_MAX_FRAMES, "").strip()
    if not raw:
        return DEFAULT_MAX_FRAMES
    if not raw.isdigit() or int(raw) <= 0:
        raise InvalidConfigError(f"{ENV_MAX_FRAMES}={raw!r} must be a positive whole number")
    return int(raw)


def checked_frame_count(duration: float, fps: Fraction, what: str) -> int:
    """Frames of ``duration`` seconds at ``fps``, refusing a duration that is not a finite
    positive number (CompositionError) or gives more frames than :func:`max_frames`
    (PlanTooLargeError). ``what`` names where the duration came from."""
    if not math.isfinite(duration) or duration <= 0:
        raise CompositionError(f"{what}: duration {duration!r} is not a finite positive number")
    if not math.isfinite(duration * float(fps)):  # 1e308 s: no frame count, an error in input
        raise CompositionError(f"{what}: duration {duration!r} s is not a usable duration")
    cap = max_frames()
    if Fraction(duration) * fps > cap:
        raise PlanTooLargeError(
            f"{what}: {duration:g} s at {fps} fps is more than {cap} frames "
            f"(the most one plan may have; {ENV_MAX_FRAMES} sets it)"
        )
    return frame_count(duration, fps)


def plan_chunks(
    total_frames: int,
    width: int,
    height: int,
    *,
    chunk_size: int | None,
    target_chunk_frames: int | None,
    max_parallel_chunks: int,
    runtime_cap: str,
) -> tuple[list[Chunk], list[str]]:
    """The chunks of a plan and any warnings. With ``runtime_cap == "lambda"`` chunks are
    sized by :func:`lambda_frame_budget`; when ``max_parallel_chunks`` forces chunks larger
    than that (and than an explicit ``chunk_size``), no Lambda could finish one, so this
    raises PlanTooLargeError instead of planning it."""
    warnings: list[str] = []
    target = target_chunk_frames
    budget = lambda_frame_budget(width, height)
    if runtime_cap == "lambda":
        if chunk_size is not None and chunk_size > budget:
            warnings.append(
                f"chunkSize {chunk_size} may take more than half the function's timeout "
                f"({lambda_timeout_s()} s) at {width}x{height}; at most {budget} frames per "
                "chunk is recommended"
            )
        elif chunk_size is None:
            target = min(target or budget, budget)
    chunks = slice_chunks(
        total_frames,
        chunk_size=chunk_size,
        target_chunk_frames=target,
        max_parallel_chunks=max_parallel_chunks,
    )
    largest = max(chunk.frames for chunk in chunks)
    if runtime_cap == "lambda" and largest > max(budget, chunk_size or 0):
        needed = math.ceil(total_frames / budget)
        raise PlanTooLargeError(
            f"{total_frames} frames at {width}x{height} in at most {max_parallel_chunks} "
            f"chunks (maxParallelChunks) makes {len(chunks)} chunks of up to {largest} frames, "
            f"but a Lambda chunk holds at most {budget} frames to take at most half the "
            f"function's timeout of {lambda_timeout_s()} s (runtimeCap lambda): "
            + (
                f"set maxParallelChunks to {needed} or more, or shorten the composition"
                if needed <= MAX_PARALLEL_CHUNKS
                else "shorten the composition or lower its size"
            )
        )
    return chunks, warnings
