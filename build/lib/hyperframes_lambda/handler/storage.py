"""Move files between the work directory and ``s3://`` or ``file://`` URIs.

S3 goes through boto3's managed transfers (multipart above a threshold, parallel parts)
with ``ChecksumAlgorithm=SHA256`` so S3 verifies the bytes it receives; we also store the
object's SHA-256 in its metadata and check it after every download. ``file://`` gives the
same semantics on a local disk, so the handler and the local runner work with no S3 at
all. Errors are typed: a missing object or bucket, a denied or otherwise refused (4xx)
request are terminal; only a throttle, a 5xx, a dropped connection or a truncated body is
retryable.

On Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set) ``file://`` URIs are refused unless
``HYPERFRAMES_ALLOW_FILE_URIS=1``: the function's disk is not a storage backend, and an
event naming ``file:///tmp/...`` could overwrite any file there. For local emulation,
``HYPERFRAMES_LOCAL_STORAGE=DIR`` keeps the events' ``s3://`` URIs and stores
``s3://BUCKET/KEY`` as the file ``DIR/BUCKET/KEY`` (no S3, no credentials).

:class:`Storage` is what callers hold; it routes each URI to an :class:`ObjectStore`
(:class:`S3Storage` or :class:`FileStorage`) and checks digests, so no method branches on
the scheme.
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
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, urlsplit

from ..aws.lifecycle import tagging
from ..cache import file_sha256
from ..errors import (
    FileUriNotAllowedError,
    PlanArtifactDigestMismatchError,
    S3UriNotAllowedError,
    StorageAccessDeniedError,
    StorageBucketNotFoundError,
    StorageObjectNotFoundError,
    StorageRequestRejectedError,
    StorageTransientError,
    StoredObjectCorruptError,
    quoted,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ENV_RENDER_BUCKET = "HYPERFRAMES_RENDER_BUCKET"
ENV_S3_ENDPOINT = "HYPERFRAMES_S3_ENDPOINT_URL"
ENV_ALLOW_FILE_URIS = "HYPERFRAMES_ALLOW_FILE_URIS"
# Comma-separated buckets besides the render bucket that outputs may go to (the
# template's AllowedOutputBuckets; its IAM policy grants exactly those).
ENV_OUTPUT_BUCKETS = "HYPERFRAMES_OUTPUT_BUCKETS"
ENV_LOCAL_STORAGE = "HYPERFRAMES_LOCAL_STORAGE"
SHA256_METADATA = "sha256"
_SIDECAR_SUFFIX = ".hfmeta.json"
_TRANSIENT_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError",
     "ServiceUnavailable", "RequestTimeTooSkewed", "500", "502", "503", "504",
     "TooManyRequestsException", "RequestLimitExceeded", "BandwidthLimitExceeded",
     "EC2ThrottledException", "PriorRequestNotComplete", "429"}
)  # fmt: skip
_MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_DENIED_CODES = frozenset(
    {"AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch",
     "ExpiredToken", "InvalidToken", "AllAccessDisabled", "AccountProblem"}
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


def s3_key_problem(key: str) -> str | None:
    """Why ``key`` is not an object key we read or write, or None. ``.`` and ``..``
    segments name another object on a local store (and S3 consoles and SDKs normalise them
    differently); ``#`` and ``?`` are cut off by URI parsing, so the object used would not
    be the one named; control characters have no business in a key."""
    segments = key.split("/")
    if any(segment in (".", "..") for segment in segments):
        return "has a '.' or '..' segment"
    for char in "#?":
        if char in key:
            return f"contains {char!r}"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in key):
        return "contains a control character"
    return None


def join_uri(prefix: str, *names: str) -> str:
    """``join_uri("s3://b/renders/1/", "chunks", "0000.mp4")`` → ``s3://b/renders/1/chunks/0000.mp4``."""
    return "/".join([prefix.rstrip("/"), *(n.strip("/") for n in names)])


