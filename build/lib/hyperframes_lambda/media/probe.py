"""Inspect encoded media with ffmpeg alone (the bundled ffmpeg ships no ffprobe).

Used to verify outputs (decoded frame count, duration) and by the comparison tools and
tests (decoded frames as raw RGB for hashes and PSNR).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import OutputVerificationError
from ..media.ffmpeg import ffmpeg_exe

_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(
    r"Stream #\S+.*?: Video: (\w+)[^,]*(?:\([^)]*\))?, (\w+)(?:\([^)]*\))?, (\d+)x(\d+)"
)
_FRAMES = re.compile(r"frame=\s*(\d+)")


@dataclass(frozen=True)
class MediaInfo:
    duration: float | None
    video_codec: str | None
    pixel_format: str | None
    width: int | None
    height: int | None
    has_audio: bool
    frame_count: int


def probe(path: Path) -> MediaInfo:
    """Streams and duration from the header, frame count by decoding every frame."""
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:v:0?",
         "-f", "null", "-"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise OutputVerificationError(f"{path} cannot be decoded: {result.stderr.strip()[-500:]}")
    err = result.stderr
    duration = None
    if m := _DURATION.search(err):
        duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    codec = pix = None
    width = height = None
    if v := _VIDEO.search(err):
        codec, pix = v.group(1), v.group(2)
        width, height = int(v.group(3)), int(v.group(4))
    frames = [int(x) for x in _FRAMES.findall(err)]
    return MediaInfo(
        duration=duration,
        video_codec=codec,
        pixel_format=pix,
        width=width,
        height=height,
        has_audio=bool(re.search(r"Stream #\S+.*?: Audio:", err)),
        frame_count=frames[-1] if frames else 0,
    )


def decode_frames(path: Path, width: int, height: int, pix_fmt: str = "rgb24") -> Iterator[bytes]:
    """Yield every decoded frame of ``path`` as raw pixels (``pix_fmt``)."""
    bytes_per_pixel = {"rgb24": 3, "rgba": 4, "gray": 1}[pix_fmt]
    frame_size = width * height * bytes_per_pixel
    process = subprocess.Popen(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(path),
         "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        while True:
            frame = process.stdout.read(frame_size)
            if not frame:
                break
            if len(frame) != frame_size:
                raise OutputVerificationError(f"{path}: truncated frame ({len(frame)} bytes)")
            yield frame
    finally:
        process.stdout.close()
        process.kill()
        process.wait()


def decode_image(data: bytes, width: int, height: int, pix_fmt: str = "rgb24") -> bytes:
    """Decode one encoded screenshot (PNG/JPEG bytes) to raw pixels."""
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "image2pipe",
         "-i", "-", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"],
        input=data, capture_output=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise OutputVerificationError(f"image cannot be decoded: {result.stderr.decode()[-300:]}")
    bytes_per_pixel = {"rgb24": 3, "rgba": 4, "gray": 1}[pix_fmt]
    expected = width * height * bytes_per_pixel
    if len(result.stdout) != expected:
        raise OutputVerificationError(
            f"decoded image has {len(result.stdout)} bytes, expected {expected}"
        )
    return result.stdout


def audio_sample_count(path: Path, sample_rate: int = 48000) -> int:
    """Samples per channel of the first audio stream, decoded (encoder delay and padding
    trimmed as the container says): the exact length an audio-only output is checked by."""
    process = subprocess.Popen(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(path),
         "-map", "0:a:0", "-ac", "1", "-ar", str(sample_rate), "-f", "s16le", "-"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    total = 0
    while block := process.stdout.read(1 << 20):
        total += len(block)
    _, stderr = process.communicate()
    if process.returncode != 0:
        raise OutputVerificationError(f"{path} cannot be decoded: {stderr.decode()[-500:]}")
    return total // 2
