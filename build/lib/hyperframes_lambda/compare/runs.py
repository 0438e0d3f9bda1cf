"""The bookkeeping of ``scripts/smoke.sh`` and ``scripts/eval.sh``: one JSON line per render
(``record``), then medians, the aligned table, CSV, ``results.json`` and the gate
(``summarize``). The scripts stay thin: they run renders and AWS calls; every number and
every pass/fail decision is made here.

    python -m hyperframes_lambda.compare.runs record --results runs.jsonl --fixture F \\
        --side S --iteration I (--seconds X | --describe execution.json) --output OUT \\
        [--baseline B] [--chunk-frames N] [--chunks N] [--history PARENT.json \\
        --chunk-history CHUNK.json …] [--failed MSG]
    python -m hyperframes_lambda.compare.runs summarize --results runs.jsonl \\
        --fixtures a,b --baseline-side local --sides lambda --iterations N [--csv F] [--json F]
    python -m hyperframes_lambda.compare.runs count-frames FILE

A render that failed, or whose output is missing, is recorded as such and fails the gate;
so does a fixture or side with fewer successful runs than ``--iterations`` (a fixture that
never ran is not skipped, it is a failure).

Timing is reported as the first run and the median of the later ones apart: on Lambda the
first execution after a deploy starts cold and later ones may find warm containers (with
their pooled browser), while every local run starts cold; a single median would mix them.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .audio import DEFAULT_THRESHOLD_DBFS, compare_audio
from .cost import (
    DEFAULT_EPHEMERAL_MB,
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
    PRICE_TEXT,
    execution_seconds,
    history_record,
    run_cost,
)
from .media import MediaError, count_frames
from .timing import compare_timing
from .video import MismatchError, chunk_boundaries, json_db, psnr, seams

DEFAULT_PSNR_DB = 40.0
DEFAULT_MIN_PSNR_DB = 30.0


def _db(value: Any) -> float | None:
    """A dB value read back from JSON ("inf"/"-inf" strings, numbers, or None)."""
    if value is None:
        return None
    return float(value)  # float("inf") and float("-inf") parse


# ---- record ----------------------------------------------------------------------------


def record(args: argparse.Namespace) -> dict[str, Any]:
    """Measure one render against the baseline; never raises for a bad render (it is a
    result), only for bad arguments."""
    row: dict[str, Any] = {
        "fixture": args.fixture,
        "side": args.side,
        "iteration": args.iteration,
        "chunks": args.chunks,  # the planned count once known (history, or frames)
        "chunks_requested": args.chunks,
        "chunk_frames": args.chunk_frames,
        "status": "ok",
        "error": None,
        "seconds": args.seconds,
        "seconds_measure": args.seconds_measure,
        "output": str(args.output) if args.output else None,
    }
    if args.describe:
        describe = json.loads(args.describe.read_text())
        row["execution_status"] = describe.get("status")
        row["execution_arn"] = describe.get("executionArn")
        row["seconds"] = execution_seconds(describe)
        row["seconds_measure"] = "Step Functions execution startDate -> stopDate"
        if describe.get("status") != "SUCCEEDED":
            row["status"] = "failed"
            row["error"] = (
                f"execution {describe.get('status')}: {describe.get('error') or ''} "
                f"{(describe.get('cause') or '')[:300]}"
            ).strip()
    if args.history:
        try:
            cost = run_cost(
                args.history, args.chunk_history, region=args.region, memory_mb=args.memory_mb,
                ephemeral_mb=args.ephemeral_mb, timeout_s=args.timeout_s,
            )  # fmt: skip
            row["cost"] = cost.as_dict()
            planned = history_record(args.history).chunk_total
            if planned is not None:
                row["chunks"] = planned
        except (OSError, ValueError, KeyError, TypeError) as exc:
            row["cost_error"] = f"{type(exc).__name__}: {exc}"
    if args.failed:
        row["status"], row["error"] = "failed", args.failed
    if row["status"] != "ok":
        return row
    if args.output is None or not args.output.is_file():
        row["status"], row["error"] = "missing", f"no output file {args.output}"
        return row
    try:
        row["frames"] = count_frames(args.output)
        if args.chunk_frames and not args.history:
            row["chunks"] = math.ceil(row["frames"] / args.chunk_frames)  # as planned
        if args.baseline is not None:
            row["timing"] = compare_timing(args.output, args.baseline).to_json()
            measured = psnr(args.output, args.baseline)
            row["psnr"] = {
                "mean_db": json_db(measured.mean_db),
                "min_db": json_db(measured.min_db),
                "worst_frame": measured.worst_frame,
                "identical_frames": measured.identical_frames,
                "differing_frames": measured.differing_frames,
            }
            row["audio"] = compare_audio(args.output, args.baseline, args.audio_threshold).to_json()
            if args.chunk_frames:
                bounds = chunk_boundaries(row["frames"], args.chunk_frames)
                row["seams"] = seams(args.output, bounds, args.baseline).to_json()
    except (MismatchError, MediaError, RuntimeError) as exc:
        row["status"], row["error"] = "compare-failed", f"{type(exc).__name__}: {exc}"
    return row


# ---- summarize -------------------------------------------------------------------------


@dataclass
class Summary:
    fixture: str
    side: str
    runs: int = 0
    ok: int = 0
    seconds: list[float] = field(default_factory=list)
    first_seconds: float | None = None  # iteration 1 (on Lambda: cold)
    later_seconds: list[float] = field(default_factory=list)  # iterations 2+ (maybe warm)
    baseline_seconds: float | None = None
    frames: int | None = None
    chunks: int | None = None
    psnr_mean: float | None = None  # the worst run's mean
    psnr_min: float | None = None
    worst_frame: int | None = None
    seams: list[int] = field(default_factory=list)
    audio: str | None = None
    audio_dbfs: float | None = None
    cost_usd: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    compared: bool = True

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def later_median(self) -> float | None:
        return statistics.median(self.later_seconds) if self.later_seconds else None

    @property
    def speedup(self) -> float | None:
        return _ratio(self.baseline_seconds, self.median)

    @property
    def speedup_first(self) -> float | None:
        return _ratio(self.baseline_seconds, self.first_seconds)

    @property
    def speedup_later(self) -> float | None:
        return _ratio(self.baseline_seconds, self.later_median)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "fixture": self.fixture,
            "side": self.side,
            "runs": self.runs,
            "ok": self.ok,
            "median_seconds": _round(self.median),
            "seconds": [round(s, 3) for s in self.seconds],
            "baseline_median_seconds": _round(self.baseline_seconds),
            "speedup": _round(self.speedup),
            "first_seconds": _round(self.first_seconds),
            "later_median_seconds": _round(self.later_median),
            "speedup_first": _round(self.speedup_first),
            "speedup_later": _round(self.speedup_later),
            "frames": self.frames,
            "chunks": self.chunks,
            "psnr_mean_db": None if self.psnr_mean is None else json_db(self.psnr_mean),
            "psnr_min_db": None if self.psnr_min is None else json_db(self.psnr_min),
            "worst_frame": self.worst_frame,
            "seams": self.seams,
            "audio": self.audio,
            "audio_residual_dbfs": None if self.audio_dbfs is None else json_db(self.audio_dbfs),
            "cost_usd_median": _round(statistics.median(self.cost_usd), 6)
            if self.cost_usd
            else None,
            "passed": self.passed,
            "failures": self.failures,
        }


def _ratio(baseline: float | None, seconds: float | None) -> float | None:
    return baseline / seconds if baseline and seconds else None


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def summarize_rows(
    rows: list[dict[str, Any]],
    fixtures: Sequence[str],
    baseline_side: str,
    sides: Sequence[str],
    iterations: int,
    psnr_db: float,
    min_psnr_db: float,
) -> list[Summary]:
    """One summary per fixture x side (the baseline side first), gate decisions included."""
    out: list[Summary] = []
    for fixture in fixtures:
        mine = [r for r in rows if r.get("fixture") == fixture]
        base_rows = [r for r in mine if r.get("side") == baseline_side and r["status"] == "ok"]
        base_seconds = [float(r["seconds"]) for r in base_rows if r.get("seconds") is not None]
        baseline_median = statistics.median(base_seconds) if base_seconds else None
        for side in (baseline_side, *sides):
            s = Summary(fixture, side, compared=side != baseline_side)
            s.baseline_seconds = baseline_median if s.compared else None
            runs = [r for r in mine if r.get("side") == side]
            s.runs = len(runs)
            for r in runs:
                label = f"run {r.get('iteration')}"
                if r["status"] != "ok":
                    s.failures.append(f"{label} {r['status']}: {r.get('error')}")
                    continue
                s.ok += 1
                if r.get("seconds") is not None:
                    s.seconds.append(float(r["seconds"]))
                    if r.get("iteration", 1) == 1:
                        s.first_seconds = float(r["seconds"])
                    else:
                        s.later_seconds.append(float(r["seconds"]))
                s.frames = r.get("frames", s.frames)
                s.chunks = r.get("chunks") or s.chunks
                if "cost" in r:
                    s.cost_usd.append(float(r["cost"]["totalUsd"]))
                if s.compared:
                    _judge(s, r, label, psnr_db, min_psnr_db)
            if s.ok < iterations:
                what = "never ran" if not runs else f"{s.ok} of {iterations} runs succeeded"
                s.failures.insert(0, f"{what}")
            out.append(s)
    return out


def _judge(s: Summary, r: dict[str, Any], label: str, psnr_db: float, min_psnr_db: float) -> None:
    measured = r.get("psnr")
    if measured is None:
        s.failures.append(f"{label}: not compared with the baseline")
        return
    timing = r.get("timing")
    if timing is None:
        s.failures.append(f"{label}: timing not compared with the baseline")
    elif not timing["ok"]:
        s.failures.append(f"{label}: timing: {'; '.join(timing['problems'])}")
    mean, low = _db(measured["mean_db"]), _db(measured["min_db"])
    assert mean is not None and low is not None
    if s.psnr_mean is None or mean < s.psnr_mean:
        s.psnr_mean = mean
    if s.psnr_min is None or low < s.psnr_min:
        s.psnr_min, s.worst_frame = low, measured["worst_frame"]
    if mean < psnr_db:
        s.failures.append(
            f"{label}: mean PSNR {mean:.2f} dB (pooled over the "
            f"{measured.get('differing_frames', '?')} frames that differ) below {psnr_db:g}"
        )
    if low < min_psnr_db:
        s.failures.append(
            f"{label}: frame {measured['worst_frame']} PSNR {low:.2f} dB below {min_psnr_db:g}"
        )
    found = (r.get("seams") or {}).get("seams") or []
    for frame in found:
        if frame not in s.seams:
            s.seams.append(frame)
    if found:
        s.failures.append(f"{label}: visible seam at frame(s) {', '.join(map(str, found))}")
    audio = r.get("audio") or {}
    status = audio.get("status")
    level = _db(audio.get("residual_dbfs"))
    if s.audio is None or status not in ("OK", "no-audio-on-either"):
        s.audio = status
    if level is not None and (s.audio_dbfs is None or level > s.audio_dbfs):
        s.audio_dbfs = level
    if status not in ("OK", "no-audio-on-either"):
        detail = f"residual {audio.get('residual_dbfs')} dBFS"
        if status == "duration-mismatch":
            detail = f"{audio.get('duration_s')} s against the baseline's"
        elif status == "layout-mismatch":
            detail = f"{audio.get('layout')}"
        s.failures.append(f"{label}: audio {status} ({detail})")


COLUMNS = (
    "fixture", "side", "ok/runs", "frames", "chunks", "1st s", "later s", "baseline s",
    "speedup 1st", "speedup later", "PSNR mean", "PSNR min@frame", "seams", "audio",
    "cost $/run", "gate",
)  # fmt: skip


def _fmt_db(value: float | None) -> str:
    if value is None:
        return "-"
    return ("inf" if value > 0 else "-inf") if math.isinf(value) else f"{value:.2f}"


def table_rows(summaries: Sequence[Summary]) -> list[list[str]]:
    rows = []
    for s in summaries:
        audio = s.audio or "-"
        if s.audio_dbfs is not None:
            audio += f" {_fmt_db(s.audio_dbfs)} dB"
        cost = statistics.median(s.cost_usd) if s.cost_usd else None
        rows.append(
            [
                s.fixture,
                s.side,
                f"{s.ok}/{s.runs}",
                "-" if s.frames is None else str(s.frames),
                "-" if s.chunks is None else str(s.chunks),
                "-" if s.first_seconds is None else f"{s.first_seconds:.2f}",
                "-" if s.later_median is None else f"{s.later_median:.2f}",
                "-" if s.baseline_seconds is None else f"{s.baseline_seconds:.2f}",
                "-" if s.speedup_first is None else f"{s.speedup_first:.2f}x",
                "-" if s.speedup_later is None else f"{s.speedup_later:.2f}x",
                _fmt_db(s.psnr_mean) if s.compared else "(baseline)",
                f"{_fmt_db(s.psnr_min)}@{s.worst_frame}" if s.psnr_min is not None else "-",
                ("none" if not s.seams else ",".join(map(str, s.seams))) if s.compared else "-",
                audio if s.compared else "-",
                "-" if cost is None else f"{cost:.5f}",
                "PASS" if s.passed else "FAIL",
            ]
        )
    return rows


def format_table(summaries: Sequence[Summary]) -> str:
    rows = [list(COLUMNS), *table_rows(summaries)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    numeric = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14}
    lines = []
    for n, row in enumerate(rows):
        cells = [
            c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_csv(path: Path, summaries: Sequence[Summary]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(table_rows(summaries))


def read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def summarize(args: argparse.Namespace) -> int:
    rows = read_rows(args.results)
    fixtures = [f for f in args.fixtures.split(",") if f]
    sides = [s for s in args.sides.split(",") if s]
    summaries = summarize_rows(
        rows, fixtures, args.baseline_side, sides, args.iterations, args.psnr_threshold,
        args.min_psnr_threshold,
    )  # fmt: skip
    unknown = sorted({r.get("fixture") for r in rows} - set(fixtures), key=str)
    passed = all(s.passed for s in summaries) and bool(summaries)
    print(format_table(summaries))
    print()
    if args.timing_note:
        print(args.timing_note)
    costs = [(s, statistics.median(s.cost_usd)) for s in summaries if s.cost_usd]
    for s, cost in costs:
        print(f"cost {s.fixture} {s.side}: ${cost:.5f} per run (median of {len(s.cost_usd)})")
    for s in summaries:
        for failure in s.failures:
            print(f"FAIL {s.fixture} {s.side}: {failure}")
    print(f"gate: {'PASS' if passed else 'FAIL'}")
    if args.csv:
        write_csv(args.csv, summaries)
    if args.json:
        document = {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings": {
                "fixtures": fixtures,
                "baseline_side": args.baseline_side,
                "sides": sides,
                "iterations": args.iterations,
                "psnr_threshold_db": args.psnr_threshold,
                "min_psnr_threshold_db": args.min_psnr_threshold,
                "timing": args.timing_note,
            },
            "gate": {
                "passed": passed,
                "failures": [f"{s.fixture} {s.side}: {f}" for s in summaries for f in s.failures],
            },
            "summary": [s.to_json() for s in summaries],
            "unexpected_fixtures": unknown,
            "runs": rows,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")
    return 0 if passed else 1


# ---- command line ----------------------------------------------------------------------


def _finite(text: str) -> float:
    """A threshold: a finite number ('nan' would make every comparison pass)."""
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hyperframes_lambda.compare.runs",
        description="Record renders and gate on them (used by scripts/smoke.sh and eval.sh).",
        epilog=PRICE_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser("record", help="measure one render; append a JSON line")
    r.add_argument("--results", type=Path, required=True)
    r.add_argument("--fixture", required=True)
    r.add_argument("--side", required=True, help="e.g. local, lambda, lambda-N4")
    r.add_argument("--iteration", type=int, default=1)
    r.add_argument("--output", type=Path)
    r.add_argument("--baseline", type=Path, help="compare the output with this render")
    r.add_argument("--seconds", type=float, help="render time measured by the caller")
    r.add_argument("--seconds-measure", default=None, help="what --seconds includes")
    r.add_argument("--describe", type=Path, help="describe-execution JSON (status, times)")
    r.add_argument("--history", type=Path, help="the parent execution's history (JSON)")
    r.add_argument(
        "--chunk-history", type=Path, nargs="*", default=[], help="each chunk's child history"
    )
    r.add_argument("--region", help="AWS region, for its prices")
    r.add_argument("--timeout-s", type=int, default=DEFAULT_TIMEOUT_S, help="function timeout")
    r.add_argument("--chunks", type=int)
    r.add_argument("--chunk-frames", type=int, help="check seams at multiples of this")
    r.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB)
    r.add_argument("--ephemeral-mb", type=int, default=DEFAULT_EPHEMERAL_MB)
    r.add_argument("--audio-threshold", type=_finite, default=DEFAULT_THRESHOLD_DBFS)
    r.add_argument("--failed", help="the render failed with this message")

    s = commands.add_parser("summarize", help="table, CSV, JSON and the gate (exit 1: fail)")
    s.add_argument("--results", type=Path, required=True)
    s.add_argument("--fixtures", required=True, help="comma-separated: every one must have run")
    s.add_argument("--baseline-side", required=True)
    s.add_argument("--sides", required=True, help="comma-separated sides compared with it")
    s.add_argument("--iterations", type=int, default=1)
    s.add_argument("--psnr-threshold", type=_finite, default=DEFAULT_PSNR_DB)
    s.add_argument("--min-psnr-threshold", type=_finite, default=DEFAULT_MIN_PSNR_DB)
    s.add_argument("--csv", type=Path)
    s.add_argument("--json", type=Path)
    s.add_argument("--timing-note", default="", help="what the seconds columns include")

    c = commands.add_parser("count-frames", help="print a video's frame count")
    c.add_argument("file", type=Path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "record":
        row = record(args)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        with args.results.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, allow_nan=False) + "\n")
        detail = row.get("error") or ""
        if row.get("chunks") is not None:
            detail = (
                f"{row['chunks']} chunks planned ({row['chunks_requested']} requested) {detail}"
            )
        print(f"[{row['fixture']} {row['side']} #{row['iteration']}] {row['status']} {detail}")
        return 0
    if args.command == "summarize":
        return summarize(args)
    print(count_frames(args.file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
