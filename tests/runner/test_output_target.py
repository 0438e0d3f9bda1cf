"""``-o`` into directories that do not exist yet: made like ``mkdir -p`` (the README's first
command writes ``out/…`` in a fresh clone), and taken away again when the render fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperframes_lambda.errors import InvalidOutputError
from hyperframes_lambda.runner.output_target import created_parents, resolve_output


def test_a_missing_directory_is_accepted_and_made_by_the_render(tmp_path: Path) -> None:
    output = tmp_path / "out" / "deeper" / "video.mp4"
    assert resolve_output(output) == "mp4"
    assert not (tmp_path / "out").exists()  # checking makes nothing
    with created_parents(output) as made:
        assert made == [tmp_path / "out", tmp_path / "out" / "deeper"]
        output.write_bytes(b"video")
    assert output.read_bytes() == b"video"


def test_a_failed_render_takes_the_directories_it_made_away(tmp_path: Path) -> None:
    output = tmp_path / "out" / "deeper" / "video.mp4"
    with pytest.raises(RuntimeError), created_parents(output):
        raise RuntimeError("render failed")
    assert list(tmp_path.iterdir()) == []


def test_a_directory_someone_else_wrote_into_is_kept(tmp_path: Path) -> None:
    output = tmp_path / "out" / "video.mp4"
    with pytest.raises(RuntimeError), created_parents(output):
        (tmp_path / "out" / "notes.txt").write_text("not ours")
        raise RuntimeError("render failed")
    assert (tmp_path / "out" / "notes.txt").read_text() == "not ours"


def test_an_existing_directory_is_never_removed(tmp_path: Path) -> None:
    output = tmp_path / "video.mp4"
    with pytest.raises(RuntimeError), created_parents(output) as made:
        assert made == []
        raise RuntimeError("render failed")
    assert tmp_path.is_dir()


def test_a_file_in_the_way_is_named(tmp_path: Path) -> None:
    (tmp_path / "notes").write_text("a file")
    with pytest.raises(InvalidOutputError, match=r"notes is a file, so directory .* cannot"):
        resolve_output(tmp_path / "notes" / "sub" / "video.mp4")
