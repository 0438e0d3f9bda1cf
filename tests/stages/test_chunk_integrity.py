"""Issue 10, item 7: every chunk carries its plan hash and index, assembly checks them, and
a retried renderChunk re-renders a chunk whose stored bytes were altered."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import boto3
import pytest

from hyperframes_lambda.errors import ChunkMismatchError, StoredObjectCorruptError
from hyperframes_lambda.handler import dispatch as handler_module
from hyperframes_lambda.media.encode import EncoderSettings, StreamingEncoder
from hyperframes_lambda.media.ffmpeg import ffmpeg_exe
from hyperframes_lambda.stages.assemble import assemble
from hyperframes_lambda.stages.chunk_tag import MANIFEST, ChunkTag, read_tag
from hyperframes_lambda.stages.plan import PlanResult, plan
from hyperframes_lambda.stages.render_chunk import CHUNK_EXTENSIONS, render_chunk

from ..conftest import COMPOSITIONS
from ..handler.test_lambda_handler import chunk_event, fresh_container, invoke, small_plan

__all__ = ["fresh_container", "small_plan"]

TAG = ChunkTag("c" * 64, 1, 3)


def pattern_frames(tmp_path: Path) -> list[bytes]:
    """Ten distinct PNG frames (ffmpeg's test pattern), 64x64."""
    pattern = tmp_path / "f_%02d.png"
    subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10",
         "-frames:v", "10", str(pattern)],
        check=True,
    )  # fmt: skip
    return [p.read_bytes() for p in sorted(tmp_path.glob("f_*.png"))]


def packet_hashes(path: Path) -> str:
    """The video packets' MD5s (stream copy: what the encoder produced, not the container)."""
    return subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-i", str(path), "-map", "0:v", "-c", "copy",
         "-f", "framemd5", "-"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


@pytest.mark.parametrize("fmt", ["mp4", "webm", "mov"])
def test_the_tag_is_container_metadata_only(tmp_path: Path, fmt: str) -> None:
    frames = pattern_frames(tmp_path)
    settings = EncoderSettings(fps=Fraction(10), width=64, height=64, format=fmt)  # type: ignore[arg-type]
    outputs = {}
    for comment in (None, TAG.comment()):
        out = tmp_path / f"{'tagged' if comment else 'plain'}.{fmt}"
        encoder = StreamingEncoder(settings, out, 10, input_format="png", comment=comment)
        for frame in frames:
            encoder.write(frame)
        encoder.finish()
        outputs[comment] = out
    plain, tagged = outputs[None], outputs[TAG.comment()]
    assert read_tag(tagged) == TAG
    assert read_tag(plain) is None
    assert plain.read_bytes() != tagged.read_bytes()
    hashes = packet_hashes(tagged)
    assert hashes == packet_hashes(plain) and hashes.count("\n") > 10, "same encoded frames"


def test_unreadable_chunks_are_corrupt(tmp_path: Path) -> None:
    for name, data in (("0000.mp4", b"not a video"), ("0000.tar.gz", b"not a tar.gz")):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(StoredObjectCorruptError, match=name):
            read_tag(path)


# ---- real plans and chunks -------------------------------------------------------------


def plan_and_render(work: Path, config: dict[str, Any], indices: list[int] | None = None) -> tuple[PlanResult, list[Path]]:  # fmt: skip
    planned = plan(COMPOSITIONS / "known-pixels", config, work / "plan", work / "plan.tar.gz")
    ext = CHUNK_EXTENSIONS[planned.format]
    chunks = []
    for index in indices if indices is not None else range(planned.chunk_count):
        out = work / "chunks" / f"{index:04d}{ext}"
        render_chunk(planned.plan_dir, index, out, expected_hash=planned.plan_hash)
        chunks.append(out)
    return planned, chunks


@pytest.fixture(scope="module", params=["mp4", "png-sequence"])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PlanResult, list[Path], Path]]:  # fmt: skip
    work = tmp_path_factory.mktemp(f"integrity-{request.param}")
    planned, chunks = plan_and_render(work, {"chunkSize": 20, "format": request.param})
    assert planned.chunk_count == 3
    yield planned, chunks, work


