"""Conformance runner: render every fixture of the conformance suite and judge it against
the reference engine's output with the reference harness's own rule.

    .venv/bin/python benchmarks/conformance.py [--fixtures DIR] [--reference DIR]
        [--out DIR] [--only a,b] [--json results.json] [--jobs N] [--timeout S]
        [--quality draft|standard|high]

The suite (``../shared/conformance`` beside the repository by default; its README is the
authority) holds ``fixtures/<name>/`` (a composition plus ``meta.json``) and
``reference/<name>.mp4|.mov|.webm`` (a folder of PNGs for png-sequence). For each fixture:

1. **Stage.** The fixture is copied with ``_media/`` and ``shared/`` as siblings into a
   temporary directory, so its relative links still resolve. The suite's links may arrive
   as real symlinks or, after a checkout without symlink support, as small text files
   holding the link target: both become symlinks in the copy (see :func:`stage_fixture`).
2. **Render** with the package's Python API (``render_local`` + ``RenderOptions``), the
   ``renderConfig`` mapped by :func:`render_options`. Keys we have no equivalent for
   (``hdr``, ``captureMode``, ``workers``…) are recorded as ignored, never silently lost.
3. **Judge** (README: "the reference harness's own rule"): decode both, pair frames by
   index (counts must match), per-frame PSNR in yuv420p (gbrap for the alpha formats, webm
   decoded with libvpx-vp9 so alpha survives) at 100 checkpoints
   ``t_k = (duration - 1/fps) * k / 100``, frame ``round(t_k * fps)``; pass when at most
   ``maxFrameFailures`` checkpoints are below ``minPsnr`` (30 when absent). With
   ``duration = frames / fps`` the checkpoint frame is ``round((frames - 1) * k / 100)``,
   computed exactly in integers (half rounds up, as JavaScript's ``Math.round``).

Each fixture runs in its own spawned process group, so a hung or crashing render is
stopped at ``--timeout`` and recorded instead of taking the suite down. Statuses: PASS,
FAIL (compared, over the bar, or frame count/size mismatch), ERROR (render or comparison
raised; the error class and first line are kept), INFO (tagged ``known-broken``: run and
reported, not counted). For every FAIL a side-by-side PNG (ours | reference | difference
x4) of the worst checkpoint frame is written to the out dir.

JSON results: one object per fixture; PSNR values are numbers, or the string ``"inf"`` for
identical frames (JSON has no infinity). The mean PSNR counts identical frames as 100 dB
so one identical frame does not make the mean infinite.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

if TYPE_CHECKING:
    from hyperframes_lambda.runner.local_render import RenderOptions

# The package is imported where it is used, not here: each fixture process re-imports this
# module, and a package that does not import (a half-finished edit) must become an ERROR
# result naming the ImportError, not a process that dies before it can report.

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SUITE = ROOT.parent / "shared" / "conformance"
DEFAULT_OUT = ROOT / "out" / "conformance"
DEFAULT_MIN_PSNR = 30.0
CHECKPOINTS = 100
KNOWN_BROKEN = "known-broken"
# Siblings of the fixtures that fixtures link into (README: "copy it together with
# `_media/` and `shared/` as siblings").
SHARED_DIRS = ("_media", "shared")
# A checkout without symlink support leaves each link as a text file holding its target;
# such files are tiny. Anything larger is real content.
LINK_FILE_MAX_BYTES = 512
ALPHA_FORMATS = frozenset({"mov", "webm", "png-sequence"})
VIDEO_EXTENSIONS = {"mp4": ".mp4", "mov": ".mov", "webm": ".webm"}
# renderConfig keys render_options() maps; every other key is reported as ignored.
MAPPED_KEYS = frozenset({"fps", "format", "codec", "variables", "chunkSize", "entryFile"})
# Identical frames have infinite PSNR; the mean counts them at this value.
MEAN_PSNR_CAP = 100.0
ERROR_DETAIL_CHARS = 2000
# Difference panel gain: small errors are invisible at 1x.
DIFF_GAIN = 4

Status = Literal["PASS", "FAIL", "ERROR", "INFO"]
Quality = Literal["draft", "standard", "high"]


# ---- fixtures ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    """One composition of the suite with its bars and the reference output to match."""

    name: str
    path: Path
    meta: dict[str, Any]
    reference: Path | None  # None: the suite has no reference output for it

    @property
    def render_config(self) -> dict[str, Any]:
        config = self.meta.get("renderConfig")
        return dict(config) if isinstance(config, dict) else {}

    @property
    def format(self) -> str:
        return str(self.render_config.get("format", "mp4"))

    @property
    def tags(self) -> list[str]:
        tags = self.meta.get("tags")
        return [str(t) for t in tags] if isinstance(tags, list) else []

    @property
    def known_broken(self) -> bool:
        return KNOWN_BROKEN in self.tags

    @property
    def min_psnr(self) -> float:
        value = self.meta.get("minPsnr")
        return float(value) if isinstance(value, int | float) else DEFAULT_MIN_PSNR

    @property
    def max_failures(self) -> int:
        value = self.meta.get("maxFrameFailures")
        return int(value) if isinstance(value, int | float) else 0

    @property
    def has_bar(self) -> bool:
        """Counts toward the pass rate: everything except the informational known-broken
        ones (fixtures without explicit bars are judged at the 30 dB default)."""
        return not self.known_broken


def find_reference(reference_dir: Path, name: str, fmt: str) -> Path | None:
    """The reference output for ``name``: a PNG folder for png-sequence, else a video."""
    if fmt == "png-sequence":
        folder = reference_dir / name
        return folder if folder.is_dir() else None
    preferred = VIDEO_EXTENSIONS.get(fmt, ".mp4")
    for ext in (preferred, *VIDEO_EXTENSIONS.values()):
        candidate = reference_dir / f"{name}{ext}"
        if candidate.is_file():
            return candidate
    return None


def load_fixtures(
    fixtures_dir: Path, reference_dir: Path, only: Sequence[str] = ()
) -> list[Fixture]:
    """Every fixture directory (one with a ``meta.json``), sorted by name.

    ``only`` restricts to those names; an unknown name raises ``KeyError`` so a typo on
    the command line does not silently run nothing.
    """
    fixtures: dict[str, Fixture] = {}
    for meta_path in sorted(fixtures_dir.glob("*/meta.json")):
        name = meta_path.parent.name
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            meta = {}
        fmt = str((meta.get("renderConfig") or {}).get("format", "mp4"))
        fixtures[name] = Fixture(
            name, meta_path.parent, meta, find_reference(reference_dir, name, fmt)
        )
    if only:
        unknown = [n for n in only if n not in fixtures]
        if unknown:
            raise KeyError(f"no such fixture(s): {', '.join(unknown)}")
        return [fixtures[n] for n in only]
    return list(fixtures.values())


def parse_fps(value: Any) -> Fraction:
    """``renderConfig.fps``: an integer (30) or an ffmpeg-style rational ("30000/1001")."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"renderConfig.fps must be a number or 'num/den' string, got {value!r}")
    fps = Fraction(value) if not isinstance(value, float) else Fraction(value).limit_denominator()
    if fps <= 0:
        raise ValueError(f"renderConfig.fps must be positive, got {value!r}")
    return fps


