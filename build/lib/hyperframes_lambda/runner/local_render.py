"""Render a composition on this machine with the same three stages Lambda runs.

plan → render_chunk for every chunk (in this process for one chunk, else in worker
processes) → assemble. The output file appears only when everything succeeded and the
decoded result was verified: a failed render leaves nothing at ``output``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.util
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import (
    FIRST_EXCEPTION,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from queue import Empty
from typing import Any, Literal

from ..browser.pool import BrowserPool
from ..capture.page_capture import CaptureMode
from ..compile.composition import read_composition
from ..config import OutputFormat, RenderConfig, parse_config
from ..errors import CompositionError, InvalidConfigError
from ..lint import LintReport
from ..lint.render_check import LintOutcome, run_lint
from ..net.remote_assets import RemoteFetcher
from ..stages.assemble import assemble
from ..stages.plan import PlanResult, plan
from ..stages.render_chunk import CHUNK_EXTENSIONS, ChunkResult, ChunkSession, render_chunk
from ..stages.render_size import resolve_fps
from ..stages.still import StillRequest, render_stills
from ..timing import frames_between, frames_duration
from .interrupts import install_worker_interrupt_handlers, stop_pool_workers, worker_task
from .output_target import created_parents, output_lock, resolve_output
from .progress import Progress, ProgressCallback, Stage


@dataclass(frozen=True)
class RenderOptions:
    fps: Fraction | int | str | None = None  # 25, "30000/1001"; None: data-fps, else 30
    width: int | None = None  # None: the composition's data-width
    height: int | None = None
    quality: Literal["draft", "standard", "high"] = "standard"
    # None: from the output's extension (.mp4/.mov/.webm/.gif, .m4a/.mp3/.wav audio only;
    # a directory: png-sequence)
    format: OutputFormat | None = None
    codec: Literal["h264", "h265"] | None = None
    crf: int | None = None
    bitrate: str | None = None
    entry_file: str | None = None  # None: index.html (or the file given as the project)
    variables: Mapping[str, Any] = field(default_factory=dict)
    strict_assets: bool = False  # an unreachable remote image fails instead of warning
    # An undeclared variable or a type mismatch fails (INVALID_VARIABLES) instead of warning.
    strict_variables: bool = False
    chunks: int | None = None  # split into about this many chunks (default 1)
    chunk_size: int | None = None  # or: frames per chunk
    workers: int | None = None  # chunk worker processes (default: min(chunks, cores))
    pages: int | None = None  # browsers per chunk (default: cores / workers, at most 2)
    dump_frames: Path | None = None
    frame_range: tuple[int, int] | None = None  # [first, last] frames, inclusive, 0-based
    time_range: tuple[float, float] | None = None  # or: from, to (seconds; frames shown)
    every_nth_frame: int | None = None  # GIF: keep every Kth frame
    gif_loop: int | None = None  # GIF: -1 once, 0 forever (default), N repeats
    muted: bool = False  # no audio stream at all
    audio_bitrate: str | None = None  # e.g. 128k (AAC, MP3, Opus)
    thumbnail: float | None = None  # seconds: also write <output>.png of that frame
    lint: bool = True  # run HyperFrames' linter first; findings become warnings
    strict_lint: bool = False  # an error-severity finding fails the render (LINT_FAILED)
    # Config keys (camelCase) over the ones above: a batch row's per-row Config.
    config_overrides: Mapping[str, Any] = field(default_factory=dict)

    def config(self) -> RenderConfig:
        data: dict[str, Any] = {
            "fps": self.fps, "width": self.width, "height": self.height,
            "quality": self.quality, "format": self.format, "codec": self.codec,
            "crf": self.crf, "bitrate": self.bitrate, "entryFile": self.entry_file,
            "variables": dict(self.variables), "strictAssets": self.strict_assets,
            "strictVariables": self.strict_variables, "frameRange": self.frame_range,
            "everyNthFrame": self.every_nth_frame,
            "gifLoop": self.gif_loop, "muted": self.muted or None,
            "audioBitrate": self.audio_bitrate, "thumbnail": self.thumbnail,
        }  # fmt: skip
        if self.chunk_size is not None:
            data["chunkSize"] = self.chunk_size
            data["maxParallelChunks"] = 256
        else:
            data["maxParallelChunks"] = self.chunks or 1
        data.update(self.config_overrides)
        return parse_config({k: v for k, v in data.items() if v is not None})


@dataclass(frozen=True)
class RenderResult:
    """What a finished render made: ``output`` (a file, or a directory for png-sequence),
    the plan (size, fps, warnings), every chunk's result, and seconds per stage
    (``timings``: plan, chunks, assemble, total)."""

    output: Path
    plan: PlanResult
    chunks: list[ChunkResult]
    workers: int
    capture_mode: CaptureMode | None  # None: an audio-only render captured nothing
    timings: dict[str, float]
    lint: LintReport | None = None  # None: not linted (lint=False, or the linter failed)
    lint_warnings: list[str] = field(default_factory=list)  # "lint: index.html:3: …" lines

    @property
    def frames(self) -> int:
        return self.plan.total_frames

    @property
    def duration(self) -> float:
        return frames_duration(self.plan.total_frames, self.plan.output_fps)

    @property
    def fps(self) -> Fraction:
        """The output's frame rate (``plan.fps`` is the composition's)."""
        return self.plan.output_fps

    @property
    def width(self) -> int:
        return self.plan.width

    @property
    def height(self) -> int:
        return self.plan.height

    @property
    def format(self) -> str:
        return self.plan.format

    @property
    def warnings(self) -> list[str]:
        """The linter's findings (``lint: …``), then the plan's warnings."""
        return [*self.lint_warnings, *self.plan.warnings]

    @property
    def capture_seconds(self) -> float:
        return sum(c.timings.get("capture", 0.0) for c in self.chunks)

    @property
    def capture_fps(self) -> float:
        """Frames per second of capture time, summed over chunks (per-worker speed)."""
        return self.frames / self.capture_seconds if self.capture_seconds else 0.0


def cpu_count() -> int:
    return max(1, os.cpu_count() or 1)


def default_page_count(workers: int = 1) -> int:
    """Browsers per chunk: two capture ~1.6x faster than one on a 2-core machine
    (benchmarks/capture_bench.py); beyond the cores they only add contention."""
    return max(1, min(2, cpu_count() // max(1, workers)))


def resolve_project(
    project: Path, entry: str | None, *, entry_name: str = "entry"
) -> tuple[Path, str]:
    """The project directory and entry file. An HTML file given as the project means its
    directory with that file as the entry (unless an entry is also given: ambiguous)."""
    if project.is_file():
        if project.suffix.lower() not in (".html", ".htm"):
            raise CompositionError(
                f"{project} is a file, not a project directory (give the directory that "
                f"holds the composition, and {entry_name} NAME.html for its entry file)"
            )
        if entry is not None and entry != project.name:
            raise CompositionError(
                f"{project} is a file and {entry_name} {entry} names another entry; give "
                f"the project directory {project.parent} with {entry_name} {entry}, or the "
                f"HTML file alone"
            )
        return project.parent, project.name
    entry = entry or "index.html"
    if not project.is_dir():
        raise CompositionError(f"project directory {project} does not exist")
    if not (project / entry).is_file():
        pages = sorted(p.name for p in project.glob("*.htm*") if p.is_file())
        hint = (
            f"; HTML files there: {', '.join(pages[:5])} (choose one with {entry_name})"
            if pages
            else f" and the directory has no HTML file (set {entry_name} to the entry file)"
        )
        raise CompositionError(f"{project}: entry file {entry} does not exist{hint}")
    return project, entry


def render_local(
    project_dir: Path,
    output: Path,
    options: RenderOptions | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    fetcher: RemoteFetcher | None = None,
    browser_pool: BrowserPool | None = None,
) -> RenderResult:
    """Render ``project_dir`` to ``output`` through plan → chunks → assemble.

    With ``browser_pool``, chunks rendered in this process open their pages in the pool's
    browsers, which outlive the render (a batch renders every row in the same browsers).

    The output path and project are checked before any work (:class:`InvalidOutputError`,
    :class:`CompositionError`); ``on_progress`` sees every stage (:class:`Progress`).
    """
    options = options or RenderOptions()
    started = time.perf_counter()
    output_format = resolve_output(output, options.format)
    project_dir, entry = resolve_project(project_dir, options.entry_file)
    options = replace(options, format=output_format, entry_file=entry)
    if options.time_range is not None:
        options = replace(options, frame_range=_seconds_to_frames(options, project_dir, entry))
    config = options.config()
    # An audio-only render starts no browser, so it is not linted unless asked to be strict.
    wants_lint = options.lint and (not config.is_audio_only or options.strict_lint)
    with contextlib.ExitStack() as stack:
        stack.enter_context(created_parents(output))
        stack.enter_context(output_lock(output))  # before any work: a second render fails
        # Strict: findings fail the render before any work. Otherwise the linter (its own
        # browser) runs beside the plan and the frames; its findings are the same.
        lint_future: Future[tuple[LintOutcome, float]] | None = None
        linted: LintOutcome | None = None
        lint_seconds = 0.0
        if wants_lint and options.strict_lint:
            linted, lint_seconds = _timed_lint(project_dir, entry, strict=True)
        elif wants_lint:
            lint_future = stack.enter_context(ThreadPoolExecutor(1)).submit(
                _timed_lint, project_dir, entry, strict=False
            )
        # A one-piece render: the browser that probes the page in the plan renders the
        # frames too, and the chunk's other browsers start while the plan goes on. A
        # caller's pool (a batch's) serves the same way and outlives the render.
        pool = browser_pool
        if pool is None:
            one_piece = options.chunk_size is None and (options.chunks or 1) == 1
            slots = (options.pages or default_page_count(1)) if one_piece else 1
            pool = stack.enter_context(contextlib.closing(BrowserPool(slots=slots)))
        result = _render(
            project_dir, output, options, config, started, pool, on_progress, fetcher,
            own_pool=browser_pool is None,
        )  # fmt: skip
        if lint_future is not None:
            linted, lint_seconds = lint_future.result()
    result.timings["lint"] = lint_seconds
    result.timings["total"] = time.perf_counter() - started
    return replace(
        result,
        lint=linted.report if linted else None,
        lint_warnings=linted.warnings if linted else [],
    )


def _timed_lint(project_dir: Path, entry: str, *, strict: bool) -> tuple[LintOutcome, float]:
    started = time.perf_counter()
    outcome = run_lint(project_dir, entry, strict=strict)
    return outcome, time.perf_counter() - started


def _render(
    project_dir: Path,
    output: Path,
    options: RenderOptions,
    config: RenderConfig,
    started: float,
    browsers: BrowserPool,
    on_progress: ProgressCallback | None,
    fetcher: RemoteFetcher | None,
    *,
    own_pool: bool = True,
) -> RenderResult:
    """plan → chunks → assemble (render_local without the linter and the output lock)."""

    def report(stage: Stage, done: int, total: int) -> None:
        if on_progress is not None:
            on_progress(Progress(stage, done, total, time.perf_counter() - started))

    with (
        tempfile.TemporaryDirectory(prefix="hf-render-") as work,
        _WorkerPool(_expected_workers(options, config.is_audio_only)) as pool,
    ):
        work_dir = Path(work)
        report("plan", 0, 1)
        planned = plan(
            project_dir, config, work_dir / "plan", fetcher=fetcher, browser_pool=browsers
        )
        report("plan", 1, 1)
        timings = {"plan": planned.timings["total"]}
        chunk_dir = work_dir / "chunks"
        ext = CHUNK_EXTENSIONS.get(planned.format, "")
        chunk_paths = [chunk_dir / f"{i:04d}{ext}" for i in range(planned.chunk_count)]
        workers = max(1, min(planned.chunk_count, options.workers or cpu_count()))
        pages = options.pages or default_page_count(workers)
        t = time.perf_counter()
        results: list[ChunkResult] = []
        if planned.chunk_count == 0:  # audio only: no frames, no browser
            pass
        elif workers <= 1:
            report("frames", 0, planned.total_frames)
            results = _render_chunks_here(planned, chunk_paths, pages, options, report, browsers)
        else:
            if own_pool:
                browsers.close()  # the workers start their own
            report("frames", 0, planned.total_frames)
            results = pool.render(planned, chunk_paths, workers, pages, options, report)
        timings["chunks"] = time.perf_counter() - t
        thumbnail = None
        if planned.thumbnail_frame is not None:
            thumbnail = work_dir / "thumbnail.png"
            render_stills(planned.plan_dir, [StillRequest(planned.thumbnail_frame, thumbnail)])
        t = time.perf_counter()
        report("assemble", 0, 1)
        assemble(
            planned.plan_dir, chunk_paths, output,
            expected_hashes=[r.sha256 for r in results], expected_plan_hash=planned.plan_hash,
        )  # fmt: skip
        if thumbnail is not None:
            thumbnail.replace(thumbnail_path(output))
        timings["assemble"] = time.perf_counter() - t
        report("assemble", 1, 1)
    timings["total"] = time.perf_counter() - started
    return RenderResult(
        output, planned, results, workers, results[0].capture_mode if results else None, timings
    )


def thumbnail_path(output: Path) -> Path:
    """Where a render's thumbnail goes: beside the output, ``promo.mp4`` → ``promo.png``."""
    return output.with_name(f"{output.name.removesuffix(output.suffix)}.png")


