"""Read packages straight from the npm registry over HTTPS — no npm client needed.

Why: the public CDNs (jsDelivr, unpkg, cdnjs) are not always reachable (build hosts,
locked-down networks), but the registry is, and it serves the same files with a published
SHA-512. We use it for the Chromium build (SPEC §13) and as the fallback for CDN URLs a
composition references. Tarballs are verified before they land in the cache, so a cached
tarball is always one that matched its integrity.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import socket
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from ..cache import atomic_writer, cache_root, write_atomic
from ..errors import AssetFetchError, AssetIntegrityError
from .downloads import DownloadMeter

DEFAULT_REGISTRY = "https://registry.npmjs.org"
ENV_REGISTRY = "HYPERFRAMES_NPM_REGISTRY"
REQUEST_TIMEOUT_S = 60.0
ATTEMPTS = 2
USER_AGENT = "hyperframes-lambda (+npm registry client)"

_EXACT = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_PARTIAL = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.[xX*])?$")
_CARET_TILDE = re.compile(r"^([\^~])v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$")
_RELEASE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")

_metadata_lock = threading.Lock()
_metadata: dict[tuple[str, str], dict[str, Any]] = {}
_members: dict[Path, dict[str, tarfile.TarInfo]] = {}
_verified: set[tuple[Path, int, int]] = set()  # (path, size, mtime_ns) hashed this process


def registry_url() -> str:
    """The registry base URL, without a trailing slash."""
    # npm exports its config to child processes in lower case; that is the name to read.
    npm_env = os.environ.get("npm_config_registry")  # noqa: SIM112
    raw = os.environ.get(ENV_REGISTRY) or npm_env or DEFAULT_REGISTRY
    return raw.rstrip("/")


def package_url(name: str) -> str:
    """Metadata URL of ``name``; a scoped name's slash is escaped as the registry expects."""
    return f"{registry_url()}/{name.replace('/', '%2f')}"


# --- HTTP ------------------------------------------------------------------------------


class _HttpStatusError(Exception):
    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"HTTP {status} for {url}")
        self.status = status


_TRANSIENT = (
    urllib.error.URLError,
    http.client.HTTPException,
    socket.timeout,
    TimeoutError,
    ConnectionError,
)


def _open(url: str, *, accept: str | None = None, timeout: float = REQUEST_TIMEOUT_S) -> Any:
    headers = {"User-Agent": USER_AGENT}
    if accept:
        headers["Accept"] = accept
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise _HttpStatusError(exc.code, url) from exc


def _with_retries(url: str, action: Any) -> Any:
    """Run ``action()`` up to ATTEMPTS times; retry network errors and HTTP 5xx/429 only."""
    last: Exception | None = None
    for attempt in range(ATTEMPTS):
        try:
            return action()
        except _HttpStatusError as exc:
            if exc.status < 500 and exc.status != 429:
                raise
            last = exc
        except _TRANSIENT as exc:
            last = exc
        if attempt + 1 < ATTEMPTS:
            time.sleep(0.5 * (attempt + 1))
    raise AssetFetchError(f"could not fetch {url} after {ATTEMPTS} attempts: {last}") from last


def http_get(
    url: str,
    *,
    accept: str | None = None,
    timeout: float = REQUEST_TIMEOUT_S,
    announce: str | None = None,
) -> bytes:
    """GET ``url`` with a timeout and a retry; non-2xx and network errors raise AssetFetchError.

    ``announce`` names a download worth reporting (:mod:`.downloads`): a large file that
    fills a cache, not the registry's small metadata documents."""

    def once() -> bytes:
        with _open(url, accept=accept, timeout=timeout) as response:
            if announce is None:
                data: bytes = response.read()
                return data
            meter = DownloadMeter(announce, _host(url), _length(response))
            parts = []
            while chunk := response.read(1 << 20):
                parts.append(chunk)
                meter.advance(len(chunk))
            meter.finish()
            return b"".join(parts)

    try:
        result: bytes = _with_retries(url, once)
    except _HttpStatusError as exc:
        raise AssetFetchError(f"could not fetch {url}: HTTP {exc.status}") from exc
    return result


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _length(response: Any) -> int | None:
    """The response's Content-Length, when it gives one."""
    value = response.headers.get("Content-Length") if response.headers else None
    return int(value) if value and str(value).isdigit() else None


# --- metadata and versions -------------------------------------------------------------


def package_metadata(name: str) -> dict[str, Any]:
    """The registry document of ``name`` (fetched once per process)."""
    key = (registry_url(), name)
    with _metadata_lock:
        cached = _metadata.get(key)
    if cached is not None:
        return cached
    url = package_url(name)
    try:
        raw = http_get(url, accept="application/vnd.npm.install-v1+json")
    except AssetFetchError as exc:
        cause = exc.__cause__
        if isinstance(cause, _HttpStatusError) and cause.status == 404:
            raise AssetFetchError(
                f"npm package {name!r} does not exist in the registry ({url}: HTTP 404)"
            ) from exc
        raise AssetFetchError(f"npm package {name!r}: {exc}") from exc
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise AssetFetchError(f"npm package {name!r}: {url} did not return JSON") from exc
    if not isinstance(document, dict) or not isinstance(document.get("versions"), dict):
        raise AssetFetchError(f"npm package {name!r}: {url} has no 'versions'")
    with _metadata_lock:
        _metadata[key] = document
    return document


