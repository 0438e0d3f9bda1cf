"""Shared fixtures: a real browser, compiled test compositions, pixel helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hyperframes_lambda.browser.resolve import ChromeBinary, resolve_chrome
from hyperframes_lambda.capture import CaptureSettings, PageCapture
from hyperframes_lambda.compile import CompiledProject, compile_project
from hyperframes_lambda.frame_source import open_frame_source
from hyperframes_lambda.probe import decode_image
from hyperframes_lambda.remote_assets import RemoteFetcher

ROOT = Path(__file__).resolve().parent.parent
COMPOSITIONS = Path(__file__).resolve().parent / "compositions"
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def chrome() -> ChromeBinary:
    return resolve_chrome()


@pytest.fixture(scope="session")
def known_pixels(tmp_path_factory: pytest.TempPathFactory) -> CompiledProject:
    out = tmp_path_factory.mktemp("known-pixels") / "compiled"
    return compile_project(COMPOSITIONS / "known-pixels", out, RemoteFetcher())


def png_settings(width: int = 320, height: int = 180, fps: int = 30) -> CaptureSettings:
    return CaptureSettings(
        css_width=width, css_height=height, width=width, height=height, fps=fps, image_format="png"
    )


@pytest.fixture(scope="module")
def known_page(known_pixels: CompiledProject, chrome: ChromeBinary) -> Iterator[PageCapture]:
    with open_frame_source(known_pixels.root, known_pixels.entry, png_settings(), chrome) as page:
        yield page


def to_rgb(data: bytes, width: int = 320, height: int = 180) -> np.ndarray:
    """Decode a PNG/JPEG screenshot into an (h, w, 3) uint8 array."""
    return np.frombuffer(decode_image(data, width, height), np.uint8).reshape(height, width, 3)
