#!/usr/bin/env python3
"""Build the Lambda deployment ZIP (SPEC §13): ``build/dist/hyperframes-lambda.zip``.

    python build/build_zip.py [--out PATH] [--work DIR] [--limit-mib 248]

The ZIP extracts into ``/var/task`` as::

    hyperframes_lambda/                  the package (handler: hyperframes_lambda.handler.handler)
      _vendor/hyperframe.runtime.iife.js the pinned HyperFrames page runtime (SHA-256 checked)
      _vendor/fonts/@fontsource/<pkg>@<v>/files/*.woff2   the deterministic font faces
      _vendor/fontset/                   the renderer's font set (fontconfig), when it has one
    <dependencies>/                      build/requirements-lambda.txt, manylinux x86-64 cp312
    chromium/*.br                        the pinned @sparticuz/chromium brotli pack (SHA-512)
    ffmpeg/ffmpeg.gz, ffmpeg/ffmpeg.json the local renderer's ffmpeg, gzip-compressed
    hyperframes-lambda-build.json        what went in (versions, hashes)

Nothing is fetched at run time on Lambda: Chromium and ffmpeg are decompressed to ``/tmp``
once per container, the runtime and fonts are read from ``_vendor``.

The ZIP is deterministic: entries sorted, fixed timestamps and modes, no bytecode, so two
builds from the same inputs give the same bytes. A size gate fails the build (exit 1) with a
table of the largest entries when the unzipped size exceeds the limit (Lambda's hard limit is
250 MiB unzipped, layers included).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC_PACKAGE = ROOT / "src" / "hyperframes_lambda"
LOCK_FILE = Path(__file__).resolve().parent / "requirements-lambda.txt"
DEFAULT_OUT = ROOT / "build" / "dist" / "hyperframes-lambda.zip"
DEFAULT_CACHE = ROOT / "build" / ".cache"
SIZE_LIMIT_MIB = 248
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a ZIP can hold
BUILD_INFO = "hyperframes-lambda-build.json"
# What Lambda's python3.12 runtime (Amazon Linux 2023, glibc 2.34) can load.
PIP_TARGET_ARGS = (
    "--platform", "manylinux2014_x86_64",
    "--platform", "manylinux_2_28_x86_64",
    "--platform", "manylinux_2_34_x86_64",
    "--implementation", "cp",
    "--python-version", "3.12",
    "--only-binary=:all:",
)  # fmt: skip
# ffmpeg is gzipped (level 6: 165 → ~65 MiB), not brotli'd (q5: ~57 MiB): zlib inflates it
# in about half the time and releases the GIL, so a cold container decompresses it while
# Chromium's brotli pack decompresses (README, "The Lambda ZIP").
FFMPEG_GZIP_LEVEL = 6
# Already-compressed files are stored, not deflated again.
_STORED_SUFFIXES = (".br", ".woff2", ".woff", ".gz", ".zip", ".png", ".jpg")
_ELF_MAGIC = b"\x7fELF"
_EM_X86_64 = 0x3E


class BuildError(Exception):
    """The ZIP cannot be built as asked; the message says why."""


@dataclass(frozen=True)
class Entry:
    name: str  # path inside the ZIP, POSIX
    size: int
    compressed: int


def log(message: str) -> None:
    print(f"[zip] {message}", file=sys.stderr, flush=True)


# --- the pieces -------------------------------------------------------------------------


def install_dependencies(stage: Path, lock: Path = LOCK_FILE) -> None:
    """pip-install the pinned closure for Lambda's platform into ``stage``."""
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--no-compile", "--target", str(stage), *PIP_TARGET_ARGS, "-r", str(lock),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"pip install for Lambda failed:\n{result.stdout}\n{result.stderr}")
    # Console scripts point at the build machine's interpreter; Lambda never runs them.
    shutil.rmtree(stage / "bin", ignore_errors=True)
    # imageio-ffmpeg's own 165 MiB binary: the ZIP carries it compressed (ffmpeg/) instead.
    for binary in (stage / "imageio_ffmpeg" / "binaries").glob("ffmpeg-*"):
        binary.unlink()


def lock_differences(lock: Path = LOCK_FILE) -> list[str]:
    """Pinned packages whose version differs from this environment's (a warning)."""
    from importlib import metadata

    notes = []
    for raw in lock.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if "==" not in line:
            continue
        name, pinned = (part.strip() for part in line.split("==", 1))
        try:
            local = metadata.version(name)
        except metadata.PackageNotFoundError:
            local = "not installed"
        if local != pinned:
            notes.append(f"{name}: ZIP {pinned}, local {local}")
    return notes


def copy_package(stage: Path) -> Path:
    """The package source, without bytecode and without a source checkout's _vendor."""
    dest = stage / "hyperframes_lambda"
    shutil.copytree(
        SRC_PACKAGE,
        dest,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_vendor", "*.partial*"),
    )
    return dest


