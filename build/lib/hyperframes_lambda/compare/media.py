"""ffmpeg plumbing shared by every comparison (and by ``benchmarks/conformance.py``): run
the package's ffmpeg, count frames, read a video's size, decode frames to arrays.

Everything goes through the ffmpeg the renders were encoded with
(:func:`hyperframes_lambda.media.ffmpeg.ffmpeg_exe`), so a comparison never depends on whatever
ffmpeg happens to be on ``PATH``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from ..media.ffmpeg import ffmpeg_exe

_FRAME_PROGRESS = re.compile(r"frame=\s*(\d+)")
_VIDEO_SIZE = re.compile(r", (\d{2,5})x(\d{2,5})")


class MediaError(RuntimeError):
    """ffmpeg could not read or decode a file; the message names the file and ffmpeg's
    last lines."""


def run_ffmpeg(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg with ``args`` (banner off, no stdin, info log level); raise
    :class:`MediaError` with the last lines of stderr when it fails."""
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "info", *args],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        tail = result.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise MediaError(f"ffmpeg {' '.join(args[:4])}… failed: {' | '.join(tail)}")
    return result


def decoder_args(path: Path) -> list[str]:
    """Input options: ffmpeg's native vp9 decoder drops the alpha plane; libvpx keeps it."""
    return ["-c:v", "libvpx-vp9"] if path.suffix == ".webm" else []


def count_frames(path: Path) -> int:
    """Video frames without decoding: the packets of the first video stream (one per
    frame for every codec the renderers write); 0 when there is no video stream."""
    result = run_ffmpeg(["-i", str(path), "-map", "0:v:0?", "-c", "copy", "-f", "null", "-"])
    counts = _FRAME_PROGRESS.findall(result.stderr.decode(errors="replace"))
    return int(counts[-1]) if counts else 0


def stream_info(path: Path) -> str:
    """ffmpeg's description of the input's streams (its stderr for ``-i path``)."""
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", *decoder_args(path), "-i", str(path)],
        capture_output=True,
        check=False,
    )
    return result.stderr.decode(errors="replace")


def video_size(path: Path) -> tuple[int, int]:
    """Width and height of the first video stream."""
    for line in stream_info(path).splitlines():
        if "Video:" in line and (m := _VIDEO_SIZE.search(line)):
            return int(m.group(1)), int(m.group(2))
    raise MediaError(f"{path}: no video stream")


def has_audio(path: Path) -> bool:
    return any("Audio:" in line for line in stream_info(path).splitlines())


def decode_gray(path: Path, width: int, height: int) -> np.ndarray:
    """Every frame of ``path`` as 8-bit luma, scaled to ``width`` x ``height``: an array
    of shape (frames, height, width)."""
    raw = run_ffmpeg(
        [*decoder_args(path), "-i", str(path), "-map", "0:v:0", "-vf",
         f"scale={width}:{height}:flags=area,format=gray", "-fps_mode", "passthrough",
         "-f", "rawvideo", "-"]
    ).stdout  # fmt: skip
    size = width * height
    if len(raw) % size:
        raise MediaError(f"{path}: decoded {len(raw)} bytes, not whole {width}x{height} frames")
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width)
