"""Sub-composition inlining: CSS scoping, path rebasing, nesting and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperframes_lambda.compile.subcompositions import (
    inline_subcompositions,
    inline_subcompositions_detailed,
    rebase_css_urls,
    rebase_url,
    scope_css,
)
from hyperframes_lambda.errors import CompositionError

HOST = '[data-composition-id="card"]'


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def template(tid: str, body: str) -> str:
    return f"<!doctype html><html><body><template id={tid!r}>{body}</template></body></html>"


# --- CSS scoping ---------------------------------------------------------------------


def test_scope_prefixes_every_selector_of_a_list() -> None:
    scoped = scope_css(".a, .b > p:not(.c, .d), *{color:red}", "card")
    assert scoped == f"{HOST} .a, {HOST} .b > p:not(.c, .d), {HOST} *{{color:red}}"


def test_scope_maps_root_html_body_to_the_host() -> None:
    # The composition itself is its inner root once inlined (the host when there is none).
    box = f"{HOST}:not(:has([data-hf-inner-root])), {HOST} > [data-hf-inner-root]"
    assert scope_css(":root { --x: 1 }", "card") == f"{box} {{ --x: 1 }}"
    assert scope_css(f"{HOST} {{ --x: 1 }}", "card") == f"{box} {{ --x: 1 }}"
    assert scope_css(f"{HOST} .t {{ --x: 1 }}", "card") == f"{HOST} .t {{ --x: 1 }}"
    assert scope_css("html, body { margin: 0 }", "card") == f"{box}, {box} {{ margin: 0 }}"
    assert scope_css("body.dark .t { a: b }", "card") == f"{HOST}.dark .t {{ a: b }}"
    assert scope_css("html > body .t { a: b }", "card") == f"{HOST} .t {{ a: b }}"
    # Only whole names: a class or tag that merely starts with "body" is scoped normally.
    assert scope_css("bodyguard, .body { a: b }", "card") == (
        f"{HOST} bodyguard, {HOST} .body {{ a: b }}"
    )


def test_scope_recurses_into_media_and_supports_only() -> None:
    css = (
        "@media (min-width: 10px) { .x { a: b } @supports (display: grid) { .y { c: d } } }\n"
        "@keyframes spin { from { transform: rotate(0) } to { transform: rotate(1turn) } }\n"
        "@font-face { font-family: F; src: url(f.woff2) }\n"
        "@import url(other.css);\n"
    )
    scoped = scope_css(css, "card")
    assert f"@media (min-width: 10px) {{ {HOST} .x {{ a: b }}" in scoped
    assert f"@supports (display: grid) {{ {HOST} .y {{ c: d }} }}" in scoped
    assert "@keyframes spin { from { transform: rotate(0) } to { transform: rotate(1turn) } }" in (
        scoped
    )
    assert "@font-face { font-family: F; src: url(f.woff2) }" in scoped
    assert "@import url(other.css);" in scoped
    assert f"{HOST} from" not in scoped and f"{HOST} to" not in scoped


def test_scope_ignores_braces_in_comments_and_strings() -> None:
    css = '/* .a { } */ .b[title="}{,"] { content: "{ ; }" } .c { a: b }'
    scoped = scope_css(css, "card")
    assert scoped == (
        f'/* .a {{ }} */ {HOST} .b[title="}}{{,"] {{ content: "{{ ; }}" }} {HOST} .c {{ a: b }}'
    )


def test_scope_leaves_selectors_already_scoped_to_the_host() -> None:
    css = "[data-composition-id='card'] .a { x: y } .b { x: y }"
    assert (
        scope_css(css, "card") == f"[data-composition-id='card'] .a {{ x: y }} {HOST} .b {{ x: y }}"
    )


def test_scope_quotes_odd_ids() -> None:
    assert scope_css(".a{}", 'we"ird') == '[data-composition-id="we\\"ird"] .a{}'


# --- rebasing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("img/logo.png", "compositions/img/logo.png"),
        ("./img/logo.png?v=2#x", "compositions/img/logo.png?v=2#x"),
        ("../shared/a.css", "shared/a.css"),
        ("https://cdn.example/x.js", "https://cdn.example/x.js"),
        ("//cdn.example/x.js", "//cdn.example/x.js"),
        ("data:image/png;base64,AAAA", "data:image/png;base64,AAAA"),
        ("#frag", "#frag"),
        ("/root/relative.png", "/root/relative.png"),
        ("", ""),
    ],
)
def test_rebase_url(value: str, expected: str) -> None:
    assert rebase_url(value, "compositions", "") == expected


def test_rebase_url_into_a_deeper_entry_dir() -> None:
    assert rebase_url("img/a.png", "", "pages") == "../img/a.png"
    assert rebase_url("img/a.png", "pages/sub", "pages") == "sub/img/a.png"


def test_rebase_css_urls_keeps_quotes_and_skips_absolute() -> None:
    css = (
        "a{background:url(img/a.png)} b{background:url('img/b.png')} "
        'c{background:url("https://x.test/c.png")} @import "parts/d.css";'
    )
    assert rebase_css_urls(css, "compositions", "") == (
        "a{background:url(compositions/img/a.png)} "
        "b{background:url('compositions/img/b.png')} "
        'c{background:url("https://x.test/c.png")} @import "compositions/parts/d.css";'
    )


# --- inlining ------------------------------------------------------------------------

CARD = template(
    "card-template",
    """
  <style>:root { width: 10px } .t { background: url(img/bg.png) }
    @keyframes k { to { x: 1 } }</style>
  <div class="t" style="background-image: url('img/s.png')">
    <img src="img/logo.png" srcset="img/logo.png 1x, img/logo@2x.png 2x">
    <img src="https://cdn.test/a.png"><img src="data:image/gif;base64,R0lG"><a href="#x">x</a>
    <img src="/abs.png">
  </div>
  <script src="lib/helper.js"></script>
  <script>window.__timelines = window.__timelines || {}; window.__timelines["card"] = 1;</script>
