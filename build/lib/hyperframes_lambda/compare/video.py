"""Video comparisons: per-frame PSNR (ffmpeg's ``psnr`` filter), decoded-frame hashes,
and seams at chunk boundaries.

PSNR is read per frame from the filter's ``stats_file``, with the minimum and the index of
the worst frame beside it. Identical frames have an infinite PSNR: they are counted apart
(``identical_frames``), and the headline figure (``mean_db``) is pooled over the frames
that differ only: the PSNR of their mean squared error. Counting identical frames in (at
any stand-in value) would let a video that is a third identical and otherwise bad pass a
40 dB bar. When every frame is identical the figure and the minimum are ``inf``.
"""

from __future__ import annotations

import math
import re
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .media import count_frames, decode_gray, decoder_args, run_ffmpeg, video_size

_STATS_FIELD = re.compile(r"(\w+):(\S+)")
# Seams: decoded at most this wide (the change between frames is a coarse measure).
SEAM_WIDTH = 320
# A boundary is a seam when its change is this many robust standard deviations from the
# within-chunk changes ...
SEAM_SIGMAS = 6.0
# ... and at least this far in mean absolute luma (0-255): no seam is "visible" below it.
SEAM_MIN_DELTA = 1.0
_MAD_TO_SIGMA = 1.4826


class MismatchError(ValueError):
    """The two videos cannot be compared frame by frame (counts or sizes differ)."""


def json_db(value: float) -> float | str:
    """JSON has no infinity: ``inf``/``-inf`` become strings, numbers are rounded."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return round(value, 3)


@dataclass(frozen=True)
class PsnrResult:
    frames: int
    width: int
    height: int
    per_frame: list[float]  # dB, inf for identical frames

    @property
    def identical_frames(self) -> int:
        return sum(1 for v in self.per_frame if math.isinf(v))

    @property
    def differing_frames(self) -> int:
        return len(self.per_frame) - self.identical_frames

    @property
    def mean_db(self) -> float:
        """PSNR of the mean squared error pooled over the frames that differ (``inf`` when
        none does); each frame's MSE is recovered from its dB (peak normalised to 1)."""
        errors = [10 ** (-v / 10) for v in self.per_frame if not math.isinf(v)]
        if not errors:
            return math.inf
        return -10 * math.log10(statistics.fmean(errors))

    @property
    def min_db(self) -> float:
        return min(self.per_frame)

    @property
    def worst_frame(self) -> int:
        return min(range(len(self.per_frame)), key=self.per_frame.__getitem__)

    def to_json(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "size": [self.width, self.height],
            "mean_db": json_db(self.mean_db),
            "min_db": json_db(self.min_db),
            "worst_frame": self.worst_frame,
            "identical_frames": self.identical_frames,
            "differing_frames": self.differing_frames,
            "per_frame_db": [json_db(v) for v in self.per_frame],
        }


def _check_comparable(a: Path, b: Path) -> tuple[int, int, int]:
    frames_a, frames_b = count_frames(a), count_frames(b)
    size_a, size_b = video_size(a), video_size(b)
    if size_a != size_b:
        raise MismatchError(
            f"sizes differ: {a} is {size_a[0]}x{size_a[1]}, {b} is {size_b[0]}x{size_b[1]}"
        )
    if frames_a != frames_b:
        raise MismatchError(f"frame counts differ: {a} has {frames_a}, {b} has {frames_b}")
    if frames_a == 0:
        raise MismatchError(f"{a} has no video frames")
    return frames_a, *size_a


def parse_psnr_stats(text: str) -> list[float]:
    """Per-frame ``psnr_avg`` from the psnr filter's stats file (``n:1 mse_avg:… psnr_avg:…``),
    in frame order; ``inf`` for identical frames."""
    values: dict[int, float] = {}
    for line in text.splitlines():
        fields = dict(_STATS_FIELD.findall(line))
        if "n" in fields and "psnr_avg" in fields:
            values[int(fields["n"]) - 1] = float(fields["psnr_avg"])  # "inf" parses too
    return [values[i] for i in sorted(values)]


def psnr(a: Path, b: Path) -> PsnrResult:
    """Per-frame PSNR of ``a`` against ``b`` (both in yuv420p), frames paired by index.

    Frame counts and sizes must match (:class:`MismatchError` otherwise): a missing frame
    is a failed render, not something to average over.
    """
    frames, width, height = _check_comparable(a, b)
    # Pair by index: both streams get the same synthetic timestamps (1 ms apart).
    pace = "settb=AVTB,setpts=N*1000,format=yuv420p"
    with tempfile.TemporaryDirectory(prefix="hf-psnr-") as tmp:
        stats = Path(tmp) / "psnr.log"
        # The stats_file option is a filter argument: a plain path (tmp dir names have no
        # ':' or quote) needs no escaping.
        run_ffmpeg(
            [*decoder_args(a), "-i", str(a), *decoder_args(b), "-i", str(b), "-filter_complex",
             f"[0:v]{pace}[a];[1:v]{pace}[b];[a][b]psnr=stats_file={stats}",
             "-fps_mode", "passthrough", "-f", "null", "-"]
        )  # fmt: skip
        per_frame = parse_psnr_stats(stats.read_text())
    if len(per_frame) != frames:
        raise MismatchError(f"psnr filter compared {len(per_frame)} of {frames} frames")
    return PsnrResult(frames, width, height, per_frame)


# ---- decoded-frame hashes --------------------------------------------------------------


