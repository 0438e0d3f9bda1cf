"""Issue 10, items 4, 5, 8: what the handler does with hostile or broken input.

Each of the raw exception types an audit saw leave the handler (AttributeError, KeyError,
ValueError, JSONDecodeError, OSError, RecursionError, FileNotFoundError, OverflowError,
RetriesExceededError, tarfile.ReadError, shutil.Error) has its case here, with the typed
error it is now; plus file:// URIs on Lambda, S3 4xx errors, and /tmp leftovers of a
killed invocation. Real moto on 127.0.0.1 and real loopback HTTP servers throughout.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from hyperframes_lambda.errors import (
    InternalError,
    RenderError,
    S3UriNotAllowedError,
    terminal_codes,
)
from hyperframes_lambda.handler import dispatch as handler_module
from hyperframes_lambda.handler import work_dirs as stale_dirs
from hyperframes_lambda.handler.storage import Storage
from hyperframes_lambda.stages.plan import PROTOCOL_VERSION

from ..http_servers import QuietHandler, loopback_server
from .test_lambda_handler import error_of, fresh_container, invoke, small_plan

__all__ = ["fresh_container", "small_plan"]  # fixtures: a fresh container per test, a plan

HASH = "b" * 64
MIN_HTML = (
    '<!doctype html><html><body><div id="root" data-composition-id="x" data-width="64" '
    'data-height="64" data-duration="{duration}">{inner}</div></body></html>'
)


def tar_gz(members: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def put(bucket: str, key: str, body: bytes, **metadata: str) -> str:
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata)
    return f"s3://{bucket}/{key}"


def render_chunk_event(plan_uri: str, bucket: str, fmt: str = "mp4") -> dict[str, Any]:
    return {"Action": "renderChunk", "PlanS3Uri": plan_uri, "PlanHash": HASH, "ChunkIndex": 0,
            "ChunkOutputS3Prefix": f"s3://{bucket}/r/chunks/", "Format": fmt}  # fmt: skip


def plan_event(project_uri: str, prefix: str) -> dict[str, Any]:
    return {"Action": "plan", "ProjectS3Uri": project_uri, "PlanOutputS3Prefix": prefix}


def failure(event: dict[str, Any]) -> tuple[str, str, Any]:
    with pytest.raises(Exception) as caught:
        invoke(event)
    return error_of(caught), str(caught.value), caught.value


@pytest.fixture
def no_chrome(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A case that reached Chrome would fail as ChromeBinaryUnavailableError: asserting
    another code shows the input was rejected before the browser."""
    monkeypatch.setenv("HYPERFRAMES_CHROME_PATH", str(tmp_path / "no-chrome-here"))


# ---- item 4: file:// on Lambda ----------------------------------------------------------


def test_file_uris_are_refused_on_lambda_unless_enabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_container: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    event = {"Action": "assemble", "PlanS3Uri": f"file://{tmp_path}/plan.tar.gz", "PlanHash": HASH,
             "ChunkS3Uris": [f"file://{tmp_path}/0000.mp4"], "OutputS3Uri": f"file://{victim}",
             "Format": "mp4"}  # fmt: skip
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "hyperframes-render")
    monkeypatch.delenv("HYPERFRAMES_RENDER_BUCKET", raising=False)
    code, message, exc = failure(event)
    assert code == "FILE_URI_NOT_ALLOWED" and "FILE_URI_NOT_ALLOWED" in terminal_codes()
    assert (
        f"file://{tmp_path}/plan.tar.gz" in message and "HYPERFRAMES_ALLOW_FILE_URIS=1" in message
    )
    assert isinstance(exc, S3UriNotAllowedError)  # a kind of S3_URI_NOT_ALLOWED
    assert victim.read_text() == "precious"
    # The explicit opt-in (local emulation) lets the same event through to storage.
    monkeypatch.setenv("HYPERFRAMES_ALLOW_FILE_URIS", "1")
    code, message, _ = failure(event)
    assert code == "S3_OBJECT_NOT_FOUND" and "plan.tar.gz" in message
    # Off Lambda (the CLI's local runner), file:// storage is the default and stays allowed.
    monkeypatch.delenv("HYPERFRAMES_ALLOW_FILE_URIS")
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    assert failure(event)[0] == "S3_OBJECT_NOT_FOUND"
    assert list(fresh_container.iterdir()) == []


# ---- item 5: the 11 raw exception types, one case each ----------------------------------


