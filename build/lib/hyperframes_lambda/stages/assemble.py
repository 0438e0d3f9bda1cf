"""Stage 3 — assemble chunks into the final output (SPEC §7).

    assemble(plan_dir, chunk_paths, out_path, expected_hashes=None) -> AssembleResult

Chunks are checked (count; each one's SHA-256 against what its worker reported — the
reference returned hashes but never checked them; each one's tag, so a chunk of another
plan or in the wrong position is refused even without hashes), concatenated without
re-encoding,
the plan's soundtrack muxed once, and the result verified by decoding: frame count equal
to the plan's, duration within one frame. Only then does the output appear.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ..cache import file_sha256
from ..errors import (
    ChunkDigestMismatchError,
    ChunkMissingError,
    EncodeError,
    OutputVerificationError,
    StoredObjectCorruptError,
)
from ..media.ffmpeg import ffmpeg_exe
from ..media.probe import audio_sample_count, probe
from ..stages.plan import AUDIO_FILE, SAMPLE_RATE, audio_file
from ..stages.render_chunk import LoadedPlan, atomic_path, check_format, load_plan
from ..timing import fps_text, frames_duration
from .chunk_tag import ChunkTag, check_tag


@dataclass(frozen=True)
class AssembleResult:
    path: Path
    frames: int
    size: int
    sha256: str
    has_audio: bool
    timings: dict[str, float] = field(default_factory=dict)


def assemble(
    plan_dir: Path,
    chunk_paths: Sequence[Path],
    out_path: Path,
    *,
    expected_hashes: Sequence[str] | None = None,
    expected_plan_hash: str | None = None,
    expected_format: str | None = None,
) -> AssembleResult:
    started = time.perf_counter()
    loaded = load_plan(plan_dir, expected_plan_hash)
    check_format(loaded, expected_format)
    _check_chunks(loaded, chunk_paths, expected_hashes)
    timings = {"verifyChunks": time.perf_counter() - started}
    audio = plan_dir / audio_file(loaded.encoder.format) if loaded.document["hasAudio"] else None
    t = time.perf_counter()
    if loaded.encoder.format == "png-sequence":
        size, digest = _assemble_png_sequence(loaded, chunk_paths, out_path, audio)
    elif loaded.encoder.format == "gif":
        with atomic_path(out_path) as partial:
            _assemble_gif(loaded, chunk_paths, partial)
            timings["gif"] = time.perf_counter() - t
            size, digest = partial.stat().st_size, file_sha256(partial)
    elif loaded.encoder.is_audio_only:
        if audio is None:
            raise OutputVerificationError(f"the plan of this {loaded.encoder.format} has no audio")
        with atomic_path(out_path) as partial:
            shutil.copyfile(audio, partial)
            verify_audio(partial, loaded.total_frames, loaded.encoder.fps)
            size, digest = partial.stat().st_size, file_sha256(partial)
    else:
        with atomic_path(out_path) as partial:
            _concat_and_mux(loaded, chunk_paths, audio, partial)
            timings["mux"] = time.perf_counter() - t
            t = time.perf_counter()
            verify_video(
                partial,
                loaded.total_frames,
                loaded.encoder.output_fps,
                has_audio=audio is not None,
                size=(loaded.encoder.width, loaded.encoder.height),
            )
            timings["verifyOutput"] = time.perf_counter() - t
            size, digest = partial.stat().st_size, file_sha256(partial)
    timings["total"] = time.perf_counter() - started
    return AssembleResult(out_path, loaded.total_frames, size, digest, audio is not None, timings)


def _check_chunks(
    loaded: LoadedPlan, chunk_paths: Sequence[Path], expected_hashes: Sequence[str] | None
) -> None:
    count = len(loaded.chunks)
    if len(chunk_paths) != count:
        raise ChunkMissingError(f"the plan has {count} chunks but {len(chunk_paths)} were given")
    if expected_hashes is not None and len(expected_hashes) != count:
        raise ChunkMissingError(f"{len(expected_hashes)} chunk hashes given for {count} chunks")
    for index, path in enumerate(chunk_paths):
        if not path.is_file():
            raise ChunkMissingError(f"chunk {index} is missing: {path}")
        if expected_hashes is not None:
            actual = file_sha256(path)
            if actual != expected_hashes[index]:
                raise ChunkDigestMismatchError(
                    f"chunk {index} ({path.name}) has sha256 {actual}, its worker reported "
                    f"{expected_hashes[index]}"
                )
        check_tag(path, ChunkTag(loaded.plan_hash, index, count))


def _run_ffmpeg(args: list[str], what: str) -> None:
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise EncodeError(f"ffmpeg failed to {what}: {result.stderr.strip()[-800:]}")


def _concat_and_mux(
    loaded: LoadedPlan, chunk_paths: Sequence[Path], audio: Path | None, out: Path
) -> None:
    fps = loaded.encoder.fps
    seconds = frames_duration(loaded.total_frames, fps)
    fmt = loaded.encoder.format
    with tempfile.TemporaryDirectory(prefix="hf-assemble-") as scratch:
        if len(chunk_paths) == 1:
            inputs = ["-i", str(chunk_paths[0])]
        else:
            listing = Path(scratch) / "chunks.txt"
            listing.write_text(
                "".join(f"file '{_concat_quote(p.resolve())}'\n" for p in chunk_paths)
            )
            # -r before the input: the concat demuxer would otherwise average the rate
            # (360000/12001-style timestamps).
            inputs = ["-r", fps_text(fps), "-f", "concat", "-safe", "0", "-i", str(listing)]
        args = [*inputs]
        if audio is not None:
            args += ["-i", str(audio), "-map", "0:v:0", "-map", "1:a:0"]
            if fmt == "webm":  # WebM carries Opus, not AAC: the one unavoidable transcode
                opus_rate = loaded.encoder.audio_bitrate or "160k"
                args += ["-c:a", "libopus", "-b:a", opus_rate, "-ar", "48000"]
                args += ["-af", f"apad,atrim=end_sample={round(seconds * 48000)}"]
            else:  # the plan's AAC already lasts exactly frames/fps: copy, never re-encode
                args += ["-c:a", "copy"]
        else:
            args += ["-map", "0:v:0"]
        # The chunks' tags (container comment) say nothing about the whole: drop them.
        args += ["-c:v", "copy", "-t", f"{seconds:.6f}", "-metadata", "comment="]
        if fmt in ("mp4", "mov"):
            args += ["-movflags", "+faststart"]
        _run_ffmpeg([*args, str(out)], f"assemble {out.name}")


def _concat_quote(path: Path) -> str:
    return str(path).replace("'", "'\\''")


def verify_video(
    path: Path,
    frames: int,
    fps: Fraction,
    *,
    has_audio: bool,
    size: tuple[int, int] | None = None,
) -> None:
    """Decoded frame count equals the plan's; duration within one frame (1/fps) of
    ``frames / fps``; the frame size the user asked for; audio as planned."""
    info = probe(path)
    if size is not None and (info.width, info.height) != size:
        raise OutputVerificationError(
            f"{path.name}: frames are {info.width}x{info.height}, expected {size[0]}x{size[1]}"
        )
    if info.frame_count != frames:
        raise OutputVerificationError(
            f"{path.name}: decoded {info.frame_count} frames, expected {frames}"
        )
    expected = frames_duration(frames, fps)
    one_frame = frames_duration(1, fps)
    if info.duration is not None and abs(info.duration - expected) > one_frame + 1e-6:
        raise OutputVerificationError(
            f"{path.name}: duration {info.duration:.3f}s, expected {expected:.3f}s"
        )
    if info.has_audio != has_audio:
        state = "has" if info.has_audio else "lacks"
        raise OutputVerificationError(f"{path.name} {state} an audio stream, unlike its plan")


def verify_audio(path: Path, frames: int, fps: Fraction) -> None:
    """An audio-only output lasts ``frames / fps`` to the sample (48 kHz)."""
    expected = round(Fraction(frames) / fps * SAMPLE_RATE)
    actual = audio_sample_count(path, SAMPLE_RATE)
    if actual != expected:
        raise OutputVerificationError(
            f"{path.name}: {actual} audio samples, expected {expected} "
            f"({frames_duration(frames, fps):.6f} s at {SAMPLE_RATE} Hz)"
        )


def _extract_frames(chunk_paths: Sequence[Path], into: Path, total: int) -> list[str]:
    """Every chunk archive's frames into ``into``; checks they are ``1…total``."""
    for path in chunk_paths:
        try:
            with tarfile.open(path, "r:gz") as tar:
                frames = [m for m in tar.getmembers() if m.name.startswith("frame_")]
                tar.extractall(into, members=frames, filter="data")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise StoredObjectCorruptError(
                f"chunk {path.name} is not a readable frame archive: {exc}"
            ) from exc
    names = sorted(p.name for p in into.glob("frame_*.png"))
    expected = [f"frame_{i:06d}.png" for i in range(1, total + 1)]
    if names != expected:
        raise OutputVerificationError(
            f"the chunks hold {len(names)} frames, expected {total} numbered 1…N"
        )
    return names


