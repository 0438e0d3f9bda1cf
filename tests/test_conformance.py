"""A fast slice of the conformance suite (``make conformance`` runs all of it).

A few short fixtures that pass today, run through the runner's own functions, so a change
that breaks rendering parity (or the runner) shows up in ``make test`` and not only in
the full suite (~9 minutes on 2 cores). Each passes today with a margin of several dB
over its bar, and each covers something different cheaply (see FIXTURES).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "benchmarks" / "conformance.py"

# name -> why it is in the fast slice
FIXTURES = {
    "anime-boundary": "anime.js; no meta.json bars, so judged at the 30 dB default",
    "render-video-overlay-stretch": "a video clip linked from ../_media, an image overlay",
    "mp4-h264-sdr": "chunkSize 15: four chunks in worker processes, concatenated",
    "sub-comp-class-selector": "a sub-composition inlined, its class selectors scoped",
}


def _load_runner() -> ModuleType:
    """benchmarks/ is not a package; load the runner by path under its module name."""
    spec = importlib.util.spec_from_file_location("conformance", RUNNER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("conformance", module)
    spec.loader.exec_module(module)
    return module


conformance = _load_runner()
SUITE: Path = conformance.DEFAULT_SUITE


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("conformance")


def test_checkpoints_follow_the_reference_formula() -> None:
    frames = conformance.checkpoint_frames(60)
    assert len(frames) == 100
    assert frames[0] == 0 and frames[-1] == round(59 * 0.99)
    # halves round up, like Math.round: (59 * 50) / 100 = 29.5 -> 30
    assert frames[50] == 30
    assert conformance.checkpoint_frames(1) == [0] * 100


def test_staging_restores_links_flattened_into_text_files(tmp_path: Path) -> None:
    """A checkout without symlinks leaves ``clip.mp4`` holding ``../_media/…``: the
    staged copy must link it back, and leave real small text files alone."""
    suite = tmp_path / "fixtures"
    (suite / "_media").mkdir(parents=True)
    (suite / "_media" / "a.bin").write_bytes(b"media bytes")
    (suite / "shared").mkdir()
    (suite / "shared" / "brand.css").write_text("body{}")
    fixture_dir = suite / "demo"
    (fixture_dir / "sub").mkdir(parents=True)
    (fixture_dir / "meta.json").write_text("{}")
    (fixture_dir / "sub" / "clip.bin").write_text("../../_media/a.bin")
    (fixture_dir / "shared").write_text("../shared")
    (fixture_dir / "note.txt").write_text("../not-there")
    fixture = conformance.Fixture("demo", fixture_dir, {}, None)

    project = conformance.stage_fixture(fixture, tmp_path / "stage")

    assert (project / "sub" / "clip.bin").is_symlink()
    assert (project / "sub" / "clip.bin").read_bytes() == b"media bytes"
    assert (project / "shared" / "brand.css").read_text() == "body{}"
    assert not (project / "note.txt").is_symlink()
    assert (project / "note.txt").read_text() == "../not-there"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_passes_its_bar(name: str, out_dir: Path) -> None:
    if not (SUITE / "fixtures").is_dir():
        pytest.skip(f"conformance suite not present at {SUITE}")
    (fixture,) = conformance.load_fixtures(SUITE / "fixtures", SUITE / "reference", [name])
    result = conformance.run_fixture(fixture, conformance.RunSettings(out_dir))
    assert result.status == "PASS", conformance.format_table([result])
    assert result.frames_ours == result.frames_reference
    assert result.failures is not None and result.failures <= fixture.max_failures
