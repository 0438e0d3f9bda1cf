"""Stage 2 — render one chunk of a frozen plan (SPEC §6).

    render_chunk(plan_dir, chunk_index, out_path, expected_hash=None) -> ChunkResult

Everything that can be checked is checked before Chrome starts: plan.json readable and of
a protocol we speak, the hash the caller expects equals the plan's and the one recomputed
from the files on disk, this ffmpeg, browser build and font set are the planner's, the index
is in range. Then the
chunk's frames are captured at their absolute times and encoded as one closed GOP.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..browser.font_set import font_set_id
from ..browser.pool import BrowserPool
from ..browser.resolve import browser_build, resolve_chrome
from ..cache import file_sha256
from ..capture.frame_source import (
    CaptureStats,
    capture_frames_parallel,
    dump_frame,
    open_frame_sources,
)
from ..capture.page_capture import PAGE_TIMING_KEYS, CaptureMode, CaptureSettings, PageCapture
from ..errors import (
    BrowserBuildMismatchError,
    ChunkIndexOutOfRangeError,
    EncodeError,
    FfmpegVersionMismatchError,
    FontSetMismatchError,
    InvalidEventError,
    PlanHashMismatchError,
    PlanProtocolUnsupportedError,
    StoredObjectCorruptError,
)
from ..media.encode import EncoderSettings, StreamingEncoder
from ..media.ffmpeg import ffmpeg_exe, ffmpeg_version_line
from ..stages.plan import CAPTURE_JSON, CHUNKS_JSON, ENCODER_JSON, PROTOCOL_VERSION
from ..timing import parse_fps
from .chunk_tag import MANIFEST, ChunkTag
from .chunking import Chunk
from .plan_hash import PLAN_JSON, compute_plan_hash
from .versions import renderer_version

# A GIF's chunks are lossless frame archives like png-sequence's: assembly builds one
# palette from every frame, so colours do not jump at chunk seams.
CHUNK_EXTENSIONS = {
    "mp4": ".mp4", "mov": ".mov", "webm": ".webm", "png-sequence": ".tar.gz", "gif": ".tar.gz",
}  # fmt: skip
FRAME_ARCHIVE_FORMATS = ("png-sequence", "gif")


@dataclass(frozen=True)
class LoadedPlan:
    """A plan directory whose integrity has been verified."""

    plan_dir: Path
    document: dict[str, Any]
    encoder: EncoderSettings
    capture: CaptureSettings
    chunks: list[Chunk]

    @property
    def plan_hash(self) -> str:
        return str(self.document["planHash"])

    @property
    def total_frames(self) -> int:
        return int(self.document["totalFrames"])

    def position(self, frame: int) -> int:
        """The output position (0-based) of composition frame ``frame``."""
        first = self.chunks[0]
        return (frame - first.start_frame) // first.step


@dataclass(frozen=True)
class ChunkResult:
    index: int
    path: Path
    sha256: str
    frames: int
    capture_mode: CaptureMode
    timings: dict[str, float] = field(default_factory=dict)
    # What rendered it (the plan's, checked against this worker's before capture).
    browser_build: str = ""
    font_set: str = ""
    ffmpeg_version: str = ""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlanProtocolUnsupportedError(f"{path.name} in the plan is unreadable: {exc}") from exc


def _plan_fps(value: Any) -> Fraction:
    """A frame rate as plans store it (an int, or ``"30000/1001"``)."""
    try:
        return parse_fps(value)
    except ValueError as exc:
        raise PlanProtocolUnsupportedError(f"the plan's fps {value!r} {exc}") from None


def check_font_set(document: dict[str, Any]) -> None:
    """The plan's font set is this worker's, or FONT_SET_MISMATCH."""
    local_set = font_set_id()
    if document["fontSet"] != local_set:
        raise FontSetMismatchError(
            f"plan made with font set {document['fontSet']}, this worker has {local_set}"
        )


def check_browser_build(document: dict[str, Any]) -> None:
    """The plan's browser build is the one this worker would launch, or
    BROWSER_BUILD_MISMATCH (resolves the browser: called once the cheap checks passed)."""
    local_browser = browser_build(resolve_chrome())
    if document["browserBuild"] != local_browser:
        raise BrowserBuildMismatchError(
            f"plan made with browser {document['browserBuild']!r}, this worker runs "
            f"{local_browser!r}"
        )


def read_plan_document(plan_dir: Path) -> dict[str, Any]:
    """plan.json as written (unverified: for what the plan asks besides the frames)."""
    return _object(_read_json(plan_dir / PLAN_JSON), PLAN_JSON)


def load_plan(plan_dir: Path, expected_hash: str | None = None) -> LoadedPlan:
    """Read and verify a plan directory (hash recomputed from disk, ffmpeg version).

    A plan whose files parse but do not have the shape we write (plan.json a list, a
    missing field, a string where a number goes) is ``CORRUPT_STORED_OBJECT`` naming the
    file and the problem: terminal, re-planning is the fix."""
    try:
        return _load_plan(plan_dir, expected_hash)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        problem = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise StoredObjectCorruptError(
            f"the plan in {plan_dir.name} is corrupt ({PLAN_JSON} or meta/*.json): "
            f"{type(exc).__name__}: {problem}; re-plan"
        ) from exc


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StoredObjectCorruptError(
            f"{name} in the plan is a JSON {type(value).__name__}, not an object; re-plan"
        )
    return value


def _load_plan(plan_dir: Path, expected_hash: str | None) -> LoadedPlan:
    document = _object(_read_json(plan_dir / PLAN_JSON), PLAN_JSON)
    if document.get("protocol") != PROTOCOL_VERSION:
        raise PlanProtocolUnsupportedError(
            f"plan protocol {document.get('protocol')!r} is not supported by renderer "
            f"{renderer_version()} (speaks {PROTOCOL_VERSION}); re-plan with this version"
        )
    recorded = str(document.get("planHash", ""))
    if expected_hash is not None and expected_hash != recorded:
        raise PlanHashMismatchError(
            f"the caller expects plan {expected_hash} but plan.json says {recorded}"
        )
    encoder_json = _object(_read_json(plan_dir / ENCODER_JSON), ENCODER_JSON)
    actual = compute_plan_hash(
        plan_dir, encoder=encoder_json, ffmpeg_version=str(document["ffmpegVersion"]),
        renderer_version=str(document["rendererVersion"]), fps=_plan_fps(document["fps"]),
        width=int(document["width"]), height=int(document["height"]),
        format=str(document["format"]), browser_build=str(document["browserBuild"]),
        font_set=str(document["fontSet"]),
    )  # fmt: skip
    if actual != recorded:
        raise PlanHashMismatchError(
            f"the plan's files do not hash to {recorded} (recomputed {actual}): the plan was "
            "altered after it was frozen, or only partly transferred; re-plan"
        )
    if document["rendererVersion"] != renderer_version():
        raise PlanProtocolUnsupportedError(
            f"plan made by renderer {document['rendererVersion']}, this is {renderer_version()}"
        )
    local_ffmpeg = ffmpeg_version_line()
    if document["ffmpegVersion"] != local_ffmpeg:
        raise FfmpegVersionMismatchError(
            f"plan made with '{document['ffmpegVersion']}', this worker has '{local_ffmpeg}'"
        )
    check_font_set(document)
    capture_json = _object(_read_json(plan_dir / CAPTURE_JSON), CAPTURE_JSON)
    video_frames = json.dumps(capture_json["videoFrames"], sort_keys=True)
    capture = CaptureSettings(
        css_width=capture_json["cssWidth"], css_height=capture_json["cssHeight"],
        width=capture_json["width"], height=capture_json["height"],
        fps=_plan_fps(capture_json["fps"]),
        image_format=capture_json["imageFormat"], jpeg_quality=capture_json["jpegQuality"],
        transparent=capture_json["transparent"], variables=capture_json["variables"],
        page_side_compositing=bool(capture_json.get("pageSideCompositing", False)),
        init_scripts=(f"window.__hfVideoFrames = {video_frames};",),
    )  # fmt: skip
    chunks = [
        Chunk(c["index"], c["startFrame"], c["endFrame"], int(c.get("step", 1)))
        for c in _read_json(plan_dir / CHUNKS_JSON)
    ]
    encoder = EncoderSettings.from_json({**encoder_json, "fps": _plan_fps(encoder_json["fps"])})
    return LoadedPlan(plan_dir, document, encoder, capture, chunks)


def check_format(loaded: LoadedPlan, expected_format: str | None) -> None:
    """The caller's idea of the output format must be the plan's (Step Functions passes it
    along separately, so a mismatch means the execution input and the plan disagree)."""
    if expected_format is not None and expected_format != loaded.encoder.format:
        raise InvalidEventError(
            f"event.Format is {expected_format!r} but the plan renders {loaded.encoder.format!r}"
        )


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A temporary sibling of ``final`` that replaces it only if the block succeeds."""
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(f".{final.name}.partial-{os.getpid()}{''.join(final.suffixes)}")
    try:
        yield partial
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(partial, 0o666 & ~umask)
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)


