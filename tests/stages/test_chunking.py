from __future__ import annotations

import itertools

import pytest

from hyperframes_lambda.stages.chunking import lambda_frame_budget, slice_chunks


def shape(total: int, **kwargs: int) -> list[int]:
    chunks = slice_chunks(total, **kwargs)
    assert chunks[0].start_frame == 0 and chunks[-1].end_frame == total
    for a, b in itertools.pairwise(chunks):
        assert a.end_frame == b.start_frame, "chunks must tile the frames without gaps"
    assert [c.index for c in chunks] == list(range(len(chunks)))
    return [c.frames for c in chunks]


@pytest.mark.parametrize(
    ("total", "kwargs", "expected"),
    [
        (60, {"chunk_size": 15}, [15] * 4),
        (60, {}, [10] * 6),
        (120, {}, [10] * 12),
        (168, {}, [11] * 15 + [3]),
        (480, {}, [30] * 16),
        (7, {}, [7]),
        (100, {"max_parallel_chunks": 1}, [100]),
        (100, {"max_parallel_chunks": 4}, [25] * 4),
        (100, {"max_parallel_chunks": 7}, [15] * 6 + [10]),
        (1000, {"target_chunk_frames": 300}, [250] * 4),
    ],
)
def test_reference_chunking_numbers(
    total: int, kwargs: dict[str, int], expected: list[int]
) -> None:
    assert shape(total, **kwargs) == expected


def test_lambda_budget_scales_with_pixels() -> None:
    # half of 900 s at 5 fps (1080p) and 1.25 fps (4K): pixels decide at these sizes
    assert lambda_frame_budget(1920, 1080) == 2250
    assert lambda_frame_budget(3840, 2160) == 562
