"""The Lambda handler, invoked in-process against a real S3-compatible server (moto)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tarfile
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from hyperframes_lambda.errors import terminal_codes
from hyperframes_lambda.handler import dispatch as handler_module
from hyperframes_lambda.handler.dispatch import handler
from hyperframes_lambda.local.step_functions import LocalContext, pack_project
from hyperframes_lambda.media.probe import probe

from ..conftest import COMPOSITIONS, EXAMPLES, ROOT
from ..http_servers import throttling_s3

SAM_EVENTS = ROOT / "sam" / "events"
PLACEHOLDER = "hyperframes-render-bucket"


@pytest.fixture(autouse=True)
def fresh_container(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Each test is a new container with its own /tmp (so we can check it is left empty)."""
    monkeypatch.setattr(handler_module, "_storage", None)
    tmp = tmp_path / "lambda-tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    yield tmp


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    return handler(event, LocalContext(aws_request_id="test"))


def sample(name: str, bucket: str, **changes: Any) -> dict[str, Any]:
    text = (SAM_EVENTS / name).read_text().replace(PLACEHOLDER, bucket)
    return {**json.loads(text), **changes}


def upload_project(project: Path, bucket: str, key: str, tmp: Path) -> str:
    archive = pack_project(project, tmp / "project.tar.gz")
    boto3.client("s3").upload_file(str(archive), bucket, key)
    archive.unlink()
    return f"s3://{bucket}/{key}"


