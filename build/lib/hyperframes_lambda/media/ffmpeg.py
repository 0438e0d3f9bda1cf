"""Locate the ffmpeg binary and identify it.

Default: the binary bundled in the ``imageio-ffmpeg`` wheel (ffmpeg 9 with libx264,
libx265, libvpx-vp9, prores_ks, aac, libopus), so no system ffmpeg is needed.
``HYPERFRAMES_FFMPEG_PATH`` overrides it. There is no ffprobe in that wheel, so probing
is done with ffmpeg itself (see :mod:`hyperframes_lambda.media.probe`).

In the Lambda ZIP the same binary ships gzip-compressed as ``ffmpeg/ffmpeg.gz`` (with
``ffmpeg.json``: its SHA-256 and size) and is decompressed once per container to
``/tmp/hf-ffmpeg-<sha256>/ffmpeg``, checked, like the bundled Chromium. So a plan made on a
laptop names the very ffmpeg a Lambda worker runs (no ``FFMPEG_VERSION_MISMATCH``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import FfmpegUnavailableError

ENV_FFMPEG_PATH = "HYPERFRAMES_FFMPEG_PATH"
ENV_BUNDLED_FFMPEG_DIR = "HYPERFRAMES_BUNDLED_FFMPEG_DIR"
BUNDLED_ARCHIVE = "ffmpeg.gz"
BUNDLED_MANIFEST = "ffmpeg.json"
_MARKER = ".complete"
_READ_CHUNK = 4 << 20


@cache
def ffmpeg_exe() -> str:
    override = os.environ.get(ENV_FFMPEG_PATH)
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise FfmpegUnavailableError(f"{ENV_FFMPEG_PATH}={override} is not an executable file")
        return override
    bundled = bundled_ffmpeg_dir()
    if bundled is not None:
        return str(extract_bundled_ffmpeg(bundled, Path(tempfile.gettempdir())))
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception as exc:
        raise FfmpegUnavailableError(
            f"no ffmpeg binary: install the imageio-ffmpeg package or set {ENV_FFMPEG_PATH} ({exc})"
        ) from exc


@cache
def ffmpeg_version_line() -> str:
    """First line of ``ffmpeg -version``: recorded in plans, compared by workers."""
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-version"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0 or not result.stdout:
        raise FfmpegUnavailableError(f"{ffmpeg_exe()} -version failed: {result.stderr.strip()}")
    return result.stdout.splitlines()[0].strip()


# --- the Lambda ZIP's compressed copy -----------------------------------------------------


def bundled_ffmpeg_dir() -> Path | None:
    """The ZIP's ``ffmpeg/`` directory (``$HYPERFRAMES_BUNDLED_FFMPEG_DIR``, else
    ``$LAMBDA_TASK_ROOT/ffmpeg``) when it holds ``ffmpeg.gz``; else None."""
    candidates = [os.environ.get(ENV_BUNDLED_FFMPEG_DIR)]
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    if task_root:
        candidates.append(os.path.join(task_root, "ffmpeg"))
    for candidate in candidates:
        if candidate and (Path(candidate) / BUNDLED_ARCHIVE).is_file():
            return Path(candidate)
    return None


def extract_bundled_ffmpeg(bundle_dir: Path, dest_root: Path) -> Path:
    """Decompress ``bundle_dir/ffmpeg.gz`` to ``dest_root/hf-ffmpeg-<sha256[:16]>/ffmpeg``
    once (a finished copy has a ``.complete`` marker; a half-written one is redone), check
    its SHA-256 and size against ``ffmpeg.json``, and return the executable's path."""
    try:
        manifest: Any = json.loads((bundle_dir / BUNDLED_MANIFEST).read_text())
        sha256, size = str(manifest["sha256"]), int(manifest["size"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FfmpegUnavailableError(
            f"{bundle_dir / BUNDLED_MANIFEST} is missing or unreadable: {exc}"
        ) from exc
    dest = dest_root / f"hf-ffmpeg-{sha256[:16]}"
    executable = dest / "ffmpeg"
    if (dest / _MARKER).is_file() and os.access(executable, os.X_OK):
        return executable
    dest_root.mkdir(parents=True, exist_ok=True)
    with _locked(dest_root / f".{dest.name}.lock"):
        if (dest / _MARKER).is_file() and os.access(executable, os.X_OK):
            return executable  # another process finished while we waited
        if dest.exists():
            shutil.rmtree(dest)  # left by a process that died mid-way
        dest.mkdir()
        digest = hashlib.sha256()
        written = 0
        with (bundle_dir / BUNDLED_ARCHIVE).open("rb") as source, executable.open("wb") as out:
            for chunk in _gunzip_stream(source, bundle_dir / BUNDLED_ARCHIVE):
                digest.update(chunk)
                written += len(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256 or written != size:
            executable.unlink()
            raise FfmpegUnavailableError(
                f"{bundle_dir / BUNDLED_ARCHIVE} decompressed to {written} bytes with sha256 "
                f"{digest.hexdigest()}; {BUNDLED_MANIFEST} says {size} bytes, {sha256}"
            )
        executable.chmod(0o755)
        (dest / _MARKER).write_text(sha256)
    return executable


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _gunzip_stream(source: Any, name: Path) -> Iterator[bytes]:
    """Stream-gunzip ``source``. gzip rather than brotli: zlib inflates ~2x faster and
    releases the GIL, so it overlaps with the Chromium (brotli) decompression."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        while chunk := source.read(_READ_CHUNK):
            yield decompressor.decompress(chunk)
        yield decompressor.flush()
    except zlib.error as exc:
        raise FfmpegUnavailableError(f"{name}: corrupt gzip stream: {exc}") from exc
    if not decompressor.eof:
        raise FfmpegUnavailableError(f"{name}: truncated gzip stream")
