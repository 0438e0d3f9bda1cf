"""Read CSS as text: strings, comments, brackets, blocks, declarations, at-rules, ``url()``.

Why: the compile edits the author's CSS in place — sub-composition scoping and ``url()``
rebasing (:mod:`.subcompositions`), the deterministic-fonts pass (:mod:`.deterministic_fonts`)
— so it needs positions in the text as written, not a re-serialised stylesheet. Both read
CSS through this one scanner, so they agree on where a string, a comment, a block or a
declaration starts and ends. Like :mod:`.html_text` it is forgiving: an unclosed string,
comment or block runs to the end of the text, as a browser reads it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# ``url(…)`` with a double-quoted, single-quoted or bare target: groups are (1) ``url(`` and
# the space after it, (2)/(3)/(4) the target by quoting, (5) the space and ``)``.
URL_FUNCTION = re.compile(
    r"""(url\(\s*)(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))(\s*\))""", re.IGNORECASE
)
# ``@import "…"`` (the string form): groups are (1) ``@import`` and the space, (2) the
# quote, (3) the target.
IMPORT_STRING = re.compile(r"""(@import\s+)(["'])([^"']*)\2""", re.IGNORECASE)
# The name of an at-rule at the start of a prelude (group 1, as written).
AT_RULE_NAME = re.compile(r"@([\w-]+)")

_BRACKETS_AND_LITERALS = "\"'/()[]"  # what every scan looks at besides its stops
_STRING_END = {q: re.compile(rf"[{q}\\]") for q in "\"'"}
_IMPORTANT = re.compile(r"\s*!\s*important\s*$", re.IGNORECASE)
_PROPERTY = re.compile(r"-{0,2}[A-Za-z_][\w-]*|--[\w-]*")


def skip_literal(css: str, pos: int) -> int:
    """The index after a string or comment starting at ``pos``; ``pos`` if none starts there.

    A backslash in a string escapes the next character; an unclosed string or comment
    runs to the end of ``css``."""
    char = css[pos]
    if char in "\"'":
        pattern = _STRING_END[char]
        i = pos + 1
        while (found := pattern.search(css, i)) is not None:
            if found.group() == char:
                return found.end()
            i = found.end() + 1  # a backslash escapes the next character
        return len(css)
    if css.startswith("/*", pos):
        end = css.find("*/", pos + 2)
        return len(css) if end < 0 else end + 2
    return pos


@functools.lru_cache(maxsize=32)
def _significant(stops: str) -> re.Pattern[str]:
    """The characters a scan for ``stops`` has to look at (it jumps over the others)."""
    return re.compile("[" + re.escape(_BRACKETS_AND_LITERALS + stops) + "]")


def find_top_level(css: str, pos: int, stops: str, end: int | None = None) -> int:
    """Index of the first char of ``stops`` in ``css[pos:end]`` outside strings, comments,
    ``()`` and ``[]``; ``end`` (default ``len(css)``) if there is none."""
    end = len(css) if end is None else end
    significant = _significant(stops)
    depth = 0
    while (found := significant.search(css, pos, end)) is not None:
        pos = found.start()
        after = skip_literal(css, pos)
        if after != pos:
            pos = after
            continue
        char = css[pos]
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        elif depth == 0 and char in stops:
            return pos
        pos += 1
    return end


def block_end(css: str, open_brace: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``open_brace`` (``len(css)`` if unclosed)."""
    significant = _significant("{}")
    depth = 0
    pos = open_brace
    while (found := significant.search(css, pos)) is not None:
        pos = found.start()
        after = skip_literal(css, pos)
        if after != pos:
            pos = after
            continue
        if css[pos] == "{":
            depth += 1
        elif css[pos] == "}":
            depth -= 1
            if depth == 0:
                return pos
        pos += 1
    return len(css)


def skip_space_and_comments(css: str, pos: int, end: int | None = None) -> int:
    """The index after the whitespace and comments starting at ``pos`` (a comment may run
    past ``end``)."""
    end = len(css) if end is None else end
    while pos < end and (css[pos].isspace() or css.startswith("/*", pos)):
        pos = skip_literal(css, pos) if css[pos] == "/" else pos + 1
    return pos


def split_top_level(text: str, separator: str) -> list[str]:
    """``text`` split at each ``separator`` outside strings, comments and brackets."""
    parts: list[str] = []
    start = 0
    while True:
        stop = find_top_level(text, start, separator)
        parts.append(text[start:stop])
        if stop >= len(text):
            return parts
        start = stop + 1


def strip_comments(text: str) -> str:
    """``text`` with each comment replaced by one space (strings kept as written)."""
    if "/*" not in text:
        return text
    out: list[str] = []
    pos = 0
    while pos < len(text):
        after = skip_literal(text, pos)
        if after == pos:
            out.append(text[pos])
            pos += 1
            continue
        if text.startswith("/*", pos):
            out.append(" ")
        else:
            out.append(text[pos:after])
        pos = after
    return "".join(out)


def import_url(prelude: str) -> str | None:
    """The target of an ``@import`` prelude (after ``@import``) that applies to all media:
    ``url(…)`` or a string, followed by nothing or ``all``; else None."""
    text = prelude.strip()
    match = re.match(r"""url\(\s*(["']?)([^"')]*)\1\s*\)|(["'])(.*?)\3""", text, re.IGNORECASE)
    if match is None or text[match.end() :].strip().lower() not in ("", "all"):
        return None
    return match.group(2) if match.group(2) is not None else match.group(4)


@dataclass(frozen=True)
class Declaration:
    prop: str  # as written
    value: str  # comments removed, trimmed, without !important
    span: tuple[int, int]  # the value as written (without !important) in the parsed text
    in_font_face: bool
    blank: bool  # nothing but whitespace/comments after the colon (and there is something)


@dataclass(frozen=True)
class AtRule:
    name: str  # lower case
    prelude: str  # after the name, up to ``{`` or ``;``
    span: tuple[int, int]  # the whole rule, in the parsed text
    top_level: bool


@functools.lru_cache(maxsize=256)
def parse_css(css: str) -> tuple[tuple[Declaration, ...], tuple[AtRule, ...]]:
    """Every declaration (at any nesting depth) and every at-rule of ``css``, in order."""
    decls: list[Declaration] = []
    at_rules: list[AtRule] = []

    def walk(start: int, end: int, in_font_face: bool, top_level: bool) -> None:
        pos = start
        while pos < end:
            pos = skip_space_and_comments(css, pos, end)
            if pos >= end:
                return
            stop = find_top_level(css, pos, "{;}", end)
            segment = css[pos:stop]
            at_rule = AT_RULE_NAME.match(segment)
            if stop < end and css[stop] == "{":
                close = min(block_end(css, stop), end)
                if at_rule:
                    name = at_rule.group(1).lower()
                    at_rules.append(
                        AtRule(name, segment[at_rule.end() :], (pos, close + 1), top_level)
                    )
                    walk(stop + 1, close, name == "font-face", False)
                else:
                    walk(stop + 1, close, False, False)
                pos = close + 1
                continue
            if at_rule:
                name = at_rule.group(1).lower()
                at_rules.append(AtRule(name, segment[at_rule.end() :], (pos, stop), top_level))
            else:
                decl = _declaration(css, pos, stop, in_font_face)
                if decl is not None:
                    decls.append(decl)
            pos = stop + 1

    walk(0, len(css), False, True)
    return tuple(decls), tuple(at_rules)


def _declaration(css: str, start: int, stop: int, in_font_face: bool) -> Declaration | None:
    colon = find_top_level(css, start, ":", stop)
    if colon >= stop:
        return None
    prop = css[start:colon].strip()
    if not prop or not _PROPERTY.fullmatch(prop):
        return None
    raw = css[colon + 1 : stop]
    value_start = colon + 1 + (len(raw) - len(raw.lstrip()))
    written = raw.strip()
    important = _IMPORTANT.search(written)
    if important is not None:
        written = written[: important.start()]
    value = strip_comments(written).strip()
    blank = not value and bool(raw[: len(raw) - len(raw.lstrip())] + written)
    return Declaration(prop, value, (value_start, value_start + len(written)), in_font_face, blank)
