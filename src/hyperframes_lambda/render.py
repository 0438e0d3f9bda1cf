"""Render a whole composition to a video file on this machine, in one process.

compile (remote assets made local) → load in the browser → capture every frame while
ffmpeg encodes it → verify the decoded output → move it into place. The output file
appears only when everything succeeded: a failed render leaves nothing at ``output``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .browser.resolve import ChromeBinary
from .capture import CaptureMode, CaptureSettings, ImageFormat
from .compile import compile_project
from .composition import CompositionInfo, read_composition
from .encode import Codec, EncoderSettings, OutputFormat, Quality, StreamingEncoder
from .errors import CompositionError, InvalidConfigError, OutputVerificationError
from .frame_source import CaptureStats, capture_frames_parallel, dump_frame, open_frame_sources
from .probe import probe
from .remote_assets import RemoteFetcher
from .timing import SUPPORTED_FPS, frame_count

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class RenderOptions:
    fps: int | None = None  # None: the composition's data-fps, else 30
    width: int | None = None  # None: the composition's data-width
    height: int | None = None
    quality: Quality = "standard"
    format: OutputFormat = "mp4"
    codec: Codec = "h264"
    crf: int | None = None
    bitrate: str | None = None
    entry_file: str = "index.html"
    variables: Mapping[str, Any] = field(default_factory=dict)
    dump_frames: Path | None = None
    capture_format: ImageFormat | None = None  # override the quality preset's capture
    capture_mode: Literal["auto", "beginframe", "screenshot"] = "auto"
    pages: int | None = None  # browsers capturing in parallel; None: default_page_count()


@dataclass(frozen=True)
class RenderResult:
    output: Path
    frames: int
    fps: int
    width: int
    height: int
    duration: float
    capture_mode: CaptureMode
    capture_seconds: float
    load_seconds: float
    encode_tail_seconds: float  # waiting for ffmpeg after the last frame was captured
    total_seconds: float

    @property
    def capture_fps(self) -> float:
        return self.frames / self.capture_seconds if self.capture_seconds else 0.0


def default_page_count() -> int:
    """Browsers per render: two capture ~1.6x faster than one on a 2-core machine
    (benchmarks/capture_bench.py); more than the cores only adds contention."""
    return max(1, min(2, os.cpu_count() or 1))


def resolve_output_size(info: CompositionInfo, options: RenderOptions) -> tuple[int, int]:
    """The render size: the composition's unless both width and height are given.

    An explicit size wins and scales the page (device pixel ratio), so a 1080p
    composition renders crisply at 720p or 4K; the aspect ratio must match.
    """
    if options.width is None and options.height is None:
        return info.width, info.height
    if options.width is None or options.height is None:
        raise InvalidConfigError("width and height must be given together")
    for name, value in (("width", options.width), ("height", options.height)):
        if not 16 <= value <= 7680 or value % 2:
            raise InvalidConfigError(f"{name}={value} must be an even number of pixels, 16…7680")
    if abs(options.width / options.height - info.width / info.height) > 0.01:
        raise InvalidConfigError(
            f"width x height {options.width}x{options.height} does not match the composition's "
            f"aspect ratio {info.width}x{info.height} ({info.entry}); render at a matching size"
        )
    return options.width, options.height


def _resolve_fps(info: CompositionInfo, options: RenderOptions) -> int:
    fps = options.fps or info.fps or 30
    if fps not in SUPPORTED_FPS:
        raise InvalidConfigError(f"fps={fps} must be one of {', '.join(map(str, SUPPORTED_FPS))}")
    return fps


@contextlib.contextmanager
def _atomic_output(output: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``output``; rename it into place only on success."""
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{output.stem}.", suffix=f".partial{output.suffix}", dir=output.parent
    )
    os.close(fd)
    partial = Path(name)
    try:
        yield partial
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(partial, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


def render_local(
    project_dir: Path,
    output: Path,
    options: RenderOptions | None = None,
    *,
    binary: ChromeBinary | None = None,
    on_progress: ProgressCallback | None = None,
    fetcher: RemoteFetcher | None = None,
) -> RenderResult:
    """Render ``project_dir`` to ``output`` (mp4/mov/webm)."""
    options = options or RenderOptions()
    started = time.perf_counter()
    info = read_composition(project_dir, options.entry_file)
    width, height = resolve_output_size(info, options)
    fps = _resolve_fps(info, options)
    encoder_settings = EncoderSettings(
        fps=fps, width=width, height=height, format=options.format, codec=options.codec,
        quality=options.quality, crf=options.crf, bitrate=options.bitrate,
    )  # fmt: skip
    image_format: ImageFormat = options.capture_format or encoder_settings.capture_format
    capture_settings = CaptureSettings(
        css_width=info.width, css_height=info.height, width=width, height=height, fps=fps,
        image_format=image_format,
        jpeg_quality=encoder_settings.preset.jpeg_quality,
        transparent=encoder_settings.needs_alpha, variables=dict(options.variables),
        mode=options.capture_mode,
    )  # fmt: skip
    if options.dump_frames is not None:
        options.dump_frames.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="hf-render-") as work:
        compiled = compile_project(
            project_dir, Path(work) / "compiled", fetcher or RemoteFetcher(), options.entry_file
        )
        load_started = time.perf_counter()
        page_count = options.pages or default_page_count()
        with open_frame_sources(
            compiled.root, compiled.entry, capture_settings, page_count, binary
        ) as pages:
            page = pages[0]
            load_seconds = time.perf_counter() - load_started
            if page.duration <= 0:
                raise CompositionError(
                    f"{info.entry}: the composition's duration is 0 — set data-duration on the "
                    "root element or register a non-empty timeline in window.__timelines"
                )
            total = frame_count(page.duration, fps)
            with _atomic_output(output) as partial:
                encoder = StreamingEncoder(
                    encoder_settings, partial, total, input_format=image_format
                )
                done = 0

                def on_frame(index: int, data: bytes) -> None:
                    nonlocal done
                    encoder.write(data)
                    if options.dump_frames is not None:
                        dump_frame(options.dump_frames, index, data, image_format)
                    done += 1
                    if on_progress:
                        on_progress(done, total)

                try:
                    stats = capture_frames_parallel(pages, range(total), on_frame, CaptureStats())
                    tail_started = time.perf_counter()
                    encoder.finish()
                    tail = time.perf_counter() - tail_started
                except BaseException:
                    encoder.abort()
                    raise
                _verify_output(partial, total, fps)
            mode = page.mode
    return RenderResult(
        output=output, frames=total, fps=fps, width=width, height=height,
        duration=total / fps, capture_mode=mode, capture_seconds=stats.seconds,
        load_seconds=load_seconds, encode_tail_seconds=tail,
        total_seconds=time.perf_counter() - started,
    )  # fmt: skip


def _verify_output(path: Path, frames: int, fps: int) -> None:
    """Decoded frame count must equal the plan; duration within one frame."""
    info = probe(path)
    if info.frame_count != frames:
        raise OutputVerificationError(
            f"{path.name}: decoded {info.frame_count} frames, expected {frames}"
        )
    if info.duration is not None and abs(info.duration - frames / fps) > 1.0 / fps + 1e-6:
        raise OutputVerificationError(
            f"{path.name}: duration {info.duration:.3f}s, expected {frames / fps:.3f}s"
        )
