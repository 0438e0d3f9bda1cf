"""Deterministic ``plan.tar.gz``: two plans of the same input are byte-identical archives.

Sorted entries, fixed mtime/uid/gid/owner names, modes normalised (0644 files, 0755
directories), gzip header mtime 0 and no file name. Extraction refuses absolute paths,
``..`` and links, so a hostile archive cannot write outside the target directory.
"""

from __future__ import annotations

import gzip
import os
import tarfile
from pathlib import Path

from .errors import PlanArtifactDigestMismatchError, ProjectArchiveError, RenderError

FIXED_MTIME = 0


def write_plan_archive(plan_dir: Path, archive: Path) -> Path:
    """Pack ``plan_dir`` into ``archive`` (written atomically)."""
    entries: list[Path] = sorted(
        plan_dir.rglob("*"), key=lambda p: p.relative_to(plan_dir).as_posix()
    )
    partial = archive.with_name(archive.name + ".partial")
    with (
        partial.open("wb") as raw,
        gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=FIXED_MTIME, compresslevel=6
        ) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in entries:
            relative = path.relative_to(plan_dir).as_posix()
            info = tarfile.TarInfo(relative)
            info.mtime = FIXED_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if path.is_dir():
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


def extract_plan_archive(archive: Path, dest: Path) -> Path:
    """Unpack a plan archive into ``dest`` (created), refusing unsafe members."""
    return _safe_extract(archive, dest, PlanArtifactDigestMismatchError, "plan archive")


def extract_archive(archive: Path, dest: Path) -> Path:
    """Unpack a project ``.tar.gz`` (as uploaded for Lambda), refusing unsafe members."""
    return _safe_extract(archive, dest, ProjectArchiveError, "project archive")


def _safe_extract(archive: Path, dest: Path, error: type[RenderError], what: str) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            members = tar.getmembers()
            for member in members:
                name = member.name
                unsafe = name.startswith("/") or ".." in Path(name).parts
                if unsafe or not (member.isfile() or member.isdir()):
                    raise error(f"{archive.name}: unsafe or unsupported {what} member {name!r}")
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, OSError) as exc:
        raise error(f"{archive.name} is not a readable {what} (.tar.gz): {exc}") from exc
    return dest
