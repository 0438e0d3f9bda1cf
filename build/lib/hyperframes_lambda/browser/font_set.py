"""One font set for every browser: pinned font files and our own ``fonts.conf``.

Whatever Chromium build renders (the sparticuz build, Debian's headless shell, a
Playwright-installed shell, the Lambda ZIP's copy), it sees exactly these fonts through
fontconfig, never the host's: :func:`fontconfig_env` gives ``FONTCONFIG_FILE`` and
``FONTCONFIG_PATH`` for a ``fonts.conf`` that lists only the set's directory and maps the
generic families to named fonts. Text a page styles with web fonts (``@font-face``, the
deterministic faces of :mod:`.page.deterministic_fonts`) is unaffected; this set decides
everything else: ``sans-serif``/``serif``/``monospace``, the default font, and every glyph
the page's fonts lack (symbols, emoji, CJK).

The files come from pinned npm packages (tarball SRI checked by :mod:`.npm_registry`,
then each file's SHA-256 checked against the pin below) and, for Liberation, from Debian's
own ``fonts-liberation`` package (the ``.deb`` from deb.debian.org, its SHA-256 pinned as
in Debian's signed ``Packages`` index, unpacked here: ``ar`` archive, ``data.tar.xz``), so
the files are byte for byte those of the Debian 12 machines HyperFrames' reference renders
were made on. They are installed once per machine
into ``<cache>/fontset/<id>/`` (atomically, under a lock). Chrome reads TrueType from
fontconfig directories but not WOFF2 (measured: a WOFF2 emoji font is listed by
``fc-list`` and never used), so the one WOFF2 source, Noto Color Emoji, is decompressed
with fontTools at install time and its SVG table (20 MB that Chrome does not draw; it
draws the COLRv1 glyphs) dropped; the result is pinned too (fontTools 4.47-4.68 write the
same bytes).

Lookup: ``$HYPERFRAMES_FONT_SET_DIR``, else ``hyperframes_lambda/_vendor/fontset/`` (the
Lambda ZIP stages it there, :func:`stage_font_set`), else the cache (installed on first
use). ``HYPERFRAMES_FONT_SET=system`` leaves the browser's own fonts (debugging only; the
identity then says ``system`` and a plan made so is refused by workers with the set).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import struct
import tarfile
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

from ..cache import cache_root, exclusive_lock, file_sha256, write_atomic
from ..errors import (
    AssetFetchError,
    FontSetIntegrityError,
    FontSetUnavailableError,
)
from ..net import npm_registry

ENV_FONT_SET_DIR = "HYPERFRAMES_FONT_SET_DIR"
ENV_FONT_SET = "HYPERFRAMES_FONT_SET"
FONT_SET_NAME = "hf-fontset-2"
VENDOR_FONT_SET_DIR = Path(__file__).resolve().parent.parent / "_vendor" / "fontset"
MARKER = ".complete"
LICENSES_DIR = "licenses"

Conversion = Literal["copy", "woff2-colr"]


@dataclass(frozen=True)
class FontFile:
    """One file of the set: where it comes from and what it must hash to."""

    name: str  # file name in the set directory
    family: str  # fontconfig family name
    package: str  # npm package, or a Debian package of DEB_PACKAGES
    version: str
    path: str  # path inside the npm package (or the .deb's data archive)
    source_sha256: str
    sha256: str  # of the installed file (== source_sha256 for plain copies)
    size: int
    conversion: Conversion = "copy"


_DEJAVU = ("dejavu-fonts-ttf", "2.37.3")
_INTER = ("@expo-google-fonts/inter", "0.4.2")
_EMOJI = ("@fontsource/noto-color-emoji", "5.3.2")
_SC = ("@expo-google-fonts/noto-sans-sc", "0.4.3")
_KR = ("@expo-google-fonts/noto-sans-kr", "0.4.3")
_LIBERATION = ("fonts-liberation", "1:1.07.4-11")


@dataclass(frozen=True)
class DebPackage:
    """A Debian binary package the set takes files from, pinned like Debian's index pins it."""

    url: str
    sha256: str  # as in Debian's Packages index (bookworm main)
    size: int


