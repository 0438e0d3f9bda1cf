"""Turn a project into a self-contained directory the browser can load offline.

The project is copied (minus ``node_modules``, ``.git`` …) and every remote asset the
HTML or CSS references — scripts, stylesheets, fonts, images, media — is fetched once
(with the npm-registry fallback for CDN URLs, see :mod:`remote_assets`) and rewritten to a
local file under ``_remote/``. The page never touches the network during capture.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit

from .remote_assets import RemoteFetcher

SKIPPED_DIRS = ("node_modules", ".git", ".cache", "dist", "output")
REMOTE_DIR = "_remote"

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
_CSS_URL = re.compile(r"""url\(\s*(['"]?)(https?://[^'")\s]+)\1\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(['"])(https?://[^'"]+)\1""", re.IGNORECASE)


@dataclass
class CompiledProject:
    root: Path
    entry: str
    remote: dict[str, str] = field(default_factory=dict)  # url -> local path under root


def _is_remote(value: str) -> bool:
    return value.startswith(("http://", "https://", "//"))


class _UrlCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.css_blocks: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in _URL_ATTRS.get(tag, ()) and _is_remote(value.strip()):
                self.urls.append(value.strip())
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
    def __init__(self, root: Path, fetcher: RemoteFetcher) -> None:
        self.root = root
        self.fetcher = fetcher
        self.remote: dict[str, str] = {}

    def localize(self, url: str) -> str:
        """Fetch ``url`` once; return its path relative to the project root."""
        absolute = "https:" + url if url.startswith("//") else url
        if absolute in self.remote:
            return self.remote[absolute]
        relative = f"{REMOTE_DIR}/{local_name_for(absolute)}"
        self.remote[absolute] = relative
        data = self.fetcher.fetch(absolute)
        if relative.endswith(".css") or b"@font-face" in data[:4096] or b"url(" in data[:65536]:
            data = self._rewrite_remote_css(data.decode("utf-8", "replace"), absolute).encode()
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return relative

    def _rewrite_remote_css(self, css: str, base_url: str) -> str:
        """Inside a fetched stylesheet, resolve relative and absolute url()s too."""

        def replace(match: re.Match[str]) -> str:
            target = match.group(2)
            if target.startswith("data:"):
                return match.group(0)
            local = self.localize(urljoin(base_url, target))
            return f'url("{PurePosixPath(local).name}")'

        any_url = re.compile(r"""url\(\s*(['"]?)([^'")\s]+)\1\s*\)""", re.IGNORECASE)
        return any_url.sub(replace, css)

    def rewrite_css(self, css: str, depth: int) -> str:
        prefix = "../" * depth
        for url in css_remote_urls(css):
            css = css.replace(url, prefix + self.localize(url))
        return css

    def rewrite_html(self, html: str, depth: int) -> str:
        collector = _UrlCollector()
        collector.feed(html)
        prefix = "../" * depth
        for url in dict.fromkeys(collector.urls):
            local = prefix + self.localize(url)
            for quote in ('"', "'"):
                html = html.replace(f"{quote}{url}{quote}", f"{quote}{local}{quote}")
                escaped = url.replace("&", "&amp;")
                html = html.replace(f"{quote}{escaped}{quote}", f"{quote}{local}{quote}")
        for block in collector.css_blocks:
            for url in css_remote_urls(block):
                html = html.replace(url, prefix + self.localize(url))
        return html


def compile_project(
    project_dir: Path, out_dir: Path, fetcher: RemoteFetcher, entry_file: str = "index.html"
) -> CompiledProject:
    """Copy ``project_dir`` into ``out_dir`` with every remote reference made local."""
    shutil.copytree(project_dir, out_dir, ignore=shutil.ignore_patterns(*SKIPPED_DIRS))
    localizer = _Localizer(out_dir, fetcher)
    for path in sorted(out_dir.rglob("*")):
        if not path.is_file() or REMOTE_DIR in path.relative_to(out_dir).parts:
            continue
        depth = len(path.relative_to(out_dir).parts) - 1
        if path.suffix.lower() in (".html", ".htm"):
            text = path.read_text(encoding="utf-8", errors="replace")
            rewritten = localizer.rewrite_html(text, depth)
        elif path.suffix.lower() == ".css":
            text = path.read_text(encoding="utf-8", errors="replace")
            rewritten = localizer.rewrite_css(text, depth)
        else:
            continue
        if rewritten != text:
            path.write_text(rewritten, encoding="utf-8")
    return CompiledProject(root=out_dir, entry=entry_file, remote=dict(localizer.remote))
