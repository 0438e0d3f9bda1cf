"""Inline file sub-compositions into the entry HTML at compile time (SPEC §2).

Why: a host ``<div data-composition-id="X" data-composition-src="compositions/x.html">`` is
only a reference. The browser that captures frames must see one self-contained page where
the sub-composition's markup, styles and scripts sit inside the host, its CSS cannot leak
onto the rest of the page, and its relative asset paths still point at the right files.

We transform text instead of re-serialising a parsed DOM, so everything we do not touch
stays byte-for-byte as the author wrote it (deterministic, and easy to diff when debugging).

Rules, in short:

- The template is ``<template id="X-template">`` where X is the host's composition id; else
  ``<template id="<file stem>-template">``; else, when the file holds exactly one
  ``<template>``, that one (whatever its id). Anything outside the template is ignored.
- The template's content replaces the host's children; the host keeps its attributes, and
  ``data-composition-src`` is renamed ``data-hf-inlined-from`` (the entry-relative path).
  A host written as ``<div ... />`` is treated as an empty host.
- ``<style>`` blocks of the template are scoped to ``[data-composition-id="X"]`` (see
  :func:`scope_css`); ``style=""`` attributes need no scoping but their ``url()`` s are
  rebased.
- Relative ``src``/``href``/``poster``/``srcset``/``data`` attributes and CSS ``url()`` /
  ``@import`` are rebased from the sub-composition file's directory to the entry file's.
  Paths inside script *code* cannot be rebased: scripts should use paths relative to the
  entry file.
- ``data-composition-src`` is resolved relative to the file that contains the host; when
  no file exists there, relative to the entry file's directory. ``/x`` means project root.
- Nested hosts are inlined recursively; a cycle is an error naming the chain.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CompositionError
from .css_text import (
    AT_RULE_NAME,
    IMPORT_STRING,
    URL_FUNCTION,
    block_end,
    find_top_level,
    skip_space_and_comments,
    split_top_level,
)
from .html_text import (
    HtmlAttr,
    HtmlToken,
    attr_value,
    edit_tag,
    is_self_closing,
    matching_end,
    parse_attrs,
    quote_attr,
    tokenize_html,
)

SRC_ATTR = "data-composition-src"
ID_ATTR = "data-composition-id"
INLINED_ATTR = "data-hf-inlined-from"

# Attributes whose value is one URL, on any element.
_URL_ATTRS = frozenset({"src", "href", "poster", "data", "xlink:href", "background"})
_SRCSET_ATTRS = frozenset({"srcset", "imagesrcset"})
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


# --- paths ---------------------------------------------------------------------------


def rebase_url(value: str, from_dir: str, to_dir: str) -> str:
    """``value`` (relative to ``from_dir``) made relative to ``to_dir``.

    Both directories are POSIX paths relative to the project root ("" is the root).
    Absolute URLs, ``data:`` and other schemes, ``#fragment``, ``?query``, root-relative
    ``/x`` and protocol-relative ``//host`` values are returned unchanged.
    """
    stripped = value.strip()
    if not stripped or stripped.startswith(("#", "/", "?")) or _SCHEME.match(stripped):
        return value
    if "{{" in stripped or "${" in stripped:  # a template placeholder, not a path
        return value
    cut = min((i for i in (stripped.find("?"), stripped.find("#")) if i >= 0), default=None)
    path, tail = (stripped, "") if cut is None else (stripped[:cut], stripped[cut:])
    if not path:
        return value
    joined = posixpath.normpath(posixpath.join("/", from_dir, path))
    rebased = posixpath.relpath(joined, posixpath.join("/", to_dir))
    if path.endswith("/") and not rebased.endswith("/"):
        rebased += "/"
    return rebased + tail


def _rebase_srcset(value: str, from_dir: str, to_dir: str) -> str:
    candidates = []
    for candidate in value.split(","):
        lead = candidate[: len(candidate) - len(candidate.lstrip())]
        parts = candidate.strip().split(None, 1)
        if not parts:
            candidates.append(candidate)
            continue
        url = rebase_url(parts[0], from_dir, to_dir)
        candidates.append(lead + " ".join([url, *parts[1:]]))
    return ",".join(candidates)


def rebase_css_urls(css: str, from_dir: str, to_dir: str) -> str:
    """Rebase every relative ``url()`` and ``@import "…"`` of ``css``."""
    if from_dir == to_dir:
        return css

    def url(match: re.Match[str]) -> str:
        for group, quote in ((2, '"'), (3, "'"), (4, "")):
            target = match.group(group)
            if target is not None:
                rebased = rebase_url(target, from_dir, to_dir)
                return f"{match.group(1)}{quote}{rebased}{quote}{match.group(5)}"
        return match.group(0)

    def import_(match: re.Match[str]) -> str:
        rebased = rebase_url(match.group(3), from_dir, to_dir)
        return f"{match.group(1)}{match.group(2)}{rebased}{match.group(2)}"

    return IMPORT_STRING.sub(import_, URL_FUNCTION.sub(url, css))


# --- CSS scoping ---------------------------------------------------------------------

# At-rules whose block holds style rules: scope inside. Others (@keyframes, @font-face,
# @page, @property, @counter-style, @font-feature-values …) stay as written.
_NESTING_AT_RULES = frozenset(
    {"media", "supports", "container", "layer", "document", "-moz-document", "scope",
     "starting-style"}
)  # fmt: skip
_ROOTISH = re.compile(r"(?::root|:host|html|body)(?![\w-])", re.IGNORECASE)
_ROOTISH_JOIN = re.compile(r"\s*>?\s*(?=(?::root|:host|html|body)(?![\w-]))", re.IGNORECASE)


def host_selector(composition_id: str) -> str:
    """The attribute selector matching the host of ``composition_id``."""
    escaped = composition_id.replace("\\", "\\\\").replace('"', '\\"')
    return f'[{ID_ATTR}="{escaped}"]'


@dataclass(frozen=True)
class _Scope:
    host: str  # the host's attribute selector
    already: re.Pattern[str]  # a selector that already starts with the host's

    @property
    def box(self) -> str:
        """What "the composition itself" (``:root``, ``body``, its own id) styles: its
        inner root once inlined, or the host when there is none."""
        return f"{self.host}:not(:has([{INNER_ROOT_ATTR}])), {self.host} > [{INNER_ROOT_ATTR}]"


def _make_scope(composition_id: str) -> _Scope:
    quoted = re.escape(composition_id)
    already = re.compile(rf"""\[\s*{re.escape(ID_ATTR)}\s*=\s*(["']?){quoted}\1\s*\]""")
    return _Scope(host_selector(composition_id), already)


def _scope_selector(selector: str, scope: _Scope) -> str:
    if not selector:
        return selector
    own = scope.already.match(selector)
    if own is not None:
        return scope.box if own.end() == len(selector) else selector
    rest, matched = selector, False
    while (match := _ROOTISH.match(rest)) is not None:
        matched = True
        rest = rest[match.end() :]
        join = _ROOTISH_JOIN.match(rest)
        if join is None:
            break
        rest = rest[join.end() :]
    if matched:
        return scope.host + rest if rest.strip() else scope.box
    return f"{scope.host} {selector}"


def _scope_selector_list(prelude: str, scope: _Scope) -> str:
    scoped = []
    for part in split_top_level(prelude, ","):
        core = part.strip()
        lead = part[: len(part) - len(part.lstrip())]
        trail = part[len(part.rstrip()) :]
        scoped.append(lead + _scope_selector(core, scope) + trail)
    return ",".join(scoped)


def _scope_block(css: str, scope: _Scope) -> str:
    out: list[str] = []
    pos = 0
    while pos < len(css):
        start = skip_space_and_comments(css, pos)
        out.append(css[pos:start])
        pos = start
        if pos >= len(css):
            break
        stop = find_top_level(css, pos, "{;}")
        if stop >= len(css) or css[stop] in ";}":
            # A statement (@import, @charset, @layer a, b;), a stray "}" or trailing junk.
            end = min(stop + 1, len(css))
            out.append(css[pos:end])
            pos = end
            continue
        prelude = css[pos:stop]
        close = block_end(css, stop)
        body = css[stop + 1 : close]
        tail = "}" if close < len(css) else ""
        if prelude.startswith("@"):
            name = AT_RULE_NAME.match(prelude)
            if name and name.group(1).lower() in _NESTING_AT_RULES:
                out.append(prelude + "{" + _scope_block(body, scope) + tail)
            else:
                out.append(css[pos : close + 1])
        else:
            out.append(_scope_selector_list(prelude, scope) + "{" + body + tail)
        pos = close + 1
    return "".join(out)


def scope_css(css: str, composition_id: str) -> str:
    """Prefix every style rule selector of ``css`` with the host of ``composition_id``.

    Selector lists are scoped item by item; a leading ``:root``, ``:host``, ``html`` or
    ``body`` becomes the host itself; rules inside ``@media``/``@supports``/``@container``/
    ``@layer``/``@scope`` are scoped recursively; ``@keyframes``, ``@font-face`` and other
    at-rules are left as written (keyframe and font names stay global). Comments, strings
    and declarations are never modified. Selectors that already start with the host's
    attribute selector are left alone. The host element itself is not matched by scoped
    selectors other than the ``:root``/``html``/``body`` forms.
    """
    return _scope_block(css, _make_scope(composition_id))


# --- inlining ------------------------------------------------------------------------


@dataclass
class _Inliner:
    root: Path
    entry_dir: str
    inlined: list[str] = field(default_factory=list)
    scripts: list[_SubScript] = field(default_factory=list)

    def expand(self, text: str, file: str, scope: str | None, chain: tuple[str, ...]) -> str:
        """``text`` (from project file ``file``) with hosts inlined and paths rebased."""
        from_dir = posixpath.dirname(file)
        rebase = from_dir != self.entry_dir
        tokens = tokenize_html(text)
        out: list[str] = []
        index = 0
        in_style = False
        while index < len(tokens):
            token = tokens[index]
            index += 1
            if token.kind == "raw":
                css = token.text
                if in_style and scope is not None:
                    css = scope_css(css, scope)
                if in_style and rebase:
                    css = rebase_css_urls(css, from_dir, self.entry_dir)
                out.append(css)
                continue
            in_style = token.kind == "start" and token.name == "style"
            if token.kind != "start":
                out.append(token.text)
                continue
            attrs = parse_attrs(token)
            if token.name == "script" and scope is not None:
                taken = self._take_script(tokens, index - 1, attrs, scope, from_dir, rebase)
                if taken is not None:
                    index = taken
                    continue
            src = attr_value(attrs, SRC_ATTR)
            if src is None:
                out.append(self._rebase_tag(token, attrs, from_dir) if rebase else token.text)
                continue
            # A sub-composition host. Without an id of its own, it takes the one of the
            # sub-composition's root element (as HyperFrames does).
            authored_id = attr_value(attrs, ID_ATTR)
            target = self._resolve(src, file, authored_id or src)
            if target in chain:
                cycle = " -> ".join((*chain, target))
                at = f"host {authored_id!r}" if authored_id else repr(src)
                raise CompositionError(f"sub-composition cycle at {at}: {cycle}")
            inner = self._template(target, authored_id)
            host_id = authored_id or _first_composition_id(inner)
            if not host_id:
                raise CompositionError(
                    f"<{token.name} {SRC_ATTR}={src!r}> in {file} has no {ID_ATTR}, and "
                    f"{target} has no element with one: cannot tell which composition it is"
                )
            inner = _flatten_inner_root(inner, host_id, keep_id=not authored_id)
            self.inlined.append(target)
            expanded = self.expand(inner, target, host_id, (*chain, target))
            out.append(self._host_tag(token, attrs, from_dir, rebase, target, sized_from=inner))
            out.append(expanded)
            if is_self_closing(token):
                out.append(f"</{token.name}>")
                continue
            close = matching_end(tokens, index - 1)
            if close is None:
                raise CompositionError(
                    f"sub-composition host {host_id!r} in {file}: <{token.name}> is never closed"
                )
            out.append(tokens[close].text)
            index = close + 1
        return "".join(out)

    def _rebase_tag(self, token: HtmlToken, attrs: list[HtmlAttr], from_dir: str) -> str:
        edits: list[tuple[tuple[int, int], str]] = []
        for attr in attrs:
            if attr.value is None or attr.value_span is None:
                continue
            new: str | None = None
            if attr.name in _URL_ATTRS:
                new = rebase_url(attr.value, from_dir, self.entry_dir)
            elif attr.name in _SRCSET_ATTRS:
                new = _rebase_srcset(attr.value, from_dir, self.entry_dir)
            elif attr.name == "style":
                new = rebase_css_urls(attr.value, from_dir, self.entry_dir)
            if new is not None and new != attr.value:
                edits.append((attr.value_span, quote_attr(new)))
        return edit_tag(token.text, edits)

    def _take_script(
        self,
        tokens: list[HtmlToken],
        index: int,
        attrs: list[HtmlAttr],
        composition_id: str,
        from_dir: str,
        rebase: bool,
    ) -> int | None:
        """Move a sub-composition's executable ``<script>`` (at ``tokens[index]``) out of
        the markup into :attr:`scripts`; return the index after it, or None to keep it
        in place (data blocks such as ``type="text/template"``)."""
        kind = _script_kind(attr_value(attrs, "type"))
        if kind is None:
            return None
        close = matching_end(tokens, index)
        end = len(tokens) if close is None else close
        body = "".join(t.text for t in tokens[index + 1 : end])
        src = attr_value(attrs, "src")
        if src is not None and rebase:
            src = rebase_url(src, from_dir, self.entry_dir)
        self.scripts.append(_SubScript(composition_id, kind, src, body))
        return end + 1

    def _host_tag(
        self,
        token: HtmlToken,
        attrs: list[HtmlAttr],
        from_dir: str,
        rebase: bool,
        target: str,
        sized_from: str = "",
    ) -> str:
        """The host's start tag: paths rebased, ``data-composition-src`` renamed, the
        composition's id and size given to it when it has none."""
        text = self._rebase_tag(token, attrs, from_dir) if rebase else token.text
        # Re-parse: rebasing may have moved spans.
        edited = HtmlToken("start", text, token.name)
        edits: list[tuple[tuple[int, int], str]] = []
        for attr in parse_attrs(edited):
            if attr.name == SRC_ATTR:
                edits.append((attr.name_span, INLINED_ATTR))
                if attr.value_span is not None:
                    relative = posixpath.relpath("/" + target, posixpath.join("/", self.entry_dir))
                    edits.append((attr.value_span, quote_attr(relative)))
        text = edit_tag(text, edits)
        if is_self_closing(edited):
            text = text[:-2].rstrip() + ">"
        return _size_host(text, sized_from)

    def _resolve(self, src: str, file: str, host_id: str) -> str:
        """The project-relative path of the file a host's ``data-composition-src`` names."""
        value = src.strip()
        if not value or _SCHEME.match(value) or value.startswith("//"):
            raise CompositionError(
                f"sub-composition {host_id!r} in {file}: {SRC_ATTR}={src!r} must name a file "
                "of the project"
            )
        path = re.split(r"[?#]", value, maxsplit=1)[0]
        if path.startswith("/"):
            bases = [""]
        else:
            bases = list(dict.fromkeys([posixpath.dirname(file), self.entry_dir]))
        tried: list[str] = []
        for base in bases:
            relative = posixpath.normpath(posixpath.join(base, path.lstrip("/")))
            if relative == ".." or relative.startswith("../"):
                continue  # outside the project
            candidate = relative
            tried.append(candidate)
            if (self.root / candidate).is_file():
                return candidate
        looked = ", ".join(tried) if tried else "(outside the project)"
        raise CompositionError(
            f"sub-composition {host_id!r} in {file}: file {src!r} not found (looked for {looked})"
        )

    def _template(self, target: str, host_id: str | None) -> str:
        """The content of the template for ``host_id`` in project file ``target``; a file
        without any ``<template>`` contributes its body (and its head's styles and
        scripts), or all of it when it is a bare fragment."""
        try:
            text = (self.root / target).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CompositionError(
                f"sub-composition {host_id!r}: cannot read {target}: {exc}"
            ) from exc
        tokens = tokenize_html(text)
        templates: list[tuple[str | None, int, int]] = []
        for index, token in enumerate(tokens):
            if token.kind == "start" and token.name == "template":
                close = matching_end(tokens, index)
                end = len(tokens) if close is None else close
                templates.append((attr_value(parse_attrs(token), "id"), index, end))
        if not templates:
            return _document_content(tokens)
        stem = posixpath.splitext(posixpath.basename(target))[0]
        chosen = None
        wanted_ids = [f"{host_id}-template"] if host_id else []
        for wanted in (*wanted_ids, f"{stem}-template"):
            chosen = next((t for t in templates if t[0] == wanted), None)
            if chosen is not None:
                break
        if chosen is None and (len(templates) == 1 or not host_id):
            chosen = templates[0]
        if chosen is None:
            found = ", ".join(repr(t[0]) for t in templates) or "none"
            raise CompositionError(
                f'sub-composition {host_id!r}: {target} has no <template id="{host_id}-template">'
                f" (templates found: {found})"
            )
        _, start, end = chosen
        return "".join(token.text for token in tokens[start + 1 : end])


@dataclass(frozen=True)
class InlineResult:
    """The entry HTML with sub-compositions inlined, and the files inlined, in order."""

    html: str
    sources: tuple[str, ...]


def inline_subcompositions_detailed(
    html: str, project_dir: Path, entry_file: str = "index.html"
) -> InlineResult:
    """Like :func:`inline_subcompositions`, also naming the files that were inlined."""
    entry = posixpath.normpath(entry_file.replace("\\", "/")).lstrip("/")
    inliner = _Inliner(Path(project_dir), posixpath.dirname(entry))
    result = inliner.expand(html, entry, None, (entry,))
    if inliner.scripts:
        result = _insert_before_body_end(result, _emit_scripts(inliner.scripts, result))
    return InlineResult(result, tuple(inliner.inlined))


def inline_subcompositions(html: str, project_dir: Path, entry_file: str = "index.html") -> str:
    """``html`` (the entry file ``entry_file`` of ``project_dir``) with every host inlined.

    Raises CompositionError for a missing file, a missing template, a host without an id
    or never closed, and for cycles (naming the chain of files).
    """
    return inline_subcompositions_detailed(html, project_dir, entry_file).html


# --- sub-composition roots, documents without a template, and scripts -----------------

# Attributes of a sub-composition's own root element that belong to its host once inlined:
# timing and identity live on the host, so the runtime sees one composition, not two.
_INNER_ROOT_DROPPED = (
    "data-start", "data-duration", "data-end", "data-track-index", "data-track",
    "data-composition-src",
)  # fmt: skip
INNER_ROOT_ATTR = "data-hf-inner-root"
_JS_TYPES = frozenset(
    {"", "text/javascript", "application/javascript", "application/x-javascript",
     "text/ecmascript", "application/ecmascript", "module"}
)  # fmt: skip


@dataclass(frozen=True)
class _SubScript:
    """An executable script of a sub-composition, moved to the end of the entry's body."""

    composition_id: str
    kind: str  # "classic" | "module"
    src: str | None
    body: str


def _script_kind(type_attr: str | None) -> str | None:
    value = (type_attr or "").strip().lower()
    if value not in _JS_TYPES:
        return None
    return "module" if value == "module" else "classic"


def _first_composition_id(content: str) -> str | None:
    for token in tokenize_html(content):
        if token.kind == "start":
            attrs = parse_attrs(token)
            value = attr_value(attrs, ID_ATTR)
            if value and attr_value(attrs, SRC_ATTR) is None:
                return value
    return None


def _flatten_inner_root(content: str, host_id: str, *, keep_id: bool) -> str:
    """Mark the sub-composition's root element as the host's inner root.

    Its timing attributes (and its composition id, unless the host had none and took it)
    go: the host carries them. It is sized to its ``data-width``/``data-height``.
    """
    tokens = tokenize_html(content)
    candidates = [  # elements with a composition id that are not nested hosts
        i
        for i, t in enumerate(tokens)
        if t.kind == "start"
        and attr_value(parse_attrs(t), ID_ATTR)
        and attr_value(parse_attrs(t), SRC_ATTR) is None
    ]
    chosen = next(
        (i for i in candidates if attr_value(parse_attrs(tokens[i]), ID_ATTR) == host_id),
        candidates[0] if candidates else None,
    )
    if chosen is None:
        return content
    tag = tokens[chosen]
    attrs = parse_attrs(tag)
    dropped = set(_INNER_ROOT_DROPPED) | (set() if keep_id else {ID_ATTR})
    edits: list[tuple[tuple[int, int], str]] = []
    for attr in attrs:
        if attr.name in dropped:
            end = attr.value_span[1] if attr.value_span else attr.name_span[1]
            edits.append(((attr.name_span[0], end), ""))
    size = _size_style(attr_value(attrs, "data-width"), attr_value(attrs, "data-height"))
    style = attr_value(attrs, "style")
    style_attr = next((a for a in attrs if a.name == "style"), None)
    if style_attr is not None and style_attr.value_span is not None:
        joined = (style or "").rstrip().rstrip(";")
        edits.append((style_attr.value_span, quote_attr(f"{joined};{size}" if joined else size)))
        extra = f' {INNER_ROOT_ATTR}="true"'
    else:
        extra = f' {INNER_ROOT_ATTR}="true" style="{size}"'
    text = edit_tag(tag.text, edits)
    closer = "/>" if text.endswith("/>") else ">"
    text = text[: -len(closer)].rstrip() + extra + closer
    return (
        "".join(t.text for t in tokens[:chosen])
        + text
        + "".join(t.text for t in tokens[chosen + 1 :])
    )


def _size_style(width: str | None, height: str | None) -> str:
    def dim(value: str | None) -> str:
        try:
            return f"{float(value):g}px" if value is not None else "100%"
        except ValueError:
            return "100%"

    return f"width:{dim(width)};height:{dim(height)}"


def _size_host(tag: str, inner: str) -> str:
    """Give a host without a size of its own its composition's size (style and data-*)."""
    token = HtmlToken("start", tag, "")
    attrs = parse_attrs(token)
    root = next(
        (t for t in tokenize_html(inner) if t.kind == "start" and INNER_ROOT_ATTR in t.text), None
    )
    root_attrs = parse_attrs(root) if root else []
    additions: list[str] = []
    for name in ("data-width", "data-height"):
        value = attr_value(root_attrs, name)
        if attr_value(attrs, name) is None and value is not None:
            additions.append(f"{name}={quote_attr(value)}")
    width = attr_value(attrs, "data-width") or attr_value(root_attrs, "data-width")
    height = attr_value(attrs, "data-height") or attr_value(root_attrs, "data-height")
    style = attr_value(attrs, "style") or ""
    parts = []
    if width and "width" not in style:
        parts.append(_size_style(width, None).split(";")[0])
    if height and "height" not in style:
        parts.append(_size_style(None, height).split(";")[1])
    edits: list[tuple[tuple[int, int], str]] = []
    if parts:
        style_attr = next((a for a in attrs if a.name == "style"), None)
        joined = style.rstrip().rstrip(";")
        value = ";".join([joined, *parts]) if joined else ";".join(parts)
        if style_attr is not None and style_attr.value_span is not None:
            edits.append((style_attr.value_span, quote_attr(value)))
        else:
            additions.append(f"style={quote_attr(value)}")
    text = edit_tag(tag, edits)
    if additions:
        closer = "/>" if text.endswith("/>") else ">"
        text = text[: -len(closer)].rstrip() + " " + " ".join(additions) + closer
    return text


def _document_content(tokens: list[HtmlToken]) -> str:
    """A sub-composition file without ``<template>``: its body's content, after its head's
    styles, stylesheets and scripts; a bare fragment as it is."""
    body = next((i for i, t in enumerate(tokens) if t.kind == "start" and t.name == "body"), None)
    if body is None:
        return "".join(t.text for t in tokens)
    close = matching_end(tokens, body)
    end = len(tokens) if close is None else close
    head_parts: list[str] = []
    index = 0
    while index < body:
        token = tokens[index]
        if token.kind == "start" and token.name in ("style", "script"):
            close_at = matching_end(tokens, index)
            stop = body if close_at is None else close_at
            head_parts.append("".join(t.text for t in tokens[index : stop + 1]))
            index = stop + 1
            continue
        if token.kind == "start" and token.name == "link":
            rel = (attr_value(parse_attrs(token), "rel") or "").lower().split()
            if "stylesheet" in rel:
                head_parts.append(token.text)
        index += 1
    return "".join(head_parts) + "".join(t.text for t in tokens[body + 1 : end])


_SCRIPT_SRC = re.compile(r"""<script\b[^>]*\bsrc\s*=\s*(["'])(.*?)\1""", re.IGNORECASE)


def _emit_scripts(scripts: list[_SubScript], document: str) -> str:
    """The sub-compositions' scripts, in order, after the entry's own: external scripts
    once each (absolute URLs first), inline classic scripts each in a scoped function."""
    from ..page.scoping import scope_helper_source, wrap_scoped_script

    present = {m.group(2) for m in _SCRIPT_SRC.finditer(document)}
    hoisted: list[str] = []
    ordered: list[str] = []
    for script in scripts:
        if script.src is not None:
            if script.src in present:
                continue
            present.add(script.src)
            module = ' type="module"' if script.kind == "module" else ""
            tag = f"<script{module} src={quote_attr(script.src)}></script>"
            (
                hoisted if _SCHEME.match(script.src) or script.src.startswith("//") else ordered
            ).append(tag)
        elif script.kind == "module":
            ordered.append(f'<script type="module">{script.body}</script>')
        else:
            ordered.append(
                f"<script>{wrap_scoped_script(script.composition_id, script.body)}</script>"
            )
    helper = f"<script>{scope_helper_source()}</script>"
    return "\n" + "\n".join([*hoisted, helper, *ordered]) + "\n"


_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def _insert_before_body_end(html: str, snippet: str) -> str:
    matches = list(_BODY_END.finditer(html))
    if not matches:
        return html + snippet
    at = matches[-1].start()
    return html[:at] + snippet + html[at:]


__all__: list[str] = [
    "INLINED_ATTR",
    "InlineResult",
    "host_selector",
    "inline_subcompositions",
    "inline_subcompositions_detailed",
    "rebase_css_urls",
    "rebase_url",
    "scope_css",
]
