"""How much memory a browser holds, read from ``/proc`` (Linux, where the renderer runs).

A browser is a process tree: one process with ``--single-process`` (Lambda), a browser
process with GPU, network and renderer children otherwise. Its memory is the sum over the
tree. Two measures:

* ``rss``: resident set size (``VmRSS``), what ``ps`` and ``top`` show; it counts shared
  pages (the 200 MB executable mapped in every process) once per process.
* ``private``: anonymous + shared-memory resident pages (``RssAnon + RssShmem``), what a
  page's allocations (JS heap, canvases, decoded images, a parsed ``data:`` URL) grow and
  what is never given back to the page cache: the measure the budgets compare against.

Children come from ``/proc/<pid>/task/<tid>/children`` (no scan of every process): cheap
enough to poll every ~100 ms while a page loads and renders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


@dataclass(frozen=True)
class TreeMemory:
    """The memory of a process and its descendants, in bytes, and how many processes."""

    rss: int
    private: int
    processes: int


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children, their children…), not ``pid`` itself."""
    found: list[int] = []
    queue = [pid]
    while queue:
        parent = queue.pop()
        try:
            tasks = os.listdir(_PROC / str(parent) / "task")
        except OSError:
            continue
        for tid in tasks:
            try:
                text = (_PROC / str(parent) / "task" / tid / "children").read_text()
            except OSError:
                continue
            for child in text.split():
                found.append(int(child))
                queue.append(int(child))
    return found


def _status_kib(pid: int) -> tuple[int, int] | None:
    """(VmRSS, RssAnon + RssShmem) of one process in KiB; None when it is gone."""
    try:
        text = (_PROC / str(pid) / "status").read_text()
    except OSError:
        return None
    fields: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssShmem"):
            fields[name] = int(value.split()[0])
    return fields.get("VmRSS", 0), fields.get("RssAnon", 0) + fields.get("RssShmem", 0)


def tree_memory(pid: int) -> TreeMemory:
    """The memory of ``pid`` and all its descendants (zero when it is gone)."""
    rss = private = processes = 0
    for member in (pid, *descendants(pid)):
        status = _status_kib(member)
        if status is None:
            continue
        rss += status[0] * 1024
        private += status[1] * 1024
        processes += 1
    return TreeMemory(rss, private, processes)


def total_memory_bytes() -> int:
    """This machine's memory (``MemTotal``), or 0 if unknown."""
    try:
        for line in (_PROC / "meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
