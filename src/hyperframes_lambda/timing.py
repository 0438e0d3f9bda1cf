"""Frame arithmetic shared by every stage (SPEC §2): counts, frame times, quantized seeks."""

from __future__ import annotations

import math

SUPPORTED_FPS = (24, 30, 60)


def frame_count(duration_s: float, fps: int) -> int:
    """Frames of a composition: round when within 1e-3 of a whole frame, else ceil."""
    exact = duration_s * fps
    nearest = round(exact)
    if abs(exact - nearest) <= 1e-3:
        return int(nearest)
    return math.ceil(exact)


def quantize(t: float, fps: int) -> float:
    """Snap a time onto the frame grid so every seek of a frame is the same float."""
    return math.floor(max(0.0, t) * fps + 1e-9) / fps


def frame_time(index: int, fps: int) -> float:
    """Absolute composition time of frame ``index`` (never chunk-relative)."""
    return quantize(index / fps, fps)
