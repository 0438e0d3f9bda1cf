"""Bytes each chunk downloads, and the plan stage's /tmp peak, for a 60 s 1080p composition
with a full-length background video (issue 22 item 4: goal ≤ 1/8 of the plan per chunk).

    .venv/bin/python benchmarks/plan_artifacts_bench.py [--seconds 60] [--chunks 16]
        [--bitrate 400k] [--render-chunk N]

Makes the source with ffmpeg (testsrc2 1920x1080 at 30 fps with a sine soundtrack, at a
low bitrate so it is quick), plans it with the Lambda handler (``file://`` storage in a
temporary directory; /tmp is a fresh directory whose disk use is sampled every 50 ms),
then for every chunk fetches what renderChunk fetches (the handler's own ``fetch_plan``,
its storage reads counted) without rendering. ``--render-chunk N`` also renders chunk N
through the handler, to show the fetched part renders. "Whole plan" is every stored object
of the plan (core + artifacts); the old layout's one archive also held the source video.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from hyperframes_lambda.handler import dispatch
from hyperframes_lambda.handler.storage import Storage
from hyperframes_lambda.local.step_functions import LocalContext, pack_project
from hyperframes_lambda.media.ffmpeg import ffmpeg_exe

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>
  html, body {{ margin: 0; }}
  #root {{ position: relative; width: 1920px; height: 1080px; background: #000; overflow: hidden; }}
  video {{ position: absolute; inset: 0; width: 1920px; height: 1080px; object-fit: cover; }}
  h1 {{ position: absolute; left: 120px; top: 420px; color: #fff; font: 700 120px sans-serif; }}
</style></head>
<body>
<div id="root" data-composition-id="bg" data-width="1920" data-height="1080"
     data-duration="{seconds}">
  <video id="bg" src="background.mp4" data-start="0" data-duration="{seconds}"></video>
  <h1 class="clip" data-start="0" data-duration="{seconds}">Background video</h1>
</div>
</body></html>
"""


class CountingStorage(Storage):
    """The real storage; counts what each download brought."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str, int]] = []

    def download(self, uri: str, dest: Path, expected_sha256: str | None = None) -> Path:
        path = super().download(uri, dest, expected_sha256)
        self.reads.append((uri, path.stat().st_size))
        return path


class DiskPeak:
    """Samples the bytes under a directory every ``interval`` seconds; keeps the peak."""

    def __init__(self, root: Path, interval: float = 0.05) -> None:
        self.root, self.interval, self.peak = root, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for base, _dirs, files in os.walk(self.root):
                for name in files:
                    with contextlib.suppress(OSError):  # removed while we looked
                        total += os.lstat(os.path.join(base, name)).st_blocks * 512
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> DiskPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def make_project(project: Path, seconds: int, bitrate: str) -> Path:
    project.mkdir(parents=True)
    (project / "index.html").write_text(PAGE.format(seconds=seconds), encoding="utf-8")
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", f"testsrc2=s=1920x1080:r=30:d={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-b:v", bitrate, "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", str(project / "background.mp4")],
        check=True,
    )  # fmt: skip
    return project / "background.mp4"


def mb(n: float) -> str:
    return f"{n / 1e6:8.2f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--chunks", type=int, default=16)
    parser.add_argument("--bitrate", default="400k", help="the source video's bitrate")
    parser.add_argument("--render-chunk", type=int, help="also render this chunk")
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    with tempfile.TemporaryDirectory(prefix="hf-artifacts-bench-") as scratch_name:
        scratch = Path(scratch_name)
        t = time.perf_counter()
        source = make_project(scratch / "project", args.seconds, args.bitrate)
        print(f"source video: {mb(source.stat().st_size)} ({time.perf_counter() - t:.1f}s to make)")
        store_root = scratch / "store"
        store_root.mkdir()
        archive = pack_project(scratch / "project", scratch / "project.tar.gz")
        project_uri = f"file://{store_root}/projects/bg.tar.gz"
        Storage().upload(archive, project_uri)
        lambda_tmp = scratch / "lambda-tmp"
        lambda_tmp.mkdir()
        tempfile.tempdir = str(lambda_tmp)  # the handler's work directories go here
        storage = CountingStorage()
        context = LocalContext(aws_request_id="bench")
        prefix = f"file://{store_root}/renders/bench/"
        t = time.perf_counter()
        with DiskPeak(lambda_tmp) as disk:
            planned: dict[str, Any] = dispatch.handler(
                {"Action": "plan", "ProjectS3Uri": project_uri, "PlanOutputS3Prefix": prefix,
                 "Config": {"maxParallelChunks": args.chunks}},
                context,
            )  # fmt: skip
        plan_seconds = time.perf_counter() - t
        stored = store_root / "renders" / "bench"
        core = (stored / "plan.tar.gz").stat().st_size
        # (file:// storage keeps each object's metadata in a dot-file beside it)
        artifacts = sorted(p for p in (stored / "artifacts").iterdir() if p.name[0] != ".")
        whole = core + sum(p.stat().st_size for p in artifacts)
        print(
            f"plan: {planned['TotalFrames']} frames, {planned['ChunkCount']} chunks, "
            f"{plan_seconds:.1f}s; /tmp peak {mb(disk.peak)}"
        )
        print(
            f"stored plan: core {mb(core)} + {len(artifacts)} artifacts = {mb(whole)} "
            f"(the old single archive also held the source: ~{mb(whole + source.stat().st_size)})"
        )
        print(f"{'chunk':>5} {'objects':>8} {'downloaded':>12} {'of plan':>8}")
        worst = 0.0
        for index in range(int(planned["ChunkCount"])):
            storage.reads.clear()
            work = scratch / f"chunk-{index}"
            work.mkdir()
            dispatch.fetch_plan(
                planned["PlanS3Uri"], work, planned["PlanHash"],
                dispatch.chunk_artifacts(index), store=storage,
            )  # fmt: skip
            fetched = sum(size for _uri, size in storage.reads)
            worst = max(worst, fetched / whole)
            print(f"{index:>5} {len(storage.reads):>8} {mb(fetched):>12} {fetched / whole:>8.1%}")
            shutil.rmtree(work)
        print(f"largest chunk download: {worst:.1%} of the plan (goal <= 12.5%)")
        if args.render_chunk is not None:
            t = time.perf_counter()
            result = dispatch.handler(
                {"Action": "renderChunk", "PlanS3Uri": planned["PlanS3Uri"],
                 "PlanHash": planned["PlanHash"], "ChunkIndex": args.render_chunk,
                 "ChunkOutputS3Prefix": prefix + "chunks/", "Format": "mp4"},
                context,
            )  # fmt: skip
            print(
                f"rendered chunk {args.render_chunk}: {result['FramesEncoded']} frames in "
                f"{time.perf_counter() - t:.1f}s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
