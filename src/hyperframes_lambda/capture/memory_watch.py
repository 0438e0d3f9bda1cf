"""Watch the memory of the browser a page runs in; stop the page when it passes its budget.

Why from outside, from ``/proc``: a page that allocates without end is usually inside one
long script (an allocation loop, a 1 GiB ``data:`` URL being parsed, canvases being
painted), so its main thread answers no CDP call until the allocation is over — or the
process is dead. A thread here polls the private memory of the browser's process tree
(:mod:`..browser.proc_stats`) every ``budget.poll_s`` seconds while the page loads, gets ready
and renders its frames. Past the budget it kills the browser (all its processes: with
``--single-process`` the page and the browser are one process anyway) and records what
the page was doing; the capture's pending call then fails, and the capture reports
``PAGE_OUT_OF_MEMORY`` naming that phase instead of a retryable crash.

A browser that dies on its own while the page holds much memory (V8's heap limit,
``--js-flags=--max-old-space-size``, crashes it before the watch's next look) is told
apart by its stderr: Chrome says "out of memory" there (:func:`died_of_oom`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..browser.launch import BrowserProcess
from ..browser.memory_budget import ENV_PAGE_MB, MIB, MemoryBudget
from ..browser.proc_stats import descendants, tree_memory
from ..errors import PageOutOfMemoryError

# What Chrome and V8 print when an allocation fails (renderer or, single-process, browser).
_OOM_MARKERS = ("out of memory", "reached heap limit", "allocation failed")


@dataclass(frozen=True)
class Overrun:
    """What the watch saw when it stopped the page."""

    phase: str
    used: int  # the private memory seen (the peak, for a browser that died by itself)
    budget: int
    died: bool = False  # the browser died out of memory before the watch stopped it


class MemoryWatch:
    """Polls one browser's memory against ``budget`` until :meth:`stop`."""

    def __init__(
        self,
        browser: BrowserProcess,
        budget: MemoryBudget,
        phase: Callable[[], str],
    ) -> None:
        self._browser = browser
        self._budget = budget
        self._phase = phase
        self._interval = budget.poll_s
        self._stop = threading.Event()
        self.overrun: Overrun | None = None
        self.peak = 0
        self._thread = threading.Thread(target=self._run, name="hf-memory-watch", daemon=True)

    def start(self) -> MemoryWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        pid = self._browser.process.pid
        while not self._stop.is_set() and self._browser.process.poll() is None:
            used = tree_memory(pid).private
            self.peak = max(self.peak, used)
            if used > self._budget.page:
                self.overrun = Overrun(self._phase(), used, self._budget.page)
                kill_tree(pid)
                return
            self._stop.wait(self._interval)

    def error(self, entry: str, overrun: Overrun | None = None) -> PageOutOfMemoryError:
        """The terminal error for an overrun (the watch's, or one inferred from a crash)."""
        seen = overrun or self.overrun
        assert seen is not None
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
        if not died_of_oom(list(self._browser.stderr_tail)):
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
