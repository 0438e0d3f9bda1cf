"""A page that takes more memory than its budget fails as terminal PAGE_OUT_OF_MEMORY,
naming the phase (and frame), instead of a retryable crash after minutes. Budgets are set
small (a few hundred MB) through their knob, so these tests stay quick and light."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperframes_lambda.browser.memory_budget import ENV_PAGE_MB, ENV_POLL_S
from hyperframes_lambda.browser.pool import BrowserPool
from hyperframes_lambda.capture.frame_source import open_frame_source
from hyperframes_lambda.errors import PageOutOfMemoryError
from hyperframes_lambda.stages.plan import plan
from hyperframes_lambda.stages.render_chunk import render_chunk

from ..conftest import png_settings

pytestmark = pytest.mark.slow

_ROOT = '<div data-composition-id="t" data-width="320" data-height="180" data-duration="1"></div>'
# 16384² canvases, each painted whole (1 GiB of pixels), kept alive.
CANVAS_BOMB = """
const keep = [];
for (;;) {
  const c = document.createElement("canvas");
  c.width = c.height = 16384;
  const g = c.getContext("2d");
  g.fillStyle = "#c33";
  g.fillRect(0, 0, 16384, 16384);
  keep.push(c);
}
"""
# Ordinary JS objects on V8's heap: 8 MB arrays of doubles, kept alive.
ALLOCATION_BOMB = "const keep = []; for (;;) { keep.push(new Array(1 << 20).fill(1.5)); }"


@pytest.fixture(autouse=True)
def small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_PAGE_MB, "300")
    monkeypatch.setenv("HYPERFRAMES_PAGE_TIMEOUT_S", "60")


def _project(root: Path, body: str, head: str = "") -> Path:
    root.mkdir()
    (root / "index.html").write_text(
        f'<!doctype html><html><head><meta charset="utf-8">{head}</head><body>\n{_ROOT}\n'
        f"{body}</body></html>\n"
    )
    return root


def _load(project: Path) -> PageOutOfMemoryError:
    with (
        pytest.raises(PageOutOfMemoryError) as caught,
        open_frame_source(project, "index.html", png_settings()),
    ):
        pass
    return caught.value


def _check(error: PageOutOfMemoryError, phases: tuple[str, ...]) -> str:
    message = str(error)
    assert error.code == "PAGE_OUT_OF_MEMORY" and not error.retryable
    assert any(f"index.html: during {phase}" in message for phase in phases), message
    assert "The page memory budget is 300 MB" in message, message
    return message


def test_a_1_gib_data_url_is_out_of_memory_while_loading(tmp_path: Path) -> None:
    project = _project(tmp_path / "project", "", '<link rel="stylesheet" href="big.css">')
    with (project / "big.css").open("w") as css:
        css.write('body { background: url("data:image/png;base64,')
        block = "A" * (64 << 20)
        for _ in range(16):  # 1 GiB
            css.write(block)
        css.write('"); }\n')
    _check(_load(project), ("load",))


def test_a_canvas_bomb_is_out_of_memory(tmp_path: Path) -> None:
    project = _project(tmp_path / "project", f"<script>{CANVAS_BOMB}</script>")
    # The author's scripts run deferred, just before or after "complete" (test_page_hangs).
    _check(_load(project), ("load", "ready"))


def test_an_allocation_bomb_is_out_of_memory(tmp_path: Path) -> None:
    project = _project(tmp_path / "project", f"<script>{ALLOCATION_BOMB}</script>")
    _check(_load(project), ("load", "ready"))


def test_a_page_that_outruns_the_watch_dies_of_the_v8_heap_cap_out_of_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The watch looks once, at the start: V8's heap cap (the same budget) stops the page,
    # killing its renderer; Chrome's "out of memory" on stderr makes it the page's doing.
    monkeypatch.setenv(ENV_POLL_S, "3600")
    project = _project(tmp_path / "project", f"<script>{ALLOCATION_BOMB}</script>")
    message = _check(_load(project), ("load", "ready"))
    assert "the page's browser died out of memory (V8's heap is capped" in message, message


def test_a_bomb_in_a_seek_names_the_frame_and_leaves_no_pooled_browser(tmp_path: Path) -> None:
    # Virtual time: performance.now() follows the seek time, so frames after 0.5 s allocate.
    script = (
        'window.addEventListener("hf-seek", () => {\n'
        f"  if (performance.now() > 500) {{ {ALLOCATION_BOMB} }}\n"
        "});"
    )
    project = _project(tmp_path / "project", f"<script>{script}</script>")
    planned = plan(project, {"chunkSize": 30}, tmp_path / "plan")
    pool = BrowserPool()
    try:
        with pytest.raises(PageOutOfMemoryError) as caught:
            render_chunk(planned.plan_dir, 0, tmp_path / "chunk.mp4", browser_pool=pool)
        # performance.now() passes 500 ms in the seek of frame 16 or 17 (the first seek
        # event of a frame may still see the previous frame's time).
        _check(caught.value, ("seek at frame 16,", "seek at frame 17,"))
        assert len(pool) == 0
    finally:
        pool.close()
    assert not (tmp_path / "chunk.mp4").exists()