DEB_PACKAGES: dict[tuple[str, str], DebPackage] = {
    _LIBERATION: DebPackage(
        "https://deb.debian.org/debian/pool/main/f/fonts-liberation/"
        "fonts-liberation_1.07.4-11_all.deb",
        "efd381517f958b01969343634ffcbdd60056be7779af84c6f53a005090430204",
        827812,
    ),
}


def _dejavu(name: str, family: str, sha256: str, size: int) -> FontFile:
    return FontFile(name, family, *_DEJAVU, f"ttf/{name}", sha256, sha256, size)


def _google(pkg: tuple[str, str], path: str, family: str, sha256: str, size: int) -> FontFile:
    return FontFile(path.rsplit("/", 1)[-1], family, *pkg, path, sha256, sha256, size)


def _liberation(name: str, family: str, sha256: str, size: int) -> FontFile:
    path = f"usr/share/fonts/truetype/liberation/{name}"
    return FontFile(name, family, *_LIBERATION, path, sha256, sha256, size)


FONT_FILES: tuple[FontFile, ...] = (
    # Inter: for text that names it without a web font (no generic family resolves to it).
    _google(_INTER, "400Regular/Inter_400Regular.ttf", "Inter",
            "a414b48aa577ef2c62ebb135341ddeef33ee26a4f5dc9f787f93c1aab08ebb50", 342408),
    _google(_INTER, "400Regular_Italic/Inter_400Regular_Italic.ttf", "Inter",
            "c8c09e4bd08de7b901b4561f16ce9bb1ab3ffa420cfaef9f2a40286e14300e75", 345956),
    _google(_INTER, "700Bold/Inter_700Bold.ttf", "Inter",
            "fbe825cbfc749317f57a1433d3905aa9d3f388732fd29b8e8a36f34845e3bc3e", 344072),
    _google(_INTER, "700Bold_Italic/Inter_700Bold_Italic.ttf", "Inter",
            "bcc655acbd25f44eed4894f3c65f836503476db411c540d8dd5b616ef60c1825", 347824),
    # DejaVu: serif, monospace, and the symbols (arrows, check marks, box drawing) Inter lacks.
    _dejavu("DejaVuSans.ttf", "DejaVu Sans",
            "7da195a74c55bef988d0d48f9508bd5d849425c1770dba5d7bfc6ce9ed848954", 757076),
    _dejavu("DejaVuSans-Bold.ttf", "DejaVu Sans",
            "e6476c1b80502924294eed40894c5b18e06c181444ca953e5334262df9c27724", 705684),
    _dejavu("DejaVuSans-Oblique.ttf", "DejaVu Sans",
            "4af75fa16ee6d3ad43e1ecec41862c24954af26a55c6bb1ebb27bd486a50f5f4", 635416),
    _dejavu("DejaVuSans-BoldOblique.ttf", "DejaVu Sans",
            "eb436dca0c2594b73d8b603b892e374fdfd8d885d25ffb4f18df4c4c0b49e50f", 643292),
    _dejavu("DejaVuSerif.ttf", "DejaVu Serif",
            "42d1edeb7952f31b1f96d767ed7030b08a39e0c372b0071641518864e2bffb51", 380132),
    _dejavu("DejaVuSerif-Bold.ttf", "DejaVu Serif",
            "c47b5527bcdc8dcf9ea8c77054454c5a884beaca2f44851a2a823ee639cbf07f", 356088),
    _dejavu("DejaVuSerif-Italic.ttf", "DejaVu Serif",
            "2e39b1d50f90b933b00c7bb54a96afd3f86419b3d717c7cf202e36f2d4973e47", 345996),
    _dejavu("DejaVuSerif-BoldItalic.ttf", "DejaVu Serif",
            "8d3dd3d31350309042ed226af82b34539bd773518e6107cb352712853ba80308", 347460),
    _dejavu("DejaVuSansMono.ttf", "DejaVu Sans Mono",
            "b4a6c3e4faab8773f4ff761d56451646409f29abedd68f05d38c2df667d3c582", 340712),
    _dejavu("DejaVuSansMono-Bold.ttf", "DejaVu Sans Mono",
            "bce60f1b4421acd9ea51ba6623d7024ecbe6817a953e3654df62a5e6bdf8f769", 331992),
    _dejavu("DejaVuSansMono-Oblique.ttf", "DejaVu Sans Mono",
            "742097840c541870e8d6dc5c9b37bb1ceeea6c0dedd1d475faf903ef9df734b0", 251932),
    _dejavu("DejaVuSansMono-BoldOblique.ttf", "DejaVu Sans Mono",
            "91713a71d550bba22c2a6b2bb2a9ad8f9a159e12e4e9f0a5b2677998ba21213e", 253580),
    # Liberation 1.07.4 (Debian 12's fonts-liberation): what Arial/Helvetica, Times/Times New
    # Roman and Courier/Courier New resolve to there (metric aliases, see METRIC_ALIASES).
    _liberation("LiberationSans-Regular.ttf", "Liberation Sans",
                "f8ace1f892b2bd9dc1792ba7f097fa7588f84fed48321480e04de5390828221f", 139512),
    _liberation("LiberationSans-Bold.ttf", "Liberation Sans",
                "361c61b82d575c5c35fd9157fda8b0194bcfcd0d88ea8521a4fb5dd53d33dddc", 137052),
    _liberation("LiberationSans-Italic.ttf", "Liberation Sans",
                "832b4406dbef23628800d3aaad21048534ac84d7e3ad955be83b8172ed8ef512", 162036),
    _liberation("LiberationSans-BoldItalic.ttf", "Liberation Sans",
                "a224075ac17495ad0a3af3bc0a419ac0704a8b3fd1095456201fb9b095fc281d", 135124),
    _liberation("LiberationSansNarrow-Regular.ttf", "Liberation Sans Narrow",
                "ab9719545aeb24156c462601f92bf4897130beaac59ad79bea7da264bce69b19", 113028),
    _liberation("LiberationSansNarrow-Bold.ttf", "Liberation Sans Narrow",
                "f77fe6ca01c8b043b99743fad34954c53d625263c076aa844c5a5dbf568743ab", 110252),
    _liberation("LiberationSansNarrow-Italic.ttf", "Liberation Sans Narrow",
                "a48c86c13c247fbcf3cdbe9bed3e5abcfa6e91a8f61f3ae190a5893885266e59", 132452),
    _liberation("LiberationSansNarrow-BoldItalic.ttf", "Liberation Sans Narrow",
                "822ef9cfc11f1409f27611f8d128d67105da5ea616f4010b2ab9af76413bda7e", 128468),
    _liberation("LiberationSerif-Regular.ttf", "Liberation Serif",
                "1c9c77c2cd0f3c2d2aeef53ea50a4d5d3d684ac73a431d7c70d7864887d194a3", 152408),
    _liberation("LiberationSerif-Bold.ttf", "Liberation Serif",
                "af228b9de767e5162168e433351b3d0e086648219c6c12ed888fba0bda3694d5", 147132),
    _liberation("LiberationSerif-Italic.ttf", "Liberation Serif",
                "ccd19036f8e8599e920345105df8d21eb27a66b700ac23968fb14d70259ddb1e", 145028),
    _liberation("LiberationSerif-BoldItalic.ttf", "Liberation Serif",
                "19c8cef87d61197323b0501d0f8676669489658f23417ca661de18d85755af06", 151452),
    _liberation("LiberationMono-Regular.ttf", "Liberation Mono",
                "a2e642d350acb1c5e368f375db8a4ef5a2f4ff2b79056d8c3be8bd8a7e9fcb44", 108172),
    _liberation("LiberationMono-Bold.ttf", "Liberation Mono",
                "267ae0b63fc67980d11fc4cbb630de84d845c6bf350988ec56766baf98706b8b", 105460),
    _liberation("LiberationMono-Italic.ttf", "Liberation Mono",
                "8d39f087bf0d103586624233981c048818e1d4bcb74e4c5ca96a34f6caed583d", 124012),
    _liberation("LiberationMono-BoldItalic.ttf", "Liberation Mono",
                "c8f21356b3948b9ae2858b82a5514a8384c53847fde1f9ecd38cb6849582f864", 118296),
    # Noto Color Emoji (COLRv1), from the full "emoji" subset of the fontsource package.
    FontFile("NotoColorEmoji.ttf", "Noto Color Emoji", *_EMOJI,
             "files/noto-color-emoji-emoji-400-normal.woff2",
             "78ea7dad943f1caa3d31bd4ad1ac2e14491f3e433597d83a9dcca8094cafbbb3",
             "5db00a4040d3415f5983c69a577abd134a2e2b02b1c10a9872e08899b538fd72", 4978772,
             "woff2-colr"),
    # CJK: Noto Sans SC (all 20,976 URO ideographs, kana) and KR (Hangul, 8,138 hanja).
    _google(_SC, "400Regular/NotoSansSC_400Regular.ttf", "Noto Sans SC",
            "d45f67f0a7c0ca3f256950777ce6a61cc7ce5f9696d02900cbbaac25f8aa7d16", 10559284),
    _google(_KR, "400Regular/NotoSansKR_400Regular.ttf", "Noto Sans KR",
            "8cbc9b353bb9ce848fd69bb6a507319dfacc659cf5fd643db5d88f3c4970e1dd", 6185868),
)  # fmt: skip

