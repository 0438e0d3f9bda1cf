"""The pinned HyperFrames runtime: fetched once, integrity-checked every time, offline after."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from hyperframes_lambda.errors import RuntimeIntegrityError
from hyperframes_lambda.page import official_runtime
from hyperframes_lambda.page.injection import inject_runtime
from hyperframes_lambda.page.official_runtime import (
    ENV_RUNTIME_PATH,
    PINNED,
    cached_runtime_path,
    runtime_path,
    runtime_source,
)


def test_the_pin_is_the_manifest_sha_of_the_version_the_references_used() -> None:
    assert PINNED.package == "hyperframes" and PINNED.version == "0.8.170"
    assert PINNED.path_in_package == "dist/hyperframe.runtime.iife.js"
    assert len(PINNED.sha256) == 64


@pytest.mark.network
def test_fetched_once_verified_and_usable_offline(
    temp_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = runtime_path()
    assert path == cached_runtime_path()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == PINNED.sha256
    assert "__player" in runtime_source()
    # Warm cache: no registry needed any more (an address nothing listens on).
    monkeypatch.setenv("HYPERFRAMES_NPM_REGISTRY", "http://127.0.0.1:9")
    shutil.rmtree(temp_cache / "npm")
    assert runtime_path() == path


@pytest.mark.network
def test_a_tampered_cached_copy_is_refused_by_name(temp_cache: Path) -> None:
    path = runtime_path()
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(RuntimeIntegrityError) as info:
        runtime_source()
    assert str(path) in str(info.value) and PINNED.sha256 in str(info.value)
    assert info.value.code == "RUNTIME_INTEGRITY_MISMATCH" and not info.value.retryable


def test_an_explicit_copy_must_match_the_pin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "hyperframe.runtime.iife.js"
    fake.write_text("window.__player = {};")
    monkeypatch.setenv(ENV_RUNTIME_PATH, str(fake))
    with pytest.raises(RuntimeIntegrityError, match=r"hyperframe\.runtime\.iife\.js"):
        runtime_path()
    monkeypatch.setenv(ENV_RUNTIME_PATH, str(tmp_path / "absent.js"))
    with pytest.raises(RuntimeIntegrityError, match="is not a file"):
        runtime_path()


def test_a_vendored_copy_is_preferred_and_checked(
    temp_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vendor = tmp_path / "_vendor"
    vendor.mkdir()
    (vendor / PINNED.file_name).write_text("tampered")
    monkeypatch.setattr(official_runtime, "VENDOR_DIR", vendor)
    with pytest.raises(RuntimeIntegrityError, match="_vendor"):
        runtime_path()


def test_the_runtime_goes_before_head_end_and_embedded_copies_go() -> None:
    html = (
        "<html><head><script src='https://cdn.jsdelivr.net/npm/@hyperframes/core/dist/"
        "hyperframe.runtime.iife.js'></script><script>window.__renderReady = false;</script>"
        "<script src='gsap.js'></script></head><body></body></html>"
    )
    out = inject_runtime(html, "/rt.js")
    assert "cdn.jsdelivr" not in out and "__renderReady" not in out
    assert out.index("gsap.js") < out.index('src="/rt.js"') < out.index("</head>")
    assert inject_runtime("<div data-composition-id='x'></div>", "/rt.js").startswith(
        '<script src="/rt.js"'
    )
