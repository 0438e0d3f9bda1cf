"""Move files between the work directory and ``s3://`` or ``file://`` URIs.

S3 goes through boto3's managed transfers (multipart above a threshold, parallel parts)
with ``ChecksumAlgorithm=SHA256`` so S3 verifies the bytes it receives; we also store the
object's SHA-256 in its metadata and check it after every download. ``file://`` gives the
same semantics on a local disk, so the handler and the local runner work with no S3 at
all. Errors are typed: a missing object is terminal, a throttle or a dropped connection is
retryable.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from .errors import (
    PlanArtifactDigestMismatchError,
    S3UriNotAllowedError,
    StorageAccessDeniedError,
    StorageObjectNotFoundError,
    StorageTransientError,
)
from .plan_hash import file_sha256

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ENV_RENDER_BUCKET = "HYPERFRAMES_RENDER_BUCKET"
ENV_S3_ENDPOINT = "HYPERFRAMES_S3_ENDPOINT_URL"
SHA256_METADATA = "sha256"
_SIDECAR_SUFFIX = ".hfmeta.json"
_TRANSIENT_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError",
     "ServiceUnavailable", "RequestTimeTooSkewed", "500", "502", "503", "504"}
)  # fmt: skip


@dataclass(frozen=True)
class Location:
    scheme: str  # "s3" | "file"
    bucket: str  # "" for file
    key: str  # object key, or absolute path for file

    @property
    def path(self) -> Path:
        return Path(self.key)


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    metadata: dict[str, str] = field(default_factory=dict)


def parse_uri(uri: str) -> Location:
    parts = urlsplit(uri)
    if parts.scheme == "s3":
        return Location("s3", parts.netloc, parts.path.lstrip("/"))
    if parts.scheme == "file":
        return Location("file", "", unquote(parts.path))
    raise ValueError(f"{uri!r} is neither s3:// nor file://")


def join_uri(prefix: str, *names: str) -> str:
    """``join_uri("s3://b/renders/1/", "chunks", "0000.mp4")`` → ``s3://b/renders/1/chunks/0000.mp4``."""
    return "/".join([prefix.rstrip("/"), *(n.strip("/") for n in names)])


def check_allowed(uris: Iterable[str | None]) -> None:
    """Every URI must be in ``$HYPERFRAMES_RENDER_BUCKET`` (when set). Checked before any
    S3 call, so an event naming someone else's bucket costs nothing and leaks nothing."""
    allowed = os.environ.get(ENV_RENDER_BUCKET)
    if not allowed:
        return
    for uri in uris:
        if uri is None:
            continue
        location = parse_uri(uri)
        if location.scheme != "s3" or location.bucket != allowed:
            raise S3UriNotAllowedError(
                f"{uri} is outside the render bucket s3://{allowed} ({ENV_RENDER_BUCKET})"
            )


class Storage:
    """One per container: the S3 client is created lazily and reused across invocations."""

    def __init__(self, endpoint_url: str | None = None) -> None:
        self._endpoint_url = endpoint_url or os.environ.get(ENV_S3_ENDPOINT) or None
        self._client: S3Client | None = None
        self._lock = threading.Lock()

    # ---- S3 plumbing ---------------------------------------------------------------

    @property
    def s3(self) -> S3Client:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                config = Config(
                    retries={"mode": "standard", "max_attempts": 4},
                    connect_timeout=10,
                    read_timeout=120,
                    s3={"addressing_style": "path"} if self._endpoint_url else {},
                    max_pool_connections=32,
                )
                self._client = boto3.client("s3", endpoint_url=self._endpoint_url, config=config)
            return self._client

    @staticmethod
    def _transfer_config() -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=64 * 1024 * 1024,
            multipart_chunksize=16 * 1024 * 1024,
            max_concurrency=8,
        )

    @contextlib.contextmanager
    def _errors(self, action: str, uri: str) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if code in ("NoSuchKey", "NoSuchBucket", "404", "NotFound"):
                raise StorageObjectNotFoundError(f"{uri} does not exist ({action})") from exc
            if code in ("AccessDenied", "403", "Forbidden"):
                raise StorageAccessDeniedError(f"access denied to {uri} ({action})") from exc
            if code in _TRANSIENT_CODES or status.startswith("5"):
                raise StorageTransientError(f"{action} {uri} failed: {code} {status}") from exc
            raise StorageTransientError(f"{action} {uri} failed: {code} {exc}") from exc
        except BotoCoreError as exc:
            raise StorageTransientError(f"{action} {uri} failed: {exc}") from exc

    # ---- operations ----------------------------------------------------------------

    def head(self, uri: str) -> ObjectInfo | None:
        """Size and metadata of an object, or None when it does not exist."""
        location = parse_uri(uri)
        if location.scheme == "file":
            if not location.path.is_file():
                return None
            sidecar = _sidecar(location.path)
            metadata = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
            return ObjectInfo(location.path.stat().st_size, metadata)
        try:
            with self._errors("head", uri):
                reply = self.s3.head_object(Bucket=location.bucket, Key=location.key)
        except StorageObjectNotFoundError:
            return None
        return ObjectInfo(int(reply["ContentLength"]), dict(reply.get("Metadata", {})))

    def download(self, uri: str, dest: Path, expected_sha256: str | None = None) -> Path:
        """Fetch ``uri`` to ``dest``; verify its SHA-256 (given, or stored at upload)."""
        location = parse_uri(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        stored: str | None = None
        if location.scheme == "file":
            if not location.path.is_file():
                raise StorageObjectNotFoundError(f"{uri} does not exist (download)")
            shutil.copyfile(location.path, dest)
            sidecar = _sidecar(location.path)
            if sidecar.is_file():
                stored = json.loads(sidecar.read_text()).get(SHA256_METADATA)
        else:
            with self._errors("download", uri):
                info = self.s3.head_object(Bucket=location.bucket, Key=location.key)
                stored = info.get("Metadata", {}).get(SHA256_METADATA)
                self.s3.download_file(
                    location.bucket, location.key, str(dest), Config=self._transfer_config()
                )
        for expected in (expected_sha256, stored):
            if expected:
                actual = file_sha256(dest)
                if actual != expected:
                    dest.unlink(missing_ok=True)
                    raise PlanArtifactDigestMismatchError(
                        f"{uri} has sha256 {actual}, expected {expected}: corrupted or replaced"
                    )
        return dest

    def upload(self, src: Path, uri: str, metadata: dict[str, str] | None = None) -> str:
        """Store ``src`` at ``uri`` (replacing it atomically); returns its SHA-256."""
        digest = file_sha256(src)
        meta = {**(metadata or {}), SHA256_METADATA: digest}
        location = parse_uri(uri)
        if location.scheme == "file":
            target = location.path
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
            shutil.copyfile(src, partial)
            os.replace(partial, target)
            if metadata:
                _sidecar(target).write_text(json.dumps(meta, sort_keys=True))
            return digest
        extra = {"Metadata": meta, "ChecksumAlgorithm": "SHA256"}
        with self._errors("upload", uri):
            self.s3.upload_file(
                str(src), location.bucket, location.key,
                ExtraArgs=extra, Config=self._transfer_config(),
            )  # fmt: skip
        return digest


def _sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}{_SIDECAR_SUFFIX}")
