"""Encode captured frames into a video, streaming, while capture runs (SPEC §6).

Capture is the bottleneck (SPEC §16), so frames go to one ffmpeg process as they are
captured: a bounded queue and a writer thread let the browser produce frame i+1 while
ffmpeg encodes frame i. Every output is one closed GOP starting on an IDR frame, so
chunks rendered by different workers concatenate with ``-c copy``.
"""

from __future__ import annotations

import contextlib
import math
import queue
import subprocess
import threading
from collections import deque
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from ..config import AUDIO_FORMATS, OutputFormat
from ..errors import EncodeError
from ..media.ffmpeg import ffmpeg_exe
from ..timing import fps_json, fps_text, parse_fps

Codec = Literal["h264", "h265"]
Quality = Literal["draft", "standard", "high"]


@dataclass(frozen=True)
class QualityPreset:
    x264_preset: str
    crf: int
    vp9_crf: int
    capture_format: Literal["jpeg", "png"]
    jpeg_quality: int


# Encoder side from the reference (draft ultrafast/28, standard medium/18, high slow/15).
# Capture side as the reference's for opaque outputs: JPEG q80 for draft, q100 otherwise
# (JPEG is ~2x faster to capture than PNG at 1080p, SPEC §4). q90 was measured to cost
# 10 dB on high-frequency content against the reference (a shader glitch transition:
# 35.7 dB at q90 where the bar is 45); "high" captures lossless PNG.
QUALITY_PRESETS: dict[str, QualityPreset] = {
    "draft": QualityPreset("ultrafast", 28, 40, "jpeg", 80),
    "standard": QualityPreset("medium", 18, 31, "jpeg", 100),
    "high": QualityPreset("slow", 15, 24, "png", 100),
}


@dataclass(frozen=True)
class EncoderSettings:
    """Locked encoder parameters (what a plan freezes in ``meta/encoder.json``)."""

    fps: Fraction
    width: int
    height: int
    format: OutputFormat = "mp4"
    codec: Codec = "h264"
    quality: Quality = "standard"
    crf: int | None = None
    bitrate: str | None = None
    # Added later: written to encoder.json only when not the default, so the plans (and
    # plan hashes) of renders that do not use them are what they always were.
    frame_step: int = 1  # GIF: every Kth frame, played at fps / K
    gif_loop: int = 0
    audio_bitrate: str | None = None

    @property
    def preset(self) -> QualityPreset:
        return QUALITY_PRESETS[self.quality]

    @property
    def needs_alpha(self) -> bool:
        return self.format in ("webm", "mov", "png-sequence")

    @property
    def capture_format(self) -> Literal["jpeg", "png"]:
        # A GIF's palette is built from the frames: lossless capture, no JPEG noise in it.
        if self.needs_alpha or self.format == "gif":
            return "png"
        return self.preset.capture_format

    @property
    def output_fps(self) -> Fraction:
        """The rate of the output's frames (a GIF of every Kth frame plays at fps / K)."""
        return self.fps / self.frame_step

    @property
    def is_audio_only(self) -> bool:
        return self.format in AUDIO_FORMATS

    def to_json(self) -> dict[str, Any]:
        """``meta/encoder.json``: fps an int when whole (as it always was), else ``"N/D"``."""
        data = {**asdict(self), "fps": fps_json(self.fps)}
        for name, default in _LATER_DEFAULTS.items():
            if data[name] == default:
                del data[name]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EncoderSettings:
        return cls(**{**data, "fps": parse_fps(data["fps"])})


_LATER_DEFAULTS: dict[str, object] = {"frame_step": 1, "gif_loop": 0, "audio_bitrate": None}
_TRACK_TIMESCALE = 90000
_MAX_TIMESCALE = 2**31 - 1


def track_timescale(fps: Fraction | int) -> int:
    """MP4/MOV track timescale in which every frame lasts a whole number of ticks.

    90 kHz for every rate whose frame duration it holds exactly (24, 25, 30, 60,
    30000/1001, …), so those outputs are unchanged; otherwise the smallest multiple of
    90 kHz that does (7 fps: 630 kHz), or the rate's numerator if that would overflow.
    """
    numerator = Fraction(fps).numerator  # a frame lasts denominator/numerator seconds
    scale = math.lcm(_TRACK_TIMESCALE, numerator)
    return scale if scale <= _MAX_TIMESCALE else numerator


def _rate_control(settings: EncoderSettings, default_crf: int) -> list[str]:
    if settings.bitrate:
        return ["-b:v", settings.bitrate]
    return ["-crf", str(settings.crf if settings.crf is not None else default_crf)]


