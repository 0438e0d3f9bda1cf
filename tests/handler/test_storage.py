"""Storage against a real S3-compatible server (moto) and the local file:// store."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import boto3
import pytest

from hyperframes_lambda.errors import (
    PlanArtifactDigestMismatchError,
    S3UriNotAllowedError,
    StorageObjectNotFoundError,
    StorageTransientError,
)
from hyperframes_lambda.handler.storage import Storage, check_allowed, join_uri

from ..http_servers import throttling_s3


def blob(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def test_join_uri() -> None:
    assert join_uri("s3://b/renders/1/", "chunks", "0000.mp4") == "s3://b/renders/1/chunks/0000.mp4"
    assert join_uri("file:///tmp/x", "plan.tar.gz") == "file:///tmp/x/plan.tar.gz"


def test_s3_round_trip_with_checksums_and_multipart(
    bucket: str, s3_endpoint: str, tmp_path: Path
) -> None:
    storage = Storage(endpoint_url=s3_endpoint)
    small, big = blob(tmp_path / "small", 1000), blob(tmp_path / "big", 70 * 1024 * 1024)
    for src in (small, big):
        uri = f"s3://{bucket}/objects/{src.name}"
        digest = storage.upload(src, uri, {"plan-hash": "p1"})
        assert digest == hashlib.sha256(src.read_bytes()).hexdigest()
        info = storage.head(uri)
        assert info is not None and info.size == src.stat().st_size
        assert info.metadata == {"plan-hash": "p1", "sha256": digest}
        back = storage.download(uri, tmp_path / f"{src.name}.back")
        assert back.read_bytes() == src.read_bytes()
    # The big one went up in parts (multipart ETags end in -<parts>).
    head = boto3.client("s3", endpoint_url=s3_endpoint).head_object(
        Bucket=bucket, Key="objects/big"
    )
    assert head["ETag"].strip('"').endswith("-5")


def test_download_verifies_the_stored_digest(bucket: str, s3_endpoint: str, tmp_path: Path) -> None:
    storage = Storage(endpoint_url=s3_endpoint)
    uri = f"s3://{bucket}/objects/x"
    storage.upload(blob(tmp_path / "x", 5000), uri)
    # Someone replaces the bytes but not the metadata: the download must notice.
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.copy_object(
        Bucket=bucket, Key="objects/x", CopySource={"Bucket": bucket, "Key": "objects/x"},
        Metadata={"sha256": "0" * 64}, MetadataDirective="REPLACE",
    )  # fmt: skip
    with pytest.raises(PlanArtifactDigestMismatchError, match="expected 0000"):
        storage.download(uri, tmp_path / "y")
    assert not (tmp_path / "y").exists()
    with pytest.raises(PlanArtifactDigestMismatchError):
        storage.download(f"s3://{bucket}/objects/x", tmp_path / "z", expected_sha256="1" * 64)


def test_missing_objects(bucket: str, s3_endpoint: str, tmp_path: Path) -> None:
    storage = Storage(endpoint_url=s3_endpoint)
    assert storage.head(f"s3://{bucket}/nope") is None
    with pytest.raises(StorageObjectNotFoundError, match=f"s3://{bucket}/nope does not exist"):
        storage.download(f"s3://{bucket}/nope", tmp_path / "n")
    with pytest.raises(StorageObjectNotFoundError):
        storage.download(f"file://{tmp_path}/nope", tmp_path / "n")


def test_throttling_is_a_retryable_error(tmp_path: Path) -> None:
    with throttling_s3() as (endpoint, counter):
        storage = Storage(endpoint_url=endpoint)
        with pytest.raises(StorageTransientError) as caught:
            storage.download("s3://some-bucket/key", tmp_path / "x")
    assert caught.value.retryable and caught.value.code == "S3_TRANSIENT"
    assert len(counter.requests) > 1, "boto3 retried before giving up"


def test_file_store_round_trip(tmp_path: Path) -> None:
    storage = Storage()
    uri = f"file://{tmp_path}/store/a/b.bin"
    digest = storage.upload(blob(tmp_path / "src", 100), uri, {"plan-hash": "p"})
    info = storage.head(uri)
    assert info is not None and info.metadata == {"plan-hash": "p", "sha256": digest}
    assert storage.download(uri, tmp_path / "back").read_bytes() == (tmp_path / "src").read_bytes()


def test_allowlist(monkeypatch: pytest.MonkeyPatch) -> None:
    check_allowed(["s3://anything/x"])  # no allowlist set: everything goes
    monkeypatch.setenv("HYPERFRAMES_RENDER_BUCKET", "render-bucket")
    check_allowed(["s3://render-bucket/x", None])
    with pytest.raises(
        S3UriNotAllowedError, match="s3://other-bucket/x is outside the render bucket"
    ):
        check_allowed(["s3://render-bucket/x", "s3://other-bucket/x"])
    with pytest.raises(S3UriNotAllowedError):
        check_allowed(["file:///etc/passwd"])
