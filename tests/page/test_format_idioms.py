"""HyperFrames idioms the official runtime gives us (our first runtime got each wrong).

tests/compositions/idioms: author CSS `.clip { visibility: hidden }` with clips the
runtime shows in their windows; a page that defines its own `window.__hf`; variables read
through `window.__hyperframes.getVariables()` with the composition's declared default; two
sub-compositions that both declare `const root` and style `.dot` (scoped scripts and CSS);
a host without `data-composition-id`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hyperframes_lambda.browser.binary import ChromeBinary
from hyperframes_lambda.capture.frame_source import open_frame_source
from hyperframes_lambda.capture.page_capture import PageCapture
from hyperframes_lambda.compile.project import CompiledProject, compile_project
from hyperframes_lambda.net.remote_assets import RemoteFetcher

from ..conftest import COMPOSITIONS, png_settings, to_rgb

pytestmark = pytest.mark.slow

RED, GREEN, BLUE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 0, 0)
YELLOW, MAGENTA, CYAN, WHITE = (255, 255, 0), (255, 0, 255), (0, 255, 255), (255, 255, 255)


@pytest.fixture(scope="module")
def idioms(tmp_path_factory: pytest.TempPathFactory) -> CompiledProject:
    out = tmp_path_factory.mktemp("idioms") / "compiled"
    return compile_project(COMPOSITIONS / "idioms", out, RemoteFetcher())


@pytest.fixture(scope="module")
def page(idioms: CompiledProject, chrome: ChromeBinary) -> Iterator[PageCapture]:
    with open_frame_source(idioms.root, idioms.entry, png_settings(), chrome) as opened:
        yield opened


def px(frame: np.ndarray, x: int, y: int) -> tuple[int, int, int]:
    r, g, b = frame[y, x]
    return int(r), int(g), int(b)


def test_author_hidden_clips_are_shown_in_their_window(page: PageCapture) -> None:
    at_half, at_one_and_half = to_rgb(page.capture(15)), to_rgb(page.capture(45))
    assert px(at_half, 20, 20) == RED and px(at_half, 80, 20) == BLACK
    assert px(at_one_and_half, 20, 20) == BLACK and px(at_one_and_half, 80, 20) == BLUE


def test_a_page_defined_window_hf_is_kept_and_driven(page: PageCapture) -> None:
    assert page.evaluate("window.__hf.authoredBy") == "page"
    assert page.duration == pytest.approx(2.0)


def test_variables_default_from_the_composition(page: PageCapture) -> None:
    assert px(to_rgb(page.capture(0)), 140, 20) == GREEN


def test_sub_compositions_have_their_own_scope(page: PageCapture) -> None:
    frame = to_rgb(page.capture(15))  # t = 0.5: left dot at x = 15, right dot at x = 30
    assert px(frame, 15 + 20, 80) == YELLOW and px(frame, 10, 80) == BLACK
    assert px(frame, 160 + 30 + 20, 80) == MAGENTA and px(frame, 160 + 25, 80) == BLACK


def test_a_host_without_an_id_takes_its_compositions(page: PageCapture) -> None:
    frame = to_rgb(page.capture(15))
    assert px(frame, 10, 130) == WHITE and px(frame, 30, 150) == CYAN


def test_variables_given_to_the_render_win(idioms: CompiledProject, chrome: ChromeBinary) -> None:
    settings = png_settings()
    settings = type(settings)(**{**settings.__dict__, "variables": {"accent": "rgb(0, 0, 255)"}})
    with open_frame_source(idioms.root, idioms.entry, settings, chrome) as opened:
        assert px(to_rgb(opened.capture(0)), 140, 20) == BLUE


def test_the_composition_is_in_the_conformance_style(tmp_path: Path) -> None:
    """The idioms page is an ordinary project: it compiles with no warnings."""
    compiled = compile_project(COMPOSITIONS / "idioms", tmp_path / "c", RemoteFetcher())
    assert compiled.warnings == []
    assert compiled.subcompositions == [
        "compositions/dot.html",
        "compositions/dot2.html",
        "compositions/anon.html",
    ]
