"""Fetch the remote (http/https) assets a composition references, with an npm fallback.

Why: compositions routinely load GSAP & co. from jsDelivr, unpkg or cdnjs. Those hosts are
not always reachable (this build machine, locked-down networks), but the same files are in
the package's npm tarball, which the registry serves with a published SHA-512. Each URL is
fetched once per machine (disk cache) and once per render (memory), and we remember where
its bytes came from so the render log can say so.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import npm_registry
from .cache import cache_root, write_atomic
from .errors import AssetFetchError, AssetIntegrityError

DIRECT_TIMEOUT_S = 15.0
NO_PACKAGE = "no npm package named by this URL"

_JSDELIVR_HOSTS = frozenset(
    {"cdn.jsdelivr.net", "fastly.jsdelivr.net", "gcore.jsdelivr.net", "testingcf.jsdelivr.net"}
)
_UNPKG_HOSTS = frozenset({"unpkg.com", "www.unpkg.com"})
_CDNJS_HOSTS = frozenset({"cdnjs.cloudflare.com"})


@dataclass(frozen=True)
class NpmFile:
    """A file of an npm package named by a CDN URL.

    ``version_spec`` is None when the URL names no version (latest); ``path`` is None when it
    names no file (the package's default entry).
    """

    name: str
    version_spec: str | None
    path: str | None
    cdnjs: bool = False  # cdnjs paths are relative to a build dir; try ``dist/`` and basename


@dataclass(frozen=True)
class FetchRecord:
    """Where the bytes of one URL came from: ``direct``, ``npm:<name>@<ver>/<path>``, ``cache``.

    For ``cache``, ``origin`` is the source recorded when the bytes were first fetched.
    """

    url: str
    source: str
    sha256: str
    size: int
    origin: str | None = None


def _split_package(segments: list[str]) -> tuple[str, str | None, list[str]] | None:
    """``[@scope/]name[@version]`` at the start of ``segments`` → (name, version, rest)."""
    if not segments or not segments[0]:
        return None
    if segments[0].startswith("@"):
        if len(segments) < 2 or not segments[1]:
            return None
        scope, head, rest = segments[0], segments[1], segments[2:]
    else:
        scope, head, rest = "", segments[0], segments[1:]
    name, sep, version = head.partition("@")
    if not name or (sep and not version):
        return None
    full = f"{scope}/{name}" if scope else name
    return full, (version or None), rest


def _path_of(rest: list[str]) -> str | None:
    path = "/".join(segment for segment in rest if segment)
    return path or None


def npm_file_for_cdn_url(url: str) -> NpmFile | None:
    """The npm file a jsDelivr (``/npm/``), unpkg or cdnjs URL serves, or None."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https"):
        return None
    host = (parsed.hostname or "").lower()
    segments = [urllib.parse.unquote(s) for s in parsed.path.split("/")[1:]]
    if host in _JSDELIVR_HOSTS:
        if len(segments) < 2 or segments[0] != "npm":
            return None  # /gh/, /combine/, /wp/: not an npm package
        split = _split_package(segments[1:])
        if split is None:
            return None
        name, version, rest = split
        path = _path_of(rest)
        if path is not None and (path == "+esm" or path.endswith("/+esm")):
            return None  # a bundle jsDelivr builds on the fly; not a file of the tarball
        return NpmFile(name, version, path)
    if host in _UNPKG_HOSTS:
        if segments and segments[0] == "browse":
            return None
        split = _split_package(segments)
        if split is None:
            return None
        name, version, rest = split
        return NpmFile(name, version, _path_of(rest))
    if host in _CDNJS_HOSTS:
        if len(segments) < 5 or segments[:2] != ["ajax", "libs"]:
            return None
        lib, version, rest = segments[2], segments[3], segments[4:]
        path = _path_of(rest)
        if not lib or not version or path is None:
            return None
        return NpmFile(lib.lower(), version, path, cdnjs=True)
    return None


