"""A pip user's first render: the pinned browser is installed on first use, announced with
its size and progress; where it may not be, one line says which browser renders instead.
The registry is a loopback server holding the real, integrity-checked tarball."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperframes_lambda.browser import resolve, sparticuz
from hyperframes_lambda.net import downloads
from hyperframes_lambda.runner.first_run import ENV_AUTO_INSTALL, ensure_pinned_browser
from hyperframes_lambda.runner.progress import DownloadDisplay

from ..browser.test_sparticuz import shared_tarball  # noqa: F401 - the fixture, used by name
from ..http_servers import QuietHandler, loopback_server


@pytest.fixture
def registry(shared_tarball: Path) -> Iterator[tuple[str, list[str]]]:  # noqa: F811
    """An npm registry on 127.0.0.1 serving the pinned build; yields (url, paths asked)."""
    data = shared_tarball.read_bytes()
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    asked: list[str] = []

    class Registry(QuietHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path == "/tarball.tgz":
                body = data
            else:
                version = {"dist": {"tarball": f"{base}/tarball.tgz", "integrity": integrity}}
                body = json.dumps({"versions": {sparticuz.SPARTICUZ_VERSION: version}}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with loopback_server(Registry) as url:
        yield url, asked


@pytest.fixture
def fresh_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """An empty cache, no browser chosen by the environment; yields what the CLI shows."""
    monkeypatch.setenv("HYPERFRAMES_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv(resolve.ENV_CHROME_PATH, raising=False)
    monkeypatch.delenv(ENV_AUTO_INSTALL, raising=False)
    shown = io.StringIO()
    display = DownloadDisplay(shown, tty=False)
    downloads.logger.addHandler(display)
    previous = downloads.logger.level
    downloads.logger.setLevel(logging.INFO)
    try:
        yield shown
    finally:
        downloads.logger.removeHandler(display)
        downloads.logger.setLevel(previous)


@pytest.mark.slow
def test_the_first_render_installs_the_pinned_browser_and_says_so(
    registry: tuple[str, list[str]],
    fresh_machine: io.StringIO,
    shared_tarball: Path,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, asked = registry
    monkeypatch.setenv("HYPERFRAMES_NPM_REGISTRY", url)
    said: list[str] = []
    assert ensure_pinned_browser(said.append) is None
    pinned = f"{sparticuz.PACKAGE}@{sparticuz.SPARTICUZ_VERSION}"
    assert len(said) == 1
    assert said[0].startswith(f"first run: installing the pinned browser {pinned}")
    lines = fresh_machine.getvalue().splitlines()
    assert "/tarball.tgz" in asked
    size = f"{shared_tarball.stat().st_size / 1e6:.1f} MB"
    assert lines[0] == f"downloading {pinned} ({size}) from {url[7:]} (once; cached after)"
    assert lines[-1].startswith(f"downloaded {pinned}: {size} in ")
    binary = sparticuz.installed_binary()
    assert binary is not None and resolve.resolve_chrome().build == pinned
    assert resolve.browser_build(binary) == pinned
    # Once installed, nothing is said or fetched again.
    before = len(asked)
    assert ensure_pinned_browser(said.append) is None
    assert len(said) == 1 and len(asked) == before


def test_without_auto_install_one_line_names_the_browser_used(
    fresh_machine: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_AUTO_INSTALL, "0")
    monkeypatch.setenv("HYPERFRAMES_NPM_REGISTRY", "http://127.0.0.1:9")  # nothing is fetched
    said: list[str] = []
    note = ensure_pinned_browser(said.append)
    assert note is not None and said == [note]
    assert note.startswith("note: rendering with debian Chromium")
    assert f"{ENV_AUTO_INSTALL}=0" in note and "hyperframes-lambda browser install" in note
    assert fresh_machine.getvalue() == ""
    assert sparticuz.installed_binary() is None
