"""Soak: many renderChunk calls in one warm process, as a warm Lambda container makes them.

    .venv/bin/python benchmarks/soak_bench.py [--calls 300] [--every 10] [--modes lambda,local]

Each mode runs in a fresh child process of its own, with a ``TMPDIR`` of its own (so the
/tmp column is that process's alone). The child plans a composition once (10-frame chunks)
and then calls ``render_chunk`` ``--calls`` times with one :class:`BrowserPool`, cycling
through the chunks, exactly as the handler does in a warm container (the work directory of
each call removed after it). Modes:

* ``lambda``: Chrome as the handler runs it on Lambda (``AWS_EXECUTION_ENV`` makes
  ``resolve_chrome`` add ``--single-process --no-zygote`` to the pinned sparticuz build),
  ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE`` from ``--memory-mb`` (the budgets derive from it).
* ``local``: the same binary, multi-process (the local default).

Every ``--every`` calls it samples: RSS of Python and of Chrome (every process of every
pooled browser, ``VmRSS`` summed; "priv" is their anonymous + shmem memory, what the
budgets compare), open fds and threads of Python, processes under it, bytes under its
TMPDIR, and the pool's launch/recycle counters. It prints the table and each column's
least-squares slope per 100 calls (over all samples and over the second half), Chrome's
peak RSS in each third of the run (a recycled browser is a sawtooth: equal peaks are its
plateau), and whether every chunk's bytes were identical on every call.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = (
    ("call", "call"),
    ("py_rss_mb", "py RSS MB"),
    ("chrome_rss_mb", "chrome RSS MB"),
    ("chrome_priv_mb", "chrome priv MB"),
    ("fds", "fds"),
    ("threads", "threads"),
    ("processes", "procs"),
    ("tmp_mb", "/tmp MB"),
    ("launches", "launches"),
    ("recycles", "recycles"),
)


def _status(pid: int) -> dict[str, int]:
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "Threads"):
            fields[name] = int(value.split()[0])
    return fields


def _dir_bytes(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # removed meanwhile
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def sample(call: int, pool: Any, tmp: Path) -> dict[str, float]:
    from hyperframes_lambda.browser.proc_stats import descendants, tree_memory

    me = os.getpid()
    status = _status(me)
    rss = priv = 0
    for browser in list(pool._browsers.values()):
        memory = tree_memory(browser.process.pid)
        rss += memory.rss
        priv += memory.private
    return {
        "call": call,
        "py_rss_mb": status["VmRSS"] / 1024,
        "chrome_rss_mb": rss / 2**20,
        "chrome_priv_mb": priv / 2**20,
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": status["Threads"],
        "processes": len(descendants(me)),
        "tmp_mb": _dir_bytes(tmp) / 2**20,
        "launches": getattr(pool, "launches", 0),
        "recycles": getattr(pool, "recycles", 0),
    }


def child(args: argparse.Namespace) -> None:
    """One mode's soak (run in a process of its own by :func:`main`)."""
    from hyperframes_lambda.browser.pool import BrowserPool
    from hyperframes_lambda.runner.local_render import default_page_count
    from hyperframes_lambda.stages.plan import plan
    from hyperframes_lambda.stages.render_chunk import render_chunk

    tmp = Path(tempfile.gettempdir())
    planned = plan(Path(args.project), {"chunkSize": args.frames}, tmp / "plan")
    pool = BrowserPool()
    digests: dict[int, str] = {}
    mismatches = 0
    started = time.monotonic()
    out = Path(args.out)
    try:
        with out.open("w") as samples:
            for call in range(1, args.calls + 1):
                index = (call - 1) % planned.chunk_count
                work = Path(tempfile.mkdtemp(prefix="soak-call-"))
                try:
                    result = render_chunk(
                        planned.plan_dir,
                        index,
                        work / "chunk.mp4",
                        pages=default_page_count(),
                        browser_pool=pool,
                    )
                    digest = hashlib.sha256(result.path.read_bytes()).hexdigest()
                finally:
                    shutil.rmtree(work, ignore_errors=True)
                if digests.setdefault(index, digest) != digest:
                    mismatches += 1
                if call == 1 or call % args.every == 0:
                    row = sample(call, pool, tmp)
                    samples.write(json.dumps(row) + "\n")
                    samples.flush()
                    elapsed = time.monotonic() - started
                    print(
                        f"[{args.child}] call {call}/{args.calls}, {elapsed:.0f}s, "
                        f"chrome {row['chrome_rss_mb']:.0f} MB",
                        file=sys.stderr,
                        flush=True,
                    )
            samples.write(json.dumps({"mismatches": mismatches, "chunks": len(digests)}) + "\n")
    finally:
        pool.close()


