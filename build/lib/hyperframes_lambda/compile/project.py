"""Turn a project into a self-contained directory the browser can load offline.

The project is copied (minus ``node_modules``, ``.git`` …); the entry HTML gets its file
sub-compositions inlined (:mod:`subcompositions`); then every remote asset the HTML or CSS
references — scripts, stylesheets, fonts, images, media — is fetched once (with the
npm-registry fallback for CDN URLs, see :mod:`remote_assets`) and rewritten to a local file
under ``_remote/``. Google Fonts stylesheets go to :mod:`fonts` (local copies under
``_fonts/``, from Google or from ``@fontsource`` packages). The page never touches the
network during capture.

Deterministic: the same project and the same fetched bytes give a byte-identical tree
(local names are hashes of URLs, files are visited in sorted order).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import shutil
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit

from ..cache import write_atomic
from ..errors import AssetFetchError
from ..net.remote_assets import RemoteFetcher
from .deterministic_fonts import inject_deterministic_fonts, normalize_generic_first
from .document_prep import (
    add_text_rendering_rule,
    defer_body_scripts_until_fonts,
    name_inline_scripts,
    uses_shader_transitions,
)
from .google_fonts import FontLocalizer, is_google_fonts_css
from .subcompositions import inline_subcompositions_detailed

SKIPPED_DIRS = ("node_modules", ".git", ".cache", "dist", "output")
REMOTE_DIR = "_remote"
GENERATED_DIRS = (REMOTE_DIR, "_fonts")

_URL_ATTRS = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src",),
    "audio": ("src",),
    "video": ("src", "poster"),
    "source": ("src",),
    "image": ("href", "xlink:href"),
    "use": ("href", "xlink:href"),
    "iframe": ("src",),
}
# <link rel> values that only hint at a connection; nothing to fetch, nothing to render.
_HINT_RELS = frozenset({"preconnect", "dns-prefetch"})
_CSS_URL = re.compile(r"""url\(\s*(['"]?)(https?://[^'")\s]+)\1\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(['"])(https?://[^'"]+)\1""", re.IGNORECASE)
_CSS_ANY_URL = re.compile(r"""url\(\s*(['"]?)([^'")\s]+)\1\s*\)""", re.IGNORECASE)
_CSS_ANY_IMPORT = re.compile(r"""@import\s+(['"])([^'"]+)\1""", re.IGNORECASE)


@dataclass
class CompiledProject:
    root: Path
    entry: str
    remote: dict[str, str] = field(default_factory=dict)  # url -> local path under root
    # Google Fonts stylesheet url -> "direct" or "npm:@fontsource/<id>@<version>[, ...]".
    fonts: dict[str, str] = field(default_factory=dict)
    # Sub-composition files inlined into the entry, in document order (project-relative).
    subcompositions: list[str] = field(default_factory=list)
    # Things that render differently than the author may expect (unreachable images …).
    warnings: list[str] = field(default_factory=list)
    # The page composites shader transitions itself (see page.document_prep).
    shader_transitions: bool = False


def _is_remote(value: str) -> bool:
    return value.startswith(("http://", "https://", "//"))


# Where a URL names an image: optional by default (see compile_project's ``strict_assets``).
_IMAGE_URL_ATTRS = {("img", "src"), ("video", "poster"), ("image", "href"), ("image", "xlink:href")}
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".avif", ".bmp", ".ico")


def _looks_like_image(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(_IMAGE_EXTENSIONS)


class _UrlCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.image_urls: set[str] = set()
        self.css_blocks: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        rels = set((dict(attrs).get("rel") or "").lower().split()) if tag == "link" else set()
        for name, value in attrs:
            if value is None:
                continue
            wanted = name in _URL_ATTRS.get(tag, ()) and not rels & _HINT_RELS
            if wanted and _is_remote(value.strip()):
                self.urls.append(value.strip())
                if (tag, name) in _IMAGE_URL_ATTRS:
                    self.image_urls.add(value.strip())
            if name == "style":
                self.css_blocks.append(value)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.css_blocks.append(data)


def css_remote_urls(css: str) -> list[str]:
    return [m.group(2) for m in _CSS_URL.finditer(css)] + [
        m.group(2) for m in _CSS_IMPORT.finditer(css)
    ]


def local_name_for(url: str) -> str:
    """A stable, collision-free file name for a remote URL that keeps its extension."""
    parts = urlsplit(url)
    base = PurePosixPath(parts.path).name or "index"
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base)[-80:]
    return f"{hashlib.sha256(url.encode()).hexdigest()[:16]}-{base}"


class _Localizer:
    def __init__(self, root: Path, fetcher: RemoteFetcher, *, strict_assets: bool) -> None:
        self.root = root
        self.fetcher = fetcher
        self.remote: dict[str, str] = {}
        self.fonts = FontLocalizer(root, fetcher)
        self.strict_assets = strict_assets
        self.unreachable: dict[str, str] = {}  # optional url -> why it was left out
        self.warnings: list[str] = []

    def localize_optional(self, url: str) -> str | None:
        """An image: fetched like any asset, but one that cannot be fetched is left out of
        the render with a warning (as HyperFrames does), unless assets are strict."""
        absolute = "https:" + url if url.startswith("//") else url
        if self.strict_assets or absolute in self.remote:
            return self.localize(url)
        if absolute in self.unreachable:
            return None
        try:
            return self.localize(url)
        except AssetFetchError as exc:
            self.remote.pop(absolute, None)
            self.unreachable[absolute] = str(exc)
            self.warnings.append(
                f"image {absolute} could not be fetched and is left out of the render "
                f"({exc}); strictAssets makes this an error"
            )
            return None

    def localize(self, url: str) -> str:
        """Fetch ``url`` once; return its path relative to the project root."""
        absolute = "https:" + url if url.startswith("//") else url
        if absolute in self.remote:
            return self.remote[absolute]
        if is_google_fonts_css(absolute):
            relative = self.fonts.localize(absolute)
            self.remote[absolute] = relative
            return relative
        relative = f"{REMOTE_DIR}/{local_name_for(absolute)}"
        self.remote[absolute] = relative
        target = self.root / relative
        self.fetcher.fetch_to(absolute, target)  # streamed: a large video never sits in memory
        with target.open("rb") as handle:
            head = handle.read(65536)
        if relative.endswith(".css") or b"@font-face" in head[:4096] or b"url(" in head:
            css = target.read_bytes().decode("utf-8", "replace")
            write_atomic(target, self._rewrite_remote_css(css, absolute).encode())
        return relative

    def _rewrite_remote_css(self, css: str, base_url: str) -> str:
        """Inside a fetched stylesheet, resolve relative and absolute url()s and @imports."""

        def local(target: str) -> str | None:
            if target.startswith(("data:", "#")):
                return None
            path = self.localize(urljoin(base_url, target))
            return posixpath.relpath(path, REMOTE_DIR)

        def url(match: re.Match[str]) -> str:
            path = local(match.group(2))
            return match.group(0) if path is None else f'url("{path}")'

        def import_(match: re.Match[str]) -> str:
            path = local(match.group(2))
            return match.group(0) if path is None else f'@import "{path}"'

        return _CSS_ANY_IMPORT.sub(import_, _CSS_ANY_URL.sub(url, css))

    def rewrite_css(self, css: str, depth: int) -> str:
        prefix = "../" * depth

        def url(match: re.Match[str]) -> str:
            quote, target = match.group(1), match.group(2)
            if _looks_like_image(target):
                local = self.localize_optional(target)
                if local is None:
                    return match.group(0)
                return f"url({quote}{prefix}{local}{quote})"
            return f"url({quote}{prefix}{self.localize(target)}{quote})"

        def import_(match: re.Match[str]) -> str:
            quote = match.group(1)
            return f"@import {quote}{prefix}{self.localize(match.group(2))}{quote}"

        # One pass each, so a URL that is a prefix of another is never half-replaced.
        return _CSS_IMPORT.sub(import_, _CSS_URL.sub(url, css))

    def rewrite_html(self, html: str, depth: int) -> str:
        collector = _UrlCollector()
        collector.feed(html)
        collector.close()
        prefix = "../" * depth
        for url in dict.fromkeys(collector.urls):
            found = (
                self.localize_optional(url) if url in collector.image_urls else self.localize(url)
            )
            if found is None:
                continue
            local = prefix + found
            for quote in ('"', "'"):
                html = html.replace(f"{quote}{url}{quote}", f"{quote}{local}{quote}")
                escaped = url.replace("&", "&amp;")
                html = html.replace(f"{quote}{escaped}{quote}", f"{quote}{local}{quote}")
        for block in dict.fromkeys(collector.css_blocks):
            if css_remote_urls(block):
                html = html.replace(block, self.rewrite_css(block, depth))
        return html


def compile_project(
    project_dir: Path,
    out_dir: Path,
    fetcher: RemoteFetcher,
    entry_file: str = "index.html",
    *,
    strict_assets: bool = False,
) -> CompiledProject:
    """Copy ``project_dir`` into ``out_dir`` with sub-compositions inlined into the entry
    and every remote reference made local.

    A remote *image* that cannot be fetched is left out with a warning (the page shows
    what a browser shows for a broken image), as HyperFrames renders; ``strict_assets``
    makes it an error like any other asset. Scripts, styles, fonts and media always fail.
    """
    shutil.copytree(project_dir, out_dir, ignore=shutil.ignore_patterns(*SKIPPED_DIRS))
    localizer = _Localizer(out_dir, fetcher, strict_assets=strict_assets)
    entry = PurePosixPath(entry_file.replace("\\", "/"))
    inlined: list[str] = []
    shader_transitions = False
    for path in sorted(out_dir.rglob("*")):
        relative = path.relative_to(out_dir)
        if not path.is_file() or relative.parts[0] in GENERATED_DIRS:
            continue
        depth = len(relative.parts) - 1
        if path.suffix.lower() in (".html", ".htm"):
            text = path.read_text(encoding="utf-8", errors="replace")
            source = text
            if PurePosixPath(relative.as_posix()) == entry:
                # Read sub-compositions from the source project: copies in out_dir may
                # already have been rewritten by this loop.
                result = inline_subcompositions_detailed(text, project_dir, entry.as_posix())
                shader_transitions = uses_shader_transitions(result.html)
                source = normalize_generic_first(add_text_rendering_rule(result.html))
                source, font_warnings = inject_deterministic_fonts(source, path.parent)
                localizer.warnings.extend(font_warnings)
                source = name_inline_scripts(
                    defer_body_scripts_until_fonts(source), text, entry.as_posix()
                )
                inlined = list(result.sources)
            rewritten = localizer.rewrite_html(source, depth)
        elif path.suffix.lower() == ".css":
            text = path.read_text(encoding="utf-8", errors="replace")
            rewritten = localizer.rewrite_css(text, depth)
        else:
            continue
        if rewritten != text:
            path.write_text(rewritten, encoding="utf-8")
    return CompiledProject(
        root=out_dir,
        entry=entry_file,
        remote=dict(localizer.remote),
        fonts=localizer.fonts.records,
        subcompositions=inlined,
        warnings=list(localizer.warnings),
        shader_transitions=shader_transitions,
    )