# License texts shipped beside the fonts (from the same verified tarballs; not pinned).
LICENSE_FILES: tuple[tuple[str, str, str, str], ...] = (
    ("DejaVu-LICENSE", *_DEJAVU, "LICENSE"),
    ("Inter-OFL.txt", *_INTER, "LICENSE_FONT"),
    ("NotoColorEmoji-OFL.txt", *_EMOJI, "LICENSE"),
    ("NotoSansSC-OFL.txt", *_SC, "LICENSE_FONT"),
    ("NotoSansKR-OFL.txt", *_KR, "LICENSE_FONT"),
    ("Liberation-copyright", *_LIBERATION, "usr/share/doc/fonts-liberation/copyright"),
)

# After the named font of a generic family: symbols, emoji, CJK, in this order.
FALLBACK_FAMILIES = ("DejaVu Sans", "Noto Color Emoji", "Noto Sans SC", "Noto Sans KR")
# The generic families resolve as on the Debian machines HyperFrames' reference renders were
# made on (fonts-dejavu-core): text whose font HyperFrames does not bundle (e.g. the `font:`
# shorthand, which its compile does not read) falls back to DejaVu Sans there. Measured on
# render-video-overlay-stretch: Inter here cost 12 dB (43.5 -> 31.7) against the reference.
GENERIC_FAMILIES: dict[str, str] = {
    "sans-serif": "DejaVu Sans",
    "serif": "DejaVu Serif",
    "monospace": "DejaVu Sans Mono",
}
# Other generic names fontconfig users write, mapped onto the three above.
GENERIC_SYNONYMS: dict[str, str] = {
    "sans": "sans-serif",
    "system-ui": "sans-serif",
    "ui-sans-serif": "sans-serif",
    "ui-serif": "serif",
    "mono": "monospace",
    "ui-monospace": "monospace",
    "emoji": "sans-serif",
}
# Metric-compatible aliases as Debian's fontconfig has them (30-metric-aliases.conf, with
# fonts-liberation installed): the name a page writes -> the Liberation family drawn for it.
METRIC_ALIASES: dict[str, str] = {
    "Arial": "Liberation Sans",
    "Helvetica": "Liberation Sans",
    "Arial Narrow": "Liberation Sans Narrow",
    "Helvetica Narrow": "Liberation Sans Narrow",
    "Times New Roman": "Liberation Serif",
    "Times": "Liberation Serif",
    "Courier New": "Liberation Mono",
    "Courier": "Liberation Mono",
}
# The generic family of a named one, as Debian's 45-latin.conf has it; a pattern that still
# has no generic family gets sans-serif (49-sansserif.conf). Glyphs a font lacks then fall
# back as there: ✓ in Liberation Serif text draws from DejaVu Sans, not from Inter.
FAMILY_GENERICS: dict[str, str] = {
    "Arial": "sans-serif",
    "Helvetica": "sans-serif",
    "Liberation Sans": "sans-serif",
    "DejaVu Sans": "sans-serif",
    "Times New Roman": "serif",
    "Times": "serif",
    "Liberation Serif": "serif",
    "DejaVu Serif": "serif",
    "Courier New": "monospace",
    "Courier": "monospace",
    "Liberation Mono": "monospace",
    "DejaVu Sans Mono": "monospace",
}


