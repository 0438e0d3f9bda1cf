"""Downloads announce themselves: what, from where, how big, how far.

A first render on a fresh machine fetches the pinned browser, the font set, the page
runtime and what compositions load from CDNs — about 125 MB, which used to be a minute of
silence. Every network download of a cache-filling kind goes through a
:class:`DownloadMeter`, which reports on the ``hyperframes_lambda.downloads`` logger: a
library stays quiet unless its caller listens (the CLI does, with
:class:`hyperframes_lambda.runner.progress.DownloadDisplay`; on Lambda the records go to the
function's log like any other).
Logging rather than a callback argument: the downloads happen deep under the plan (font
set, runtime, npm fallbacks), and threading a callback through every layer would couple
them all to the display.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

logger = logging.getLogger("hyperframes_lambda.downloads")

# A progress record at most this often (the display decides what it shows).
RECORD_EVERY_S = 0.25


@dataclass(frozen=True)
class DownloadEvent:
    """One step of one download: ``phase`` is start, progress or done."""

    what: str
    source: str
    phase: str
    done: int
    total: int | None
    seconds: float


class DownloadMeter:
    """Counts one download's bytes and reports start, progress and end."""

    def __init__(self, what: str, source: str, total: int | None) -> None:
        self.what, self.source, self.total = what, source, total
        self.done = 0
        self.started = time.monotonic()
        self._last = 0.0
        self._emit("start")

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._last >= RECORD_EVERY_S:
            self._last = now
            self._emit("progress")

    def finish(self) -> None:
        self._emit("done")

    def _emit(self, phase: str) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        event = DownloadEvent(
            self.what, self.source, phase, self.done, self.total,
            time.monotonic() - self.started,
        )  # fmt: skip
        logger.info("%s", describe(event), extra={"download": event})


def megabytes(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


def describe(event: DownloadEvent) -> str:
    """One plain line for an event (what logs and pipes get)."""
    size = megabytes(event.total) if event.total else "size unknown"
    if event.phase == "start":
        return f"downloading {event.what} ({size}) from {event.source} (once; cached after)"
    if event.phase == "done":
        return f"downloaded {event.what}: {megabytes(event.done)} in {event.seconds:.1f}s"
    if event.total:
        percent = 100 * event.done // event.total
        return f"{event.what}: {megabytes(event.done)} of {size} ({percent}%)"
    return f"{event.what}: {megabytes(event.done)}"
