"""The project's font set: pinned files, our fonts.conf, the same fonts in every browser."""

from __future__ import annotations

import base64
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hyperframes_lambda.browser import font_set, sparticuz
from hyperframes_lambda.browser.binary import ChromeBinary
from hyperframes_lambda.browser.launch import launch_browser
from hyperframes_lambda.browser.resolve import (
    DEBIAN_HEADLESS_SHELL,
    browser_build,
    playwright_headless_shell,
)
from hyperframes_lambda.cache import file_sha256
from hyperframes_lambda.capture import font_report
from hyperframes_lambda.errors import FontSetIntegrityError
from hyperframes_lambda.media.probe import decode_image

WIDTH = 900


@pytest.fixture(scope="module")
def font_dir() -> Path:
    return font_set.font_set_dir()  # installs into the cache on first use


def test_every_file_is_pinned_and_installed(font_dir: Path) -> None:
    names = [f.name for f in font_set.FONT_FILES]
    assert len(names) == len(set(names))
    for font in font_set.FONT_FILES:
        path = font_dir / font.name
        assert path.stat().st_size == font.size
        assert path.read_bytes()[:4] in (b"\0\1\0\0", b"OTTO"), font.name  # sfnt, not WOFF2
    assert (font_dir / font_set.MARKER).is_file()
    assert set(font_set.families()) >= {
        "Inter", "DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono",
        "Noto Color Emoji", "Noto Sans SC", "Noto Sans KR",
        "Liberation Sans", "Liberation Serif", "Liberation Mono",
    }  # fmt: skip
    assert font_set.font_set_id().startswith(f"{font_set.FONT_SET_NAME}+")


def test_fonts_conf_names_only_the_set(font_dir: Path, tmp_path: Path) -> None:
    env = font_set.fontconfig_env()
    conf = Path(env["FONTCONFIG_FILE"]).read_text()
    assert conf.count("<dir>") == 1 and f"<dir>{font_dir.absolute()}</dir>" in conf
    assert "/usr/share/fonts" not in conf and "<include" not in conf
    assert Path(env["FONTCONFIG_PATH"]) == Path(env["FONTCONFIG_FILE"]).parent
    assert "<family>sans-serif</family><prefer><family>DejaVu Sans</family>" in conf
    assert "<family>Arial</family><accept><family>Liberation Sans</family>" in conf
    assert "<family>Times New Roman</family><accept><family>Liberation Serif</family>" in conf
    assert "<family>Courier New</family><accept><family>Liberation Mono</family>" in conf


def test_liberation_is_debians_fonts_liberation() -> None:
    """Byte for byte the files of Debian 12's fonts-liberation 1:1.07.4-11 (the reference
    renders' Arial/Times/Courier), and where the machine has that package, the same files."""
    liberation = [f for f in font_set.FONT_FILES if f.package == "fonts-liberation"]
    assert len(liberation) == 16
    assert {(f.package, f.version) for f in liberation} <= set(font_set.DEB_PACKAGES)
    system = Path("/usr/share/fonts/truetype/liberation")
    for font in liberation:
        if (system / font.name).is_file():
            assert file_sha256(system / font.name) == font.sha256, font.name


def test_ar_member() -> None:
    def member(name: bytes, data: bytes) -> bytes:
        header = name.ljust(16) + b"0".ljust(12) + b"0".ljust(6) * 2 + b"100644".ljust(8)
        return header + str(len(data)).encode().ljust(10) + b"`\n" + data + b"\n" * (len(data) & 1)

    deb = b"!<arch>\n" + member(b"debian-binary", b"2.0\n") + member(b"data.tar.xz/", b"abc")
    assert font_set._ar_member(deb, "data.tar.", "x") == b"abc"
    with pytest.raises(FontSetIntegrityError, match="no control"):
        font_set._ar_member(deb, "control", "x")
    with pytest.raises(FontSetIntegrityError, match="not an ar archive"):
        font_set._ar_member(b"PK", "data.tar.", "x")


def test_coverage_from_cmaps(font_dir: Path) -> None:
    coverage = font_set.font_coverage()
    assert ord("A") in coverage["Inter"] and ord("✓") in coverage["DejaVu Sans"]
    assert 0x1F389 in coverage["Noto Color Emoji"]  # 🎉
    assert ord("中") in coverage["Noto Sans SC"] and ord("한") in coverage["Noto Sans KR"]