def fonts_conf(font_dir: Path, cache_dir: Path) -> str:
    """Our fontconfig configuration: only ``font_dir``, generic families aliased to the set."""
    lines = [
        '<?xml version="1.0"?>',
        '<!DOCTYPE fontconfig SYSTEM "fonts.dtd">',
        f"<!-- written by hyperframes-lambda: {FONT_SET_NAME}; no system fonts -->",
        "<fontconfig>",
        f"  <dir>{escape(str(font_dir))}</dir>",
        f"  <cachedir>{escape(str(cache_dir))}</cachedir>",
    ]
    for name, metric in METRIC_ALIASES.items():
        # binding="same": the alias is as strong as the name, so Chrome accepts the match.
        lines.append(
            f'  <alias binding="same"><family>{escape(name)}</family>'
            f"<accept><family>{escape(metric)}</family></accept></alias>"
        )
    for name, generic in FAMILY_GENERICS.items():
        lines.append(
            f"  <alias><family>{escape(name)}</family>"
            f"<default><family>{generic}</family></default></alias>"
        )
    for synonym, generic in GENERIC_SYNONYMS.items():
        lines.append(
            f'  <alias binding="same"><family>{synonym}</family>'
            f"<prefer><family>{generic}</family></prefer></alias>"
        )
    lines.append('  <match target="pattern">')
    lines += [
        f'    <test qual="all" name="family" compare="not_eq"><string>{g}</string></test>'
        for g in GENERIC_FAMILIES
    ]
    lines += [
        '    <edit name="family" mode="append_last"><string>sans-serif</string></edit>',
        "  </match>",
    ]
    for generic, named in GENERIC_FAMILIES.items():
        chain = [named, *(f for f in FALLBACK_FAMILIES if f != named)]
        prefer = "".join(f"<family>{escape(f)}</family>" for f in chain)
        lines.append(
            f'  <alias binding="same"><family>{generic}</family><prefer>{prefer}</prefer></alias>'
        )
    lines += [
        # Grayscale antialiasing, no hinting: the same rasterisation whatever the host says.
        '  <match target="font">',
        '    <edit name="antialias" mode="assign"><bool>true</bool></edit>',
        '    <edit name="hinting" mode="assign"><bool>false</bool></edit>',
        '    <edit name="hintstyle" mode="assign"><const>hintnone</const></edit>',
        '    <edit name="rgba" mode="assign"><const>none</const></edit>',
        '    <edit name="lcdfilter" mode="assign"><const>lcdnone</const></edit>',
        '    <edit name="embeddedbitmap" mode="assign"><bool>true</bool></edit>',
        "  </match>",
        "</fontconfig>",
        "",
    ]
    return "\n".join(lines)


