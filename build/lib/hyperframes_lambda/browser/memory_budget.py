"""Memory budgets for browsers and pages, derived from the function's memory.

Why: a Lambda function has a fixed memory size (``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``) and
the OOM killer ends an invocation that exceeds it with an untyped runtime error, mid-chunk.
Two things grow toward that size: a pooled ``--single-process`` browser over many chunks
(measured: ~1.4 MB more per chunk it served, without bound), and a
hostile or careless page (a huge ``data:`` URL, a canvas bomb, an allocation loop). Both are
bounded here, as fractions of the memory the function has (or, outside Lambda, of the
machine's memory):

* ``recycle`` (``HYPERFRAMES_BROWSER_RECYCLE_MB``, default 20 %): a pooled browser whose
  private memory (:mod:`.proc_stats`) is above it is relaunched before its next chunk;
  so is one that served ``HYPERFRAMES_BROWSER_MAX_CHUNKS`` chunks (default 100; 0: no
  limit), which bounds the growth on any function size for ~0.4 s of relaunch per 100
  chunks.
* ``page`` (``HYPERFRAMES_PAGE_MEMORY_MB``, default 35 %): the private memory of the
  browser a page runs in may not pass it while the page loads or renders a frame; past it
  the page fails as ``PAGE_OUT_OF_MEMORY``. V8's old space is capped at the same size
  (``--js-flags=--max-old-space-size``) as a backstop for allocations faster than the watch,
  which looks every ``HYPERFRAMES_PAGE_MEMORY_POLL_S`` seconds (default 0.1).

Pooled browsers carry up to ``recycle`` into a chunk, so ``page`` above ``recycle`` leaves
every page at least the difference (15 % of the memory: 1.5 GB on a 10 GB function).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import InvalidConfigError
from .proc_stats import total_memory_bytes

ENV_FUNCTION_MEMORY = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
ENV_RECYCLE_MB = "HYPERFRAMES_BROWSER_RECYCLE_MB"
ENV_MAX_CHUNKS = "HYPERFRAMES_BROWSER_MAX_CHUNKS"
ENV_PAGE_MB = "HYPERFRAMES_PAGE_MEMORY_MB"
ENV_POLL_S = "HYPERFRAMES_PAGE_MEMORY_POLL_S"
DEFAULT_POLL_S = 0.1

RECYCLE_FRACTION = 0.20
PAGE_FRACTION = 0.35
DEFAULT_MAX_CHUNKS = 100
MIB = 1024 * 1024


@dataclass(frozen=True)
class MemoryBudget:
    """The budgets in force (bytes; ``max_chunks`` 0 means no use limit)."""

    memory: int
    recycle: int
    page: int
    max_chunks: int
    # How often the page's memory is looked at (seconds).
    poll_s: float = DEFAULT_POLL_S

    @property
    def v8_heap_mb(self) -> int:
        """V8's old-space cap for a page, in MB (the page budget)."""
        return max(64, self.page // MIB)

    def launch_flags(self) -> tuple[str, ...]:
        return (f"--js-flags=--max-old-space-size={self.v8_heap_mb}",)


def function_memory_bytes() -> int:
    """The memory the budgets derive from: the Lambda function's, else this machine's."""
    raw = os.environ.get(ENV_FUNCTION_MEMORY, "").strip()
    if raw:
        megabytes = _positive_int(ENV_FUNCTION_MEMORY, raw)
        return megabytes * MIB
    return total_memory_bytes() or 4096 * MIB


def current_budget() -> MemoryBudget:
    """The budgets from the environment, read anew on each call (a warm container's
    settings do not change, but tests and local runs set them per render)."""
    memory = function_memory_bytes()
    return MemoryBudget(
        memory=memory,
        recycle=_megabytes(ENV_RECYCLE_MB, int(memory * RECYCLE_FRACTION)),
        page=_megabytes(ENV_PAGE_MB, int(memory * PAGE_FRACTION)),
        max_chunks=_count(ENV_MAX_CHUNKS),
        poll_s=_seconds(ENV_POLL_S, DEFAULT_POLL_S),
    )


def _positive_int(name: str, raw: str) -> int:
    if not raw.isdigit() or int(raw) <= 0:
        raise InvalidConfigError(f"{name}={raw[:40]!r} must be a positive whole number")
    return int(raw)


def _megabytes(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return _positive_int(name, raw) * MIB if raw else default


def _count(name: str) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return DEFAULT_MAX_CHUNKS
    if not raw.isdigit():
        raise InvalidConfigError(f"{name}={raw[:40]!r} must be a whole number (0: no limit)")
    return int(raw)


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise InvalidConfigError(f"{name}={raw[:40]!r} must be a positive number of seconds")
    return value
