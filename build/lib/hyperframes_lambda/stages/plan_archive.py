"""Deterministic ``plan.tar.gz``: two plans of the same input are byte-identical archives.

Sorted entries, fixed mtime/uid/gid/owner names, modes normalised (0644 files, 0755
directories), gzip header mtime 0 and no file name. Extraction refuses absolute paths,
``..`` and links, so a hostile archive cannot write outside the target directory, and
stops at caps on bytes, entries and path depth (:class:`ExtractLimits`) so it cannot fill
the disk either.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import (
    ArchiveLimitError,
    InvalidConfigError,
    PlanArtifactDigestMismatchError,
    ProjectArchiveError,
    RenderError,
)

FIXED_MTIME = 0
GiB = 1024**3
PROJECT_ENV_PREFIX = "HYPERFRAMES_PROJECT_ARCHIVE"
PLAN_ENV_PREFIX = "HYPERFRAMES_PLAN_ARCHIVE"


def write_plan_archive(
    plan_dir: Path,
    archive: Path,
    *,
    include: Callable[[str], bool] | None = None,
    directories: bool = True,
    compress: bool = True,
) -> Path:
    """Pack ``plan_dir`` (the files whose relative path ``include`` accepts, all by
    default) into ``archive``, written atomically; ``compress=False`` writes a plain tar."""
    entries: list[Path] = sorted(
        plan_dir.rglob("*"), key=lambda p: p.relative_to(plan_dir).as_posix()
    )
    if include is not None:  # the chosen files, and the directories that hold them
        files = {p for p in entries if p.is_file() and include(p.relative_to(plan_dir).as_posix())}
        parents = {parent for p in files for parent in p.relative_to(plan_dir).parents}
        entries = [
            p for p in entries if p in files or (p.is_dir() and p.relative_to(plan_dir) in parents)
        ]
    partial = archive.with_name(archive.name + ".partial")
    with partial.open("wb") as raw, contextlib.ExitStack() as stack:
        target: Any = raw
        if compress:
            target = stack.enter_context(
                gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, mtime=FIXED_MTIME, compresslevel=6
                )
            )
        tar = stack.enter_context(tarfile.open(fileobj=target, mode="w", format=tarfile.PAX_FORMAT))
        for path in entries:
            relative = path.relative_to(plan_dir).as_posix()
            is_dir = path.is_dir()
            if is_dir and not directories:
                continue
            info = tarfile.TarInfo(relative)
            info.mtime = FIXED_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if is_dir:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif path.is_file():
                info.size = path.stat().st_size
                info.mode = 0o644
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
    os.replace(partial, archive)
    return archive


def extract_plan_archive(archive: Path, dest: Path, limits: ExtractLimits | None = None) -> Path:
    """Unpack a plan archive into ``dest`` (created), refusing unsafe members."""
    return _safe_extract(
        archive, dest, PlanArtifactDigestMismatchError, "plan archive", limits or plan_limits()
    )


def extract_archive(archive: Path, dest: Path, limits: ExtractLimits | None = None) -> Path:
    """Unpack a project ``.tar.gz`` (as uploaded for Lambda), refusing unsafe members."""
    return _safe_extract(
        archive, dest, ProjectArchiveError, "project archive", limits or project_limits()
    )


@dataclass(frozen=True)
class ExtractLimits:
    """Caps on what one archive may expand to: a 1 MB gzip bomb must not fill /tmp.

    ``env_prefix`` names the variables that set them (``<prefix>_MAX_BYTES`` …), quoted in
    errors so an operator knows which one to raise.
    """

    max_bytes: int
    max_entries: int
    max_depth: int
    env_prefix: str
    # Read every member header before writing anything, so an archive over a cap writes
    # nothing at all (costs a second pass over the stream).
    prescan: bool = False

    @classmethod
    def from_env(
        cls, env_prefix: str, max_bytes: int, max_entries: int, max_depth: int,
        *, prescan: bool = False,
    ) -> ExtractLimits:  # fmt: skip
        return cls(
            max_bytes=_env_int(f"{env_prefix}_MAX_BYTES", max_bytes),
            max_entries=_env_int(f"{env_prefix}_MAX_FILES", max_entries),
            max_depth=_env_int(f"{env_prefix}_MAX_DEPTH", max_depth),
            env_prefix=env_prefix,
            prescan=prescan,
        )


def project_limits() -> ExtractLimits:
    """Project archives: 2 GiB, 20,000 entries, 32 levels, unless the environment says.
    Untrusted input, so the member list is read and checked before anything is written."""
    return ExtractLimits.from_env(PROJECT_ENV_PREFIX, 2 * GiB, 20_000, 32, prescan=True)


def plan_limits() -> ExtractLimits:
    """Plan archives are our own output, with pre-extracted video frames (one file per
    frame): 8 GiB (Lambda's /tmp holds 10), 2,000,000 entries, 32 levels. Their digest is
    checked before extraction and every chunk extracts one, so they are read in one pass
    (each header still checked before its bytes are written)."""
    return ExtractLimits.from_env(PLAN_ENV_PREFIX, 8 * GiB, 2_000_000, 32)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) <= 0:
        raise InvalidConfigError(f"{name}={raw!r} must be a positive whole number")
    return int(raw)


def _safe_extract(
    archive: Path, dest: Path, error: type[RenderError], what: str, limits: ExtractLimits
) -> Path:
    """Extract member by member, checking each header before its bytes are written: a
    member that would pass a cap stops the extraction and removes what was written."""
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            if limits.prescan:
                members = _checked_members(tar, archive, error, what, limits)
                for member in members:
                    tar.extract(member, dest, filter="data")
            else:
                for member in _checked_members(tar, archive, error, what, limits):
                    tar.extract(member, dest, filter="data")
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        _discard(dest, created)
        raise error(f"{archive.name} is not a readable {what} (.tar.gz): {exc}") from exc
    except BaseException:
        _discard(dest, created)
        raise
    return dest


def _checked_members(
    tar: tarfile.TarFile, archive: Path, error: type[RenderError], what: str,
    limits: ExtractLimits,
) -> list[tarfile.TarInfo] | Iterator[tarfile.TarInfo]:  # fmt: skip
    """The members, each checked (safe name, regular file or directory, the caps): all of
    them before any is returned with ``limits.prescan``, else one at a time."""

    def checked() -> Iterator[tarfile.TarInfo]:
        total = 0
        for entries, member in enumerate(tar, start=1):
            name = member.name
            unsafe = name.startswith("/") or ".." in Path(name).parts
            if unsafe or not (member.isfile() or member.isdir()):
                raise error(f"{archive.name}: unsafe or unsupported {what} member {name[:200]!r}")
            total += member.size if member.isfile() else 0
            _check_limits(archive, what, limits, name, entries, total)
            yield member

    return list(checked()) if limits.prescan else checked()


def _check_limits(
    archive: Path, what: str, limits: ExtractLimits, name: str, entries: int, total: int
) -> None:
    depth = len(PurePosixPath(name).parts)
    prefix = limits.env_prefix
    if entries > limits.max_entries:
        broken = f"more than {limits.max_entries} entries ({prefix}_MAX_FILES)"
    elif total > limits.max_bytes:
        broken = f"more than {limits.max_bytes} bytes ({prefix}_MAX_BYTES)"
    elif depth > limits.max_depth:
        broken = f"a path {depth} levels deep, more than {limits.max_depth} ({prefix}_MAX_DEPTH)"
    else:
        return
    raise ArchiveLimitError(
        f"{archive.name}: the {what} expands to {broken}; stopped at member {name[:200]!r}"
    )


def _discard(dest: Path, created: bool) -> None:
    if created:
        shutil.rmtree(dest, ignore_errors=True)
