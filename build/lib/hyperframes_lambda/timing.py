"""Frame arithmetic shared by every stage (SPEC §2): frame rates, counts, frame times.

A frame rate is a :class:`fractions.Fraction` everywhere inside the renderer: any whole
number of frames per second (``25``) or an exact rational (``30000/1001``, NTSC 29.97).
Frame math is done on the exact rational and only the final seek time becomes a float,
so frame ``i`` maps to the same time in every process. On the wire (plan.json, the Lambda
result, ffmpeg arguments) a rate is its text: ``"30000/1001"``, or a plain integer when
it is whole, so integral rates stay what they always were.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction

MIN_FPS = 1
MAX_FPS = 240
# ffmpeg parses a frame rate with av_parse_video_rate, which approximates any rational
# whose terms exceed this; ours must reach it exactly.
MAX_FPS_TERM = 1_001_000
DEFAULT_FPS = Fraction(30)

_INTEGER = re.compile(r"^[0-9]+$")
_RATIO = re.compile(r"^([0-9]+)\s*/\s*([0-9]+)$")
_DECIMAL = re.compile(r"^(?:[0-9]+\.[0-9]*|\.[0-9]+)$")
_SEEK_EPSILON = Fraction(1, 10**9)
_COUNT_TOLERANCE = Fraction(1, 1000)

FPS_RULE = (
    f"{MIN_FPS}…{MAX_FPS} frames per second: an integer such as 25, "
    "or a rational N/D such as 30000/1001"
)


def parse_fps(value: object) -> Fraction:
    """The frame rate ``value`` denotes, or :class:`ValueError` saying what is wrong.

    Accepted: an int, a float or decimal string that is a whole number (``30.0``,
    ``"25"``), a ``Fraction``, or an ``"N/D"`` string. A fractional decimal such as
    ``29.97`` is refused: it is not the rate people mean (NTSC is ``30000/1001``), so the
    message names the rational to write instead. The message does not name the field:
    callers prefix it (``Config.fps``, ``data-fps=…``, ``--fps``).
    """
    rate: Fraction
    if isinstance(value, bool):
        raise ValueError(f"must be {FPS_RULE}, not a boolean")
    if isinstance(value, Fraction):
        rate = value
    elif isinstance(value, int):
        rate = Fraction(value)
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError(_not_whole(Decimal(repr(value)) if math.isfinite(value) else None))
        rate = Fraction(int(value))
    elif isinstance(value, str):
        rate = _parse_fps_text(value.strip())
    else:
        raise ValueError(f"must be {FPS_RULE}")
    if not MIN_FPS <= rate <= MAX_FPS:
        raise ValueError(f"must be {FPS_RULE}")
    if rate.numerator > MAX_FPS_TERM or rate.denominator > MAX_FPS_TERM:
        raise ValueError(
            f"must be a rational whose numerator and denominator are at most {MAX_FPS_TERM} "
            "(ffmpeg cannot represent it exactly otherwise)"
        )
    return rate


def _parse_fps_text(text: str) -> Fraction:
    if _INTEGER.match(text):
        return Fraction(int(text))
    if ratio := _RATIO.match(text):
        numerator, denominator = int(ratio.group(1)), int(ratio.group(2))
        if denominator == 0:
            raise ValueError(f"must be {FPS_RULE}; the denominator is 0")
        return Fraction(numerator, denominator)
    if _DECIMAL.match(text):
        decimal = Decimal(text)
        if decimal != decimal.to_integral_value():
            raise ValueError(_not_whole(decimal))
        return Fraction(int(decimal))
    raise ValueError(f"must be {FPS_RULE}")


def _not_whole(decimal: Decimal | None) -> str:
    """A fractional decimal rate: suggest the rational the user most likely means."""
    message = "must be a whole number or an exact rational N/D, not a fractional decimal"
    if decimal is None:
        return f"must be {FPS_RULE}"
    exact = Fraction(decimal)
    ntsc = round(exact * Fraction(1001, 1000))
    suggestions = []
    if ntsc > 0 and abs(Fraction(ntsc * 1000, 1001) - exact) < Fraction(1, 100):
        approx = f"{ntsc * 1000 / 1001:.3f}".rstrip("0").rstrip(".")
        suggestions.append(f"{ntsc * 1000}/1001 (NTSC {approx})")
    if exact.denominator <= MAX_FPS_TERM:
        suggestions.append(f"{exact.numerator}/{exact.denominator} (exactly {decimal})")
    if suggestions:
        message += f": write {' or '.join(suggestions)}"
    return message


def fps_text(fps: Fraction | int) -> str:
    """``"25"`` or ``"30000/1001"``: the rate as ffmpeg (``-r``, ``-framerate``, the fps
    filter) and the plan hash take it."""
    return str(Fraction(fps))


def fps_json(fps: Fraction | int) -> int | str:
    """The rate in JSON: an int when whole (as plans always stored it), else ``"N/D"``."""
    rate = Fraction(fps)
    return rate.numerator if rate.denominator == 1 else str(rate)


def frame_count(duration_s: float, fps: Fraction | int) -> int:
    """Frames of a composition: round when within 1e-3 of a whole frame, else ceil."""
    exact = Fraction(duration_s) * fps
    nearest = round(exact)
    if abs(exact - nearest) <= _COUNT_TOLERANCE:
        return nearest
    return math.ceil(exact)


def frames_duration(frames: int, fps: Fraction | int) -> float:
    """Seconds that ``frames`` frames last at ``fps`` (exact, rounded once to a float)."""
    return float(Fraction(frames) / fps)


def quantize(t: float, fps: Fraction | int) -> float:
    """Snap a time onto the frame grid so every seek of a frame is the same float."""
    index = math.floor(Fraction(max(0.0, t)) * fps + _SEEK_EPSILON)
    return frame_time(index, fps)


def frame_time(index: int, fps: Fraction | int) -> float:
    """Absolute composition time of frame ``index`` (never chunk-relative): ``index / fps``
    computed exactly, then rounded once, so it is the same float in every process (for an
    integer rate, exactly Python's ``index / fps``)."""
    return float(Fraction(index) / fps)


def frame_at(seconds: float, fps: Fraction | int) -> int:
    """The frame shown at ``seconds`` (frame ``i`` lasts from ``i/fps`` to ``(i+1)/fps``).

    The seconds are read as the decimal the user wrote (``0.7`` is 7/10, not the float just
    below it), so ``--at 0.7`` at 30 fps is frame 21."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{seconds!r} is not a time >= 0")
    return math.floor(Fraction(repr(float(seconds))) * fps)


def frames_between(start: float, end: float, fps: Fraction | int) -> tuple[int, int]:
    """The frames ``[first, last]`` (inclusive) shown from ``start`` up to ``end`` seconds:
    ``1.0`` to ``3.0`` at 30 fps is 30…89."""
    first = math.ceil(Fraction(repr(float(start))) * fps)
    last = math.ceil(Fraction(repr(float(end))) * fps) - 1
    return first, last
