"""Every cache user goes through cache_root(): with HOME unwritable (as on Lambda) nothing
is written under it and a composition with a remote asset still plans (issue 10 item 3)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest

from hyperframes_lambda.browser import font_set, sparticuz
from hyperframes_lambda.cache import cache_root
from hyperframes_lambda.errors import CacheUnavailableError
from hyperframes_lambda.net import npm_registry
from hyperframes_lambda.net.remote_assets import RemoteFetcher
from hyperframes_lambda.page import official_runtime
from hyperframes_lambda.stages.plan import plan

from .media_fixtures import serve

WARM_DIRS = ("chromium", "fontset", "runtime", "npm", "deb")


def make_home_unwritable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME cannot be written, no XDG_CACHE_HOME, no explicit cache, not on Lambda; the
    temp dir is ``tmp_path/tmp``. Returns the fallback cache root it must use.

    Tests run as root here, which ignores permission bits, so HOME lies below a regular
    file: a directory nobody can create, whoever they are."""
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("HOME", str(tmp_path / "file" / "home"))
    for name in ("HYPERFRAMES_CACHE_DIR", "XDG_CACHE_HOME", "AWS_LAMBDA_FUNCTION_NAME"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return tmp_path / "tmp" / f"hyperframes-cache-{os.getuid()}"


@pytest.fixture
def unwritable_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_home_unwritable(tmp_path, monkeypatch)


def test_every_cache_user_is_under_the_fallback_root(unwritable_home: Path) -> None:
    root = unwritable_home
    assert cache_root() == root
    assert RemoteFetcher().cache_dir == root / "remote"
    assert official_runtime.cached_runtime_path().is_relative_to(root / "runtime")
    assert font_set.cache_dir().is_relative_to(root / "fontset")
    assert npm_registry.tarball_path("gsap", "3.12.5").is_relative_to(root / "npm")
    assert sparticuz.install_dir().is_relative_to(root / "chromium")


def test_nothing_writable_is_cache_unavailable_for_a_fetcher(
    unwritable_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "file" / "tmp"))
    with pytest.raises(CacheUnavailableError) as caught:
        RemoteFetcher()
    assert caught.value.code == "CACHE_UNAVAILABLE"


@pytest.mark.slow
def test_unwritable_home_plans_a_remote_asset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This machine's cache holds Chromium, the font set and the page runtime; the fallback
    # root sees them through links (a warm /tmp cache on Lambda), so nothing is downloaded.
    warm = cache_root()
    root = make_home_unwritable(tmp_path, monkeypatch)
    root.mkdir(parents=True)
    for name in WARM_DIRS:
        if (warm / name).is_dir():
            (root / name).symlink_to(warm / name)
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "lib.js").write_text("window.fromRemote = 1;\n")
    project = tmp_path / "project"
    project.mkdir()
    with serve(remote) as base:
        url = f"{base}/lib.js"
        (project / "index.html").write_text(
            f'<script src="{url}"></script>'
            '<div data-composition-id="m" data-width="320" data-height="180" '
            'data-duration="0.2"></div>'
        )
        planned = plan(project, {}, tmp_path / "plan")
    assert planned.total_frames == 6
    cached = root / "remote" / hashlib.sha256(url.encode()).hexdigest()
    assert cached.read_text() == "window.fromRemote = 1;\n"
    assert not (tmp_path / "file" / "home").exists()


def test_a_cache_that_cannot_be_written_does_not_fail_the_fetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk cache only saves a later fetch: a cache directory that turns out not to be
    writable (a full /tmp, a path below a file) is skipped, not a raw OSError."""
    (tmp_path / "file").write_text("")
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "a.css").write_text("body{}")
    with serve(remote) as base:
        fetcher = RemoteFetcher(cache_dir=tmp_path / "file" / "remote")
        assert fetcher.fetch(f"{base}/a.css") == b"body{}"
        assert fetcher.source_of(f"{base}/a.css") == "direct"
