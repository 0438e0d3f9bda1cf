"""compile_project: sub-compositions inlined, fonts made local, output deterministic."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from hyperframes_lambda.browser.binary import ChromeBinary
from hyperframes_lambda.capture.frame_source import open_frame_source
from hyperframes_lambda.compile.project import CompiledProject, compile_project
from hyperframes_lambda.net.remote_assets import RemoteFetcher

from ..conftest import COMPOSITIONS, png_settings, to_rgb

SUBCOMP = COMPOSITIONS / "subcomp"
FONTS = COMPOSITIONS / "fonts"
LOBSTER = "https://fonts.googleapis.com/css2?family=Lobster&display=swap"


def tree_digest(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.network
@pytest.mark.parametrize("project", [SUBCOMP, FONTS], ids=["subcomp", "fonts"])
def test_compiling_twice_gives_identical_trees(tmp_path: Path, project: Path) -> None:
    # Separate fetchers and cache dirs: nothing is shared between the two compiles but the
    # npm tarball cache.
    first = compile_project(project, tmp_path / "a", RemoteFetcher(cache_dir=tmp_path / "ca"))
    second = compile_project(project, tmp_path / "b", RemoteFetcher(cache_dir=tmp_path / "cb"))
    digest = tree_digest(first.root)
    assert digest == tree_digest(second.root)
    assert len(digest) > 3
    assert (first.remote, first.fonts, first.subcompositions) == (
        second.remote,
        second.fonts,
        second.subcompositions,
    )


@pytest.mark.network
def test_subcomp_fixture_inlines_the_card(tmp_path: Path) -> None:
    compiled = compile_project(SUBCOMP, tmp_path / "out", RemoteFetcher())
    assert compiled.subcompositions == ["compositions/card.html"]
    html = (compiled.root / compiled.entry).read_text()
    assert 'data-hf-inlined-from="compositions/card.html"' in html
    assert "data-composition-src" not in html
    host = '[data-composition-id="card"]'
    # :root -> the composition's box (its inner root once inlined)
    assert f"{host} > [data-hf-inner-root] {{ position: absolute; left: 120px" in html
    assert f"{host} .box {{" in html
    assert f"{host} .dot, {host} .dot-frame > img {{" in html
    assert f"@media (min-width: 1px) {{ {host} .box" in html
    assert "@keyframes card-spin {" in html
    assert '<img class="dot" src="compositions/img/dot.png" alt="">' in html
    assert (compiled.root / "compositions/img/dot.png").is_file()
    # The template's remote GSAP is localized like any other remote script.
    # Body scripts wait for the fonts (the runtime runs them), hence their type.
    scripts = re.findall(r'<script type="text/hf-after-fonts" src="([^"]+)"', html)
    assert len(scripts) == 1 and scripts[0].startswith("_remote/")
    assert (compiled.root / scripts[0]).stat().st_size > 10_000
    # Markup, then the script that animates it, scoped to its composition.
    inside = html.split('data-duration="1.5">', 1)[1]
    assert inside.index('class="box"') < inside.index('window.__timelines["card"]')
    assert '__hfScopeComposition("card")' in inside
    assert html.index("<head>") + len("<head>") == html.index(
        "<style data-hyperframes-text-rendering"
    )


@pytest.mark.network
def test_google_fonts_in_css_files_style_blocks_and_links(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "css").mkdir(parents=True)
    pacifico = "https://fonts.googleapis.com/css2?family=Pacifico"
    (project / "css" / "site.css").write_text(
        f'@import url("{pacifico}");\nh1 {{ font-family: Pacifico; }}\n'
    )
    (project / "index.html").write_text(
        '<!doctype html><html><head><link rel="preconnect" href="https://fonts.gstatic.com">'
        f'<link rel="stylesheet" href="{LOBSTER.replace("&", "&amp;")}">'
        '<link rel="stylesheet" href="css/site.css">'
        f'<style>@import "{pacifico}"; p {{ font-family: Lobster; }}</style></head>'
        '<body><div data-composition-id="m" data-width="320" data-height="180" '
        'data-duration="1"><h1>a</h1><p>b</p></div></body></html>'
    )
    fetcher = RemoteFetcher(cache_dir=tmp_path / "cache", allow_direct=False)
    compiled = compile_project(project, tmp_path / "out", fetcher)
    assert set(compiled.fonts) == {LOBSTER, pacifico}
    assert all(source.startswith("npm:@fontsource/") for source in compiled.fonts.values())
    lobster_css, pacifico_css = compiled.remote[LOBSTER], compiled.remote[pacifico]
    html = (compiled.root / "index.html").read_text()
    assert f'<link rel="stylesheet" href="{lobster_css}">' in html
    assert f'@import "{pacifico_css}";' in html
    assert '<link rel="preconnect" href="https://fonts.gstatic.com">' in html  # a hint only
    site = (compiled.root / "css" / "site.css").read_text()
    assert f'@import url("../{pacifico_css}");' in site
    for css_path in (lobster_css, pacifico_css):
        css = (compiled.root / css_path).read_text()
        for url in re.findall(r'url\("([^"]+)"\)', css):
            assert (compiled.root / css_path).parent.joinpath(url).is_file()


# --- in a real browser ---------------------------------------------------------------


def px(frame: np.ndarray, x: int, y: int) -> tuple[int, int, int]:
    r, g, b = frame[y, x]
    return int(r), int(g), int(b)


def near(actual: tuple[int, int, int], expected: tuple[int, int, int], tol: int = 3) -> bool:
    return all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=True))


BLACK, GREY, RED, YELLOW = (0, 0, 0), (40, 40, 40), (255, 0, 0), (255, 255, 0)


@pytest.mark.slow
def test_inlined_card_renders_where_its_scoped_css_puts_it(
    tmp_path: Path, chrome: ChromeBinary
) -> None:
    compiled: CompiledProject = compile_project(SUBCOMP, tmp_path / "out", RemoteFetcher())
    with open_frame_source(compiled.root, compiled.entry, png_settings(), chrome) as page:
        assert page.duration == pytest.approx(2.0)
        before, start, later = (to_rgb(page.capture(i)) for i in (0, 15, 45))
    # Before the host's data-start the whole card is hidden.
    for x, y in ((125, 130), (140, 60), (230, 60)):
        assert px(before, x, y) == BLACK
    # At 0.5 s (card time 0): grey panel at 120,40 (from ":root"), red box at its start.
    assert near(px(start, 125, 130), GREY)
    assert near(px(start, 140, 60), RED)
    assert near(px(start, 230, 60), YELLOW), "rebased compositions/img/dot.png not shown"
    # At 1.5 s (card time 1 s): the GSAP tween, placed at data-start, moved the box 40 px.
    assert near(px(later, 150, 70), GREY)
    assert near(px(later, 190, 70), RED)
    assert near(px(later, 215, 70), GREY)
    # The card's ".box" rule is scoped: #outside (class "box" too) in the entry stays black.
    for frame in (before, start, later):
        assert px(frame, 30, 30) == BLACK
        assert px(frame, 300, 170) == BLACK


@pytest.mark.slow
def test_google_web_font_really_loads(tmp_path: Path, chrome: ChromeBinary) -> None:
    compiled = compile_project(FONTS, tmp_path / "out", RemoteFetcher())
    assert LOBSTER in compiled.fonts
    with open_frame_source(compiled.root, compiled.entry, png_settings(), chrome) as page:
        frame = to_rgb(page.capture(0))
    web, fallback = frame[0:80, :, :], frame[90:170, :, :]
    assert np.count_nonzero(web.max(axis=2) > 128) > 300, "no text drawn in the web font box"
    assert np.count_nonzero(fallback.max(axis=2) > 128) > 300, "no text drawn in the fallback"
    differing = np.count_nonzero(np.any(web != fallback, axis=2))
    assert differing > 1000, f"web font and fallback look the same ({differing} px differ)"


def test_shader_transitions_are_detected_in_inline_scripts_only() -> None:
    from hyperframes_lambda.compile.document_prep import uses_shader_transitions

    assert uses_shader_transitions(
        "<script>\n  window.HyperShader.init({ transitions: [] });</script>"
    )
    assert uses_shader_transitions("<script>__hf.transitions = [{time: 1}]</script>")
    assert not uses_shader_transitions('<script src="x.js">HyperShader.init(</script>')
    assert not uses_shader_transitions("<script>// HyperShader.init(\n</script>")
    assert not uses_shader_transitions("<p>HyperShader.init(</p>")
