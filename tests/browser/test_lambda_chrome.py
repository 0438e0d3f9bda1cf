"""Chrome as the Lambda ZIP ships it: the sparticuz .br archives decompressed to /tmp once
per container, its own libraries and fonts, --single-process --no-zygote, real frames."""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

import pytest

from hyperframes_lambda.browser import resolve
from hyperframes_lambda.browser.resolve import LAMBDA_FLAGS, resolve_chrome
from hyperframes_lambda.capture.frame_source import composition_server
from hyperframes_lambda.capture.page_capture import PageCapture

from ..conftest import COMPOSITIONS, png_settings, to_rgb
from .test_sparticuz import shared_tarball  # noqa: F401 - the session fixture

pytestmark = [pytest.mark.slow, pytest.mark.network]


@pytest.fixture
def zip_layout(shared_tarball: Path, tmp_path: Path) -> Path:  # noqa: F811
    """A directory laid out like the ZIP's ``chromium/``: just the .br archives."""
    bin_dir = tmp_path / "task" / "chromium"
    bin_dir.mkdir(parents=True)
    with tarfile.open(shared_tarball, "r:gz") as archive:
        for info in archive:
            if info.name.startswith("package/bin/") and info.name.endswith(".br"):
                handle = archive.extractfile(info)
                assert handle is not None
                (bin_dir / Path(info.name).name).write_bytes(handle.read())
    return bin_dir


def test_bundled_chromium_on_lambda(
    zip_layout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lambda_tmp = tmp_path / "lambda-tmp"
    lambda_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(lambda_tmp))
    monkeypatch.delenv(resolve.ENV_CHROME_PATH, raising=False)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(zip_layout.parent))
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12")

    # A container that timed out mid-extraction left a half-written directory behind.
    target = lambda_tmp / "hf-chromium-153.0.0"
    target.mkdir()
    (target / "chromium").write_bytes(b"half")

    binary = resolve_chrome()
    assert binary.source == "bundled" and binary.path == str(target / "chromium")
    assert binary.extra_flags[-2:] == LAMBDA_FLAGS
    assert (target / ".complete").is_file() and (target / "chromium").stat().st_size > 150_000_000
    assert binary.env["FONTCONFIG_PATH"] == str(target / "fonts")
    mtime = (target / ".complete").stat().st_mtime_ns
    assert resolve_chrome() == binary and (target / ".complete").stat().st_mtime_ns == mtime  # once

    # It renders a real composition frame, deterministically, with the Lambda flags.
    project = COMPOSITIONS / "alpha"
    with (
        composition_server(project, "index.html") as server,
        PageCapture.open(binary, server.url("index.html"), png_settings()) as page,
    ):
        first = page.capture(30)
        assert page.capture(0) != first and page.capture(30) == first
    frame = to_rgb(first)
    half_blue = [int(v) for v in frame[70, 70]]  # rgba(0, 0, 255, 0.5) over the white page
    assert all(abs(a - b) <= 2 for a, b in zip(half_blue, (127, 127, 255), strict=True)), half_blue
    assert tuple(frame[120, 220]) == (0, 255, 0)  # the opaque green box, 50 px along at t = 1 s
