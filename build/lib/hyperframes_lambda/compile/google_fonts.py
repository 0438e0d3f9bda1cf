"""Make Google Fonts stylesheets local and deterministic (SPEC §2, §5: "embed fonts").

Why: compositions load web fonts with ``<link href="https://fonts.googleapis.com/css2?...">``.
Chunk workers never use the network, and Google is not always reachable at plan time either
(locked-down hosts, this build machine). The same font files are published on npm as
``@fontsource/<family>`` packages, which the registry serves with a verified hash.

Resolution, per stylesheet URL:

1. The URL itself, through :class:`RemoteFetcher` (disk cache first). Its ``url()`` s point
   at fonts.gstatic.com; those files are fetched too. All or nothing: if any file fails we
   fall through to npm.
2. npm: for each family ``@fontsource/<family-lowercase-hyphenated>`` at its latest
   version; for each requested weight/style its ``<weight>.css`` / ``<weight>-italic.css``
   (one ``@font-face`` per unicode subset). Only the woff2 sources are kept; the files are
   copied under ``_fonts/<id>-<version>/`` and the resolved version is written into the
   stylesheet's header comment.

A css2 request for a weight/style the family does not have fails (Google answers HTTP 400
for it too); the legacy ``css?family=`` API is lenient and keeps the variants that exist.
A variable-axis range (``wght@100..900``) selects every static weight in the range.

Errors: a family found nowhere is :class:`FontFetchFailedError` (terminal); the registry
being unreachable (connection errors, timeouts, HTTP 5xx/429) is
:class:`FontFetchUnavailableError` (retryable).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import urllib.error
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AssetFetchError, FontFetchFailedError, FontFetchUnavailableError
from ..net import npm_registry
from ..net.remote_assets import RemoteFetcher
from ..net.safe_http import is_network_failure

FONTS_DIR = "_fonts"
FONTSOURCE_SCOPE = "@fontsource"
_CSS_HOSTS = frozenset({"fonts.googleapis.com", "fonts.bunny.net"})  # bunny mirrors Google
_CSS_PATHS = frozenset({"/css", "/css2"})
_FAMILY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ]*$")
_LEGACY_NAMED = {
    "": (400, "normal"),
    "r": (400, "normal"),
    "regular": (400, "normal"),
    "i": (400, "italic"),
    "italic": (400, "italic"),
    "b": (700, "normal"),
    "bold": (700, "normal"),
    "bi": (700, "italic"),
    "bolditalic": (700, "italic"),
}
_LEGACY_VARIANT = re.compile(r"^(\d{3})(i|italic)?$")
_VARIANT_CSS = re.compile(r"^(\d{3})(-italic)?\.css$")
_FONT_FACE = re.compile(r"(/\*[^*]*\*/\s*)?@font-face\s*\{([^}]*)\}", re.IGNORECASE)
_SRC_DECL = re.compile(r"\bsrc\s*:[^;}]*;?", re.IGNORECASE)
_WOFF2_SRC = re.compile(
    r"""url\(\s*['"]?([^'")\s]+)['"]?\s*\)\s*format\(\s*['"]?woff2['"]?\s*\)""", re.IGNORECASE
)
_ANY_URL = re.compile(r"""url\(\s*(['"]?)([^'")\s]+)\1\s*\)""", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class FontVariant:
    """One style and an inclusive weight range (a single weight when min == max)."""

    style: str  # "normal" | "italic"
    weight_min: int
    weight_max: int

    def describe(self) -> str:
        weight = (
            str(self.weight_min)
            if self.weight_min == self.weight_max
            else f"{self.weight_min}..{self.weight_max}"
        )
        return f"{weight} {self.style}"


@dataclass(frozen=True)
class FamilyRequest:
    """A family of a Google Fonts URL and the variants it asks for."""

    family: str
    variants: tuple[FontVariant, ...]
    strict: bool  # css2: a missing variant is an error; legacy css: skipped


@dataclass(frozen=True)
class ResolvedFont:
    """How one stylesheet URL was made local."""

    url: str
    css_path: str  # relative to the compiled root
    source: str  # "direct" or "npm:@fontsource/<id>@<version>[, ...]"
    files: tuple[str, ...]  # font files written, relative to the compiled root


def is_google_fonts_css(url: str) -> bool:
    """True for a Google Fonts (or Bunny Fonts) stylesheet URL: ``/css`` or ``/css2``."""
    parts = urllib.parse.urlsplit("https:" + url if url.startswith("//") else url)
    return (
        parts.scheme in ("http", "https")
        and (parts.hostname or "").lower() in _CSS_HOSTS
        and parts.path.rstrip("/") in _CSS_PATHS
    )


def fontsource_package(family: str) -> str:
    """``"Roboto Mono"`` → ``"@fontsource/roboto-mono"``."""
    return f"{FONTSOURCE_SCOPE}/{'-'.join(family.lower().split())}"


def _comment_safe(text: str) -> str:
    return text.replace("*/", "*%2F")


def _fail(url: str, message: str) -> FontFetchFailedError:
    return FontFetchFailedError(f"{message} (stylesheet {url})")


def _check_family(url: str, family: str) -> str:
    family = " ".join(family.split())
    if not _FAMILY.match(family):
        raise _fail(url, f"font family {family!r} is not a valid Google Fonts family name")
    return family


def _weight(url: str, family: str, text: str) -> tuple[int, int]:
    low, sep, high = text.partition("..")
    try:
        lo, hi = int(float(low)), int(float(high if sep else low))
    except ValueError:
        raise _fail(url, f"font family {family!r}: bad weight {text!r}") from None
    return min(lo, hi), max(lo, hi)


def _parse_css2(url: str, value: str) -> FamilyRequest:
    name, _, spec = value.partition(":")
    family = _check_family(url, name)
    if not spec:
        return FamilyRequest(family, (FontVariant("normal", 400, 400),), strict=True)
    axes_text, at, tuples_text = spec.partition("@")
    axes = [axis.strip() for axis in axes_text.split(",")]
    if not at or not tuples_text:
        raise _fail(url, f"font family {family!r}: axis spec {spec!r} has no '@values'")
    variants: set[FontVariant] = set()
    for item in tuples_text.split(";"):
        values = item.split(",")
        if len(values) != len(axes):
            raise _fail(url, f"font family {family!r}: {item!r} does not match axes {axes_text!r}")
        by_axis = dict(zip(axes, values, strict=True))
        style = "italic" if by_axis.get("ital", "0").strip() == "1" else "normal"
        lo, hi = _weight(url, family, by_axis.get("wght", "400").strip())
        variants.add(FontVariant(style, lo, hi))
    return FamilyRequest(family, tuple(sorted(variants)), strict=True)


def _parse_legacy(url: str, value: str) -> list[FamilyRequest]:
    requests = []
    for entry in value.split("|"):
        if not entry.strip():
            continue
        name, _, rest = entry.partition(":")
        family = _check_family(url, name)
        variants: set[FontVariant] = set()
        for raw in rest.split(":", 1)[0].split(","):
            token = raw.strip().lower()
            named = _LEGACY_NAMED.get(token)
            match = _LEGACY_VARIANT.match(token)
            if named is not None:
                weight, style = named
            elif match is not None:
                weight, style = int(match[1]), "italic" if match[2] else "normal"
            else:
                raise _fail(url, f"font family {family!r}: unknown variant {token!r}")
            variants.add(FontVariant(style, weight, weight))
        requests.append(FamilyRequest(family, tuple(sorted(variants)), strict=False))
    return requests


def parse_google_fonts_url(url: str) -> list[FamilyRequest]:
    """The families and variants a Google Fonts stylesheet URL asks for, in URL order."""
    if not is_google_fonts_css(url):
        raise _fail(url, "not a Google Fonts stylesheet URL")
    parts = urllib.parse.urlsplit(url)
    families = [v for k, v in urllib.parse.parse_qsl(parts.query) if k == "family"]
    if not families:
        raise _fail(url, "no family= parameter")
    if parts.path.rstrip("/") == "/css2":
        return [_parse_css2(url, value) for value in families]
    return [request for value in families for request in _parse_legacy(url, value)]


@dataclass
class _Output:
    """Files of one resolution, kept in memory until it fully succeeded."""

    files: dict[str, bytes] = field(default_factory=dict)  # path under FONTS_DIR -> bytes


class FontLocalizer:
    """Turns Google Fonts stylesheet URLs into local stylesheets under ``root/_fonts``."""

    def __init__(self, root: Path, fetcher: RemoteFetcher) -> None:
        self.root = root
        self.fetcher = fetcher
        self.resolved: dict[str, ResolvedFont] = {}

    @property
    def records(self) -> dict[str, str]:
        """URL → where its fonts came from (``direct`` or ``npm:@fontsource/…@ver``)."""
        return {url: font.source for url, font in sorted(self.resolved.items())}

    def localize(self, url: str) -> str:
        """Resolve ``url`` once; return the local stylesheet's path relative to ``root``."""
        url = "https:" + url if url.startswith("//") else url
        known = self.resolved.get(url)
        if known is not None:
            return known.css_path
        requests = parse_google_fonts_url(url)  # validate before any network
        slug = "-".join("-".join(r.family.lower().split()) for r in requests)[:60]
        css_name = f"{hashlib.sha256(url.encode()).hexdigest()[:16]}-{slug}.css"
        try:
            css, output = self._from_url(url)
            source = "direct"
        except AssetFetchError as exc:
            google_error = str(exc)
            css, output, source = self._from_fontsource(url, requests, google_error)
        output.files[css_name] = css.encode()
        for relative, data in sorted(output.files.items()):
            target = self.root / FONTS_DIR / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        css_path = f"{FONTS_DIR}/{css_name}"
        files = tuple(f"{FONTS_DIR}/{name}" for name in sorted(output.files) if name != css_name)
        self.resolved[url] = ResolvedFont(url, css_path, source, files)
        return css_path

    # --- 1. the URL itself ---------------------------------------------------------

    def _from_url(self, url: str) -> tuple[str, _Output]:
        css = self.fetcher.fetch(url).decode("utf-8", "replace")
        if "@font-face" not in css:
            raise AssetFetchError(f"{url} returned no @font-face rules")
        output = _Output()

        def replace(match: re.Match[str]) -> str:
            target = urllib.parse.urljoin(url, match.group(2))
            if target.startswith("data:"):
                return match.group(0)
            base = re.sub(r"[^A-Za-z0-9._-]", "_", posixpath.basename(target.split("?")[0]))
            name = f"google/{hashlib.sha256(target.encode()).hexdigest()[:16]}-{base[-60:]}"
            output.files[name] = self.fetcher.fetch(target)
            return f'url("{name}")'

        rewritten = _ANY_URL.sub(replace, css)
        header = f"/* {_comment_safe(url)}\n   fetched directly (RemoteFetcher) */\n"
        return header + rewritten, output

    # --- 2. npm @fontsource packages -----------------------------------------------

    def _from_fontsource(
        self, url: str, requests: list[FamilyRequest], google_error: str
    ) -> tuple[str, _Output, str]:
        output = _Output()
        blocks: list[str] = []
        sources: list[str] = []
        for request in requests:
            css, source = self._family(url, request, google_error, output)
            blocks.append(css)
            sources.append(source)
        source = "npm:" + ", ".join(sources)
        pins = ", ".join(sources)
        header = f"/* {_comment_safe(url)}\n   resolved offline from {pins} (npm registry) */\n"
        return header + "\n".join(blocks), output, source

    def _family(
        self, url: str, request: FamilyRequest, google_error: str, output: _Output
    ) -> tuple[str, str]:
        package = fontsource_package(request.family)
        try:
            version = npm_registry.resolve_version(package, None)
            members = npm_registry.package_members(package, version)
        except AssetFetchError as exc:
            if is_network_failure(exc):
                raise FontFetchUnavailableError(
                    f"font family {request.family!r} (stylesheet {url}): Google Fonts failed "
                    f"({google_error}) and the npm registry is unreachable: {exc}"
                ) from exc
            raise _fail(
                url,
                f"font family {request.family!r} not found: Google Fonts: {google_error}; "
                f"npm: {package}: {exc}",
            ) from exc
        available = sorted(
            (int(m[1]), "italic" if m[2] else "normal")
            for name in members
            if (m := _VARIANT_CSS.match(name)) is not None
        )
        pkg = _Package(url, request.family, package, version)
        chosen = self._choose(url, request, pkg.pinned, available)
        blocks: list[str] = [f"/* {request.family}: {pkg.pinned} */"]
        for weight, style in chosen:
            css_file = f"{weight}{'-italic' if style == 'italic' else ''}.css"
            blocks.extend(pkg.faces(css_file, output))
        return "\n".join(blocks) + "\n", pkg.pinned

    @staticmethod
    def _choose(
        url: str, request: FamilyRequest, pinned: str, available: list[tuple[int, str]]
    ) -> list[tuple[int, str]]:
        chosen: set[tuple[int, str]] = set()
        missing: list[str] = []
        for variant in request.variants:
            hits = [
                (weight, style)
                for weight, style in available
                if style == variant.style and variant.weight_min <= weight <= variant.weight_max
            ]
            if not hits:
                missing.append(variant.describe())
            chosen.update(hits)
        offered = ", ".join(f"{w} {s}" for w, s in available) or "none"
        if (missing and request.strict) or not chosen:
            raise _fail(
                url,
                f"font family {request.family!r}: {pinned} has no {', '.join(missing)} "
                f"(available: {offered})",
            )
        return sorted(chosen)


@dataclass(frozen=True)
class _Package:
    """One resolved @fontsource package, for one stylesheet URL (named in errors)."""

    url: str
    family: str
    name: str
    version: str

    @property
    def pinned(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def directory(self) -> str:
        """Where its files go under FONTS_DIR: ``inter-5.3.0``."""
        return f"{self.name.split('/', 1)[1]}-{self.version}"

    def read(self, path: str) -> bytes:
        try:
            return npm_registry.read_package_file(self.name, self.version, path)
        except AssetFetchError as exc:
            raise _fail(self.url, f"font family {self.family!r}: {self.pinned}: {exc}") from exc

    def faces(self, css_file: str, output: _Output) -> list[str]:
        """The @font-face rules of ``css_file`` with woff2 sources only, files into output."""
        text = self.read(css_file).decode("utf-8")
        rules: list[str] = []
        for match in _FONT_FACE.finditer(text):
            comment, body = match.group(1) or "", match.group(2)
            woff2 = _WOFF2_SRC.search(body)
            if woff2 is None:
                continue
            inner = posixpath.normpath(posixpath.join(posixpath.dirname(css_file), woff2[1]))
            local = f"{self.directory}/{posixpath.basename(inner)}"
            output.files[local] = self.read(inner)
            src = f"src: url(\"{local}\") format('woff2');"
            rules.append(f"{comment}@font-face {{{_SRC_DECL.sub(src, body, count=1)}}}")
        if not rules:
            raise _fail(
                self.url, f"font family {self.family!r}: {self.pinned}/{css_file} has no woff2"
            )
        return rules