def render_chunk(
    plan_dir: Path,
    chunk_index: int,
    out_path: Path,
    *,
    expected_hash: str | None = None,
    pages: int = 1,
    dump_frames: Path | None = None,
    on_frame: Any = None,
    on_start: Any = None,
    expected_format: str | None = None,
    browser_pool: BrowserPool | None = None,
    session: ChunkSession | None = None,
) -> ChunkResult:
    """Capture and encode chunk ``chunk_index`` of the plan in ``plan_dir`` to ``out_path``.

    With ``browser_pool`` (a warm Lambda container's), browsers outlive the chunk and the
    chunk's pages open in them. With ``session`` (a local worker's), the plan verified and
    the pages loaded for an earlier chunk of the same plan are used again.
    ``on_start(frames)`` is told the chunk's frame count once the plan is verified;
    ``on_frame(index)`` is called per captured frame."""
    started = time.perf_counter()
    if session is not None:
        loaded = session.plan(plan_dir, expected_hash)
    else:
        loaded = load_plan(plan_dir, expected_hash)
    if not 0 <= chunk_index < len(loaded.chunks):
        raise ChunkIndexOutOfRangeError(
            f"chunk index {chunk_index} is out of range: the plan has {len(loaded.chunks)} "
            f"chunks (0…{len(loaded.chunks) - 1})"
        )
    check_format(loaded, expected_format)
    check_browser_build(loaded.document)
    chunk = loaded.chunks[chunk_index]
    if on_start is not None:
        on_start(chunk.frames)
    timings = {"verify": time.perf_counter() - started}
    encoder = loaded.encoder
    capture = loaded.capture
    if dump_frames is not None:
        dump_frames.mkdir(parents=True, exist_ok=True)

    load_started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if session is not None:
            opened = session.pages(loaded, pages)
        else:
            opened = stack.enter_context(
                open_frame_sources(
                    plan_dir, loaded.document["entry"], capture, pages, pool=browser_pool
                )
            )
        partial = stack.enter_context(atomic_path(out_path))
        timings["load"] = time.perf_counter() - load_started
        # Below Chrome's smallest scale factor the frames come at half the layout size.
        resize = capture.downscaled and opened[0].mode == "beginframe"
        tag = ChunkTag(loaded.plan_hash, chunk_index, len(loaded.chunks))
        if encoder.format in FRAME_ARCHIVE_FORMATS:
            size = (encoder.width, encoder.height) if resize else None
            sink: _FrameSink = _PngSequenceSink(
                partial, tag, resize_to=size, position=loaded.position
            )
        else:
            sink = _VideoSink(
                encoder, partial, chunk.frames, capture.image_format, resize=resize, tag=tag
            )

        def take(index: int, data: bytes) -> None:
            sink.write(index, data)
            if dump_frames is not None:
                dump_frame(dump_frames, index, data, capture.image_format)
            if on_frame is not None:
                on_frame(index)

        try:
            stats = capture_frames_parallel(opened, chunk.indices, take, CaptureStats())
            tail = time.perf_counter()
            sink.finish()
        except BaseException:
            sink.abort()
            if session is not None:  # pages that failed a chunk are not used again
                session.close()
            raise
        timings["capture"] = stats.seconds
        timings["encodeWait"] = stats.deliver_seconds
        timings["encodeTail"] = time.perf_counter() - tail
        timings.update(page_timings(opened))
        mode = opened[0].mode
        digest = file_sha256(partial)
    timings["total"] = time.perf_counter() - started
    return ChunkResult(
        chunk_index, out_path, digest, stats.frames, mode, timings,
        browser_build=str(loaded.document["browserBuild"]),
        font_set=str(loaded.document["fontSet"]),
        ffmpeg_version=str(loaded.document["ffmpegVersion"]),
    )  # fmt: skip