def render_options(fixture: Fixture, quality: Quality) -> tuple[RenderOptions, list[str]]:
    """Map ``renderConfig`` onto :class:`RenderOptions`; also return the ignored keys.

    ``workers`` is the reference's capture parallelism inside one process, not our chunk
    workers, so it is ignored (our defaults pick processes and browsers). A non-integer
    fps is passed through as given, so the renderer (not this runner) decides whether it
    supports it and the suite records its answer.
    """
    from hyperframes_lambda.runner.local_render import RenderOptions

    config = fixture.render_config
    kwargs: dict[str, Any] = {"quality": quality, "format": fixture.format}
    if "fps" in config:
        fps = parse_fps(config["fps"])
        kwargs["fps"] = int(fps) if fps.denominator == 1 else config["fps"]
    if config.get("codec") is not None:
        kwargs["codec"] = config["codec"]
    if isinstance(config.get("variables"), dict):
        kwargs["variables"] = config["variables"]
    if config.get("chunkSize") is not None:
        kwargs["chunk_size"] = int(config["chunkSize"])
    if config.get("entryFile"):
        kwargs["entry_file"] = str(config["entryFile"])
    ignored = sorted(k for k in config if k not in MAPPED_KEYS)
    return RenderOptions(**kwargs), ignored


# ---- staging -------------------------------------------------------------------------


