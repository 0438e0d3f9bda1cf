"""Shared fixtures: a real browser, compiled test compositions, pixel helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hyperframes_lambda.browser.binary import ChromeBinary
from hyperframes_lambda.browser.resolve import resolve_chrome
from hyperframes_lambda.capture.frame_source import open_frame_source
from hyperframes_lambda.capture.page_capture import CaptureSettings, PageCapture
from hyperframes_lambda.compile.project import CompiledProject, compile_project
from hyperframes_lambda.media.probe import decode_image
from hyperframes_lambda.net.remote_assets import RemoteFetcher

ROOT = Path(__file__).resolve().parent.parent
COMPOSITIONS = Path(__file__).resolve().parent / "compositions"
EXAMPLES = ROOT / "examples"


@pytest.fixture
def temp_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty download cache and the default npm registry, for one test."""
    root = tmp_path / "cache"
    monkeypatch.setenv("HYPERFRAMES_CACHE_DIR", str(root))
    monkeypatch.delenv("HYPERFRAMES_NPM_REGISTRY", raising=False)
    monkeypatch.delenv("npm_config_registry", raising=False)
    return root


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


# ---- S3 on 127.0.0.1: moto's real server ------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible HTTP server (moto) on 127.0.0.1, with dummy credentials."""
    import os

    from moto.server import ThreadedMotoServer

    saved = {
        k: os.environ.get(k)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    }
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; the handler's storage points at the local server."""
    import uuid

    import boto3

    name = f"hf-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    monkeypatch.setenv("HYPERFRAMES_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)  # for the tests' own boto3 clients
    return name