def page_timings(pages: Sequence[PageCapture]) -> dict[str, float]:
    """The pages' own timings (launch, load, ready, seek, settle, draw), summed over the
    pages as ``page.<name>`` (with several pages they overlap in time: these are page
    seconds, not wall seconds)."""
    return {
        f"page.{name}": sum(page.timings.get(name, 0.0) for page in pages)
        for name in PAGE_TIMING_KEYS
    }


class ChunkSession:
    """What a local worker keeps between the chunks it renders: the plan it verified and
    the pages it loaded (their browsers with them), so its second chunk pays neither the
    plan check nor a browser launch and page load again.

    Frames do not depend on what a page captured before (pages capture any frame in any
    order; the chunk-invariance tests hold frames byte-identical across chunkings), so a
    page loaded for one chunk renders the next one's frames as a fresh page would. One
    plan at a time: a session asked for another plan closes what it held. ``close()``
    stops the browsers."""

    def __init__(self, browser_pool: BrowserPool | None = None) -> None:
        self._pool = browser_pool  # pages open in its browsers, which outlive the session
        self._key: tuple[str, str | None] | None = None
        self._loaded: LoadedPlan | None = None
        self._stack: contextlib.ExitStack | None = None
        self._pages: list[PageCapture] = []

    def plan(self, plan_dir: Path, expected_hash: str | None) -> LoadedPlan:
        key = (str(plan_dir.resolve()), expected_hash)
        if self._key != key or self._loaded is None:
            self.close()
            self._loaded = load_plan(plan_dir, expected_hash)
            self._key = key
        return self._loaded

    def pages(self, loaded: LoadedPlan, count: int) -> list[PageCapture]:
        if len(self._pages) != count:
            if self._stack is not None:
                self._stack.close()
            self._stack = contextlib.ExitStack()
            try:
                self._pages = self._stack.enter_context(
                    open_frame_sources(
                        loaded.plan_dir,
                        loaded.document["entry"],
                        loaded.capture,
                        count,
                        pool=self._pool,
                    )
                )
            except BaseException:
                self.close()
                raise
        return self._pages

    def close(self) -> None:
        stack, self._stack = self._stack, None
        self._pages, self._loaded, self._key = [], None, None
        if stack is not None:
            stack.close()


