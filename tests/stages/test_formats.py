"""Every output format renders in 4 chunks and assembles; alpha survives where it can."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from hyperframes_lambda.media.ffmpeg import ffmpeg_exe
from hyperframes_lambda.media.probe import probe

from ..conftest import COMPOSITIONS
from ..pipeline_helpers import run_pipeline

pytestmark = pytest.mark.slow

ALPHA = COMPOSITIONS / "alpha"


def decode_rgba(path: Path, decoder: list[str]) -> list[np.ndarray]:
    raw = subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            *decoder,
            "-i",
            str(path),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgba",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    frame = 320 * 180 * 4
    return [
        np.frombuffer(raw[i : i + frame], np.uint8).reshape(180, 320, 4)
        for i in range(0, len(raw), frame)
    ]


def assert_alpha(frame: np.ndarray, index: int) -> None:
    assert frame[5, 5, 3] <= 2, "empty area must be transparent"
    assert 110 <= frame[70, 70, 3] <= 145, f"half-transparent box alpha {frame[70, 70, 3]}"
    solid_x = 150 + int(100 * index / 60) + 20  # the middle of the sliding opaque box
    assert frame[120, solid_x, 3] >= 250, "opaque box must stay opaque"
    assert frame[120, solid_x - 30, 3] <= 2


@pytest.mark.parametrize(
    ("config", "suffix", "codec", "decoder"),
    [
        ({"format": "mp4"}, ".mp4", "h264", None),
        ({"format": "mp4", "codec": "h265"}, ".mp4", "hevc", None),
        ({"format": "webm"}, ".webm", "vp9", ["-c:v", "libvpx-vp9"]),
        ({"format": "mov"}, ".mov", "prores", []),
    ],
)
def test_video_formats_in_four_chunks(
    tmp_path: Path, config: dict[str, str], suffix: str, codec: str, decoder: list[str] | None
) -> None:
    run = run_pipeline(ALPHA, tmp_path, {**config, "maxParallelChunks": 4}, f"out{suffix}")
    assert run.plan.chunk_count == 4
    assert all(c.path.suffix == suffix for c in run.chunks)
    info = probe(run.output.path)
    assert (info.frame_count, info.video_codec, info.width, info.height) == (60, codec, 320, 180)
    if decoder is None:
        assert info.pixel_format == "yuv420p"
        return
    frames = decode_rgba(run.output.path, decoder)
    assert len(frames) == 60
    for index in (0, 29, 59):
        assert_alpha(frames[index], index)


def test_png_sequence_in_four_chunks_keeps_exact_frames_and_alpha(tmp_path: Path) -> None:
    run = run_pipeline(
        ALPHA, tmp_path, {"format": "png-sequence", "maxParallelChunks": 4}, "sequence"
    )
    out = run.output.path
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"frame_{i:06d}.png" for i in range(1, 61)]
    # Frames are the captured PNGs themselves: frame_000001.png is capture 0.
    assert (out / "frame_000001.png").read_bytes() == (
        tmp_path / "frames" / "frame_000000.png"
    ).read_bytes()
    for index in (1, 60):
        assert_alpha(decode_rgba(out / f"frame_{index:06d}.png", [])[0], index - 1)
