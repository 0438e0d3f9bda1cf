"""Property: whatever the event and whatever the stored objects, only the typed errors of
``hyperframes_lambda.errors`` leave the Lambda handler (issue 10, item 5).

Thousands of generated events, half of them naming corrupt objects in a real
S3-compatible server (moto on 127.0.0.1): projects that are not archives or not
compositions, plan archives whose JSON has the wrong shape, chunk objects with broken
metadata. Chrome is pointed at a path that does not exist, so a case that would launch it
ends as ``ChromeBinaryUnavailableError`` at once: the point is that malformed input is
rejected before Chrome, cheaply. A smaller slow part plans one real composition and
feeds assembly generated corrupt chunks. Run with ``-s`` to see the case counts.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperframes_lambda.errors import RenderError, all_error_classes
from hyperframes_lambda.handler import dispatch as handler_module
from hyperframes_lambda.stages.chunk_tag import MANIFEST
from hyperframes_lambda.stages.plan import PROTOCOL_VERSION

from ..conftest import COMPOSITIONS
from .test_lambda_handler import fresh_container, invoke, upload_project

__all__ = ["fresh_container"]  # the autouse fixture: a fresh container per test

CODES = {cls.code for cls in all_error_classes()}
CASES: Counter[str] = Counter()
OUTCOMES: Counter[str] = Counter()
EVENT_CASES = int(os.environ.get("HF_PROPERTY_EVENT_CASES", "2000"))
STORED_CASES = int(os.environ.get("HF_PROPERTY_STORED_CASES", "400"))
CHUNK_CASES = int(os.environ.get("HF_PROPERTY_CHUNK_CASES", "60"))
HASH = "a" * 64


@pytest.fixture(scope="module", autouse=True)
def report_counts() -> Iterator[None]:
    yield
    print(
        f"\nhandler property cases run: {sum(CASES.values())} {dict(CASES)}; "
        f"outcomes {dict(OUTCOMES.most_common())}"
    )


@pytest.fixture
def no_chrome(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Chrome cannot start; the handler's per-case JSON log lines are muted."""
    monkeypatch.setenv("HYPERFRAMES_CHROME_PATH", str(tmp_path / "no-chrome-here"))
    level = handler_module.logger.log_level
    handler_module.logger.setLevel("CRITICAL")
    yield
    handler_module.logger.setLevel(level)


def run_case(kind: str, event: Any, tmp: Path) -> str:
    """Invoke; the outcome is "ok" or a code of hyperframes_lambda.errors. Any other
    exception propagates (and fails the property with its type)."""
    CASES[kind] += 1
    try:
        invoke(event)
        outcome = "ok"
    except RenderError as exc:
        outcome = type(exc).__name__
        if os.environ.get("HF_DEBUG") and outcome == "INVALID_EVENT":
            print("DBG", str(exc)[:150])
        assert outcome in CODES and outcome == exc.code, (outcome, exc)
        assert outcome != "INTERNAL_ERROR", f"an unanticipated exception: {exc}"
    OUTCOMES[outcome] += 1
    leftovers = [p.name for p in tmp.iterdir()]
    assert leftovers == [], f"left in /tmp: {leftovers}"
    return outcome


# ---- stored objects the generated events may name -----------------------------------


