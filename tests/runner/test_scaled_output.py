"""--width/--height give exactly that size, sharp: the page is laid out at the composition's
size and rendered at the output's scale (issue: BeginFrame screenshots ignore an emulated
device scale factor, so the browser itself runs at that factor)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hyperframes_lambda.media.probe import decode_frames, probe
from hyperframes_lambda.runner.local_render import RenderOptions, render_local

from ..conftest import COMPOSITIONS

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("fmt", "width", "height"),
    [
        ("mp4", 320, 180),  # below Chrome's smallest device scale factor: screenshots
        ("mp4", 640, 360),
        ("mp4", 1920, 1080),
        ("mp4", 3840, 2160),
        ("png-sequence", 640, 360),
    ],
)
def test_scaled_render_has_the_requested_size_and_edges_where_the_scale_puts_them(
    tmp_path: Path, fmt: str, width: int, height: int
) -> None:
    out = tmp_path / ("frames" if fmt == "png-sequence" else "out.mp4")
    options = RenderOptions(width=width, height=height, format=fmt)  # type: ignore[arg-type]
    result = render_local(COMPOSITIONS / "scaled", out, options)
    assert (result.plan.width, result.plan.height) == (width, height)
    if fmt == "png-sequence":
        first = out / "frame_000001.png"
        info = probe(first)
        frame_bytes = next(iter(decode_frames(first, width, height)))
    else:
        info = probe(out)
        assert info.frame_count == 6
        frame_bytes = next(iter(decode_frames(out, width, height)))
    assert (info.width, info.height) == (width, height)
    frame = np.frombuffer(frame_bytes, np.uint8).reshape(height, width, 3).astype(int)
    s = width / 1280

    def near(x: float, y: float, rgb: tuple[int, int, int]) -> bool:
        return bool(np.all(np.abs(frame[int(y), int(x)] - np.array(rgb)) <= 12))

    inset = 3  # pixels inside/outside an edge: chroma subsampling blurs the edge itself
    red, blue, black = (255, 0, 0), (0, 0, 255), (0, 0, 0)
    assert near(320 * s + inset, 180 * s + inset, red)  # the box's top-left corner
    assert near(640 * s - inset, 360 * s - inset, red)  # its bottom-right corner
    assert near(320 * s - inset, 180 * s + inset, black) and near(640 * s + inset, 200 * s, black)
    assert near(320 * s + inset, 180 * s - inset, black) and near(400 * s, 360 * s + inset, black)
    assert near(960 * s + inset, 10, blue) and near(960 * s - inset, 10, black)
    assert near(1120 * s - inset, height - 2, blue) and near(1120 * s + inset, height - 2, black)
