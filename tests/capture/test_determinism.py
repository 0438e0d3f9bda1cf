"""The same composition gives byte-identical screenshots whatever the order or process."""

from __future__ import annotations

import hashlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from hyperframes_lambda.capture.frame_source import capture_frames, open_frame_source
from hyperframes_lambda.capture.page_capture import CaptureSettings
from hyperframes_lambda.compile.project import compile_project
from hyperframes_lambda.media.encode import QUALITY_PRESETS
from hyperframes_lambda.net.remote_assets import RemoteFetcher
from hyperframes_lambda.runner.local_render import RenderOptions, render_local

from ..conftest import EXAMPLES

pytestmark = pytest.mark.slow

SETTINGS = CaptureSettings(
    css_width=1920,
    css_height=1080,
    width=960,
    height=540,
    fps=30,
    image_format="jpeg",
    jpeg_quality=QUALITY_PRESETS["standard"].jpeg_quality,  # what render_local captures
)


def dumped_hashes(directory: Path) -> dict[int, str]:
    return {
        int(p.stem.split("_")[1]): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.glob("frame_*"))
    }


def capture_hashes(compiled_root: str, indices: list[int]) -> dict[int, str]:
    """Capture ``indices`` in a fresh browser; runs in a worker process."""
    hashes: dict[int, str] = {}
    with open_frame_source(Path(compiled_root), "index.html", SETTINGS) as page:
        capture_frames(
            page, indices, lambda i, data: hashes.__setitem__(i, hashlib.sha256(data).hexdigest())
        )
    return hashes


@pytest.fixture(scope="module")
def forward(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    out = tmp_path_factory.mktemp("forward")
    options = RenderOptions(width=960, height=540, dump_frames=out / "frames", pages=2)
    result = render_local(EXAMPLES / "title-card", out / "a.mp4", options)
    assert result.frames == 120
    hashes = dumped_hashes(out / "frames")
    assert sorted(hashes) == list(range(120))
    return hashes


def test_rendering_twice_gives_identical_frames(forward: dict[int, str], tmp_path: Path) -> None:
    # The fixture rendered with the default two pages; this one with a single browser.
    options = RenderOptions(width=960, height=540, dump_frames=tmp_path / "frames", pages=1)
    render_local(EXAMPLES / "title-card", tmp_path / "b.mp4", options)
    assert dumped_hashes(tmp_path / "frames") == forward
    assert len(set(forward.values())) > 100, "the animation must actually change the frames"


def test_reverse_order_and_split_processes_give_identical_frames(
    forward: dict[int, str], tmp_path: Path
) -> None:
    compiled = compile_project(EXAMPLES / "title-card", tmp_path / "compiled", RemoteFetcher())
    root = str(compiled.root)
    reverse = capture_hashes(root, list(range(119, -1, -1)))
    assert reverse == forward
    with ProcessPoolExecutor(max_workers=2) as pool:
        first = pool.submit(capture_hashes, root, list(range(0, 60)))
        second = pool.submit(capture_hashes, root, list(range(60, 120)))
        halves = {**first.result(), **second.result()}
    assert halves == forward
