"""Command line of the comparisons: one JSON object on stdout, a documented exit code."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import RenderError
from .audio import DEFAULT_THRESHOLD_DBFS, compare_audio
from .media import MediaError, count_frames
from .video import (
    SEAM_MIN_DELTA,
    SEAM_SIGMAS,
    MismatchError,
    chunk_boundaries,
    compare_frames,
    psnr,
    seams,
)

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_UNREADABLE = 0, 1, 2, 3

EPILOG = """\
exit codes:
  0  compared, and within the bar (psnr: mean and minimum at or above the thresholds
     given; audio: OK or no-audio-on-either; frames: every decoded frame equal;
     seams: no seam)
  1  compared, and outside it; or not comparable frame by frame (frame counts or sizes
     differ: the JSON's "error" says which)
  2  bad arguments
  3  an input is missing or ffmpeg cannot decode it
PSNR JSON: per-frame values from ffmpeg's psnr filter stats; "inf" (a string: JSON has no
infinity) for identical frames. mean_db is pooled over the frames that differ (the PSNR of
their mean squared error); identical_frames counts the others.
"""


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hyperframes_lambda.compare",
        description="Compare two renders (or one render's chunk seams); JSON on stdout.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("psnr", help="per-frame PSNR of A against B (yuv420p)")
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--threshold", type=float, help="fail when the mean PSNR (dB) is below")
    p.add_argument("--min-threshold", type=float, help="fail when any frame's PSNR is below")
    p.add_argument("--per-frame", action="store_true", help="include every frame's value")

    a = commands.add_parser("audio", help="RMS of the residual A - B (dBFS)")
    a.add_argument("a", type=Path)
    a.add_argument("b", type=Path)
    a.add_argument(
        "--threshold", type=float, default=DEFAULT_THRESHOLD_DBFS,
        help=f"DRIFT above this residual, dBFS (default {DEFAULT_THRESHOLD_DBFS:g})",
    )  # fmt: skip
    a.add_argument(
        "--normalize", action="store_true",
        help="let amix normalise its inputs (under-reports by 6 dB; for demonstration only)",
    )  # fmt: skip

    f = commands.add_parser("frames", help="are the decoded frames identical?")
    f.add_argument("a", type=Path)
    f.add_argument("b", type=Path)

    s = commands.add_parser("seams", help="visible seams at chunk boundaries of OUT")
    s.add_argument("out", type=Path)
    where = s.add_mutually_exclusive_group(required=True)
    where.add_argument("--chunk-frames", type=_positive_int, help="frames per chunk (all but last)")
    where.add_argument("--boundaries", help="comma-separated first frames of chunks 2..N")
    s.add_argument("--reference", type=Path, help="the same content rendered in one piece")
    s.add_argument("--sigmas", type=float, default=SEAM_SIGMAS)
    s.add_argument("--min-delta", type=float, default=SEAM_MIN_DELTA)
    return parser


def run(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    if args.command == "psnr":
        result = psnr(args.a, args.b)
        doc = result.to_json()
        if not args.per_frame:
            doc.pop("per_frame_db")
        failed = (args.threshold is not None and result.mean_db < args.threshold) or (
            args.min_threshold is not None and result.min_db < args.min_threshold
        )
        doc.update(threshold_db=args.threshold, min_threshold_db=args.min_threshold)
        doc["passed"] = not failed
        return (EXIT_FAIL if failed else EXIT_PASS), doc
    if args.command == "audio":
        audio = compare_audio(args.a, args.b, args.threshold, args.normalize)
        return (EXIT_PASS if audio.ok else EXIT_FAIL), audio.to_json()
    if args.command == "frames":
        frames = compare_frames(args.a, args.b)
        return (EXIT_PASS if frames.equal else EXIT_FAIL), frames.to_json()
    if args.chunk_frames:
        boundaries = chunk_boundaries(count_frames(args.out), args.chunk_frames)
    else:
        boundaries = [int(x) for x in args.boundaries.split(",") if x.strip()]
    found = seams(args.out, boundaries, args.reference, args.sigmas, args.min_delta)
    return (EXIT_FAIL if found.seams else EXIT_PASS), found.to_json()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name in ("a", "b", "out", "reference"):
        path = getattr(args, name, None)
        if path is not None and not path.is_file():
            print(json.dumps({"command": args.command, "error": f"{path}: no such file"}))
            return EXIT_UNREADABLE
    try:
        code, doc = run(args)
    except MismatchError as exc:
        code, doc = EXIT_FAIL, {"error": str(exc), "passed": False}
    except (MediaError, RenderError, RuntimeError) as exc:
        code, doc = EXIT_UNREADABLE, {"error": str(exc)}
    print(json.dumps({"command": args.command, **doc}, allow_nan=False))
    return code