def vendor_runtime(package: Path) -> dict[str, str]:
    """The pinned page runtime into ``_vendor/`` (fetched into the cache if needed)."""
    from hyperframes_lambda.page.official_runtime import PINNED, runtime_path

    source = runtime_path()  # SHA-256 checked against the pin
    dest = package / "_vendor" / PINNED.file_name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)
    return {"runtime": PINNED.label, "sha256": PINNED.sha256}


def vendor_fonts(package: Path) -> list[str]:
    """Every deterministic font face, at the path deterministic_fonts looks it up."""
    from hyperframes_lambda.compile import deterministic_fonts as fonts

    written = []
    root = package / "_vendor" / "fonts"
    for font in fonts.CANONICAL_FONTS.values():
        for face in font.faces:
            data = fonts.bundled_face_bytes(font, face)  # SHA-256 checked against the pin
            relative = Path(f"{font.package}@{font.version}") / font.package_path(face)
            dest = root / relative
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            written.append(relative.as_posix())
    return sorted(written)


def vendor_font_set(package: Path) -> list[str]:
    """The renderer's font set (``hyperframes_lambda.browser.font_set``) into ``_vendor/fontset/``,
    where it is looked up at run time; nothing when this version has no font set."""
    try:
        fonts_set = importlib.import_module("hyperframes_lambda.browser.font_set")
    except ModuleNotFoundError:
        return []
    written: list[str] = fonts_set.stage_font_set(package / "_vendor" / "fontset")
    return sorted(written)


def vendor_chromium(stage: Path) -> dict[str, str]:
    """The sparticuz ``bin/*.br`` files from the SHA-512-checked npm tarball."""
    from hyperframes_lambda.browser import sparticuz
    from hyperframes_lambda.net import npm_registry

    tarball = npm_registry.fetch_tarball(sparticuz.PACKAGE, sparticuz.SPARTICUZ_VERSION)
    dest = stage / "chromium"
    dest.mkdir(parents=True, exist_ok=True)
    found = set()
    with tarfile.open(tarball, "r:gz") as archive:
        for info in archive:
            name = info.name.split("/", 1)[-1]
            if info.isfile() and name.startswith("bin/") and name[4:] in sparticuz.ARCHIVES:
                handle = archive.extractfile(info)
                if handle is None:
                    continue
                with handle, (dest / name[4:]).open("wb") as out:
                    shutil.copyfileobj(handle, out, 1 << 20)
                found.add(name[4:])
    missing = sorted(set(sparticuz.ARCHIVES) - found)
    if missing:
        raise BuildError(f"{tarball} lacks {', '.join(missing)}")
    return {"package": f"{sparticuz.PACKAGE}@{sparticuz.SPARTICUZ_VERSION}"}


def check_elf_x86_64(path: Path) -> None:
    """A 64-bit little-endian x86-64 ELF executable, or BuildError."""
    header = _head(path, 20)
    if len(header) < 20 or header[:4] != _ELF_MAGIC:
        raise BuildError(f"{path} is not an ELF binary")
    if header[4] != 2 or header[5] != 1:
        raise BuildError(f"{path} is not a 64-bit little-endian ELF binary")
    machine = int.from_bytes(header[18:20], "little")
    if machine != _EM_X86_64:
        raise BuildError(f"{path} is for ELF machine {machine:#x}, not x86-64 ({_EM_X86_64:#x})")