def frame_hashes(path: Path) -> list[str]:
    """SHA-256 of every decoded frame of the first video stream, in order."""
    out = run_ffmpeg(
        [*decoder_args(path), "-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough",
         "-f", "framehash", "-hash", "sha256", "-"]
    ).stdout.decode()  # fmt: skip
    hashes = []
    for line in out.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        hashes.append(line.rsplit(",", 1)[-1].strip())
    return hashes


@dataclass(frozen=True)
class FramesResult:
    frames_a: int
    frames_b: int
    first_difference: int | None  # first index whose frames differ (or where one ends)
    differing_frames: int

    @property
    def equal(self) -> bool:
        return self.first_difference is None

    def to_json(self) -> dict[str, Any]:
        return {
            "equal": self.equal,
            "frames_a": self.frames_a,
            "frames_b": self.frames_b,
            "first_difference": self.first_difference,
            "differing_frames": self.differing_frames,
        }


def compare_frames(a: Path, b: Path) -> FramesResult:
    """Whether ``a`` and ``b`` decode to the same frames; a count difference is a
    difference at the shorter one's end."""
    ha, hb = frame_hashes(a), frame_hashes(b)
    differing = [i for i, (x, y) in enumerate(zip(ha, hb, strict=False)) if x != y]
    differing_total = len(differing) + abs(len(ha) - len(hb))
    first = differing[0] if differing else (min(len(ha), len(hb)) if len(ha) != len(hb) else None)
    return FramesResult(len(ha), len(hb), first, differing_total)


# ---- seams -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Boundary:
    frame: int  # first frame of the later chunk: the change measured is frame-1 -> frame
    change: float  # mean absolute luma difference (0-255)
    score: float  # robust standard deviations from the within-chunk median
    seam: bool


@dataclass
class SeamsResult:
    frames: int
    boundaries: list[Boundary]
    within_median: float
    within_sigma: float
    reference: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def seams(self) -> list[int]:
        return [b.frame for b in self.boundaries if b.seam]

    @property
    def worst_score(self) -> float:
        return max((abs(b.score) for b in self.boundaries), default=0.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "seams": self.seams,
            "worst_score": json_db(self.worst_score),
            "within_median": round(self.within_median, 4),
            "within_sigma": round(self.within_sigma, 4),
            "reference": self.reference,
            "boundaries": [
                {
                    "frame": b.frame,
                    "change": round(b.change, 4),
                    "score": json_db(b.score),
                    "seam": b.seam,
                }
                for b in self.boundaries
            ],
            "notes": self.notes,
        }


def chunk_boundaries(frames: int, chunk_frames: int) -> list[int]:
    """First frame of every chunk but the first, for chunks of ``chunk_frames`` (the
    chunk formula makes every chunk that size except the last)."""
    if chunk_frames <= 0:
        raise ValueError("chunk_frames must be positive")
    return list(range(chunk_frames, frames, chunk_frames))


def frame_changes(path: Path) -> np.ndarray:
    """``d[i]`` = mean absolute luma difference between frames ``i-1`` and ``i``
    (``d[0]`` = 0), on frames scaled to at most :data:`SEAM_WIDTH` wide."""
    width, height = video_size(path)
    scaled_w = min(width, SEAM_WIDTH)
    scaled_h = max(2, round(height * scaled_w / width / 2) * 2)
    frames = decode_gray(path, scaled_w, scaled_h).astype(np.int16)
    changes = np.zeros(len(frames))
    if len(frames) > 1:
        changes[1:] = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))
    return changes


def seams(
    path: Path,
    boundaries: list[int],
    reference: Path | None = None,
    sigmas: float = SEAM_SIGMAS,
    min_delta: float = SEAM_MIN_DELTA,
) -> SeamsResult:
    """Judge the change across each chunk boundary against the changes inside chunks.

    Each boundary's change (frame b-1 -> b) is scored in robust standard deviations
    (1.4826 x median absolute deviation) from the median within-chunk change; a boundary
    is a seam when it is more than ``sigmas`` away *and* differs from the median by at
    least ``min_delta`` (mean absolute luma), in either direction: a jump (a glitch, a
    shifted chunk) or a freeze (a repeated frame where everything else moves).

    With ``reference`` (the same content rendered in one piece), the measure is the
    output's change minus the reference's at the same frame, so a cut in the content that
    happens to fall on a boundary is not a seam.
    """
    changes = frame_changes(path)
    notes: list[str] = []
    ref_name = None
    if reference is not None:
        ref_changes = frame_changes(reference)
        if len(ref_changes) != len(changes):
            raise MismatchError(
                f"frame counts differ: {path} has {len(changes)}, {reference} has "
                f"{len(ref_changes)}"
            )
        changes = changes - ref_changes
        ref_name = str(reference)
    frames = len(changes)
    inside = [b for b in boundaries if 0 < b < frames]
    if len(inside) != len(boundaries):
        notes.append(f"boundaries outside 1..{frames - 1} ignored")
    boundary_set = set(inside)
    within = np.array([changes[i] for i in range(1, frames) if i not in boundary_set])
    if within.size == 0:
        notes.append("no within-chunk frame pairs to compare against")
        median, sigma = 0.0, 0.0
    else:
        median = float(np.median(within))
        sigma = _MAD_TO_SIGMA * float(np.median(np.abs(within - median)))
    judged = []
    for b in inside:
        delta = float(changes[b]) - median
        score = delta / sigma if sigma > 0 else (math.copysign(math.inf, delta) if delta else 0.0)
        seam = abs(delta) >= min_delta and abs(score) > sigmas
        judged.append(Boundary(b, float(changes[b]), score, seam))
    return SeamsResult(frames, judged, median, sigma, ref_name, notes)