def _seconds_to_frames(options: RenderOptions, project_dir: Path, entry: str) -> tuple[int, int]:
    """``time_range`` as frames, at the rate the plan will use (``--fps`` or data-fps)."""
    assert options.time_range is not None
    start, end = options.time_range
    if options.frame_range is not None:
        raise InvalidConfigError("give a frame range or a time range, not both")
    if not 0 <= start < end:
        raise InvalidConfigError(f"time range {start:g}…{end:g} s: need 0 <= from < to")
    fps = resolve_fps(read_composition(project_dir, entry), parse_config({"fps": options.fps}).fps)
    first, last = frames_between(start, end, fps)
    if last < first:
        raise InvalidConfigError(
            f"time range {start:g}…{end:g} s holds no frame at {fps} fps (frames start every "
            f"{float(1 / fps):.4f} s)"
        )
    return first, last


def _render_chunks_here(
    planned: PlanResult,
    chunk_paths: list[Path],
    pages: int,
    options: RenderOptions,
    report: Callable[[Stage, int, int], None],
    browser_pool: BrowserPool | None = None,
) -> list[ChunkResult]:
    done = 0

    def on_frame(_index: int) -> None:
        nonlocal done
        done += 1
        report("frames", done, planned.total_frames)

    # One plan check and one page load for all the chunks (in the pool's browsers if given).
    session = ChunkSession(browser_pool)
    try:
        return [
            render_chunk(
                planned.plan_dir,
                i,
                path,
                expected_hash=planned.plan_hash,
                pages=pages,
                dump_frames=options.dump_frames,
                on_frame=on_frame,
                session=session,
            )
            for i, path in enumerate(chunk_paths)
        ]
    finally:
        session.close()


