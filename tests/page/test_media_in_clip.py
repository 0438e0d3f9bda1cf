"""A nested <video>'s data-start counts from its composition, not from any timed ancestor.

As in HyperFrames' producer (hyperframes@0.8.170): only composition hosts shift the clock
of the media inside them; a plain `.clip` div does not. Measured before the fix on a
promo-like composition: a card clip at 0.5 s holding a <video data-start="0.5"> showed
its first video frame half a second late (a white card), 13.7 dB against the reference.
"""

from __future__ import annotations

import shutil

import numpy as np
import numpy.typing as npt
import pytest

from hyperframes_lambda.media.probe import decode_image
from hyperframes_lambda.runner.local_render import RenderOptions, render_local

from ..conftest import COMPOSITIONS
from ..media_fixtures import colour_video

pytestmark = pytest.mark.slow

W, H = 320, 180
RED, LIME, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
IN_CLIP, IN_HOST, ENDS = (80, 90), (240, 90), (20, 15)  # (x, y) inside each video
BLACK = (0, 0, 0)


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> dict[int, npt.NDArray[np.uint8]]:
    work = tmp_path_factory.mktemp("media-in-clip")
    project = work / "project"
    shutil.copytree(COMPOSITIONS / "media-in-clip", project)
    (project / "media").mkdir()
    colour_video(project / "media" / "colors.mp4")
    render_local(project, work / "out.mp4", RenderOptions(dump_frames=work / "f", pages=1))
    out = {}
    for path in sorted((work / "f").glob("frame_*")):
        raw = decode_image(path.read_bytes(), W, H, "rgb24")
        out[int(path.stem.split("_")[1])] = np.frombuffer(raw, np.uint8).reshape(H, W, 3)
    return out


def colour_at(frame: npt.NDArray[np.uint8], xy: tuple[int, int]) -> tuple[int, ...]:
    return tuple(int(v) for v in frame[xy[1], xy[0]])


def near(actual: tuple[int, ...], rgb: tuple[int, int, int]) -> bool:
    return max(abs(a - b) for a, b in zip(actual, rgb, strict=True)) < 60


@pytest.mark.parametrize(
    ("index", "where", "rgb"),
    [
        (16, IN_CLIP, RED),  # t=0.533: 0.033 s into the video (0.5 s start, not 1 s)
        (27, IN_CLIP, LIME),  # t=0.9: 0.4 s in
        (36, IN_CLIP, BLUE),  # t=1.2: 0.7 s in
        (24, IN_HOST, RED),  # t=0.8: the host's 0.5 s + 0.2 s
        (33, IN_HOST, LIME),  # t=1.1: 0.4 s in
        (12, ENDS, LIME),  # t=0.4: before its data-end
        (18, ENDS, BLACK),  # t=0.6: after its data-end (0.5 s)
    ],
)
def test_nested_video_clock(
    frames: dict[int, npt.NDArray[np.uint8]],
    index: int,
    where: tuple[int, int],
    rgb: tuple[int, int, int],
) -> None:
    actual = colour_at(frames[index], where)
    assert near(actual, rgb), f"frame {index} at {where}: {actual}, expected {rgb}"