@pytest.mark.usefixtures("no_chrome")
def test_plan_json_a_list_was_attribute_error(bucket: str) -> None:
    plan = put(bucket, "p/list.tar.gz", tar_gz({"plan.json": b"[1, 2]"}))
    code, message, _ = failure(render_chunk_event(plan, bucket))
    assert code == "CORRUPT_STORED_OBJECT", message
    assert "plan.json in the plan is a JSON list" in message


@pytest.mark.usefixtures("no_chrome")
def test_plan_json_missing_fields_was_key_error(bucket: str) -> None:
    document = {"protocol": PROTOCOL_VERSION, "planHash": HASH}
    plan = put(bucket, "p/fields.tar.gz", tar_gz({"plan.json": json.dumps(document).encode(),
                                                  "meta/encoder.json": b"{}"}))  # fmt: skip
    code, message, _ = failure(render_chunk_event(plan, bucket))
    assert code == "CORRUPT_STORED_OBJECT", message
    assert "missing field 'ffmpegVersion'" in message and "re-plan" in message


@pytest.mark.usefixtures("no_chrome")
def test_malformed_url_in_the_project_was_value_error(bucket: str) -> None:
    html = MIN_HTML.format(duration=1, inner='<img src="http://[bad">').encode()
    project = put(bucket, "p/bad-url.tar.gz", tar_gz({"index.html": html}))
    code, message, _ = failure(plan_event(project, f"s3://{bucket}/r/"))
    assert code == "INVALID_COMPOSITION", message
    assert "index.html" in message and "Invalid IPv6 URL" in message


def test_corrupt_file_store_metadata_was_json_decode_error(
    tmp_path: Path, fresh_container: Path
) -> None:
    store = tmp_path / "store"
    chunk = store / "chunks" / "0000.mp4"
    chunk.parent.mkdir(parents=True)
    chunk.write_bytes(b"\x00" * 10)
    (chunk.parent / ".0000.mp4.hfmeta.json").write_text("{not json")
    event = {"Action": "renderChunk", "PlanS3Uri": f"file://{store}/plan.tar.gz", "PlanHash": HASH,
             "ChunkIndex": 0, "ChunkOutputS3Prefix": f"file://{store}/chunks/", "Format": "mp4"}  # fmt: skip
    code, message, _ = failure(event)
    assert code == "CORRUPT_STORED_OBJECT", message
    assert "0000.mp4 is unreadable" in message


def test_unreadable_file_object_was_os_error(tmp_path: Path, fresh_container: Path) -> None:
    # /proc/self/mem is a "regular file" that cannot be read from offset 0: EIO.
    code, message, _ = failure(plan_event("file:///proc/self/mem", f"file://{tmp_path}/out/"))
    assert code == "S3_REQUEST_REJECTED" and "S3_REQUEST_REJECTED" in terminal_codes()
    assert "file:///proc/self/mem" in message and "OSError" in message


@pytest.mark.usefixtures("no_chrome")
def test_plan_without_its_meta_files_was_file_not_found(bucket: str) -> None:
    document = {"protocol": PROTOCOL_VERSION, "planHash": HASH}
    plan = put(bucket, "p/no-meta.tar.gz", tar_gz({"plan.json": json.dumps(document).encode()}))
    code, message, _ = failure(render_chunk_event(plan, bucket))
    assert code in terminal_codes(), (code, message)
    assert "encoder.json" in message


