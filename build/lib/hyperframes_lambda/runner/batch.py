"""Render a rows file on this machine: ``hyperframes-lambda render PROJECT --rows rows.jsonl
-o 'out/{id}.mp4'``.

Rows render one after another in this process, each with all its frames in one chunk, and
every row's pages open in the same browsers (a :class:`~hyperframes_lambda.browser.pool.
BrowserPool`): a batch launches ``pages`` browsers once instead of once per row, which is
most of what a short personalised video costs. A row that fails is recorded with its error
code and the next row renders; the results JSONL (one object per row, in row order) is
written whole at the end, beside a one-line summary.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..batch.rows import Row, output_collisions
from ..browser.pool import BrowserPool
from ..errors import BatchRowsInvalidError, InternalError, RenderError
from .local_render import RenderOptions, render_local


@dataclass(frozen=True)
class RowResult:
    """One row's outcome, as a line of the results JSONL."""

    index: int
    id: str
    status: str  # "succeeded" or "failed"
    output: str | None
    duration_s: float
    frames: int = 0
    error: str | None = None
    cause: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.index + 1, "id": self.id, "status": self.status,
            "output": self.output, "durationS": round(self.duration_s, 3),
            "frames": self.frames, "costUsd": None, "error": self.error, "cause": self.cause,
        }  # fmt: skip


@dataclass(frozen=True)
class LocalBatchResult:
    rows: list[RowResult]
    results_path: Path
    wall_seconds: float
    browser_launches: int

    @property
    def failed(self) -> list[RowResult]:
        return [r for r in self.rows if r.status != "succeeded"]

    def summary(self) -> str:
        done = len(self.rows) - len(self.failed)
        rate = len(self.rows) / self.wall_seconds * 60 if self.wall_seconds else 0.0
        return (
            f"{done}/{len(self.rows)} rows rendered, {len(self.failed)} failed in "
            f"{self.wall_seconds:.1f}s ({rate:.1f} rows/min, {self.browser_launches} browser "
            f"launch(es)); results: {self.results_path}"
        )


def plan_outputs(rows: list[Row], template: str) -> dict[str, Path]:
    """Every row's output path; two rows writing one file is refused before any work."""
    outputs = {row.id: row.local_output(template) for row in rows}
    clashes = output_collisions({k: str(v.resolve()) for k, v in outputs.items()})
    if clashes:
        raise BatchRowsInvalidError(
            f"{'; '.join(clashes[:5])}: use {{id}} in -o or give each row its own output"
        )
    return outputs


def render_rows(
    project: Path,
    rows: list[Row],
    template: str,
    options: RenderOptions,
    results_path: Path,
    *,
    on_row: Callable[[RowResult, int, int], None] | None = None,
    pool: BrowserPool | None = None,
) -> LocalBatchResult:
    """Render every row; never stops at a failed row. ``options`` are the batch's; a row's
    ``variables`` merge over ``options.variables`` and its ``config`` over the rest."""
    outputs = plan_outputs(rows, template)
    own_pool = pool is None
    pool = pool or BrowserPool()
    started = time.perf_counter()
    results: list[RowResult] = []
    base = replace(options, chunks=1, chunk_size=None, workers=1)
    try:
        for position, row in enumerate(rows):
            variables = {**dict(options.variables), **(row.variables or {})}
            row_options = replace(
                base, variables=variables, config_overrides=row.config,
                lint=options.lint and position == 0,  # one project: lint it once
            )  # fmt: skip
            results.append(_render_row(project, row, outputs[row.id], row_options, pool))
            if on_row is not None:
                on_row(results[-1], position + 1, len(rows))
    finally:
        launches = pool.launches
        if own_pool:
            pool.close()
    write_results(results_path, [r.as_dict() for r in results])
    return LocalBatchResult(results, results_path, time.perf_counter() - started, launches)


def _render_row(
    project: Path, row: Row, output: Path, options: RenderOptions, pool: BrowserPool
) -> RowResult:
    started = time.perf_counter()
    try:
        result = render_local(project, output, options, browser_pool=pool)
    except RenderError as exc:
        return RowResult(
            row.index, row.id, "failed", None, time.perf_counter() - started,
            error=exc.code, cause=str(exc),
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - one row's bug must not stop the batch
        error = InternalError(f"{type(exc).__name__}: {exc}")
        return RowResult(
            row.index, row.id, "failed", None, time.perf_counter() - started,
            error=error.code, cause=str(error),
        )  # fmt: skip
    return RowResult(
        row.index, row.id, "succeeded", str(output), time.perf_counter() - started,
        frames=result.frames,
    )  # fmt: skip


def write_results(path: Path, lines: list[dict[str, Any]]) -> None:
    """The results JSONL, whole or not at all (a temporary file renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            for line in lines:
                handle.write(json.dumps(line, sort_keys=True) + "\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
