"""Modelled wall time and cost of a render on Lambda, from measured figures.

    python benchmarks/lambda_model.py --capture-fps 12 --cold-overhead 4.5 \\
        [--warm-overhead 0.6] [--plan-seconds 6] [--assemble-seconds 2] \\
        [--s3-mb-per-s 90] [--page-mb 2] [--frames-mb 120] [--output-mb 40] \\
        [--core-speed 1.0] [--seconds 60] [--fps 30] [--memory-mb 10240]

``benchmarks/lambda_cold_start.py`` measures the inputs in the Lambda-like sandbox and calls
:func:`print_model` itself; this entry point reprints the table for other figures.

The model, per chunk count N (every chunk in parallel, one fresh container each, as a
render's fan-out finds them):

    chunk  = cold overhead + download / S3 + frames / N / capture fps + upload / S3
    wall   = plan + slowest chunk + assemble + Step Functions' transitions
    cost   = Lambda GB-seconds of plan + N chunks + assemble, requests, transitions, S3 requests

``capture fps`` is what one chunk captured and encoded per second in the sandbox at 1080p
with the Lambda flags (two browser pages: ``default_page_count`` caps a chunk at two pages
whatever the cores, so a 6-vCPU function runs the same two pages, with cores to spare for
ffmpeg and the download). ``--core-speed`` scales it by the speed of one Lambda vCPU against
one core of the machine that measured it (1.0: the same). S3 throughput is a stated
parameter (moto on loopback is not S3); ``--frames-mb`` is the plan's extracted video frames
(every chunk downloads the page and its 1/N share, see benchmarks/plan_artifacts_bench.py).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass

from hyperframes_lambda.aws.prices import prices_for

CHUNK_COUNTS = (8, 16, 32, 64)
SFN_FIXED_TRANSITIONS = 8  # start, plan, index list, choice, map start/end, assemble, end
SFN_SECONDS_PER_TRANSITION = 0.05  # Step Functions' own latency between states


@dataclass(frozen=True)
class Measured:
    capture_fps: float  # frames/s of one chunk (two pages) at 1080p, this machine
    cold_overhead: float  # seconds: a fresh container's chunk beyond its frames
    warm_overhead: float = 0.6
    plan_seconds: float = 6.0
    assemble_seconds: float = 2.0
    s3_mb_per_s: float = 90.0
    page_mb: float = 2.0
    frames_mb: float = 120.0
    output_mb: float = 40.0
    core_speed: float = 1.0
    seconds: float = 60.0
    fps: float = 30.0
    memory_mb: int = 10240


@dataclass(frozen=True)
class Modelled:
    chunks: int
    chunk_seconds: float
    wall_seconds: float
    cost_usd: float


def model(m: Measured, chunks: int, region: str = "us-east-1") -> Modelled:
    prices = prices_for(region)
    frames = math.ceil(m.seconds * m.fps)
    per_chunk = math.ceil(frames / chunks)
    fps = m.capture_fps * m.core_speed
    download = m.page_mb + m.frames_mb / chunks
    upload = m.output_mb / chunks
    chunk_s = m.cold_overhead + (download + upload) / m.s3_mb_per_s + per_chunk / fps
    transitions = SFN_FIXED_TRANSITIONS + 2 * chunks
    wall = m.plan_seconds + chunk_s + m.assemble_seconds + transitions * SFN_SECONDS_PER_TRANSITION
    gb = m.memory_mb / 1024
    gb_seconds = gb * (m.plan_seconds + chunks * chunk_s + m.assemble_seconds)
    invocations = chunks + 2
    s3_gets = chunks * 3 + chunks + 2  # core, page, frames per chunk; assemble's chunks
    s3_puts = 1 + 4 + chunks * 3 + 1  # plan objects, chunks and their heartbeats, output
    cost = (
        gb_seconds * prices.lambda_gb_second
        + gb_seconds * max(0.0, 10.0 - 0.5) * prices.ephemeral_gb_second / gb
        + invocations * prices.lambda_request
        + transitions * prices.sfn_transition
        + s3_gets * prices.s3_get
        + s3_puts * prices.s3_put
    )
    return Modelled(chunks, chunk_s, wall, cost)


def print_model(m: Measured, counts: tuple[int, ...] = CHUNK_COUNTS) -> None:
    print(
        f"\nmodel: {m.seconds:g} s at {m.fps:g} fps, 1080p, {m.memory_mb} MB function "
        f"(6 vCPUs), capture {m.capture_fps:.1f} fps per chunk x core speed {m.core_speed:g}, "
        f"cold overhead {m.cold_overhead:.2f} s, S3 {m.s3_mb_per_s:g} MB/s (stated), "
        f"plan {m.plan_seconds:g} s, assemble {m.assemble_seconds:g} s"
    )
    print(f"{'chunks':>6} {'chunk s':>8} {'wall s':>8} {'cost $':>8}")
    for chunks in counts:
        r = model(m, chunks)
        print(f"{r.chunks:>6} {r.chunk_seconds:>8.1f} {r.wall_seconds:>8.1f} {r.cost_usd:>8.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    defaults = Measured(capture_fps=0.0, cold_overhead=0.0)
    parser.add_argument("--capture-fps", type=float, required=True)
    parser.add_argument("--cold-overhead", type=float, required=True)
    for name in ("warm_overhead", "plan_seconds", "assemble_seconds", "s3_mb_per_s", "page_mb",
                 "frames_mb", "output_mb", "core_speed", "seconds", "fps"):  # fmt: skip
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name)
        )
    parser.add_argument("--memory-mb", type=int, default=defaults.memory_mb)
    args = parser.parse_args(argv)
    print_model(Measured(**vars(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