def truncating_s3(body: bytes) -> contextlib.AbstractContextManager[tuple[str, list[str]]]:
    """An 'S3 endpoint' whose GET promises ``len(body)`` bytes and sends 10 (every time)."""

    @contextlib.contextmanager
    def serve() -> Iterator[tuple[str, list[str]]]:
        requests: list[str] = []
        digest = hashlib.sha256(body).hexdigest()

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def _headers(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-amz-meta-sha256", digest)
                self.send_header("ETag", '"0123"')
                self.send_header("Connection", "close")
                self.end_headers()

            def do_HEAD(self) -> None:
                requests.append("HEAD")
                self._headers()

            def do_GET(self) -> None:
                requests.append("GET")
                self._headers()
                self.wfile.write(body[:10])
                self.wfile.flush()
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

        with loopback_server(Handler) as url:
            yield url, requests

    return serve()


def test_truncated_s3_body_was_retries_exceeded(
    monkeypatch: pytest.MonkeyPatch, fresh_container: Path
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with truncating_s3(os.urandom(5000)) as (endpoint, requests):
        monkeypatch.setenv("HYPERFRAMES_S3_ENDPOINT_URL", endpoint)
        code, message, exc = failure(
            plan_event("s3://render-bucket/p.tar.gz", "s3://render-bucket/r/")
        )
    assert code == "S3_TRANSIENT" and exc.retryable is True, message
    assert "s3://render-bucket/p.tar.gz" in message
    assert requests.count("GET") > 1, "the transfer itself retried before giving up"
    assert list(fresh_container.iterdir()) == []


def test_unanticipated_exception_is_internal_error(
    monkeypatch: pytest.MonkeyPatch, bucket: str
) -> None:
    """The last line of defence: a bug (here a stage that raises ZeroDivisionError) leaves
    as INTERNAL_ERROR — terminal, its original type and message in the cause."""

    def broken(event: Any, work: Path) -> dict[str, Any]:
        return {"x": 1 / 0}

    monkeypatch.setitem(handler_module._ACTIONS, "plan", broken)
    code, message, exc = failure(plan_event(f"s3://{bucket}/p.tar.gz", f"s3://{bucket}/r/"))
    assert code == "INTERNAL_ERROR" and isinstance(exc, InternalError)
    assert "INTERNAL_ERROR" in terminal_codes()
    assert message == "builtins.ZeroDivisionError: division by zero"
    assert isinstance(exc.__cause__, ZeroDivisionError)


@pytest.mark.slow
def test_deep_nesting_was_recursion_error(bucket: str, fresh_container: Path) -> None:
    inner = "<div>" * 600 + "</div>" * 600
    project = put(bucket, "p/deep.tar.gz", tar_gz({"index.html": MIN_HTML.format(duration=1, inner=inner).encode()}))  # fmt: skip
    code, message, _ = failure(plan_event(project, f"s3://{bucket}/r/"))
    assert code == "INVALID_COMPOSITION", message
    assert "index.html" in message and "deeply" in message
    assert list(fresh_container.iterdir()) == []


@pytest.mark.slow
def test_absurd_duration_was_overflow_error(bucket: str, fresh_container: Path) -> None:
    project = put(bucket, "p/huge.tar.gz", tar_gz({"index.html": MIN_HTML.format(duration="1e308", inner="").encode()}))  # fmt: skip
    code, message, _ = failure(plan_event(project, f"s3://{bucket}/r/"))
    # INVALID_COMPOSITION here; a frame-count limit (PLAN_TOO_LARGE) may catch it earlier.
    assert code in ("INVALID_COMPOSITION", "PLAN_TOO_LARGE", "INVALID_CONFIG"), message
    assert code in terminal_codes()
    assert list(fresh_container.iterdir()) == []


@pytest.mark.usefixtures("no_chrome")
def test_uncopyable_project_was_shutil_error(bucket: str, fresh_container: Path) -> None:
    """A project path that fits where it is extracted but not where the plan copies it
    (PATH_MAX): copytree gathers the failure into shutil.Error."""
    pid = os.getpid()
    work = fresh_container / f"hf-invoke-{pid}-{stale_dirs.process_start(pid)}-01234567"
    room = 4093 - len(f"{work}/project/")
    parts = []
    while room > 0:
        part = "d" * min(200, room - 1) if room > 201 else "f" * room
        parts.append(part)
        room -= len(part) + 1
    deep = "/".join(parts).rstrip("/")
    html = MIN_HTML.format(duration=1, inner="").encode()
    project = put(bucket, "p/deep-path.tar.gz", tar_gz({"index.html": html, deep: b"x"}))
    code, message, _ = failure(plan_event(project, f"s3://{bucket}/r/"))
    # INVALID_COMPOSITION (the plan's copy fails), or the archive's own depth/length limits.
    assert code in ("INVALID_COMPOSITION", "INVALID_PROJECT_ARCHIVE"), message
    assert "p/deep-path.tar.gz" in message or "deep-path" in message
    assert list(fresh_container.iterdir()) == []


# ---- item 8: S3 4xx errors are terminal ------------------------------------------------


def test_missing_bucket_is_terminal(bucket: str, fresh_container: Path) -> None:
    code, message, exc = failure(plan_event("s3://no-such-bucket-hf/p.tar.gz", f"s3://{bucket}/r/"))
    assert code == "S3_BUCKET_NOT_FOUND" and exc.retryable is False, message
    assert "'no-such-bucket-hf'" in message and "S3_BUCKET_NOT_FOUND" in terminal_codes()


@contextlib.contextmanager
def s3_answering(status: int, code: str) -> Iterator[str]:
    """An 'S3 endpoint' on 127.0.0.1 answering every request with an S3 error document."""
    body = f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>no</Message></Error>".encode()

    class Handler(QuietHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_HEAD = _answer

    with loopback_server(Handler) as url:
        yield url


def test_rejected_request_is_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 4xx that is neither not-found nor denied (here 400 InvalidArgument) is terminal;
    429 and 5xx stay retryable."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    source = tmp_path / "x"
    source.write_bytes(b"x")
    cases = [(400, "InvalidArgument", "S3_REQUEST_REJECTED", False),
             (429, "TooManyRequests", "S3_TRANSIENT", True),
             (500, "InternalError", "S3_TRANSIENT", True)]  # fmt: skip
    for status, code, expected, retryable in cases:
        with s3_answering(status, code) as endpoint:
            storage = Storage(endpoint_url=endpoint)
            with pytest.raises(RenderError) as caught:
                storage.upload(source, "s3://render-bucket/a")
        assert (caught.value.code, caught.value.retryable) == (expected, retryable), caught.value
        assert "s3://render-bucket/a" in str(caught.value)


@pytest.fixture
def iam_enforcing_s3(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A second moto server (a process on 127.0.0.1) that enforces IAM after the first
    four requests, which create a user whose only permission is s3:ListAllMyBuckets."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "4"}
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        admin = {"endpoint_url": endpoint, "aws_access_key_id": "admin", "aws_secret_access_key": "admin",
                 "region_name": "us-east-1"}  # fmt: skip
        boto3.client("s3", **admin).create_bucket(Bucket="locked")
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="worker")
        key = iam.create_access_key(UserName="worker")["AccessKey"]
        policy = {"Version": "2012-10-17",
                  "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}  # fmt: skip
        iam.put_user_policy(UserName="worker", PolicyName="p", PolicyDocument=json.dumps(policy))
        yield endpoint, {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_access_denied_is_terminal(
    iam_enforcing_s3: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    endpoint, credentials = iam_enforcing_s3
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    storage = Storage(endpoint_url=endpoint)
    source = tmp_path / "x"
    source.write_bytes(b"x")
    for call in (lambda: storage.upload(source, "s3://locked/a"),
                 lambda: storage.download("s3://locked/a", tmp_path / "y")):  # fmt: skip
        with pytest.raises(RenderError) as caught:
            call()
        assert caught.value.code == "S3_ACCESS_DENIED", caught.value
        assert caught.value.retryable is False and "s3://locked/a" in str(caught.value)


# ---- item 8: what a killed invocation leaves in /tmp -----------------------------------


def _dead_pid() -> tuple[int, int]:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = stale_dirs.process_start(child.pid)
    child.wait()
    assert start is not None or stale_dirs.process_start(child.pid) is None
    return child.pid, start or 1


def test_stale_work_dirs_and_profiles_are_swept(
    fresh_container: Path, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp = fresh_container
    dead_pid, dead_start = _dead_pid()
    me, my_start = os.getpid(), stale_dirs.process_start(os.getpid())
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", f"--user-data-dir={tmp / 'hf-chrome-live'}"]
    )  # fmt: skip
    try:
        live_start = None
        while live_start is None:
            live_start = stale_dirs.process_start(sleeper.pid)
        dirs = {
            "dead": tmp / f"hf-invoke-{dead_pid}-{dead_start}-aaaa0001",  # a SIGKILLed process's
            "mine-unused": tmp / f"hf-invoke-{me}-{my_start}-aaaa0002",  # this pid, not open
            "reused-pid": tmp / f"hf-invoke-{sleeper.pid}-{live_start + 1}-aaaa0003",  # pid reused
            "live": tmp / f"hf-invoke-{sleeper.pid}-{live_start}-aaaa0004",  # another live process
            "old-form": tmp / "hf-invoke-x1y2z3",  # no owner recorded, 7 h old
            "old-form-recent": tmp / "hf-invoke-q9r8s7",  # no owner, may still be in use
            "chrome-orphan": tmp / "hf-chrome-orphan",
            "chrome-live": tmp / "hf-chrome-live",  # a live process's --user-data-dir
            "chrome-new": tmp / "hf-chrome-new",  # just created: a launch may be under way
            "unrelated": tmp / "someone-elses",
        }
        for path in dirs.values():
            (path / "sub").mkdir(parents=True)
            (path / "sub" / "file").write_bytes(b"x" * 1000)
        old = time.time() - 3600
        for name in ("chrome-orphan", "chrome-live"):
            os.utime(dirs[name], (old, old))
        older = time.time() - 7 * 3600
        os.utime(dirs["old-form"], (older, older))
        assert failure({"Action": "plan"})[0] == "INVALID_EVENT"  # any invocation sweeps first
        left = {name for name, path in dirs.items() if path.exists()}
        assert left == {"live", "chrome-live", "chrome-new", "old-form-recent", "unrelated"}
    finally:
        sleeper.kill()
        sleeper.wait()
    shutil.rmtree(tmp / "someone-elses")


@pytest.mark.slow
def test_a_killed_invocation_is_swept_by_the_next(
    fresh_container: Path, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real handler process SIGKILLed mid-renderChunk (what a Lambda timeout does):
    its work dir and Chrome profile stay; the next invocation removes them."""
    from ..conftest import COMPOSITIONS
    from .test_lambda_handler import upload_project

    project = upload_project(COMPOSITIONS / "known-pixels", bucket, "p/kp.tar.gz", tmp_path)
    planned = invoke(plan_event(project, f"s3://{bucket}/r/"))
    event = {"Action": "renderChunk", "PlanS3Uri": planned["PlanS3Uri"], "PlanHash": planned["PlanHash"],
             "ChunkIndex": 0, "ChunkOutputS3Prefix": f"s3://{bucket}/r/chunks/", "Format": "mp4"}  # fmt: skip
    script = (
        "import sys, json, tempfile; tempfile.tempdir = sys.argv[1]\n"
        "from hyperframes_lambda.handler import handler\n"
        "from hyperframes_lambda.local.step_functions import LocalContext\n"
        "handler(json.loads(sys.argv[2]), LocalContext('killed'))\n"
    )
    env = {**os.environ, "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR",
           "HYPERFRAMES_RENDER_BUCKET": bucket}  # fmt: skip
    child = subprocess.Popen([sys.executable, "-c", script, str(fresh_container), json.dumps(event)],
                             env=env, start_new_session=True)  # fmt: skip
    try:
        while not list(fresh_container.glob("hf-chrome-*")):  # Chrome is up: mid-render
            assert child.poll() is None, "the invocation ended before it could be killed"
            time.sleep(0.05)
    finally:
        os.killpg(child.pid, 9)  # the runtime and its Chrome, as Lambda's timeout does
        child.wait()
    left = sorted(p.name for p in fresh_container.iterdir())
    assert any(n.startswith("hf-invoke-") for n in left) and any(
        n.startswith("hf-chrome-") for n in left
    )
    for path in fresh_container.glob("hf-chrome-*"):  # as if the kill was minutes ago
        os.utime(path, (time.time() - 3600,) * 2)
    assert failure({"Action": "plan"})[0] == "INVALID_EVENT"
    assert list(fresh_container.iterdir()) == []


# ---- item 14: --local-storage (HYPERFRAMES_LOCAL_STORAGE) --------------------------------


def test_local_storage_keeps_s3_uris_as_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYPERFRAMES_LOCAL_STORAGE", str(tmp_path / "root"))
    monkeypatch.setenv("HYPERFRAMES_S3_ENDPOINT_URL", "http://127.0.0.1:9")  # never called
    source = tmp_path / "x"
    source.write_bytes(b"payload")
    storage = Storage()
    digest = storage.upload(source, "s3://render-bucket/a/b.bin", {"plan-hash": "p"})
    stored = tmp_path / "root" / "render-bucket" / "a" / "b.bin"
    assert stored.read_bytes() == b"payload"
    info = storage.head("s3://render-bucket/a/b.bin")
    assert info is not None and info.metadata == {"plan-hash": "p", "sha256": digest}
    assert storage.download("s3://render-bucket/a/b.bin", tmp_path / "y").read_bytes() == b"payload"
    with pytest.raises(RenderError) as caught:
        storage.upload(source, "s3://render-bucket/../../escape")
    assert caught.value.code == "S3_REQUEST_REJECTED" and not (tmp_path / "escape").exists()


@pytest.mark.slow
def test_pooled_browsers_keep_their_profiles(
    small_plan: dict[str, Any], bucket: str, fresh_container: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm container's pooled browser is live: the sweep leaves its profile alone however
    old it is, and the next chunk renders in that browser."""
    from .test_lambda_handler import chunk_event

    monkeypatch.setenv("HYPERFRAMES_KEEP_BROWSERS", "1")
    try:
        invoke(chunk_event(small_plan, bucket, 0))
        profiles = sorted(fresh_container.glob("hf-chrome-*"))
        assert profiles, "the pooled browser's profile outlives the invocation"
        for path in profiles:
            os.utime(path, (time.time() - 3600,) * 2)
        invoke(chunk_event(small_plan, bucket, 1))
        assert sorted(fresh_container.glob("hf-chrome-*")) == profiles
    finally:
        handler_module._browsers.close()
    assert not any(p.exists() for p in profiles)
