"""Stills: single frames of a frozen plan written as PNG, JPEG or WebP images.

    render_stills(plan_dir, [StillRequest(frame, path, format, quality)]) -> [StillResult]

A still is the frame a render captures, taken the same way (same plan, same page, same
seek), always as a lossless PNG screenshot: a PNG still is those bytes unchanged, so its
pixels are the captured frame of a png-sequence render of the same composition. JPEG and
WebP are encoded from that PNG by ffmpeg. JPEG has no alpha, so a JPEG still is captured
on the page's opaque background (as an mp4 render captures). Used by ``hyperframes-lambda
still``, the Lambda ``still`` action and a render's thumbnail.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..browser.pool import BrowserPool
from ..cache import file_sha256
from ..capture.frame_source import capture_frames_parallel, open_frame_sources
from ..errors import EncodeError, InvalidConfigError
from ..media.ffmpeg import ffmpeg_exe
from ..timing import fps_json
from .render_chunk import atomic_path, check_browser_build, load_plan, resize_png

StillFormat = Literal["png", "jpeg", "webp"]
STILL_EXTENSIONS: dict[str, StillFormat] = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".webp": "webp",
}
DEFAULT_JPEG_QUALITY = 90


@dataclass(frozen=True)
class StillRequest:
    """Frame ``frame`` (0-based) to ``path``; ``quality`` 1-100 for JPEG (default 90) and
    WebP (default: lossless)."""

    frame: int
    path: Path
    format: StillFormat = "png"
    quality: int | None = None


@dataclass(frozen=True)
class StillResult:
    frame: int
    path: Path
    sha256: str
    size: int
    width: int
    height: int


def still_format(path: Path, what: str = "output") -> StillFormat:
    """The image format a still's file name asks for, or InvalidConfigError naming it."""
    try:
        return STILL_EXTENSIONS[path.suffix.lower()]
    except KeyError:
        raise InvalidConfigError(
            f"{what} {path}: a still is .png, .jpg or .webp (got {path.suffix or 'no extension'})"
        ) from None


def render_stills(
    plan_dir: Path,
    requests: Sequence[StillRequest],
    *,
    expected_hash: str | None = None,
    browser_pool: BrowserPool | None = None,
) -> list[StillResult]:
    """Capture each requested frame of the plan and write it; every file appears whole
    (written beside itself and renamed), or not at all."""
    loaded = load_plan(plan_dir, expected_hash)
    total = int(loaded.document.get("compositionFrames", loaded.total_frames))
    fps = loaded.capture.fps
    for request in requests:
        if not 0 <= request.frame < total:
            raise InvalidConfigError(
                f"frame {request.frame} is not in the composition: it has {total} frames "
                f"(0…{total - 1} at {fps_json(fps)} fps)"
            )
        if request.quality is not None and not 1 <= request.quality <= 100:
            raise InvalidConfigError(f"quality {request.quality} must be 1…100")
    check_browser_build(loaded.document)
    results: dict[int, StillResult] = {}
    # Opaque captures for JPEG, the plan's own (transparent for alpha formats) otherwise.
    groups: dict[bool, list[int]] = {}
    for position, request in enumerate(requests):
        transparent = loaded.capture.transparent and request.format != "jpeg"
        groups.setdefault(transparent, []).append(position)
    for transparent, group in groups.items():
        capture = dataclasses.replace(loaded.capture, image_format="png", transparent=transparent)
        with open_frame_sources(
            plan_dir, loaded.document["entry"], capture, 1, pool=browser_pool
        ) as opened:
            resize = capture.downscaled and opened[0].mode == "beginframe"
            by_frame: dict[int, bytes] = {}
            frames = sorted({requests[i].frame for i in group})
            capture_frames_parallel(opened, frames, by_frame.__setitem__)
        for position in group:
            data = by_frame[requests[position].frame]
            if resize:
                data = resize_png(data, capture.width, capture.height)
            results[position] = _write(requests[position], data, capture.width, capture.height)
    return [results[i] for i in range(len(requests))]


def _write(request: StillRequest, png: bytes, width: int, height: int) -> StillResult:
    with atomic_path(request.path) as partial:
        if request.format == "png":
            partial.write_bytes(png)
        else:
            partial.write_bytes(encode_image(png, request.format, request.quality))
        digest, size = file_sha256(partial), partial.stat().st_size
    return StillResult(request.frame, request.path, digest, size, width, height)


def encode_image(png: bytes, image_format: StillFormat, quality: int | None) -> bytes:
    """A PNG screenshot as JPEG (quality 1-100, default 90) or WebP (lossless unless a
    quality is given), by ffmpeg, bit-exact for the same input."""
    if image_format == "jpeg":
        level = DEFAULT_JPEG_QUALITY if quality is None else quality
        # mjpeg's qscale runs 2 (best) … 31 (worst); spread 1-100 over it.
        qscale = round(31 - (level - 1) * 29 / 99)
        codec = ["-c:v", "mjpeg", "-q:v", str(qscale), "-pix_fmt", "yuvj444p", "-f", "mjpeg"]
    elif image_format == "webp":
        rate = ["-lossless", "1"] if quality is None else ["-quality", str(quality)]
        codec = ["-c:v", "libwebp", *rate, "-f", "webp"]
    else:
        return png
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "image2pipe",
         "-c:v", "png", "-i", "-", "-frames:v", "1", "-fflags", "+bitexact",
         "-flags:v", "+bitexact", *codec, "-"],
        input=png, capture_output=True, check=False,
    )  # fmt: skip
    if result.returncode != 0 or not result.stdout:
        raise EncodeError(
            f"encoding a {image_format} still failed: "
            f"{result.stderr.decode(errors='replace')[-300:]}"
        )
    return result.stdout
