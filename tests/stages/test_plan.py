"""Plan determinism and integrity, and the typed errors of every stage on bad input."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hyperframes_lambda.cache import file_sha256
from hyperframes_lambda.errors import (
    AssetFetchError,
    ChunkDigestMismatchError,
    ChunkIndexOutOfRangeError,
    ChunkMissingError,
    InvalidConfigError,
    NotMediaPayloadError,
    PlanHashMismatchError,
)
from hyperframes_lambda.media.probe import probe
from hyperframes_lambda.stages.assemble import assemble
from hyperframes_lambda.stages.plan import plan
from hyperframes_lambda.stages.plan_archive import extract_plan_archive
from hyperframes_lambda.stages.render_chunk import render_chunk

from ..conftest import COMPOSITIONS

pytestmark = pytest.mark.slow

PROJECT = COMPOSITIONS / "known-pixels"


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("planned")
    plan(PROJECT, {"maxParallelChunks": 3}, work / "plan", work / "plan.tar.gz")
    return work


def test_planning_twice_is_byte_identical(planned: Path, tmp_path: Path) -> None:
    again = plan(PROJECT, {"maxParallelChunks": 3}, tmp_path / "plan", tmp_path / "plan.tar.gz")
    assert (tmp_path / "plan.tar.gz").read_bytes() == (planned / "plan.tar.gz").read_bytes()
    assert again.plan_hash == extract_hash(planned / "plan")
    assert again.chunk_count == 3 and not again.has_audio


def extract_hash(plan_dir: Path) -> str:
    import json

    return str(json.loads((plan_dir / "plan.json").read_text())["planHash"])


def test_one_byte_of_any_asset_changes_the_hash(planned: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project)
    index = project / "index.html"
    index.write_bytes(index.read_bytes().replace(b"rgb(255, 0, 0)", b"rgb(255, 0, 1)", 1))
    changed = plan(project, {"maxParallelChunks": 3}, tmp_path / "plan")
    assert changed.plan_hash != extract_hash(planned / "plan")
    # Config is part of the plan too.
    other = plan(PROJECT, {"maxParallelChunks": 3, "variables": {"x": 1}}, tmp_path / "plan2")
    assert other.plan_hash != extract_hash(planned / "plan")


def test_archive_round_trips(planned: Path, tmp_path: Path) -> None:
    extracted = extract_plan_archive(planned / "plan.tar.gz", tmp_path / "x")
    result = render_chunk(
        extracted, 0, tmp_path / "c0.mp4", expected_hash=extract_hash(planned / "plan")
    )
    assert result.frames == 20


def test_tampered_plan_fails_before_chrome_starts(
    planned: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "plan"
    shutil.copytree(planned / "plan", copy)
    target = next(p for p in sorted((copy / "compiled").rglob("*.js")))
    target.write_bytes(target.read_bytes() + b"\n// altered")
    # No browser can be found: reaching Chrome would raise ChromeBinaryUnavailableError.
    monkeypatch.setenv("HYPERFRAMES_CHROME_PATH", str(tmp_path / "no-chrome"))
    with pytest.raises(PlanHashMismatchError, match="altered after it was frozen"):
        render_chunk(copy, 0, tmp_path / "c.mp4")
    with pytest.raises(PlanHashMismatchError, match="expects plan deadbeef"):
        render_chunk(planned / "plan", 0, tmp_path / "c.mp4", expected_hash="deadbeef")
    with pytest.raises(
        ChunkIndexOutOfRangeError,
        match=r"chunk index 3 is out of range: the plan has 3 chunks \(0…2\)",
    ):
        render_chunk(planned / "plan", 3, tmp_path / "c.mp4")
    assert not (tmp_path / "c.mp4").exists()


def test_assemble_checks_chunks(planned: Path, tmp_path: Path) -> None:
    plan_dir = planned / "plan"
    chunks = [render_chunk(plan_dir, i, tmp_path / f"{i}.mp4") for i in range(3)]
    paths = [c.path for c in chunks]
    hashes = [c.sha256 for c in chunks]
    out = tmp_path / "out.mp4"
    with pytest.raises(ChunkMissingError, match="the plan has 3 chunks but 2 were given"):
        assemble(plan_dir, paths[:2], out, expected_hashes=hashes[:2])
    with pytest.raises(ChunkMissingError, match=r"chunk 1 is missing"):
        assemble(plan_dir, [paths[0], tmp_path / "nope.mp4", paths[2]], out)
    wrong = list(hashes)
    wrong[2] = "0" * 64
    with pytest.raises(ChunkDigestMismatchError, match="chunk 2"):
        assemble(plan_dir, paths, out, expected_hashes=wrong)
    assert not out.exists()
    result = assemble(plan_dir, paths, out, expected_hashes=hashes)
    assert result.frames == 60 and result.sha256 == file_sha256(out)
    info = probe(out)
    assert info.frame_count == 60 and not info.has_audio, "no audio elements: no audio stream"


def test_invalid_config_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfigError, match=r"Config\.maxParallelChunks"):
        plan(PROJECT, {"maxParallelChunks": 0}, tmp_path / "plan")
    assert not (tmp_path / "plan").exists()


def test_unreachable_remote_asset_leaves_no_plan(tmp_path: Path) -> None:
    # An image is optional unless assets are strict (then it fails like any asset).
    with pytest.raises(AssetFetchError, match=r"https://assets\.invalid/brand/logo\.png"):
        plan(
            COMPOSITIONS / "bad" / "unreachable",
            {"strictAssets": True},
            tmp_path / "plan",
            tmp_path / "plan.tar.gz",
        )
    assert not (tmp_path / "plan").exists() and not (tmp_path / "plan.tar.gz").exists()


def test_unreachable_remote_script_leaves_no_plan(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "index.html").write_text(
        '<script src="https://cdn.invalid/lib/thing.js"></script>'
        '<div data-composition-id="u" data-width="320" data-height="180" data-duration="1"></div>'
    )
    with pytest.raises(AssetFetchError, match=r"https://cdn\.invalid/lib/thing\.js"):
        plan(project, {}, tmp_path / "plan", tmp_path / "plan.tar.gz")
    assert not (tmp_path / "plan").exists() and not (tmp_path / "plan.tar.gz").exists()


def test_video_that_is_not_media(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "clip.mp4").write_text("<!doctype html><title>404 Not Found</title>")
    (project / "index.html").write_text(
        '<div data-composition-id="v" data-width="320" data-height="180" data-duration="1">'
        '<video src="clip.mp4" data-start="0" muted></video></div>'
    )
    with pytest.raises(NotMediaPayloadError, match=r"clip\.mp4"):
        plan(project, {}, tmp_path / "plan")
    assert not (tmp_path / "plan").exists()
    assert os.listdir(tmp_path) == ["project"]
