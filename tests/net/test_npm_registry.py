"""The npm registry client: version resolution, verified tarballs, reading files from them."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

from hyperframes_lambda.cache import cache_root, write_atomic
from hyperframes_lambda.errors import AssetFetchError, AssetIntegrityError
from hyperframes_lambda.net import npm_registry

UNREACHABLE_REGISTRY = "https://registry.invalid"


pytestmark = pytest.mark.usefixtures("temp_cache")  # every test gets its own cache


def test_cache_root_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HYPERFRAMES_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "explicit"
    monkeypatch.delenv("HYPERFRAMES_CACHE_DIR")
    assert cache_root() == tmp_path / "xdg" / "hyperframes-lambda"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_root() == Path.home() / ".cache" / "hyperframes-lambda"


def test_write_atomic_replaces_whole_file(tmp_path: Path) -> None:
    dest = tmp_path / "a" / "b.bin"
    write_atomic(dest, b"old")
    write_atomic(dest, b"new contents")
    assert dest.read_bytes() == b"new contents"
    assert [p.name for p in dest.parent.iterdir()] == ["b.bin"]  # no temp files left


def test_registry_url_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert npm_registry.registry_url() == "https://registry.npmjs.org"
    monkeypatch.setenv("npm_config_registry", "https://npm.example/")
    assert npm_registry.registry_url() == "https://npm.example"
    monkeypatch.setenv("HYPERFRAMES_NPM_REGISTRY", "https://mirror.example/npm/")
    assert npm_registry.registry_url() == "https://mirror.example/npm"
    assert npm_registry.package_url("@sparticuz/chromium") == (
        "https://mirror.example/npm/@sparticuz%2fchromium"
    )


def test_exact_versions_need_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERFRAMES_NPM_REGISTRY", UNREACHABLE_REGISTRY)
    assert npm_registry.resolve_version("gsap", "3.12.5") == "3.12.5"
    assert npm_registry.resolve_version("gsap", "v3.12.5") == "3.12.5"
    assert npm_registry.resolve_version("x", "1.0.0-beta.2") == "1.0.0-beta.2"
    with pytest.raises(AssetFetchError, match=r"registry\.invalid"):
        npm_registry.resolve_version("gsap", "3")


def test_verify_bytes_rejects_wrong_integrity() -> None:
    data = b"the real bytes"
    good = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    wrong = "sha512-" + base64.b64encode(hashlib.sha512(b"other").digest()).decode()
    assert npm_registry.verify_bytes("pkg@1.0.0", data, integrity=good, shasum=None) == good
    with pytest.raises(AssetIntegrityError) as info:
        npm_registry.verify_bytes("pkg@1.0.0", data, integrity=wrong, shasum=None)
    message = str(info.value)
    assert "pkg@1.0.0" in message and wrong in message and good in message
    # Without an SRI, the legacy sha1 shasum is checked.
    sha1 = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    npm_registry.verify_bytes("pkg", data, integrity=None, shasum=sha1)
    with pytest.raises(AssetIntegrityError, match="sha1 mismatch"):
        npm_registry.verify_bytes("pkg", data + b"!", integrity=None, shasum=sha1)
    with pytest.raises(AssetIntegrityError, match="no integrity"):
        npm_registry.verify_bytes("pkg", data, integrity=None, shasum=None)


@pytest.mark.network
def test_resolve_version_against_registry() -> None:
    latest = npm_registry.package_metadata("gsap")["dist-tags"]["latest"]
    assert npm_registry.resolve_version("gsap", None) == latest
    assert npm_registry.resolve_version("gsap", "latest") == latest
    v312 = npm_registry.resolve_version("gsap", "3.12")
    assert re.fullmatch(r"3\.12\.\d+", v312) and int(v312.split(".")[2]) >= 7
    v3 = npm_registry.resolve_version("gsap", "3")
    assert re.fullmatch(r"3\.\d+\.\d+", v3)
    assert tuple(map(int, v3.split("."))) >= (3, 12, 7)
    tilde = npm_registry.resolve_version("gsap", "~3.11.0")
    assert re.fullmatch(r"3\.11\.\d+", tilde) and int(tilde.split(".")[2]) >= 5
    with pytest.raises(AssetFetchError, match="no release matching"):
        npm_registry.resolve_version("gsap", "999")


@pytest.mark.network
def test_fetch_tarball_verifies_and_caches(
    temp_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = npm_registry.fetch_tarball("gsap", "3.12.5")
    assert path == temp_cache / "npm" / "gsap" / "3.12.5.tgz"
    published = npm_registry.version_metadata("gsap", "3.12.5")["dist"]["integrity"]
    assert npm_registry.verify_bytes("gsap", path.read_bytes(), integrity=published, shasum=None)

    # Cached: works with the registry unreachable.
    monkeypatch.setenv("HYPERFRAMES_NPM_REGISTRY", UNREACHABLE_REGISTRY)
    assert npm_registry.fetch_tarball("gsap", "3.12.5") == path
    monkeypatch.delenv("HYPERFRAMES_NPM_REGISTRY")

    # A tampered cached tarball is not used: it is downloaded (and verified) again.
    tampered = bytearray(path.read_bytes())
    tampered[100] ^= 0xFF
    path.write_bytes(bytes(tampered))
    assert npm_registry.fetch_tarball("gsap", "3.12.5") == path
    assert npm_registry.verify_bytes("gsap", path.read_bytes(), integrity=published, shasum=None)


@pytest.mark.network
def test_read_package_file_and_default_entry() -> None:
    data = npm_registry.read_package_file("gsap", "3.12.5", "dist/gsap.min.js")
    assert b"GreenSock" in data and len(data) > 50_000
    manifest = npm_registry.read_package_file("gsap", "3.12.5", "./package.json")
    assert b'"version": "3.12.5"' in manifest
    assert npm_registry.default_entry("gsap", "3.12.5") == "dist/gsap.js"
    with pytest.raises(AssetFetchError) as info:
        npm_registry.read_package_file("gsap", "3.12.5", "dist/nope.js")
    assert "gsap@3.12.5" in str(info.value) and "dist/nope.js" in str(info.value)


@pytest.mark.network
def test_missing_package_and_version_are_named() -> None:
    name = "hyperframes-lambda-no-such-package-7f3a"
    with pytest.raises(AssetFetchError) as info:
        npm_registry.resolve_version(name, "latest")
    assert name in str(info.value) and "404" in str(info.value)
    with pytest.raises(AssetFetchError) as info:
        npm_registry.fetch_tarball("gsap", "0.0.999")
    assert "gsap@0.0.999" in str(info.value)
