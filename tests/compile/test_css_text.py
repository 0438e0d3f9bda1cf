"""The CSS scanner both the sub-composition scoping and the deterministic-fonts pass read with.

``css_text`` jumps from one significant character to the next with a regular expression;
the property tests hold it to a plain reading, one character at a time (how the
sub-composition scoping read CSS before the two scanners became one).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hyperframes_lambda.compile import css_text

# Pieces that make the scanner's cases: quotes and escapes, comments, brackets, blocks.
PIECES = [*"ab :;{}()[],\"'\\/*@-\n", "/*", "*/", "@media ", "@font-face", "--x:", "url(a)"]
CSS = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


def plain_skip_literal(css: str, pos: int) -> int:
    char = css[pos]
    if char in "\"'":
        i = pos + 1
        while i < len(css) and css[i] != char:
            i += 2 if css[i] == "\\" else 1
        return min(i + 1, len(css))
    if css.startswith("/*", pos):
        end = css.find("*/", pos + 2)
        return len(css) if end < 0 else end + 2
    return pos


def plain_find_top_level(css: str, pos: int, stops: str) -> int:
    depth = 0
    i = pos
    while i < len(css):
        after = plain_skip_literal(css, i)
        if after != i:
            i = after
            continue
        if css[i] in "([":
            depth += 1
        elif css[i] in ")]":
            depth = max(0, depth - 1)
        elif depth == 0 and css[i] in stops:
            return i
        i += 1
    return len(css)


def plain_block_end(css: str, open_index: int) -> int:
    depth = 0
    i = open_index
    while i < len(css):
        after = plain_skip_literal(css, i)
        if after != i:
            i = after
            continue
        if css[i] == "{":
            depth += 1
        elif css[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(css)


@settings(max_examples=500)
@given(CSS, st.integers(min_value=0, max_value=60), st.sampled_from(["{;}", ":", ",", "{}"]))
def test_the_scanner_agrees_with_a_plain_reading(css: str, start: int, stops: str) -> None:
    pos = min(start, max(len(css) - 1, 0))
    assert css_text.find_top_level(css, pos, stops) == plain_find_top_level(css, pos, stops)
    if css:
        assert css_text.skip_literal(css, pos) == plain_skip_literal(css, pos)
        assert css_text.block_end(css, pos) == plain_block_end(css, pos)


@settings(max_examples=300)
@given(CSS)
def test_split_top_level_and_strip_comments_keep_the_text(css: str) -> None:
    assert ",".join(css_text.split_top_level(css, ",")) == css
    if "/*" not in css:
        assert css_text.strip_comments(css) == css
    assert css_text.strip_comments("a/* b */c '/* d */'") == "a c '/* d */'"


def test_a_declaration_inside_a_block_and_an_at_rule() -> None:
    css = '@import "a.css"; p { color: red /* c */ !important; } @font-face { font-family: X }'
    decls, at_rules = css_text.parse_css(css)
    assert [(d.prop, d.value, d.in_font_face) for d in decls] == [
        ("color", "red", False),
        ("font-family", "X", True),
    ]
    assert css[decls[0].span[0] : decls[0].span[1]] == "red /* c */"
    assert [(a.name, a.prelude.strip(), a.top_level) for a in at_rules] == [
        ("import", '"a.css"', True),
        ("font-face", "", True),
    ]
    assert css_text.import_url(at_rules[0].prelude) == "a.css"


def test_a_separator_inside_a_string_comment_or_bracket_does_not_split() -> None:
    text = "a, 'b,c', /* d, e */ f(g, h), [i, j]"
    assert [p.strip() for p in css_text.split_top_level(text, ",")] == [
        "a",
        "'b,c'",
        "/* d, e */ f(g, h)",
        "[i, j]",
    ]
