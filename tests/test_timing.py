from __future__ import annotations

from fractions import Fraction

import pytest

from hyperframes_lambda.timing import (
    fps_json,
    fps_text,
    frame_count,
    frame_time,
    frames_duration,
    parse_fps,
    quantize,
)

NTSC = Fraction(30000, 1001)


@pytest.mark.parametrize(
    ("duration", "fps", "frames"),
    [
        (2.0, 30, 60),
        (4.0, 24, 96),
        (1.00001, 30, 30),
        (1.0001, 30, 31),
        (1.01, 30, 31),
        (5.6, 30, 168),
        (0.5, 60, 30),
        (10 / 3, 30, 100),
        (0.0333, 30, 1),
        (2.0, 25, 50),
        (1.0, 12, 12),
        (0.25, 10, 3),  # 2.5 frames: ceil
        (1.0, NTSC, 30),  # 29.97 frames: ceil
        (2.0, NTSC, 60),  # 59.94
        (10.01, NTSC, 300),  # exactly 300 frames of 1001/30000 s
        (1001 / 30000, NTSC, 1),
        (1.001, Fraction(24000, 1001), 24),
        (10.0, Fraction(25, 2), 125),
    ],
)
def test_frame_count_rounds_within_tolerance_else_ceils(
    duration: float, fps: Fraction | int, frames: int
) -> None:
    assert frame_count(duration, Fraction(fps)) == frames
    assert frame_count(duration, fps) == frames  # a plain int rate is the same rate


def test_quantize_snaps_to_the_frame_grid() -> None:
    assert quantize(-1.0, 30) == 0.0
    assert quantize(0.999999, 30) == 29 / 30
    assert quantize(1.0, 30) == 1.0
    # Floating point noise just below a frame boundary still lands on that frame.
    assert quantize(0.1 + 0.2, 10) == 0.3
    assert quantize(1.0, NTSC) == frame_time(29, NTSC)  # frame 30 starts at 1.001 s
    assert quantize(1.001, NTSC) == frame_time(30, NTSC) == 1.001


def test_frame_times_are_absolute_and_stable() -> None:
    assert [frame_time(i, 30) for i in (0, 1, 30, 59)] == [0.0, 1 / 30, 1.0, 59 / 30]
    assert frame_time(7, 24) == quantize(7 / 24, 24)


def test_integer_rates_keep_their_exact_frame_times() -> None:
    # Frame times of integer rates are what they always were (i / fps), so frames
    # captured before rationals existed are the same frames.
    for fps in (24, 25, 30, 60):
        assert all(frame_time(i, Fraction(fps)) == i / fps for i in range(20_000))


def test_rational_frame_times_are_exact_and_on_the_grid() -> None:
    assert frame_time(1, NTSC) == 1001 / 30000
    assert frame_time(30_000, NTSC) == 1001.0  # no accumulated drift
    for i in range(0, 20_000, 7):
        t = frame_time(i, NTSC)
        assert t == float(Fraction(i * 1001, 30000))
        assert quantize(t, NTSC) == t  # a frame's own time quantizes to itself
    assert frames_duration(60, NTSC) == 2.002
    assert frames_duration(50, 25) == 2.0


@pytest.mark.parametrize(
    ("value", "rate"),
    [
        (25, Fraction(25)),
        (10, Fraction(10)),
        (12, Fraction(12)),
        (1, Fraction(1)),
        (240, Fraction(240)),
        (30.0, Fraction(30)),
        ("25", Fraction(25)),
        (" 60 ", Fraction(60)),
        ("30.0", Fraction(30)),
        ("30000/1001", NTSC),
        ("24000/1001", Fraction(24000, 1001)),
        ("60000 / 1001", Fraction(60000, 1001)),
        ("60/2", Fraction(30)),
        ("25/2", Fraction(25, 2)),
        (NTSC, NTSC),
    ],
)
def test_parse_fps_accepts_whole_numbers_and_rationals(value: object, rate: Fraction) -> None:
    assert parse_fps(value) == rate


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "must be 1…240 frames per second"),
        (241, "must be 1…240"),
        (-30, "must be 1…240"),
        ("abc", "must be 1…240"),
        ("", "must be 1…240"),
        ("30fps", "must be 1…240"),
        ("1/2", "must be 1…240"),
        ("30000/0", "the denominator is 0"),
        ("-25", "must be 1…240"),
        (True, "not a boolean"),
        (None, "must be 1…240"),
        ([30], "must be 1…240"),
        (float("nan"), "must be 1…240"),
        (float("inf"), "must be 1…240"),
        (29.97, "write 30000/1001 (NTSC 29.97) or 2997/100"),
        ("29.97", "not a fractional decimal: write 30000/1001"),
        ("23.976", "write 24000/1001 (NTSC 23.976) or 2997/125"),
        (12.5, "write 25/2 (exactly 12.5)"),
        ("2000001/10000", "at most 1001000"),
    ],
)
def test_parse_fps_refuses_with_a_reason(value: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_fps(value)
    assert message in str(caught.value)


def test_fps_text_and_json_keep_integers_integers() -> None:
    assert (fps_text(Fraction(30)), fps_json(Fraction(30))) == ("30", 30)
    assert isinstance(fps_json(Fraction(25)), int)
    assert (fps_text(NTSC), fps_json(NTSC)) == ("30000/1001", "30000/1001")
    assert parse_fps(fps_json(NTSC)) == NTSC and parse_fps(fps_json(Fraction(25))) == 25