def _expected_workers(options: RenderOptions, audio_only: bool) -> int:
    """Worker processes to start before planning: the ones asked for, when more than one
    chunk is (a one-chunk render runs in this process)."""
    if audio_only or ((options.chunks or 1) <= 1 and options.chunk_size is None):
        return 0
    wanted = options.workers or cpu_count()
    return max(0, min(wanted, options.chunks) if options.chunks else wanted)


_progress_queue: Any = None
_session: ChunkSession | None = None


def _init_worker(queue: Any) -> None:
    """A chunk worker: interrupts as exceptions, and a session its chunks share (closed,
    with its browsers, when the process exits). Imports what a chunk needs now, while the
    parent plans, not when the first chunk arrives."""
    global _progress_queue, _session  # noqa: PLW0603 - per-worker-process state, set at spawn
    _progress_queue = queue
    install_worker_interrupt_handlers()
    _session = ChunkSession()
    multiprocessing.util.Finalize(None, _session.close, exitpriority=10)
    from ..browser.resolve import resolve_chrome

    with contextlib.suppress(Exception):  # a chunk reports a missing browser itself
        resolve_chrome()


def _ready() -> bool:
    return True


def _report_frame(_index: int) -> None:
    if _progress_queue is not None:
        _progress_queue.put(1)


