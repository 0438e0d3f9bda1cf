"""Timing a viewer would notice: frame count, frame rate, each frame's presentation time
and the stream durations of a render against its baseline.

PSNR pairs frames by index, so it cannot see a chunked render whose frames are right but
shown at the wrong times (a concat that breaks the timestamps at the joins, a gap, a
changed rate). This reads every packet's presentation timestamp, without decoding, from
the stream as stored (``-copyts``: ffmpeg does not shift it to start at zero), and
compares them frame by frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from .media import run_ffmpeg, stream_info

_TIME_BASE = re.compile(r"^#tb (\d+): (\d+)/(\d+)", re.MULTILINE)
_FPS = re.compile(r", (\d+(?:\.\d+)?) fps")
_AUDIO = re.compile(r"Audio: .*?, (\d+) Hz, ([^,]+)")


@dataclass(frozen=True)
class StreamTiming:
    """Presentation timestamps (in presentation order) and durations of one stream's
    packets, in seconds."""

    times: list[float]
    durations: list[float]

    @property
    def start(self) -> float:
        return self.times[0] if self.times else 0.0

    @property
    def duration(self) -> float:
        if not self.times:
            return 0.0
        return max(t + d for t, d in zip(self.times, self.durations, strict=True)) - self.start


def stream_timing(path: Path, kind: Literal["v", "a"]) -> StreamTiming | None:
    """The first video (``v``) or audio (``a``) stream's packet times; None without one."""
    out = run_ffmpeg(
        ["-copyts", "-i", str(path), "-map", f"0:{kind}:0?", "-c", "copy", "-f", "framecrc", "-"]
    ).stdout.decode(errors="replace")
    base = _TIME_BASE.search(out)
    if base is None:
        return None
    tb = Fraction(int(base.group(2)), int(base.group(3)))
    packets = []
    for line in out.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        packets.append((int(fields[2]), int(fields[3])))  # pts, duration
    packets.sort()
    return StreamTiming([float(p * tb) for p, _ in packets], [float(d * tb) for _, d in packets])


def frame_rate(path: Path) -> str | None:
    """The video stream's frame rate as ffmpeg states it (``30``, ``29.97``)."""
    for line in stream_info(path).splitlines():
        if "Video:" in line and (m := _FPS.search(line)):
            return m.group(1)
    return None


def audio_format(path: Path) -> tuple[int, str] | None:
    """(sample rate, channel layout) of the first audio stream, e.g. (48000, "stereo")."""
    for line in stream_info(path).splitlines():
        if (m := _AUDIO.search(line)) is not None:
            return int(m.group(1)), m.group(2).strip()
    return None


@dataclass
class TimingResult:
    frames: tuple[int, int]
    fps: tuple[str | None, str | None]
    duration: tuple[float, float]
    first_bad_frame: int | None = None  # the first frame shown at another time
    worst_offset: float = 0.0  # seconds, the largest |time difference| of a frame
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "frames": list(self.frames),
            "fps": list(self.fps),
            "duration_s": [round(d, 4) for d in self.duration],
            "first_bad_frame": self.first_bad_frame,
            "worst_offset_s": round(self.worst_offset, 4),
            "problems": self.problems,
        }


def compare_timing(out: Path, baseline: Path) -> TimingResult:
    """Frame count, frame rate, every frame's time and the video duration of ``out``
    against ``baseline``. A frame may be off by less than half a frame's duration; the
    duration by less than one frame."""
    a, b = stream_timing(out, "v"), stream_timing(baseline, "v")
    if a is None or b is None:
        missing = out if a is None else baseline
        return TimingResult((0, 0), (None, None), (0.0, 0.0), problems=[f"{missing}: no video"])
    result = TimingResult(
        (len(a.times), len(b.times)), (frame_rate(out), frame_rate(baseline)),
        (a.duration, b.duration),
    )  # fmt: skip
    if len(a.times) != len(b.times):
        result.problems.append(f"{len(a.times)} frames, the baseline has {len(b.times)}")
    if result.fps[0] != result.fps[1]:
        result.problems.append(f"{result.fps[0]} fps, the baseline is {result.fps[1]} fps")
    frame = b.duration / len(b.times) if b.times else 0.0
    offsets = [abs(x - y) for x, y in zip(a.times, b.times, strict=False)]
    result.worst_offset = max(offsets, default=0.0)
    late = [i for i, off in enumerate(offsets) if off >= frame / 2]
    if late:
        result.first_bad_frame = late[0]
        result.problems.append(
            f"{len(late)} frame(s) shown at other times than in the baseline, from frame "
            f"{late[0]} (up to {result.worst_offset * 1000:.1f} ms off)"
        )
    if abs(a.duration - b.duration) >= frame:
        result.problems.append(f"video lasts {a.duration:.3f} s, the baseline {b.duration:.3f} s")
    return result
