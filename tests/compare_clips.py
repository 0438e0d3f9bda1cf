"""Generated clips for the comparison and script tests: a moving test pattern with a
tone, and variants of it (noised, one frame shifted, a seam glitch), made with the
package's ffmpeg. Frames are written losslessly (FFV1 in Matroska) where the test needs
exact pixels, or as H.264 + AAC MP4 like a render."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from hyperframes_lambda.media.ffmpeg import ffmpeg_exe

WIDTH, HEIGHT, FPS = 160, 96, 30


def ffmpeg(*args: str) -> None:
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True
    )


def render_like(out: Path, frames: int = 60, audio: str | None = "sine=f=440") -> Path:
    """A 'render': moving testsrc2 as H.264 yuv420p, with an AAC tone unless audio=None."""
    inputs = ["-f", "lavfi", "-i", f"testsrc2=s={WIDTH}x{HEIGHT}:r={FPS}"]
    maps = ["-map", "0:v"]
    if audio:
        inputs += ["-f", "lavfi", "-i", f"{audio}:sample_rate=48000"]
        maps += ["-map", "1:a", "-c:a", "aac", "-b:a", "128k"]
    ffmpeg(*inputs, *maps, "-frames:v", str(frames), "-t", f"{frames / FPS}",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", str(out))  # fmt: skip
    return out


def noised(source: Path, out: Path, strength: int = 40) -> Path:
    ffmpeg("-i", str(source), "-vf", f"noise=alls={strength}:allf=t", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", "-c:a", "copy", str(out))  # fmt: skip
    return out


def decode_frames(source: Path) -> np.ndarray:
    raw = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(source), "-f", "rawvideo", "-pix_fmt", "rgb24",
         "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(-1, HEIGHT, WIDTH, 3).copy()


def write_frames(frames: np.ndarray, out: Path) -> Path:
    """Frames (n, h, w, 3) to a lossless video: what goes in is what decodes."""
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
         f"{WIDTH}x{HEIGHT}", "-r", str(FPS), "-i", "-", "-c:v", "ffv1", "-pix_fmt", "gbrp",
         str(out)], input=frames.tobytes(), check=True,
    )  # fmt: skip
    return out


def moving_frames(count: int = 60) -> np.ndarray:
    """A gradient bar sliding 2 px per frame over a textured background: every frame
    differs from the last by about the same amount, as in a steady animation."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    background = ((x * 3 + y * 5) % 64 + 96).astype(np.uint8)
    frames = np.empty((count, HEIGHT, WIDTH, 3), np.uint8)
    for i in range(count):
        frame = np.repeat(background[:, :, None], 3, axis=2)
        left = (i * 2) % (WIDTH - 30)
        frame[:, left : left + 30, 0] = 255
        frame[:, left : left + 30, 1] = (np.arange(30) * 8).astype(np.uint8)
        frames[i] = frame
    return frames
