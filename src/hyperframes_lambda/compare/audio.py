"""Audio comparison: the RMS level of the residual A - B.

B is phase-inverted (``volume=-1``) and mixed with A by ``amix`` with ``normalize=0``.
amix's default normalisation scales each of its two inputs by 1/2, which reports every
residual 6 dB quieter than it is (the bug the reference's eval shipped with); the
``normalize`` parameter exists so the tests can show that difference, not for use.
Both inputs are resampled to the same float stereo format first, so a sample-format or
layout difference is not mistaken for a signal difference. Identical decodes cancel
exactly: the residual is digital silence, ``-inf`` dBFS.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .media import has_audio, run_ffmpeg
from .video import json_db

AudioStatus = Literal["OK", "DRIFT", "audio-stream-mismatch", "no-audio-on-either"]
# A residual above this is DRIFT (dBFS). -50 dBFS is far below anything audible over
# program audio, and far above what two encodes of the same mix differ by.
DEFAULT_THRESHOLD_DBFS = -50.0
SAMPLE_RATE = 48000
_RMS = re.compile(r"RMS level dB:\s*(-?inf|-?[\d.]+)")


@dataclass(frozen=True)
class AudioResult:
    status: AudioStatus
    residual_dbfs: float | None  # None when there was nothing to compare
    threshold_dbfs: float
    audio_a: bool
    audio_b: bool
    normalize: bool = False

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
        }


def residual_dbfs(a: Path, b: Path, normalize: bool = False) -> float:
    """RMS level (dBFS, all channels) of ``a`` minus ``b`` over their common duration."""
    fmt = f"aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=stereo"
    graph = (
        f"[0:a:0]{fmt}[a];[1:a:0]{fmt},volume=-1[b];"
        f"[a][b]amix=inputs=2:duration=shortest:dropout_transition=0:"
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
    ``audio-stream-mismatch`` (only one file has audio) or ``no-audio-on-either``."""
    audio_a, audio_b = has_audio(a), has_audio(b)
    if not audio_a and not audio_b:
        return AudioResult("no-audio-on-either", None, threshold_dbfs, False, False, normalize)
    if audio_a != audio_b:
        return AudioResult(
            "audio-stream-mismatch", None, threshold_dbfs, audio_a, audio_b, normalize
        )
    level = residual_dbfs(a, b, normalize)
    status: AudioStatus = "OK" if level <= threshold_dbfs else "DRIFT"
    return AudioResult(status, level, threshold_dbfs, True, True, normalize)
