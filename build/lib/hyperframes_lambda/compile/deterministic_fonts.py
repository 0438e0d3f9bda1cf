"""Give the font families a composition names real, pinned faces (HyperFrames' render compile).

Why: a page that asks for ``Helvetica``, ``Arial`` or ``system-ui`` gets whatever the
machine has installed, which differs between a laptop, a Lambda image and HyperFrames'
own renderer. HyperFrames (hyperframes@0.8.170) compiles such pages so every renderer draws
the same glyphs: families it knows are served from a bundled set of ``@fontsource`` latin
faces, declared under the name the author wrote. We do the same with the same bytes: each
face is the file ``files/<pkg>-latin-<weight>-normal.woff2`` of a pinned ``@fontsource``
package from the npm registry (its tarball is checked against the registry's SHA-512 and
the file against the SHA-256 pinned here), copied next to the entry HTML.

Two steps, run in this order on the entry HTML (after sub-compositions are inlined):

1. :func:`normalize_generic_first` — a ``font-family`` (or custom property) whose first
   family is generic (``sans-serif``, ``system-ui`` …) gets ``Inter, `` in front, so the
   generic fallback is never what renders.
2. :func:`inject_deterministic_fonts` — for every family named by a ``font-family``
   declaration (:func:`requested_families`) that has a bundled face, one ``@font-face``
   per weight, all in one ``<style data-hyperframes-deterministic-fonts="true">`` placed
   after the document's last stylesheet. Families the document declares itself with
   ``@font-face`` are left alone.

The HTML is edited as text: everything not rewritten stays byte-for-byte as written.
What is read, like HyperFrames: ``<style>`` elements, ``style=""`` attributes and
``data-font-family`` attributes outside ``<template>`` content; not the ``font:``
shorthand, not scripts.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..cache import write_atomic
from ..errors import AssetFetchError, AssetIntegrityError, FontFetchUnavailableError
from ..net import npm_registry
from ..net.safe_http import is_network_failure
from .css_text import AtRule, Declaration, import_url, parse_css
from .html_text import HtmlAttr, HtmlToken, parse_attrs, quote_attr, tokenize_html

DETERMINISTIC_PRIMARY = "Inter"
STYLE_MARKER = "data-hyperframes-deterministic-fonts"
DEFAULT_FONTS_URL_DIR = "_fonts/hf"
# Staged by the Lambda ZIP build (build/build_zip.py); absent in a source checkout.
VENDOR_FONTS_DIR = Path(__file__).resolve().parent.parent / "_vendor" / "fonts"

# Generic family keywords (compared lower-case, quotes ignored).
GENERIC_FAMILIES = frozenset(
    {"sans-serif", "serif", "monospace", "cursive", "fantasy", "system-ui", "ui-sans-serif",
     "ui-serif", "ui-monospace", "emoji", "math", "fangsong", "-apple-system",
     "blinkmacsystemfont"}
)  # fmt: skip
CSS_WIDE_KEYWORDS = frozenset({"inherit", "initial", "unset", "revert", "revert-layer"})

# The bundled faces are latin subsets; this is the range they are declared with.
BUNDLED_LATIN_UNICODE_RANGE = (
    "U+0000-00FF, U+0131, U+0152-0153, U+02BB-02BC, U+02C6, U+02DA, U+02DC, U+0304, U+0308, "
    "U+0329, U+2000-206F, U+2074, U+20AC, U+2122, U+2191, U+2193, U+2212, U+2215, U+FEFF, "
    "U+FFFD"
)

_MAX_VAR_DEPTH = 8  # how many var() indirections a font-family is followed through
_FAMILY_PLACEHOLDER = "\0FAMILY\0"  # in copied @font-face rules, where the name goes


# --- the pinned table ------------------------------------------------------------------


@dataclass(frozen=True)
class BundledFace:
    weight: int
    sha256: str  # of files/<slug>-latin-<weight>-normal.woff2


@dataclass(frozen=True)
class CanonicalFont:
    package: str  # "@fontsource/<slug>"
    version: str
    faces: tuple[BundledFace, ...]

    @property
    def slug(self) -> str:
        return self.package.split("/", 1)[1]

    def file_name(self, face: BundledFace) -> str:
        return f"{self.slug}-latin-{face.weight}-normal.woff2"

    def package_path(self, face: BundledFace) -> str:
        return f"files/{self.file_name(face)}"


def _font(slug: str, version: str, *faces: tuple[int, str]) -> CanonicalFont:
    return CanonicalFont(
        f"@fontsource/{slug}", version, tuple(BundledFace(w, sha) for w, sha in faces)
    )


# Canonical font -> the @fontsource package whose latin faces HyperFrames embeds, the weights
# it embeds (style normal only) and the SHA-256 of each face file.
CANONICAL_FONTS: dict[str, CanonicalFont] = {
    "inter": _font(
        "inter", "5.2.8",
        (400, "8909904ab6c872eb994093482a88a28eca2cd95912d7b6fecd72103b0dc07edc"),
        (700, "6f56409fd3d64bb85f7d070bce20749db2d66b6d63cec586cc22d1c761be2491"),
        (900, "d5c0ed7b8b5dde97d48b97947d740bbd8ad3ba9f2c5cc6b8280f16acba2d828e"),
    ),
    "montserrat": _font(
        "montserrat", "5.2.8",
        (400, "e66bcd2761ab6924b25ce70dafe10e57a39193c4fea1516730bd9cb5240af6c8"),
        (700, "f9d9e65b15372cebcafc3acd1e664a564c5c4b23278de4d5760de9a13c530371"),
        (900, "5b6958520638bb8609f9eacb17c4d189563efeae96d5da49f7c2043988697205"),
    ),
    "outfit": _font(
        "outfit", "5.2.8",
        (400, "71f028fd2349990b3f8aa643abe767e82e0f596be407ae66f0004ff164121bdb"),
        (700, "5d5e3734089a74707292ce8a3e186def34cd63e33879f9ac3689a8d8da9d0706"),
        (900, "090bdae2e8f2fdc962732c8f918d57c5501737c6826be989bcd770860ec19f85"),
    ),
    "nunito": _font(
        "nunito", "5.2.7",
        (400, "a5906e15ceb68f73d3b2c2076b4057c3f6ed401186d56283b45ce12944ca0735"),
        (700, "fa89300b9bbb3bd0f60d6991aa055965d98e2ccca27bf8688fe0c39cdc796846"),
        (900, "9ca32f5d8334579387361096944286df451272a557bb09bd906254a623aba99e"),
    ),
    "oswald": _font(
        "oswald", "5.2.8",
        (400, "e902b779e43944c300cf8ae5e4a1affa68cb8a823fd263dd2f479c4cdfbd213c"),
        (700, "aae665c75af89ea7cb7d8ccc8b0911ea72267442ebcd84f6e3efa041ad3b3c16"),
    ),
    "league-gothic": _font(
        "league-gothic", "5.2.8",
        (400, "44dceee4d918f5928d05ad0711d17e1edd421ce7fd7bed91d05642d8d693a8b1"),
    ),
    "archivo-black": _font(
        "archivo-black", "5.2.8",
        (400, "25f33e61cf995abd6be62931cf03bf427286259177b43618cc410ee0157cfd30"),
    ),
    "space-mono": _font(
        "space-mono", "5.2.9",
        (400, "fb4a81a2d0a893e5c38c394a7e716a1cef0b24610a0af49c96f6d529bd66bf2b"),
        (700, "2d46bd159b53f55c41167a4f1540a074649464194fd1e416f5b4694a6c0f282c"),
    ),
    "ibm-plex-mono": _font(
        "ibm-plex-mono", "5.2.7",
        (400, "08949f728dc52d528e69b1667d15c89a5686a4ee9a296ff90983985f99c380f7"),
        (700, "4f84d86cfd060f4ded334358ff8a4c81d4db2ed5addd568359d693f44a87765a"),
    ),
    "jetbrains-mono": _font(
        "jetbrains-mono", "5.2.8",
        (400, "14425ba9c695763c1547f48a206b7aa60350a33ae23de09f0407877f3fcd89eb"),
        (700, "d0d4e818808f2a0ba39b2b09d1989366f63494e295f003c7ef436697378507e8"),
    ),
    "eb-garamond": _font(
        "eb-garamond", "5.2.7",
        (400, "b63448e2680a0dbde70ebb2f3de78f6c515122835491f938e8a8595b46f29210"),
        (700, "5d0f8a497a48fd2a3611d07acc844f65c9fbb35419eafa4e1295f5f0f95f86e4"),
    ),
    "playfair-display": _font(
        "playfair-display", "5.2.8",
        (400, "1fe9ad5d8b2ebd8ecb8fbd05bed1e3fdfa52dae3f1a04e1c219918442fe9394d"),
        (700, "28453852ea165c47b5a941be00e418402e1407002ed87507f062a1e316328fe6"),
        (900, "2772c56b28bec10f310634732b0554dd6cced8ad0f723bbdf73f6abc53829ad0"),
    ),
    "source-code-pro": _font(
        "source-code-pro", "5.2.7",
        (400, "75aa8cacfd459d58d7c093f3ff0ab8745cc878dfc93c5d4cda052791aeace878"),
        (700, "34faf509fa4130733093f36100f76670ff7d93d4889746de11a62a0fe8d82084"),
    ),
    "noto-sans-jp": _font(
        "noto-sans-jp", "5.2.9",
        (400, "c3ca2d64070bf809fad5aec44a65f65ea88082e1a13faab4ef903f46a8c6f024"),
        (700, "1baabeedde8b3dfce0aa05cb784362d9dc42e7cf05abf87d83c9ffc3e8c69fb5"),
    ),
    "roboto": _font(
        "roboto", "5.2.10",
        (400, "425c0713a8176f92273d378599c7eac57de7fafabd4bd0ed457b70eb8f80d371"),
        (700, "b9d66d1708156f765ada51939bc24ed259dafa69eb631b36e443680fe9e15879"),
        (900, "7523c0cc7f5c088ab663be51e111b9429a4f15681802a7e027eb658f497a26a8"),
    ),
    "open-sans": _font(
        "open-sans", "5.2.7",
        (400, "0e44026ad31376af1b56593cd4acb4f353f8e8789c51759e18f64578e4ef296a"),
        (700, "594a622208d1dad5d1dd58aef74f212ce7132d8f0aa5bacea6cfeb86d308c17a"),
    ),
    "lato": _font(
        "lato", "5.2.7",
        (400, "918b7dc3e2e2d015c16ce08b57bcb64d2253bafc1707658f361e72865498e537"),
        (700, "c447dd7677b419db7b21dbdfc6277c7816a913ffda76fd2e52702df538de0e49"),
        (900, "08664859baab5ed98f0bf818ed77e38464ff1826dc6406d5ecbd651409afbd92"),
    ),
    "poppins": _font(
        "poppins", "5.2.7",
        (400, "7d93459d86585bfcdbb7e0376056226adb25821ee54b96236fe2123e9560929f"),
        (700, "9338e65fc077355c7a87ae0d64cc101e23b9bf8ad78ae65f0f319c857311b526"),
        (900, "17ea10196a490a8d3b8da162c7d4af9c301c5229f70af90dad6fa33eb951d83f"),
    ),
}  # fmt: skip


def _aliases(canonical: str, *names: str) -> dict[str, str]:
    return dict.fromkeys(names, canonical)


# Authored family (lower case, exact spelling) -> canonical font.
FONT_ALIASES: dict[str, str] = {
    # Each bundled family answers to its own name.
    "inter": "inter",
    "montserrat": "montserrat",
    "outfit": "outfit",
    "nunito": "nunito",
    "oswald": "oswald",
    "league gothic": "league-gothic",
    "archivo black": "archivo-black",
    "space mono": "space-mono",
    "ibm plex mono": "ibm-plex-mono",
    "jetbrains mono": "jetbrains-mono",
    "eb garamond": "eb-garamond",
    "playfair display": "playfair-display",
    "source code pro": "source-code-pro",
    "noto sans jp": "noto-sans-jp",
    "roboto": "roboto",
    "open sans": "open-sans",
    "lato": "lato",
    "poppins": "poppins",
    # Common system and commercial families -> the nearest bundled one.
    **_aliases(
        "inter",
        "helvetica neue", "helvetica", "arial", "helvetica bold", "sf pro", "sf pro display",
        "sf pro text", "sf pro rounded", "avenir", "avenir next", "lucida grande", "geneva",
        "optima", "verdana", "tahoma", "trebuchet ms", "calibri", "candara", "corbel",
        "lucida sans", "lucida sans unicode", "noto sans", "dejavu sans", "liberation sans",
    ),
    **_aliases("montserrat", "futura", "din alternate", "arial black"),
    **_aliases("league-gothic", "bebas neue"),
    **_aliases("noto-sans-jp", "noto sans japanese"),
    **_aliases("roboto", "segoe ui"),
    **_aliases(
        "jetbrains-mono",
        "courier new", "courier", "sf mono", "menlo", "monaco", "consolas", "lucida console",
        "lucida sans typewriter", "andale mono", "dejavu sans mono", "liberation mono",
    ),
    **_aliases(
        "eb-garamond",
        "garamond", "georgia", "palatino", "palatino linotype", "book antiqua", "cambria",
        "times", "times new roman", "dejavu serif", "liberation serif",
    ),
}  # fmt: skip


def canonical_font(family: str) -> CanonicalFont | None:
    """The bundled font ``family`` (as authored, quotes allowed) is served with, if any."""
    canonical = FONT_ALIASES.get(_family_key(family))
    return CANONICAL_FONTS[canonical] if canonical else None


# --- font-family values (the stylesheets are read by css_text) -------------------------


def _family_key(family: str) -> str:
    """Lower case, trimmed, one surrounding quote removed at each end."""
    text = family.strip()
    if text[:1] in "\"'":
        text = text[1:]
    if text[-1:] in "\"'":
        text = text[:-1]
    return text.strip().lower()


def split_families(value: str) -> list[str]:
    """The families of a ``font-family`` value, quotes removed (``var(…)`` stays one item)."""
    pieces: list[str] = []
    start = depth = 0
    quote = ""
    pos = 0
    while pos < len(value):
        char = value[pos]
        if char == "\\":
            pos += 2
            continue
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            pieces.append(value[start:pos])
            start = pos + 1
        pos += 1
    pieces.append(value[start:])
    families = []
    for piece in pieces:
        name = piece.strip()
        if name[:1] in "\"'":
            name = name[1:]
        if name[-1:] in "\"'":
            name = name[:-1]
        name = name.strip()
        if name:
            families.append(name)
    return families


@dataclass(frozen=True)
class _VarRef:
    name: str  # --x
    fallback: str | None  # after the first comma, untrimmed; None without a comma
    rest: str  # what follows the closing parenthesis


def _leading_var(value: str) -> _VarRef | None:
    """``var(--x[, fallback])`` at the start of ``value``, if that is how it starts."""
    text = value.strip()
    if text[:4].lower() != "var(":
        return None
    depth = 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                inner = text[4:index].strip()
                name, comma, fallback = inner.partition(",")
                name = name.strip()
                if not re.fullmatch(r"--[A-Za-z0-9_-]+", name):
                    return None
                return _VarRef(name, fallback if comma else None, text[index + 1 :])
    return None


def _is_generic(family: str) -> bool:
    return _family_key(family) in GENERIC_FAMILIES


# --- the document's surfaces -----------------------------------------------------------


@dataclass(frozen=True)
class _StyleBlock:
    content: tuple[int, int]  # the CSS text, in the HTML
    attrs: list[HtmlAttr]


@dataclass(frozen=True)
class _AttrValue:
    tag_start: int  # where the tag starts in the HTML
    attr: HtmlAttr  # value_span is within the tag text

    @property
    def span(self) -> tuple[int, int]:
        assert self.attr.value_span is not None
        start, end = self.attr.value_span
        return self.tag_start + start, self.tag_start + end

    @property
    def value(self) -> str:
        return self.attr.value or ""


@dataclass
class _Document:
    styles: list[_StyleBlock] = field(default_factory=list)
    style_attrs: list[_AttrValue] = field(default_factory=list)
    font_family_attrs: list[_AttrValue] = field(default_factory=list)
    stylesheet_links: list[list[HtmlAttr]] = field(default_factory=list)
    has_head: bool = False
    head_close: int | None = None  # where ``</head>`` starts
    body_open: int | None = None  # where ``<body`` starts
    last_stylesheet_end: int | None = None  # just after the last <style>/<link stylesheet>


def _rel_has(attrs: list[HtmlAttr], word: str) -> bool:
    return any(a.name == "rel" and word in (a.value or "").split() for a in attrs)


def _located_tokens(html: str, base: int = 0) -> Iterator[tuple[int, HtmlToken]]:
    """Tokens with their offsets. ``<noscript>`` content is read as markup, as HyperFrames'
    DOM (linkedom) reads it, so styles there count (a browser running scripts ignores them)."""
    offset = base
    in_noscript = False
    for token in tokenize_html(html):
        if token.kind == "raw" and in_noscript:
            yield from _located_tokens(token.text, offset)
        else:
            yield offset, token
        offset += len(token.text)
        in_noscript = token.kind == "start" and token.name == "noscript"


def _read_document(html: str) -> _Document:
    """Style elements, style/data-font-family attributes and the head, outside templates."""
    doc = _Document()
    template_depth = 0
    in_style = False  # the previous token opened a <style> (its text and end tag follow)
    for start, token in _located_tokens(html):
        offset = start + len(token.text)
        if token.name == "template":
            if token.kind == "start" and not token.text.endswith("/>"):
                template_depth += 1
            elif token.kind == "end" and template_depth:
                template_depth -= 1
            continue
        if template_depth:
            continue
        if token.kind == "raw":
            if in_style:
                doc.styles[-1] = _StyleBlock((start, offset), doc.styles[-1].attrs)
            continue
        if token.kind == "end":
            if token.name == "style" and in_style:
                doc.last_stylesheet_end = offset
            elif token.name == "head" and doc.head_close is None:
                doc.head_close = start
        in_style = False
        if token.kind != "start":
            continue
        attrs = parse_attrs(token)
        for attr in attrs:
            if attr.value_span is None:
                continue
            if attr.name == "style":
                doc.style_attrs.append(_AttrValue(start, attr))
            elif attr.name == "data-font-family":
                doc.font_family_attrs.append(_AttrValue(start, attr))
        if token.name == "style":
            in_style = True
            doc.styles.append(_StyleBlock((offset, offset), attrs))
            doc.last_stylesheet_end = offset  # moved past </style> when that follows
        elif token.name == "link" and _rel_has(attrs, "stylesheet"):
            doc.stylesheet_links.append(attrs)
            doc.last_stylesheet_end = offset
        elif token.name == "head":
            doc.has_head = True
        elif token.name == "body" and doc.body_open is None:
            doc.body_open = start
    return doc


def _inline_declarations(style: str) -> tuple[Declaration, ...]:
    return parse_css(style)[0]


def _custom_properties(html: str, doc: _Document) -> dict[str, str]:
    """``--name`` → value over the whole document (style elements, then attributes; last wins)."""
    found: dict[str, str] = {}
    sources = [html[s.content[0] : s.content[1]] for s in doc.styles]
    sources += [a.value for a in doc.style_attrs]
    for css in sources:
        if "--" not in css:
            continue
        for decl in parse_css(css)[0]:
            if decl.prop.startswith("--"):
                # ``--x: ;`` defines --x as blank (var() takes it, not the fallback);
                # ``--x:;`` does not.
                found[decl.prop] = " " if decl.blank else decl.value
    return found


# --- step 1: a generic first family gets Inter in front -------------------------------


def _generic_first_fix(value: str, custom: dict[str, str]) -> str | None:
    """``value`` with ``Inter, `` in front when its first family is generic; else None."""
    ref = _leading_var(value)
    if ref is not None:
        if custom.get(ref.name) or ref.fallback is None:
            return None  # a defined variable is fixed where it is defined
        fixed = _generic_first_fix(ref.fallback, custom)
        return f"var({ref.name}, {fixed}){ref.rest}" if fixed else None
    families = split_families(value)
    if not families or not _is_generic(families[0]):
        return None
    return f"{DETERMINISTIC_PRIMARY}, {value.strip()}"


def _fix_css(css: str, custom: dict[str, str]) -> str:
    edits: list[tuple[tuple[int, int], str]] = []
    for decl in parse_css(css)[0]:
        is_family = decl.prop.lower() == "font-family" and not decl.in_font_face
        if not (is_family or decl.prop.startswith("--")):
            continue
        fixed = _generic_first_fix(decl.value, custom)
        if fixed is not None:
            edits.append((decl.span, fixed))
    return _apply(css, edits)


def _apply(text: str, edits: list[tuple[tuple[int, int], str]]) -> str:
    """``text`` with each (span, replacement) applied; spans must not overlap."""
    pieces: list[str] = []
    pos = 0
    for (start, end), replacement in sorted(edits):
        pieces += [text[pos:start], replacement]
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)


def normalize_generic_first(html: str) -> str:
    """Put ``Inter, `` in front of every font-family value whose first family is generic.

    Applies to ``font-family`` declarations (not those inside ``@font-face``) and to every
    custom property value, in ``<style>`` elements and ``style=""`` attributes, and to
    ``data-font-family`` attributes. ``var(--x, fallback)``: left alone when ``--x`` is
    defined anywhere in the document, else the fallback is fixed the same way. Only the
    values that change are rewritten (a changed attribute is re-quoted with ``"``).
    """
    doc = _read_document(html)
    custom = _custom_properties(html, doc)
    edits: list[tuple[tuple[int, int], str]] = []
    for block in doc.styles:
        start, end = block.content
        css = html[start:end]
        fixed = _fix_css(css, custom)
        if fixed != css:
            edits.append(((start, end), fixed))
    for attr in doc.style_attrs:
        fixed = _fix_css(attr.value, custom)
        if fixed != attr.value:
            edits.append((attr.span, quote_attr(fixed)))
    for attr in doc.font_family_attrs:
        replaced = _generic_first_fix(attr.value, custom)
        if replaced is not None:
            edits.append((attr.span, quote_attr(replaced)))
    return _apply(html, edits)


# --- step 2: which families the document asks for -------------------------------------


@dataclass
class _Requested:
    family: str  # first spelling seen
    optional: bool  # only ever reached through an undefined variable's fallback


def _family_declarations(html: str, doc: _Document) -> Iterator[str]:
    """font-family values: style elements (document order), style attrs, data-font-family."""
    for block in doc.styles:
        css = html[block.content[0] : block.content[1]]
        if "font-family" in css.lower():
            for decl in parse_css(css)[0]:
                if decl.prop.lower() == "font-family" and not decl.in_font_face:
                    yield decl.value
    for attr in doc.style_attrs:
        for decl in _inline_declarations(attr.value):
            if decl.prop.lower() == "font-family":
                yield decl.value
    for attr in doc.font_family_attrs:
        yield attr.value


def _resolve_families(
    value: str, custom: dict[str, str], optional: bool = False, depth: int = 0
) -> list[tuple[str, bool]]:
    """The families of ``value``, a leading ``var()`` replaced by what it stands for."""
    families = split_families(value)
    ref = _leading_var(value) if depth < _MAX_VAR_DEPTH else None
    if ref is None:
        return [(family, optional) for family in families]
    defined = custom.get(ref.name) or None
    source = defined if defined is not None else ref.fallback
    if source is None:
        return [(family, optional) for family in families]
    first = _resolve_families(source, custom, defined is None or depth > 0, depth + 1)
    if not first:
        return []
    return first + [(family, optional) for family in families[1:]]


def _wanted(key: str) -> bool:
    return (
        bool(key)
        and not key.startswith("var(")
        and key not in GENERIC_FAMILIES
        and key not in CSS_WIDE_KEYWORDS
    )


def _font_face_families(html: str) -> set[str]:
    """Families any ``@font-face { font-family: X }`` in the text declares (lower case)."""
    found: set[str] = set()
    for opening in re.finditer(r"@font-face\s*\{", html, re.IGNORECASE):
        close = html.find("}", opening.end())
        body = html[opening.end() : len(html) if close < 0 else close]
        for match in re.finditer(r"font-family\s*:\s*([^;}]*)", body, re.IGNORECASE):
            key = _family_key(match.group(1))
            if key:
                found.add(key)
                break
    return found


def _requested(html: str) -> dict[str, _Requested]:
    doc = _read_document(html)
    custom = _custom_properties(html, doc)
    declared = _font_face_families(html)
    requested: dict[str, _Requested] = {}
    for value in _family_declarations(html, doc):
        for family, optional in _resolve_families(value, custom):
            key = family.lower()
            if not _wanted(key) or key in declared:
                continue
            seen = requested.get(key)
            if seen is None:
                requested[key] = _Requested(family, optional)
            else:
                seen.optional = seen.optional and optional
    return requested


def requested_families(html: str) -> list[str]:
    """The font families the document's ``font-family`` declarations name, in order.

    ``<style>`` elements first (document order), then ``style=""`` attributes, then
    ``data-font-family`` attributes; fallbacks count too. A leading ``var(--x)`` is
    replaced by ``--x``'s value (its last definition in the document; else its fallback).
    Generic families, CSS-wide keywords and ``var()`` items are dropped; names are
    de-duplicated case-insensitively (first spelling kept); families an ``@font-face``
    anywhere in the HTML text declares are left out.
    """
    return [entry.family for entry in _requested(html).values()]


# --- step 2: the faces ----------------------------------------------------------------


def _css_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3c ")
    return f'"{escaped}"'


def font_face_rule(family: str, url: str, weight: int | str) -> str:
    """One bundled face, declared as HyperFrames declares it."""
    return "\n".join(
        [
            "@font-face {",
            f"  font-family: {_css_string(family)};",
            f'  src: url("{url}") format("woff2");',
            "  font-style: normal;",
            f"  font-weight: {weight};",
            "  font-display: block;",
            f"  unicode-range: {BUNDLED_LATIN_UNICODE_RANGE};",
            "}",
        ]
    )


def vendored_face_path(font: CanonicalFont, face: BundledFace) -> Path:
    """Where the Lambda ZIP build stages the face (Lambda has no registry access):
    ``hyperframes_lambda/_vendor/fonts/<package>@<version>/files/<name>``."""
    return VENDOR_FONTS_DIR / f"{font.package}@{font.version}" / font.package_path(face)


def bundled_face_bytes(font: CanonicalFont, face: BundledFace) -> bytes:
    """The face file — the vendored copy when present, else from the pinned npm package —
    checked against its pinned SHA-256."""
    path = font.package_path(face)
    vendored = vendored_face_path(font, face)
    where = f"{font.package}@{font.version}/{path}"
    try:
        if vendored.is_file():
            where = str(vendored)
            data = vendored.read_bytes()
        else:
            data = npm_registry.read_package_file(font.package, font.version, path)
    except AssetFetchError as exc:
        if is_network_failure(exc):
            raise FontFetchUnavailableError(
                f"bundled font {font.package}@{font.version}/{path}: "
                f"the npm registry is unreachable: {exc}"
            ) from exc
        raise
    actual = hashlib.sha256(data).hexdigest()
    if actual != face.sha256:
        raise AssetIntegrityError(
            f"bundled font {where}: sha256 mismatch, expected {face.sha256}, got {actual}"
        )
    return data


def _ensure_face_file(dest: Path, font: CanonicalFont, face: BundledFace) -> None:
    if dest.is_file() and hashlib.sha256(dest.read_bytes()).hexdigest() == face.sha256:
        return
    write_atomic(dest, bundled_face_bytes(font, face))


@dataclass(frozen=True)
class _DeclaredFamily:
    family: str  # as the document spells it
    rules: tuple[str, ...]  # its @font-face rules (empty when declared by a stylesheet URL)


def _google_families(url: str) -> list[str]:
    parts = urllib.parse.urlsplit(url.strip())
    if parts.hostname != "fonts.googleapis.com" or parts.path not in ("/css", "/css2"):
        return []
    values = urllib.parse.parse_qs(parts.query).get("family", [])
    names = [entry.split(":", 1)[0].strip() for v in values for entry in v.split("|")]
    return [name for name in names if name]


def _unconditional(attrs: list[HtmlAttr]) -> bool:
    values = {a.name: (a.value or "").strip().lower() for a in attrs}
    return (
        values.get("media", "") in ("", "all")
        and values.get("type", "") in ("", "text/css")
        and not values.get("title", "")
        and "disabled" not in values
    )


def _declared_families(html: str, doc: _Document) -> dict[str, _DeclaredFamily]:
    """Families the document's own stylesheets declare: top-level @font-face rules and
    Google Fonts stylesheets (``<link>`` or ``@import``), keyed lower case."""
    declared: dict[str, _DeclaredFamily] = {}

    def add(family: str, rule: str | None = None) -> None:
        key = _family_key(family)
        if not key or key in GENERIC_FAMILIES:
            return
        seen = declared.get(key, _DeclaredFamily(family, ()))
        rules = (*seen.rules, rule) if rule is not None else seen.rules
        declared[key] = _DeclaredFamily(seen.family, rules)

    for block in doc.styles:
        if not _unconditional(block.attrs):
            continue
        css = html[block.content[0] : block.content[1]]
        decls, at_rules = parse_css(css)
        for rule in at_rules:
            if not rule.top_level:
                continue
            if rule.name == "import":
                url = import_url(rule.prelude)
                for family in _google_families(url or ""):
                    add(family)
            elif rule.name == "font-face":
                start, end = rule.span
                inside = [
                    d for d in decls if start <= d.span[0] < end and d.prop.lower() == "font-family"
                ]
                families = split_families(inside[-1].value) if inside else []
                if families:
                    add(families[0], _rename_font_face(css, rule, inside))
    for attrs in doc.stylesheet_links:
        rel = next((a.value or "" for a in attrs if a.name == "rel"), "").lower().split()
        href = next((a.value for a in attrs if a.name == "href"), None)
        if href is not None and "alternate" not in rel and _unconditional(attrs):
            for family in _google_families(href):
                add(family)
    return declared


def _rename_font_face(css: str, rule: AtRule, family_decls: list[Declaration]) -> str:
    """The rule's text with a placeholder where its font-family values are."""
    start, end = rule.span
    edits = [((d.span[0] - start, d.span[1] - start), _FAMILY_PLACEHOLDER) for d in family_decls]
    return _apply(css[start:end], edits)


def _spelling_key(family: str) -> str:
    return re.sub(r"[\s_+-]+", "", family.lower())


def _declared_alias(family: str, declared: dict[str, _DeclaredFamily]) -> _DeclaredFamily | None:
    """The one declared family spelled like ``family`` up to case, spaces, ``_``, ``+``, ``-``."""
    if _family_key(family) in declared:
        return None
    key = _spelling_key(family)
    matches = [entry for entry in declared.values() if _spelling_key(entry.family) == key]
    return matches[0] if key and len(matches) == 1 else None


@dataclass
class _Injection:
    url_dir: str
    files: dict[str, tuple[CanonicalFont, BundledFace]] = field(default_factory=dict)

    def bundled_rules(self, family: str, font: CanonicalFont) -> list[str]:
        rules = []
        for face in font.faces:
            name = font.file_name(face)
            self.files[name] = (font, face)
            rules.append(font_face_rule(family, f"{self.url_dir}/{name}", face.weight))
        return rules

    def write_files(self, out_dir: Path) -> None:
        for name, (font, face) in sorted(self.files.items()):
            _ensure_face_file(out_dir / self.url_dir / name, font, face)


def _alias_rules(family: str, declared: _DeclaredFamily, injection: _Injection) -> list[str] | None:
    """``declared``'s faces under the name ``family``: its own @font-face rules renamed, or
    (declared by a stylesheet URL) its bundled faces; None when it has neither."""
    if declared.rules:
        quoted = _css_string(family)
        return [rule.replace(_FAMILY_PLACEHOLDER, quoted) for rule in declared.rules]
    font = canonical_font(declared.family)
    return injection.bundled_rules(family, font) if font is not None else None


def _insert_style(html: str, doc: _Document, css: str) -> str:
    element = f'<style {STYLE_MARKER}="true">{css}</style>'
    if doc.last_stylesheet_end is not None:
        at = doc.last_stylesheet_end
    elif doc.head_close is not None:
        at = doc.head_close
    elif doc.body_open is not None:
        at = doc.body_open
    else:
        at = len(html)
    return html[:at] + element + html[at:]


def inject_deterministic_fonts(
    html: str, out_dir: Path, fonts_url_dir: str = DEFAULT_FONTS_URL_DIR
) -> tuple[str, list[str]]:
    """Declare bundled faces for the families the document names; return (html, warnings).

    For each family of :func:`requested_families` (those only reached through an undefined
    variable's fallback last) that has an alias in :data:`FONT_ALIASES`: one ``@font-face``
    per bundled weight, under the family name as authored, whose source is the face file
    written to ``out_dir/<fonts_url_dir>/<pkg>-latin-<weight>-normal.woff2`` (``url()``
    relative to the entry HTML, which lives in ``out_dir``). A family without an alias that
    the document declares under another spelling (``PlayfairDisplay`` vs ``Playfair
    Display``) gets that family's faces under its own name, with a warning.

    All rules go into one ``<style data-hyperframes-deterministic-fonts="true">`` right
    after the document's last ``<style>`` or ``<link rel~=stylesheet>``, ``<body>`` ones
    included (like HyperFrames, also when that one sits in ``<noscript>``), else at the end
    of ``<head>``. Nothing is inserted (and nothing fetched) without a ``<head>`` or without
    rules. Call :func:`normalize_generic_first` first.

    Returns the HTML and warnings: one per family nothing resolves (no alias, not declared
    by the document), which renders in a fallback font, and one per spelling fix-up.
    Raises AssetIntegrityError when a face file is not the pinned one, and
    FontFetchUnavailableError (retryable) when the registry cannot be reached.
    """
    url_dir = fonts_url_dir.strip("/")
    requested = _requested(html)
    ordered = sorted(requested.values(), key=lambda entry: entry.optional)
    doc = _read_document(html)
    injection = _Injection(url_dir)
    declared: dict[str, _DeclaredFamily] | None = None
    rules: list[str] = []
    unresolved: list[str] = []
    notes: list[str] = []
    for entry in ordered:
        font = canonical_font(entry.family)
        if font is not None:
            rules += injection.bundled_rules(entry.family, font)
            continue
        if declared is None:
            declared = _declared_families(html, doc)
        if _family_key(entry.family) in declared:
            continue  # a stylesheet the document links provides it
        alias = _declared_alias(entry.family, declared)
        alias_rules = _alias_rules(entry.family, alias, injection) if alias else None
        if alias is None or alias_rules is None:
            unresolved.append(entry.family)
            continue
        rules += alias_rules
        notes.append(
            f"font family {entry.family!r} is not a known family; using {alias.family!r}, "
            f"which the document declares (correct the spelling to {alias.family!r})"
        )
    warnings = notes + [
        f"font family {family!r} has no bundled face; it renders in a fallback font"
        for family in sorted(unresolved)
    ]
    css = "\n\n".join(rules).strip()
    if not css or not doc.has_head:
        return html, warnings
    injection.write_files(out_dir)
    return _insert_style(html, doc, css), warnings
