from __future__ import annotations

import pytest

from hyperframes_lambda.timing import frame_count, frame_time, quantize


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
    ],
)
def test_frame_count_rounds_within_tolerance_else_ceils(
    duration: float, fps: int, frames: int
) -> None:
    assert frame_count(duration, fps) == frames


def test_quantize_snaps_to_the_frame_grid() -> None:
    assert quantize(-1.0, 30) == 0.0
    assert quantize(0.999999, 30) == 29 / 30
    assert quantize(1.0, 30) == 1.0
    # Floating point noise just below a frame boundary still lands on that frame.
    assert quantize(0.1 + 0.2, 10) == 0.3


def test_frame_times_are_absolute_and_stable() -> None:
    assert [frame_time(i, 30) for i in (0, 1, 30, 59)] == [0.0, 1 / 30, 1.0, 59 / 30]
    assert frame_time(7, 24) == quantize(7 / 24, 24)
