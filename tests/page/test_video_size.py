"""A <video> takes the file's natural size for layout, as in a browser and HyperFrames.

Our pages show pre-extracted frames instead of decoding the video, so the element has no
source of its own; it must still lay out at the file's dimensions and aspect ratio
(issue 18: a `width: 100%; height: auto` video rendered as a 2:1 strip).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hyperframes_lambda.media.probe import decode_image
from hyperframes_lambda.runner.local_render import RenderOptions, render_local

from ..conftest import COMPOSITIONS
from ..media_fixtures import ffmpeg

pytestmark = pytest.mark.slow

W, H = 320, 240


def colour_clip(out: Path, colour: str, size: str) -> None:
    ffmpeg("-f", "lavfi", "-i", f"color=c={colour}:s={size}:r=30:d=1",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out))  # fmt: skip


@pytest.fixture(scope="module")
def frame(tmp_path_factory: pytest.TempPathFactory) -> npt.NDArray[np.uint8]:
    work = tmp_path_factory.mktemp("video-size")
    project = work / "project"
    shutil.copytree(COMPOSITIONS / "video-size", project)
    (project / "media").mkdir()
    colour_clip(project / "media" / "green.mp4", "lime", "160x120")
    colour_clip(project / "media" / "blue.mp4", "blue", "100x100")
    options = RenderOptions(dump_frames=work / "frames", pages=1)
    render_local(project, work / "out.mp4", options)
    first = sorted((work / "frames").glob("frame_*"))[0]
    raw = decode_image(first.read_bytes(), W, H, "rgb24")
    return np.frombuffer(raw, np.uint8).reshape(H, W, 3)


def is_colour(pixel: npt.NDArray[np.uint8], rgb: tuple[int, int, int]) -> bool:
    return bool(np.abs(pixel.astype(int) - np.array(rgb)).max() < 40)


@pytest.mark.parametrize(
    ("x", "y", "rgb", "why"),
    [
        (30, 30, (0, 0, 255), "the square video (height 60 px)"),
        (90, 30, (0, 255, 0), "right of the square video: it is 60 px wide, not 120"),
        (160, 200, (0, 255, 0), "low in the frame: width 100% and 4:3 fill 320x240"),
        (310, 235, (0, 255, 0), "the bottom-right corner"),
    ],
)
def test_videos_lay_out_at_the_files_natural_size(
    frame: npt.NDArray[np.uint8], x: int, y: int, rgb: tuple[int, int, int], why: str
) -> None:
    assert is_colour(frame[y, x], rgb), f"({x},{y}) is {tuple(frame[y, x])}, not {rgb}: {why}"
