"""A minimal, lossless HTML tokenizer: the token texts concatenate back to the input.

The compile edits the author's HTML as text rather than re-serialising a parsed DOM, so
whatever it does not touch stays byte-for-byte as written. Sub-composition inlining,
document preparation and the deterministic-fonts pass all read tags through this one
tokenizer.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass

# Elements whose content the HTML tokenizer reads as raw text (no tags inside).
RAW_TEXT_ELEMENTS = frozenset(
    {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript"}
)

START_TAG = re.compile(r"""<([a-zA-Z][^\s/>]*)(?:[^>"']|"[^"]*"|'[^']*')*>""")
END_TAG = re.compile(r"</([a-zA-Z][^\s/>]*)[^>]*>")
ATTR_PATTERN = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")


@dataclass(frozen=True)
class HtmlToken:
    kind: str  # "text" | "comment" | "start" | "end" | "raw"
    text: str
    name: str = ""  # lower-case tag name of start/end tags


@dataclass(frozen=True)
class HtmlAttr:
    name: str  # lower case
    value: str | None  # entity-decoded; None for a bare attribute
    name_span: tuple[int, int]  # within the tag text
    value_span: tuple[int, int] | None  # the raw value incl. quotes, within the tag text


def markup_at(text: str, pos: int) -> tuple[HtmlToken, int] | None:
    """The comment, start or end tag starting at ``text[pos] == "<"``, with its end."""
    if text.startswith("<!--", pos):
        end = text.find("-->", pos + 4)
        stop = len(text) if end < 0 else end + 3
        return HtmlToken("comment", text[pos:stop]), stop
    if text.startswith(("<!", "<?"), pos):
        end = text.find(">", pos)
        stop = len(text) if end < 0 else end + 1
        return HtmlToken("comment", text[pos:stop]), stop
    if (match := END_TAG.match(text, pos)) is not None:
        return HtmlToken("end", match.group(0), match.group(1).lower()), match.end()
    if (match := START_TAG.match(text, pos)) is not None:
        return HtmlToken("start", match.group(0), match.group(1).lower()), match.end()
    return None


def tokenize_html(text: str) -> list[HtmlToken]:
    tokens: list[HtmlToken] = []
    pos = text_start = 0
    while (lt := text.find("<", pos)) >= 0:
        found = markup_at(text, lt)
        if found is None:
            pos = lt + 1
            continue
        token, pos = found
        if lt > text_start:
            tokens.append(HtmlToken("text", text[text_start:lt]))
        tokens.append(token)
        if token.kind == "start" and token.name in RAW_TEXT_ELEMENTS:
            close = re.compile(rf"</{re.escape(token.name)}(?=[\s/>])", re.IGNORECASE)
            found_close = close.search(text, pos)
            raw_end = found_close.start() if found_close else len(text)
            if raw_end > pos:
                tokens.append(HtmlToken("raw", text[pos:raw_end]))
            pos = raw_end
        text_start = pos
    if text_start < len(text):
        tokens.append(HtmlToken("text", text[text_start:]))
    return tokens


def parse_attrs(tag: HtmlToken) -> list[HtmlAttr]:
    start = 1 + len(tag.name)
    end = len(tag.text) - 1
    found: list[HtmlAttr] = []
    for match in ATTR_PATTERN.finditer(tag.text, start, end):
        raw = match.group(2)
        value: str | None = None
        value_span: tuple[int, int] | None = None
        if raw is not None:
            unquoted = raw[1:-1] if raw[0] in "\"'" else raw
            value = html_lib.unescape(unquoted)
            value_span = match.span(2)
        found.append(HtmlAttr(match.group(1).lower(), value, match.span(1), value_span))
    return found


def attr_value(attrs: list[HtmlAttr], name: str) -> str | None:
    for attr in attrs:
        if attr.name == name:
            return attr.value if attr.value is not None else ""
    return None


def quote_attr(value: str) -> str:
    return '"' + value.replace("&", "&amp;").replace('"', "&quot;") + '"'


def edit_tag(tag: str, edits: list[tuple[tuple[int, int], str]]) -> str:
    """Apply (span, replacement) edits to ``tag`` (spans must not overlap)."""
    for (start, end), replacement in sorted(edits, reverse=True):
        tag = tag[:start] + replacement + tag[end:]
    return tag


def is_self_closing(tag: HtmlToken) -> bool:
    return tag.text.endswith("/>")


def matching_end(tokens: list[HtmlToken], index: int) -> int | None:
    """Index of the end tag closing the start tag ``tokens[index]`` (same-name depth count)."""
    name = tokens[index].name
    depth = 0
    for position in range(index + 1, len(tokens)):
        token = tokens[position]
        if token.name != name:
            continue
        if token.kind == "start":
            depth += 1
        elif token.kind == "end":
            if depth == 0:
                return position
            depth -= 1
    return None
