"""Which size and frame rate a render uses: the composition's, unless configured."""

from __future__ import annotations

from fractions import Fraction

from ..compile.composition import CompositionInfo
from ..errors import InvalidConfigError
from ..timing import DEFAULT_FPS, parse_fps


def resolve_output_size(
    info: CompositionInfo, width: int | None, height: int | None
) -> tuple[int, int]:
    """The composition's ``data-width``/``data-height`` unless both are configured.

    A configured size wins and scales the page (device pixel ratio), so a 1080p
    composition renders crisply at 720p or 4K. The aspect ratio must match: stretching
    or cropping silently would ship a wrong video.
    """
    if width is None and height is None:
        return info.width, info.height
    if width is None or height is None:
        raise InvalidConfigError("width and height must be given together")
    for name, value in (("width", width), ("height", height)):
        if not 16 <= value <= 7680 or value % 2:
            raise InvalidConfigError(f"{name}={value} must be an even number of pixels, 16…7680")
    if abs(width / height - info.width / info.height) > 0.01:
        raise InvalidConfigError(
            f"width x height {width}x{height} does not match the composition's aspect ratio "
            f"{info.width}x{info.height} ({info.entry}); render at a matching size"
        )
    return width, height


def resolve_fps(info: CompositionInfo, fps: Fraction | None) -> Fraction:
    """Configured fps, else the root's ``data-fps``, else 30.

    Both were validated where they were read (``Config.fps``, ``data-fps``); checked again
    here because a caller may build either by hand.
    """
    resolved = fps or info.fps or DEFAULT_FPS
    try:
        return parse_fps(resolved)
    except ValueError as exc:
        raise InvalidConfigError(f"fps={resolved} {exc}") from None
