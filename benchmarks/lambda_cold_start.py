"""Cold start and warm per-chunk overhead of the Lambda ZIP, in the Lambda-like sandbox.

    python benchmarks/lambda_cold_start.py [--zip build/dist/hyperframes-lambda.zip]
        [--project tests/compositions/lambda-zip] [--warm 5] [--npm gsap@3.12.5]

Runs the extracted ZIP under Python 3.12 in bubblewrap through awslambdaric
(build/lambda_sandbox.py), S3 on a local moto server, the composition's npm packages from a
loopback registry mirror. The plan uses one frame per chunk, so a chunk's duration is its
overhead plus one frame. It measures, each in a fresh container (its own empty /tmp):

- init: starting the runtime client until it polls for work (Python + handler imports; with
  --prewarm the handler starts decompressing Chromium and ffmpeg in the background);
- cold renderChunk: (the rest of) decompressing Chromium and ffmpeg to /tmp, launching the
  browser, loading the page, capturing and encoding the first frame, uploading;
- warm renderChunk: the next chunks in the same container (the per-chunk overhead);
- capture fps at 1080p with the Lambda flags: --fps-frames frames of --fps-project (1920x1080)
  as one chunk in that warm container, its duration less the warm overhead.

Then prints the modelled wall time and cost of a --model-seconds 1080p30 render at 8, 16,
32 and 64 chunks (benchmarks/lambda_model.py: how the figures are scaled, and S3
throughput taken as the stated --s3-mb-per-s, since moto on loopback is not S3).
Prints numbers only; nothing is asserted (timings depend on the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "build"))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "src"))

import lambda_model  # noqa: E402
import lambda_sandbox  # noqa: E402

from hyperframes_lambda.local.rie import LocalLambda  # noqa: E402
from hyperframes_lambda.local.step_functions import pack_project  # noqa: E402


def _invoke(emulator: LocalLambda, event: dict[str, Any]) -> tuple[dict[str, Any], float]:
    outcome = emulator.invoke(event, timeout=900)
    if not outcome.ok:
        raise SystemExit(f"{event['Action']} failed: {outcome.error_type}: {outcome.payload}")
    payload: dict[str, Any] = outcome.payload
    return payload, outcome.duration_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--zip", type=Path, default=ROOT / "build/dist/hyperframes-lambda.zip")
    parser.add_argument("--project", type=Path, default=ROOT / "tests/compositions/lambda-zip")
    parser.add_argument("--warm", type=int, default=5, help="warm chunks to time")
    parser.add_argument("--npm", action="append", default=None, help="name@version to mirror")
    parser.add_argument(
        "--prewarm", action="store_true", help="decompress at init (HYPERFRAMES_PREWARM=1)"
    )
    parser.add_argument(
        "--fps-project", type=Path, default=ROOT / "benchmarks/compositions/busy",
        help="a 1920x1080 composition for the capture-fps measurement",
    )  # fmt: skip
    parser.add_argument("--fps-frames", type=int, default=60, help="frames it captures")
    parser.add_argument("--s3-mb-per-s", type=float, default=90.0, help="stated S3 throughput")
    parser.add_argument("--core-speed", type=float, default=1.0, help="Lambda vCPU / this core")
    parser.add_argument("--model-seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    if not args.zip.is_file():
        print(f"{args.zip} does not exist: run `make zip` first", file=sys.stderr)
        return 2
    python = lambda_sandbox.find_python312()
    bwrap = lambda_sandbox.find_bwrap()
    if python is None or bwrap is None:
        print("needs Python 3.12 and a working bwrap (see build/lambda_sandbox.py)")
        return 2
    packages = [tuple(p.rsplit("@", 1)) for p in (args.npm or ["gsap@3.12.5"])]

    import boto3
    from moto.server import ThreadedMotoServer

    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    os.environ.update({**creds, "AWS_DEFAULT_REGION": "us-east-1"})
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=bucket)

    with (
        tempfile.TemporaryDirectory(prefix="hf-bench-lambda-") as scratch,
        lambda_sandbox.npm_mirror([(n, v) for n, v in packages]) as mirror,
    ):
        work = Path(scratch)
        started = time.perf_counter()
        task = lambda_sandbox.extract_zip(args.zip, work / "task")
        runtime = lambda_sandbox.install_runtime(work / "runtime")
        print(
            f"extracted the ZIP and installed awslambdaric in {time.perf_counter() - started:.1f}s"
        )
        sandbox = lambda_sandbox.Sandbox(
            task, runtime, work / "containers", python, bwrap,
            env={**creds, "AWS_SESSION_TOKEN": "testing", "AWS_ENDPOINT_URL": endpoint,
                 "HYPERFRAMES_S3_ENDPOINT_URL": endpoint, "HYPERFRAMES_NPM_REGISTRY": mirror.url,
                 "HYPERFRAMES_PREWARM": "1" if args.prewarm else "0"},
        )  # fmt: skip
        launcher = str(sandbox.launcher(work / "launcher"))
        archive = pack_project(args.project, work / "project.tar.gz")
        s3.upload_file(str(archive), bucket, "projects/bench.tar.gz")
        prefix = f"s3://{bucket}/renders/bench/"
        log = (work / "lambda.log").open("w")

        def container() -> tuple[LocalLambda, float]:
            begun = time.perf_counter()
            emulator = LocalLambda(python=launcher, stdout=log, stderr=log).start()
            return emulator, time.perf_counter() - begun

        rows: list[tuple[str, float]] = []
        emulator, init_s = container()
        rows.append(("init (container 1: runtime client polling)", init_s))
        planned, plan_s = _invoke(
            emulator,
            {"Action": "plan", "ProjectS3Uri": f"s3://{bucket}/projects/bench.tar.gz",
             "PlanOutputS3Prefix": prefix,
             "Config": {"chunkSize": 1, "maxParallelChunks": 256}},
        )  # fmt: skip
        emulator.stop()
        rows.append(("cold plan (decompress, launch, compile, probe)", plan_s))
        chunk_count = int(planned["ChunkCount"])
        warm = min(args.warm, chunk_count - 1)

        def chunk(index: int) -> tuple[dict[str, Any], float]:
            return _invoke(
                emulator,
                {"Action": "renderChunk", "PlanS3Uri": planned["PlanS3Uri"],
                 "PlanHash": planned["PlanHash"], "ChunkIndex": index,
                 "ChunkOutputS3Prefix": f"{prefix}chunks/", "Format": planned["Format"]},
            )  # fmt: skip

        emulator, init_s = container()
        rows.append(("init (container 2)", init_s))
        first, cold_s = chunk(0)
        rows.append((f"cold renderChunk ({first['FramesEncoded']} frame)", cold_s))
        warm_s = [chunk(i)[1] for i in range(1, warm + 1)]
        fps_archive = pack_project(args.fps_project, work / "fps-project.tar.gz")
        s3.upload_file(str(fps_archive), bucket, "projects/fps.tar.gz")
        fps_prefix = f"s3://{bucket}/renders/fps/"
        fps_plan, _ = _invoke(
            emulator,
            {"Action": "plan", "ProjectS3Uri": f"s3://{bucket}/projects/fps.tar.gz",
             "PlanOutputS3Prefix": fps_prefix,
             "Config": {"maxParallelChunks": 1, "frameRange": [0, args.fps_frames - 1]}},
        )  # fmt: skip
        fps_chunk, fps_chunk_s = _invoke(
            emulator,
            {"Action": "renderChunk", "PlanS3Uri": fps_plan["PlanS3Uri"],
             "PlanHash": fps_plan["PlanHash"], "ChunkIndex": 0,
             "ChunkOutputS3Prefix": f"{fps_prefix}chunks/", "Format": fps_plan["Format"]},
        )  # fmt: skip
        emulator.stop()
        log.close()
        for i, seconds in enumerate(warm_s, 1):
            rows.append((f"warm renderChunk {i}", seconds))
        marker_files = sorted((work / "containers").glob("*/hf-chromium-*/.complete"))
        chromium_extract = [json.loads(m.read_text())["extract_seconds"] for m in marker_files]

    moto.stop()
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    width = max(len(label) for label, _ in rows)
    print(f"\n{'':{width}}  seconds")
    for label, seconds in rows:
        print(f"{label:{width}}  {seconds:7.2f}")
    if warm_s:
        median = statistics.median(warm_s)
        print(f"\nwarm per-chunk overhead (median of {len(warm_s)}): {median:.2f}s")
        print(f"cold minus warm (decompression + first launch): {cold_s - median:.2f}s")
    if chromium_extract:
        print(f"Chromium decompression to /tmp per container: {chromium_extract} s")
    overhead = statistics.median(warm_s) if warm_s else 0.0
    frames = int(fps_chunk["FramesEncoded"])
    capture_fps = frames / max(1e-6, fps_chunk_s - overhead)
    print(
        f"\n1080p chunk in a warm container: {frames} frames in {fps_chunk_s:.2f}s, "
        f"{capture_fps:.1f} frames/s beyond the warm overhead ({fps_plan['Width']}x"
        f"{fps_plan['Height']}, two pages, Lambda flags)"
    )
    lambda_model.print_model(
        lambda_model.Measured(
            capture_fps=capture_fps,
            cold_overhead=cold_s,
            warm_overhead=overhead,
            plan_seconds=plan_s,
            s3_mb_per_s=args.s3_mb_per_s,
            core_speed=args.core_speed,
            seconds=args.model_seconds,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
