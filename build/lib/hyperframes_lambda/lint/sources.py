"""HyperFrames' own linter, as pinned files from the npm registry (never committed).

Why not our own rules: the linter has well over a hundred rules that change with every
release; "lints like HyperFrames" is only true of HyperFrames' code. The ``hyperframes``
CLI package we already pin for the page runtime ships the linter as plain ES modules
(``dist/lintProject-*.js`` and the chunks it imports). They run in a browser once their
few Node imports are answered (see ``js/``): the file system by a snapshot of the project,
``postcss`` by its own browser build (its package.json ``browser`` field), ``path`` by
``path-browserify`` (Node's posix ``path`` ported).

Every file is read from the integrity-checked registry tarball and checked against the
pinned digest of its package's file set, then kept in the cache; the Lambda ZIP may stage
them under ``_vendor/lint/``. A changed file stops the lint with
:class:`~hyperframes_lambda.errors.RuntimeIntegrityError`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..cache import cache_root, write_atomic
from ..errors import RuntimeIntegrityError
from ..net.npm_registry import read_package_file
from ..page.official_runtime import PINNED as RUNTIME_PIN

VENDOR_DIR = Path(__file__).resolve().parent.parent / "_vendor" / "lint"


@dataclass(frozen=True)
class FileSetPin:
    """Some files of one published package, and the digest of their contents.

    ``digest`` is the sha256 of the lines ``<path>\\t<sha256 of the file>\\n``, in the
    order of ``files``."""

    package: str
    version: str
    files: tuple[str, ...]
    digest: str

    @property
    def label(self) -> str:
        return f"{self.package}@{self.version}"


# The linter of the hyperframes CLI the conformance outputs were rendered with (the same
# package and version as the page runtime): lintProject and every module it imports.
HYPERFRAMES_LINT = FileSetPin(
    package=RUNTIME_PIN.package,  # one pinned reference: its linter and its runtime agree
    version=RUNTIME_PIN.version,
    files=tuple(
        f"dist/{name}"
        for name in (
            "chunk-3RM2ETQT.js",
            "chunk-5CS4T6C6.js",
            "chunk-BSQ7XANM.js",
            "chunk-IWFLMU2N.js",
            "chunk-IXLUTE6N.js",
            "chunk-M2WBOQ2Q.js",
            "chunk-OYLO6TYK.js",
            "chunk-PLWORQFC.js",
            "chunk-Q5X2B5WT.js",
            "chunk-SDYDNHEE.js",
            "chunk-TYXH3EKP.js",
            "chunk-VAS6HQX3.js",
            "gsapParserAcorn-7NCK2LVT.js",
            "lintProject-PXB5Y6TX.js",
        )
    ),
    digest="d0a768d9299e1502564d10be237635356802d480c6b0fe1dd7076134de3c0d8f",
)
LINT_ENTRY = "dist/lintProject-PXB5Y6TX.js"

# The linter's one npm dependency (the version npm resolves for hyperframes@0.8.170's
# "^8.5.8"), and what postcss's browser build requires.
POSTCSS = FileSetPin(
    package="postcss",
    version="8.5.34",
    files=tuple(
        "package.json" if name == "package" else f"lib/{name}.js"
        for name in (
            "package",
            "at-rule",
            "comment",
            "container",
            "css-syntax-error",
            "declaration",
            "document",
            "fromJSON",
            "input",
            "lazy-result",
            "list",
            "map-generator",
            "no-work-result",
            "node",
            "parse",
            "parser",
            "postcss",
            "previous-map",
            "processor",
            "result",
            "root",
            "rule",
            "stringifier",
            "stringify",
            "symbols",
            "terminal-highlight",
            "tokenize",
            "warn-once",
            "warning",
        )
    ),
    digest="20ad3be5ab66a7b273b3dee0a56d7700c22b18025446dcfb4d8e45cc113c64c6",
)
NANOID = FileSetPin(
    package="nanoid",
    version="3.3.20",
    files=("non-secure/index.cjs",),
    digest="3ebc5eb9d124c63a89c1889ce7cd7084a2aedab2a0bfc2bb8e2ff671775e1957",
)
PICOCOLORS = FileSetPin(
    package="picocolors",
    version="1.1.1",
    files=("picocolors.browser.js",),
    digest="34f4d73543afc35778868178d8e02e88aacea90dd025d9e70c0701e6909e22c8",
)
PATH_BROWSERIFY = FileSetPin(
    package="path-browserify",
    version="1.0.1",
    files=("index.js",),
    digest="2b75fc6e6a19bc917a29a8b30465893ace4872409ed1b4bc6a432b3ee6399ba3",
)

PINS = (HYPERFRAMES_LINT, POSTCSS, NANOID, PICOCOLORS, PATH_BROWSERIFY)


def file_set_digest(files: dict[str, bytes]) -> str:
    lines = "".join(f"{path}\t{hashlib.sha256(data).hexdigest()}\n" for path, data in files.items())
    return hashlib.sha256(lines.encode()).hexdigest()


def _location(root: Path, pin: FileSetPin) -> Path:
    return root / f"{pin.package}@{pin.version}"


def _read_local(root: Path, pin: FileSetPin) -> dict[str, bytes] | None:
    base = _location(root, pin)
    if not all((base / path).is_file() for path in pin.files):
        return None
    return {path: (base / path).read_bytes() for path in pin.files}


def _checked(files: dict[str, bytes], pin: FileSetPin, where: str) -> dict[str, bytes]:
    actual = file_set_digest(files)
    if actual != pin.digest:
        raise RuntimeIntegrityError(
            f"the HyperFrames linter files of {pin.label} at {where} hash to {actual}, "
            f"expected {pin.digest}; delete them to fetch fresh copies"
        )
    return files


def cached_dir() -> Path:
    return cache_root() / "lint"


def _load(pin: FileSetPin) -> dict[str, bytes]:
    for root in (VENDOR_DIR, cached_dir()):
        files = _read_local(root, pin)
        if files is not None:
            return _checked(files, pin, str(_location(root, pin)))
    files = {path: read_package_file(pin.package, pin.version, path) for path in pin.files}
    _checked(files, pin, "the registry")
    base = _location(cached_dir(), pin)
    for path, data in files.items():
        write_atomic(base / path, data)
    return files


@cache
def pinned_files(pin: FileSetPin) -> dict[str, bytes]:
    """The verified files of ``pin`` (fetched from the registry once per machine)."""
    return _load(pin)


def identity() -> str:
    """Which linter build this is, for messages and reports."""
    return f"{HYPERFRAMES_LINT.label} lint"
