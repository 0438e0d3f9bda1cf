"""Google Fonts URLs resolved to local woff2 files (from Google, else @fontsource on npm)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from hyperframes_lambda.compile.google_fonts import (
    FONTS_DIR,
    FamilyRequest,
    FontLocalizer,
    FontVariant,
    fontsource_package,
    is_google_fonts_css,
    parse_google_fonts_url,
)
from hyperframes_lambda.errors import FontFetchFailedError, FontFetchUnavailableError
from hyperframes_lambda.net.npm_registry import ENV_REGISTRY, read_package_file
from hyperframes_lambda.net.remote_assets import RemoteFetcher

CSS2 = "https://fonts.googleapis.com/css2"
FACE = re.compile(r"@font-face\s*\{([^}]*)\}")
URL = re.compile(r"url\(\s*['\"]?([^'\")]+)")


def normal(lo: int, hi: int | None = None) -> FontVariant:
    return FontVariant("normal", lo, lo if hi is None else hi)


def italic(lo: int, hi: int | None = None) -> FontVariant:
    return FontVariant("italic", lo, lo if hi is None else hi)


# --- parsing (no network) ------------------------------------------------------------


def test_recognises_google_fonts_stylesheets_only() -> None:
    assert is_google_fonts_css(f"{CSS2}?family=Inter")
    assert is_google_fonts_css("//fonts.googleapis.com/css?family=Open+Sans")
    assert not is_google_fonts_css("https://fonts.gstatic.com/s/inter/v1/a.woff2")
    assert not is_google_fonts_css("https://fonts.googleapis.com/icon?family=Material+Icons")


def test_parse_css2_weights_italics_and_ranges() -> None:
    url = (
        f"{CSS2}?family=Inter:wght@400;700&family=Roboto+Mono:ital,wght@0,400;1,700"
        "&family=Lobster&family=Open+Sans:ital,wdth,wght@1,75..100,300..800&display=swap"
    )
    assert parse_google_fonts_url(url) == [
        FamilyRequest("Inter", (normal(400), normal(700)), strict=True),
        FamilyRequest("Roboto Mono", (italic(700), normal(400)), strict=True),
        FamilyRequest("Lobster", (normal(400),), strict=True),
        FamilyRequest("Open Sans", (italic(300, 800),), strict=True),
    ]


def test_parse_legacy_css_api() -> None:
    url = "https://fonts.googleapis.com/css?family=Open+Sans:400,700italic,300i|Roboto:b,bi"
    assert parse_google_fonts_url(url) == [
        FamilyRequest("Open Sans", (italic(300), italic(700), normal(400)), strict=False),
        FamilyRequest("Roboto", (italic(700), normal(700)), strict=False),
    ]


def test_parse_rejects_malformed_requests() -> None:
    with pytest.raises(FontFetchFailedError, match="no family="):
        parse_google_fonts_url(f"{CSS2}?display=swap")
    with pytest.raises(FontFetchFailedError, match="does not match axes"):
        parse_google_fonts_url(f"{CSS2}?family=Inter:ital,wght@400")
    with pytest.raises(FontFetchFailedError, match="not a valid"):
        parse_google_fonts_url(f"{CSS2}?family=../../etc")


def test_fontsource_package_name() -> None:
    assert fontsource_package("Roboto Mono") == "@fontsource/roboto-mono"
    assert fontsource_package("Inter") == "@fontsource/inter"


# --- resolution through the npm registry ---------------------------------------------


def offline_fetcher(tmp_path: Path) -> RemoteFetcher:
    """A fetcher that never reaches Google, whatever the network: forces the npm path."""
    return RemoteFetcher(cache_dir=tmp_path / "remote-cache", allow_direct=False)


def faces(css: str) -> list[str]:
    return FACE.findall(css)


@pytest.mark.network
def test_inter_regular_bold_and_italic_resolve_to_local_woff2(tmp_path: Path) -> None:
    root = tmp_path / "out"
    fonts = FontLocalizer(root, offline_fetcher(tmp_path))
    url = f"{CSS2}?family=Inter:ital,wght@0,400;0,700;1,400&display=swap"
    css_path = fonts.localize(url)
    assert css_path.startswith(f"{FONTS_DIR}/") and css_path.endswith(".css")
    assert fonts.localize(url) == css_path  # once per URL
    css = (root / css_path).read_text()
    source = fonts.records[url]
    assert re.fullmatch(r"npm:@fontsource/inter@\d+\.\d+\.\d+", source)
    assert source.removeprefix("npm:") in css  # the version is pinned in the output
    rules = faces(css)
    assert rules
    seen = set()
    for rule in rules:
        weight = re.search(r"font-weight:\s*(\d+)", rule)
        style = re.search(r"font-style:\s*(\w+)", rule)
        assert weight and style and "unicode-range" in rule
        seen.add((int(weight[1]), style[1]))
        urls = URL.findall(rule)
        assert len(urls) == 1, rule
        assert urls[0].endswith(".woff2") and "://" not in urls[0]
        font = (root / css_path).parent / urls[0]
        assert font.is_file() and font.read_bytes()[:4] == b"wOF2"
    assert seen == {(400, "normal"), (700, "normal"), (400, "italic")}
    assert "http" not in css.split("*/", 1)[1]  # only the header comment names the URL
    written = sorted(p.name for p in (root / FONTS_DIR).rglob("*.woff*"))
    assert written and all(name.endswith(".woff2") for name in written)
    assert any(name == "inter-latin-700-normal.woff2" for name in written)


@pytest.mark.network
def test_variable_axis_range_selects_every_static_weight(tmp_path: Path) -> None:
    root = tmp_path / "out"
    fonts = FontLocalizer(root, offline_fetcher(tmp_path))
    css = (root / fonts.localize(f"{CSS2}?family=Roboto+Mono:wght@300..500")).read_text()
    weights = {int(w) for w in re.findall(r"font-weight:\s*(\d+)", css)}
    assert weights == {300, 400, 500}
    assert "italic" not in re.findall(r"font-style:\s*(\w+)", css)


@pytest.mark.network
def test_legacy_url_keeps_existing_variants(tmp_path: Path) -> None:
    root = tmp_path / "out"
    fonts = FontLocalizer(root, offline_fetcher(tmp_path))
    url = "https://fonts.googleapis.com/css?family=Lobster:400,700"  # Lobster has 400 only
    css = (root / fonts.localize(url)).read_text()
    assert {int(w) for w in re.findall(r"font-weight:\s*(\d+)", css)} == {400}


@pytest.mark.network
def test_missing_css2_weight_is_terminal_and_says_what_exists(tmp_path: Path) -> None:
    fonts = FontLocalizer(tmp_path / "out", offline_fetcher(tmp_path))
    with pytest.raises(FontFetchFailedError, match=r"'Lobster'.*700 normal.*available: 400"):
        fonts.localize(f"{CSS2}?family=Lobster:wght@700")


@pytest.mark.network
def test_unknown_family_is_terminal_and_named(tmp_path: Path) -> None:
    fonts = FontLocalizer(tmp_path / "out", offline_fetcher(tmp_path))
    url = f"{CSS2}?family=Zzqx+Nonsense+Sans+Hf:wght@400"
    with pytest.raises(FontFetchFailedError) as info:
        fonts.localize(url)
    message = str(info.value)
    assert "'Zzqx Nonsense Sans Hf'" in message
    assert url in message
    assert "@fontsource/zzqx-nonsense-sans-hf" in message
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_unreachable_registry_is_retryable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real connection refused (nothing listens on port 9 of loopback), not a mock.
    monkeypatch.setenv(ENV_REGISTRY, "http://127.0.0.1:9")
    fonts = FontLocalizer(tmp_path / "out", offline_fetcher(tmp_path))
    with pytest.raises(FontFetchUnavailableError, match=r"'Inter'.*unreachable"):
        fonts.localize(f"{CSS2}?family=Inter")


def seed_remote_cache(cache_dir: Path, url: str, data: bytes) -> None:
    """Store ``url`` in RemoteFetcher's on-disk cache, as a previous successful fetch would."""
    key = hashlib.sha256(url.encode()).hexdigest()
    cache_dir.mkdir(parents=True, exist_ok=True)
    (cache_dir / key).write_bytes(data)
    meta = {"url": url, "source": "direct", "sha256": hashlib.sha256(data).hexdigest()}
    (cache_dir / f"{key}.json").write_text(json.dumps({**meta, "size": len(data)}))


