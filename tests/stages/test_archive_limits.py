"""Caps on what a project (or plan) archive may expand to (issue 10 item 6a)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from hyperframes_lambda.errors import ArchiveLimitError, InvalidConfigError, ProjectArchiveError
from hyperframes_lambda.stages.plan_archive import (
    ExtractLimits,
    extract_archive,
    extract_plan_archive,
    project_limits,
)

MiB = 1024 * 1024


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, produced as read: a bomb is built without holding it in memory."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def make_archive(path: Path, members: list[tuple[str, int]]) -> Path:
    """A .tar.gz of zero-filled files ``(name, size)``."""
    with tarfile.open(path, "w:gz", compresslevel=9) as tar:
        for name, size in members:
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BufferedReader(_Zeros(size)))
    return path


def test_gzip_bomb_stops_at_the_byte_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERFRAMES_PROJECT_ARCHIVE_MAX_BYTES", str(MiB))
    bomb = make_archive(tmp_path / "bomb.tar.gz", [("index.html", 10), ("pad.bin", 64 * MiB)])
    assert bomb.stat().st_size < 256 * 1024  # small compressed, 64 MiB expanded
    dest = tmp_path / "project"
    with pytest.raises(ArchiveLimitError) as caught:
        extract_archive(bomb, dest)
    message = str(caught.value)
    assert "bomb.tar.gz" in message and f"more than {MiB} bytes" in message
    assert "HYPERFRAMES_PROJECT_ARCHIVE_MAX_BYTES" in message and "pad.bin" in message
    assert caught.value.code == "ARCHIVE_LIMIT_EXCEEDED" and not caught.value.retryable
    assert not dest.exists()  # nothing half-extracted is left behind


def test_many_small_files_add_up(tmp_path: Path) -> None:
    limits = ExtractLimits(max_bytes=MiB, max_entries=1000, max_depth=8, env_prefix="X")
    archive = make_archive(tmp_path / "p.tar.gz", [(f"f{i:02d}", 100 * 1024) for i in range(20)])
    with pytest.raises(ArchiveLimitError, match="stopped at member 'f10'"):
        extract_archive(archive, tmp_path / "out", limits)
    assert not (tmp_path / "out").exists()


def test_file_count_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERFRAMES_PROJECT_ARCHIVE_MAX_FILES", "50")
    archive = make_archive(tmp_path / "p.tar.gz", [(f"f{i}", 0) for i in range(51)])
    with pytest.raises(ArchiveLimitError, match=r"more than 50 entries .*_MAX_FILES"):
        extract_archive(archive, tmp_path / "out")


def test_path_depth_cap(tmp_path: Path) -> None:
    deep = "/".join(["d"] * 40) + "/index.html"
    archive = make_archive(tmp_path / "p.tar.gz", [(deep, 1)])
    with pytest.raises(ArchiveLimitError, match="41 levels deep, more than 32"):
        extract_archive(archive, tmp_path / "out")


def test_within_the_caps_extracts(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "p.tar.gz", [("index.html", 5), ("a/b/c.png", 2 * MiB)])
    dest = extract_archive(archive, tmp_path / "out")
    assert (dest / "a" / "b" / "c.png").stat().st_size == 2 * MiB
    assert (dest / "index.html").is_file()


def test_plan_archives_have_their_own_caps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERFRAMES_PROJECT_ARCHIVE_MAX_BYTES", "10")  # not for plans
    archive = make_archive(tmp_path / "plan.tar.gz", [("plan.json", 100)])
    assert (extract_plan_archive(archive, tmp_path / "plan") / "plan.json").is_file()
    monkeypatch.setenv("HYPERFRAMES_PLAN_ARCHIVE_MAX_BYTES", "10")
    with pytest.raises(ArchiveLimitError, match="HYPERFRAMES_PLAN_ARCHIVE_MAX_BYTES"):
        extract_plan_archive(archive, tmp_path / "plan2")


def test_unsafe_members_are_still_refused(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "p.tar.gz", [("ok.txt", 1), ("../escape.txt", 1)])
    with pytest.raises(ProjectArchiveError, match="escape"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out").exists()


def test_bad_limit_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERFRAMES_PROJECT_ARCHIVE_MAX_DEPTH", "deep")
    with pytest.raises(InvalidConfigError, match="HYPERFRAMES_PROJECT_ARCHIVE_MAX_DEPTH"):
        project_limits()


def test_the_entry_cap_is_checked_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The member list is read first: an archive of 25 entries under a cap of 20 writes
    nothing, even into a directory that existed before (which is kept, empty)."""
    monkeypatch.setenv("HYPERFRAMES_PROJECT_ARCHIVE_MAX_FILES", "20")
    many = make_archive(tmp_path / "many.tar.gz", [(f"f{i:02d}.txt", 1) for i in range(25)])
    dest = tmp_path / "existing"
    dest.mkdir()
    with pytest.raises(ArchiveLimitError, match="more than 20 entries"):
        extract_archive(many, dest)
    assert list(dest.iterdir()) == []


def test_an_unsafe_member_late_in_the_archive_writes_nothing(tmp_path: Path) -> None:
    late = make_archive(tmp_path / "late.tar.gz", [("a.txt", 1), ("b.txt", 1), ("../x", 1)])
    dest = tmp_path / "existing"
    dest.mkdir()
    with pytest.raises(ProjectArchiveError, match="unsafe"):
        extract_archive(late, dest)
    assert list(dest.iterdir()) == []
