"""Sampled pixels of known-pixels/ against their analytic values at specific frames."""

from __future__ import annotations

import numpy as np
import pytest

from hyperframes_lambda.capture.page_capture import PageCapture

from ..conftest import to_rgb

pytestmark = pytest.mark.slow

FPS = 30
BLACK = (0, 0, 0)


def px(frame: np.ndarray, x: int, y: int) -> tuple[int, int, int]:
    r, g, b = frame[y, x]
    return int(r), int(g), int(b)


def near(actual: tuple[int, int, int], expected: tuple[int, int, int], tol: int = 2) -> bool:
    return all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=True))


def test_duration_comes_from_the_root(known_page: PageCapture) -> None:
    assert known_page.duration == pytest.approx(2.0)
    assert known_page.mode == "beginframe"


@pytest.mark.parametrize("index", [0, 7, 15, 31, 44, 59])
def test_gsap_tween_and_web_animation_move_linearly(known_page: PageCapture, index: int) -> None:
    frame = to_rgb(known_page.capture(index))
    x = 100 * index / FPS  # both boxes travel 200 px in 2 s
    inside, left_of = int(x) + 10, int(x) - 3
    assert near(px(frame, inside, 10), (255, 0, 0)), f"GSAP box not at x={x:.2f}"
    assert near(px(frame, inside, 40), (0, 0, 255)), f"WAAPI box not at x={x:.2f}"
    if left_of >= 0:
        assert px(frame, left_of, 10) == BLACK
        assert px(frame, left_of, 40) == BLACK
    assert px(frame, int(x) + 24, 10) == BLACK


@pytest.mark.parametrize("index", [0, 12, 30, 59])
def test_css_keyframes_colour(known_page: PageCapture, index: int) -> None:
    red = round(125 * index / FPS)  # 0 -> 250 over 2 s
    assert near(px(to_rgb(known_page.capture(index)), 20, 80), (red, 0, 0))


@pytest.mark.parametrize(
    ("index", "clip_visible", "late_visible"),
    [(14, False, False), (15, True, False), (29, True, False), (30, False, False),
     (44, False, False), (45, False, True), (52, False, True), (53, False, False)],
)  # fmt: skip
def test_clip_windows(
    known_page: PageCapture, index: int, clip_visible: bool, late_visible: bool
) -> None:
    frame = to_rgb(known_page.capture(index))
    assert px(frame, 120, 80) == ((0, 255, 0) if clip_visible else BLACK)
    # "#late" starts at "clip + 0.5" = 1.5 s and lasts 0.25 s.
    assert px(frame, 120, 140) == ((255, 255, 255) if late_visible else BLACK)


@pytest.mark.parametrize(
    ("index", "colour"),
    [(0, (255, 255, 0)), (29, (255, 255, 0)), (30, (0, 255, 255)), (59, (0, 255, 255))],
)
def test_virtual_clocks_drive_raf_loops(
    known_page: PageCapture, index: int, colour: tuple[int, int, int]
) -> None:
    assert px(to_rgb(known_page.capture(index)), 220, 80) == colour


def test_nested_composition_is_placed_at_its_start(known_page: PageCapture) -> None:
    assert px(to_rgb(known_page.capture(29)), 205, 125) == BLACK  # before data-start: hidden
    frame = to_rgb(known_page.capture(45))  # t = 1.5: 0.5 s into the nested composition
    # GSAP moved the host down 10 px; its CSS animation moved the dot right 10 px.
    assert px(frame, 215, 135) == (255, 0, 255)
    assert px(frame, 205, 135) == BLACK
    assert px(frame, 215, 127) == BLACK


def test_seeded_random_depends_only_on_the_frame(known_page: PageCapture) -> None:
    grey = {}
    for index in (10, 11, 12, 10, 40, 11):
        value = px(to_rgb(known_page.capture(index)), 280, 80)
        assert value[0] == value[1] == value[2] == known_page.evaluate("window.__lastRandom")
        grey.setdefault(index, value)
        assert grey[index] == value, f"frame {index} drew a different random value when revisited"
    assert len({grey[i] for i in (10, 11, 12, 40)}) > 1


def test_date_is_virtual(known_page: PageCapture) -> None:
    known_page.capture(45)
    # HyperFrames' virtual clock starts at the epoch: Date.now() is the composition time.
    assert known_page.evaluate("Date.now()") == 1500
    assert known_page.evaluate("performance.now()") == 1500
    assert known_page.evaluate("new Date().toISOString()") == "1970-01-01T00:00:01.500Z"


def test_many_broken_images_from_one_origin_make_one_warning() -> None:
    from hyperframes_lambda.capture.page_capture import _collapse_image_warnings

    tiles = [
        f"image https://tiles.test/{i}.png failed to load; it renders as a broken image"
        for i in range(40)
    ]
    collapsed = _collapse_image_warnings([*tiles, "something else"])
    assert collapsed[0] == "something else" and len(collapsed) == 2
    assert collapsed[1].startswith("40 images from https://tiles.test failed to load")
    assert _collapse_image_warnings(tiles[:3]) == tiles[:3]
