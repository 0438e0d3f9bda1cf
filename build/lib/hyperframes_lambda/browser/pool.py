"""Browsers kept alive across renders in one process: the per-container cache of a warm
Lambda container (SPEC §13).

Launching chrome-headless-shell and closing it again costs ~0.4 s of every chunk a warm
container renders (measured in the Lambda-like sandbox: 0.15 s launch, 0.27 s close).
A pool keeps one browser per (binary, capture mode, layout size, flags, slot) and every
render opens a fresh page in it, so nothing of a page outlives its chunk. Frames do not
depend on which page of which browser drew them (tested: cold vs warm byte-identical).

A pooled browser still grows: with ``--single-process`` (Lambda) Chrome keeps ~1.4 MB per
chunk it served, without bound (benchmarks/soak_bench.py). So a browser is recycled —
closed and launched anew — when it is acquired for its next chunk and is over the memory
budget or has served its chunk budget (:mod:`.memory_budget`). Only there: a browser is
never recycled while a page of it renders.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field

from .binary import ChromeBinary
from .launch import BrowserProcess, launch_browser
from .memory_budget import current_budget
from .proc_stats import tree_memory

logger = logging.getLogger(__name__)

PoolKey = tuple[str, bool, int, int, tuple[str, ...], int]


@dataclass
class BrowserPool:
    """``acquire`` a running browser for a page; ``close`` them all at the end."""

    # Slots 1…slots-1 start in the background when slot 0 starts, with its settings: a
    # render that opens that many pages finds their browsers up (local one-piece renders).
    slots: int = 1
    _browsers: dict[PoolKey, BrowserProcess] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _warming: list[threading.Thread] = field(default_factory=list)
    _closed: bool = False
    # How many browsers this pool started, and how many of those replaced one over budget.
    launches: int = 0
    recycles: int = 0

    def acquire(
        self,
        binary: ChromeBinary,
        *,
        width: int,
        height: int,
        deterministic: bool,
        extra_flags: tuple[str, ...] = (),
        slot: int = 0,
    ) -> BrowserProcess:
        """A live browser for these settings: the pooled one, or a new one (pooled).

        The caller opens one page in it for one chunk; a pooled browser over its budget
        is relaunched here, before that page exists."""
        key: PoolKey = (binary.path, deterministic, width, height, extra_flags, slot)
        with self._lock:
            browser = self._browsers.get(key)
            if browser is not None and browser.process.poll() is None:
                reason = self._over_budget(browser)
                if reason is None:
                    browser.pages_served += 1
                    return browser
                logger.warning(
                    "recycling the pooled browser (pid %d) before its next chunk: %s",
                    browser.process.pid,
                    reason,
                )
                self.recycles += 1
            if browser is not None:
                browser.close()
            browser = launch_browser(
                binary,
                width=width,
                height=height,
                deterministic=deterministic,
                extra_flags=extra_flags,
            )
            self.launches += 1
            browser.pages_served = 1
            self._browsers[key] = browser
            if slot == 0 and not self._closed:
                for other in range(1, self.slots):
                    self._warm(
                        (binary.path, deterministic, width, height, extra_flags, other), binary
                    )
            return browser

    def _warm(self, key: PoolKey, binary: ChromeBinary) -> None:
        """Start ``key``'s browser in the background, serving no page yet (called holding
        the lock). A failure is not reported: the page that needs it launches again."""
        _path, deterministic, width, height, extra_flags, _slot = key

        def start() -> None:
            with contextlib.suppress(Exception), self._lock:
                if self._closed or key in self._browsers:
                    return
                browser = launch_browser(
                    binary, width=width, height=height, deterministic=deterministic,
                    extra_flags=extra_flags,
                )  # fmt: skip
                self.launches += 1
                browser.pages_served = 0
                self._browsers[key] = browser

        thread = threading.Thread(target=start, name=f"browser-warm-{key[-1]}", daemon=True)
        self._warming.append(thread)
        thread.start()

    @staticmethod
    def _over_budget(browser: BrowserProcess) -> str | None:
        """Why ``browser`` should be relaunched before serving another page, or None."""
        budget = current_budget()
        if budget.max_chunks and browser.pages_served >= budget.max_chunks:
            return f"it served {browser.pages_served} chunk(s), the budget is {budget.max_chunks}"
        private = tree_memory(browser.process.pid).private
        if private > budget.recycle:
            return (
                f"it holds {private / 2**20:.0f} MB, the budget is {budget.recycle / 2**20:.0f} MB"
            )
        return None

    def discard(self, browser: BrowserProcess) -> None:
        """Close a browser that failed; the next ``acquire`` starts a new one."""
        with self._lock:
            for key, pooled in list(self._browsers.items()):
                if pooled is browser:
                    del self._browsers[key]
        browser.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            warming = list(self._warming)
        for thread in warming:  # a browser still starting is closed too, not orphaned
            thread.join()
        with self._lock:
            browsers = list(self._browsers.values())
            self._browsers.clear()
        for browser in browsers:
            browser.close()

    def __len__(self) -> int:
        return len(self._browsers)
