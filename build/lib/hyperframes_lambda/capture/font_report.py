"""Which fonts a loaded page's text resolved to: named families that fell back, and glyphs
no font has (they render as empty boxes).

Run once per render, on the plan stage's loaded page (the warnings go into the plan and the
render summary). Rendered text is checked with what Chrome reports it drew with
(``CSS.getPlatformFontsForNode``); text not laid out at load (clips that start later) with
its computed ``font-family`` and the code points the font set covers (its cmaps). Text set
in a web font (``@font-face``, the deterministic faces) is taken as covered: its files are
the page's own.
"""

from __future__ import annotations

import contextlib
import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..browser import font_set

Call = Callable[[str, dict[str, Any] | None], dict[str, Any]]

MAX_ELEMENTS = 400
_SKIPPED_TAGS = frozenset({"SCRIPT", "STYLE", "TITLE", "TEMPLATE", "NOSCRIPT", "HEAD", "META"})
_GENERICS = frozenset(
    {
        "serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui", "emoji",
        "math", "fangsong", "ui-serif", "ui-sans-serif", "ui-monospace", "ui-rounded",
        "-webkit-body", "initial", "inherit",
    }
)  # fmt: skip
_WEB_FONT_FAMILIES_JS = (
    "Array.from(document.fonts || []).filter(f => f.status !== 'error')"
    ".map(f => f.family.replace(/^['\"]|['\"]$/g, ''))"
)


@dataclass
class FontReport:
    """What the page's text resolved to."""

    used: dict[str, int] = field(default_factory=dict)  # system family -> glyphs drawn
    fallbacks: dict[str, set[str]] = field(default_factory=dict)  # requested -> used instead
    missing: dict[str, int] = field(default_factory=dict)  # character -> occurrences
    checked_elements: int = 0

    def warnings(self, authored: str | None = None) -> list[str]:
        """The report in the author's terms. ``authored`` is the text of the project's
        own files (:func:`authored_text`): a fallback is reported only for a family named
        there, not for the browser's defaults (Chrome resolves an unstyled element's family
        to "Times New Roman", which no author wrote)."""
        out = []
        for family in sorted(self.fallbacks):
            if authored is not None and family.lower() not in authored:
                continue
            instead = ", ".join(sorted(self.fallbacks[family])) or "the font set's fallback"
            out.append(
                f"font family {family!r} is not available to the browser: its text rendered "
                f"with {instead} (font set {font_set.font_set_id()})"
            )
        if self.missing:
            chars = sorted(self.missing)
            shown = ", ".join(f"U+{ord(c):04X} {_char_name(c)}" for c in chars[:12])
            more = f" and {len(chars) - 12} more" if len(chars) > 12 else ""
            out.append(
                f"{len(chars)} character(s) have no glyph in the page's fonts nor in font set "
                f"{font_set.font_set_id()} and render as empty boxes: {shown}{more}"
            )
        return out


AUTHORED_SUFFIXES = frozenset({".html", ".htm", ".css", ".js", ".mjs", ".svg"})
AUTHORED_LIMIT = 8 * 1024 * 1024


def authored_text(project_dir: Path) -> str:
    """The project's markup, styles and scripts, lowercased (at most 8 MiB in all): where
    an author names font families."""
    parts: list[str] = []
    budget = AUTHORED_LIMIT
    files = sorted(
        Path(top) / name
        for top, _dirs, names in os.walk(project_dir)  # never follows a symlinked directory
        for name in names
    )
    for path in files:
        if budget <= 0:
            break
        if path.suffix.lower() in AUTHORED_SUFFIXES and path.is_file():
            with contextlib.suppress(OSError):
                with path.open("rb") as handle:
                    data = handle.read(budget)
                budget -= len(data)
                parts.append(data.decode("utf-8", "replace").lower())
    return "\n".join(parts)


def _char_name(char: str) -> str:
    return unicodedata.name(char, "").lower() or repr(char)


def _families(value: str) -> list[str]:
    return [part.strip().strip("'\"").strip() for part in value.split(",") if part.strip()]


def _is_generic(family: str) -> bool:
    return family.lower() in _GENERICS


def _text_children(node: dict[str, Any]) -> str:
    return "".join(
        str(child.get("nodeValue") or "")
        for child in node.get("children") or []
        if child.get("nodeType") == 3
    )


def _elements_with_text(root: dict[str, Any]) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    stack = [root]
    while stack and len(found) < MAX_ELEMENTS:
        node = stack.pop()
        if node.get("nodeType") == 1 and str(node.get("nodeName", "")).upper() in _SKIPPED_TAGS:
            continue
        if node.get("nodeType") == 1:
            text = _text_children(node)
            if text.strip():
                found.append((int(node["nodeId"]), text))
        children = [
            *(node.get("children") or []),
            *(node.get("shadowRoots") or []),
            *([node["contentDocument"]] if node.get("contentDocument") else []),
        ]
        stack.extend(reversed(children))
    return found


def _drawable(char: str) -> bool:
    """Characters that need a glyph (not spaces, controls, joiners, combining marks or
    variation selectors, which fonts draw as part of a cluster if at all)."""
    if char.isspace():
        return False
    return unicodedata.category(char) not in ("Cc", "Cf", "Mn", "Me", "Zs", "Zl", "Zp", "Cs")


def check_page(call: Call, evaluate: Callable[[str], Any]) -> FontReport:
    """Inspect the loaded page behind ``call`` (a CDP call on its session)."""
    report = FontReport()
    web_fonts = {str(f).lower() for f in (evaluate(_WEB_FONT_FAMILIES_JS) or [])}
    coverage = font_set.font_coverage()
    set_families = {name.lower(): name for name in coverage}
    union: set[int] = set()
    for points in coverage.values():
        union |= points
    call("DOM.enable", None)
    call("CSS.enable", None)
    try:
        root = call("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
        for node_id, text in _elements_with_text(root):
            report.checked_elements += 1
            style = call("CSS.getComputedStyleForNode", {"nodeId": node_id})
            family_value = next(
                (p["value"] for p in style.get("computedStyle", []) if p["name"] == "font-family"),
                "",
            )
            requested = _families(family_value)
            named = [f for f in requested if not _is_generic(f)]
            fonts = call("CSS.getPlatformFontsForNode", {"nodeId": node_id}).get("fonts", [])
            custom_used = any(f.get("isCustomFont") for f in fonts)
            system_used = {str(f["familyName"]) for f in fonts if not f.get("isCustomFont")}
            for f in fonts:
                if not f.get("isCustomFont"):
                    name = str(f["familyName"])
                    report.used[name] = report.used.get(name, 0) + int(f.get("glyphCount", 0))
            web_requested = any(f.lower() in web_fonts for f in named)
            available = {f.lower() for f in system_used} | set(set_families)
            fell_back = not any(f.lower() in available for f in named)
            if named and not web_requested and not custom_used and fell_back:
                for family in named:
                    report.fallbacks.setdefault(family, set()).update(system_used)
            if custom_used or (not fonts and web_requested):
                continue  # the page's own font files: their coverage is theirs to know
            for char in text:
                if _drawable(char) and ord(char) not in union:
                    report.missing[char] = report.missing.get(char, 0) + 1
    finally:
        for method in ("CSS.disable", "DOM.disable"):
            with contextlib.suppress(Exception):  # best effort: the report is done
                call(method, None)
    return report