def error_of(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    return type(excinfo.value).__name__


@pytest.mark.slow
def test_sample_events_run_against_the_test_bucket(
    bucket: str, tmp_path: Path, fresh_container: Path
) -> None:
    upload_project(EXAMPLES / "title-card", bucket, "projects/title-card.tar.gz", tmp_path)
    planned = invoke(sample("plan.json", bucket))
    assert (planned["ChunkCount"], planned["TotalFrames"], planned["Width"]) == (2, 120, 1920)
    assert planned["PlanS3Uri"] == f"s3://{bucket}/renders/sample/plan.tar.gz"
    assert list(fresh_container.iterdir()) == []
    chunks = [
        invoke(sample("render-chunk.json", bucket, PlanHash=planned["PlanHash"], ChunkIndex=i))
        for i in range(2)
    ]
    assert [c["FramesEncoded"] for c in chunks] == [60, 60]
    assert [c["ChunkS3Uri"] for c in chunks] == sample("assemble.json", bucket)["ChunkS3Uris"]
    assert all(len(json.dumps(c)) < 1024 for c in chunks), "results stay small"
    result = invoke(sample("assemble.json", bucket, PlanHash=planned["PlanHash"],
                           ChunkSha256s=[c["Sha256"] for c in chunks]))  # fmt: skip
    out = tmp_path / "out.mp4"
    boto3.client("s3").download_file(bucket, "outputs/sample.mp4", str(out))
    info = probe(out)
    assert (info.frame_count, info.width, result["FramesEncoded"]) == (120, 1920, 120)
    assert list(fresh_container.iterdir()) == [], "nothing of ours is left in /tmp"


@pytest.fixture
def small_plan(bucket: str, tmp_path: Path) -> dict[str, Any]:
    project = upload_project(COMPOSITIONS / "known-pixels", bucket, "projects/kp.tar.gz", tmp_path)
    return invoke({"Action": "plan", "ProjectS3Uri": project, "PlanOutputS3Prefix": f"s3://{bucket}/r/1/",
                   "Config": {"maxParallelChunks": 2}})  # fmt: skip


def chunk_event(planned: dict[str, Any], bucket: str, index: int = 0) -> dict[str, Any]:
    return {"Action": "renderChunk", "PlanS3Uri": planned["PlanS3Uri"], "PlanHash": planned["PlanHash"],
            "ChunkIndex": index, "ChunkOutputS3Prefix": f"s3://{bucket}/r/1/chunks/", "Format": "mp4"}  # fmt: skip


@pytest.mark.slow
def test_render_chunk_is_idempotent(
    small_plan: dict[str, Any], bucket: str, fresh_container: Path
) -> None:
    puts: list[str] = []
    handler_module.storage().s3.meta.events.register(
        "provide-client-params.s3.PutObject", lambda **kwargs: puts.append(kwargs["params"]["Key"])
    )
    first = invoke(chunk_event(small_plan, bucket))
    second = invoke(chunk_event(small_plan, bucket))
    chunks = [key for key in puts if "/progress/" not in key]
    assert chunks == ["r/1/chunks/0000.mp4"], "the retry must not upload again"
    # Each attempt's heartbeat: written at its start and its end.
    assert puts.count("r/1/chunks/progress/0000.json") >= 4
    assert (first["Reused"], second["Reused"]) == (False, True)
    assert (
        second["Sha256"] == first["Sha256"]
        and second["FramesEncoded"] == first["FramesEncoded"] == 30
    )
    assert list(fresh_container.iterdir()) == []


def test_malformed_event_is_invalid_event(fresh_container: Path) -> None:
    with pytest.raises(Exception) as caught:
        invoke({"Action": "renderChunk", "PlanS3Uri": "s3://render-bucket/p"})
    assert error_of(caught) == "INVALID_EVENT"
    assert "event.PlanHash: Field required" in str(caught.value)
    assert list(fresh_container.iterdir()) == []


def test_uri_outside_the_bucket_makes_no_s3_call(monkeypatch: pytest.MonkeyPatch) -> None:
    with throttling_s3() as (endpoint, counter):
        monkeypatch.setenv("HYPERFRAMES_S3_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("HYPERFRAMES_RENDER_BUCKET", "render-bucket")
        with pytest.raises(Exception) as caught:
            invoke({"Action": "plan", "ProjectS3Uri": "s3://render-bucket/p.tar.gz",
                    "PlanOutputS3Prefix": "s3://someone-elses-bucket/r/"})  # fmt: skip
    assert error_of(caught) == "S3_URI_NOT_ALLOWED"
    assert "s3://someone-elses-bucket/r/" in str(caught.value)
    assert counter.requests == []


def test_transient_s3_failure_is_retryable(
    monkeypatch: pytest.MonkeyPatch, fresh_container: Path
) -> None:
    with throttling_s3() as (endpoint, _counter):
        monkeypatch.setenv("HYPERFRAMES_S3_ENDPOINT_URL", endpoint)
        with pytest.raises(Exception) as caught:
            invoke({"Action": "plan", "ProjectS3Uri": "s3://render-bucket/p.tar.gz",
                    "PlanOutputS3Prefix": "s3://render-bucket/r/"})  # fmt: skip
    assert error_of(caught) == "S3_TRANSIENT"
    assert getattr(caught.value, "retryable", False) is True
    assert "S3_TRANSIENT" not in terminal_codes()
    assert list(fresh_container.iterdir()) == []


@pytest.mark.slow
def test_tampered_plan_fails_before_chrome(
    small_plan: dict[str, Any],
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_container: Path,
) -> None:
    client = boto3.client("s3")
    archive = tmp_path / "plan.tar.gz"
    client.download_file(bucket, "r/1/plan.tar.gz", str(archive))
    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    # The core archive holds no page (it is an artifact): one carried in it is hashed too.
    (unpacked / "compiled").mkdir(exist_ok=True)
    (unpacked / "compiled" / "index.html").write_text("<!-- swapped -->", encoding="utf-8")
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(unpacked.iterdir()):
            tar.add(path, arcname=path.name)
    handler_module.storage().upload(archive, small_plan["PlanS3Uri"])  # a consistent re-upload
    monkeypatch.setenv("HYPERFRAMES_CHROME_PATH", str(tmp_path / "no-chrome-here"))
    with pytest.raises(Exception) as caught:
        invoke(chunk_event(small_plan, bucket))
    assert error_of(caught) == "PLAN_HASH_MISMATCH"
    assert list(fresh_container.iterdir()) == []


@pytest.mark.slow
def test_missing_chunk_and_missing_chrome(
    small_plan: dict[str, Any],
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_container: Path,
) -> None:
    first = invoke(chunk_event(small_plan, bucket, 0))
    with pytest.raises(Exception) as caught:
        invoke({"Action": "assemble", "PlanS3Uri": small_plan["PlanS3Uri"], "PlanHash": small_plan["PlanHash"],
                "ChunkS3Uris": [first["ChunkS3Uri"], f"s3://{bucket}/r/1/chunks/0001.mp4"],
                "OutputS3Uri": f"s3://{bucket}/out.mp4", "Format": "mp4"})  # fmt: skip
    assert error_of(caught) == "CHUNK_MISSING"
    assert "chunk 1 is missing" in str(caught.value)
    monkeypatch.setenv("HYPERFRAMES_CHROME_PATH", str(tmp_path / "no-chrome-here"))
    with pytest.raises(Exception) as caught:
        invoke(chunk_event(small_plan, bucket, 1))
    assert error_of(caught) == "ChromeBinaryUnavailableError"
    assert "hyperframes-lambda browser install" in str(caught.value)
    assert list(fresh_container.iterdir()) == []


def _kill_marked_browsers(mark: bytes, stop: threading.Event) -> None:
    """SIGKILL every process carrying ``mark`` in its environment as soon as it appears."""
    while not stop.is_set():
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if mark in environ.split(b"\0"):
                with contextlib.suppress(OSError):
                    os.kill(int(entry.name), signal.SIGKILL)
        stop.wait(0.02)


@pytest.mark.slow
def test_a_chunk_that_crashes_the_browser_twice_is_terminal(
    small_plan: dict[str, Any],
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    fresh_container: Path,
) -> None:
    """Every browser this chunk starts dies (killed from outside, as a crashing page would
    kill it): the first attempt is a retryable BROWSER_CRASHED whose heartbeat records the
    plan hash; the next attempt of the same chunk of the same plan is terminal."""
    mark = f"HF_TEST_CRASH_MARK={uuid.uuid4().hex}"
    monkeypatch.setenv(*mark.split("="))  # only the chunk's browsers: the plan is made
    stop = threading.Event()
    killer = threading.Thread(target=_kill_marked_browsers, args=(mark.encode(), stop))
    killer.start()
    try:
        with pytest.raises(Exception) as first:
            handler(chunk_event(small_plan, bucket), LocalContext(aws_request_id="attempt-1"))
        assert error_of(first) == "BROWSER_CRASHED"
        assert getattr(first.value, "retryable", False) is True
        beat = boto3.client("s3").get_object(Bucket=bucket, Key="r/1/chunks/progress/0000.json")
        assert json.loads(beat["Body"].read())["CrashedPlanHash"] == small_plan["PlanHash"]

        with pytest.raises(Exception) as second:
            handler(chunk_event(small_plan, bucket), LocalContext(aws_request_id="attempt-2"))
    finally:
        stop.set()
        killer.join()
    assert error_of(second) == "PAGE_CRASHED_REPEATEDLY"
    assert "PAGE_CRASHED_REPEATEDLY" in terminal_codes()
    assert "crashed on attempt 1 and again on attempt 2" in str(second.value)
    assert list(fresh_container.iterdir()) == []

    # Another chunk of the plan has no crash on record: its crash is retryable.
    with pytest.raises(Exception) as other:
        stop.clear()
        killer = threading.Thread(target=_kill_marked_browsers, args=(mark.encode(), stop))
        killer.start()
        try:
            handler(chunk_event(small_plan, bucket, 1), LocalContext(aws_request_id="other"))
        finally:
            stop.set()
            killer.join()
    assert error_of(other) == "BROWSER_CRASHED"
