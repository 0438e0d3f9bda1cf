"""Progress of a local render: what the Python API's callback receives, and how the CLI
shows it (a bar on a terminal; plain periodic lines when stderr is a pipe or a log file,
where a redrawn bar would flood it)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TextIO

Stage = Literal["plan", "frames", "assemble"]


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


class ProgressPrinter:
    """The CLI's progress display, fed :class:`Progress` events.

    On a terminal: a tqdm bar for frames. Otherwise one line per stage boundary and a
    frame line every ``every_s`` seconds or 10% (``render: 120/300 frames (40%), 25.3 fps,
    eta 7s``), so logs stay readable.
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
        self.tty = self.stream.isatty() if tty is None else tty
        self.every_s = every_s
        self._bar: Any = None
        self._frames_started: float | None = None
        self._last_line_at = 0.0
        self._last_tenth = -1
        self._stage_started: dict[str, float] = {}

    def __call__(self, event: Progress) -> None:
        if event.stage == "frames":
            self._frames(event)
            return
        if not event.finished:
            self._stage_started[event.stage] = event.elapsed
            if not self.tty:
                self._line(f"{event.stage}…")
            return
        took = event.elapsed - self._stage_started.get(event.stage, event.elapsed)
        self._line(f"{event.stage} done in {took:.1f}s")

    def _frames(self, event: Progress) -> None:
        now = time.monotonic()
        if self._frames_started is None:
            self._frames_started = now
            self._last_line_at = now
        if self.tty:
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=event.total, unit="frame", desc=self.label, file=self.stream)
            self._bar.update(event.done - self._bar.n)
            if event.finished:
                self.close()
            return
        tenth = event.done * 10 // max(1, event.total)
        due = now - self._last_line_at >= self.every_s or tenth > self._last_tenth
        if not due and not event.finished:
            return
        if event.done == 0 and not event.finished:
            return
        self._last_line_at, self._last_tenth = now, tenth
        seconds = now - self._frames_started
        fps = event.done / seconds if seconds > 0 else 0.0
        eta = (event.total - event.done) / fps if fps > 0 else 0.0
        percent = 100 * event.done // max(1, event.total)
        self._line(f"{event.done}/{event.total} frames ({percent}%), {fps:.1f} fps, eta {eta:.0f}s")

    def _line(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(f"{self.label}: {text}", file=self.stream)
            return
        print(f"{self.label}: {text}", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
