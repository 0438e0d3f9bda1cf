"""The pinned @sparticuz/chromium build: install, launch, BeginFrame, idempotence."""

from __future__ import annotations

import base64
import json
import os
import tarfile
import time
from pathlib import Path

import pytest

from hyperframes_lambda.browser import sparticuz
from hyperframes_lambda.browser.binary import ChromeBinary
from hyperframes_lambda.browser.launch import launch_browser
from hyperframes_lambda.cache import cache_root
from hyperframes_lambda.net import npm_registry

# The real cache root, taken before any test points HYPERFRAMES_CACHE_DIR elsewhere: the
# 70 MB tarball is downloaded (and verified) once per machine, not once per test.
SHARED_CACHE = cache_root()


def _fake_install(directory: Path, *, complete: bool) -> None:
    directory.mkdir(parents=True)
    executable = directory / "chromium"
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    if complete:
        (directory / ".complete").write_text("{}")


def test_install_dir_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERFRAMES_CACHE_DIR", str(tmp_path))
    assert sparticuz.install_dir() == tmp_path / "chromium" / "sparticuz-153.0.0"
    assert sparticuz.install_dir("1.2.3", tmp_path / "x") == tmp_path / "x" / "sparticuz-1.2.3"


def test_incomplete_install_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERFRAMES_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LD_LIBRARY_PATH", "/opt/other")
    directory = sparticuz.install_dir()
    _fake_install(directory, complete=False)
    assert sparticuz.installed_binary() is None
    (directory / ".complete").write_text("{}")
    binary = sparticuz.installed_binary()
    assert binary is not None
    assert binary.source == "sparticuz" and binary.path == str(directory / "chromium")
    assert binary.env["LD_LIBRARY_PATH"] == f"{directory}/al2023/lib:/opt/other"
    assert binary.env["FONTCONFIG_PATH"] == str(directory / "fonts")
    assert binary.extra_flags == ()


@pytest.fixture(scope="session")
def shared_tarball() -> Path:
    os.environ.pop("HYPERFRAMES_NPM_REGISTRY", None)
    previous = os.environ.get("HYPERFRAMES_CACHE_DIR")
    os.environ["HYPERFRAMES_CACHE_DIR"] = str(SHARED_CACHE)
    try:
        return npm_registry.fetch_tarball(sparticuz.PACKAGE, sparticuz.SPARTICUZ_VERSION)
    finally:
        if previous is None:
            del os.environ["HYPERFRAMES_CACHE_DIR"]
        else:
            os.environ["HYPERFRAMES_CACHE_DIR"] = previous


def _check_begin_frame(binary: ChromeBinary) -> None:
    with launch_browser(binary, width=320, height=180) as browser:
        version = browser.cdp.call("Browser.getVersion")
        assert version["product"].startswith("HeadlessChrome/153.")
        target = browser.cdp.call(
            "Target.createTarget",
            {"url": "about:blank", "enableBeginFrameControl": True, "width": 320, "height": 180},
        )["targetId"]
        session = browser.cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        browser.cdp.call(
            "Runtime.evaluate",
            {"expression": "document.body.style.background = 'rgb(0, 128, 255)'"},
            session_id=session,
        )
        shot = b""
        ticks = 1000.0
        for _ in range(10):  # the first frames after load may report no damage
            ticks += 40.0
            reply = browser.cdp.call(
                "HeadlessExperimental.beginFrame",
                {"frameTimeTicks": ticks, "interval": 40.0, "screenshot": {"format": "png"}},
                session_id=session,
                timeout=30,
            )
            if reply.get("screenshotData"):
                shot = base64.b64decode(reply["screenshotData"])
                break
        assert shot.startswith(b"\x89PNG\r\n\x1a\n")
        assert int.from_bytes(shot[16:20], "big") == 320  # IHDR width
        assert int.from_bytes(shot[20:24], "big") == 180


@pytest.mark.network
@pytest.mark.slow
def test_install_launch_and_begin_frame(
    shared_tarball: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYPERFRAMES_CACHE_DIR", str(SHARED_CACHE))
    root = tmp_path / "chromium"
    messages: list[str] = []
    started = time.monotonic()
    binary = sparticuz.install(root=root, progress=messages.append)
    elapsed = time.monotonic() - started
    directory = sparticuz.install_dir(root=root)
    assert binary.path == str(directory / "chromium")
    assert (directory / "chromium").read_bytes()[:5] == b"\x7fELF\x02"  # 64-bit ELF
    assert os.access(binary.path, os.X_OK)
    for name in ("libEGL.so", "libGLESv2.so", "libvk_swiftshader.so", "vk_swiftshader_icd.json"):
        assert (directory / name).is_file(), name
    assert (directory / "al2023" / "lib" / "libnss3.so").is_file()
    conf = (directory / "fonts" / "fonts.conf").read_text()
    assert f"<dir>{directory / 'fonts'}</dir>" in conf and "/usr/share/fonts" not in conf
    assert list((directory / "fonts").rglob("*.ttf"))
    marker = json.loads((directory / ".complete").read_text())
    assert marker["sizes"]["chromium.br"] > 150_000_000
    assert not list(root.glob(".*.partial-*"))
    assert any("decompressing chromium.br" in m for m in messages)
    print(f"install took {elapsed:.1f}s; marker {marker}")

    _check_begin_frame(binary)

    # A second install is a no-op: same binary, marker untouched, no progress at all.
    mtime = (directory / ".complete").stat().st_mtime_ns
    again: list[str] = []
    assert sparticuz.install(root=root, progress=again.append) == binary
    assert again == [] and (directory / ".complete").stat().st_mtime_ns == mtime
    assert sparticuz.installed_binary(root=root) == binary


@pytest.mark.network
@pytest.mark.slow
def test_extract_bundled_replaces_partial_state(shared_tarball: Path, tmp_path: Path) -> None:
    # The Lambda ZIP case: the .br files sit in a directory.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    with tarfile.open(shared_tarball, "r:gz") as archive:
        for info in archive:
            if info.name.startswith("package/bin/") and info.name.endswith(".br"):
                handle = archive.extractfile(info)
                assert handle is not None
                (bin_dir / Path(info.name).name).write_bytes(handle.read())
    assert sorted(p.name for p in bin_dir.iterdir()) == sorted(sparticuz.ARCHIVES)

    # Leftovers of a container that timed out mid-extraction.
    dest = tmp_path / "tmp" / "chromium"
    _fake_install(dest, complete=False)
    stale = dest.parent / ".chromium.partial-12345"
    stale.mkdir()
    (stale / "chromium").write_bytes(b"half")

    binary = sparticuz.extract_bundled(bin_dir, dest)
    assert binary.path == str(dest / "chromium")
    assert (dest / ".complete").is_file() and not stale.exists()
    assert (dest / "chromium").stat().st_size > 150_000_000
    assert sparticuz.binary_in(dest) == binary
