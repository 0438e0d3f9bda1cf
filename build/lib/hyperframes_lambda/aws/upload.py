"""Upload a project as a deterministic, content-addressed ``.tar.gz``.

The same project bytes always give the same archive bytes (entries sorted, owners and
times zeroed, modes normalised, a gzip header without name or time), so the archive's
SHA-256 names it: ``s3://BUCKET/projects/<sha256>.tar.gz``. Uploading checks that key
first and sends nothing when it is there: re-rendering a template with new variables
(which travel in ``Config``, not in the project) uploads nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CompositionError

PROJECTS_PREFIX = "projects/"
SKIPPED_DIRS = frozenset({"node_modules", ".git", ".cache", "dist", "output", "__pycache__"})
_SHA256_METADATA = "sha256"  # what hyperframes_lambda.handler.storage checks after every download


@dataclass(frozen=True)
class ProjectArchive:
    data: bytes
    sha256: str
    files: int

    @property
    def key(self) -> str:
        return f"{PROJECTS_PREFIX}{self.sha256}.tar.gz"


@dataclass(frozen=True)
class UploadResult:
    uri: str
    sha256: str
    size: int
    uploaded: bool  # False: the same archive was already in the bucket


def _entries(project: Path) -> list[Path]:
    found: list[Path] = []
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        if set(relative.parts) & SKIPPED_DIRS:
            continue
        if path.is_file():  # symlinks to files are stored as the file's bytes
            found.append(path)
    return found


def project_archive(project: Path, entry_file: str = "index.html") -> ProjectArchive:
    """The project's files as a byte-for-byte reproducible ``.tar.gz``."""
    if not project.is_dir():
        raise CompositionError(f"{project} is not a project directory")
    if not (project / entry_file).is_file():
        raise CompositionError(f"{project} has no {entry_file} (the composition's entry file)")
    tar_bytes = io.BytesIO()
    files = _entries(project)
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in files:
            data = path.read_bytes()
            info = tarfile.TarInfo(path.relative_to(project).as_posix())
            info.size = len(data)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            tar.addfile(info, io.BytesIO(data))
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0, compresslevel=9) as gz:
        gz.write(tar_bytes.getvalue())
    data = compressed.getvalue()
    return ProjectArchive(data=data, sha256=hashlib.sha256(data).hexdigest(), files=len(files))


def upload_archive(archive: ProjectArchive, bucket: str, s3: Any) -> UploadResult:
    """HeadObject first; PutObject only when the content-addressed key is absent."""
    from botocore.exceptions import ClientError

    uri = f"s3://{bucket}/{archive.key}"
    try:
        s3.head_object(Bucket=bucket, Key=archive.key)
        return UploadResult(uri, archive.sha256, len(archive.data), uploaded=False)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchKey", "NotFound"}:
            raise
    s3.put_object(
        Bucket=bucket,
        Key=archive.key,
        Body=archive.data,
        ContentType="application/gzip",
        ChecksumAlgorithm="SHA256",
        Metadata={_SHA256_METADATA: archive.sha256},
    )
    return UploadResult(uri, archive.sha256, len(archive.data), uploaded=True)
