"""A pooled browser over its budget is relaunched before its next chunk, never during one,
and the chunk it renders then is byte-identical to the same chunk before the relaunch.
Budgets are set tiny through their knobs: no memory threshold is asserted here."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

from hyperframes_lambda.browser.memory_budget import ENV_MAX_CHUNKS, ENV_RECYCLE_MB
from hyperframes_lambda.browser.pool import BrowserPool
from hyperframes_lambda.stages.plan import plan
from hyperframes_lambda.stages.render_chunk import render_chunk

from ..conftest import COMPOSITIONS

pytestmark = pytest.mark.slow


def _frames(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _pid(pool: BrowserPool) -> int:
    (browser,) = pool._browsers.values()
    return browser.process.pid


def test_a_pooled_browser_over_budget_is_relaunched_between_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    planned = plan(COMPOSITIONS / "seams", {"chunkSize": 30}, tmp_path / "plan")
    monkeypatch.delenv(ENV_RECYCLE_MB, raising=False)
    monkeypatch.delenv(ENV_MAX_CHUNKS, raising=False)
    pool = BrowserPool()

    def render(label: str) -> tuple[dict[str, bytes], str]:
        out = tmp_path / f"{label}.mp4"
        render_chunk(planned.plan_dir, 1, out, dump_frames=tmp_path / label, browser_pool=pool)
        return _frames(tmp_path / label), hashlib.sha256(out.read_bytes()).hexdigest()

    try:
        before, before_chunk = render("before")
        first_pid = _pid(pool)
        assert (pool.launches, pool.recycles) == (1, 0)

        # A memory budget of 1 MB: the idle browser is over it when the next chunk asks.
        monkeypatch.setenv(ENV_RECYCLE_MB, "1")
        with caplog.at_level(logging.WARNING, logger="hyperframes_lambda.browser.pool"):
            after, after_chunk = render("after")
        assert (pool.launches, pool.recycles) == (2, 1)
        second_pid = _pid(pool)
        assert second_pid != first_pid
        assert f"recycling the pooled browser (pid {first_pid})" in caplog.text
        assert "the budget is 1 MB" in caplog.text
        assert len(before) == 30 and after == before
        assert after_chunk == before_chunk

        # A use budget of 1 chunk: the browser that served one is relaunched.
        monkeypatch.delenv(ENV_RECYCLE_MB)
        monkeypatch.setenv(ENV_MAX_CHUNKS, "1")
        again, again_chunk = render("again")
        assert (pool.launches, pool.recycles) == (3, 2)
        assert _pid(pool) not in (first_pid, second_pid)
        assert again == before and again_chunk == before_chunk

        # No budget in reach: the same browser serves the next chunk.
        monkeypatch.delenv(ENV_MAX_CHUNKS)
        pid = _pid(pool)
        render("kept")
        assert (pool.launches, pool.recycles, _pid(pool)) == (3, 2, pid)
    finally:
        pool.close()
