"""A chunk fetches only what it renders: the plan's content-addressed artifacts, through
the real handler against a real S3-compatible server (moto), storage reads recorded."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import boto3
import pytest

from hyperframes_lambda.handler import dispatch as handler_module
from hyperframes_lambda.handler.dispatch import handler
from hyperframes_lambda.handler.storage import Storage
from hyperframes_lambda.local.step_functions import LocalContext, pack_project
from hyperframes_lambda.media.video_frames import frame_for_time
from hyperframes_lambda.stages.plan_artifacts import ArtifactManifest, VideoWindow
from hyperframes_lambda.stages.plan_hash import ARTIFACTS_JSON

from ..media_fixtures import ffmpeg

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>
  html, body { margin: 0; }
  #root { position: relative; width: 320px; height: 180px; background: #000; }
  video { position: absolute; top: 0; left: 0; width: 320px; height: 180px; }
  #small { width: 80px; height: 45px; left: 230px; }
</style></head>
<body>
<div id="root" data-composition-id="bg" data-width="320" data-height="180" data-duration="2">
  <video id="bg" src="bg.mp4" data-start="0" data-duration="2"></video>
  <video id="small" src="loop.mp4" data-start="0.5" data-duration="1.5" loop muted></video>
  <p style="position: absolute; left: 10px; top: 60px; color: #fff; font: 24px sans-serif">hello</p>
</div>
</body></html>
"""


class RecordingStorage(Storage):
    """The real storage, with every download's URI and size written down."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str, int]] = []

    def download(self, uri: str, dest: Path, expected_sha256: str | None = None) -> Path:
        path = super().download(uri, dest, expected_sha256)
        self.reads.append((uri, path.stat().st_size))
        return path


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[RecordingStorage]:
    store = RecordingStorage()
    monkeypatch.setattr(handler_module, "_storage", store)
    tmp = tmp_path / "lambda-tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    yield store
    assert list(tmp.iterdir()) == [], "every invocation cleans up its work directory"


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    return handler(event, LocalContext(aws_request_id="test"))


@pytest.fixture
def planned(bucket: str, tmp_path: Path, recording: RecordingStorage) -> dict[str, Any]:
    project = tmp_path / "project"
    project.mkdir()
    (project / "index.html").write_text(PAGE, encoding="utf-8")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=2",
           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
           str(project / "bg.mp4"))  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=160x90:r=30:d=0.6", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", str(project / "loop.mp4"))  # fmt: skip
    archive = pack_project(project, tmp_path / "project.tar.gz")
    boto3.client("s3").upload_file(str(archive), bucket, "projects/bg.tar.gz")
    result = invoke({"Action": "plan", "ProjectS3Uri": f"s3://{bucket}/projects/bg.tar.gz",
                     "PlanOutputS3Prefix": f"s3://{bucket}/r/1/",
                     "Config": {"maxParallelChunks": 4}})  # fmt: skip
    recording.reads.clear()
    return result


def manifest_of(planned: dict[str, Any], tmp_path: Path) -> ArtifactManifest:
    archive = tmp_path / "core.tar.gz"
    Storage().download(planned["PlanS3Uri"], archive)
    with tarfile.open(archive) as tar:
        member = tar.extractfile(ARTIFACTS_JSON)
        assert member is not None
        return ArtifactManifest.from_json(json.loads(member.read()))


def chunk_event(planned: dict[str, Any], bucket: str, index: int) -> dict[str, Any]:
    return {"Action": "renderChunk", "PlanS3Uri": planned["PlanS3Uri"], "PlanHash": planned["PlanHash"],
            "ChunkIndex": index, "ChunkOutputS3Prefix": f"s3://{bucket}/r/1/chunks/", "Format": "mp4"}  # fmt: skip


def artifact_uri(bucket: str, name: str) -> str:
    return f"s3://{bucket}/r/1/artifacts/{name}"


@pytest.mark.slow
def test_each_chunk_downloads_exactly_its_artifacts(
    planned: dict[str, Any], bucket: str, recording: RecordingStorage, tmp_path: Path
) -> None:
    manifest = manifest_of(planned, tmp_path)
    assert planned["ChunkCount"] == 4
    # The source video is emptied once its frames are extracted and its sound mixed.
    assert manifest.files["compiled/bg.mp4"] == EMPTY_SHA256
    assert manifest.files["compiled/loop.mp4"] == EMPTY_SHA256
    kinds = sorted(a.kind for a in manifest.artifacts)
    assert kinds.count("page") == 1 and kinds.count("soundtrack") == 1
    plan_bytes = sum(a.size for a in manifest.artifacts)
    chunks = []
    for index in range(4):
        recording.reads.clear()
        chunks.append(invoke(chunk_event(planned, bucket, index)))
        mine = sorted(artifact_uri(bucket, a.object_name) for a in manifest.for_chunk(index))
        expected = [planned["PlanS3Uri"], *mine]
        read = [uri for uri, _size in recording.reads]
        assert [read[0], *sorted(read[1:])] == expected
        # The page and this chunk's frames of the videos; no other chunk's, no sound.
        mine = manifest.for_chunk(index)
        assert {a.kind for a in mine} == {"page", "video-frames"}
        assert all(index in a.chunks for a in mine if a.kind == "video-frames")
        fetched = sum(size for _uri, size in recording.reads[1:])
        assert fetched < plan_bytes / 2
    recording.reads.clear()
    invoke({"Action": "assemble", "PlanS3Uri": planned["PlanS3Uri"], "PlanHash": planned["PlanHash"],
            "ChunkS3Uris": [c["ChunkS3Uri"] for c in chunks],
            "ChunkSha256s": [c["Sha256"] for c in chunks], "AudioS3Uri": planned["AudioS3Uri"],
            "OutputS3Uri": f"s3://{bucket}/out.mp4", "Format": "mp4"})  # fmt: skip
    (soundtrack,) = manifest.of_kind("soundtrack")
    read = [uri for uri, _size in recording.reads]
    assert read[:2] == [planned["PlanS3Uri"], artifact_uri(bucket, soundtrack.object_name)]
    assert all("/artifacts/" not in uri for uri in read[2:]), "then only the chunks"


def _retar(archive: Path, change: Any) -> None:
    """Rewrite a tar artifact with ``change(members: dict[name, bytes])`` applied."""
    with tarfile.open(archive) as tar:
        members = {m.name: _read(tar, m) for m in tar if m.isfile()}
    change(members)
    with tarfile.open(archive, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    assert handle is not None
    return handle.read()


@pytest.mark.slow
@pytest.mark.parametrize("tamper", ["altered-frame", "extra-file", "missing-file"])
def test_tampered_artifact_is_refused(
    planned: dict[str, Any], bucket: str, tmp_path: Path, tamper: str
) -> None:
    manifest = manifest_of(planned, tmp_path)
    frames = next(a for a in manifest.for_chunk(2) if a.kind == "video-frames")
    local = tmp_path / frames.object_name
    uri = artifact_uri(bucket, frames.object_name)
    Storage().download(uri, local)
    first = frames.files[0]

    def change(members: dict[str, bytes]) -> None:
        if tamper == "altered-frame":
            members[first] = members[first][:-1] + bytes([members[first][-1] ^ 1])
        elif tamper == "extra-file":
            members["compiled/extra.js"] = b"alert(1)"
        else:
            del members[first]

    _retar(local, change)
    Storage().upload(local, uri)  # a consistent re-upload: the stored digest matches
    with pytest.raises(Exception) as caught:
        invoke(chunk_event(planned, bucket, 2))
    assert type(caught.value).__name__ == "PLAN_ARTIFACT_DIGEST_MISMATCH"
    assert frames.object_name in str(caught.value)
    # A chunk that does not need the tampered artifact is unaffected.
    if frames.chunks == (2,):
        assert invoke(chunk_event(planned, bucket, 0))["FramesEncoded"] == 15


def test_frames_for_matches_the_page_lookup() -> None:
    """Every frame index the page's lookup picks is in the set an artifact holds."""
    fps = Fraction(30)
    for loop in (False, True):
        window = VideoWindow(0, start=0.5, end=2.0, count=18, loop=loop, dir="v/000", ext="jpg")
        for first in range(0, 60, 7):
            frames = range(first, min(60, first + 7))
            held = window.frames_for(frames, fps)
            for frame in frames:
                t = frame / 30
                if 0.5 <= t < 2.0:
                    assert frame_for_time(t, 0.5, fps, 18, loop=loop) in held
            assert len(held) <= 9  # its 7 frames and one either side, no more