def on_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def check_allowed(uris: Iterable[str | None], outputs: Iterable[str | None] = ()) -> None:
    """Every URI must be in ``$HYPERFRAMES_RENDER_BUCKET`` (when set) — an output (one of
    ``outputs``) may also be in ``$HYPERFRAMES_OUTPUT_BUCKETS`` — and on Lambda none may
    be ``file://`` unless ``HYPERFRAMES_ALLOW_FILE_URIS=1``. Checked before any S3 call,
    so an event naming someone else's bucket costs nothing and leaks nothing."""
    allowed = os.environ.get(ENV_RENDER_BUCKET)
    extra = {b.strip() for b in os.environ.get(ENV_OUTPUT_BUCKETS, "").split(",") if b.strip()}
    files_ok = os.environ.get(ENV_ALLOW_FILE_URIS) == "1" or not on_lambda()
    output_uris = {uri for uri in outputs if uri is not None}
    for uri in [*uris, *output_uris]:
        if uri is None:
            continue
        location = parse_uri(uri)
        if uri in output_uris and location.scheme == "s3" and location.bucket in extra:
            continue
        if location.scheme == "file" and not allowed and not files_ok:
            raise FileUriNotAllowedError(
                f"{uri}: file:// URIs are refused on Lambda (the function's disk is not "
                f"storage); use s3:// URIs, or set {ENV_ALLOW_FILE_URIS}=1 for local emulation"
            )
        if not allowed:
            continue
        if location.scheme != "s3" or location.bucket != allowed:
            also = f" or the output buckets {', '.join(sorted(extra))}" if extra else ""
            raise S3UriNotAllowedError(
                f"{uri} is outside the render bucket s3://{allowed} ({ENV_RENDER_BUCKET}){also}"
            )


class ObjectStore(Protocol):
    """Where the objects of one URI scheme live. :class:`Storage` picks one per URI and
    checks digests; a store only moves bytes and metadata, with typed errors."""

    def head(self, location: Location, uri: str) -> ObjectInfo | None:
        """Size and metadata of the object, or None when it does not exist."""
        ...

    def fetch(self, location: Location, uri: str, dest: Path) -> str | None:
        """Copy the object to ``dest``; return the SHA-256 stored with it, if any."""
        ...

    def store(
        self,
        src: Path,
        location: Location,
        uri: str,
        metadata: dict[str, str],
        tags: dict[str, str] | None = None,
    ) -> None:
        """Put ``src`` at the location atomically, with ``metadata`` (the digest included)
        and object ``tags`` (where the store has tags: S3's drive its lifecycle rules)."""
        ...


class FileStorage:
    """``file://`` objects: a file on the local disk, its metadata in a sidecar beside it."""

    def head(self, location: Location, uri: str) -> ObjectInfo | None:
        with _file_errors("head", uri):
            if not location.path.is_file():
                return None
            return ObjectInfo(location.path.stat().st_size, _read_sidecar(location.path))

    def fetch(self, location: Location, uri: str, dest: Path) -> str | None:
        with _file_errors("download", uri):
            if not location.path.is_file():
                raise StorageObjectNotFoundError(f"{uri} does not exist (download)")
            shutil.copyfile(location.path, dest)
            return _read_sidecar(location.path).get(SHA256_METADATA)

    def store(
        self,
        src: Path,
        location: Location,
        uri: str,
        metadata: dict[str, str],
        tags: dict[str, str] | None = None,
    ) -> None:
        target = location.path  # a file has no tags (and no lifecycle)
        partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
        with _file_errors("upload", uri):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, partial)
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
            if set(metadata) != {SHA256_METADATA}:  # only the digest: no sidecar needed
                _sidecar(target).write_text(json.dumps(metadata, sort_keys=True))


