"""A local worker keeps its plan and pages across chunks: the frames stay byte-identical.

``render_local`` with several chunks renders them in worker processes (or in this process
with one worker) that load the page once and capture every chunk they are given in it.
The captured screenshots must be those of a one-chunk render, byte for byte."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hyperframes_lambda.runner.local_render import RenderOptions, render_local

from ..conftest import COMPOSITIONS

pytestmark = pytest.mark.slow

SEAMS = COMPOSITIONS / "seams"


def frame_hashes(dump: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in dump.glob("frame_*")}


def render(tmp_path: Path, name: str, **options: int) -> tuple[dict[str, str], int]:
    dump = tmp_path / name / "frames"
    result = render_local(
        SEAMS, tmp_path / name / "out.mp4", RenderOptions(dump_frames=dump, lint=False, **options)
    )
    return frame_hashes(dump), len(result.chunks)


def test_reused_pages_capture_the_same_bytes(tmp_path: Path) -> None:
    one, chunks = render(tmp_path, "one", chunks=1)
    assert chunks == 1 and len(one) == 90
    in_workers, chunks = render(tmp_path, "workers", chunks=4, workers=2, pages=1)
    assert chunks == 4
    assert in_workers == one, "frames of chunks sharing a worker's page differ"
    in_process, chunks = render(tmp_path, "here", chunks=3, workers=1, pages=2)
    assert chunks == 3
    assert in_process == one, "frames of chunks sharing this process's pages differ"
