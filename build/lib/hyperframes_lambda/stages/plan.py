"""Stage 1 — plan: freeze a project into a self-contained, hashed plan directory (SPEC §5).

    plan(project_dir, config, plan_dir, archive) -> PlanResult

The plan holds everything a chunk worker needs and nothing it could get differently:
the compiled page with every remote asset local, pre-extracted video frames, the mixed
soundtrack, the chunk table, the locked encoder and capture settings. Scratch files live
outside ``plan_dir`` and are gone before hashing (the reference hashed a scratch folder
workers never saw, and every audio render failed with PLAN_HASH_MISMATCH).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..browser.font_set import font_set_id
from ..browser.pool import BrowserPool
from ..browser.resolve import browser_build, resolve_chrome
from ..cache import file_sha256
from ..capture import font_report
from ..capture.frame_source import open_frame_source
from ..capture.page_capture import CaptureSettings
from ..compile.composition import read_composition
from ..compile.project import compile_project
from ..compile.static_media import read_static_media
from ..compile.variables import validate_variables
from ..config import GIF_WIDTH_WARNING, RenderConfig, parse_config
from ..errors import AssetNotFoundError, CompositionError, InvalidConfigError
from ..media.audio_mix import AudioCodec, AudioTrack, mix_audio
from ..media.encode import EncoderSettings
from ..media.ffmpeg import ffmpeg_version_line
from ..media.media_probe import probe_media
from ..media.video_frames import VideoClip, extract_video_frames
from ..net.remote_assets import RemoteFetcher
from ..timing import fps_json, frame_at, frames_duration
from .chunking import Chunk, checked_frame_count, place_chunks, plan_chunks
from .plan_archive import write_plan_archive
from .plan_artifacts import VideoWindow, build_manifest, is_core, video_windows, write_manifest
from .plan_hash import PLAN_JSON, canonical_json, compute_plan_hash, plan_files
from .render_size import resolve_fps, resolve_output_size
from .versions import renderer_version

# 2: plan.json names the browser build and the font set; 3: the artifact manifest
# (meta/artifacts.json), and no source video once its frames are extracted.
PROTOCOL_VERSION = 3
COMPILED_DIR = "compiled"
VIDEO_FRAMES_DIR = "video-frames"
AUDIO_FILE = "audio.m4a"
# An audio-only plan holds its output itself, mixed straight into the asked-for codec.
AUDIO_ONLY_FILES: dict[str, tuple[str, AudioCodec]] = {
    "aac": ("audio.m4a", "aac"),
    "mp3": ("audio.mp3", "mp3"),
    "wav": ("audio.wav", "wav"),
}
SAMPLE_RATE = 48000
ENCODER_JSON = "meta/encoder.json"
CAPTURE_JSON = "meta/capture.json"
CHUNKS_JSON = "meta/chunks.json"
VIDEO_JSON = "meta/video.json"


@dataclass(frozen=True)
class PlanResult:
    plan_dir: Path
    archive: Path | None
    plan_hash: str
    chunk_count: int
    total_frames: int
    fps: Fraction
    width: int
    height: int
    format: str
    has_audio: bool
    duration: float
    ffmpeg_version: str
    renderer_version: str
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    browser_build: str = ""
    font_set: str = ""
    # The composition frames rendered: [first, last] (inclusive), every ``frame_step``th.
    frame_range: tuple[int, int] = (0, 0)
    frame_step: int = 1
    composition_frames: int = 0
    thumbnail_frame: int | None = None  # Config.thumbnail as a frame

    @property
    def output_fps(self) -> Fraction:
        """The output's frame rate (a GIF of every Kth frame plays at fps / K)."""
        return self.fps / self.frame_step

    @property
    def audio_path(self) -> Path | None:
        return self.plan_dir / audio_file(self.format) if self.has_audio else None


def audio_file(output_format: str) -> str:
    """The soundtrack's file name in a plan of ``output_format``."""
    return AUDIO_ONLY_FILES[output_format][0] if output_format in AUDIO_ONLY_FILES else AUDIO_FILE


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(canonical_json(value) + "\n", encoding="utf-8")


def _served_path(url: str | None, plan_dir: Path, what: str) -> Path:
    """Map a media URL the page resolved (served from ``plan_dir``) back to its file."""
    if not url:
        raise CompositionError(f"{what} has no src")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname != "127.0.0.1":
        raise CompositionError(f"{what}: {url} was not made local by the compiler")
    path = plan_dir / unquote(parts.path).lstrip("/")
    if not path.is_file():
        raise AssetNotFoundError(f"{what}: {path.relative_to(plan_dir)} is not in the project")
    return path