class S3Storage:
    """``s3://`` objects through boto3's managed transfers. One per container: the client
    is created lazily and reused across invocations."""

    def __init__(self, endpoint_url: str | None = None) -> None:
        self._endpoint_url = endpoint_url
        self._client: S3Client | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> S3Client:
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
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

        try:
            yield
        except ClientError as exc:
            error = classify_client_error(exc, action, uri)
            if isinstance(error, StorageObjectNotFoundError) and not self._bucket_exists(uri):
                # A HEAD has no body, so its 404 does not say whether the key or the
                # bucket is missing: ask (one more request, on the failure path only).
                error = StorageBucketNotFoundError(
                    f"bucket {parse_uri(uri).bucket!r} does not exist ({action} {uri})"
                )
            raise error from exc
        except ParamValidationError as exc:  # refused before sending: deterministic
            raise StorageRequestRejectedError(f"{action} {uri}: {exc}") from exc
        except Boto3Error as exc:
            # upload_file wraps a ClientError in S3UploadFailedError (as __context__);
            # download_file wraps a body cut short in RetriesExceededError.
            inner = exc.__context__
            if isinstance(inner, ClientError):
                raise classify_client_error(inner, action, uri) from exc
            last = getattr(exc, "last_exception", None)
            raise StorageTransientError(f"{action} {uri} failed: {last or exc}") from exc
        except BotoCoreError as exc:
            raise StorageTransientError(f"{action} {uri} failed: {exc}") from exc

    def _bucket_exists(self, uri: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=parse_uri(uri).bucket)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            return code not in ("404", "NoSuchBucket", "NotFound")
        except BotoCoreError:
            return True  # cannot tell: keep the original error
        return True

    def head(self, location: Location, uri: str) -> ObjectInfo | None:
        try:
            with self._errors("head", uri):
                reply = self.client.head_object(Bucket=location.bucket, Key=location.key)
        except StorageObjectNotFoundError:
            return None
        return ObjectInfo(int(reply["ContentLength"]), dict(reply.get("Metadata", {})))

    def fetch(self, location: Location, uri: str, dest: Path) -> str | None:
        with self._errors("download", uri):
            info = self.client.head_object(Bucket=location.bucket, Key=location.key)
            self.client.download_file(
                location.bucket, location.key, str(dest), Config=self._transfer_config()
            )
        return info.get("Metadata", {}).get(SHA256_METADATA)

    def store(
        self,
        src: Path,
        location: Location,
        uri: str,
        metadata: dict[str, str],
        tags: dict[str, str] | None = None,
    ) -> None:
        extra: dict[str, Any] = {"Metadata": metadata, "ChecksumAlgorithm": "SHA256"}
        if tags:
            extra["Tagging"] = tagging(tags)
        with self._errors("upload", uri):
            self.client.upload_file(
                str(src), location.bucket, location.key,
                ExtraArgs=extra, Config=self._transfer_config(),
            )  # fmt: skip


