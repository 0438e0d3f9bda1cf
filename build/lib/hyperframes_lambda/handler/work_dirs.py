"""Per-invocation directories under /tmp, and sweeping what killed invocations left.

A Lambda timeout SIGKILLs the runtime: no ``finally`` runs, and the invocation's work
directory (``hf-invoke-*``, up to the size of a chunk or a whole output) and its Chrome
profiles (``hf-chrome-*``) stay in ``/tmp``, which the next invocation in that container
inherits (512 MB by default). So each invocation first removes the ones no live process
owns:

- ``hf-invoke-<pid>-<start>-<random>`` names its creator: the process id and that
  process's start time (``/proc/<pid>/stat``; a pid alone is reused — after a timeout the
  fresh runtime often gets the same one). Stale when no process with that pid and start
  time is alive, or when it is this very process's but not one of its open work dirs.
- ``hf-chrome-*`` (made by the browser launcher) is live while some process has it as
  ``--user-data-dir`` on its command line — the browser pool keeps warm browsers, and their
  profiles, between invocations. A profile nobody uses is stale once it is older than
  ``PROFILE_GRACE_S`` (a concurrent launch creates the directory just before Chrome starts).

Works in one container running one invocation at a time (Lambda) and in a machine running
many handler processes side by side on one /tmp (the local runner).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import threading
import time
from pathlib import Path

INVOKE_PREFIX = "hf-invoke-"
CHROME_PREFIX = "hf-chrome-"
PROFILE_GRACE_S = 120.0
# A work dir whose name records no owner (made by an older version, possibly still running
# beside this one on a shared /tmp) is only swept once nothing can still be using it.
UNNAMED_GRACE_S = 6 * 3600.0
_INVOKE_NAME = re.compile(rf"^{INVOKE_PREFIX}(\d+)-(\d+)-[0-9a-f]+$")

_open_dirs: set[str] = set()
_lock = threading.Lock()


def process_start(pid: int) -> int | None:
    """The start time of process ``pid`` (clock ticks since boot), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])  # field 22 overall
    except (IndexError, ValueError):
        return None


def new_work_dir(root: Path) -> Path:
    """A fresh ``hf-invoke-…`` directory under ``root`` named after this process."""
    pid = os.getpid()
    start = process_start(pid) or 0
    while True:
        path = root / f"{INVOKE_PREFIX}{pid}-{start}-{secrets.token_hex(4)}"
        with _lock:
            try:
                path.mkdir(mode=0o700, parents=False)
            except FileExistsError:
                continue
            _open_dirs.add(path.name)
        return path


def release_work_dir(path: Path) -> None:
    with _lock:
        _open_dirs.discard(path.name)


def _invoke_dir_is_stale(path: Path) -> bool:
    name = path.name
    match = _INVOKE_NAME.match(name)
    if match is None:
        try:
            return time.time() - path.stat().st_mtime > UNNAMED_GRACE_S
        except OSError:
            return False
    pid, start = int(match[1]), int(match[2])
    if pid == os.getpid() and start == (process_start(pid) or 0):
        with _lock:
            return name not in _open_dirs
    alive = process_start(pid)
    return alive is None or alive != start


def _profiles_in_use() -> set[str]:
    """Every ``--user-data-dir`` on a live process's command line."""
    used: set[str] = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for arg in argv:
            if arg.startswith(b"--user-data-dir="):
                used.add(os.path.realpath(arg[len(b"--user-data-dir=") :].decode(errors="replace")))
    return used


def sweep_stale(work_root: Path, temp_root: Path) -> list[Path]:
    """Remove stale ``hf-invoke-*`` under ``work_root`` and ``hf-chrome-*`` under
    ``temp_root``; returns what was removed. Only on Linux (it reads /proc)."""
    if not Path("/proc/self/stat").exists():
        return []
    removed: list[Path] = []
    for path in work_root.glob(f"{INVOKE_PREFIX}*"):
        if path.is_dir() and not path.is_symlink() and _invoke_dir_is_stale(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    profiles = [p for p in temp_root.glob(f"{CHROME_PREFIX}*") if p.is_dir() and not p.is_symlink()]
    if profiles:
        in_use = _profiles_in_use()
        now = time.time()
        for path in profiles:
            try:
                age = now - path.stat().st_mtime
            except OSError:
                continue
            if age > PROFILE_GRACE_S and os.path.realpath(path) not in in_use:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def without_local_paths(message: str, roots: list[Path]) -> str:
    """``message`` with every path below one of ``roots`` (the work root, the temp
    directory) shown from inside its per-invocation directory: ``/tmp/hf-invoke-1-2-ab/
    plan/compiled/v.mp4`` → ``plan/compiled/v.mp4``. An error's cause is shown to whoever
    started the render; the layout of the function's disk is none of their business."""
    names: set[str] = set()
    for root in roots:
        names.update({str(root).rstrip("/"), os.path.realpath(root).rstrip("/")})
    for name in sorted((n for n in names if n), key=len, reverse=True):
        # Not inside a URI or a longer path: s3://bucket/tmp/x stays as it is.
        message = re.sub(r"(?<![\w./:-])" + re.escape(name) + r"/[^/\s'\"]+/?", "", message)
    return message
