"""A one-piece local render: the linter runs beside the plan and the frames and finds what
it finds alone; the render says where its time went (the page timings per chunk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperframes_lambda.lint.render_check import run_lint
from hyperframes_lambda.runner.local_render import RenderOptions, render_local

from ..conftest import COMPOSITIONS

pytestmark = pytest.mark.slow


def test_lint_beside_the_render_finds_what_it_finds_alone(tmp_path: Path) -> None:
    project = COMPOSITIONS / "known-pixels"  # its script reads Date.now(): a finding
    result = render_local(project, tmp_path / "out.mp4", RenderOptions(pages=2))
    alone = run_lint(project, "index.html", strict=False)
    assert alone.warnings
    assert result.lint_warnings == alone.warnings
    assert result.lint is not None
    assert result.timings["lint"] > 0
    assert result.timings["total"] >= result.timings["plan"] + result.timings["chunks"]
    chunk = result.chunks[0].timings
    assert chunk["page.frames"] == result.frames
    for name in ("page.launch", "page.load", "page.seek", "page.draw", "capture"):
        assert chunk[name] > 0, name


def test_strict_lint_still_fails_before_any_work(tmp_path: Path) -> None:
    from hyperframes_lambda.errors import LintFailedError

    with pytest.raises(LintFailedError):
        render_local(
            COMPOSITIONS / "known-pixels", tmp_path / "out.mp4", RenderOptions(strict_lint=True)
        )
    assert not (tmp_path / "out.mp4").exists()