def test_a_tampered_file_is_refused(
    font_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "fontset"
    shutil.copytree(font_dir, copy)
    target = copy / "DejaVuSerif.ttf"
    data = bytearray(target.read_bytes())
    data[1000] ^= 0xFF
    target.write_bytes(bytes(data))
    monkeypatch.setenv(font_set.ENV_FONT_SET_DIR, str(copy))
    with pytest.raises(FontSetIntegrityError, match=r"DejaVuSerif\.ttf"):
        font_set.font_set_dir()


def test_stage_font_set_for_the_zip(font_dir: Path, tmp_path: Path) -> None:
    written = font_set.stage_font_set(tmp_path / "_vendor" / "fontset")
    assert {f.name for f in font_set.FONT_FILES} <= set(written)
    assert any(name.startswith("licenses/") for name in written)
    font_set._verify_dir(tmp_path / "_vendor" / "fontset")


def test_playwright_layouts(tmp_path: Path) -> None:
    for revision, parts in (
        ("1187", ("chrome-linux", "headless_shell")),
        ("1200", ("chrome-headless-shell-linux64", "chrome-headless-shell")),
    ):
        executable = tmp_path.joinpath(f"chromium_headless_shell-{revision}", *parts)
        executable.parent.mkdir(parents=True)
        executable.write_text("#!/bin/sh\necho 'Chromium 140.0.0.0'\n")
        executable.chmod(0o755)
        (tmp_path / f"chromium_headless_shell-{revision}" / "INSTALLATION_COMPLETE").touch()
    # An unfinished download (no marker) is never picked, even when newer.
    (tmp_path / "chromium_headless_shell-1300" / "chrome-linux").mkdir(parents=True)
    found = playwright_headless_shell(tmp_path)
    assert found is not None and found.source == "playwright"
    assert found.path.endswith("chromium_headless_shell-1200/chrome-headless-shell-linux64/"
                               "chrome-headless-shell")  # fmt: skip
    assert browser_build(found) == "playwright chromium_headless_shell-1200 Chromium 140.0.0.0"
    assert playwright_headless_shell(tmp_path / "absent") is None


def test_fallback_and_missing_glyph_warnings() -> None:
    report = font_report.FontReport(fallbacks={"Comic Sans MS": {"Inter"}}, missing={"\ue000": 2})
    text = "\n".join(report.warnings())
    assert "'Comic Sans MS'" in text and "Inter" in text
    assert "U+E000" in text and "empty boxes" in text


def test_only_families_the_author_named_are_reported(tmp_path: Path) -> None:
    """An unstyled element resolves to Chrome's default, "Times New Roman": not the author's."""
    (tmp_path / "index.html").write_text("<p style=\"font-family: 'Comic Sans MS'\">hi</p>")
    (tmp_path / "linked").symlink_to(tmp_path)  # a loop is not followed
    report = font_report.FontReport(
        fallbacks={"Comic Sans MS": {"Inter"}, "Times New Roman": {"Liberation Serif"}}
    )
    text = "\n".join(report.warnings(font_report.authored_text(tmp_path)))
    assert "'Comic Sans MS'" in text and "Times New Roman" not in text


# --- real browsers ---------------------------------------------------------------------------

# Each row: (id, style, text, the families that must draw it).
# Chrome's own generic settings name Arial / Times New Roman / monospace, so as on the Debian
# machines of HyperFrames' reference renders (fonts-liberation, fonts-dejavu-core) the CSS
# generics draw with Liberation; fontconfig's generics (system-ui) with DejaVu.
ROWS: list[tuple[str, str, str, set[str]]] = [
    ("sans", "font-family: sans-serif", "Sans Hamburg", {"Liberation Sans"}),
    ("serif", "font-family: serif", "Serif Hamburg", {"Liberation Serif"}),
    ("mono", "font-family: monospace", "Mono 0O1l", {"Liberation Mono"}),
    ("system-ui", "font-family: system-ui", "System Hamburg", {"DejaVu Sans"}),
    (
        "arial",
        "font: 700 48px/90px Arial, Helvetica, sans-serif",
        "Arial Bold",
        {"Liberation Sans"},
    ),
    ("times", "font-family: 'Times New Roman'", "Times Hamburg", {"Liberation Serif"}),
    ("courier", "font-family: Courier", "Courier 0O1l", {"Liberation Mono"}),
    ("web", "font-family: 'Test Web Font'", "Web font", set()),  # the @font-face file
    ("symbols", "font-family: serif", "✓ → ★", {"DejaVu Sans", "Liberation Serif"}),
    ("emoji", "font-family: sans-serif", "😀🎉", {"Noto Color Emoji"}),
    ("cjk", "font-family: sans-serif", "日本語中文们这한국어", {"Noto Sans SC", "Noto Sans KR"}),
    ("fallback", "font-family: 'No Such Font'", "Fallback", {"Liberation Serif"}),
]
HEIGHT = 90 * len(ROWS)


def _page(web_font: bytes) -> str:
    rows = "".join(
        f'<div id="{rid}" style="{style}"><span>{text}</span></div>' for rid, style, text, _ in ROWS
    )
    src = base64.b64encode(web_font).decode()
    return (
        '<!doctype html><html><head><meta charset="utf-8"><style>'
        f"@font-face {{ font-family: 'Test Web Font'; src: url(data:font/ttf;base64,{src}); }}"
        "body { margin: 0; background: #fff; color: #000; font-size: 48px; }"
        "div { height: 90px; line-height: 90px; white-space: nowrap; }"
        "</style></head><body>" + rows + "</body></html>"
    )


def _render(binary: ChromeBinary, html: str) -> tuple[dict[str, Any], Any, list[str]]:
    """Per row: the platform fonts Chrome drew it with, and the screenshot."""
    with launch_browser(binary, width=WIDTH, height=HEIGHT, deterministic=False) as browser:
        cdp = browser.cdp
        target = cdp.call("Target.createTarget", {"url": "about:blank"})
        session = cdp.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )["sessionId"]

        def call(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
            return cdp.call(method, params, session_id=session, timeout=60)

        call("Page.enable")
        call(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
        )
        call(
            "Page.navigate",
            {"url": "data:text/html;base64," + base64.b64encode(html.encode()).decode()},
        )
        deadline = time.monotonic() + 60
        while True:
            ready = call(
                "Runtime.evaluate",
                {"expression": "document.readyState === 'complete' && document.fonts.status === 'loaded'",
                 "returnByValue": True},
            )["result"].get("value")  # fmt: skip
            if ready or time.monotonic() > deadline:
                break
            time.sleep(0.05)

        def evaluate(expression: str) -> Any:
            reply = call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
            return reply["result"].get("value")

        report = font_report.check_page(call, evaluate)
        call("DOM.enable")
        call("CSS.enable")
        root = call("DOM.getDocument", {"depth": -1})["root"]
        fonts: dict[str, Any] = {}
        for rid, _style, _text, _families in ROWS:
            node = call("DOM.querySelector", {"nodeId": root["nodeId"], "selector": f"#{rid} span"})
            used = call("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
            fonts[rid] = sorted(
                (f["familyName"], f["postScriptName"], f["isCustomFont"], f["glyphCount"])
                for f in used
            )
        shot = call("Page.captureScreenshot", {"format": "png"})
        raw = decode_image(base64.b64decode(shot["data"]), WIDTH, HEIGHT)
        image = np.frombuffer(raw, dtype=np.uint8).reshape(HEIGHT, WIDTH, 3)
        return fonts, image, report.warnings()


def _sparticuz(tmp_path_factory: pytest.TempPathFactory) -> ChromeBinary:
    return sparticuz.install(root=tmp_path_factory.mktemp("chromium"))


@pytest.mark.slow
def test_both_browsers_draw_every_glyph_group_with_the_same_fonts(
    font_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    if not (DEBIAN_HEADLESS_SHELL.is_file() and os.access(DEBIAN_HEADLESS_SHELL, os.X_OK)):
        pytest.skip("Debian's chromium-headless-shell is not installed (make setup installs it)")
    html = _page((font_dir / "DejaVuSerif-Bold.ttf").read_bytes())
    results = {}
    for binary in (
        _sparticuz(tmp_path_factory),
        ChromeBinary(str(DEBIAN_HEADLESS_SHELL), "debian"),
    ):
        results[binary.source] = _render(binary, html)

    for source, (fonts, image, warnings) in results.items():
        for index, (rid, _style, _text, families) in enumerate(ROWS):
            used = fonts[rid]
            drawn_with = {name for name, _ps, custom, glyphs in used if not custom and glyphs}
            if rid == "web":
                assert used and all(custom for _n, _p, custom, _g in used), (source, used)
            else:
                assert families <= drawn_with, (source, rid, used)
                # Nothing from outside the set: every system font is one of its families.
                assert drawn_with <= set(font_set.families()), (source, rid, used)
            band = image[index * 90 + 10 : index * 90 + 80].astype(int)
            ink = (band.min(axis=2) < 128).sum()
            assert ink > 150, (source, rid, ink)  # the glyphs drew (no blank row)
            if rid == "emoji":
                spread = band.max(axis=2) - band.min(axis=2)
                assert (spread > 80).sum() > 150, (source, "emoji drew without colour")
        assert any("'No Such Font'" in w for w in warnings), (source, warnings)
        assert not any("empty boxes" in w for w in warnings), (source, warnings)

    # The very same font files, glyph for glyph, in both binaries.
    assert results["sparticuz"][0] == results["debian"][0]
