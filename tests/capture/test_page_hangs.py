"""A page that hangs is the composition's fault (terminal PAGE_UNRESPONSIVE, naming the
phase and the entry file); a browser that stops answering is the environment's (retryable
BROWSER_CRASHED). Either way no Chromium process is left behind."""

from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from hyperframes_lambda.browser.pool import BrowserPool
from hyperframes_lambda.capture.frame_source import open_frame_source
from hyperframes_lambda.compile.project import CompiledProject
from hyperframes_lambda.errors import BrowserCrashedError, PageUnresponsiveError
from hyperframes_lambda.stages.plan import plan
from hyperframes_lambda.stages.render_chunk import render_chunk

from ..conftest import png_settings

pytestmark = pytest.mark.slow

_ROOT = '<div data-composition-id="t" data-width="320" data-height="180" data-duration="1"></div>'


def _project(root: Path, script: str) -> Path:
    root.mkdir()
    (root / "index.html").write_text(
        f'<!doctype html><html><head><meta charset="utf-8"></head><body>\n{_ROOT}\n'
        f"<script>\n{script}\n</script></body></html>\n"
    )
    return root


@pytest.fixture
def marked_browsers(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every browser this test starts carries a unique variable in its environment (and so
    do its zygote and renderer processes): a /proc scan finds any that outlive the test."""
    mark = f"HF_TEST_BROWSER_MARK={uuid.uuid4().hex}"
    monkeypatch.setenv(*mark.split("="))
    # A short page timeout keeps these tests short (no wall-clock assertion on it).
    monkeypatch.setenv("HYPERFRAMES_PAGE_TIMEOUT_S", "3")
    return mark


def _processes_with(mark: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # gone meanwhile, or not ours
        if state != "Z" and mark.encode() in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def _assert_no_browser_left(mark: str) -> None:
    left = _processes_with(mark)
    for _ in range(100):  # processes may take a moment to exit after their parent
        if not left:
            break
        time.sleep(0.1)
        left = _processes_with(mark)
    assert left == [], f"Chromium processes left behind: {left}"


def test_an_endless_loop_while_loading_is_terminal(tmp_path: Path, marked_browsers: str) -> None:
    project = _project(tmp_path / "project", "while (true) {}")
    with pytest.raises(PageUnresponsiveError) as caught:
        plan(project, None, tmp_path / "plan")
    message = str(caught.value)
    # The author's scripts run after the fonts (document_prep defers them), so the loop may
    # start just before or just after the document reports "complete": either phase is
    # before any frame, which is what the message must say.
    assert "index.html: during load" in message or "index.html: during ready" in message, message
    assert "endless loop" in message
    assert caught.value.code == "PAGE_UNRESPONSIVE" and not caught.value.retryable
    assert not (tmp_path / "plan").exists() or not any((tmp_path / "plan").iterdir())
    _assert_no_browser_left(marked_browsers)


def test_an_endless_loop_in_a_seek_handler_is_terminal_and_leaves_no_pooled_browser(
    tmp_path: Path, marked_browsers: str
) -> None:
    # Virtual time: performance.now() is the seek time, so frames after 0.5 s hang.
    script = (
        'window.addEventListener("hf-seek", () => {\n'
        "  if (performance.now() > 500) { while (true) {} }\n"
        "});"
    )
    planned = plan(_project(tmp_path / "project", script), {"chunkSize": 30}, tmp_path / "plan")
    assert planned.chunk_count == 1
    pool = BrowserPool()
    try:
        with pytest.raises(PageUnresponsiveError) as caught:
            render_chunk(planned.plan_dir, 0, tmp_path / "chunk.mp4", browser_pool=pool)
        message = str(caught.value)
        assert "index.html: during seek at frame 1" in message, message  # frames 16…29
        assert len(pool) == 0, "the browser with the hung page stays in the pool"
        _assert_no_browser_left(marked_browsers)  # though the pool itself lives on
    finally:
        pool.close()
    assert not (tmp_path / "chunk.mp4").exists()


def test_a_browser_that_stops_answering_stays_retryable(
    known_pixels: CompiledProject, marked_browsers: str
) -> None:
    settings = replace(png_settings(), call_timeout_s=2.0)
    with open_frame_source(known_pixels.root, known_pixels.entry, settings) as page:
        pid = page._browser.process.pid
        os.kill(pid, signal.SIGSTOP)  # the browser process itself stops: not the page's doing
        try:
            with pytest.raises(BrowserCrashedError) as caught:
                page.capture(3)
        finally:
            os.kill(pid, signal.SIGCONT)
    assert caught.value.retryable and "stopped responding" in str(caught.value)
    _assert_no_browser_left(marked_browsers)


def test_a_page_promise_that_never_settles_is_terminal(
    known_pixels: CompiledProject, marked_browsers: str
) -> None:
    """The page answers (it is idle), but what it was asked never finishes."""
    settings = replace(png_settings(), call_timeout_s=2.0)
    with (
        open_frame_source(known_pixels.root, known_pixels.entry, settings) as page,
        pytest.raises(PageUnresponsiveError) as caught,
    ):
        page._await("new Promise(() => {})", "waiting for nothing")
    assert "never settles" in str(caught.value) and "index.html: during ready" in str(caught.value)
    _assert_no_browser_left(marked_browsers)
