"""What rendering with HyperFrames' official runtime costs, against another build of ours.

    .venv/bin/python benchmarks/runtime_cost_bench.py --baseline-src /tmp/hf-base/src \\
        [--project examples/title-card ...] [--repeat 3]

Runs the same measurements with this checkout's package and with the package at
``--baseline-src`` (e.g. a ``git worktree`` of the commit before the runtime switch), in
alternating subprocesses so both see the same machine load, and prints medians and ratios:

- capture fps: one browser, JPEG q90 at the composition's size, every frame of the
  composition (seek + BeginFrame + screenshot), browser start excluded;
- end-to-end fps: ``render_local`` with default options (plan, one chunk, assemble), the
  quality preset of each build (so the capture quality may differ: say so when reporting).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROJECTS = (
    ROOT / "examples" / "title-card",
    ROOT / "examples" / "css-nested",
    ROOT.parent / "shared" / "conformance" / "fixtures" / "many-cuts",
    ROOT.parent / "shared" / "conformance" / "fixtures" / "mp4-h264-sdr",
)

# Runs in a subprocess against whichever package is first on PYTHONPATH.
MEASURE = r"""
import json, sys, tempfile, time
from pathlib import Path
from hyperframes_lambda.capture.page_capture import CaptureSettings
from hyperframes_lambda.compile.project import compile_project
from hyperframes_lambda.compile.composition import read_composition
from hyperframes_lambda.capture.frame_source import open_frame_sources
from hyperframes_lambda.net.remote_assets import RemoteFetcher
from hyperframes_lambda.runner.local_render import RenderOptions, render_local
from hyperframes_lambda.timing import frame_count

project = Path(sys.argv[1])
info = read_composition(project, "index.html")
with tempfile.TemporaryDirectory() as work:
    compiled = compile_project(project, Path(work) / "compiled", RemoteFetcher())
    settings = CaptureSettings(css_width=info.width, css_height=info.height, width=info.width,
                               height=info.height, fps=30, image_format="jpeg", jpeg_quality=90)
    with open_frame_sources(compiled.root, compiled.entry, settings, 1) as pages:
        total = frame_count(pages[0].duration, 30)
        t0 = time.perf_counter()
        for i in range(total):
            pages[0].capture(i)
        capture_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = render_local(project, Path(work) / "out.mp4", RenderOptions(fps=30))
    e2e_s = time.perf_counter() - t0
print(json.dumps({"frames": total, "capture_fps": total / capture_s,
                  "e2e_frames": result.frames, "e2e_fps": result.frames / e2e_s}))
"""


def measure(src: Path, project: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(project)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{src} on {project.name} failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _staged(project: Path, staging: Path) -> Path:
    """A conformance fixture is copied with its shared media beside it (its links are
    restored, see benchmarks/conformance.py); anything else is used in place."""
    if not (project / "meta.json").is_file():
        return project
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import conformance

    fixture = conformance.load_fixtures(project.parent, project.parent, [project.name])[0]
    return conformance.stage_fixture(fixture, staging)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-src", type=Path, required=True, help="another build's src/")
    parser.add_argument("--project", type=Path, action="append", help="repeatable")
    parser.add_argument("--repeat", type=int, default=3, help="runs per build; medians")
    args = parser.parse_args()
    current = ROOT / "src"
    projects = args.project or [p for p in DEFAULT_PROJECTS if p.is_dir()]
    print(f"baseline {args.baseline_src} vs current {current}; {args.repeat} runs each, medians")
    print(f"{'project':28s} {'capture fps base→now':>24s} {'ratio':>6s} "
          f"{'e2e fps base→now':>20s} {'ratio':>6s}")  # fmt: skip
    with tempfile.TemporaryDirectory() as staging:
        for given in projects:
            project = _staged(given, Path(staging))
            runs: dict[str, list[dict[str, float]]] = {"base": [], "now": []}
            for _ in range(args.repeat):
                runs["base"].append(measure(args.baseline_src, project))
                runs["now"].append(measure(current, project))
            med = {
                side: {k: statistics.median(r[k] for r in rs) for k in ("capture_fps", "e2e_fps")}
                for side, rs in runs.items()
            }
            b, n = med["base"], med["now"]
            print(
                f"{project.name:28s} {b['capture_fps']:10.1f} → {n['capture_fps']:6.1f}"
                f"       {n['capture_fps'] / b['capture_fps']:5.2f}x "
                f"{b['e2e_fps']:8.1f} → {n['e2e_fps']:6.1f}    {n['e2e_fps'] / b['e2e_fps']:5.2f}x",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
