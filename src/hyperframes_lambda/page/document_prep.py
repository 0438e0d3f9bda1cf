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

from ..subcompositions import _attr_value, _attrs, _edit_tag, _quote, _tokenize

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
    tokens = _tokenize(html)
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
    attrs = _attrs(_tokenize(tag)[0])
    if _attr_value(attrs, "nomodule") is not None or any(a.name == "nomodule" for a in attrs):
        return tag
    kind = (_attr_value(attrs, "type") or "").strip().lower()
    if kind == "module":
        new_type = DEFERRED_TYPE + "+module"
    elif kind in _CLASSIC_TYPES:
        new_type = DEFERRED_TYPE
    else:
        return tag
    type_attr = next((a for a in attrs if a.name == "type"), None)
    if type_attr is not None and type_attr.value_span is not None:
        return _edit_tag(tag, [(type_attr.value_span, _quote(new_type))])
    if type_attr is not None:  # a bare `type` attribute
        return _edit_tag(tag, [(type_attr.name_span, f"type={_quote(new_type)}")])
    return tag[:7] + f" type={_quote(new_type)}" + tag[7:]