def plan(
    project_dir: Path,
    config: RenderConfig | dict[str, Any] | None,
    plan_dir: Path,
    archive: Path | None = None,
    *,
    fetcher: RemoteFetcher | None = None,
    browser_pool: BrowserPool | None = None,
) -> PlanResult:
    """Compile ``project_dir`` into ``plan_dir`` (must not exist or be empty) and, if
    ``archive`` is given, write the frozen ``plan.tar.gz`` there. On failure nothing is
    left: neither a half-built plan directory nor an archive.

    With ``browser_pool``, the page is probed in the pool's browser (slot 0), which stays
    up for the chunk rendered next in the same process: one browser start less."""
    if plan_dir.exists() and (not plan_dir.is_dir() or any(plan_dir.iterdir())):
        raise InvalidConfigError(f"plan directory {plan_dir} is not empty")
    try:
        return _plan(project_dir, config, plan_dir, archive, fetcher, browser_pool)
    except BaseException:
        shutil.rmtree(plan_dir, ignore_errors=True)
        raise


def _plan(
    project_dir: Path,
    config: RenderConfig | dict[str, Any] | None,
    plan_dir: Path,
    archive: Path | None,
    fetcher: RemoteFetcher | None,
    browser_pool: BrowserPool | None = None,
) -> PlanResult:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    warnings: list[str] = []
    cfg = parse_config(config)
    warnings.extend(cfg.ignored_key_warnings())
    info = read_composition(project_dir, cfg.entry_file)
    warnings.extend(
        validate_variables(
            project_dir, cfg.variables, entry_file=cfg.entry_file, strict=cfg.strict_variables
        )
    )
    wanted = (cfg.width, cfg.height)
    if cfg.output_resolution is not None:  # HyperFrames' preset: the output size
        wanted = cfg.output_resolution_size(info.width, info.height)
        if (cfg.width, cfg.height) not in ((None, None), (info.width, info.height)):
            warnings.append(
                f"Config.outputResolution {cfg.output_resolution} sets the output size "
                f"{wanted[0]}x{wanted[1]}; Config width x height {cfg.width}x{cfg.height} "
                "is ignored"
            )
    width, height = resolve_output_size(info, *wanted)
    if wanted != (None, None) and (width, height) != (info.width, info.height):
        warnings.append(
            f"Config {width}x{height} differs from the composition's {info.width}x{info.height}: "
            "the page is scaled to the configured size"
        )
    fps = resolve_fps(info, cfg.fps)
    if info.duration is not None:  # refuse an absurd declared duration before Chrome starts
        checked_frame_count(info.duration, fps, f"{info.entry}: data-duration")
    plan_dir.mkdir(parents=True, exist_ok=True)

    encoder = EncoderSettings(
        fps=fps, width=width, height=height, format=cfg.format, codec=cfg.video_codec,
        quality=cfg.quality, crf=cfg.crf, bitrate=cfg.bitrate, frame_step=cfg.every_nth_frame,
        gif_loop=cfg.gif_loop, audio_bitrate=cfg.audio_bitrate,
    )  # fmt: skip
    t = time.perf_counter()
    compiled = compile_project(
        project_dir,
        plan_dir / COMPILED_DIR,
        fetcher or RemoteFetcher(),
        cfg.entry_file,
        strict_assets=cfg.strict_assets,
    )
    warnings.extend(compiled.warnings)
    timings["compile"] = time.perf_counter() - t

    capture = capture_settings_for(
        cfg, info.width, info.height, encoder, page_side_compositing=compiled.shader_transitions
    )
    t = time.perf_counter()
    entry_url_path = f"{COMPILED_DIR}/{compiled.entry}"
    static = (
        read_static_media(plan_dir / entry_url_path, f"http://127.0.0.1/{entry_url_path}")
        if cfg.is_audio_only
        else None
    )
    if static is not None:  # an audio-only output whose HTML says it all: no browser
        duration, media = static.duration, static.media
    else:
        duration, media = _probe_page(
            project_dir, plan_dir, entry_url_path, capture, warnings, browser_pool
        )
    timings["probe"] = time.perf_counter() - t
    if duration <= 0:
        raise CompositionError(
            f"{info.entry}: the composition's duration is 0 — set data-duration on the root "
            "element or register a non-empty timeline in window.__timelines"
        )
    total = checked_frame_count(duration, fps, f"{info.entry}: the composition's duration")
    first, last = _frame_range(cfg, total, fps)
    thumbnail = _thumbnail_frame(cfg, total, fps)
    step = cfg.every_nth_frame
    frames = (last - first) // step + 1
    if cfg.format == "gif" and width > GIF_WIDTH_WARNING:
        warnings.append(
            f"a {width} px wide GIF is large and slow to decode; GIFs above "
            f"{GIF_WIDTH_WARNING} px are rarely wanted (set width and height to shrink it)"
        )
    chunks: list[Chunk] = []
    if not cfg.is_audio_only:
        # Before the costly video and audio work: a plan no worker could render stops here.
        chunks, chunk_warnings = plan_chunks(
            frames, width, height, chunk_size=cfg.chunk_size,
            target_chunk_frames=cfg.target_chunk_frames,
            max_parallel_chunks=cfg.max_parallel_chunks, runtime_cap=cfg.runtime_cap,
        )  # fmt: skip
        chunks = place_chunks(chunks, first, step)
        warnings.extend(chunk_warnings)

    with tempfile.TemporaryDirectory(prefix="hf-plan-scratch-") as scratch:
        t = time.perf_counter()
        video_manifest, extracted_sources = (
            ([], set()) if cfg.is_audio_only else _extract_videos(media, plan_dir, fps, duration)
        )
        timings["video"] = time.perf_counter() - t
        t = time.perf_counter()
        has_audio = False
        if not cfg.muted and cfg.format != "gif":
            window = (
                round(Fraction(first) / fps * SAMPLE_RATE),
                round(Fraction(frames) / fps * SAMPLE_RATE),
            )
            has_audio = _mix_soundtrack(
                media, plan_dir, frames_duration(total, fps), Path(scratch),
                window=window if (first, frames) != (0, total) else None,
                output_format=cfg.format, bitrate=cfg.audio_bitrate,
            )  # fmt: skip
        timings["audio"] = time.perf_counter() - t
    _drop_sources(extracted_sources)
    if cfg.is_audio_only and not has_audio:
        raise CompositionError(
            f"{info.entry}: format {cfg.format} is audio only, but the composition has no "
            "sound (no <audio>, and no unmuted <video> with an audio track)"
        )

    encoder_json = encoder.to_json()
    _write_json(plan_dir / ENCODER_JSON, encoder_json)
    _write_json(plan_dir / CAPTURE_JSON, _capture_json(capture, video_manifest))
    _write_json(plan_dir / VIDEO_JSON, video_manifest)
    _write_json(plan_dir / CHUNKS_JSON, [_chunk_json(c) for c in chunks])
    t = time.perf_counter()
    digests = _write_artifact_manifest(
        plan_dir, chunks, video_windows(media, video_manifest) if video_manifest else [], fps,
        audio_file(cfg.format) if has_audio else None,
    )  # fmt: skip
    timings["manifest"] = time.perf_counter() - t

    ffmpeg_version = ffmpeg_version_line()
    browser = browser_build(resolve_chrome())
    font_set = font_set_id()
    plan_hash = compute_plan_hash(
        digests, encoder=encoder_json, ffmpeg_version=ffmpeg_version,
        renderer_version=renderer_version(), fps=fps, width=width, height=height, format=cfg.format,
        browser_build=browser, font_set=font_set,
    )  # fmt: skip
    document = {
        "protocol": PROTOCOL_VERSION,
        "planHash": plan_hash,
        "rendererVersion": renderer_version(),
        "ffmpegVersion": ffmpeg_version,
        "browserBuild": browser,
        "fontSet": font_set,
        "entry": entry_url_path,
        "fps": fps_json(fps),
        "width": width,
        "height": height,
        "format": cfg.format,
        "codec": cfg.video_codec,
        "totalFrames": frames,
        "compositionFrames": total,
        "frameRange": [first, last],
        "frameStep": step,
        "thumbnailFrame": thumbnail,
        "duration": duration,
        "chunkCount": len(chunks),
        "hasAudio": has_audio,
        "runtimeCap": cfg.runtime_cap,
        "outputExpiresInDays": cfg.output_expires_in_days,
        "warnings": warnings,
    }
    (plan_dir / PLAN_JSON).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    if archive is not None:
        t = time.perf_counter()
        archive.parent.mkdir(parents=True, exist_ok=True)
        write_plan_archive(plan_dir, archive)
        timings["archive"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - started
    return PlanResult(
        plan_dir=plan_dir, archive=archive, plan_hash=plan_hash, chunk_count=len(chunks),
        total_frames=frames, fps=fps, width=width, height=height, format=cfg.format,
        has_audio=has_audio, duration=duration, ffmpeg_version=ffmpeg_version,
        renderer_version=renderer_version(), timings=timings, warnings=warnings,
        browser_build=browser, font_set=font_set, frame_range=(first, last), frame_step=step,
        composition_frames=total, thumbnail_frame=thumbnail,
    )  # fmt: skip


def _probe_page(
    project_dir: Path,
    plan_dir: Path,
    entry_url_path: str,
    capture: CaptureSettings,
    warnings: list[str],
    browser_pool: BrowserPool | None = None,
) -> tuple[float, list[dict[str, Any]]]:
    """Load the compiled page once: its duration and media clips (and what it warns of)."""
    with open_frame_source(plan_dir, entry_url_path, capture, pool=browser_pool) as page:
        warnings.extend(page.warnings)
        warnings.extend(
            f"composition {cid!r} registered no timeline in window.__timelines; it is not "
            "animated by the runtime"
            for cid in page.missing_timelines
        )
        media: list[dict[str, Any]] = page.evaluate("window.__hfEngine.media()") or []
        # Named families that fell back, glyphs no font has (once per render, here).
        report = font_report.check_page(page.cdp_call, page.evaluate)
        warnings.extend(report.warnings(font_report.authored_text(project_dir)))
        return page.duration, media


def _thumbnail_frame(cfg: RenderConfig, total: int, fps: Fraction) -> int | None:
    """Config.thumbnail (seconds) as the frame shown then; any frame of the composition."""
    if cfg.thumbnail is None:
        return None
    frame = frame_at(cfg.thumbnail, fps)
    if frame >= total:
        raise InvalidConfigError(
            f"Config.thumbnail: {cfg.thumbnail:g} s is past the composition's end "
            f"({frames_duration(total, fps):.3f} s)"
        )
    return frame


def _frame_range(cfg: RenderConfig, total: int, fps: Fraction) -> tuple[int, int]:
    """Config.frameRange checked against the composition's frames (default: all)."""
    if cfg.frame_range is None:
        return 0, total - 1
    first, last = cfg.frame_range
    if last >= total:
        raise InvalidConfigError(
            f"Config.frameRange [{first}, {last}]: the composition has {total} frames "
            f"(0…{total - 1} at {fps_json(fps)} fps, {frames_duration(total, fps):.3f} s)"
        )
    return first, last


def capture_settings_for(
    cfg: RenderConfig,
    css_width: int,
    css_height: int,
    encoder: EncoderSettings,
    *,
    page_side_compositing: bool = False,
) -> CaptureSettings:
    return CaptureSettings(
        css_width=css_width, css_height=css_height, width=encoder.width, height=encoder.height,
        fps=encoder.fps, image_format=encoder.capture_format,
        jpeg_quality=encoder.preset.jpeg_quality, transparent=encoder.needs_alpha,
        variables=dict(cfg.variables), strict_assets=cfg.strict_assets,
        # As in HyperFrames: page-side compositing for opaque outputs only.
        page_side_compositing=page_side_compositing and not encoder.needs_alpha,
    )  # fmt: skip


def _capture_json(capture: CaptureSettings, video_manifest: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "cssWidth": capture.css_width,
        "cssHeight": capture.css_height,
        "width": capture.width,
        "height": capture.height,
        "fps": fps_json(capture.fps),
        "imageFormat": capture.image_format,
        "jpegQuality": capture.jpeg_quality,
        "transparent": capture.transparent,
        "pageSideCompositing": capture.page_side_compositing,
        "variables": dict(capture.variables),
        "videoFrames": video_manifest,
    }


def _chunk_json(chunk: Chunk) -> dict[str, int]:
    data = {"index": chunk.index, "startFrame": chunk.start_frame, "endFrame": chunk.end_frame}
    if chunk.step != 1:  # absent for every-frame chunks, as before
        data["step"] = chunk.step
    return data


def _write_artifact_manifest(
    plan_dir: Path,
    chunks: list[Chunk],
    windows: list[VideoWindow],
    fps: Fraction,
    soundtrack: str | None,
) -> dict[str, str]:
    """Write ``meta/artifacts.json`` (the last file of the plan but plan.json); returns
    every hashed file's digest, each file read once."""
    files = [p for p in plan_files(plan_dir) if not is_core(p)]
    digests = {p: file_sha256(plan_dir / p) for p in files}
    sizes = {p: (plan_dir / p).stat().st_size for p in files}
    write_manifest(plan_dir, build_manifest(digests, sizes, chunks, windows, fps, soundtrack))
    core = [p for p in plan_files(plan_dir) if is_core(p)]
    return {**digests, **{p: file_sha256(plan_dir / p) for p in core}}


def _drop_sources(sources: set[Path]) -> None:
    """Empty each source video whose frames were extracted: nothing reads it again (the
    page shows the frames, the soundtrack is mixed), and a 1.6 GB source kept beside its
    frames doubled every plan. An empty file, not none: the page still names it, and a
    missing file would be a missing asset."""
    for source in sorted(sources):
        source.unlink()  # a new empty file: never truncates another link to the same bytes
        source.touch()


def _extract_videos(
    media: list[dict[str, Any]], plan_dir: Path, fps: Fraction, duration: float
) -> tuple[list[dict[str, Any]], set[Path]]:
    """Pre-extract each <video>'s frames; returns the per-video manifest for the runtime,
    and the sources no longer needed once the soundtrack is mixed.

    The manifest is positional (one entry per ``<video>`` in document order). A clip that
    shows no frame inside the composition (it starts at or after the end, or lasts 0 s)
    gets ``count: 0`` and no directory: the runtime shows nothing for it (and keeps its
    source, which the page may still load).
    """
    manifest: list[dict[str, Any]] = []
    extracted_from: set[Path] = set()
    kept: set[Path] = set()
    for item in (m for m in media if m["kind"] == "video"):
        what = f"<video{' id=' + item['id'] if item.get('id') else ''}> #{item['index']}"
        source = _served_path(item.get("src"), plan_dir, what)
        clip = VideoClip(
            source=source, start=float(item["start"]),
            duration=None if item.get("end") is None else float(item["end"]) - float(item["start"]),
            media_start=float(item["mediaStart"]), playback_rate=float(item["playbackRate"]),
            loop=bool(item["loop"]),
        )  # fmt: skip
        relative = f"{VIDEO_FRAMES_DIR}/{item['index']:03d}"
        extracted = extract_video_frames(clip, fps, plan_dir / relative, composition_end=duration)
        if extracted is None:  # never on screen: nothing extracted, nothing shown
            manifest.append({"dir": f"/{relative}", "count": 0, "ext": "jpg"})
            kept.add(source)
        else:
            extracted_from.add(source)
            manifest.append({
                "dir": f"/{relative}", "count": extracted.count, "ext": extracted.ext,
                "width": extracted.width, "height": extracted.height,
            })  # fmt: skip
    return manifest, extracted_from - kept


def _mix_soundtrack(
    media: list[dict[str, Any]],
    plan_dir: Path,
    seconds: float,
    scratch: Path,
    *,
    window: tuple[int, int] | None,
    output_format: str,
    bitrate: str | None,
) -> bool:
    """Mix every sounding clip into the plan's soundtrack (only ``window``'s samples, when
    a frame range is rendered); False when nothing sounds."""
    tracks = []
    for item in media:
        if item["kind"] == "video" and item["muted"]:
            continue
        what = f"<{item['kind']}{' id=' + item['id'] if item.get('id') else ''}> #{item['index']}"
        source = _served_path(item.get("src"), plan_dir, what)
        if item["kind"] == "audio":
            probe_media(source)  # NOT_MEDIA_PAYLOAD for an HTML error page saved as .mp3
        elif not probe_media(source).has_audio:
            continue
        start = float(item["start"])
        end = item.get("end")
        tracks.append(
            AudioTrack(
                source=source,
                start=start,
                duration=None if end is None else float(end) - start,
                media_start=float(item["mediaStart"]),
                volume=float(item["volume"]),
                playback_rate=float(item["playbackRate"]),
                loop=bool(item["loop"]),
                fade_in=float(item.get("fadeIn", 0)),
                fade_out=float(item.get("fadeOut", 0)),
            )
        )
    if not tracks:
        return False
    name = audio_file(output_format)
    codec: AudioCodec = (
        AUDIO_ONLY_FILES[output_format][1] if output_format in AUDIO_ONLY_FILES else "aac"
    )
    mixed = scratch / name
    if not mix_audio(
        tracks, seconds, mixed, SAMPLE_RATE, window=window, codec=codec, bitrate=bitrate
    ):
        return False
    shutil.move(mixed, plan_dir / name)
    return True