def _assemble_gif(loaded: LoadedPlan, chunk_paths: Sequence[Path], out: Path) -> None:
    """One GIF from every chunk's frames: the palette is built over the whole render
    (``palettegen`` sees every frame), then applied to each, so a colour maps to the
    same palette entry on both sides of a chunk seam."""
    encoder = loaded.encoder
    with tempfile.TemporaryDirectory(prefix="hf-gif-") as scratch:
        frames_dir = Path(scratch)
        names = _extract_frames(chunk_paths, frames_dir, loaded.total_frames)
        _check_png_size(frames_dir / names[0], encoder.width, encoder.height)
        _run_ffmpeg(
            ["-framerate", fps_text(encoder.output_fps), "-i", str(frames_dir / "frame_%06d.png"),
             "-filter_complex",
             "[0:v]split[a][b];[a]palettegen=stats_mode=full[p];[b][p]paletteuse",
             "-loop", str(encoder.gif_loop), "-f", "gif", str(out)],
            f"make the GIF {out.name}",
        )  # fmt: skip
    info = probe(out)
    if info.frame_count != loaded.total_frames:
        raise OutputVerificationError(
            f"{out.name}: decoded {info.frame_count} frames, expected {loaded.total_frames}"
        )


def _check_png_size(path: Path, width: int, height: int) -> None:
    """The IHDR chunk of a PNG holds its size at bytes 16..24."""
    with path.open("rb") as handle:
        header = handle.read(24)
    actual = (int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big"))
    if actual != (width, height):
        raise OutputVerificationError(
            f"png sequence frames are {actual[0]}x{actual[1]}, expected {width}x{height}"
        )


def _assemble_png_sequence(
    loaded: LoadedPlan, chunk_paths: Sequence[Path], out_dir: Path, audio: Path | None
) -> tuple[int, str]:
    """Merge chunk archives into one directory of frame_000001.png … (+ audio sidecar)."""
    partial = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        names = _extract_frames(chunk_paths, partial, loaded.total_frames)
        _check_png_size(partial / names[0], loaded.encoder.width, loaded.encoder.height)
        if audio is not None:
            shutil.copyfile(audio, partial / AUDIO_FILE)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        partial.rename(out_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    size = sum(p.stat().st_size for p in out_dir.iterdir())
    return size, ""