class Storage:
    """Objects by URI: routes each to its :class:`ObjectStore` and checks SHA-256 digests.

    One per container (the S3 client inside is reused across invocations)."""

    def __init__(self, endpoint_url: str | None = None) -> None:
        self.files = FileStorage()
        self.objects = S3Storage(endpoint_url or os.environ.get(ENV_S3_ENDPOINT) or None)

    @property
    def s3(self) -> S3Client:
        """The S3 client (created on first use)."""
        return self.objects.client

    def _where(self, uri: str) -> tuple[ObjectStore, Location]:
        """Where ``uri`` lives: S3, a file, or (local storage) the file ``DIR/bucket/key``."""
        try:
            location = parse_uri(uri)
        except ValueError as exc:
            raise StorageRequestRejectedError(str(exc)) from None
        root = os.environ.get(ENV_LOCAL_STORAGE)
        if location.scheme == "s3":
            problem = s3_key_problem(uri.partition("://")[2].partition("/")[2])
            if problem is not None:
                raise StorageRequestRejectedError(f"{quoted(uri)}: the object key {problem}")
        if location.scheme == "s3" and root:
            relative = Path(location.bucket, location.key)
            if ".." in relative.parts or not location.key:
                raise StorageRequestRejectedError(f"{uri}: not a storable object key")
            location = Location("file", "", str(Path(root).resolve() / relative))
        return (self.files if location.scheme == "file" else self.objects), location

    def head(self, uri: str) -> ObjectInfo | None:
        """Size and metadata of an object, or None when it does not exist."""
        store, location = self._where(uri)
        return store.head(location, uri)

    def download(self, uri: str, dest: Path, expected_sha256: str | None = None) -> Path:
        """Fetch ``uri`` to ``dest``; verify its SHA-256 (given, or stored at upload)."""
        self.download_checked(uri, dest, expected_sha256)
        return dest

    def download_checked(self, uri: str, dest: Path, expected_sha256: str | None = None) -> bool:
        """As :meth:`download`; True when the bytes were checked against a SHA-256 (given,
        or stored at upload), False when there was none to check them against."""
        store, location = self._where(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        stored = store.fetch(location, uri, dest)
        expected_ones = [e for e in (expected_sha256, stored) if e]
        if expected_ones:
            actual = file_sha256(dest)
            for expected in expected_ones:
                if actual != expected:
                    dest.unlink(missing_ok=True)
                    raise PlanArtifactDigestMismatchError(
                        f"{uri} has sha256 {actual}, expected {expected}: corrupted or replaced"
                    )
        return bool(expected_ones)

    def upload(
        self,
        src: Path,
        uri: str,
        metadata: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Store ``src`` at ``uri`` (replacing it atomically), with ``tags`` on S3 (see
        :mod:`hyperframes_lambda.aws.lifecycle`); returns its SHA-256."""
        digest = file_sha256(src)
        store, location = self._where(uri)
        store.store(src, location, uri, {**(metadata or {}), SHA256_METADATA: digest}, tags)
        return digest


def classify_client_error(exc: Any, action: str, uri: str) -> Exception:
    """The typed error for an S3 ``ClientError``: not-found, denied and other 4xx are
    terminal (the same request fails the same way), throttling and 5xx are retryable."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    if code == "NoSuchBucket":
        bucket = parse_uri(uri).bucket
        return StorageBucketNotFoundError(f"bucket {bucket!r} does not exist ({action} {uri})")
    if code in _MISSING_OBJECT_CODES:
        return StorageObjectNotFoundError(f"{uri} does not exist ({action})")
    if code in _DENIED_CODES:
        return StorageAccessDeniedError(f"access denied to {uri} ({action}): {code}")
    if code in _TRANSIENT_CODES or status.startswith("5") or status == "429":
        return StorageTransientError(f"{action} {uri} failed: {code} {status}")
    if status.startswith("4") or code.startswith("4"):
        return StorageRequestRejectedError(f"{action} {uri} was refused by S3: {code} {status}")
    return StorageTransientError(f"{action} {uri} failed: {code} {exc}")


@contextlib.contextmanager
def _file_errors(action: str, uri: str) -> Iterator[None]:
    """A file-store failure (a directory where a file should be, permissions, disk full)
    as a typed error naming the URI."""
    try:
        yield
    except OSError as exc:
        raise StorageRequestRejectedError(
            f"{action} {uri} failed: {exc.strerror or exc} ({type(exc).__name__})"
        ) from exc


def _sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}{_SIDECAR_SUFFIX}")


def _read_sidecar(path: Path) -> dict[str, str]:
    """The metadata stored beside a file object ({} when there is none)."""
    sidecar = _sidecar(path)
    if not sidecar.is_file():
        return {}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoredObjectCorruptError(f"the metadata of {path} is unreadable: {exc}") from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise StoredObjectCorruptError(f"the metadata of {path} is not a string map")
    return data
