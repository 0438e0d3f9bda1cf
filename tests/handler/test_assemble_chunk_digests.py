"""Assemble checks every chunk's bytes before using them (issue 23 item 5): against the
SHA-256 the event gives or the one stored with the object; an altered chunk is named as a
chunk (``CHUNK_DIGEST_MISMATCH``), and a chunk with no hash to check is refused
(``CHUNK_UNVERIFIABLE``), not trusted. Real S3 calls against moto's server on 127.0.0.1."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import boto3
import pytest

from hyperframes_lambda.handler import dispatch as handler_module

from .test_lambda_handler import (  # noqa: F401 - fixtures
    error_of,
    fresh_container,
    invoke,
    small_plan,
)


def assemble_event(planned: dict[str, Any], bucket: str, **changes: Any) -> dict[str, Any]:
    return {
        "Action": "assemble", "PlanS3Uri": planned["PlanS3Uri"], "PlanHash": planned["PlanHash"],
        "ChunkS3Uris": [f"s3://{bucket}/r/1/chunks/000{i}.mp4" for i in range(2)],
        "OutputS3Uri": f"s3://{bucket}/out.mp4", "Format": "mp4", **changes,
    }  # fmt: skip


def store_chunks(bucket: str, tmp_path: Path) -> list[str]:
    """Two 'chunks' stored as renderChunk stores them (the SHA-256 in the metadata)."""
    digests = []
    for index in range(2):
        path = tmp_path / f"{index}.mp4"
        path.write_bytes(f"chunk {index} bytes".encode())
        uri = f"s3://{bucket}/r/1/chunks/000{index}.mp4"
        digests.append(handler_module.storage().upload(path, uri))
    return digests


@pytest.mark.slow
def test_altered_or_unverifiable_chunks_are_refused_as_chunks(
    small_plan: dict[str, Any],  # noqa: F811
    bucket: str,
    tmp_path: Path,
    fresh_container: Path,  # noqa: F811
) -> None:
    digests = store_chunks(bucket, tmp_path)
    s3 = boto3.client("s3")
    key = "r/1/chunks/0001.mp4"
    head = s3.head_object(Bucket=bucket, Key=key)
    # Other bytes under the old metadata: the stored hash catches it.
    s3.put_object(Bucket=bucket, Key=key, Body=b"altered", Metadata=head["Metadata"])
    with pytest.raises(Exception) as caught:
        invoke(assemble_event(small_plan, bucket))
    assert error_of(caught) == "CHUNK_DIGEST_MISMATCH", str(caught.value)
    assert "chunk 1" in str(caught.value) and key in str(caught.value)

    # Other bytes and no metadata: nothing to check them against, so refused...
    s3.put_object(Bucket=bucket, Key=key, Body=b"altered")
    with pytest.raises(Exception) as caught:
        invoke(assemble_event(small_plan, bucket))
    assert error_of(caught) == "CHUNK_UNVERIFIABLE", str(caught.value)
    assert "chunk 1" in str(caught.value) and "ChunkSha256s" in str(caught.value)

    # ...unless the event gives the hashes the workers reported: then it is a mismatch.
    with pytest.raises(Exception) as caught:
        invoke(assemble_event(small_plan, bucket, ChunkSha256s=digests))
    assert error_of(caught) == "CHUNK_DIGEST_MISMATCH", str(caught.value)
    assert hashlib.sha256(b"altered").hexdigest() in str(caught.value)
    assert list(fresh_container.iterdir()) == []
