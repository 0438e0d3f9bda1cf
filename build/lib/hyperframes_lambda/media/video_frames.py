"""Pre-extract the frames a ``<video>`` clip shows, at the output fps (SPEC §2 Media).

Chrome never decodes video during capture (seeking a ``<video>`` is neither fast nor
frame-exact), so the plan decodes each clip once with ffmpeg and the page lays the right
still over the element for every composition time.

Index convention (playback rate applied here, at extraction, not by the page):

* frame ``k`` (file ``frame_{k:06d}.<ext>``, 0-based) shows the source frame on screen at
  source time ``s_k = media_start + k * playback_rate / fps``, i.e. the last source frame
  whose timestamp is ``<= s_k`` (with a 50 µs tolerance for timestamp rounding), source
  time 0 being the first decoded frame;
* for composition time ``t`` the page computes ``k = floor((t - start) * fps + 1e-9)``, then
  ``k % count`` when the clip loops, else ``min(k, count - 1)`` (hold the last frame).
  :func:`frame_for_time` is the Python twin of that lookup.

Frames cover ``[media_start, source end)`` and are capped at the clip's own length, so a
looping clip repeats ``[media_start, source end]`` exactly as its audio does (§8).
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

from ..errors import VideoExtractionFailedError, VideoSourceUnrenderableError
from ..media.ffmpeg import ffmpeg_exe
from ..media.media_probe import MediaStreams, probe_media, split_top_level
from ..timing import fps_text, frame_count

FRAME_PATTERN = "frame_%06d"
_TOLERANCE_US = 50  # source frames this late still count as "on screen" at s_k
_SIZE = re.compile(r"^(\d+)x(\d+)\b")
_NOTHING_WRITTEN = "received no packets"
_ALPHA_DECODERS = {"vp8": "libvpx", "vp9": "libvpx-vp9"}
_DECODE_FAILURES = re.compile(
    r"Error while decoding|Invalid data found|Decoder \S* ?not found|decoder not found|"
    r"Could not find codec parameters|Error submitting packet to decoder|"
    r"Error opening input|Unsupported codec|Decoding error|corrupt",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class VideoClip:
    """A ``<video>`` clip: composition seconds (``start``, ``duration``; None runs to the
    composition's end) and source seconds (``media_start``)."""

    source: Path
    start: float
    duration: float | None
    media_start: float = 0.0
    playback_rate: float = 1.0
    loop: bool = False

    def __post_init__(self) -> None:
        if self.media_start < 0 or (self.duration is not None and self.duration < 0):
            raise ValueError(f"{self.source}: media_start and duration must be >= 0")
        if self.playback_rate <= 0:
            raise ValueError(f"{self.source}: playback_rate must be > 0")


@dataclass(frozen=True)
class ExtractedFrames:
    """What the page needs to show the frames: how many, their extension, their size."""

    count: int
    ext: str
    width: int
    height: int

    def name(self, k: int) -> str:
        return frame_name(k, self.ext)


def frame_name(k: int, ext: str) -> str:
    return f"frame_{k:06d}.{ext}"


def frames_to_cover(seconds: float, fps: Fraction | int) -> int:
    """Frames spanning ``seconds`` at ``fps``: SPEC §2 rounding (round within 1e-3, else ceil)."""
    return max(0, frame_count(seconds, fps))


def frame_for_time(t: float, start: float, fps: Fraction | int, count: int, *, loop: bool) -> int:
    """Index the page shows at composition time ``t`` (the runtime's formula, for tests).

    In floats, as the page computes it: the runtime is handed ``float(fps)``.
    """
    k = max(0, math.floor((t - start) * float(fps) + 1e-9))
    return k % count if loop else min(k, count - 1)


def extract_video_frames(
    clip: VideoClip,
    fps: Fraction,
    out_dir: Path,
    *,
    composition_end: float,
    image_format: Literal["jpg", "png"] = "jpg",
) -> ExtractedFrames | None:
    """Write the clip's frames into ``out_dir`` (replaced if it exists) and describe them.

    Sources with alpha always give PNG (RGBA); otherwise ``image_format`` (JPEG at
    ``-q:v 2``, or RGB PNG). Output is byte-identical across runs.

    ``None`` when the clip shows no frame before ``composition_end`` (it starts at or
    after the end, or lasts 0 s): there is nothing to extract and nothing to show, and
    ``out_dir`` is left alone. The source is still probed, so a file that is not a video
    fails the same way whether or not it is on screen.
    """
    streams = probe_media(clip.source)
    if not streams.has_video:
        raise VideoSourceUnrenderableError(f"{clip.source} has no video stream")
    clip_seconds = composition_end - clip.start
    if clip.duration is not None:
        clip_seconds = min(clip_seconds, clip.duration)
    wanted = frames_to_cover(clip_seconds, fps)
    if wanted <= 0:
        return None
    if streams.duration is not None and clip.media_start >= streams.duration:
        raise VideoSourceUnrenderableError(
            f"{clip.source}: media_start {clip.media_start}s is past the source's end "
            f"({streams.duration}s)"
        )
    ext = "png" if streams.has_alpha else image_format
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        width, height = _run_ffmpeg(clip, streams, fps=fps, wanted=wanted, ext=ext, out=staging)
        count = sum(1 for _ in staging.glob(f"frame_*.{ext}"))
        if count == 0:
            raise VideoSourceUnrenderableError(
                f"{clip.source}: no frame decoded from media_start {clip.media_start}s "
                f"(source duration {streams.duration}s)"
            )
        _replace_dir(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExtractedFrames(count=count, ext=ext, width=width, height=height)


# Chrome shows an untagged video with BT.709 when it is HD (height >= 720), except VP9/AV1,
# and BT.601 otherwise; extracted frames must look the way the <video> would have (and the
# way HyperFrames' extractor makes them). Measured: an untagged 1080x1920 H.264 converted
# with ffmpeg's BT.601 default was 27.5 dB from the reference, visibly darker.
_UNTAGGED_AS_BT601_CODECS = frozenset({"vp9", "av1"})


def _untagged_matrix(streams: MediaStreams) -> str | None:
    """The matrix to assume for a source that declares none (None: it declares one)."""
    if streams.color_matrix is not None:
        return None
    hd = (streams.height or 0) >= 720 and streams.video_codec not in _UNTAGGED_AS_BT601_CODECS
    return "bt709" if hd else "smpte170m"


def _filter_graph(
    clip: VideoClip, fps: Fraction, ext: str, alpha: bool, assume_matrix: str | None = None
) -> str:
    """Shift so source time ``media_start`` is 0, speed up, then sample at ``fps``.

    ``fps`` with ``round=up`` keeps, for each output slot, the last frame already on
    screen; timestamps are first moved to microseconds and pulled 50 µs earlier so that
    rounding in the source time base cannot push a frame into the next slot.
    """
    shift_us = clip.media_start * 1_000_000
    rate = clip.playback_rate
    steps = [f"setparams=colorspace={assume_matrix}"] if assume_matrix else []
    steps += [
        "settb=AVTB",
        f"setpts=(PTS-STARTPTS-{shift_us!r})/{rate!r}-{_TOLERANCE_US}",
        f"fps=fps={fps_text(fps)}:start_time=0:round=up",
    ]
    if ext == "jpg":
        # JPEG viewers decode with BT.601 full range: convert to exactly that.
        steps.append("scale=out_color_matrix=bt601:out_range=pc,format=yuv420p")
    else:
        steps.append("format=rgba" if alpha else "format=rgb24")
    return ",".join(steps)


def _run_ffmpeg(
    clip: VideoClip, streams: MediaStreams, *, fps: Fraction, wanted: int, ext: str, out: Path
) -> tuple[int, int]:
    """Run the extraction; returns the written frames' size (after any autorotation)."""
    decoder: list[str] = []
    if streams.has_alpha and streams.video_codec in _ALPHA_DECODERS:
        decoder = ["-c:v", _ALPHA_DECODERS[streams.video_codec]]
    quality = ["-q:v", "2"] if ext == "jpg" else []
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info",
         *decoder, "-i", str(clip.source), "-map", "0:v:0", "-an", "-sn", "-dn",
         "-vf", _filter_graph(clip, fps, ext, streams.has_alpha, _untagged_matrix(streams)),
         "-fps_mode", "passthrough", "-frames:v", str(wanted), *quality,
         "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
         "-f", "image2", "-start_number", "0", str(out / f"{FRAME_PATTERN}.{ext}")],
        capture_output=True, text=True, errors="replace", check=False,
    )  # fmt: skip
    if result.returncode != 0:
        detail = _error_lines(result.stderr)
        if _NOTHING_WRITTEN in result.stderr:
            raise VideoSourceUnrenderableError(
                f"{clip.source}: no frame decoded from media_start {clip.media_start}s: {detail}"
            )
        if _DECODE_FAILURES.search(detail):
            raise VideoSourceUnrenderableError(f"{clip.source} cannot be decoded: {detail}")
        raise VideoExtractionFailedError(f"extracting frames of {clip.source} failed: {detail}")
    size = _output_size(result.stderr)
    if size is None:
        if streams.width is None or streams.height is None:
            raise VideoExtractionFailedError(f"{clip.source}: frame size unknown after extraction")
        return streams.width, streams.height
    return size


def _error_lines(stderr: str) -> str:
    """The last lines of ffmpeg's log, where it says what went wrong."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return " | ".join(lines[-6:])[-800:]


def _output_size(stderr: str) -> tuple[int, int] | None:
    """Frame size of the output stream, as ffmpeg reports it under ``Output #0``."""
    lines = stderr.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("Output #0"))
    except StopIteration:
        return None
    for line in lines[start + 1 :]:
        if "Video:" in line:
            for token in split_top_level(line.split("Video:", 1)[1]):
                if m := _SIZE.match(token):
                    return int(m.group(1)), int(m.group(2))
            return None
    return None


def _replace_dir(staging: Path, out_dir: Path) -> None:
    """Move the finished frames into place; a previous extraction there is discarded."""
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
        old.rmdir()
        out_dir.rename(old)
        staging.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(out_dir)
