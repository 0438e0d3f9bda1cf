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
then each file's SHA-256 checked against the pin below) and are installed once per machine
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
import fcntl
import hashlib
import io
import os
import shutil
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

from . import npm_registry
from .cache import cache_root, write_atomic
from .errors import (
    AssetFetchError,
    FontSetIntegrityError,
    FontSetUnavailableError,
)

ENV_FONT_SET_DIR = "HYPERFRAMES_FONT_SET_DIR"
ENV_FONT_SET = "HYPERFRAMES_FONT_SET"
FONT_SET_NAME = "hf-fontset-1"
VENDOR_FONT_SET_DIR = Path(__file__).resolve().parent / "_vendor" / "fontset"
MARKER = ".complete"
LICENSES_DIR = "licenses"

Conversion = Literal["copy", "woff2-colr"]


@dataclass(frozen=True)
class FontFile:
    """One file of the set: where it comes from and what it must hash to."""

    name: str  # file name in the set directory
    family: str  # fontconfig family name
    package: str
    version: str
    path: str  # path inside the npm package
    source_sha256: str
    sha256: str  # of the installed file (== source_sha256 for plain copies)
    size: int
    conversion: Conversion = "copy"


_DEJAVU = ("dejavu-fonts-ttf", "2.37.3")
_INTER = ("@expo-google-fonts/inter", "0.4.2")
_EMOJI = ("@fontsource/noto-color-emoji", "5.3.2")
_SC = ("@expo-google-fonts/noto-sans-sc", "0.4.3")
_KR = ("@expo-google-fonts/noto-sans-kr", "0.4.3")


def _dejavu(name: str, family: str, sha256: str, size: int) -> FontFile:
    return FontFile(name, family, *_DEJAVU, f"ttf/{name}", sha256, sha256, size)


def _google(pkg: tuple[str, str], path: str, family: str, sha256: str, size: int) -> FontFile:
    return FontFile(path.rsplit("/", 1)[-1], family, *pkg, path, sha256, sha256, size)


FONT_FILES: tuple[FontFile, ...] = (
    # Inter: the sans-serif default, as HyperFrames leads generic stacks with Inter.
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
)

# After the named font of a generic family: symbols, emoji, CJK, in this order.
FALLBACK_FAMILIES = ("DejaVu Sans", "Noto Color Emoji", "Noto Sans SC", "Noto Sans KR")
GENERIC_FAMILIES: dict[str, str] = {
    "sans-serif": "Inter",
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
    for synonym, generic in GENERIC_SYNONYMS.items():
        lines.append(
            f'  <alias binding="same"><family>{synonym}</family>'
            f"<prefer><family>{generic}</family></prefer></alias>"
        )
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
        actual = _file_sha256(path) if stat.st_size == font.size else f"size {stat.st_size}"
        if actual != font.sha256:
            raise FontSetIntegrityError(
                f"font set {directory}: {font.name} does not match its pin "
                f"(expected sha256 {font.sha256}, {font.size} bytes; got {actual}); "
                "delete it to install the set again"
            )
        with _verified_lock:
            _verified.add(stamp)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


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
    with _exclusive(dest):
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
    try:
        return npm_registry.read_package_file(package, version, path)
    except AssetFetchError as exc:
        raise FontSetUnavailableError(
            f"font set: cannot fetch {package}@{version}/{path} from the npm registry: {exc}"
        ) from exc


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


@contextlib.contextmanager
def _exclusive(dest: Path) -> Iterator[None]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with (dest.parent / f".{dest.name}.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


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
