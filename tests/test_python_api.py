"""``from hyperframes_lambda import render``: the documented Python API."""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

import hyperframes_lambda
from hyperframes_lambda import Progress, RenderError, RenderResult, render
from hyperframes_lambda.errors import InvalidOutputError
from hyperframes_lambda.media.probe import probe

from .conftest import COMPOSITIONS

PYTHON_API_DOC = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"


def documented_python_example() -> str:
    match = re.search(r"```python runnable\n(.*?)```", PYTHON_API_DOC.read_text(), re.DOTALL)
    assert match, "docs/python-api.md has no runnable python block"
    return match.group(1)


def test_the_package_exports_a_render_function_and_its_types() -> None:
    assert inspect.isfunction(render)
    assert set(hyperframes_lambda.__all__) >= {
        "render", "RenderError", "RenderOptions", "RenderResult", "Progress",
    }  # fmt: skip
    assert hyperframes_lambda.RenderError is RenderError
    assert dataclasses.is_dataclass(RenderResult) and RenderResult.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_a_bad_output_is_refused_before_any_work(tmp_path: Path) -> None:
    events: list[Progress] = []
    with pytest.raises(InvalidOutputError, match=r"unsupported extension '\.avi'") as caught:
        render(
            str(COMPOSITIONS / "known-pixels"), str(tmp_path / "x.avi"), on_progress=events.append
        )
    assert isinstance(caught.value, RenderError) and caught.value.code == "INVALID_OUTPUT"
    with pytest.raises(InvalidOutputError, match="format mp4 does not match output"):
        render(COMPOSITIONS / "known-pixels", tmp_path / "x.webm", format="mp4")
    assert events == [] and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_documented_example_runs_verbatim(tmp_path: Path) -> None:
    """docs/python-api.md's example, in an empty directory (it writes its own composition)."""
    result = subprocess.run(
        [sys.executable, "-c", documented_python_example()],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == ["plan: 0/1", "plan: 1/1", "frames: 30/30", "assemble: 0/1"], lines
    assert lines[4] == "assemble: 1/1"
    assert lines[5].startswith("out/pulse.mp4 30 1.0 30 320 180"), lines
    info = probe(tmp_path / "out" / "pulse.mp4")
    assert (info.frame_count, info.width, info.height) == (30, 320, 180)


@pytest.mark.slow
def test_str_paths_an_html_project_file_and_every_stage_reported(tmp_path: Path) -> None:
    events: list[Progress] = []
    out = tmp_path / "kp.mp4"
    result = render(
        str(COMPOSITIONS / "known-pixels" / "index.html"), str(out),
        fps=25, chunks=2, workers=2, pages=1, on_progress=events.append,
    )  # fmt: skip
    assert result.output == out and out.is_file()
    assert (result.frames, result.fps, result.width, result.height) == (50, Fraction(25), 320, 180)
    assert result.duration == pytest.approx(2.0) and len(result.chunks) == 2
    assert set(result.timings) >= {"plan", "chunks", "assemble", "total"}
    stages = [e.stage for e in events]
    assert stages[:2] == ["plan", "plan"] and stages[-2:] == ["assemble", "assemble"]
    assert set(stages[2:-2]) == {"frames"}
    frames = [e for e in events if e.stage == "frames"]
    assert [e.done for e in frames] == sorted(e.done for e in frames)
    assert frames[-1].done == frames[-1].total == 50 and frames[-1].finished
    assert all(a.elapsed <= b.elapsed for a, b in itertools.pairwise(events))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.output = tmp_path  # type: ignore[misc]
    assert probe(out).frame_count == 50
