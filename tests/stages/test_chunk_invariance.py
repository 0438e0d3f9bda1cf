"""Chunking must not change a single captured byte, nor the decoded output.

Two levels. Captured screenshots are byte-identical for 1, 4 and 7 chunks. Encoded with
crf 0 (lossless in yuv420p) the decoded outputs are identical too, on every frame and on
both sides of every seam: nothing is dropped, doubled or reordered. With the default
lossy settings a chunked encode cannot be bit-identical to a one-chunk encode (a seam
starts a new closed GOP: the frame after it is an I-frame instead of a P-frame), so there
we check that chunking costs no quality against the captured frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ..conftest import COMPOSITIONS, to_rgb
from ..pipeline_helpers import PipelineRun, decoded, psnr, run_pipeline

pytestmark = pytest.mark.slow

SEAMS = COMPOSITIONS / "seams"
LOSSLESS = {"crf": 0}


@pytest.fixture(scope="module")
def one_chunk(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    run = run_pipeline(SEAMS, tmp_path_factory.mktemp("one"), {**LOSSLESS, "maxParallelChunks": 1})
    assert run.plan.chunk_count == 1 and run.plan.total_frames == 90
    assert sorted(run.frame_hashes) == list(range(90))
    assert len(set(run.frame_hashes.values())) == 90, "every frame of the seams scene differs"
    return run


def seam_frames(sizes: list[int]) -> set[int]:
    ends = [sum(sizes[: i + 1]) for i in range(len(sizes) - 1)]
    return {f for end in ends for f in (end - 1, end)}


@pytest.mark.parametrize(("chunks", "sizes"), [(4, [23, 23, 23, 21]), (7, [13] * 6 + [12])])
def test_chunked_render_matches_one_chunk(
    one_chunk: PipelineRun, tmp_path: Path, chunks: int, sizes: list[int]
) -> None:
    run = run_pipeline(SEAMS, tmp_path, {**LOSSLESS, "maxParallelChunks": chunks})
    assert [c.frames for c in run.chunks] == sizes
    assert run.plan.plan_hash != one_chunk.plan.plan_hash  # the chunk table is part of the plan
    assert run.frame_hashes == one_chunk.frame_hashes, "captured frames differ across chunkings"
    assert run.output.frames == 90
    ours = decoded(run.output.path, 320, 180)
    reference = decoded(one_chunk.output.path, 320, 180)
    assert len(ours) == len(reference) == 90
    seams = seam_frames(sizes)
    for index, (a, b) in enumerate(zip(ours, reference, strict=True)):
        value = psnr(a, b)
        where = " (beside a seam)" if index in seams else ""
        assert value >= 50, f"frame {index}{where}: {value:.1f} dB against the one-chunk render"


def test_lossy_chunking_costs_no_quality(tmp_path: Path) -> None:
    runs = {n: run_pipeline(SEAMS, tmp_path / str(n), {"maxParallelChunks": n}) for n in (1, 4)}
    shots = {
        i: to_rgb((tmp_path / "1" / "frames" / f"frame_{i:06d}.jpg").read_bytes())
        for i in range(90)
    }
    against_source = {}
    for n, run in runs.items():
        frames = decoded(run.output.path, 320, 180)
        against_source[n] = [psnr(f, shots[i]) for i, f in enumerate(frames)]
    one, four = (np.array(against_source[n]) for n in (1, 4))
    # Both encodes are equally faithful to what the browser captured...
    assert four.min() >= one.min() - 1.5, f"worst frame {four.min():.1f} vs {one.min():.1f} dB"
    assert four.mean() >= one.mean() - 0.5
    # ...and close to each other on every frame, seams included.
    between = [
        psnr(a, b)
        for a, b in zip(*(decoded(runs[n].output.path, 320, 180) for n in (1, 4)), strict=True)
    ]
    assert min(between) >= 35, f"{min(between):.1f} dB between the 1- and 4-chunk renders"
