"""Helpers for pipeline tests: run plan → every chunk → assemble in this process."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hyperframes_lambda.media.probe import decode_frames
from hyperframes_lambda.stages.assemble import AssembleResult, assemble
from hyperframes_lambda.stages.plan import PlanResult, plan
from hyperframes_lambda.stages.render_chunk import CHUNK_EXTENSIONS, ChunkResult, render_chunk


@dataclass
class PipelineRun:
    plan: PlanResult
    chunks: list[ChunkResult]
    output: AssembleResult
    frame_hashes: dict[int, str]


def run_pipeline(
    project: Path, work: Path, config: dict[str, Any], output_name: str = "out.mp4"
) -> PipelineRun:
    planned = plan(project, config, work / "plan", work / "plan.tar.gz")
    dump = work / "frames"
    ext = CHUNK_EXTENSIONS[planned.format]
    chunks = [
        render_chunk(
            planned.plan_dir,
            i,
            work / "chunks" / f"{i:04d}{ext}",
            expected_hash=planned.plan_hash,
            dump_frames=dump,
        )
        for i in range(planned.chunk_count)
    ]
    output = assemble(
        planned.plan_dir,
        [c.path for c in chunks],
        work / output_name,
        expected_hashes=[c.sha256 for c in chunks],
    )
    hashes = {
        int(p.stem.split("_")[1]): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in dump.glob("frame_*")
    }
    return PipelineRun(planned, chunks, output, hashes)


def decoded(path: Path, width: int, height: int) -> list[np.ndarray]:
    return [
        np.frombuffer(f, np.uint8).reshape(height, width, 3)
        for f in decode_frames(path, width, height)
    ]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * float(np.log10(255.0**2 / mse))