# --- identity ----------------------------------------------------------------------------


@cache
def _set_digest() -> str:
    digest = hashlib.sha256(FONT_SET_NAME.encode() + b"\0")
    for font in sorted(FONT_FILES, key=lambda f: f.name):
        digest.update(f"{font.name}\0{font.sha256}\0".encode())
    digest.update(fonts_conf(Path("/FONTS"), Path("/CACHE")).encode())
    return digest.hexdigest()


def system_fonts_requested() -> bool:
    return os.environ.get(ENV_FONT_SET, "").strip().lower() == "system"


def font_set_id() -> str:
    """E.g. ``hf-fontset-1+3f2a…`` (12 hex digits over every file's SHA-256 and the
    fonts.conf template); ``system`` when ``HYPERFRAMES_FONT_SET=system``."""
    if system_fonts_requested():
        return "system"
    return f"{FONT_SET_NAME}+{_set_digest()[:12]}"


def families() -> list[str]:
    """The font families of the set, in order of first appearance."""
    return list(dict.fromkeys(f.family for f in FONT_FILES))


def total_size() -> int:
    return sum(f.size for f in FONT_FILES)


# --- lookup and verification ---------------------------------------------------------------

_verified_lock = threading.Lock()
_verified: set[tuple[str, int, int]] = set()


