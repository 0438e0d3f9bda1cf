"""Where downloaded things live on this machine, and how they get there safely.

One root for every cache (npm tarballs, remote assets, the Chromium install) so a user can
move or wipe it with one variable. Files are written atomically: a reader (or a Lambda
container re-entered after a timeout) never sees a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

ENV_CACHE_DIR = "HYPERFRAMES_CACHE_DIR"
APP_NAME = "hyperframes-lambda"


def cache_root() -> Path:
    """``$HYPERFRAMES_CACHE_DIR``, else ``$XDG_CACHE_HOME/hyperframes-lambda``, else ~/.cache."""
    explicit = os.environ.get(ENV_CACHE_DIR)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / APP_NAME
    return Path.home() / ".cache" / APP_NAME


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
