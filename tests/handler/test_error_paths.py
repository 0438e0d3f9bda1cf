"""Error messages do not show the function's disk (issue 23 item 5): failing invocations
are scanned for the work directory; a path inside it is shown from inside it. Real S3
calls against moto's server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from hyperframes_lambda.handler.work_dirs import without_local_paths

from .test_lambda_handler import (  # noqa: F401 - fixtures
    error_of,
    fresh_container,
    invoke,
    upload_project,
)

NOT_A_VIDEO = """<!doctype html><html><body>
<div id="root" data-composition-id="x" data-width="320" data-height="180" data-duration="1">
  <video id="v" src="clips/v.mp4" data-start="0" data-duration="1" muted></video>
</div></body></html>"""


def failure(event: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(Exception) as caught:
        invoke(event)
    return error_of(caught), str(caught.value)


def test_failing_invocations_name_no_work_path(
    bucket: str,
    tmp_path: Path,
    fresh_container: Path,  # noqa: F811
) -> None:
    project = tmp_path / "project"
    (project / "clips").mkdir(parents=True)
    (project / "index.html").write_text(NOT_A_VIDEO)
    (project / "clips" / "v.mp4").write_bytes(b"\x00\x01 not a video " * 64)
    uri = upload_project(project, bucket, "p.tar.gz", tmp_path)
    boto3.client("s3").put_object(Bucket=bucket, Key="bad.tar.gz", Body=b"not a tarball")
    prefix = f"s3://{bucket}/r/"
    failures = [
        failure({"Action": "plan", "ProjectS3Uri": uri, "PlanOutputS3Prefix": prefix}),
        failure({"Action": "plan", "ProjectS3Uri": f"s3://{bucket}/bad.tar.gz",
                 "PlanOutputS3Prefix": prefix}),
        failure({"Action": "renderChunk", "PlanS3Uri": f"s3://{bucket}/bad.tar.gz",
                 "PlanHash": "a" * 64, "ChunkIndex": 0, "ChunkOutputS3Prefix": prefix,
                 "Format": "mp4"}),
        failure({"Action": "still", "ProjectS3Uri": uri, "OutputS3Uri": f"{prefix}f.png",
                 "Frames": [0]}),
    ]  # fmt: skip
    codes = [code for code, _ in failures]
    assert codes[:3] == [
        "NOT_MEDIA_PAYLOAD",
        "INVALID_PROJECT_ARCHIVE",
        "PLAN_ARTIFACT_DIGEST_MISMATCH",
    ]
    for code, message in failures:
        assert str(fresh_container) not in message, f"{code}: {message}"
        assert "hf-invoke-" not in message and str(tmp_path) not in message, f"{code}: {message}"
    assert "clips/v.mp4 is not a media file" in failures[0][1]  # still says which file
    assert list(fresh_container.iterdir()) == []


def test_paths_are_shown_from_inside_their_work_dir() -> None:
    message = (
        "/tmp/hf-invoke-1-2-ab/plan/compiled/v.mp4 is bad; '/tmp/hf-scratch-x/a.wav'; "
        "s3://bucket/tmp/x/y and file:///tmp/a/b are URIs"
    )
    assert without_local_paths(message, [Path("/tmp")]) == (
        "plan/compiled/v.mp4 is bad; 'a.wav'; s3://bucket/tmp/x/y and file:///tmp/a/b are URIs"
    )
