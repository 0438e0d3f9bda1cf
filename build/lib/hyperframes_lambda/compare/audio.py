"""Audio comparison: the RMS level of the residual A - B.

B is phase-inverted (``volume=-1``) and mixed with A by ``amix`` with ``normalize=0``.
amix's default normalisation scales each of its two inputs by 1/2, which reports every
residual 6 dB quieter than it is (the bug the reference's eval shipped with); the
``normalize`` parameter exists so the tests can show that difference, not for use.
Both inputs are resampled to the same float stereo format first, so a sample-format
difference is not mistaken for a signal difference; a different sample rate or channel
layout is reported as such (``layout-mismatch``), and so is a soundtrack that is shorter
or longer than the baseline's (``duration-mismatch``). The residual runs over the longer
input: a missing tail counts as the signal it lacks, never as "nothing to compare".
Identical decodes cancel exactly: the residual is digital silence, ``-inf`` dBFS.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .media import has_audio, run_ffmpeg
from .timing import audio_format, stream_timing
from .video import json_db

AudioStatus = Literal[
    "OK",
    "DRIFT",
    "duration-mismatch",
    "layout-mismatch",
    "audio-stream-mismatch",
    "no-audio-on-either",
]
# A residual above this is DRIFT (dBFS). -50 dBFS is far below anything audible over
# program audio, and far above what two encodes of the same mix differ by.
DEFAULT_THRESHOLD_DBFS = -50.0
SAMPLE_RATE = 48000
# Soundtracks whose lengths differ by this much or more differ (seconds): more than two
# AAC frames at 48 kHz, far less than anything audible as a cut.
DURATION_TOLERANCE_S = 0.05
_RMS = re.compile(r"RMS level dB:\s*(-?inf|-?[\d.]+)")


@dataclass(frozen=True)
class AudioResult:
    status: AudioStatus
    residual_dbfs: float | None  # None when there was nothing to compare
    threshold_dbfs: float
    audio_a: bool
    audio_b: bool
    normalize: bool = False
    duration_s: tuple[float, float] | None = None
    layout: tuple[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("OK", "no-audio-on-either")

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "residual_dbfs": None if self.residual_dbfs is None else json_db(self.residual_dbfs),
            "threshold_dbfs": self.threshold_dbfs,
            "audio_a": self.audio_a,
            "audio_b": self.audio_b,
            "normalize": self.normalize,
            "duration_s": None
            if self.duration_s is None
            else [round(d, 4) for d in self.duration_s],
            "layout": None if self.layout is None else list(self.layout),
        }


def residual_dbfs(a: Path, b: Path, normalize: bool = False) -> float:
    """RMS level (dBFS, all channels) of ``a`` minus ``b`` over the longer of the two (the
    shorter one's missing part counts as silence)."""
    fmt = f"aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=stereo"
    graph = (
        f"[0:a:0]{fmt}[a];[1:a:0]{fmt},volume=-1[b];"
        f"[a][b]amix=inputs=2:duration=longest:dropout_transition=0:"
        f"normalize={1 if normalize else 0},astats=measure_perchannel=none[out]"
    )
    result = run_ffmpeg(
        ["-i", str(a), "-i", str(b), "-filter_complex", graph, "-map", "[out]", "-f", "null", "-"]
    )
    levels = _RMS.findall(result.stderr.decode(errors="replace"))
    if not levels:
        raise RuntimeError(f"astats printed no RMS level comparing {a} and {b}")
    return -math.inf if levels[-1] == "-inf" else float(levels[-1])


def compare_audio(
    a: Path, b: Path, threshold_dbfs: float = DEFAULT_THRESHOLD_DBFS, normalize: bool = False
) -> AudioResult:
    """``OK`` (residual at or below the threshold), ``DRIFT`` (above it),
    ``layout-mismatch`` (sample rate or channels differ), ``duration-mismatch`` (one
    soundtrack is shorter), ``audio-stream-mismatch`` (only one file has audio) or
    ``no-audio-on-either``."""
    audio_a, audio_b = has_audio(a), has_audio(b)
    if not audio_a and not audio_b:
        return AudioResult("no-audio-on-either", None, threshold_dbfs, False, False, normalize)
    if audio_a != audio_b:
        return AudioResult(
            "audio-stream-mismatch", None, threshold_dbfs, audio_a, audio_b, normalize
        )
    format_a, format_b = audio_format(a), audio_format(b)
    layout = (
        f"{format_a[0]} Hz {format_a[1]}" if format_a else "?",
        f"{format_b[0]} Hz {format_b[1]}" if format_b else "?",
    )
    timing_a, timing_b = stream_timing(a, "a"), stream_timing(b, "a")
    durations = (
        timing_a.duration if timing_a else 0.0,
        timing_b.duration if timing_b else 0.0,
    )
    level = residual_dbfs(a, b, normalize)
    status: AudioStatus = "OK" if level <= threshold_dbfs else "DRIFT"
    if abs(durations[0] - durations[1]) >= DURATION_TOLERANCE_S:
        status = "duration-mismatch"
    if layout[0] != layout[1]:
        status = "layout-mismatch"
    return AudioResult(status, level, threshold_dbfs, True, True, normalize, durations, layout)