def slope_per_100(rows: list[dict[str, float]], key: str) -> float:
    """Least-squares slope of ``key`` against the call number, per 100 calls."""
    if len(rows) < 2:
        return 0.0
    xs = [r["call"] for r in rows]
    ys = [r[key] for r in rows]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 100 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def report(mode: str, rows: list[dict[str, float]], tail: dict[str, int]) -> None:
    print(f"\n## {mode}\n")
    print("| " + " | ".join(title for _, title in COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for row in rows:
        cells = [f"{row[key]:.0f}" if key != "tmp_mb" else f"{row[key]:.1f}" for key, _ in COLUMNS]
        print("| " + " | ".join(cells) + " |")
    half = rows[len(rows) // 2 :]
    for label, subset in (("slope/100 calls (all)", rows), ("slope/100 calls (2nd half)", half)):
        cells = [f"{slope_per_100(subset, key):+.1f}" for key, _ in COLUMNS[1:]]
        print(f"| {label} | " + " | ".join(cells) + " |")
    # A recycled browser's memory is a sawtooth: a plateau shows as equal peaks per third.
    thirds = [rows[i * len(rows) // 3 : (i + 1) * len(rows) // 3] for i in range(3)]
    peaks = [max((r["chrome_rss_mb"] for r in third), default=0.0) for third in thirds]
    print("\nchrome RSS peak per third of the run: " + " / ".join(f"{p:.0f} MB" for p in peaks))
    same = "identical" if tail.get("mismatches") == 0 else f"{tail.get('mismatches')} differed"
    print(f"\nchunk bytes on repeated calls: {same} ({tail.get('chunks')} distinct chunks)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="renderChunk calls per mode")
    parser.add_argument("--every", type=int, default=10, help="sample every N calls")
    parser.add_argument("--frames", type=int, default=10, help="frames per chunk")
    parser.add_argument("--modes", default="lambda,local", help="lambda, local or both")
    parser.add_argument(
        "--project", default=str(ROOT / "tests" / "compositions" / "seams"), help="composition"
    )
    parser.add_argument(
        "--memory-mb", type=int, default=10240, help="AWS_LAMBDA_FUNCTION_MEMORY_SIZE (lambda)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.calls < 1 or args.every < 1 or args.frames < 1:
        parser.error("--calls, --every and --frames must be positive")
    if args.child:
        child(args)
        return
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or any(m not in ("lambda", "local") for m in modes):
        parser.error(f"--modes {args.modes!r}: give lambda, local or lambda,local")
    for mode in modes:
        tmp = Path(tempfile.mkdtemp(prefix=f"hf-soak-{mode}-"))
        env = {**os.environ, "TMPDIR": str(tmp / "tmp")}
        (tmp / "tmp").mkdir()
        env.pop("AWS_LAMBDA_FUNCTION_NAME", None)  # keeps the browser and font caches in $HOME
        if mode == "lambda":
            env["AWS_EXECUTION_ENV"] = "AWS_Lambda_python3.12"
            env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(args.memory_mb)
        else:
            env.pop("AWS_EXECUTION_ENV", None)
            env.pop("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", None)
        out = tmp / "samples.jsonl"
        command = [sys.executable, __file__, "--child", mode, "--out", str(out)]
        command += ["--calls", str(args.calls), "--every", str(args.every)]
        command += ["--frames", str(args.frames), "--project", args.project]
        try:
            subprocess.run(command, env=env, check=True)
            lines = [json.loads(line) for line in out.read_text().splitlines()]
            report(mode, [r for r in lines if "call" in r], lines[-1])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
