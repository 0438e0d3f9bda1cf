"""The whole local pipeline (plan → chunks → assemble) at 1080p, several layouts in one run.

    .venv/bin/python benchmarks/pipeline_bench.py [--project examples/title-card]

For each layout: stage wall-clock times (plan, chunks, assemble), capture time summed
over chunks, frames/s end to end, and the ratio against the baseline layout (one chunk
rendered in-process by one browser, the reference's local mode).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from hyperframes_lambda.runner.local_render import RenderOptions, RenderResult, render_local

ROOT = Path(__file__).resolve().parent.parent

LAYOUTS: list[tuple[str, RenderOptions]] = [
    ("1 chunk, in-process, 1 browser (baseline)", RenderOptions(chunks=1, pages=1)),
    ("1 chunk, in-process, 2 browsers (default)", RenderOptions(chunks=1, pages=2)),
    ("2 chunks, 2 worker processes", RenderOptions(chunks=2, workers=2, pages=1)),
    ("4 chunks, 2 worker processes", RenderOptions(chunks=4, workers=2, pages=1)),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=ROOT / "examples" / "title-card")
    args = parser.parse_args()
    results: list[tuple[str, RenderResult]] = []
    with tempfile.TemporaryDirectory(prefix="hf-bench-") as work:
        for name, options in LAYOUTS:
            result = render_local(args.project, Path(work) / "out.mp4", options)
            results.append((name, result))
            t = result.timings
            print(
                f"{name:44s} plan {t['plan']:5.2f}s  chunks {t['chunks']:5.2f}s "
                f"(capture {result.capture_seconds:5.2f}s, encode tail "
                f"{sum(c.timings.get('encodeTail', 0) for c in result.chunks):4.2f}s)  "
                f"assemble {t['assemble']:4.2f}s  total {t['total']:5.2f}s  "
                f"{result.frames / t['total']:5.1f} fps",
                flush=True,
            )
    base = results[0][1].timings["total"]
    print()
    for name, result in results[1:]:
        print(f"{name:44s} {base / result.timings['total']:.2f}x the baseline's speed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
