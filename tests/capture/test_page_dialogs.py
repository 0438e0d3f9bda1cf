"""Dialogs and navigation (issue 23 item 5): ``alert``/``confirm``/``prompt`` are answered
at once with a warning naming the call (they used to block the page until the call
timeout: an "endless loop?"), and a page that navigates away ends the render as a terminal
``PAGE_NAVIGATED`` naming the target, not as the other document's engine error."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hyperframes_lambda.browser.pool import BrowserPool
from hyperframes_lambda.errors import PageNavigatedError
from hyperframes_lambda.stages.plan import plan
from hyperframes_lambda.stages.render_chunk import render_chunk

from .test_page_hangs import _assert_no_browser_left, _project, marked_browsers  # noqa: F401

pytestmark = pytest.mark.slow

# Virtual time: performance.now() is the seek time, so this runs for frames after 0.5 s.
LATE_SEEK = 'window.addEventListener("hf-seek", () => {{ if (performance.now() > 500) {{ {} }} }});'


def test_dialogs_while_loading_are_answered_at_once(
    tmp_path: Path,
    marked_browsers: str,  # noqa: F811
) -> None:
    """With a 3 s page timeout an unanswered alert fails the plan as PAGE_UNRESPONSIVE."""
    script = (
        'alert("hello from the page");\n'
        'document.title = String(confirm("sure?")) + "/" + String(prompt("name?", "x"));'
    )
    planned = plan(_project(tmp_path / "project", script), None, tmp_path / "plan")
    warnings = "\n".join(planned.warnings)
    assert "the page called alert('hello from the page')" in warnings, warnings
    assert "confirm('sure?')" in warnings and "so it returned false" in warnings
    assert "prompt('name?')" in warnings and "so it returned null" in warnings
    assert "dismissed at once" in warnings and "index.html: during" in warnings
    _assert_no_browser_left(marked_browsers)


def test_a_dialog_in_a_seek_handler_does_not_stop_the_render(
    tmp_path: Path,
    marked_browsers: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    script = LATE_SEEK.format('alert("at " + performance.now());')
    planned = plan(_project(tmp_path / "project", script), {"chunkSize": 30}, tmp_path / "plan")
    pool = BrowserPool()
    try:
        with caplog.at_level(logging.WARNING, "hyperframes_lambda.capture.page_events"):
            result = render_chunk(planned.plan_dir, 0, tmp_path / "chunk.mp4", browser_pool=pool)
    finally:
        pool.close()
    assert result.frames == 30 and (tmp_path / "chunk.mp4").is_file()
    logged = caplog.text
    assert "during seek at frame" in logged and "the page called alert('at " in logged, logged
    _assert_no_browser_left(marked_browsers)


def test_navigating_away_while_loading_is_terminal(
    tmp_path: Path,
    marked_browsers: str,  # noqa: F811
) -> None:
    project = _project(tmp_path / "project", 'location.href = "/elsewhere.html?from=load";')
    (project / "elsewhere.html").write_text("<!doctype html><p>another page</p>")
    with pytest.raises(PageNavigatedError) as caught:
        plan(project, None, tmp_path / "plan")
    message = str(caught.value)
    assert "navigated away to" in message and "/elsewhere.html?from=load" in message, message
    assert "index.html: during" in message
    assert caught.value.code == "PAGE_NAVIGATED" and not caught.value.retryable
    _assert_no_browser_left(marked_browsers)


def test_navigating_away_during_a_seek_is_terminal(
    tmp_path: Path,
    marked_browsers: str,  # noqa: F811
) -> None:
    script = LATE_SEEK.format('location.href = "/elsewhere.html?from=seek";')
    project = _project(tmp_path / "project", script)
    planned = plan(project, {"chunkSize": 30}, tmp_path / "plan")
    pool = BrowserPool()
    try:
        with pytest.raises(PageNavigatedError) as caught:
            render_chunk(planned.plan_dir, 0, tmp_path / "chunk.mp4", browser_pool=pool)
    finally:
        pool.close()
    message = str(caught.value)
    assert "during seek at frame" in message and "/elsewhere.html?from=seek" in message, message
    assert "is not a function" not in message
    assert not (tmp_path / "chunk.mp4").exists()
    _assert_no_browser_left(marked_browsers)