def _release_key(version: str) -> tuple[int, int, int] | None:
    match = _RELEASE.match(version)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def _highest(versions: list[str], accept: Any) -> str | None:
    keyed = [(key, v) for v in versions if (key := _release_key(v)) is not None and accept(key)]
    return max(keyed)[1] if keyed else None


def resolve_version(name: str, spec: str | None) -> str:
    """An exact version for ``spec``: exact as-is (no network), tags, ``3``/``3.12``, ``^``/``~``.

    Partial and range specs pick the highest release (never a prerelease) that matches.
    """
    spec = (spec or "latest").strip()
    if _EXACT.match(spec):
        return spec.removeprefix("v")
    document = package_metadata(name)
    tags = document.get("dist-tags") or {}
    if spec in tags:
        return str(tags[spec])
    versions = list(document["versions"])
    found: str | None = None
    partial = _PARTIAL.match(spec)
    ranged = _CARET_TILDE.match(spec)
    if partial:
        major = int(partial[1])
        minor = int(partial[2]) if partial[2] is not None else None
        found = _highest(versions, lambda k: k[0] == major and (minor is None or k[1] == minor))
    elif ranged:
        op, major = ranged[1], int(ranged[2])
        minor, patch = int(ranged[3] or 0), int(ranged[4] or 0)
        floor = (major, minor, patch)
        if op == "~" or (major == 0 and ranged[3] is not None):
            found = _highest(versions, lambda k: k[:2] == floor[:2] and k >= floor)
        else:
            found = _highest(versions, lambda k: k[0] == major and k >= floor)
    else:
        raise AssetFetchError(f"npm package {name!r}: unsupported version spec {spec!r}")
    if found is None:
        raise AssetFetchError(f"npm package {name!r} has no release matching {spec!r}")
    return found


def version_metadata(name: str, version: str) -> dict[str, Any]:
    """The registry entry of one exact version."""
    entry = package_metadata(name)["versions"].get(version)
    if not isinstance(entry, dict):
        raise AssetFetchError(f"npm package {name}@{version} does not exist ({package_url(name)})")
    return entry


# --- integrity -------------------------------------------------------------------------


def verify_digest(
    what: str,
    *,
    sha512: bytes,
    sha1: bytes,
    integrity: str | None,
    shasum: str | None,
) -> str:
    """Check computed digests against the published ones; return the SRI string that matched.

    ``integrity`` is SRI (``sha512-<base64>``, possibly several space-separated); without a
    sha512 entry, ``shasum`` (hex sha1) is used. Raises AssetIntegrityError naming both.
    """
    actual512 = "sha512-" + base64.b64encode(sha512).decode()
    expected512 = [token for token in (integrity or "").split() if token.startswith("sha512-")]
    if expected512:
        if actual512 in expected512:
            return actual512
        raise AssetIntegrityError(
            f"{what}: integrity mismatch, expected {' '.join(expected512)}, got {actual512}"
        )
    if shasum:
        actual1 = sha1.hex()
        if actual1 == shasum.lower():
            return "sha1-" + base64.b64encode(sha1).decode()
        raise AssetIntegrityError(
            f"{what}: sha1 mismatch, expected {shasum.lower()}, got {actual1}"
        )
    raise AssetIntegrityError(f"{what}: the registry publishes no integrity hash to check")


def verify_bytes(what: str, data: bytes, *, integrity: str | None, shasum: str | None) -> str:
    """:func:`verify_digest` over an in-memory buffer."""
    return verify_digest(
        what,
        sha512=hashlib.sha512(data).digest(),
        sha1=hashlib.sha1(data, usedforsecurity=False).digest(),
        integrity=integrity,
        shasum=shasum,
    )