def resolve_npm_file(npm_file: NpmFile) -> tuple[str, str, bytes]:
    """Read ``npm_file`` from its package tarball; return (version, path in package, bytes)."""
    version = npm_registry.resolve_version(npm_file.name, npm_file.version_spec)
    if npm_file.path is None:
        path = npm_registry.default_entry(npm_file.name, version)
        return version, path, npm_registry.read_package_file(npm_file.name, version, path)
    members = npm_registry.package_members(npm_file.name, version)
    wanted = npm_file.path.lstrip("/")
    candidates = [wanted]
    if npm_file.cdnjs:
        candidates.append(f"dist/{wanted}")
    else:
        # unpkg/jsDelivr serve ``x`` for ``x.js`` and a directory's index.js.
        candidates += [f"{wanted}.js", f"{wanted.rstrip('/')}/index.js"]
    for candidate in candidates:
        if candidate in members:
            data = npm_registry.read_package_file(npm_file.name, version, candidate)
            return version, candidate, data
    if npm_file.cdnjs:
        base = posixpath.basename(wanted)
        same_name = sorted(m for m in members if posixpath.basename(m) == base)
        if len(same_name) == 1:
            data = npm_registry.read_package_file(npm_file.name, version, same_name[0])
            return version, same_name[0], data
        if len(same_name) > 1:
            raise AssetFetchError(
                f"npm package {npm_file.name}@{version}: {wanted!r} is ambiguous "
                f"({', '.join(same_name[:5])})"
            )
    raise AssetFetchError(
        f"npm package {npm_file.name}@{version} has no file {wanted!r} "
        f"(tried {', '.join(candidates)})"
    )


def _direct_get(url: str) -> bytes:
    # One attempt only: if the host is unreachable the npm fallback is the better retry.
    request = urllib.request.Request(url, headers={"User-Agent": npm_registry.USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=DIRECT_TIMEOUT_S) as response:
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as exc:
        exc.close()
        raise AssetFetchError(f"HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AssetFetchError(f"{type(exc).__name__}: {reason}") from exc
    except Exception as exc:  # http.client raises a zoo of types; report it, then fall back
        raise AssetFetchError(f"{type(exc).__name__}: {exc}") from exc


class RemoteFetcher:
    """Fetches remote asset URLs: memory → disk cache → the URL itself → the npm tarball."""

    def __init__(self, cache_dir: Path | None = None, *, allow_direct: bool = True) -> None:
        self.cache_dir = cache_dir if cache_dir is not None else cache_root() / "remote"
        self.allow_direct = allow_direct
        self.records: dict[str, FetchRecord] = {}
        self._memory: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def source_of(self, url: str) -> str | None:
        """``direct``, ``npm:<name>@<version>/<path>`` or ``cache`` for a fetched URL."""
        record = self.records.get(url)
        return record.source if record else None

    def fetch_to(self, url: str, dest: Path) -> Path:
        """Fetch ``url`` and write it atomically to ``dest``."""
        write_atomic(dest, self.fetch(url))
        return dest

    def fetch(self, url: str) -> bytes:
        """The bytes of ``url``; raises AssetFetchError naming the URL and every failure."""
        with self._lock:
            hit = self._memory.get(url)
        if hit is not None:
            return hit
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise AssetFetchError(f"{url}: only absolute http(s) URLs can be fetched")
        key = hashlib.sha256(url.encode()).hexdigest()
        body_path = self.cache_dir / key
        meta_path = self.cache_dir / f"{key}.json"
        cached = self._read_cache(url, body_path, meta_path)
        if cached is not None:
            data, origin = cached
            self._remember(url, data, "cache", origin)
            return data
        data, source = self._fetch_uncached(url)
        digest = hashlib.sha256(data).hexdigest()
        write_atomic(body_path, data)
        meta = {"url": url, "source": source, "sha256": digest, "size": len(data)}
        write_atomic(meta_path, json.dumps(meta).encode())
        self._remember(url, data, source, None)
        return data

    def _remember(self, url: str, data: bytes, source: str, origin: str | None) -> None:
        record = FetchRecord(url, source, hashlib.sha256(data).hexdigest(), len(data), origin)
        with self._lock:
            self._memory[url] = data
            self.records[url] = record

    @staticmethod
    def _read_cache(url: str, body_path: Path, meta_path: Path) -> tuple[bytes, str] | None:
        """Cached bytes, only when their recorded URL and sha256 still match."""
        try:
            meta = json.loads(meta_path.read_text())
            data = body_path.read_bytes()
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or meta.get("url") != url:
            return None
        if meta.get("sha256") != hashlib.sha256(data).hexdigest():
            return None
        return data, str(meta.get("source", "unknown"))

    def _fetch_uncached(self, url: str) -> tuple[bytes, str]:
        direct_error = "direct fetch disabled"
        if self.allow_direct:
            try:
                return _direct_get(url), "direct"
            except AssetFetchError as exc:
                direct_error = str(exc)
        npm_file = npm_file_for_cdn_url(url)
        if npm_file is None:
            npm_error = NO_PACKAGE
        else:
            try:
                version, path, data = resolve_npm_file(npm_file)
            except AssetIntegrityError as exc:
                raise AssetIntegrityError(f"{url}: npm fallback: {exc}") from exc
            except AssetFetchError as exc:
                npm_error = str(exc)
            else:
                return data, f"npm:{npm_file.name}@{version}/{path}"
        raise AssetFetchError(
            f"could not fetch {url}: direct: {direct_error}; npm fallback: {npm_error}"
        )
