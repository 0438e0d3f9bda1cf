"""Capture and end-to-end throughput at 1920x1080, several configurations in one run.

    .venv/bin/python benchmarks/capture_bench.py [--project examples/title-card] [--repeat 1]

Prints frames/s for: capture only (JPEG q90 vs PNG), end to end with frames streamed into
ffmpeg while capturing vs captured first and encoded after, and the ratios between them.
"Capture" includes the seek, the BeginFrame, the screenshot transfer and decode of the
base64; "end to end" is first frame requested → MP4 finished (browser start excluded,
reported separately as "load").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hyperframes_lambda.capture.frame_source import capture_frames_parallel, open_frame_sources
from hyperframes_lambda.capture.page_capture import CaptureSettings, ImageFormat, PageCapture
from hyperframes_lambda.compile.composition import read_composition
from hyperframes_lambda.compile.project import compile_project
from hyperframes_lambda.media.encode import EncoderSettings, StreamingEncoder
from hyperframes_lambda.net.remote_assets import RemoteFetcher
from hyperframes_lambda.timing import frame_count

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Measurement:
    name: str
    frames: int
    seconds: float
    load_seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds


def run_case(
    name: str,
    compiled: Path,
    settings: CaptureSettings,
    body: Callable[..., None],
    pages: int,
) -> Measurement:
    started = time.perf_counter()
    with open_frame_sources(compiled, "index.html", settings, pages) as opened:
        load = time.perf_counter() - started
        total = frame_count(opened[0].duration, settings.fps)
        t0 = time.perf_counter()
        body(opened, total)
        seconds = time.perf_counter() - t0
    return Measurement(name, total, seconds, load)


def capture_only(pages: list[PageCapture], total: int) -> None:
    capture_frames_parallel(pages, range(total), lambda i, data: None)


def streamed(fmt: ImageFormat, out: Path) -> Callable[[list[PageCapture], int], None]:
    def body(pages: list[PageCapture], total: int) -> None:
        enc = StreamingEncoder(EncoderSettings(30, 1920, 1080), out, total, input_format=fmt)
        capture_frames_parallel(pages, range(total), lambda i, data: enc.write(data))
        enc.finish()

    return body


def capture_then_encode(fmt: ImageFormat, out: Path) -> Callable[[list[PageCapture], int], None]:
    def body(pages: list[PageCapture], total: int) -> None:
        frames: list[bytes] = []
        capture_frames_parallel(pages, range(total), lambda i, data: frames.append(data))
        enc = StreamingEncoder(EncoderSettings(30, 1920, 1080), out, total, input_format=fmt)
        for data in frames:
            enc.write(data)
        enc.finish()

    return body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=ROOT / "examples" / "title-card")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; medians reported")
    args = parser.parse_args()
    info = read_composition(args.project)
    if (info.width, info.height) != (1920, 1080):
        print(f"note: {args.project} is {info.width}x{info.height}; scaled to 1920x1080")

    with tempfile.TemporaryDirectory(prefix="hf-bench-") as work:
        work_dir = Path(work)
        compiled = compile_project(args.project, work_dir / "compiled", RemoteFetcher()).root

        def settings(fmt: ImageFormat) -> CaptureSettings:
            return CaptureSettings(
                css_width=info.width, css_height=info.height, width=1920, height=1080, fps=30,
                image_format=fmt, jpeg_quality=90,
            )  # fmt: skip

        a, b, c = work_dir / "a.mp4", work_dir / "b.mp4", work_dir / "c.mp4"
        cases: list[tuple[str, ImageFormat, Callable[..., None], int]] = [
            ("capture jpeg q90", "jpeg", capture_only, 1),
            ("capture png", "png", capture_only, 1),
            ("capture jpeg q90, 2 pages", "jpeg", capture_only, 2),
            ("e2e streamed jpeg", "jpeg", streamed("jpeg", a), 1),
            ("e2e streamed png", "png", streamed("png", b), 1),
            ("e2e capture-then-encode jpeg", "jpeg", capture_then_encode("jpeg", c), 1),
            ("e2e streamed jpeg, 2 pages", "jpeg", streamed("jpeg", a), 2),
            ("e2e streamed png, 2 pages", "png", streamed("png", b), 2),
        ]
        results: dict[str, Measurement] = {}
        for name, fmt, body, pages in cases:
            runs = [
                run_case(name, compiled, settings(fmt), body, pages) for _ in range(args.repeat)
            ]
            best = sorted(runs, key=lambda m: m.seconds)[len(runs) // 2]
            results[name] = best
            print(
                f"{name:32s} {best.frames:4d} frames {best.seconds:6.2f}s {best.fps:6.1f} fps "
                f"(load {statistics.median(r.load_seconds for r in runs):.2f}s)",
                flush=True,
            )

    def ratio(a: str, b: str) -> str:
        return f"{results[a].fps / results[b].fps:.2f}x"

    print()
    for label, a, b in [
        ("capture png / jpeg", "capture png", "capture jpeg q90"),
        ("e2e streamed / capture-then-encode", "e2e streamed jpeg", "e2e capture-then-encode jpeg"),
        ("e2e streamed png / jpeg", "e2e streamed png", "e2e streamed jpeg"),
        ("e2e jpeg / capture-only jpeg", "e2e streamed jpeg", "capture jpeg q90"),
        ("capture 2 pages / 1 page (jpeg)", "capture jpeg q90, 2 pages", "capture jpeg q90"),
        ("e2e 2 pages / 1 page (jpeg)", "e2e streamed jpeg, 2 pages", "e2e streamed jpeg"),
        ("e2e 2 pages / 1 page (png)", "e2e streamed png, 2 pages", "e2e streamed png"),
    ]:
        print(f"{label + ':':36s} {ratio(a, b)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
