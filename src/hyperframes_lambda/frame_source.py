"""A served, loaded composition ready to hand out frames: the capture side of every stage.

``open_frame_source(compiled_dir, ...)`` serves a compiled project on 127.0.0.1, starts
a browser on it and waits until the composition is ready. The local render, the chunk
worker and the tests all capture through it, so there is one way frames are made.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .browser.resolve import ChromeBinary, resolve_chrome
from .capture import CaptureSettings, PageCapture
from .page_server import PageServer

FrameCallback = Callable[[int, bytes], None]


@dataclass
class CaptureStats:
    frames: int = 0
    seconds: float = 0.0
    load_seconds: float = 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


@contextlib.contextmanager
def open_frame_source(
    compiled_dir: Path,
    entry: str,
    settings: CaptureSettings,
    binary: ChromeBinary | None = None,
) -> Iterator[PageCapture]:
    """Serve ``compiled_dir`` and yield a ready :class:`PageCapture` on ``entry``."""
    chrome = binary or resolve_chrome()
    with (
        PageServer(compiled_dir) as server,
        PageCapture.open(chrome, server.url(entry), settings, lambda: server.missing) as page,
    ):
        yield page


def capture_frames(
    page: PageCapture,
    indices: Iterable[int],
    on_frame: FrameCallback,
    stats: CaptureStats | None = None,
) -> CaptureStats:
    """Capture ``indices`` (absolute frame numbers, any order), calling ``on_frame``."""
    stats = stats or CaptureStats()
    started = time.perf_counter()
    for index in indices:
        on_frame(index, page.capture(index))
        stats.frames += 1
    stats.seconds += time.perf_counter() - started
    return stats


def dump_frame(directory: Path, index: int, data: bytes, image_format: str) -> Path:
    """Write one raw screenshot as ``frame_<index>.<ext>`` (debugging, determinism tests)."""
    ext = "jpg" if image_format == "jpeg" else image_format
    path = directory / f"frame_{index:06d}.{ext}"
    path.write_bytes(data)
    return path