def _worker_render_chunk(
    plan_dir: str, index: int, path: str, plan_hash: str, pages: int, dump: str | None
) -> ChunkResult:
    with worker_task():
        return render_chunk(
            Path(plan_dir), index, Path(path), expected_hash=plan_hash, pages=pages,
            dump_frames=Path(dump) if dump else None, on_frame=_report_frame,
            session=_session,
        )  # fmt: skip


class _WorkerPool:
    """Chunk worker processes, started before the plan so their start-up (an interpreter,
    the package's imports) overlaps it; each keeps its browser, its pages and the verified
    plan across the chunks it renders (:class:`ChunkSession`), so ``--chunks 4 --workers
    2`` loads the page twice, as one chunk with two browsers does."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._context = multiprocessing.get_context("spawn")
        self._pool: ProcessPoolExecutor | None = None
        self._manager: Any = None
        self._queue: Any = None

    def __enter__(self) -> _WorkerPool:
        if self.workers > 1:
            self._start(self.workers)
        return self

    def _start(self, workers: int) -> ProcessPoolExecutor:
        if self._pool is None:
            self.workers = workers
            # A manager's queue, not a multiprocessing.Queue: that one's semaphore starts a
            # resource-tracker process that outlives the render by a moment.
            self._manager = self._context.Manager()
            self._queue = self._manager.Queue()
            self._pool = ProcessPoolExecutor(
                workers, mp_context=self._context, initializer=_init_worker,
                initargs=(self._queue,),
            )  # fmt: skip
            for _ in range(workers):  # spawn them all now
                self._pool.submit(_ready)
        return self._pool

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            if exc[0] is not None and issubclass(exc[0], KeyboardInterrupt):  # type: ignore[arg-type]
                stop_pool_workers(self._pool._processes)  # no public handle on the workers
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._manager.shutdown()

    def render(
        self,
        planned: PlanResult,
        chunk_paths: list[Path],
        workers: int,
        pages: int,
        options: RenderOptions,
        report: Callable[[Stage, int, int], None],
    ) -> list[ChunkResult]:
        """The chunks in the workers (``workers`` of them, started now unless they were);
        frames reported back for the progress bar.

        Interrupted (Ctrl-C, SIGTERM), the workers are sent SIGTERM and waited for: each
        one stops its browsers and removes its files before the work directory goes."""
        pool = self._start(workers)
        queue = self._queue
        dump = str(options.dump_frames) if options.dump_frames else None
        futures = [
            pool.submit(
                _worker_render_chunk,
                str(planned.plan_dir),
                i,
                str(path),
                planned.plan_hash,
                pages,
                dump,
            )
            for i, path in enumerate(chunk_paths)
        ]
        done, reported = 0, 0  # 0 was reported before the chunks started
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
                done += _drain(queue)
                if done != reported:
                    report("frames", done, planned.total_frames)
                    reported = done
                for future in finished:
                    if future.exception() is not None:
                        for other in pending:
                            other.cancel()
                        raise future.exception()  # type: ignore[misc]
        except KeyboardInterrupt:
            stop_pool_workers(pool._processes)  # no public handle on the workers
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        return [f.result() for f in futures]


def _drain(queue: Any) -> int:
    total = 0
    while True:
        try:
            total += queue.get_nowait()
        except Empty:
            return total