def _file_sri(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


# --- tarballs --------------------------------------------------------------------------


def tarball_path(name: str, version: str) -> Path:
    """Where the verified tarball of ``name@version`` is cached."""
    return cache_root() / "npm" / name / f"{version}.tgz"


def _cached_tarball_ok(path: Path, sidecar: Path) -> bool:
    """A cached tarball counts only if it still hashes to what was verified when stored."""
    if not (path.is_file() and sidecar.is_file()):
        return False
    try:
        recorded = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return False
    sri = recorded.get("sri") if isinstance(recorded, dict) else None
    if not isinstance(sri, str):
        return False
    stat = path.stat()
    stamp = (path, stat.st_size, stat.st_mtime_ns)
    with _metadata_lock:
        if stamp in _verified:
            return True
    if _file_sri(path) != sri:
        return False
    with _metadata_lock:
        _verified.add(stamp)
    return True


def fetch_tarball(name: str, version: str) -> Path:
    """Download (once per machine) and verify the tarball of ``name@version``; return its path.

    The bytes are hashed while streaming to a temporary file and only renamed into the cache
    after they match ``dist.integrity`` (or ``dist.shasum``). A cached copy that no longer
    matches what was verified is downloaded again.
    """
    version = resolve_version(name, version)
    dest = tarball_path(name, version)
    sidecar = dest.with_name(dest.name + ".integrity.json")
    if _cached_tarball_ok(dest, sidecar):
        return dest
    dist = version_metadata(name, version).get("dist") or {}
    url = dist.get("tarball")
    if not isinstance(url, str):
        raise AssetFetchError(f"npm package {name}@{version} has no dist.tarball")
    what = f"npm package {name}@{version} ({url})"

    def once() -> str:
        sha512 = hashlib.sha512()
        sha1 = hashlib.sha1(usedforsecurity=False)
        with atomic_writer(dest) as out, _open(url) as response:
            meter = DownloadMeter(f"{name}@{version}", _host(url), _length(response))
            while chunk := response.read(1 << 20):
                sha512.update(chunk)
                sha1.update(chunk)
                out.write(chunk)
                meter.advance(len(chunk))
            meter.finish()
            # Raises inside the writer: the unverified file never replaces ``dest``.
            verify_digest(
                what,
                sha512=sha512.digest(),
                sha1=sha1.digest(),
                integrity=dist.get("integrity"),
                shasum=dist.get("shasum"),
            )
        # Record the sha512 the file has (also when the registry only published a sha1).
        return "sha512-" + base64.b64encode(sha512.digest()).decode()

    try:
        sri: str = _with_retries(url, once)
    except _HttpStatusError as exc:
        raise AssetFetchError(f"{what}: HTTP {exc.status}") from exc
    except AssetFetchError as exc:
        raise AssetFetchError(f"npm package {name}@{version}: {exc}") from exc
    with _metadata_lock:
        _members.pop(dest, None)
    write_atomic(sidecar, json.dumps({"sri": sri, "url": url}).encode())
    stat = dest.stat()
    with _metadata_lock:
        _verified.add((dest, stat.st_size, stat.st_mtime_ns))
    return dest


def _normalise_member(path: str) -> str:
    return path.strip().lstrip("/").removeprefix("./")


def package_members(name: str, version: str) -> dict[str, tarfile.TarInfo]:
    """Regular files of the tarball, keyed by their path inside the package.

    npm strips the first path component (normally ``package/``), so do we.
    """
    path = fetch_tarball(name, version)
    with _metadata_lock:
        cached = _members.get(path)
    if cached is not None:
        return cached
    members: dict[str, tarfile.TarInfo] = {}
    try:
        with tarfile.open(path, "r:gz") as archive:
            for info in archive:
                if info.isfile() and "/" in info.name:
                    members[_normalise_member(info.name.split("/", 1)[1])] = info
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise AssetFetchError(f"npm package {name}@{version}: unreadable tarball: {exc}") from exc
    with _metadata_lock:
        _members[path] = members
    return members


def read_package_file(name: str, version: str, path_in_package: str) -> bytes:
    """The bytes of ``package/<path_in_package>`` from the verified tarball."""
    version = resolve_version(name, version)
    wanted = _normalise_member(path_in_package)
    info = package_members(name, version).get(wanted)
    if info is None:
        raise AssetFetchError(f"npm package {name}@{version} has no file {wanted!r}")
    with tarfile.open(tarball_path(name, version), "r:gz") as archive:
        handle = archive.extractfile(info)
        if handle is None:
            raise AssetFetchError(f"npm package {name}@{version}: {wanted!r} is not a file")
        return handle.read()


def default_entry(name: str, version: str) -> str:
    """The file a bare jsDelivr/unpkg URL of the package serves.

    package.json ``jsdelivr``, else ``unpkg``, else ``browser`` (when a string), else
    ``main``, else ``index.js``; like the CDNs, ``.js`` or ``/index.js`` is appended when the
    named path is not itself a file.
    """
    version = resolve_version(name, version)
    try:
        manifest = json.loads(read_package_file(name, version, "package.json"))
    except ValueError as exc:
        raise AssetFetchError(f"npm package {name}@{version}: invalid package.json") from exc
    entry = "index.js"
    for field in ("jsdelivr", "unpkg", "browser", "main"):
        value = manifest.get(field) if isinstance(manifest, dict) else None
        if isinstance(value, str) and value.strip():
            entry = value
            break
    entry = _normalise_member(entry)
    members = package_members(name, version)
    for candidate in (entry, f"{entry}.js", f"{entry.rstrip('/')}/index.js"):
        if candidate in members:
            return candidate
    return entry