def _verify_dir(directory: Path) -> None:
    """Every file present with its pinned size and SHA-256 (hashed once per process)."""
    for font in FONT_FILES:
        path = directory / font.name
        try:
            stat = path.stat()
        except OSError as exc:
            raise FontSetIntegrityError(
                f"font set {directory}: {font.name} is missing ({exc.strerror})"
            ) from exc
        stamp = (str(path), stat.st_size, stat.st_mtime_ns)
        with _verified_lock:
            if stamp in _verified:
                continue
        actual = file_sha256(path) if stat.st_size == font.size else f"size {stat.st_size}"
        if actual != font.sha256:
            raise FontSetIntegrityError(
                f"font set {directory}: {font.name} does not match its pin "
                f"(expected sha256 {font.sha256}, {font.size} bytes; got {actual}); "
                "delete it to install the set again"
            )
        with _verified_lock:
            _verified.add(stamp)


def cache_dir(root: Path | None = None) -> Path:
    """``<cache>/fontset/<name>-<digest12>``: where the set is installed."""
    base = root if root is not None else cache_root() / "fontset"
    return base / f"{FONT_SET_NAME}-{_set_digest()[:12]}"


def font_set_dir() -> Path:
    """The verified directory of the font set, installing it into the cache on first use.

    ``$HYPERFRAMES_FONT_SET_DIR``, else ``_vendor/fontset/`` (the Lambda ZIP), else the
    cache. A vendored or explicit directory that fails verification is an error
    (FONT_SET_INTEGRITY_MISMATCH); a damaged cache copy is installed again.
    """
    explicit = os.environ.get(ENV_FONT_SET_DIR)
    if explicit:
        directory = Path(explicit)
        _verify_dir(directory)
        return directory
    if (VENDOR_FONT_SET_DIR / MARKER).is_file():
        _verify_dir(VENDOR_FONT_SET_DIR)
        return VENDOR_FONT_SET_DIR
    return install()