""",
)


def entry_with(host: str) -> str:
    return f'<html><body><div id="root" data-composition-id="main">{host}</div></body></html>'


def test_inlines_template_with_scoped_css_and_rebased_paths(tmp_path: Path) -> None:
    write(tmp_path, "compositions/card.html", CARD)
    host = (
        '<div id="h" data-composition-id="card" data-composition-src="compositions/card.html"'
        ' data-start="1" data-duration="2">\n   \n</div>'
    )
    html = inline_subcompositions(entry_with(host), tmp_path)
    assert (
        '<div id="h" data-composition-id="card" '
        'data-hf-inlined-from="compositions/card.html" data-start="1" data-duration="2">'
    ) in html
    assert "data-composition-src" not in html
    assert f"{HOST} > [data-hf-inner-root] {{ width: 10px }}" in html
    assert f"{HOST} .t {{ background: url(compositions/img/bg.png) }}" in html
    assert "@keyframes k { to { x: 1 } }" in html
    assert "style=\"background-image: url('compositions/img/s.png')\"" in html
    assert '<img src="compositions/img/logo.png"' in html
    assert 'srcset="compositions/img/logo.png 1x, compositions/img/logo@2x.png 2x"' in html
    assert '<img src="https://cdn.test/a.png">' in html
    assert '<img src="data:image/gif;base64,R0lG">' in html
    assert '<a href="#x">' in html
    assert '<img src="/abs.png">' in html
    assert '<script src="compositions/lib/helper.js"></script>' in html
    # Scripts move after the entry's own, each in a function scoped to its composition.
    body = html.split('data-duration="2">', 1)[1]
    assert body.index('class="t"') < body.index("</div></div>") < body.index("window.__timelines")
    assert '__hfScopeComposition("card")' in html
    assert html.endswith("</script>\n</body></html>")


def test_html_without_hosts_is_untouched(tmp_path: Path) -> None:
    html = (
        "<!doctype html><html><head><script>if (a < b && c > d) { x('</div>') }</script>"
        "<style>.a > .b { c: d }</style></head><body><div a='1>2'>x</div><!-- <div> --></body>"
    )
    assert inline_subcompositions(html, tmp_path) == html


def test_self_closing_host_becomes_an_element(tmp_path: Path) -> None:
    write(tmp_path, "c.html", template("c-template", "<p>hi</p>"))
    html = inline_subcompositions(
        entry_with('<div data-composition-id="c" data-composition-src="c.html" />'), tmp_path
    )
    assert '<div data-composition-id="c" data-hf-inlined-from="c.html"><p>hi</p></div>' in html


def test_nested_subcompositions_rebase_relative_to_each_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "compositions/outer.html",
        template(
            "outer-template",
            '<style>.o { a: b }</style><img src="img/o.png">'
            '<div data-composition-id="inner" data-composition-src="parts/inner.html"></div>',
        ),
    )
    write(
        tmp_path,
        "compositions/parts/inner.html",
        template("inner-template", '<style>.i { background: url(i.png) }</style><img src="i.png">'),
    )
    result = inline_subcompositions_detailed(
        entry_with(
            '<div data-composition-id="outer" data-composition-src="compositions/outer.html"></div>'
        ),
        tmp_path,
    )
    html = result.html
    assert result.sources == ("compositions/outer.html", "compositions/parts/inner.html")
    assert '[data-composition-id="outer"] .o { a: b }' in html
    assert '<img src="compositions/img/o.png">' in html
    assert 'data-hf-inlined-from="compositions/parts/inner.html"' in html
    assert '[data-composition-id="inner"] .i { background: url(compositions/parts/i.png) }' in html
    assert '<img src="compositions/parts/i.png">' in html
    # The inner file's CSS is scoped once, to its own host only.
    assert '[data-composition-id="outer"] [data-composition-id="inner"]' not in html


def test_entry_in_a_subdirectory(tmp_path: Path) -> None:
    write(tmp_path, "scenes/a.html", template("a-template", '<img src="a.png">'))
    html = inline_subcompositions(
        entry_with('<div data-composition-id="a" data-composition-src="../scenes/a.html"></div>'),
        tmp_path,
        "site/index.html",
    )
    assert '<img src="../scenes/a.png">' in html
    assert 'data-hf-inlined-from="../scenes/a.html"' in html


def test_template_id_follows_the_host_not_the_file_name(tmp_path: Path) -> None:
    write(
        tmp_path,
        "scenes/opening.html",
        template("other-template", "<p>other</p>") + template("intro-template", "<p>intro</p>"),
    )
    html = inline_subcompositions(
        entry_with('<div data-composition-id="intro" data-composition-src="scenes/opening.html">'),
        tmp_path,
    )
    assert "<p>intro</p>" in html and "<p>other</p>" not in html


def test_file_stem_and_single_template_fallbacks(tmp_path: Path) -> None:
    write(tmp_path, "card.html", template("card-template", "<p>stem</p>"))
    write(tmp_path, "solo.html", template("whatever", "<p>solo</p>"))
    html = inline_subcompositions(
        entry_with(
            '<div data-composition-id="card-2" data-composition-src="card.html"></div>'
            '<div data-composition-id="s" data-composition-src="solo.html"></div>'
        ),
        tmp_path,
    )
    assert '<div data-composition-id="card-2" data-hf-inlined-from="card.html"><p>stem</p>' in html
    assert '<div data-composition-id="s" data-hf-inlined-from="solo.html"><p>solo</p>' in html


# --- errors --------------------------------------------------------------------------


def test_cycle_names_the_chain(tmp_path: Path) -> None:
    write(
        tmp_path,
        "compositions/a.html",
        template("a-template", '<div data-composition-id="b" data-composition-src="b.html"></div>'),
    )
    write(
        tmp_path,
        "compositions/b.html",
        template("b-template", '<div data-composition-id="a" data-composition-src="a.html"></div>'),
    )
    entry = entry_with('<div data-composition-id="a" data-composition-src="compositions/a.html">')
    with pytest.raises(CompositionError) as info:
        inline_subcompositions(entry + "</div>", tmp_path)
    assert str(info.value) == (
        "sub-composition cycle at host 'a': index.html -> compositions/a.html -> "
        "compositions/b.html -> compositions/a.html"
    )


def test_missing_file_names_host_and_path(tmp_path: Path) -> None:
    entry = entry_with('<div data-composition-id="ghost" data-composition-src="gone/x.html"></div>')
    with pytest.raises(CompositionError, match=r"'ghost'.*'gone/x\.html' not found"):
        inline_subcompositions(entry, tmp_path)


def test_missing_template_names_host_and_file(tmp_path: Path) -> None:
    write(tmp_path, "x.html", template("a-template", "") + template("b-template", ""))
    entry = entry_with('<div data-composition-id="card" data-composition-src="x.html"></div>')
    with pytest.raises(CompositionError) as info:
        inline_subcompositions(entry, tmp_path)
    message = str(info.value)
    assert "'card'" in message and "x.html" in message and 'id="card-template"' in message
    assert "'a-template'" in message and "'b-template'" in message


def test_host_without_id_or_with_remote_src_or_unclosed(tmp_path: Path) -> None:
    write(tmp_path, "x.html", template("x-template", ""))
    with pytest.raises(CompositionError, match="no data-composition-id"):
        inline_subcompositions(entry_with('<div data-composition-src="x.html"></div>'), tmp_path)
    with pytest.raises(CompositionError, match="must name a file of the project"):
        inline_subcompositions(
            entry_with(
                '<div data-composition-id="x" data-composition-src="https://e.test/x.html">'
            ),
            tmp_path,
        )
    with pytest.raises(CompositionError, match="never closed"):
        inline_subcompositions(
            '<div data-composition-id="x" data-composition-src="x.html">', tmp_path
        )


def test_src_outside_the_project_is_refused(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    write(tmp_path, "x.html", template("x-template", "<p>secret</p>"))
    entry = entry_with('<div data-composition-id="x" data-composition-src="../x.html"></div>')
    with pytest.raises(CompositionError, match="outside the project"):
        inline_subcompositions(entry, tmp_path / "proj")