def flattened_link_target(path: Path, suite_root: Path) -> str | None:
    """The link target a flattened-symlink text file holds, or None if ``path`` is content.

    It is a link only if its whole content is one relative path that resolves, from the
    file's directory, to something existing inside the suite: real assets never do.
    """
    try:
        if path.stat().st_size > LINK_FILE_MAX_BYTES:
            return None
        text = path.read_bytes().decode("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text or "\n" in text or text.startswith("/") or any(c.isspace() for c in text):
        return None
    resolved = (path.parent / text).resolve()
    root = suite_root.resolve()
    if resolved == path.resolve() or not resolved.is_relative_to(root) or not resolved.exists():
        return None
    return text


def _copy_tree(src: Path, dst: Path, suite_root: Path) -> None:
    """Copy without permission bits (the suite is read-only; the copy must be writable and
    removable) and turn flattened symlinks back into symlinks."""
    dst.mkdir(parents=True, exist_ok=True)
    for entry in sorted(src.iterdir()):
        target = dst / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry), target)
        elif entry.is_dir():
            _copy_tree(entry, target, suite_root)
        elif (link := flattened_link_target(entry, suite_root)) is not None:
            os.symlink(link, target)
        else:
            shutil.copyfile(entry, target)


def stage_fixture(fixture: Fixture, dest: Path) -> Path:
    """Copy ``fixture`` into ``dest/<name>`` with the shared siblings beside it."""
    suite_root = fixture.path.parent
    for shared in SHARED_DIRS:
        if (suite_root / shared).is_dir() and not (dest / shared).exists():
            _copy_tree(suite_root / shared, dest / shared, suite_root)
    project = dest / fixture.name
    _copy_tree(fixture.path, project, suite_root)
    return project


# ---- decoding and PSNR ---------------------------------------------------------------