def install(root: Path | None = None) -> Path:
    """Install the set into ``cache_dir(root)`` unless a verified copy is there; return it."""
    dest = cache_dir(root)
    if (dest / MARKER).is_file():
        try:
            _verify_dir(dest)
            return dest
        except FontSetIntegrityError:
            pass  # reinstalled below, under the lock
    with exclusive_lock(dest):
        if (dest / MARKER).is_file():
            try:
                _verify_dir(dest)
                return dest
            except FontSetIntegrityError:
                shutil.rmtree(dest)
        for stale in dest.parent.glob(f".{dest.name}.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if dest.exists():
            shutil.rmtree(dest)
        partial = dest.parent / f".{dest.name}.partial-{os.getpid()}"
        partial.mkdir(parents=True)
        try:
            stage_font_set(partial, _from_registry=True)
            os.rename(partial, dest)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    _verify_dir(dest)
    return dest


def stage_font_set(dest: Path, *, _from_registry: bool = False) -> list[str]:
    """Write the verified set (fonts, licenses, ``.complete``) into ``dest``; return the
    file names written. For the Lambda ZIP: ``stage_font_set(package / "_vendor" /
    "fontset")``, and :func:`font_set_dir` finds it there at run time.
    """
    dest.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    source = None if _from_registry else _installed_or_none()
    for font in FONT_FILES:
        data = (source / font.name).read_bytes() if source is not None else _build(font)
        if hashlib.sha256(data).hexdigest() != font.sha256:  # pragma: no cover - _build checks
            raise FontSetIntegrityError(f"{font.name}: staged bytes do not match the pin")
        write_atomic(dest / font.name, data)
        written.append(font.name)
    for name, package, version, path in LICENSE_FILES:
        data = _package_file(package, version, path)
        write_atomic(dest / LICENSES_DIR / name, data)
        written.append(f"{LICENSES_DIR}/{name}")
    write_atomic(dest / MARKER, f"{FONT_SET_NAME}+{_set_digest()[:12]}\n".encode())
    written.append(MARKER)
    return written


def _installed_or_none() -> Path | None:
    """A verified installed copy to stage from (no registry needed), else None."""
    try:
        return font_set_dir()
    except (FontSetIntegrityError, FontSetUnavailableError):
        return None


def _package_file(package: str, version: str, path: str) -> bytes:
    deb = DEB_PACKAGES.get((package, version))
    if deb is not None:
        members = _deb_members(package, version, deb)
        if path not in members:
            raise FontSetUnavailableError(f"font set: {package}_{version} has no file {path!r}")
        return members[path]
    try:
        return npm_registry.read_package_file(package, version, path)
    except AssetFetchError as exc:
        raise FontSetUnavailableError(
            f"font set: cannot fetch {package}@{version}/{path} from the npm registry: {exc}"
        ) from exc


def _deb_bytes(package: str, version: str, deb: DebPackage) -> bytes:
    """The pinned .deb: from ``<cache>/deb/`` when it still matches, else downloaded."""
    cached = cache_root() / "deb" / deb.url.rsplit("/", 1)[-1]
    with contextlib.suppress(OSError):
        data = cached.read_bytes()
        if hashlib.sha256(data).hexdigest() == deb.sha256:
            return data
    try:
        data = npm_registry.http_get(deb.url, announce=f"Debian package {package} {version}")
    except AssetFetchError as exc:
        raise FontSetUnavailableError(
            f"font set: cannot fetch Debian package {package} {version}: {exc}"
        ) from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != deb.sha256:
        raise FontSetIntegrityError(
            f"font set: {deb.url} has sha256 {actual} ({len(data)} bytes), "
            f"pinned {deb.sha256} ({deb.size} bytes)"
        )
    write_atomic(cached, data)
    return data


@cache
def _deb_members(package: str, version: str, deb: DebPackage) -> dict[str, bytes]:
    """Regular files of the .deb's data archive, keyed by path (no leading ``./``)."""
    data = _deb_bytes(package, version, deb)
    return {
        name.removeprefix("./"): content
        for name, content in _tar_files(_ar_member(data, "data.tar.", package)).items()
    }


def _ar_member(data: bytes, prefix: str, what: str) -> bytes:
    """The first member of an ``ar`` archive (a .deb) whose name starts with ``prefix``."""
    if not data.startswith(b"!<arch>\n"):
        raise FontSetIntegrityError(f"font set: {what}: not an ar archive")
    offset = 8
    while offset + 60 <= len(data):
        header = data[offset : offset + 60]
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        if name.startswith(prefix):
            return data[offset + 60 : offset + 60 + size]
        offset += 60 + size + (size & 1)
    raise FontSetIntegrityError(f"font set: {what}: no {prefix}* member")


def _tar_files(archive: bytes) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
        for info in tar:
            handle = tar.extractfile(info) if info.isfile() else None
            if handle is not None:
                files[info.name] = handle.read()
    return files


def _build(font: FontFile) -> bytes:
    """The file's bytes from its verified package, converted if needed, checked."""
    raw = _package_file(font.package, font.version, font.path)
    actual = hashlib.sha256(raw).hexdigest()
    if actual != font.source_sha256:
        raise FontSetIntegrityError(
            f"font set: {font.package}@{font.version}/{font.path} has sha256 {actual}, "
            f"pinned {font.source_sha256}"
        )
    data = raw if font.conversion == "copy" else _woff2_to_colr_ttf(raw, font)
    actual = hashlib.sha256(data).hexdigest()
    if actual != font.sha256:
        raise FontSetIntegrityError(
            f"font set: {font.name} converted from {font.package}@{font.version}/{font.path} "
            f"has sha256 {actual}, pinned {font.sha256} (fontTools wrote other bytes: "
            "install fonttools>=4.47,<5)"
        )
    return data


def _woff2_to_colr_ttf(raw: bytes, font: FontFile) -> bytes:
    """WOFF2 → TrueType with the OpenType-SVG table dropped (Chrome draws COLRv1)."""
    try:
        from fontTools.ttLib import TTFont
    except ImportError as exc:
        raise FontSetUnavailableError(
            f"font set: converting {font.name} needs fontTools (pip install 'fonttools>=4.47')"
        ) from exc
    ttf = TTFont(io.BytesIO(raw), recalcTimestamp=False, recalcBBoxes=False)
    ttf.flavor = None
    if "SVG " in ttf:
        del ttf["SVG "]
    out = io.BytesIO()
    ttf.save(out)
    return out.getvalue()


# --- fontconfig --------------------------------------------------------------------------


def fontconfig_env() -> dict[str, str]:
    """``FONTCONFIG_FILE``/``FONTCONFIG_PATH`` for a browser process: our ``fonts.conf``
    (written under the cache root, next to fontconfig's own cache) naming only the set's
    directory. Empty when ``HYPERFRAMES_FONT_SET=system``."""
    if system_fonts_requested():
        return {}
    font_dir = font_set_dir()
    conf_dir = cache_root() / "fontconfig" / f"{FONT_SET_NAME}-{_set_digest()[:12]}"
    text = fonts_conf(font_dir.absolute(), (conf_dir / "cache").absolute())
    conf = conf_dir / "fonts.conf"
    try:
        current = conf.read_text()
    except OSError:
        current = None
    if current != text:
        write_atomic(conf, text.encode())
    return {"FONTCONFIG_FILE": str(conf.absolute()), "FONTCONFIG_PATH": str(conf_dir.absolute())}


# --- coverage (for missing-glyph reports) ---------------------------------------------------


@cache
def font_coverage() -> dict[str, frozenset[int]]:
    """Code points each family of the set maps (from the files' cmap tables)."""
    directory = font_set_dir()
    coverage: dict[str, set[int]] = {}
    for font in FONT_FILES:
        coverage.setdefault(font.family, set()).update(
            cmap_codepoints((directory / font.name).read_bytes())
        )
    return {family: frozenset(points) for family, points in coverage.items()}


def cmap_codepoints(data: bytes) -> set[int]:
    """The code points of a TrueType/OpenType font's Unicode cmap (formats 4 and 12)."""
    (num_tables,) = struct.unpack_from(">H", data, 4)
    cmap_offset = None
    for i in range(num_tables):
        tag, _checksum, offset, _length = struct.unpack_from(">4sIII", data, 12 + 16 * i)
        if tag == b"cmap":
            cmap_offset = offset
    if cmap_offset is None:
        return set()
    (count,) = struct.unpack_from(">H", data, cmap_offset + 2)
    subtables: list[tuple[int, int]] = []
    for i in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", data, cmap_offset + 4 + 8 * i)
        if (platform, encoding) in ((3, 10), (0, 4), (0, 6), (3, 1), (0, 3)):
            subtables.append((struct.unpack_from(">H", data, cmap_offset + offset)[0], offset))
    points: set[int] = set()
    for fmt, offset in sorted(subtables, reverse=True):
        base = cmap_offset + offset
        if fmt == 12:
            (groups,) = struct.unpack_from(">I", data, base + 12)
            for g in range(groups):
                start, end, _glyph = struct.unpack_from(">III", data, base + 16 + 12 * g)
                points.update(range(start, end + 1))
            return points
        if fmt == 4:
            (seg_x2,) = struct.unpack_from(">H", data, base + 6)
            segs = seg_x2 // 2
            ends = struct.unpack_from(f">{segs}H", data, base + 14)
            starts = struct.unpack_from(f">{segs}H", data, base + 16 + seg_x2)
            for start, end in zip(starts, ends, strict=True):
                if start != 0xFFFF:
                    points.update(range(start, end + 1))
            return points
    return points