@pytest.mark.network
def test_stylesheet_from_google_is_preferred_and_its_files_made_local(tmp_path: Path) -> None:
    # Google is unreachable here, so replay what it serves through the fetcher's disk cache
    # (the path a machine that once reached Google takes); the font bytes come from npm.
    woff2 = read_package_file(
        "@fontsource/lobster", "5.3.0", "files/lobster-latin-400-normal.woff2"
    )
    font_url = "https://fonts.gstatic.com/s/lobster/v30/neILzCirqoswsqX9zoKmMw.woff2"
    css_url = f"{CSS2}?family=Lobster&display=swap"
    google_css = (
        "/* latin */\n@font-face {\n  font-family: 'Lobster';\n  font-style: normal;\n"
        f"  font-weight: 400;\n  src: url({font_url}) format('woff2');\n"
        "  unicode-range: U+0000-00FF;\n}\n"
    )
    cache = tmp_path / "cache"
    seed_remote_cache(cache, css_url, google_css.encode())
    seed_remote_cache(cache, font_url, woff2)
    root = tmp_path / "out"
    fonts = FontLocalizer(root, RemoteFetcher(cache_dir=cache, allow_direct=False))
    css_path = fonts.localize(css_url)
    assert fonts.records == {css_url: "direct"}
    css = (root / css_path).read_text()
    (local,) = URL.findall(css.split("*/", 1)[1])
    assert local.startswith("google/") and local.endswith("-neILzCirqoswsqX9zoKmMw.woff2")
    assert ((root / css_path).parent / local).read_bytes() == woff2
