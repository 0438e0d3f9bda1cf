"""Batches: rows per minute of a local batch against separate renders, and the server-side
batch's cost model per row.

    .venv/bin/python benchmarks/batch_bench.py            # 100 rows (minutes)
    .venv/bin/python benchmarks/batch_bench.py --rows 10  # a quick run
    .venv/bin/python benchmarks/batch_bench.py --rows 10 --skip-moto

- **local batch**: ``hyperframes-lambda render examples/greeting --rows
  rows.jsonl -o 'out/{id}.mp4'`` (a 3 s, 320x180, 30 fps composition; each row its own name
  and colour): one process, the browsers launched once.
- **separate renders**: the same rows as one ``hyperframes-lambda render … --variables``
  process each, one after the other (what a caller looping over rows does today).
- **moto batch**: ``tests/aws/test_batch.py::test_cost_model_per_row`` (the real batch and
  render ASL in moto's interpreter, invokes to the real handler): Lambda invocations and
  state transitions per row, the cost model of a server-side batch.

Both local runs see the same machine; run nothing else heavy meanwhile (the numbers are
wall-clock rows per minute).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "examples" / "greeting"
CLI = str(Path(sys.executable).with_name("hyperframes-lambda"))
COLOURS = ("#c0392b", "#2980b9", "#27ae60", "#8e44ad", "#d35400", "#16a085")


def rows(count: int) -> list[dict[str, object]]:
    return [
        {"id": f"r{i:03d}", "variables": {"name": f"Guest {i}", "color": COLOURS[i % len(COLOURS)]}}
        for i in range(count)
    ]


def local_batch(count: int, work: Path) -> dict[str, float]:
    rows_file = work / "rows.jsonl"
    rows_file.write_text("".join(json.dumps(r) + "\n" for r in rows(count)))
    started = time.perf_counter()
    done = subprocess.run(
        [CLI, "render", str(PROJECT), "--rows", str(rows_file), "-o", f"{work}/batch/{{id}}.mp4",
         "--quiet"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"local batch failed: {done.stderr}")
    print(done.stdout.strip(), file=sys.stderr)
    return {"seconds": wall, "rowsPerMinute": count / wall * 60}


def separate_renders(count: int, work: Path) -> dict[str, float]:
    started = time.perf_counter()
    for row in rows(count):
        done = subprocess.run(
            [CLI, "render", str(PROJECT), "-o", f"{work}/single/{row['id']}.mp4", "--variables",
             json.dumps(row["variables"]), "--quiet"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"render of {row['id']} failed: {done.stderr}")
    wall = time.perf_counter() - started
    return {"seconds": wall, "rowsPerMinute": count / wall * 60}


def moto_batch() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cost.json"
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "tests/aws/test_batch.py::test_cost_model_per_row"],
            cwd=ROOT, env={**os.environ, "HF_BATCH_BENCH_JSON": str(out)},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0 or not out.exists():
            raise SystemExit(f"the moto batch failed:\n{done.stdout[-3000:]}")
        return dict(json.loads(out.read_text()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100, help="rows per local run (default 100)")
    parser.add_argument("--skip-moto", action="store_true", help="only the local comparison")
    parser.add_argument("--skip-separate", action="store_true", help="only the local batch")
    args = parser.parse_args()
    report: dict[str, object] = {"rows": args.rows, "composition": "3 s, 320x180, 30 fps",
                                 "cores": os.cpu_count()}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="hf-batch-bench-") as tmp:
        work = Path(tmp)
        report["localBatch"] = local_batch(args.rows, work)
        if not args.skip_separate:
            report["separateRenders"] = separate_renders(args.rows, work)
            report["speedup"] = round(
                report["separateRenders"]["seconds"] / report["localBatch"]["seconds"],
                2,  # type: ignore[index]
            )
    if not args.skip_moto:
        report["motoBatchPerRow"] = moto_batch()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