def _head(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def compressed_ffmpeg(source: Path, cache: Path) -> tuple[Path, str, int]:
    """``source`` gzipped (no name, mtime 0), cached by its SHA-256; (path, sha256, size)."""
    from hyperframes_lambda.cache import file_sha256

    sha256 = file_sha256(source)
    size = source.stat().st_size
    cached = cache / f"ffmpeg-{sha256}-gz{FFMPEG_GZIP_LEVEL}.gz"
    if cached.is_file():
        if hashlib.sha256(gzip.decompress(cached.read_bytes())).hexdigest() == sha256:
            return cached, sha256, size
        cached.unlink()  # a damaged cache entry
    started = time.monotonic()
    data = gzip.compress(source.read_bytes(), compresslevel=FFMPEG_GZIP_LEVEL, mtime=0)
    cache.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(cached.name + f".partial-{os.getpid()}")
    partial.write_bytes(data)
    os.replace(partial, cached)
    log(f"compressed ffmpeg {size / 2**20:.1f} → {len(data) / 2**20:.1f} MiB "
        f"in {time.monotonic() - started:.1f}s")  # fmt: skip
    return cached, sha256, size


def vendor_ffmpeg(stage: Path, cache: Path) -> dict[str, object]:
    """The ffmpeg the local renderer uses, ELF-checked and compressed, plus its manifest."""
    from hyperframes_lambda.media import ffmpeg

    source = Path(ffmpeg.ffmpeg_exe())
    check_elf_x86_64(source)
    version = ffmpeg.ffmpeg_version_line()
    archive, sha256, size = compressed_ffmpeg(source, cache)
    dest = stage / "ffmpeg"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(archive, dest / ffmpeg.BUNDLED_ARCHIVE)
    manifest: dict[str, object] = {
        "sha256": sha256, "size": size, "version": version, "source": source.name,
    }  # fmt: skip
    (dest / ffmpeg.BUNDLED_MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


# --- the ZIP ----------------------------------------------------------------------------


def _files(stage: Path) -> Iterator[tuple[str, Path]]:
    for path in stage.rglob("*"):
        if path.is_file() and not path.is_symlink():
            yield path.relative_to(stage).as_posix(), path
        elif path.is_symlink():
            raise BuildError(f"{path} is a symlink; the ZIP holds regular files only")


def write_zip(stage: Path, out: Path) -> list[Entry]:
    """Deterministic ZIP of ``stage``: sorted names, fixed date, 0644/0755 modes."""
    entries: list[Entry] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        with zipfile.ZipFile(partial, "w", allowZip64=True) as archive:
            for name, path in sorted(_files(stage)):
                if "__pycache__" in name.split("/") or name.endswith(".pyc"):
                    continue
                info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
                executable = bool(path.stat().st_mode & stat.S_IXUSR)
                info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
                info.create_system = 3  # unix: the modes above are honoured on extraction
                stored = name.endswith(_STORED_SUFFIXES)
                info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                with path.open("rb") as source, archive.open(info, "w", force_zip64=True) as dest:
                    shutil.copyfileobj(source, dest, 1 << 20)
            for info in archive.infolist():
                entries.append(Entry(info.filename, info.file_size, info.compress_size))
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return entries


def size_report(entries: Sequence[Entry], zipped: int, limit_mib: int, top: int = 15) -> str:
    total = sum(e.size for e in entries)
    lines = [
        f"{'unzipped':>12} {'zipped':>10}  largest entries",
        *(
            f"{e.size / 2**20:9.1f} MiB {e.compressed / 2**20:6.1f} MiB  {e.name}"
            for e in sorted(entries, key=lambda e: (-e.size, e.name))[:top]
        ),
        "",
        f"unzipped: {total / 2**20:.1f} MiB ({total} bytes) in {len(entries)} files; "
        f"limit {limit_mib} MiB",
        f"zipped:   {zipped / 2**20:.1f} MiB ({zipped} bytes)"
        + ("; over 50 MB: deploy through S3 (sam deploy does)" if zipped > 50_000_000 else ""),
    ]
    return "\n".join(lines)


def over_limit(entries: Sequence[Entry], limit_mib: int) -> bool:
    return sum(e.size for e in entries) > limit_mib * 2**20


def build(out: Path, work: Path, cache: Path) -> tuple[list[Entry], dict[str, object]]:
    stage = work / "stage"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    for note in lock_differences():
        log(f"warning: dependency differs from this environment: {note}")
    started = time.monotonic()
    log("installing dependencies (manylinux x86-64, CPython 3.12)")
    install_dependencies(stage)
    package = copy_package(stage)
    info: dict[str, object] = {
        "requirements": [
            line.strip()
            for line in LOCK_FILE.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ],
        "runtime": vendor_runtime(package),
        "fonts": vendor_fonts(package),
        "fontSet": vendor_font_set(package),
        "chromium": vendor_chromium(stage),
        "ffmpeg": vendor_ffmpeg(stage, cache),
    }
    from hyperframes_lambda.stages.versions import renderer_version

    info["rendererVersion"] = renderer_version()
    (stage / BUILD_INFO).write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")
    log(f"staged in {time.monotonic() - started:.1f}s; writing {out}")
    entries = write_zip(stage, out)
    return entries, info


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the ZIP to write")
    parser.add_argument("--work", type=Path, help="staging directory (default: a temp dir)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="compressed ffmpeg")
    parser.add_argument("--limit-mib", type=int, default=SIZE_LIMIT_MIB)
    parser.add_argument("--keep-stage", action="store_true", help="keep the staging directory")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="hf-zip-"))
    try:
        entries, _info = build(args.out.resolve(), work, args.cache)
    except BuildError as exc:
        log(f"error: {exc}")
        return 1
    finally:
        if args.work is None and not args.keep_stage:
            shutil.rmtree(work, ignore_errors=True)
    zipped = args.out.stat().st_size
    print(size_report(entries, zipped, args.limit_mib))
    if over_limit(entries, args.limit_mib):
        total = sum(e.size for e in entries)
        args.out.unlink()  # nobody deploys it by mistake
        print(
            f"error: unzipped size {total / 2**20:.1f} MiB is over the {args.limit_mib} MiB "
            f"gate (Lambda: 250 MiB including layers); {args.out} removed",
            file=sys.stderr,
        )
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))  # the package as in this checkout
    sys.exit(main())
