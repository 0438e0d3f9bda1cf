"""Fetch the remote (http/https) assets a composition references, with an npm fallback.

Why: compositions routinely load GSAP & co. from jsDelivr, unpkg or cdnjs. Those hosts are
not always reachable (this build machine, locked-down networks), but the same files are in
the package's npm tarball, which the registry serves with a published SHA-512. Each URL is
fetched once per machine (disk cache) and once per render (memory), and we remember where
its bytes came from so the render log can say so.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import posixpath
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from ..cache import cache_root, write_atomic
from ..errors import (
    AssetFetchError,
    AssetIntegrityError,
    AssetTooLargeError,
    FetchDeadlineError,
    FetchNotAllowedError,
    RenderError,
)
from ..net import npm_registry
from ..net.fetch_policy import ALLOWED_SCHEMES, OPT_IN_HINT, FetchBudget, FetchPolicy
from ..net.safe_http import guarded_get

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


class RemoteFetcher:
    """Fetches remote asset URLs: memory → disk cache → the URL itself → the npm tarball.

    One fetcher per plan: it carries the plan's :class:`FetchBudget` (bytes and seconds).
    Direct fetches follow ``policy`` (default: :meth:`FetchPolicy.from_env`); a policy
    refusal of a CDN URL still tries the npm tarball, which is our registry fetch.
    """

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        allow_direct: bool = True,
        policy: FetchPolicy | None = None,
    ) -> None:
        self.cache_dir = cache_dir if cache_dir is not None else cache_root() / "remote"
        self.allow_direct = allow_direct
        self.policy = policy if policy is not None else FetchPolicy.from_env()
        self.budget = FetchBudget(self.policy)
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
        """The bytes of ``url``; raises AssetFetchError naming the URL and every failure,
        or the policy's FetchNotAllowedError / AssetTooLargeError / FetchDeadlineError."""
        with self._lock:
            hit = self._memory.get(url)
        if hit is not None:
            return hit
        _check_before_cache(url, self.policy)
        key = hashlib.sha256(url.encode()).hexdigest()
        body_path = self.cache_dir / key
        meta_path = self.cache_dir / f"{key}.json"
        cached = self._read_cache(url, body_path, meta_path)
        if cached is not None:
            data, origin = cached
            self.budget.admit(url, len(data))
            self._remember(url, data, "cache", origin)
            return data
        data, source = self._fetch_uncached(url)
        self.budget.admit(url, len(data))
        digest = hashlib.sha256(data).hexdigest()
        meta = {"url": url, "source": source, "sha256": digest, "size": len(data)}
        try:
            write_atomic(body_path, data)
            write_atomic(meta_path, json.dumps(meta).encode())
        except OSError:
            pass  # the disk cache only saves a later fetch; this render has the bytes
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
        refusal: RenderError | None = None  # the policy's verdict on the direct fetch
        if self.allow_direct:
            try:
                return guarded_get(url, self.policy, self.budget, npm_registry.USER_AGENT), "direct"
            except AssetTooLargeError:
                raise  # the npm tarball holds the same bytes: no fallback can help
            except (FetchNotAllowedError, FetchDeadlineError) as exc:
                if self.budget.out_of_time():
                    raise  # the plan's fetch deadline is spent
                refusal, direct_error = exc, str(exc)
            except AssetFetchError as exc:
                direct_error = str(exc)
        npm_file = npm_file_for_cdn_url(url)
        if npm_file is None:
            if refusal is not None:
                raise refusal
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
        message = f"could not fetch {url}: direct: {direct_error}; npm fallback: {npm_error}"
        if refusal is not None:
            raise type(refusal)(message) from refusal
        raise AssetFetchError(message)


def _check_before_cache(url: str, policy: FetchPolicy) -> None:
    """The checks that need no network, made even for a cached URL: an absolute http(s)
    URL, and (unless private fetches are allowed) not an IP literal of a private range."""
    try:
        parsed = urllib.parse.urlsplit(url)
        host = parsed.hostname
    except ValueError as exc:
        raise AssetFetchError(f"{url!r} is not a valid URL ({exc})") from None
    if parsed.scheme.lower() not in ALLOWED_SCHEMES:
        raise FetchNotAllowedError(
            f"{url}: refused by the fetch policy: only http and https URLs may be fetched"
        )
    if not host:
        raise AssetFetchError(f"{url}: only absolute http(s) URLs can be fetched")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return
    kind = policy.address_refusal(literal)
    if kind is not None:
        raise FetchNotAllowedError(
            f"{url}: refused by the fetch policy: {literal} is a {kind} address; {OPT_IN_HINT}"
        )
