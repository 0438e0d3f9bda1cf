"""Watch the memory of the browser a page runs in; stop the page when it passes its budget.

Why from outside, from ``/proc``: a page that allocates without end is usually inside one
long script (an allocation loop, a 1 GiB ``data:`` URL being parsed, canvases being
painted), so its main thread answers no CDP call until the allocation is over — or the
process is dead. One thread per browser, for the browser's life (a pooled browser serves
many pages without a thread started per page: measured, a thread per page added ~6 MB of
Python RSS per 100 chunks), polls the private memory of the browser's process tree
(:mod:`.proc_stats`) every ``budget.poll_s`` seconds while a page is attached: while it
loads, gets ready and renders its frames. Past the page budget it kills the browser (all
its processes: with ``--single-process`` the page and the browser are one process anyway)
and records what the page was doing; the capture's pending call then fails, and the
capture reports ``PAGE_OUT_OF_MEMORY`` naming that phase instead of a retryable crash.

A browser that dies on its own while the page holds much memory (V8's heap limit,
``--js-flags=--max-old-space-size``, crashes it before the watch's next look) is told
apart by its stderr: Chrome says "out of memory" there (:func:`died_of_oom`).
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import PageOutOfMemoryError
from .memory_budget import ENV_PAGE_MB, MIB, MemoryBudget
from .proc_stats import descendants, tree_memory

# What Chrome and V8 print when an allocation fails (renderer or, single-process, browser).
_OOM_MARKERS = ("out of memory", "reached heap limit", "allocation failed")
# How often an idle watch (no page attached) checks whether it should end.
_IDLE_S = 1.0


@dataclass(frozen=True)
class Overrun:
    """What the watch saw when it stopped the page."""

    phase: str
    used: int  # the private memory seen (the peak, for a browser that died by itself)
    budget: int
    died: bool = False  # the browser died out of memory before the watch stopped it


class MemoryWatch:
    """Polls one browser's memory against the attached page's budget until ``close``."""

    def __init__(
        self, process: subprocess.Popen[bytes], stderr_tail: collections.deque[str]
    ) -> None:
        self._process = process
        self._stderr_tail = stderr_tail
        self._lock = threading.Lock()
        self._page: tuple[MemoryBudget, Callable[[], str]] | None = None
        self._budget: MemoryBudget | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.overrun: Overrun | None = None
        self.peak = 0

    def attach(self, budget: MemoryBudget, phase: Callable[[], str]) -> None:
        """Watch the browser against ``budget`` for a page; ``phase()`` says what it does."""
        with self._lock:
            self._page = (budget, phase)
            self._budget = budget
            self.overrun = None
            self.peak = 0
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="hf-memory-watch", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def detach(self) -> None:
        """The page is gone: stop comparing (the browser may serve another page later)."""
        with self._lock:
            self._page = None

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        pid = self._process.pid
        while not self._stop.is_set() and self._process.poll() is None:
            with self._lock:
                page = self._page
            if page is None:
                self._wake.wait(_IDLE_S)
                self._wake.clear()
                continue
            budget, phase = page
            used = tree_memory(pid).private
            with self._lock:
                if self._page is not page:
                    continue  # detached meanwhile: the number belongs to no page
                self.peak = max(self.peak, used)
                if used > budget.page:
                    self.overrun = Overrun(phase(), used, budget.page)
            if self.overrun is not None:
                kill_tree(pid)
                return
            self._stop.wait(budget.poll_s)

    def error(self, entry: str, overrun: Overrun | None = None) -> PageOutOfMemoryError:
        """The terminal error for an overrun (the watch's, or one inferred from a crash)."""
        seen = overrun or self.overrun
        assert seen is not None and self._budget is not None
        what = (
            f"the page's browser died out of memory (V8's heap is capped at the page memory "
            f"budget; {seen.used / MIB:.0f} MB seen last)"
            if seen.died
            else f"the page's browser held {seen.used / MIB:.0f} MB, over the page memory "
            "budget; the page was stopped"
        )
        return PageOutOfMemoryError(
            f"{entry}: during {seen.phase}, {what}. The page memory budget is "
            f"{seen.budget / MIB:.0f} MB ({ENV_PAGE_MB}, by default 35% of the function's "
            f"{self._budget.memory / MIB:.0f} MB): a composition that needs more needs a "
            "larger function or a lighter page"
        )

    def crash_overrun(self, phase: str) -> Overrun | None:
        """An overrun to report for a browser that died by itself, when its stderr says it
        ran out of memory (V8's heap limit); None for any other crash."""
        if self._budget is None or not died_of_oom(list(self._stderr_tail)):
            return None
        return Overrun(phase, self.peak, self._budget.page, died=True)


def died_of_oom(stderr_lines: list[str]) -> bool:
    text = "\n".join(stderr_lines).lower()
    return any(marker in text for marker in _OOM_MARKERS)


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and its descendants (the children first found, then the parent)."""
    for member in (*descendants(pid), pid):
        with contextlib.suppress(OSError):
            os.kill(member, signal.SIGKILL)