def video_encoder_args(
    settings: EncoderSettings, gop_frames: int, *, resize: bool = False
) -> list[str]:
    """ffmpeg output arguments for one closed-GOP segment of ``gop_frames`` frames.

    ``resize``: the frames come at another size and are resized to the output's."""
    size = f"w={settings.width}:h={settings.height}:flags=lanczos+accurate_rnd:" if resize else ""
    resize_only = ["-vf", f"scale={size.rstrip(':')}"] if resize else []
    n = max(1, gop_frames)
    timescale = str(track_timescale(settings.fps))
    if settings.format == "mp4" and settings.codec == "h264":
        return [
            "-c:v", "libx264", "-preset", settings.preset.x264_preset,
            *_rate_control(settings, settings.preset.crf),
            "-g", str(n), "-keyint_min", str(n), "-sc_threshold", "0",
            "-force_key_frames", f"expr:eq(mod(n,{n}),0)", "-bf", "0",
            "-x264-params",
            "scenecut=0:open-gop=0:repeat-headers=1:colorprim=bt709:transfer=bt709:colormatrix=bt709",
            *_bt709_tv_args(size),
            "-video_track_timescale", timescale, "-avoid_negative_ts", "make_zero",
            "-movflags", "+faststart",
        ]  # fmt: skip
    if settings.format == "mp4" and settings.codec == "h265":
        return [
            "-c:v", "libx265", "-preset", settings.preset.x264_preset,
            *_rate_control(settings, settings.preset.crf),
            "-x265-params",
            f"keyint={n}:min-keyint={n}:scenecut=0:open-gop=0:bframes=0:repeat-headers=1:"
            "colorprim=bt709:transfer=bt709:colormatrix=bt709:log-level=error",
            "-force_key_frames", f"expr:eq(mod(n,{n}),0)",
            "-tag:v", "hvc1",
            *_bt709_tv_args(size),
            "-video_track_timescale", timescale, "-avoid_negative_ts", "make_zero",
            "-movflags", "+faststart",
        ]  # fmt: skip
    if settings.format == "webm":
        rate = (
            ["-b:v", settings.bitrate]
            if settings.bitrate
            else [
                "-b:v",
                "0",
                "-crf",
                str(settings.crf if settings.crf is not None else settings.preset.vp9_crf),
            ]
        )
        return [
            "-c:v", "libvpx-vp9", *rate, "-deadline", "good", "-row-mt", "1", "-cpu-used", "4",
            "-g", str(n), "-keyint_min", str(n), "-auto-alt-ref", "0", "-pix_fmt", "yuva420p",
            *resize_only,
        ]  # fmt: skip
    if settings.format == "mov":
        return [
            "-c:v", "prores_ks", "-profile:v", "4444", "-pix_fmt", "yuva444p10le",
            "-vendor", "apl0", "-video_track_timescale", timescale, *resize_only,
        ]  # fmt: skip
    raise EncodeError(f"format {settings.format!r} is not encoded by ffmpeg")


def _bt709_tv_args(size: str = "") -> list[str]:
    return [
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
        "-color_range", "tv", "-vf", f"scale={size}in_range=pc:out_range=tv", "-pix_fmt", "yuv420p",
    ]  # fmt: skip


class StreamingEncoder:
    """One ffmpeg process fed screenshots through a bounded queue.

    ``write`` returns as soon as the frame is queued; ``finish`` waits for ffmpeg and
    raises :class:`EncodeError` with ffmpeg's own words on failure.
    """

    def __init__(
        self,
        settings: EncoderSettings,
        output: Path,
        gop_frames: int,
        *,
        input_format: Literal["jpeg", "png"],
        queue_frames: int = 24,
        resize: bool = False,
        comment: str | None = None,
    ) -> None:
        """``comment``: container metadata (a chunk's tag: plan hash and index) that
        assembly reads back; it changes the container only, never the encoded frames."""
        self.output = output
        decoder = "mjpeg" if input_format == "jpeg" else "png"
        tag = ["-metadata", f"comment={comment}"] if comment else []
        args = [
            ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "image2pipe", "-framerate", fps_text(settings.fps), "-c:v", decoder, "-i", "-",
            *video_encoder_args(settings, gop_frames, resize=resize), *tag,
            "-r", fps_text(settings.fps), str(output),
        ]  # fmt: skip
        self._process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._stderr: deque[str] = deque(maxlen=40)
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=queue_frames)
        self._write_error: BaseException | None = None
        self._writer = threading.Thread(target=self._write_loop, name="encoder-writer", daemon=True)
        self._reader = threading.Thread(
            target=self._read_stderr, name="encoder-stderr", daemon=True
        )
        self._writer.start()
        self._reader.start()
        self.frames_written = 0

    def write(self, frame: bytes) -> None:
        if self._write_error is not None:
            raise EncodeError(f"ffmpeg stopped accepting frames: {self._describe()}")
        self._queue.put(frame)
        self.frames_written += 1

    def finish(self) -> None:
        self._queue.put(None)
        self._writer.join()
        code = self._process.wait()
        self._reader.join(timeout=5)
        if code != 0 or self._write_error is not None:
            raise EncodeError(f"ffmpeg failed encoding {self.output.name}: {self._describe()}")

    def abort(self) -> None:
        """Stop ffmpeg and remove whatever it wrote."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        while True:  # unblock a writer stuck on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(None)
        self._writer.join(timeout=5)
        self.output.unlink(missing_ok=True)

    def _write_loop(self) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            while True:
                frame = self._queue.get()
                if frame is None:
                    break
                if self._write_error is None:
                    stdin.write(frame)
        except (BrokenPipeError, OSError) as exc:
            self._write_error = exc
            while self._queue.get() is not None:  # drain so producers never block
                pass
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def _read_stderr(self) -> None:
        assert self._process.stderr is not None
        for raw in self._process.stderr:
            self._stderr.append(raw.decode("utf-8", "replace").rstrip())

    def _describe(self) -> str:
        code = self._process.poll()
        tail = "\n".join(self._stderr) or "(no output)"
        return f"exit code {code}; {tail}"
