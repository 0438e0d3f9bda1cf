"""Where the download cache goes when HOME cannot be written (Lambda, locked-down hosts)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from hyperframes_lambda.cache import cache_root
from hyperframes_lambda.errors import CacheUnavailableError


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No explicit cache dir, no XDG, not on Lambda; the temp dir is ``tmp_path/tmp``."""
    for name in ("HYPERFRAMES_CACHE_DIR", "XDG_CACHE_HOME", "AWS_LAMBDA_FUNCTION_NAME"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    # A path below a regular file can never be created, whoever we are (root included).
    (tmp_path / "file").write_text("")
    return tmp_path


def test_lambda_uses_tmp(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(env / "home"))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "render")
    assert cache_root() == env / "tmp" / "hyperframes-cache"
    assert (env / "tmp" / "hyperframes-cache").is_dir() and not (env / "home").exists()


def test_explicit_dir_wins_on_lambda(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "render")
    monkeypatch.setenv("HYPERFRAMES_CACHE_DIR", str(env / "mine"))
    assert cache_root() == env / "mine"


def test_unwritable_home_falls_back_to_tmp(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(env / "file" / "home"))
    assert cache_root() == env / "tmp" / f"hyperframes-cache-{os.getuid()}"


def test_writable_home_is_used(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(env / "home"))
    assert cache_root() == env / "home" / ".cache" / "hyperframes-lambda"


def test_nothing_writable_is_a_typed_error(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(env / "file" / "home"))
    monkeypatch.setattr(tempfile, "tempdir", str(env / "file" / "tmp"))
    with pytest.raises(CacheUnavailableError, match="HYPERFRAMES_CACHE_DIR") as caught:
        cache_root()
    assert caught.value.code == "CACHE_UNAVAILABLE" and not caught.value.retryable
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "render")
    with pytest.raises(CacheUnavailableError, match="hyperframes-cache"):
        cache_root()


def test_unwritable_explicit_dir_is_a_typed_error(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYPERFRAMES_CACHE_DIR", str(env / "file" / "cache"))
    with pytest.raises(CacheUnavailableError, match="not a writable directory"):
        cache_root()
