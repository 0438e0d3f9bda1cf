"""Frame and chunk limits of a plan (issue 10 item 6b): no plan a worker cannot finish."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import pytest

from hyperframes_lambda.errors import CompositionError, InvalidConfigError, PlanTooLargeError
from hyperframes_lambda.stages.chunking import (
    DEFAULT_MAX_FRAMES,
    ENV_LAMBDA_TIMEOUT,
    LAMBDA_FRAME_FLOOR_S,
    checked_frame_count,
    lambda_frame_budget,
    lambda_frame_seconds,
    plan_chunks,
)
from hyperframes_lambda.stages.plan import plan

LAMBDA = {"chunk_size": None, "target_chunk_frames": None, "runtime_cap": "lambda"}


def test_lambda_chunks_bigger_than_the_budget_are_refused() -> None:
    """The audit's case: 100,000 s at 30 fps, 320x180, 16 chunks of 187,500 frames."""
    budget = lambda_frame_budget(320, 180)
    assert budget == 18_000  # the per-frame floor, not pixels, decides at this size
    with pytest.raises(PlanTooLargeError) as caught:
        plan_chunks(3_000_000, 320, 180, max_parallel_chunks=16, **LAMBDA)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "3000000 frames" in message and "16 chunks of up to 187500 frames" in message
    assert f"at most {budget} frames" in message and "maxParallelChunks to 167" in message
    assert caught.value.code == "PLAN_TOO_LARGE" and not caught.value.retryable


def test_enough_parallel_chunks_fit_the_budget() -> None:
    chunks, warnings = plan_chunks(3_000_000, 320, 180, max_parallel_chunks=167, **LAMBDA)  # type: ignore[arg-type]
    assert len(chunks) == 167 and max(c.frames for c in chunks) <= 18_000 and not warnings
    assert chunks[-1].end_frame == 3_000_000


def test_too_many_frames_even_for_256_chunks_says_to_shorten() -> None:
    frames = 2250 * 256 + 1  # 1080p: 2250 frames per chunk
    with pytest.raises(PlanTooLargeError, match="shorten the composition or lower its size"):
        plan_chunks(frames, 1920, 1080, max_parallel_chunks=256, **LAMBDA)  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout_s", [None, 900, 300, 120])
def test_small_frames_are_planned_by_the_per_frame_floor(
    timeout_s: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """320x180 for 3.7 hours: pixels alone planned 108,000-frame chunks (15 minutes at the
    120 fps measured here). With the floor, no chunk's frames x floor exceeds half of the
    function's timeout."""
    if timeout_s is not None:
        monkeypatch.setenv(ENV_LAMBDA_TIMEOUT, str(timeout_s))
    half = (timeout_s or 900) / 2
    frames = 400_000
    chunks, _ = plan_chunks(frames, 320, 180, max_parallel_chunks=256, **LAMBDA)  # type: ignore[arg-type]
    assert sum(c.frames for c in chunks) == frames
    assert max(c.frames for c in chunks) * LAMBDA_FRAME_FLOOR_S <= half
    assert max(c.frames for c in chunks) / 120 <= half  # at the rate measured here, too
    assert lambda_frame_seconds(320, 180) == LAMBDA_FRAME_FLOOR_S


def test_a_bad_timeout_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_LAMBDA_TIMEOUT, "soon")
    with pytest.raises(InvalidConfigError, match=ENV_LAMBDA_TIMEOUT):
        lambda_frame_budget(320, 180)


def test_without_a_runtime_cap_chunks_are_the_reference_formula() -> None:
    chunks, _ = plan_chunks(
        3_000_000, 320, 180, chunk_size=None, target_chunk_frames=None,
        max_parallel_chunks=16, runtime_cap="none",
    )  # fmt: skip
    assert len(chunks) == 16 and chunks[0].frames == 187_500


def test_explicit_chunk_size_over_the_budget_warns() -> None:
    chunks, warnings = plan_chunks(
        6000, 1920, 1080, chunk_size=3600, target_chunk_frames=None,
        max_parallel_chunks=16, runtime_cap="lambda",
    )  # fmt: skip
    assert [c.frames for c in chunks] == [3600, 2400]
    assert len(warnings) == 1 and "chunkSize 3600" in warnings[0]


@pytest.mark.parametrize("duration", [math.inf, -math.inf, math.nan, 0.0, -1.0, 1e308])
def test_unusable_durations_are_invalid_compositions(duration: float) -> None:
    with pytest.raises(CompositionError, match=r"index\.html: data-duration: duration"):
        checked_frame_count(duration, Fraction(30), "index.html: data-duration")


def test_frame_count_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DEFAULT_MAX_FRAMES == 1_080_000
    assert checked_frame_count(36_000.0, Fraction(30), "x") == 1_080_000  # 10 h: allowed
    with pytest.raises(PlanTooLargeError, match="more than 1080000 frames"):
        checked_frame_count(36_000.1, Fraction(30), "x")
    monkeypatch.setenv("HYPERFRAMES_MAX_FRAMES", "100")
    assert checked_frame_count(3.3, Fraction(30), "x") == 99
    with pytest.raises(PlanTooLargeError, match="HYPERFRAMES_MAX_FRAMES"):
        checked_frame_count(3.4, Fraction(30), "x")
    monkeypatch.setenv("HYPERFRAMES_MAX_FRAMES", "lots")
    with pytest.raises(InvalidConfigError, match="HYPERFRAMES_MAX_FRAMES='lots'"):
        checked_frame_count(1.0, Fraction(30), "x")


def _project(root: Path, duration: str) -> Path:
    root.mkdir()
    (root / "index.html").write_text(
        f'<div data-composition-id="m" data-width="320" data-height="180" '
        f'data-duration="{duration}"></div>'
    )
    return root


@pytest.mark.parametrize(
    ("duration", "error"),
    [("100000", PlanTooLargeError), ("1e308", CompositionError), ("inf", CompositionError)],
)
def test_plan_refuses_before_any_work(
    tmp_path: Path, duration: str, error: type[Exception]
) -> None:
    project = _project(tmp_path / "project", duration)
    with pytest.raises(error, match="data-duration"):
        plan(project, {"runtimeCap": "lambda"}, tmp_path / "plan", tmp_path / "plan.tar.gz")
    assert not (tmp_path / "plan").exists() and not (tmp_path / "plan.tar.gz").exists()


@pytest.mark.slow
def test_plan_refuses_an_impossible_lambda_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the frame cap, but 16 chunks of 187,500 frames: refused after the page probe,
    before video and audio work, leaving nothing behind."""
    monkeypatch.setenv("HYPERFRAMES_MAX_FRAMES", "10000000")
    project = _project(tmp_path / "project", "100000")
    with pytest.raises(PlanTooLargeError, match="16 chunks of up to 187500 frames"):
        plan(project, {"runtimeCap": "lambda"}, tmp_path / "plan", tmp_path / "plan.tar.gz")
    assert not (tmp_path / "plan").exists() and not (tmp_path / "plan.tar.gz").exists()
