"""A warm container's browser pool: chunks rendered in pooled browsers (a fresh page each)
give the same captured frames as chunks rendered each in a browser of its own."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hyperframes_lambda.browser.binary import ChromeBinary
from hyperframes_lambda.browser.pool import BrowserPool
from hyperframes_lambda.stages.plan import plan
from hyperframes_lambda.stages.render_chunk import render_chunk

from ..conftest import COMPOSITIONS

pytestmark = pytest.mark.slow


def _hashes(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}


def test_pooled_browsers_render_the_same_frames(tmp_path: Path) -> None:
    planned = plan(COMPOSITIONS / "seams", {"chunkSize": 30}, tmp_path / "plan")
    assert planned.chunk_count == 3

    def render_all(label: str, pool: BrowserPool | None, order: list[int]) -> dict[str, str]:
        dump = tmp_path / label
        for index in order:
            render_chunk(
                planned.plan_dir,
                index,
                tmp_path / f"{label}-{index}.mp4",
                dump_frames=dump,
                browser_pool=pool,
            )
        return _hashes(dump)

    cold = render_all("cold", None, [0, 1, 2])
    pool = BrowserPool()
    try:
        # Warm and out of order: chunk 2 first, then 0 and 1 in the same browser.
        warm = render_all("warm", pool, [2, 0, 1])
        assert len(pool) == 1
        browser = next(iter(pool._browsers.values()))
        pid = browser.process.pid
        again = render_all("again", pool, [1])
        assert next(iter(pool._browsers.values())).process.pid == pid  # reused, not relaunched
        targets = browser.cdp.call("Target.getTargets")["targetInfos"]
        assert [t for t in targets if t["type"] == "page" and t["url"] != "about:blank"] == []
    finally:
        pool.close()
    assert len(cold) == 90
    assert warm == cold
    assert again == {name: cold[name] for name in again}


def test_slots_start_beside_slot_zero_and_close_with_the_pool(chrome: ChromeBinary) -> None:
    """A pool of 2 slots starts slot 1's browser when slot 0's starts (a one-piece local
    render's second page finds it up); closing the pool closes both."""
    launch = {"width": 320, "height": 180, "deterministic": True}
    pool = BrowserPool(slots=2)
    try:
        first = pool.acquire(chrome, **launch)  # type: ignore[arg-type]
        for thread in pool._warming:
            thread.join(timeout=60)
        assert len(pool) == 2  # slot 1 started without being asked
        second = pool.acquire(chrome, slot=1, **launch)  # type: ignore[arg-type]
        assert second is not first
        assert pool.acquire(chrome, slot=1, **launch) is second  # type: ignore[arg-type]
    finally:
        pool.close()
    assert first.process.poll() is not None
    assert second.process.poll() is not None


def test_closing_while_a_slot_starts_leaves_no_browser(chrome: ChromeBinary) -> None:
    pool = BrowserPool(slots=2)
    pool.acquire(chrome, width=320, height=180, deterministic=True)
    warming = list(pool._warming)
    assert warming
    pool.close()  # at once: slot 1 may still be starting
    assert not any(thread.is_alive() for thread in warming)
    assert len(pool) == 0