@pytest.mark.slow
def test_chunks_carry_their_plan_and_index(rendered: tuple[PlanResult, list[Path], Path]) -> None:
    planned, chunks, work = rendered
    assert [read_tag(c) for c in chunks] == [ChunkTag(planned.plan_hash, i, 3) for i in range(3)]
    out = work / ("out" if planned.format == "png-sequence" else "out.mp4")
    result = assemble(planned.plan_dir, chunks, out)
    assert result.frames == 60
    if planned.format == "png-sequence":
        names = sorted(p.name for p in out.iterdir())
        assert MANIFEST not in names and names == [f"frame_{i:06d}.png" for i in range(1, 61)]
    else:
        assert read_tag(out) is None, "the chunks' tags do not end up in the output"


@pytest.mark.slow
def test_chunks_in_the_wrong_order_are_refused(rendered: tuple[PlanResult, list[Path], Path]) -> None:  # fmt: skip
    planned, chunks, work = rendered
    out = work / "scrambled"
    with pytest.raises(ChunkMismatchError) as caught:
        assemble(planned.plan_dir, [chunks[1], chunks[0], chunks[2]], out)  # no hashes given
    message = str(caught.value)
    assert chunks[1].name in message and "position 0" in message
    assert "chunk 0 of 3" in message and "chunk 1 of 3" in message
    assert caught.value.code == "CHUNK_MISMATCH" and not out.exists()


@pytest.mark.slow
def test_a_chunk_of_another_plan_is_refused(
    rendered: tuple[PlanResult, list[Path], Path], tmp_path: Path
) -> None:
    planned, chunks, work = rendered
    other, [foreign] = plan_and_render(
        tmp_path, {"chunkSize": 20, "format": planned.format, "quality": "draft"}, [1]
    )
    assert other.plan_hash != planned.plan_hash
    with pytest.raises(ChunkMismatchError) as caught:
        assemble(planned.plan_dir, [chunks[0], foreign, chunks[2]], work / "mixed")
    message = str(caught.value)
    assert planned.plan_hash in message and other.plan_hash in message
    assert foreign.name in message


@pytest.mark.slow
def test_a_chunk_that_is_not_an_archive_is_corrupt(
    rendered: tuple[PlanResult, list[Path], Path], tmp_path: Path
) -> None:
    planned, chunks, work = rendered
    bogus = tmp_path / chunks[2].name
    bogus.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(StoredObjectCorruptError, match=bogus.name):
        assemble(planned.plan_dir, [chunks[0], chunks[1], bogus], work / "bogus")


# ---- the handler: a retry verifies the stored bytes before reusing them --------------


@pytest.mark.slow
def test_a_retry_rerenders_an_altered_chunk(
    small_plan: dict[str, Any], bucket: str, fresh_container: Path
) -> None:
    puts: list[str] = []  # the chunk's uploads (its progress heartbeats are not renders)

    def count_put(**kwargs: Any) -> None:
        if "/progress/" not in kwargs["params"]["Key"]:
            puts.append(kwargs["params"]["Key"])

    handler_module.storage().s3.meta.events.register(
        "provide-client-params.s3.PutObject", count_put
    )
    key = "r/1/chunks/0000.mp4"
    first = invoke(chunk_event(small_plan, bucket))
    client = boto3.client("s3")
    stored = client.get_object(Bucket=bucket, Key=key)
    original, metadata = stored["Body"].read(), stored["Metadata"]
    assert metadata["sha256"] == first["Sha256"]

    def retry_after(body: bytes, meta: dict[str, str]) -> dict[str, Any]:
        client.put_object(Bucket=bucket, Key=key, Body=body, Metadata=meta)
        return invoke(chunk_event(small_plan, bucket))

    altered = bytearray(original)
    altered[len(altered) // 2] ^= 0xFF
    cases = {
        "intact": (original, metadata, True),
        "bytes altered, metadata intact": (bytes(altered), metadata, False),
        "sha256 missing": (original, {k: v for k, v in metadata.items() if k != "sha256"}, False),
        "frames not a number": (original, {**metadata, "frames": "many"}, False),
    }
    for name, (body, meta, reused) in cases.items():
        before = len(puts)
        result = retry_after(body, meta)
        assert result["Reused"] is reused, name
        assert len(puts) - before == (0 if reused else 1), f"{name}: renders counted by uploads"
        assert result["Sha256"] == first["Sha256"], name
        fresh = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert fresh == original, f"{name}: the object holds the chunk's true bytes again"
    assert list(fresh_container.iterdir()) == []
