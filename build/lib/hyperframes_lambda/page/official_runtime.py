"""HyperFrames' official page runtime, as a pinned, integrity-checked dependency.

Why a dependency and not our code: the runtime *is* the format's semantics (clip
visibility, timeline nesting, adapters, variables). Re-implementing it diverged from the
reference on its own fixtures, so we load the very file the reference engine injects.

The file comes from the npm registry (the ``hyperframes`` CLI package, the version the
conformance outputs were rendered with). It is located, in order:

1. ``$HYPERFRAMES_RUNTIME_PATH`` — a copy the user points at;
2. ``hyperframes_lambda/_vendor/`` — staged there by the Lambda ZIP build (never committed);
3. the cache (``<cache root>/runtime/``), filled from the registry tarball on first use.

Whichever copy is used, its SHA-256 must equal the pinned one, or the render stops with
:class:`~hyperframes_lambda.errors.RuntimeIntegrityError` naming the file. A warm cache
needs no network.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..cache import cache_root, write_atomic
from ..errors import AssetFetchError, RuntimeIntegrityError
from ..net.npm_registry import read_package_file

ENV_RUNTIME_PATH = "HYPERFRAMES_RUNTIME_PATH"
VENDOR_DIR = Path(__file__).resolve().parent.parent / "_vendor"


@dataclass(frozen=True)
class RuntimePin:
    """One published runtime build: where it lives in the registry and what it hashes to."""

    package: str
    version: str
    path_in_package: str
    manifest_in_package: str
    sha256: str

    @property
    def file_name(self) -> str:
        return Path(self.path_in_package).name

    @property
    def label(self) -> str:
        return f"{self.package}@{self.version}/{self.path_in_package}"


# The reference outputs in the conformance suite were rendered by hyperframes@0.8.170; its
# manifest (dist/hyperframe.manifest.json) publishes this sha256 for the IIFE build.
PINNED = RuntimePin(
    package="hyperframes",
    version="0.8.170",
    path_in_package="dist/hyperframe.runtime.iife.js",
    manifest_in_package="dist/hyperframe.manifest.json",
    sha256="4a56ffcd5e2b0d5c22cce6c2201205b85cb77ad9d7e32796c2e789fa46231935",
)


def cached_runtime_path(pin: RuntimePin = PINNED) -> Path:
    return cache_root() / "runtime" / f"{pin.package}@{pin.version}" / pin.file_name


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checked(path: Path, pin: RuntimePin) -> bytes:
    data = path.read_bytes()
    actual = _sha256(data)
    if actual != pin.sha256:
        raise RuntimeIntegrityError(
            f"the HyperFrames runtime at {path} is not {pin.label}: sha256 {actual}, "
            f"expected {pin.sha256}; delete the file to fetch a fresh copy"
        )
    return data


def _fetch_into_cache(pin: RuntimePin) -> Path:
    """Read the file from the verified registry tarball, check it, store it in the cache."""
    data = read_package_file(pin.package, pin.version, pin.path_in_package)
    try:
        manifest = json.loads(read_package_file(pin.package, pin.version, pin.manifest_in_package))
    except ValueError as exc:
        raise AssetFetchError(f"{pin.package}@{pin.version}: unreadable runtime manifest") from exc
    published = manifest.get("sha256") if isinstance(manifest, dict) else None
    actual = _sha256(data)
    if published != actual or actual != pin.sha256:
        raise RuntimeIntegrityError(
            f"{pin.label} from the registry hashes to {actual}; its manifest says "
            f"{published}, the pin says {pin.sha256}"
        )
    dest = cached_runtime_path(pin)
    write_atomic(dest, data)
    return dest


def runtime_path(pin: RuntimePin = PINNED) -> Path:
    """The verified local copy of the runtime (fetched once per machine)."""
    explicit = os.environ.get(ENV_RUNTIME_PATH)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise RuntimeIntegrityError(f"{ENV_RUNTIME_PATH}={explicit} is not a file")
        _checked(path, pin)
        return path
    for candidate in (VENDOR_DIR / pin.file_name, cached_runtime_path(pin)):
        if candidate.is_file():
            _checked(candidate, pin)
            return candidate
    path = _fetch_into_cache(pin)
    _checked(path, pin)
    return path


@cache
def _source_for(path: Path, size: int, mtime_ns: int, pin: RuntimePin) -> str:
    return _checked(path, pin).decode("utf-8")


def runtime_source(pin: RuntimePin = PINNED) -> str:
    """The runtime's JavaScript, verified (re-read when the file changes on disk)."""
    path = runtime_path(pin)
    stat = path.stat()
    return _source_for(path, stat.st_size, stat.st_mtime_ns, pin)


def runtime_identity(pin: RuntimePin = PINNED) -> str:
    """What goes into the plan hash: which runtime build renders the frames."""
    return f"{pin.label}#sha256={pin.sha256}"
