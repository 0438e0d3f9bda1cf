"""Where downloaded things live on this machine, and how they get there safely.

One root for every cache (npm tarballs, remote assets, the Chromium install) so a user can
move or wipe it with one variable. Files are written atomically: a reader (or a Lambda
container re-entered after a timeout) never sees a half-written file. A file's digest
(:func:`file_sha256`) is read here too, for the plan hash, storage and the font set.

On Lambda only ``/tmp`` is writable (HOME is read-only), so there the cache lives in
``/tmp/hyperframes-cache``; elsewhere an unwritable home falls back to the temp directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import CacheUnavailableError

ENV_CACHE_DIR = "HYPERFRAMES_CACHE_DIR"
APP_NAME = "hyperframes-lambda"
LAMBDA_CACHE_NAME = "hyperframes-cache"


def cache_root() -> Path:
    """The first writable of: ``$HYPERFRAMES_CACHE_DIR`` (used as given, or an error);
    on Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set) ``<tmp>/hyperframes-cache``; elsewhere
    ``$XDG_CACHE_HOME/hyperframes-lambda`` or ``~/.cache/hyperframes-lambda``, then
    ``<tmp>/hyperframes-cache-<uid>``. The directory exists on return.

    Raises CacheUnavailableError when none of them can be written.
    """
    explicit = os.environ.get(ENV_CACHE_DIR)
    if explicit:
        root = Path(explicit).expanduser()
        if not _writable(root):
            raise CacheUnavailableError(f"{ENV_CACHE_DIR}={explicit} is not a writable directory")
        return root
    tmp = Path(tempfile.gettempdir())
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        candidates = [tmp / LAMBDA_CACHE_NAME]
    else:
        candidates = [*_user_cache_dirs(), tmp / f"{LAMBDA_CACHE_NAME}-{os.getuid()}"]
    for candidate in candidates:
        if _writable(candidate):
            return candidate
    raise CacheUnavailableError(
        "no writable cache directory (tried "
        + ", ".join(str(c) for c in candidates)
        + f"); set {ENV_CACHE_DIR} to a writable directory"
    )


def _user_cache_dirs() -> list[Path]:
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return [Path(xdg).expanduser() / APP_NAME]
    try:
        return [Path.home() / ".cache" / APP_NAME]
    except RuntimeError:  # no HOME and no passwd entry
        return []


def _writable(directory: Path) -> bool:
    """Create ``directory`` if needed; True when this process can write into it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK | os.X_OK)


@contextlib.contextmanager
def atomic_writer(dest: Path) -> Iterator[BinaryIO]:
    """Yield a file in ``dest``'s directory; on success it replaces ``dest`` in one step.

    On any exception the temporary file is removed and ``dest`` is left untouched.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(dest: Path, data: bytes) -> None:
    """Write ``data`` to ``dest`` so that readers see either the old file or all of the new."""
    with atomic_writer(dest) as handle:
        handle.write(data)


@contextlib.contextmanager
def exclusive_lock(dest: Path) -> Iterator[None]:
    """Hold ``.<name>.lock`` next to ``dest`` while installing it, so concurrent processes
    install once; the kernel drops the lock if the process dies."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with (dest.parent / f".{dest.name}.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def file_sha256(path: Path, buffer_size: int = 1 << 20) -> str:
    """The hex SHA-256 of a file, read ``buffer_size`` bytes at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(buffer_size):
            digest.update(block)
    return digest.hexdigest()