def checkpoint_frames(frame_count: int) -> list[int]:
    """Frame index of each of the 100 checkpoints for a video of ``frame_count`` frames.

    ``t_k = (duration - 1/fps) * k / 100`` and frame ``round(t_k * fps)`` with
    ``duration = frame_count / fps`` is ``round((frame_count - 1) * k / 100)``; integer
    arithmetic keeps it exact, and halves round up like the reference's ``Math.round``.
    """
    if frame_count <= 0:
        return []
    last = frame_count - 1
    return [(2 * last * k + CHECKPOINTS) // (2 * CHECKPOINTS) for k in range(CHECKPOINTS)]


def frame_bytes(width: int, height: int, pix_fmt: str) -> int:
    if pix_fmt == "yuv420p":
        return width * height + 2 * ((width + 1) // 2) * ((height + 1) // 2)
    if pix_fmt in ("gbrap", "rgba"):
        return width * height * 4
    raise ValueError(f"unsupported pixel format {pix_fmt}")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR over every sample of two raw frames in the same pixel format.

    Pooling all planes is what ffmpeg's psnr filter reports as ``average`` (per-plane MSE
    weighted by plane size), the number the reference harness thresholds.
    """
    diff = a.astype(np.int32) - b.astype(np.int32)
    mse = float(np.mean(diff * diff))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


@dataclass(frozen=True)
class Media:
    """A decodable output: a video file or a folder of PNG frames."""

    path: Path

    @property
    def is_png_folder(self) -> bool:
        return self.path.is_dir()

    @property
    def decoder_args(self) -> list[str]:
        # ffmpeg's native vp9 decoder drops the alpha plane; libvpx keeps it.
        return ["-c:v", "libvpx-vp9"] if self.path.suffix == ".webm" else []

    def pngs(self) -> list[Path]:
        return sorted(p for p in self.path.iterdir() if p.suffix.lower() == ".png")

    def frame_count(self) -> int:
        """Frames without decoding: PNG files, or video packets (one per frame for every
        codec the renderers write)."""
        if self.is_png_folder:
            return len(self.pngs())
        from hyperframes_lambda.compare.media import count_frames

        return count_frames(self.path)

    def size(self) -> tuple[int, int]:
        from hyperframes_lambda.compare.media import video_size

        return video_size(self.pngs()[0] if self.is_png_folder else self.path)

    def decode(
        self, indices: Iterable[int], width: int, height: int, pix_fmt: str
    ) -> dict[int, np.ndarray]:
        """The frames at ``indices`` (0-based, in decode order) as raw ``pix_fmt`` arrays."""
        wanted = sorted(set(indices))
        size = frame_bytes(width, height, pix_fmt)
        out: dict[int, np.ndarray] = {}
        if self.is_png_folder:
            files = self.pngs()
            for index in wanted:
                raw = _ffmpeg(["-i", str(files[index]), *_raw_out(pix_fmt)]).stdout
                out[index] = _as_frame(raw, size, f"{files[index]}")
            return out
        # select= before the format conversion: only checkpoint frames are converted and
        # piped. n counts decoded frames from 0, which is the index pairing by order uses.
        select = "+".join(f"eq(n\\,{i})" for i in wanted)
        raw = _ffmpeg(
            [*self.decoder_args, "-i", str(self.path), "-map", "0:v:0",
             "-vf", f"select='{select}'", "-fps_mode", "passthrough", *_raw_out(pix_fmt)]
        ).stdout  # fmt: skip
        if len(raw) != size * len(wanted):
            raise ValueError(
                f"{self.path}: decoded {len(raw) / size:.2f} of {len(wanted)} checkpoint frames"
            )
        for n, index in enumerate(wanted):
            out[index] = np.frombuffer(raw, np.uint8, size, n * size)
        return out

    def input_args(self, index: int) -> tuple[list[str], int]:
        """ffmpeg input arguments to reach frame ``index``, and its index in that input."""
        if self.is_png_folder:
            return ["-i", str(self.pngs()[index])], 0
        return [*self.decoder_args, "-i", str(self.path)], index


def _raw_out(pix_fmt: str) -> list[str]:
    return ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-"]


def _as_frame(raw: bytes, size: int, what: str) -> np.ndarray:
    if len(raw) != size:
        raise ValueError(f"{what}: decoded {len(raw)} bytes, expected {size}")
    return np.frombuffer(raw, np.uint8)


def ffmpeg_exe() -> str:
    """The package's ffmpeg (``HYPERFRAMES_FFMPEG_PATH`` or the imageio-ffmpeg binary):
    the one the renders were encoded with, and the one the reference was made with."""
    from hyperframes_lambda.media.ffmpeg import ffmpeg_exe as package_ffmpeg

    return package_ffmpeg()


def _ffmpeg(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    """The package's ffmpeg runner (shared with ``hyperframes_lambda.compare``); its
    MediaError is a RuntimeError naming the command and ffmpeg's last lines."""
    from hyperframes_lambda.compare.media import run_ffmpeg

    return run_ffmpeg(args)


@dataclass
class Comparison:
    """The judgement of one render against its reference."""

    frames_ours: int
    frames_reference: int
    size_ours: tuple[int, int]
    size_reference: tuple[int, int]
    pix_fmt: str
    checkpoints: list[tuple[int, float]] = field(default_factory=list)  # (frame, psnr)
    problems: list[str] = field(default_factory=list)  # count/size mismatches

    def failures(self, min_psnr: float) -> int:
        return sum(1 for _, value in self.checkpoints if value < min_psnr)

    @property
    def min_psnr(self) -> float | None:
        return min((v for _, v in self.checkpoints), default=None)

    @property
    def mean_psnr(self) -> float | None:
        if not self.checkpoints:
            return None
        return sum(min(v, MEAN_PSNR_CAP) for _, v in self.checkpoints) / len(self.checkpoints)

    @property
    def worst_frame(self) -> int | None:
        if not self.checkpoints:
            return None
        return min(self.checkpoints, key=lambda c: c[1])[0]


def compare(ours: Media, reference: Media, alpha: bool) -> Comparison:
    """Per-checkpoint PSNR of ``ours`` against ``reference`` (see the module docstring).

    A frame-count mismatch is a failure, but the common frames are still compared so the
    report says how far apart the pictures are; a size mismatch leaves nothing to compare.
    """
    pix_fmt = "gbrap" if alpha else "yuv420p"
    frames_ours, frames_ref = ours.frame_count(), reference.frame_count()
    size_ours, size_ref = ours.size(), reference.size()
    result = Comparison(frames_ours, frames_ref, size_ours, size_ref, pix_fmt)
    if frames_ours != frames_ref:
        result.problems.append(f"frame count {frames_ours} vs reference {frames_ref}")
    if size_ours != size_ref:
        result.problems.append(
            f"size {size_ours[0]}x{size_ours[1]} vs reference {size_ref[0]}x{size_ref[1]}"
        )
        return result
    frames = checkpoint_frames(min(frames_ours, frames_ref))
    if not frames:
        result.problems.append("no frames to compare")
        return result
    width, height = size_ref
    a = ours.decode(frames, width, height, pix_fmt)
    b = reference.decode(frames, width, height, pix_fmt)
    scores = {index: psnr(a[index], b[index]) for index in set(frames)}
    result.checkpoints = [(index, scores[index]) for index in frames]
    return result


def write_side_by_side(ours: Media, reference: Media, index: int, out_png: Path) -> None:
    """One PNG: our frame | the reference's | their difference (x DIFF_GAIN), at the
    reference's size (ours is scaled to it if the sizes differ)."""
    width, height = reference.size()
    ours_in, ours_n = ours.input_args(min(index, max(ours.frame_count() - 1, 0)))
    ref_in, ref_n = reference.input_args(index)
    amplify = ":".join(f"{c}='min(val*{DIFF_GAIN},255)'" for c in "rgb")
    graph = (
        f"[0:v]select='eq(n\\,{ours_n})',setpts=PTS-STARTPTS,scale={width}:{height},"
        "format=rgba,split[o1][o2];"
        f"[1:v]select='eq(n\\,{ref_n})',setpts=PTS-STARTPTS,format=rgba,split[r1][r2];"
        "[o2]format=gbrp[od];[r2]format=gbrp[rd];"
        f"[od][rd]blend=all_mode=difference,format=rgba,lutrgb={amplify}:a=255[d];"
        "[o1][r1][d]hstack=inputs=3"
    )
    out_png.parent.mkdir(parents=True, exist_ok=True)
    _ffmpeg(
        [*ours_in, *ref_in, "-filter_complex", graph, "-frames:v", "1", "-update", "1",
         "-y", str(out_png)]
    )  # fmt: skip


# ---- running a fixture ---------------------------------------------------------------


@dataclass
class FixtureResult:
    """What the table and the JSON report for one fixture."""

    name: str
    status: Status
    outcome: str  # PASS/FAIL/ERROR even when status is INFO
    has_bar: bool
    min_psnr_bar: float
    allowed_failures: int
    failures: int | None = None
    min_psnr: float | None = None
    mean_psnr: float | None = None
    worst_frame: int | None = None
    frames_ours: int | None = None
    frames_reference: int | None = None
    error: str | None = None
    error_detail: str | None = None  # the whole message, for the JSON only
    notes: list[str] = field(default_factory=list)
    render_seconds: float | None = None
    compare_seconds: float | None = None
    ignored_config: list[str] = field(default_factory=list)
    capture_mode: str | None = None
    output: str | None = None
    side_by_side: str | None = None
    checkpoints: list[tuple[int, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("min_psnr", "mean_psnr"):
            data[key] = _json_float(data[key])
        data["checkpoints"] = [[f, _json_float(v)] for f, v in self.checkpoints]
        return data


def _json_float(value: float | None) -> float | str | None:
    if value is None:
        return None
    return "inf" if math.isinf(value) else round(value, 3)


def describe_error(exc: BaseException) -> str:
    """``ClassName [CODE]: first line`` — the class (and the package's stable error code,
    when it has one) says what kind of failure it is; the first line says where. A first
    line that only introduces a list ("…failed while loading:") gets the list's first
    item, which is the informative part."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    code = getattr(exc, "code", None)
    label = type(exc).__name__ + (f" [{code}]" if isinstance(code, str) else "")
    if not lines:
        return label
    first = lines[0]
    if first.endswith(":") and len(lines) > 1:
        first = f"{first} {lines[1]}"
    return f"{label}: {first}"


@dataclass(frozen=True)
class RunSettings:
    out_dir: Path
    quality: Quality = "standard"


def run_fixture(fixture: Fixture, settings: RunSettings) -> FixtureResult:
    """Stage, render, compare and (on failure) draw one fixture. Never raises: every
    exception becomes an ERROR result naming the stage it happened in."""
    result = FixtureResult(
        fixture.name, "ERROR", "ERROR", fixture.has_bar, fixture.min_psnr, fixture.max_failures
    )
    renders = settings.out_dir / "renders"
    try:
        from hyperframes_lambda.runner.local_render import render_local

        if fixture.reference is None:
            raise FileNotFoundError(f"no reference output for {fixture.name}")
        options, result.ignored_config = render_options(fixture, settings.quality)
        ext = VIDEO_EXTENSIONS.get(fixture.format, "")
        output = renders / f"{fixture.name}{ext}"
        renders.mkdir(parents=True, exist_ok=True)
        if output.is_dir():
            shutil.rmtree(output)
        output.unlink(missing_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"hf-conf-{fixture.name}-") as work:
            project = stage_fixture(fixture, Path(work))
            started = time.perf_counter()
            try:
                rendered = render_local(project, output, options)
            finally:
                result.render_seconds = round(time.perf_counter() - started, 2)
        result.output = str(output)
        result.capture_mode = str(getattr(rendered, "capture_mode", "") or "") or None
        plan = getattr(rendered, "plan", None)
        result.notes.extend(f"plan: {w}" for w in getattr(plan, "warnings", []) or [])
    except Exception as exc:  # noqa: BLE001 - any render failure is a result, not a crash
        result.error = describe_error(exc)
        result.error_detail = str(exc)[:ERROR_DETAIL_CHARS]
        return _finish(result, fixture)

    started = time.perf_counter()
    try:
        ours, reference = Media(output), Media(fixture.reference)
        comparison = compare(ours, reference, alpha=fixture.format in ALPHA_FORMATS)
        result.frames_ours = comparison.frames_ours
        result.frames_reference = comparison.frames_reference
        result.checkpoints = comparison.checkpoints
        result.min_psnr = comparison.min_psnr
        result.mean_psnr = comparison.mean_psnr
        result.worst_frame = comparison.worst_frame
        result.failures = comparison.failures(fixture.min_psnr)
        result.notes.extend(comparison.problems)
        passed = not comparison.problems and result.failures <= fixture.max_failures
        result.outcome = "PASS" if passed else "FAIL"
        if not passed:
            worst = comparison.worst_frame
            if worst is None:  # nothing compared: show the middle of the reference
                worst = max(comparison.frames_reference - 1, 0) // 2
            picture = settings.out_dir / f"{fixture.name}.frame{worst:05d}.ours-ref-diff.png"
            try:
                write_side_by_side(ours, reference, worst, picture)
                result.side_by_side = str(picture)
            except Exception as exc:  # noqa: BLE001 - the picture is a diagnostic extra
                result.notes.append(f"side-by-side not written: {describe_error(exc)}")
    except Exception as exc:  # noqa: BLE001 - a broken comparison is an ERROR result
        result.outcome = "ERROR"
        result.error = f"comparison: {describe_error(exc)}"
        result.error_detail = str(exc)[:ERROR_DETAIL_CHARS]
    finally:
        result.compare_seconds = round(time.perf_counter() - started, 2)
    return _finish(result, fixture)


def _finish(result: FixtureResult, fixture: Fixture) -> FixtureResult:
    result.status = "INFO" if fixture.known_broken else cast(Status, result.outcome)
    return result


# ---- isolation and parallelism ---------------------------------------------------------


def _child(fixture: Fixture, settings: RunSettings, conn: Connection) -> None:
    """Entry point of a fixture's process: its own process group, so the parent can stop
    it and every browser and worker it started with one signal."""
    os.setpgrp()
    try:
        conn.send(run_fixture(fixture, settings))
    except BaseException as exc:  # noqa: BLE001 - run_fixture never raises; last resort
        conn.send(_error_result(fixture, f"runner: {describe_error(exc)}"))
        traceback.print_exc()
    finally:
        conn.close()


def _error_result(fixture: Fixture, error: str) -> FixtureResult:
    result = FixtureResult(
        fixture.name, "ERROR", "ERROR", fixture.has_bar, fixture.min_psnr, fixture.max_failures
    )
    result.error = error
    return _finish(result, fixture)


@dataclass
class _Running:
    fixture: Fixture
    process: multiprocessing.process.BaseProcess
    conn: Connection
    started: float


def _kill_group(pid: int | None) -> None:
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_isolated(
    fixtures: Sequence[Fixture],
    settings: RunSettings,
    jobs: int = 1,
    timeout: float = 900.0,
    on_start: Callable[[Fixture], None] | None = None,
    on_result: Callable[[FixtureResult], None] | None = None,
) -> list[FixtureResult]:
    """Run each fixture in a spawned process, ``jobs`` at a time, each stopped (its whole
    process group) after ``timeout`` seconds. Results come back in suite order."""
    context = multiprocessing.get_context("spawn")
    pending = list(fixtures)
    running: dict[Connection, _Running] = {}
    results: dict[str, FixtureResult] = {}

    def finish(entry: _Running, result: FixtureResult) -> None:
        entry.process.join(timeout=10)
        _kill_group(entry.process.pid)  # leftovers of a render that did not clean up
        results[entry.fixture.name] = result
        if on_result:
            on_result(result)

    try:
        while pending or running:
            while pending and len(running) < max(1, jobs):
                fixture = pending.pop(0)
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(
                    target=_child, args=(fixture, settings, sender), name=f"conf-{fixture.name}"
                )
                if on_start:
                    on_start(fixture)
                process.start()
                sender.close()
                running[receiver] = _Running(fixture, process, receiver, time.monotonic())
            for conn in wait(list(running), timeout=1.0):
                entry = running.pop(cast(Connection, conn))
                try:
                    result = entry.conn.recv()
                except EOFError:
                    entry.process.join(timeout=10)
                    result = _error_result(
                        entry.fixture,
                        f"runner: fixture process died (exit code {entry.process.exitcode})",
                    )
                entry.conn.close()
                finish(entry, result)
            now = time.monotonic()
            for conn, entry in list(running.items()):
                if now - entry.started > timeout:
                    running.pop(conn)
                    _kill_group(entry.process.pid)
                    entry.conn.close()
                    result = _error_result(
                        entry.fixture, f"Timeout: no result after {timeout:.0f} s (killed)"
                    )
                    result.render_seconds = round(now - entry.started, 2)
                    finish(entry, result)
    finally:
        for entry in running.values():  # interrupted: stop what is still running
            _kill_group(entry.process.pid)
    return [results[f.name] for f in fixtures if f.name in results]


# ---- reporting -----------------------------------------------------------------------


def _fmt_psnr(value: float | None) -> str:
    if value is None:
        return "-"
    return "inf" if math.isinf(value) else f"{value:.2f}"


def progress_line(index: int, total: int, result: FixtureResult) -> str:
    width = len(str(total))
    detail = f"min {_fmt_psnr(result.min_psnr)} dB"
    if result.failures is not None:
        detail += f", {result.failures}/{result.allowed_failures} below {result.min_psnr_bar:g}"
    if result.error:
        detail = result.error
    elif result.notes:
        detail += f"; {'; '.join(result.notes)}"
    seconds = f"{result.render_seconds:.1f}s" if result.render_seconds is not None else "-"
    return (
        f"[{index:{width}d}/{total}] {result.name:<44s} {result.status:<5s} {seconds:>7s}  {detail}"
    )


def format_table(results: Sequence[FixtureResult]) -> str:
    """The aligned summary table and the pass count."""
    header = ("fixture", "status", "min dB", "mean dB", "worst", "fail/allowed", "render s", "note")
    rows = [header]
    for r in results:
        failures = "-" if r.failures is None else f"{r.failures}/{r.allowed_failures}"
        if r.status == "INFO":
            failures += f" ({r.outcome})"
        note = r.error or "; ".join(r.notes)
        rows.append(
            (
                r.name,
                r.status,
                _fmt_psnr(r.min_psnr),
                _fmt_psnr(r.mean_psnr),
                "-" if r.worst_frame is None else str(r.worst_frame),
                failures,
                "-" if r.render_seconds is None else f"{r.render_seconds:.1f}",
                note if len(note) <= 90 else note[:87] + "...",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    right = {2, 3, 4, 6}
    lines = []
    for n, row in enumerate(rows):
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row[:-1])
        ]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  ----")
    lines.append("")
    lines.append(summary_line(results))
    return "\n".join(lines)


def summary_line(results: Sequence[FixtureResult]) -> str:
    barred = [r for r in results if r.has_bar]
    passed = sum(1 for r in barred if r.status == "PASS")
    counts = {s: sum(1 for r in results if r.status == s) for s in ("PASS", "FAIL", "ERROR")}
    info = [r for r in results if not r.has_bar]
    text = f"{passed}/{len(barred)} fixtures with a bar pass"
    text += f" (FAIL {counts['FAIL']}, ERROR {counts['ERROR']})"
    if info:
        text += "; informational: " + ", ".join(f"{r.name} {r.outcome}" for r in info)
    return text


def environment() -> dict[str, Any]:
    """What the numbers depend on besides our code: the browser and ffmpeg."""
    info: dict[str, Any] = {"code": code_state()}
    try:
        from hyperframes_lambda.browser.resolve import resolve_chrome
        from hyperframes_lambda.media.ffmpeg import ffmpeg_version_line

        info["ffmpeg"] = ffmpeg_exe()
        info["ffmpeg_version"] = ffmpeg_version_line()

        chrome = resolve_chrome()
        info["chrome"] = f"{chrome.path} ({chrome.source})"
    except Exception as exc:  # noqa: BLE001 - reported in the results, not fatal
        info["environment_error"] = describe_error(exc)
    return info


def code_state() -> dict[str, Any]:
    """Which package code rendered: where ``hyperframes_lambda`` imports from, its commit
    and the uncommitted files under it. Results are only comparable for the same code."""
    spec = importlib.util.find_spec("hyperframes_lambda")
    origin = Path(spec.origin).parent if spec and spec.origin else None

    def git(*args: str) -> str:
        if origin is None:
            return ""
        result = subprocess.run(
            ["git", "-C", str(origin), *args], capture_output=True, text=True, check=False
        )
        return result.stdout.rstrip() if result.returncode == 0 else ""

    return {
        "package": str(origin) if origin else None,
        "commit": git("rev-parse", "HEAD") or None,
        "uncommitted": git("status", "--porcelain", "--", ".").splitlines(),
    }


def write_json(path: Path, results: Sequence[FixtureResult], meta: dict[str, Any]) -> None:
    barred = [r for r in results if r.has_bar]
    document = {
        **meta,
        "summary": {
            "passed": sum(1 for r in barred if r.status == "PASS"),
            "with_bar": len(barred),
            "status_counts": {
                s: sum(1 for r in results if r.status == s)
                for s in ("PASS", "FAIL", "ERROR", "INFO")
            },
        },
        "fixtures": {r.name: r.to_json() for r in results},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


# ---- command line --------------------------------------------------------------------


REFERENCE_CHROME = "/usr/lib/chromium/chromium-headless-shell"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Render the conformance suite and judge it against the reference outputs."
    )
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_SUITE / "fixtures")
    parser.add_argument("--reference", type=Path, default=DEFAULT_SUITE / "reference")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--only", default="", help="comma-separated fixture names")
    parser.add_argument("--json", type=Path, default=None, help="default: OUT/results.json")
    parser.add_argument("--jobs", type=int, default=1, help="fixtures rendered at once")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per fixture")
    parser.add_argument("--quality", choices=("draft", "standard", "high"), default="standard")
    parser.add_argument(
        "--chrome",
        default=REFERENCE_CHROME if Path(REFERENCE_CHROME).is_file() else "",
        help="browser binary (default: Debian's chrome-headless-shell, the one the reference "
        "outputs were rendered with, when installed; '' = the renderer's own choice)",
    )
    return parser.parse_args(argv)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when every fixture with a bar passes, 1 otherwise (or when interrupted),
    2 on bad arguments. An interrupted run still prints and writes what it finished."""
    args = parse_args(argv)
    if args.chrome:
        # Like with like: the references were rendered by Debian's headless shell 156.
        os.environ["HYPERFRAMES_CHROME_PATH"] = args.chrome
    # Fixture processes run in their own process groups, out of reach of a kill of ours:
    # SIGTERM takes the KeyboardInterrupt path, whose cleanup stops them.
    signal.signal(signal.SIGTERM, _interrupt)
    only = [n.strip() for n in args.only.split(",") if n.strip()]
    if not args.fixtures.is_dir():
        print(f"no fixtures directory at {args.fixtures}", file=sys.stderr)
        return 2
    try:
        fixtures = load_fixtures(args.fixtures, args.reference, only)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2
    out_dir: Path = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.ours-ref-diff.png"):
        stale.unlink()
    settings = RunSettings(out_dir, args.quality)
    env = environment()
    print(
        f"{len(fixtures)} fixtures from {args.fixtures}, quality {args.quality}, "
        f"{args.jobs} at a time; browser {env.get('chrome', '?')}",
        flush=True,
    )
    finished: dict[str, FixtureResult] = {}

    def on_result(result: FixtureResult) -> None:
        finished[result.name] = result
        print(progress_line(len(finished), len(fixtures), result), flush=True)

    started = datetime.now(UTC)
    interrupted = False
    try:
        run_isolated(fixtures, settings, args.jobs, args.timeout, on_result=on_result)
    except KeyboardInterrupt:
        interrupted = True
        print(f"\ninterrupted after {len(finished)}/{len(fixtures)} fixtures", flush=True)
    results = [finished[f.name] for f in fixtures if f.name in finished]
    print()
    print(format_table(results), flush=True)
    json_path: Path = args.json or out_dir / "results.json"
    write_json(
        json_path,
        results,
        {
            "started_at": started.isoformat(timespec="seconds"),
            "wall_seconds": round((datetime.now(UTC) - started).total_seconds(), 1),
            "interrupted": interrupted,
            "not_run": [f.name for f in fixtures if f.name not in finished],
            "fixtures_dir": str(args.fixtures.resolve()),
            "reference_dir": str(args.reference.resolve()),
            "quality": args.quality,
            "jobs": args.jobs,
            **env,
        },
    )
    print(f"results: {json_path}")
    if interrupted:
        return 1
    return 0 if all(r.status == "PASS" for r in results if r.has_bar) else 1


if __name__ == "__main__":
    sys.exit(main())
