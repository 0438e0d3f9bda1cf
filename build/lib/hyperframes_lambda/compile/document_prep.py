"""Entry-page edits HyperFrames' render compile makes that change pixels or script timing.

* ``text-rendering: geometricPrecision`` on everything, first in ``<head>``: text is laid
  out with fractional advances, as HyperFrames renders it (headless shells otherwise
  round glyph advances and lines come out a few pixels narrower).
* Scripts of ``<body>`` wait for the fonts: they are re-typed ``text/hf-after-fonts``
  (modules ``text/hf-after-fonts+module``) and the official runtime runs them, in order,
  once ``document.fonts`` is ready (at most 5 s), so text measured by a script (split
  letters, fitted sizes) is measured in the real font, not a fallback.
"""

from __future__ import annotations

import re

from .html_text import attr_value, edit_tag, parse_attrs, quote_attr, tokenize_html

TEXT_RENDERING_STYLE = (
    '<style data-hyperframes-text-rendering="true">'
    "html,body,*{text-rendering:geometricPrecision}</style>"
)
DEFERRED_TYPE = "text/hf-after-fonts"
_CLASSIC_TYPES = frozenset(
    {"", "text/javascript", "application/javascript", "application/x-javascript",
     "text/ecmascript", "application/ecmascript"}
)  # fmt: skip
_HEAD_START = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
# Scripts inside these are not run by the document (or not as page scripts).
_INERT_PARENTS = frozenset({"template", "svg", "noscript", "head"})


# HyperFrames' shader transitions (HyperShader.init, or __hf.transitions = …) in an inline
# script: the page composites transitions itself (canvas.drawElementImage) when
# window.__HF_PAGE_SIDE_COMPOSITING__ is set before its scripts run.
_SHADER_TRANSITIONS = re.compile(
    r"\b(?:(?:window|globalThis)\s*\.\s*)?HyperShader\s*\.\s*init\s*\(|\b__hf\s*\.\s*transitions\s*="
)
_INLINE_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_JS_COMMENTS = re.compile(r"/\*.*?\*/|(?<![:\\])//[^\n]*", re.DOTALL)


def uses_shader_transitions(html: str) -> bool:
    """Whether an inline script sets up HyperFrames shader transitions."""
    for match in _INLINE_SCRIPT.finditer(html):
        if re.search(r"\bsrc\s*=", match.group(1), re.IGNORECASE):
            continue
        if _SHADER_TRANSITIONS.search(_JS_COMMENTS.sub("", match.group(2))):
            return True
    return False


def add_text_rendering_rule(html: str) -> str:
    head = _HEAD_START.search(html)
    if head:
        return html[: head.end()] + TEXT_RENDERING_STYLE + html[head.end() :]
    return TEXT_RENDERING_STYLE + html


def defer_body_scripts_until_fonts(html: str) -> str:
    """Re-type every executable script of ``<body>`` so the runtime runs it after fonts."""
    tokens = tokenize_html(html)
    out: list[str] = []
    open_elements: list[str] = []
    in_body = False
    for token in tokens:
        text = token.text
        if token.kind == "start":
            if token.name == "body":
                in_body = True
            elif token.name == "script" and in_body and not _INERT_PARENTS & set(open_elements):
                text = _retype(token.text)
            if token.name in _INERT_PARENTS and not token.text.endswith("/>"):
                open_elements.append(token.name)
        elif token.kind == "end" and token.name in open_elements:
            while open_elements and open_elements.pop() != token.name:
                pass
        out.append(text)
    return "".join(out)


def _retype(tag: str) -> str:
    attrs = parse_attrs(tokenize_html(tag)[0])
    if attr_value(attrs, "nomodule") is not None or any(a.name == "nomodule" for a in attrs):
        return tag
    kind = (attr_value(attrs, "type") or "").strip().lower()
    if kind == "module":
        new_type = DEFERRED_TYPE + "+module"
    elif kind in _CLASSIC_TYPES:
        new_type = DEFERRED_TYPE
    else:
        return tag
    type_attr = next((a for a in attrs if a.name == "type"), None)
    if type_attr is not None and type_attr.value_span is not None:
        return edit_tag(tag, [(type_attr.value_span, quote_attr(new_type))])
    if type_attr is not None:  # a bare `type` attribute
        return edit_tag(tag, [(type_attr.name_span, f"type={quote_attr(new_type)}")])
    return tag[:7] + f" type={quote_attr(new_type)}" + tag[7:]


# An inline script's name in stack traces and error events (``//# sourceURL``): its ordinal
# among the entry's inline scripts, where its text starts in the author's file (0:0 when not
# found there) and in the served page (0:0 for body scripts, which the runtime re-inserts:
# their positions count from the script's own start), and the entry file.
INLINE_SCRIPT_NAME = "__hf_inline__/{ordinal}/{line}:{column}/{page_line}:{page_column}/{entry}"
_SOURCE_TYPES = _CLASSIC_TYPES | {"module", DEFERRED_TYPE, DEFERRED_TYPE + "+module"}
_READY_FLAG = re.compile(r"^\s*window\.__(?:playerReady|renderReady)\s*=\s*(?:true|false)\s*;?\s*$")
_TYPE_ATTR = re.compile(r"""\btype\s*=\s*(["']?)([^"'\s>]*)\1""", re.IGNORECASE)


def _line_column(text: str, at: int) -> tuple[int, int]:
    return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


def name_inline_scripts(html: str, original: str, entry: str) -> str:
    """End each inline script of the compiled entry ``html`` with a ``//# sourceURL`` that
    says where it came from in ``original`` (the author's entry file), so a script error
    can name ``index.html:LINE:COLUMN`` instead of a line of the compiled, served page.

    Run last on the entry: the served page differs from ``html`` only by the runtime tag
    (no new lines). Scripts whose text is not found once in ``original`` (sub-compositions'
    scripts, moved and wrapped) keep their ordinal only; non-JavaScript is left alone."""
    ordinal = 0
    added_lines = 0  # each name adds two lines to the page, moving the scripts after it

    def name(match: re.Match[str]) -> str:
        nonlocal ordinal, added_lines
        attrs, body = match.group(1), match.group(2)
        found = _TYPE_ATTR.search(attrs)
        kind = found.group(2).strip().lower() if found else ""
        if re.search(r"\bsrc\s*=", attrs, re.IGNORECASE) or not body.strip():
            return match.group(0)
        if kind not in _SOURCE_TYPES or _READY_FLAG.match(body):
            return match.group(0)  # not JavaScript, or removed when the runtime is injected
        ordinal += 1
        line = column = page_line = page_column = 0
        if original.count(body) == 1:
            line, column = _line_column(original, original.index(body))
        if not kind.startswith(DEFERRED_TYPE):
            page_line, page_column = _line_column(html, match.start(2))
            page_line += added_lines
        source_url = INLINE_SCRIPT_NAME.format(
            ordinal=ordinal, line=line, column=column, page_line=page_line,
            page_column=page_column, entry=entry,
        )  # fmt: skip
        added_lines += 2
        end = match.end(2) - match.start(0)
        whole = match.group(0)
        return whole[:end] + f"\n//# sourceURL={source_url}\n" + whole[end:]

    return _INLINE_SCRIPT.sub(name, html)
