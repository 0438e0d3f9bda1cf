"""Remote assets: CDN URL parsing, and fetching with the npm fallback and caches."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hyperframes_lambda.errors import AssetFetchError, FetchNotAllowedError
from hyperframes_lambda.net import npm_registry
from hyperframes_lambda.net.remote_assets import (
    NO_PACKAGE,
    NpmFile,
    RemoteFetcher,
    npm_file_for_cdn_url,
)

GSAP_URLS = (
    "https://cdnjs.cloudflare.com/ajax/libs/gsap/3.12.5/gsap.min.js",
    "https://cdn.jsdelivr.net/npm/gsap@3.12.5/dist/gsap.min.js",
    "https://unpkg.com/gsap@3.12.5/dist/gsap.min.js",
)
GSAP_SOURCE = "npm:gsap@3.12.5/dist/gsap.min.js"


pytestmark = pytest.mark.usefixtures("temp_cache")  # every test gets its own cache


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://cdn.jsdelivr.net/npm/gsap@3.12.5/dist/gsap.min.js",
            NpmFile("gsap", "3.12.5", "dist/gsap.min.js"),
        ),
        ("https://cdn.jsdelivr.net/npm/gsap@3", NpmFile("gsap", "3", None)),
        ("https://cdn.jsdelivr.net/npm/gsap/", NpmFile("gsap", None, None)),
        (
            "https://cdn.jsdelivr.net/npm/gsap/dist/ScrollTrigger.js",
            NpmFile("gsap", None, "dist/ScrollTrigger.js"),
        ),
        (
            "https://cdn.jsdelivr.net/npm/@scope/pkg@1.2.3/a/b.css",
            NpmFile("@scope/pkg", "1.2.3", "a/b.css"),
        ),
        ("https://cdn.jsdelivr.net/npm/@scope/pkg", NpmFile("@scope/pkg", None, None)),
        (
            "https://unpkg.com/gsap@3.12.5/dist/gsap.min.js?module",
            NpmFile("gsap", "3.12.5", "dist/gsap.min.js"),
        ),
        ("https://unpkg.com/gsap", NpmFile("gsap", None, None)),
        ("https://unpkg.com/@lottiefiles/x@2", NpmFile("@lottiefiles/x", "2", None)),
        (
            "http://unpkg.com/three@0.160.0/build/three.module.js",
            NpmFile("three", "0.160.0", "build/three.module.js"),
        ),
        (
            "https://cdnjs.cloudflare.com/ajax/libs/gsap/3.12.5/gsap.min.js",
            NpmFile("gsap", "3.12.5", "gsap.min.js", cdnjs=True),
        ),
        (
            "https://cdnjs.cloudflare.com/ajax/libs/animejs/3.2.1/anime.min.js",
            NpmFile("animejs", "3.2.1", "anime.min.js", cdnjs=True),
        ),
        ("https://cdnjs.cloudflare.com/ajax/libs/gsap/3.12.5/", None),
        ("https://cdn.jsdelivr.net/gh/user/repo@v1/file.js", None),
        ("https://cdn.jsdelivr.net/npm/gsap@3/+esm", None),
        ("https://cdn.jsdelivr.net/npm/", None),
        ("https://unpkg.com/", None),
        ("https://example.com/npm/gsap@3/x.js", None),
        ("https://assets.invalid/x.png", None),
        ("ftp://unpkg.com/gsap", None),
    ],
)
def test_npm_file_for_cdn_url(url: str, expected: NpmFile | None) -> None:
    assert npm_file_for_cdn_url(url) == expected


def test_rejects_non_http_urls() -> None:
    with pytest.raises(FetchNotAllowedError, match="file:///etc/passwd"):
        RemoteFetcher().fetch("file:///etc/passwd")


@pytest.mark.network
def test_cdn_urls_resolve_to_the_tarball_file(temp_cache: Path) -> None:
    fetcher = RemoteFetcher()
    bodies = [fetcher.fetch(url) for url in GSAP_URLS]
    from_tarball = npm_registry.read_package_file("gsap", "3.12.5", "dist/gsap.min.js")
    assert bodies[0] == bodies[1] == bodies[2]
    assert b"GreenSock" in bodies[0] and b"gsap" in bodies[0]
    digest = hashlib.sha256(from_tarball).hexdigest()
    assert hashlib.sha256(bodies[0]).hexdigest() == digest
    for url in GSAP_URLS:
        record = fetcher.records[url]
        assert record.source in ("direct", GSAP_SOURCE)  # the CDNs do not resolve here
        assert record.sha256 == digest and record.size == len(from_tarball)
        assert (temp_cache / "remote" / hashlib.sha256(url.encode()).hexdigest()).is_file()


@pytest.mark.network
def test_npm_fallback_and_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = GSAP_URLS[1]
    fetcher = RemoteFetcher(tmp_path / "remote", allow_direct=False)
    data = fetcher.fetch(url)
    assert fetcher.source_of(url) == GSAP_SOURCE
    used = fetcher.budget.bytes_used
    assert fetcher.fetch(url) == data  # from the disk cache, charged to the plan once
    assert fetcher.budget.bytes_used == used == len(data)
    assert fetcher.source_of(url) == GSAP_SOURCE

    # A new fetcher (another render) on the same machine reads the disk cache, offline.
    monkeypatch.setenv("HYPERFRAMES_NPM_REGISTRY", "https://registry.invalid")
    again = RemoteFetcher(tmp_path / "remote", allow_direct=False)
    assert again.fetch(url) == data
    record = again.records[url]
    assert record.source == "cache" and record.origin == GSAP_SOURCE

    dest = again.fetch_to(url, tmp_path / "out" / "gsap.min.js")
    assert dest.read_bytes() == data

    # A corrupted cache entry is ignored: the bytes come again from the verified tarball,
    # which is cached too, so this still needs no network.
    body = tmp_path / "remote" / hashlib.sha256(url.encode()).hexdigest()
    body.write_bytes(b"junk")
    healed = RemoteFetcher(tmp_path / "remote", allow_direct=False)
    assert healed.fetch(url) == data and healed.source_of(url) == GSAP_SOURCE
    assert body.read_bytes() == data

    # Offline with nothing cached (no tarball either), the error names URL and registry.
    monkeypatch.setenv("HYPERFRAMES_CACHE_DIR", str(tmp_path / "empty"))
    with pytest.raises(AssetFetchError) as info:
        RemoteFetcher(tmp_path / "other", allow_direct=False).fetch(GSAP_URLS[1] + "?v=2")
    assert GSAP_URLS[1] in str(info.value) and "registry.invalid" in str(info.value)


@pytest.mark.network
def test_bare_package_url_serves_default_entry() -> None:
    fetcher = RemoteFetcher(allow_direct=False)
    data = fetcher.fetch("https://unpkg.com/gsap@3.12.5")
    assert fetcher.source_of("https://unpkg.com/gsap@3.12.5") == "npm:gsap@3.12.5/dist/gsap.js"
    assert data == npm_registry.read_package_file("gsap", "3.12.5", "dist/gsap.js")


@pytest.mark.network
def test_cdnjs_path_found_by_basename() -> None:
    # cdnjs flattens animejs's lib/ directory: neither <path> nor dist/<path> exists.
    url = "https://cdnjs.cloudflare.com/ajax/libs/animejs/3.2.1/anime.min.js"
    fetcher = RemoteFetcher(allow_direct=False)
    data = fetcher.fetch(url)
    assert fetcher.source_of(url) == "npm:animejs@3.2.1/lib/anime.min.js"
    assert b"anime" in data


def test_unreachable_url_without_package_names_url_and_both_failures() -> None:
    url = "https://assets.invalid/x.png"
    with pytest.raises(AssetFetchError) as info:
        RemoteFetcher().fetch(url)
    message = str(info.value)
    assert url in message and "direct:" in message and NO_PACKAGE in message


@pytest.mark.network
def test_cdn_url_of_missing_package_names_it() -> None:
    name = "hyperframes-lambda-no-such-package-7f3a"
    url = f"https://cdn.jsdelivr.net/npm/{name}@1.0.0/index.js"
    with pytest.raises(AssetFetchError) as info:
        RemoteFetcher().fetch(url)
    message = str(info.value)
    assert url in message and "npm fallback" in message and name in message


@pytest.mark.network
def test_missing_file_in_existing_package() -> None:
    url = "https://unpkg.com/gsap@3.12.5/dist/does-not-exist.js"
    with pytest.raises(AssetFetchError) as info:
        RemoteFetcher(allow_direct=False).fetch(url)
    assert url in str(info.value) and "dist/does-not-exist.js" in str(info.value)
