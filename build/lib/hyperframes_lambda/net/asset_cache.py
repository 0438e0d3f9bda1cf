"""The on-disk cache of fetched remote assets: size-bounded, least recently used out first.

Why: on Lambda the cache lives in the warm container's ``/tmp``, which every later
invocation shares (plan work dirs, chunks, the browser's profile). Without a bound a few
plans fetching large assets fill it and a later render fails for want of disk. Each entry
is ``<sha256(url)>`` (the body) and ``<sha256(url)>.json`` (url, source, sha256, size);
a hit touches the body's mtime, and committing an entry evicts the least recently used
entries until the cache fits its bound. An asset larger than the whole bound is not
cached at all (the render still gets it).

Processes share the directory (parallel local renders): commits and evictions hold an
``flock`` on ``.lock``; a reader holds an open handle, so an entry evicted under it stays
readable until it is closed (POSIX unlink semantics).

The bound is ``HYPERFRAMES_REMOTE_CACHE_MAX_BYTES``; by default a tenth of the function's
ephemeral storage on Lambda (``HYPERFRAMES_EPHEMERAL_STORAGE_MB``, 512 MB when unset: the
Lambda default) and 2 GiB elsewhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import InvalidConfigError

ENV_MAX_BYTES = "HYPERFRAMES_REMOTE_CACHE_MAX_BYTES"
ENV_EPHEMERAL_MB = "HYPERFRAMES_EPHEMERAL_STORAGE_MB"
LAMBDA_DEFAULT_EPHEMERAL_MB = 512
LAMBDA_SHARE = 10  # on Lambda the cache may use 1/10 of /tmp
LOCAL_DEFAULT_MAX_BYTES = 2 * 1024**3
PART_PREFIX = ".part-"
STALE_PART_S = 3600.0  # a download's temp file untouched this long was left by a killed process
LOCK_NAME = ".lock"


def default_max_bytes(environ: Mapping[str, str] | None = None) -> int:
    """The cache bound: ``HYPERFRAMES_REMOTE_CACHE_MAX_BYTES``, or the Lambda/local default."""
    env = os.environ if environ is None else environ
    raw = env.get(ENV_MAX_BYTES, "").strip()
    if raw:
        if not raw.isdigit():
            raise InvalidConfigError(
                f"{ENV_MAX_BYTES}={raw[:40]!r} must be a whole number of bytes"
            )
        return int(raw)
    if env.get("AWS_LAMBDA_FUNCTION_NAME"):
        mb_raw = env.get(ENV_EPHEMERAL_MB, "").strip()
        mb = int(mb_raw) if mb_raw.isdigit() else LAMBDA_DEFAULT_EPHEMERAL_MB
        return mb * 1024 * 1024 // LAMBDA_SHARE
    return LOCAL_DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class CacheHit:
    """An open cached body (positioned at 0) and its recorded metadata."""

    handle: IO[bytes]
    meta: dict[str, Any]


class AssetCache:
    """A directory of fetched bodies keyed by URL, kept under ``max_bytes`` (LRU)."""

    def __init__(self, directory: Path, max_bytes: int | None = None) -> None:
        self.directory = directory
        self.max_bytes = default_max_bytes() if max_bytes is None else max_bytes

    @staticmethod
    def _paths(key: str, directory: Path) -> tuple[Path, Path]:
        return directory / key, directory / f"{key}.json"

    def open(self, key: str) -> CacheHit | None:
        """The cached body for ``key`` (marked as just used), or None."""
        body_path, meta_path = self._paths(key, self.directory)
        try:
            meta = json.loads(meta_path.read_text())
            handle = body_path.open("rb")
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict):
            handle.close()
            return None
        with contextlib.suppress(OSError):  # evicted meanwhile: the open handle still reads
            _touch(body_path)
        return CacheHit(handle, meta)

    def new_part(self) -> IO[bytes]:
        """A temporary file in the cache directory for a download in progress."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return tempfile.NamedTemporaryFile(prefix=PART_PREFIX, dir=self.directory, delete=False)

    def commit(self, key: str, part: Path, meta: dict[str, Any]) -> bool:
        """Make the downloaded ``part`` the entry for ``key`` (evicting older entries to
        make room), or delete it when it alone exceeds the bound. True when cached."""
        body_path, meta_path = self._paths(key, self.directory)
        meta_bytes = json.dumps(meta).encode()
        size = part.stat().st_size + len(meta_bytes)
        with self._locked():
            if size > self.max_bytes:
                part.unlink(missing_ok=True)
                return False
            self._evict(self.max_bytes - size, keep=key)
            fd, meta_tmp = tempfile.mkstemp(prefix=PART_PREFIX, dir=self.directory)
            with os.fdopen(fd, "wb") as handle:
                handle.write(meta_bytes)
            os.chmod(part, 0o644)
            os.chmod(meta_tmp, 0o644)
            _touch(part)
            os.replace(part, body_path)
            os.replace(meta_tmp, meta_path)
        return True

    def size(self) -> int:
        """Bytes the committed entries take."""
        return sum(size for _, size, _ in self._entries())

    def _entries(self) -> list[tuple[str, int, int]]:
        """(key, bytes of body and meta, last use) for every committed entry."""
        sizes: dict[str, int] = {}
        used: dict[str, int] = {}
        try:
            scan = list(os.scandir(self.directory))
        except OSError:
            return []
        for entry in scan:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                stat = entry.stat()
            except OSError:
                continue
            key = name.removesuffix(".json")
            sizes[key] = sizes.get(key, 0) + stat.st_size
            if key == name:
                used[key] = stat.st_mtime_ns
        return [(key, size, used.get(key, 0)) for key, size in sizes.items()]

    def _evict(self, room: int, keep: str) -> None:
        """Delete least recently used entries (and stale parts) until the rest fit ``room``."""
        self._sweep_parts()
        entries = sorted(self._entries(), key=lambda entry: entry[2])
        total = sum(size for _, size, _ in entries)
        for key, size, _ in entries:
            if total <= room:
                break
            if key == keep:
                continue  # replaced in place by the commit
            body_path, meta_path = self._paths(key, self.directory)
            meta_path.unlink(missing_ok=True)
            body_path.unlink(missing_ok=True)
            total -= size

    def _sweep_parts(self) -> None:
        cutoff = time.time() - STALE_PART_S
        for path in self.directory.glob(f"{PART_PREFIX}*"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / LOCK_NAME).open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _touch(path: Path) -> None:
    """Mark ``path`` used now, to the nanosecond (the kernel's own mtime is coarser)."""
    now = time.time_ns()
    os.utime(path, ns=(now, now))