def test_partial_plan_hashes_like_the_whole(tmp_path: Path) -> None:
    """A worker holding part of a plan recomputes the planner's hash; a changed file
    on disk still changes it."""
    from hyperframes_lambda.stages.plan_artifacts import build_manifest, write_manifest
    from hyperframes_lambda.stages.plan_hash import compute_plan_hash

    plan = tmp_path / "plan"
    (plan / "compiled").mkdir(parents=True)
    (plan / "compiled" / "index.html").write_text("<p>hi</p>")
    (plan / "video-frames" / "000").mkdir(parents=True)
    for k in range(4):
        (plan / "video-frames" / "000" / f"frame_{k:06d}.jpg").write_bytes(bytes([k]) * 10)
    files = ["compiled/index.html", *(f"video-frames/000/frame_{k:06d}.jpg" for k in range(4))]
    digests = {p: hashlib.sha256((plan / p).read_bytes()).hexdigest() for p in files}
    window = VideoWindow(0, 0.0, None, 4, False, "video-frames/000", "jpg")
    from hyperframes_lambda.stages.chunking import Chunk

    chunks = [Chunk(0, 0, 2), Chunk(1, 2, 4)]
    manifest = build_manifest(
        digests, dict.fromkeys(files, 10), chunks, [window], Fraction(30), None
    )
    write_manifest(plan, manifest)
    args: dict[str, Any] = {"encoder": {}, "ffmpeg_version": "f", "renderer_version": "r",
                            "fps": Fraction(30), "width": 2, "height": 2, "format": "mp4"}  # fmt: skip
    whole = compute_plan_hash(plan, **args)
    partial = tmp_path / "partial"
    shutil.copytree(plan, partial)
    for k in (0, 3):
        (partial / "video-frames" / "000" / f"frame_{k:06d}.jpg").unlink()
    assert compute_plan_hash(partial, **args) == whole
    (partial / "compiled" / "index.html").write_text("<p>swapped</p>")
    assert compute_plan_hash(partial, **args) != whole
