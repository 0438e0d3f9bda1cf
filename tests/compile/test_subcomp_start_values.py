"""A sub-composition that starts later keeps its layout while hidden, so GSAP reads the
start values of its elements from the stylesheet (HyperFrames' producer reports its
timelines as building until a later task: the runtime lays clips out before it first hides
them, and an in-flow host is hidden with visibility, not display:none).

tests/compositions/late-subcomp: a host without a position of its own, starting at 1 s;
its `.bar` is `rotate(-15deg)` in the composition's CSS and tweened to -12° over 3 s.
Measured on the conformance fixture style-17-prod: the bar started from 0° instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hyperframes_lambda.browser.binary import ChromeBinary
from hyperframes_lambda.capture.frame_source import open_frame_source
from hyperframes_lambda.capture.page_capture import PageCapture
from hyperframes_lambda.compile.project import CompiledProject, compile_project
from hyperframes_lambda.net.remote_assets import RemoteFetcher

from ..conftest import COMPOSITIONS, png_settings

pytestmark = pytest.mark.slow

BAR = "document.querySelector('[data-composition-id=\"tilted\"] .bar')"


@pytest.fixture(scope="module")
def late_subcomp(tmp_path_factory: pytest.TempPathFactory) -> CompiledProject:
    out = tmp_path_factory.mktemp("late-subcomp") / "compiled"
    return compile_project(COMPOSITIONS / "late-subcomp", out, RemoteFetcher())


@pytest.fixture(scope="module")
def page(late_subcomp: CompiledProject, chrome: ChromeBinary) -> Iterator[PageCapture]:
    with open_frame_source(late_subcomp.root, late_subcomp.entry, png_settings(), chrome) as opened:
        yield opened


def test_a_hidden_later_host_keeps_its_layout(page: PageCapture) -> None:
    page.capture(0)
    host = "getComputedStyle(document.getElementById('late-host'))"
    assert page.evaluate(f"{host}.visibility") == "hidden"
    assert page.evaluate(f"{host}.display") != "none"


def test_tweens_start_from_the_stylesheet_value(page: PageCapture) -> None:
    page.capture(0)
    page.capture(45)  # 1.5 s: half a second into the sub-composition
    rotation = page.evaluate(f"gsap.getProperty({BAR}, 'rotation')")
    assert rotation == pytest.approx(-15 + 3 * 0.5 / 3, abs=0.05)
