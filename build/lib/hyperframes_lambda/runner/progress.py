"""Progress of a local render: what the Python API's callback receives, and how the CLI
shows it (a bar on a terminal; plain periodic lines when stderr is a pipe, a log file or a
terminal that reports no width — some CI runners' ptys have 0 columns, where a redrawn bar
shows nothing at all)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from ..net.downloads import DownloadEvent, describe
from ..net.downloads import logger as downloads_logger

Stage = Literal["plan", "frames", "assemble"]

# No rate or ETA before this many frames (and ETA_MIN_SECONDS of capture): the first
# frames pay for browser start and page load, and an ETA read off them is wildly long.
ETA_MIN_FRAMES = 5
ETA_MIN_SECONDS = 1.0
STAGE_WORDS = {"plan": "planning", "assemble": "assembling"}


@dataclass(frozen=True)
class Progress:
    """One progress event. ``plan`` and ``assemble`` report ``0/1`` when they start and
    ``1/1`` when they end; ``frames`` counts captured frames up to the composition's total.
    ``elapsed`` is seconds since the render started."""

    stage: Stage
    done: int
    total: int
    elapsed: float

    @property
    def finished(self) -> bool:
        return self.done >= self.total


ProgressCallback = Callable[[Progress], None]


def is_terminal(stream: TextIO) -> bool:
    """A terminal a bar can be drawn on: a tty that reports a width."""
    try:
        return stream.isatty() and os.get_terminal_size(stream.fileno()).columns > 0
    except (OSError, ValueError, AttributeError):
        return False


class FrameRate:
    """Frames per second since the first captured frame, and an ETA once it means something."""

    def __init__(self) -> None:
        self.first: tuple[float, int] | None = None

    def update(self, done: int, total: int, now: float) -> tuple[float | None, float | None]:
        """``(fps, eta_seconds)``, each None while too few frames have been seen."""
        if done <= 0:
            return None, None
        if self.first is None:
            self.first = (now, done)
            return None, None
        started, first_done = self.first
        seconds, frames = now - started, done - first_done
        finished = done >= total
        if seconds <= 0 or frames < ETA_MIN_FRAMES or (seconds < ETA_MIN_SECONDS and not finished):
            return None, None
        fps = frames / seconds
        return fps, (total - done) / fps


class _StageTicker:
    """On a terminal, a status line for a stage with no count of its own (planning fetches
    assets, probes media and extracts video frames: seconds to minutes of silence without
    it), redrawn twice a second with the time spent, erased when the stage ends."""

    def __init__(self, stream: TextIO, text: str) -> None:
        self.stream, self.text = stream, text
        self.started = time.monotonic()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="progress-ticker", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(0.5):
            took = time.monotonic() - self.started
            self.stream.write(f"\r{self.text} {took:.0f}s\x1b[K")
            self.stream.flush()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.stream.write("\r\x1b[K")
        self.stream.flush()


class ProgressPrinter:
    """The CLI's progress display, fed :class:`Progress` events.

    On a terminal: a ticking status line while planning and assembling, a tqdm bar for
    frames. Otherwise one line per stage boundary and a frame line every ``every_s``
    seconds or 10% (``render: 120/300 frames (40%), 25.3 fps, eta 7s``), so logs stay
    readable. No rate or ETA until a few frames are in (:class:`FrameRate`).
    """

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        every_s: float = 5.0,
    ) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = is_terminal(self.stream) if tty is None else tty
        self.every_s = every_s
        self._bar: Any = None
        self._ticker: _StageTicker | None = None
        self._rate = FrameRate()
        self._last_line_at: float | None = None
        self._last_tenth = -1
        self._stage_started: dict[str, float] = {}

    def __call__(self, event: Progress) -> None:
        if event.stage == "frames":
            self._frames(event)
            return
        if not event.finished:
            self._stage_started[event.stage] = event.elapsed
            word = STAGE_WORDS.get(event.stage, event.stage)
            if self.tty:
                self._stop_ticker()
                self._ticker = _StageTicker(self.stream, f"{self.label}: {word}…")
            else:
                self._line(f"{word}…")
            return
        self._stop_ticker()
        took = event.elapsed - self._stage_started.get(event.stage, event.elapsed)
        self._line(f"{event.stage} done in {took:.1f}s")

    def _frames(self, event: Progress) -> None:
        now = time.monotonic()
        fps, eta = self._rate.update(event.done, event.total, now)
        if self.tty:
            self._bar_update(event, eta is not None)
            return
        if self._last_line_at is None:
            self._last_line_at = now
        tenth = event.done * 10 // max(1, event.total)
        due = now - self._last_line_at >= self.every_s or tenth > self._last_tenth
        if (not due and not event.finished) or (event.done == 0 and not event.finished):
            return
        self._last_line_at, self._last_tenth = now, tenth
        percent = 100 * event.done // max(1, event.total)
        text = f"{event.done}/{event.total} frames ({percent}%)"
        if fps is not None and eta is not None:
            text += f", {fps:.1f} fps, eta {eta:.0f}s"
        self._line(text)

    def _bar_update(self, event: Progress, settled: bool) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._stop_ticker()
            self._bar = tqdm(
                total=event.total, unit="frame", desc=self.label, file=self.stream,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}]",
            )  # fmt: skip
        if settled and "remaining" not in self._bar.bar_format:
            self._bar.bar_format = (
                "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]"
            )
        self._bar.update(event.done - self._bar.n)
        if event.finished:
            self.close()

    def _line(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(f"{self.label}: {text}", file=self.stream)
            return
        print(f"{self.label}: {text}", file=self.stream, flush=True)

    def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None

    def close(self) -> None:
        self._stop_ticker()
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class DownloadDisplay(logging.Handler):
    """The CLI's view of first-run downloads (:mod:`.net.downloads`): on a terminal one
    line redrawn in place per download; elsewhere its start and end lines, and a progress
    line every ``every_s`` seconds while it lasts."""

    def __init__(
        self, stream: TextIO | None = None, *, tty: bool | None = None, every_s: float = 5.0
    ) -> None:
        super().__init__(logging.INFO)
        self.stream = stream or sys.stderr
        self.tty = is_terminal(self.stream) if tty is None else tty
        self.every_s = every_s
        self._last_line: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "download", None)
        if not isinstance(event, DownloadEvent):
            return
        text = describe(event)
        now = time.monotonic()
        if self.tty:
            self.stream.write(f"\r{text}\x1b[K" + ("" if event.phase == "progress" else "\n"))
        elif (
            event.phase != "progress" or now - self._last_line.get(event.what, now) >= self.every_s
        ):
            self.stream.write(text + "\n")
            self._last_line[event.what] = now
        self.stream.flush()


@contextlib.contextmanager
def showing_downloads(stream: TextIO | None = None) -> Iterator[DownloadDisplay]:
    """Show downloads on ``stream`` (stderr) while the block runs: a command's display,
    taken away after it (``main()`` may be called again, with other streams)."""
    display = DownloadDisplay(stream)
    previous = (downloads_logger.level, downloads_logger.propagate)
    downloads_logger.addHandler(display)
    downloads_logger.setLevel(logging.INFO)
    downloads_logger.propagate = False  # shown here; not a second time via the root logger
    try:
        yield display
    finally:
        downloads_logger.removeHandler(display)
        downloads_logger.setLevel(previous[0])
        downloads_logger.propagate = previous[1]
