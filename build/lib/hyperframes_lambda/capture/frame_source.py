"""A served, loaded composition ready to hand out frames: the capture side of every stage.

``open_frame_source(compiled_dir, ...)`` serves a compiled project on 127.0.0.1, starts
a browser on it and waits until the composition is ready. The local render, the chunk
worker and the tests all capture through it, so there is one way frames are made.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..browser.binary import ChromeBinary
from ..browser.page_server import PageServer, ServedFile
from ..browser.pool import BrowserPool
from ..browser.resolve import resolve_chrome
from ..page.injection import RUNTIME_URL_PATH, inject_runtime
from ..page.official_runtime import runtime_source
from .page_capture import CaptureSettings, PageCapture

FrameCallback = Callable[[int, bytes], None]


@dataclass
class CaptureStats:
    frames: int = 0
    seconds: float = 0.0
    load_seconds: float = 0.0
    # Time spent handing frames on (``on_frame``: a full encoder queue blocks there).
    deliver_seconds: float = 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def composition_server(root: Path, entry: str) -> PageServer:
    """A page server for ``root`` whose ``entry`` page loads the pinned HyperFrames runtime."""
    runtime = ServedFile(runtime_source().encode("utf-8"), "text/javascript; charset=utf-8")
    return PageServer(
        root, routes={RUNTIME_URL_PATH: runtime}, entry=entry, transform=inject_runtime
    )


@contextlib.contextmanager
def open_frame_sources(
    compiled_dir: Path,
    entry: str,
    settings: CaptureSettings,
    count: int,
    binary: ChromeBinary | None = None,
    pool: BrowserPool | None = None,
) -> Iterator[list[PageCapture]]:
    """Serve ``compiled_dir`` once and yield ``count`` ready pages, each its own browser.

    Browsers start concurrently; if any fails, the others are closed and its error raised.
    """
    chrome = binary or resolve_chrome()
    with composition_server(compiled_dir, entry) as server, contextlib.ExitStack() as stack:
        url = server.url(entry)
        with ThreadPoolExecutor(max_workers=count) as executor:
            futures = [
                executor.submit(
                    PageCapture.open,
                    chrome,
                    url,
                    settings,
                    lambda: server.missing,
                    pool=pool,
                    slot=slot,
                    blocked_requests=lambda: server.blocked,
                )
                for slot in range(count)
            ]
            pages: list[PageCapture] = []
            error: BaseException | None = None
            for future in futures:
                while True:
                    try:
                        pages.append(stack.enter_context(future.result()))
                    except BaseException as exc:  # noqa: BLE001 - first error re-raised below
                        error = error or exc
                        if not future.done():
                            # Interrupted (Ctrl-C, SIGTERM) while the page opens in its
                            # thread: wait for it, so its browser is closed, not orphaned.
                            continue
                    break
            if error is not None:
                raise error
        yield pages


@contextlib.contextmanager
def open_frame_source(
    compiled_dir: Path,
    entry: str,
    settings: CaptureSettings,
    binary: ChromeBinary | None = None,
    pool: BrowserPool | None = None,
) -> Iterator[PageCapture]:
    """Serve ``compiled_dir`` and yield a ready :class:`PageCapture` on ``entry`` (in a
    browser of ``pool``, slot 0, when given: it outlives the page)."""
    with open_frame_sources(compiled_dir, entry, settings, 1, binary, pool) as pages:
        yield pages[0]


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
        data = page.capture(index)
        delivering = time.perf_counter()
        on_frame(index, data)
        stats.deliver_seconds += time.perf_counter() - delivering
        stats.frames += 1
    stats.seconds += time.perf_counter() - started
    return stats


def capture_frames_parallel(
    pages: Sequence[PageCapture],
    indices: Sequence[int],
    on_frame: FrameCallback,
    stats: CaptureStats | None = None,
    queue_frames: int = 8,
) -> CaptureStats:
    """Capture ``indices`` with several pages at once, delivering frames in order.

    Page ``k`` captures positions ``k, k+n, k+2n …`` into its own bounded queue and the
    caller's thread takes them round-robin, so ``on_frame`` (usually the encoder) sees
    frames in exactly the order of ``indices``. Every page renders any frame to the same
    bytes (see the determinism tests), so which page made a frame does not matter.
    On a 2-core machine two browsers capture ~1.4x faster than one.
    """
    if len(pages) == 1:
        return capture_frames(pages[0], indices, on_frame, stats)
    stats = stats or CaptureStats()
    n = len(pages)
    queues: list[queue.Queue[tuple[int, bytes] | BaseException]] = [
        queue.Queue(maxsize=queue_frames) for _ in pages
    ]
    stop = threading.Event()

    def worker(k: int) -> None:
        try:
            for position in range(k, len(indices), n):
                if stop.is_set():
                    return
                index = indices[position]
                queues[k].put((index, pages[k].capture(index)))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
            queues[k].put(exc)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(n)]
    for thread in threads:
        thread.start()
    try:
        for position in range(len(indices)):
            item = queues[position % n].get()
            if isinstance(item, BaseException):
                raise item
            delivering = time.perf_counter()
            on_frame(*item)
            stats.deliver_seconds += time.perf_counter() - delivering
            stats.frames += 1
    finally:
        stop.set()
        for q in queues:  # unblock workers waiting on a full queue
            while not q.empty():
                q.get_nowait()
        for thread in threads:
            thread.join(timeout=60)
    stats.seconds += time.perf_counter() - started
    return stats


def dump_frame(directory: Path, index: int, data: bytes, image_format: str) -> Path:
    """Write one raw screenshot as ``frame_<index>.<ext>`` (debugging, determinism tests)."""
    ext = "jpg" if image_format == "jpeg" else image_format
    path = directory / f"frame_{index:06d}.{ext}"
    path.write_bytes(data)
    return path
