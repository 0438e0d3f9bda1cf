"""`background-clip: text` draws every descendant's glyphs, whatever their own opacity.

HyperFrames renders with Chrome 156, whose text mask keeps a word faded to opacity 0; the
Lambda build (Chromium 153) dropped it (issue 18: "YOU" missing from the `chat` fixture at
frame 420 with the product's default browser only). Checked with each browser we have: the
product's default and, when installed, Debian's headless shell (the reference's browser).
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import numpy.typing as npt
import pytest

from hyperframes_lambda.browser.resolve import DEBIAN_HEADLESS_SHELL, ENV_CHROME_PATH
from hyperframes_lambda.media.probe import decode_image
from hyperframes_lambda.runner.local_render import RenderOptions, render_local

from ..conftest import COMPOSITIONS

pytestmark = pytest.mark.slow

W, H = 360, 120
BROWSERS = ["default", "debian"]


def lime_pixels(frame: npt.NDArray[np.uint8], left: int, right: int) -> int:
    """Pixels of the lime background inside the word column [left, right)."""
    column = frame[:, left:right].astype(int)
    return int(((column[..., 1] > 150) & (column[..., 0] < 100) & (column[..., 2] < 100)).sum())


@pytest.fixture(scope="module", params=BROWSERS)
def frame(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> npt.NDArray[np.uint8]:
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "debian":
            if not (DEBIAN_HEADLESS_SHELL.is_file() and os.access(DEBIAN_HEADLESS_SHELL, os.X_OK)):
                pytest.skip("Debian's chromium-headless-shell is not installed")
            patch.setenv(ENV_CHROME_PATH, str(DEBIAN_HEADLESS_SHELL))
        work = tmp_path_factory.mktemp(f"text-clip-{request.param}")
        project = work / "project"
        shutil.copytree(COMPOSITIONS / "text-clip", project)
        options = RenderOptions(
            dump_frames=work / "frames", pages=1, quality="high", frame_range=(0, 0), lint=False
        )
        render_local(project, work / "out.mp4", options)
    first = sorted((work / "frames").glob("frame_*"))[0]
    raw = decode_image(first.read_bytes(), W, H, "rgb24")
    return np.frombuffer(raw, np.uint8).reshape(H, W, 3)


def test_every_word_shows_the_background(frame: npt.NDArray[np.uint8]) -> None:
    counts = [lime_pixels(frame, left, left + 120) for left in (0, 120, 240)]
    opaque = counts[0]
    assert opaque > 500, f"the opaque word shows {opaque} lime pixels: the clip drew nothing"
    for name, count in zip(("opacity 0", "opacity 0.3"), counts[1:], strict=True):
        assert count > 0.9 * opaque, f"the word at {name} shows {count} lime pixels, not ~{opaque}"


def test_what_an_invisible_word_paints_stays_invisible(frame: npt.NDArray[np.uint8]) -> None:
    box = frame[20:30, 130:230].astype(int)
    assert int(box[..., 0].max()) < 30, "the red box inside the opacity-0 word is visible"