class _FrameSink:
    def write(self, index: int, data: bytes) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


class _VideoSink(_FrameSink):
    def __init__(
        self,
        encoder: EncoderSettings,
        path: Path,
        frames: int,
        image_format: Any,
        *,
        resize: bool = False,
        tag: ChunkTag | None = None,
    ) -> None:
        self._encoder = StreamingEncoder(
            encoder, path, frames, input_format=image_format, resize=resize,
            comment=tag.comment() if tag is not None else None,
        )  # fmt: skip

    def write(self, index: int, data: bytes) -> None:
        self._encoder.write(data)

    def finish(self) -> None:
        self._encoder.finish()

    def abort(self) -> None:
        self._encoder.abort()


def resize_png(data: bytes, width: int, height: int) -> bytes:
    """One PNG resized (lanczos, alpha kept), bit-exact for the same input."""
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "image2pipe",
         "-c:v", "png", "-i", "-", "-vf", f"scale={width}:{height}:flags=lanczos+accurate_rnd",
         "-fflags", "+bitexact", "-flags:v", "+bitexact", "-f", "image2pipe", "-c:v", "png", "-"],
        input=data, capture_output=True, check=False,
    )  # fmt: skip
    if result.returncode != 0 or not result.stdout:
        raise EncodeError(
            f"resizing a frame failed: {result.stderr.decode(errors='replace')[-300:]}"
        )
    return result.stdout


class _PngSequenceSink(_FrameSink):
    """PNG screenshots stored as captured (lossless, alpha) in a deterministic tar.gz,
    named by 1-based output position (the composition frame's number + 1 unless a frame
    range or a frame step is rendered) so assembly is a merge. The first member is the
    chunk's tag (``hf-chunk.json``), which assembly checks and does not extract."""

    def __init__(
        self,
        path: Path,
        tag: ChunkTag,
        *,
        resize_to: tuple[int, int] | None = None,
        position: Callable[[int], int] = lambda frame: frame,
    ) -> None:
        import gzip

        self._resize_to = resize_to
        self._position = position
        self._raw = path.open("wb")
        self._gzip = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=1
        )
        self._tar = tarfile.open(  # noqa: SIM115 - closed in finish()
            fileobj=self._gzip, mode="w", format=tarfile.PAX_FORMAT
        )
        self._add(MANIFEST, tag.manifest())

    def write(self, index: int, data: bytes) -> None:
        if self._resize_to is not None:
            data = resize_png(data, *self._resize_to)
        self._add(f"frame_{self._position(index) + 1:06d}.png", data)

    def _add(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o644, 0
        self._tar.addfile(info, io.BytesIO(data))

    def finish(self) -> None:
        self._tar.close()
        self._gzip.close()
        self._raw.close()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.finish()