def tar_gz(members: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def symlink_tar() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tarfile.TarInfo("index.html")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    return raw.getvalue()


GOOD_PLAN_JSON = {
    "protocol": PROTOCOL_VERSION, "planHash": HASH, "ffmpegVersion": "x", "rendererVersion": "x",
    "fps": 30, "width": 64, "height": 64, "format": "mp4", "browserBuild": "x", "fontSet": "x",
    "entry": "index.html", "totalFrames": 30, "hasAudio": False,
}  # fmt: skip
OBJECTS: dict[str, tuple[bytes, dict[str, str]]] = {
    "empty": (b"", {}),
    "garbage": (b"\x00\x01not an archive" * 10, {}),
    "truncated-gz": (gzip.compress(b"x" * 5000)[:40], {}),
    "gz-not-tar": (gzip.compress(b"hello world" * 100), {}),
    "tar-empty": (tar_gz({}), {}),
    "tar-no-entry": (tar_gz({"readme.txt": b"hi"}), {}),
    "tar-text-entry": (tar_gz({"index.html": b"just some text"}), {}),
    "tar-bad-html": (tar_gz({"index.html": b'<div id="root" data-composition-id="x" data-width="-1" data-height="1e400" data-duration="nan"><img src="http://[bad"></div>'}), {}),
    "tar-absolute": (tar_gz({"/etc/evil": b"x"}), {}),
    "tar-dotdot": (tar_gz({"../evil": b"x"}), {}),
    "tar-symlink": (symlink_tar(), {}),
    "plan-list": (tar_gz({"plan.json": b"[]"}), {}),
    "plan-not-json": (tar_gz({"plan.json": b"{not json"}), {}),
    "plan-empty-object": (tar_gz({"plan.json": b"{}"}), {}),
    "plan-no-meta": (tar_gz({"plan.json": json.dumps(GOOD_PLAN_JSON).encode()}), {}),
    "plan-meta-lists": (tar_gz({"plan.json": json.dumps(GOOD_PLAN_JSON).encode(), "meta/encoder.json": b"[1]", "meta/capture.json": b"[]", "meta/chunks.json": b"{}"}), {}),
    "chunk-no-sha": (b"\x00" * 100, {"plan-hash": HASH, "frames": "30"}),
    "chunk-bad-frames": (b"\x00" * 100, {"plan-hash": HASH, "frames": "many", "sha256": "0" * 64}),
    "chunk-wrong-sha": (b"\x00" * 100, {"plan-hash": HASH, "frames": "30", "sha256": "0" * 64}),
}  # fmt: skip


def upload_objects(bucket: str) -> None:
    client = boto3.client("s3")
    for name, (data, metadata) in OBJECTS.items():
        client.put_object(Bucket=bucket, Key=f"o/{name}", Body=data, Metadata=metadata)
    for index in range(3):  # where renderChunk with ChunkOutputS3Prefix s3://b/o/c looks
        data, metadata = OBJECTS[["chunk-no-sha", "chunk-bad-frames", "chunk-wrong-sha"][index]]
        for ext in (".mp4", ".mov", ".webm", ".tar.gz"):
            client.put_object(Bucket=bucket, Key=f"o/c/{index:04d}{ext}", Body=data, Metadata=metadata)  # fmt: skip


# ---- generated events ------------------------------------------------------------------


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Good values 15 times in 16: most events get past validation to the stored objects."""
    # (Hypothesis favours small and boundary integers: draw an index, bad only at 15.)
    return st.sampled_from(range(16)).flatmap(lambda n: bad if n == 15 else good)


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
)  # fmt: skip
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
VALID_CONFIG = {
    "fps": [30, 24, "30000/1001"], "width": [64, 1920], "height": [64, 1080],
    "format": ["mp4", "webm", "mov", "png-sequence"], "chunkSize": [1, 60],
    "maxParallelChunks": [1, 8], "runtimeCap": ["lambda"], "quality": ["draft", "high"],
    "entryFile": ["index.html"], "variables": [{}, {"a": 1}], "crf": [0, 51],
}  # fmt: skip
INVALID_CONFIG = {
    "fps": [0, -1, 1e308, "1/0", float("nan")], "width": [0, 10**9, -5], "format": ["gif"],
    "chunkSize": [0, 10**12], "runtimeCap": ["x"], "entryFile": ["../../etc/passwd", "/abs.html", "a\x00b"],
    "variables": [[]], "crf": [99], "codec": ["av1"], "unknownKey": [1],
}  # fmt: skip
config_values = st.one_of(
    st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in VALID_CONFIG.items()}),
    st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in VALID_CONFIG.items()}),
    st.fixed_dictionaries({}, optional={k: mostly(st.sampled_from(v), json_values) for k, v in INVALID_CONFIG.items()}),
)  # fmt: skip


def uri_strategy(bucket: str, tmp: Path) -> st.SearchStrategy[Any]:
    stored = st.sampled_from([f"s3://{bucket}/o/{name}" for name in OBJECTS])
    odd = st.one_of(
        st.sampled_from([f"s3://{bucket}/o/c/", f"s3://{bucket}/o/missing", "s3://no-such-bucket-hf/x",
                         f"s3://{bucket}/" + "k" * 1100, f"file://{tmp}/store/x", "file:///dev/zero",
                         "file:///proc/self/stat", "file:///", "s3://Bad_Bucket/x", "s3://b/", "http://x/y"]),
        st.builds(lambda key: f"s3://{bucket}/{key}", st.text(min_size=1, max_size=40)),
        st.builds(lambda key: f"file://{tmp}/store/{key}", st.text(alphabet="abc/._-", min_size=1, max_size=20)),
        json_values,
    )  # fmt: skip
    return mostly(stored, odd)


def event_strategy(bucket: str, tmp: Path) -> st.SearchStrategy[Any]:
    uri = uri_strategy(bucket, tmp)
    sha = mostly(st.just(HASH), st.one_of(st.text(alphabet="0123456789abcdef", min_size=63, max_size=65), json_values))  # fmt: skip
    fmt = mostly(st.sampled_from(["mp4", "mov", "webm", "png-sequence"]), st.one_of(st.just("gif"), json_values))  # fmt: skip
    required = {
        "plan": {"ProjectS3Uri": uri, "PlanOutputS3Prefix": uri, "Config": mostly(config_values, json_values)},
        "renderChunk": {"PlanS3Uri": uri, "PlanHash": sha, "ChunkOutputS3Prefix": mostly(st.just(f"s3://{bucket}/o/c/"), uri),
                        "ChunkIndex": mostly(st.integers(0, 3), st.one_of(st.integers(-2, 2**40), json_values)), "Format": fmt},
        "assemble": {"PlanS3Uri": uri, "PlanHash": sha, "ChunkS3Uris": mostly(st.lists(uri, min_size=1, max_size=4), json_values),
                     "ChunkSha256s": mostly(st.none(), st.one_of(st.lists(sha, max_size=4), json_values)),
                     "AudioS3Uri": st.one_of(st.none(), uri), "OutputS3Uri": uri, "Format": fmt},
    }  # fmt: skip

    def one(action: str) -> st.SearchStrategy[Any]:
        fields = required[action]
        # Each field present 31 times in 32; a few unknown extra fields now and then.
        return st.fixed_dictionaries(
            {name: st.tuples(st.sampled_from(range(32)), value) for name, value in fields.items()}
        ).flatmap(
            lambda drawn: st.dictionaries(st.text(max_size=6), json_values, max_size=2).map(
                lambda extra: {
                    **extra,
                    "Action": action,
                    **{k: v for k, (n, v) in drawn.items() if n != 31},
                }
            )
        )

    event = mostly(
        st.sampled_from(list(required)).flatmap(one),
        st.dictionaries(st.sampled_from(["Action", "PlanS3Uri", "Payload"]), json_values),
    )
    return st.one_of(
        event,
        event.map(lambda e: {"Payload": e}),
        event.map(lambda e: {"Input": {"Payload": e}}),
        json_values,
    )


@pytest.mark.usefixtures("no_chrome")
def test_generated_events_only_raise_typed_errors(
    bucket: str, tmp_path: Path, fresh_container: Path
) -> None:
    upload_objects(bucket)
    data = st.data()

    @settings(max_examples=EVENT_CASES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(data=data, on_lambda=st.booleans())
    def check(data: st.DataObject, on_lambda: bool) -> None:
        event = data.draw(event_strategy(bucket, tmp_path))
        saved = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        if on_lambda:
            os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "hf-property"
        else:
            os.environ.pop("AWS_LAMBDA_FUNCTION_NAME", None)
        try:
            run_case("event", event, fresh_container)
        finally:
            if saved is None:
                os.environ.pop("AWS_LAMBDA_FUNCTION_NAME", None)
            else:
                os.environ["AWS_LAMBDA_FUNCTION_NAME"] = saved

    check()
    assert CASES["event"] >= EVENT_CASES // 2


# ---- generated stored objects: plan archives and projects ----------------------------

plan_docs = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={k: st.one_of(st.just(v), json_values) for k, v in GOOD_PLAN_JSON.items()}),
)  # fmt: skip
member_names = st.sampled_from(["plan.json", "meta/encoder.json", "meta/capture.json", "meta/chunks.json",
                                "compiled/index.html", "audio.m4a", "x/../../y", "/abs"])  # fmt: skip


@pytest.mark.usefixtures("no_chrome")
def test_generated_stored_objects_only_raise_typed_errors(
    bucket: str, tmp_path: Path, fresh_container: Path
) -> None:
    client = boto3.client("s3")

    @settings(max_examples=STORED_CASES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(
        plan_doc=plan_docs,
        others=st.dictionaries(member_names, st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=64)), max_size=4),
        html=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)),
        action=st.sampled_from(["renderChunk", "assemble", "plan"]),
        raw=st.booleans(),
    )  # fmt: skip
    def check(plan_doc: Any, others: dict[str, bytes], html: bytes, action: str, raw: bool) -> None:
        if action == "plan":
            body = html if raw else tar_gz({"index.html": html, **others})
            client.put_object(Bucket=bucket, Key="g/project.tar.gz", Body=body)
            event: dict[str, Any] = {"Action": "plan", "ProjectS3Uri": f"s3://{bucket}/g/project.tar.gz",
                                     "PlanOutputS3Prefix": f"s3://{bucket}/g/out/"}  # fmt: skip
        else:
            members = {"plan.json": json.dumps(plan_doc).encode(), **others}
            body = html if raw else tar_gz(members)
            client.put_object(Bucket=bucket, Key="g/plan.tar.gz", Body=body)
            event = {"Action": action, "PlanS3Uri": f"s3://{bucket}/g/plan.tar.gz", "PlanHash": HASH, "Format": "mp4"}  # fmt: skip
            if action == "renderChunk":
                event |= {"ChunkIndex": 0, "ChunkOutputS3Prefix": f"s3://{bucket}/g/chunks/"}
            else:
                event |= {"ChunkS3Uris": [f"s3://{bucket}/o/garbage"], "OutputS3Uri": f"s3://{bucket}/g/out.mp4"}  # fmt: skip
        run_case("stored-object", event, fresh_container)

    check()
    assert CASES["stored-object"] >= STORED_CASES // 2


# ---- the slow part: a real plan, generated corrupt chunks ------------------------------


@pytest.mark.slow
def test_generated_chunks_only_raise_typed_errors(
    bucket: str, tmp_path: Path, fresh_container: Path
) -> None:
    project = upload_project(COMPOSITIONS / "known-pixels", bucket, "p/kp.tar.gz", tmp_path)
    formats: dict[str, dict[str, Any]] = {}
    for fmt in ("mp4", "png-sequence"):
        formats[fmt] = invoke({"Action": "plan", "ProjectS3Uri": project, "PlanOutputS3Prefix": f"s3://{bucket}/r/{fmt}/",
                               "Config": {"chunkSize": 30, "format": fmt}})  # fmt: skip
    client = boto3.client("s3")
    chunk_bodies = st.one_of(
        st.binary(max_size=300),
        st.dictionaries(st.sampled_from([MANIFEST, "frame_000001.png", "x", "../x"]),
                        st.one_of(st.binary(max_size=50), json_values.map(lambda v: json.dumps(v).encode())),
                        max_size=3).map(tar_gz),
        st.builds(lambda i, n, h: tar_gz({MANIFEST: json.dumps({"planHash": h, "index": i, "count": n}).encode()}),
                  st.integers(-1, 3), st.integers(0, 3), st.sampled_from([HASH, "x"])),
    )  # fmt: skip

    @settings(max_examples=CHUNK_CASES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(
        fmt=st.sampled_from(list(formats)), bodies=st.lists(chunk_bodies, min_size=2, max_size=2)
    )
    def check(fmt: str, bodies: list[bytes]) -> None:
        planned = formats[fmt]
        uris = []
        for index, body in enumerate(bodies):
            # Recorded as renderChunk records it, so assemble gets past the digest check
            # (a chunk with no hash is CHUNK_UNVERIFIABLE) to the bytes themselves.
            digest = {"sha256": hashlib.sha256(body).hexdigest()}
            client.put_object(Bucket=bucket, Key=f"c/{fmt}/{index}", Body=body, Metadata=digest)
            uris.append(f"s3://{bucket}/c/{fmt}/{index}")
        outcome = run_case("chunk", {
            "Action": "assemble", "PlanS3Uri": planned["PlanS3Uri"], "PlanHash": planned["PlanHash"],
            "ChunkS3Uris": uris, "OutputS3Uri": f"s3://{bucket}/c/out", "Format": fmt,
        }, fresh_container)  # fmt: skip
        assert outcome in ("CORRUPT_STORED_OBJECT", "CHUNK_MISMATCH"), outcome

    check()
    assert CASES["chunk"] >= CHUNK_CASES // 2
