"""Fetch the remote (http/https) assets a composition references, with an npm fallback.

Why: compositions routinely load GSAP & co. from jsDelivr, unpkg or cdnjs. Those hosts are
not always reachable (this build machine, locked-down networks), but the same files are in
the package's npm tarball, which the registry serves with a published SHA-512. Each URL is
fetched once per machine while its disk-cache entry lasts (the cache is bounded, least
recently used out first: :mod:`asset_cache`), bodies stream to disk rather than memory,
and we remember where its bytes came from so the render log can say so.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import posixpath
import shutil
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..cache import atomic_writer, cache_root
from ..errors import (
    AssetFetchError,
    AssetIntegrityError,
    AssetTooLargeError,
    FetchDeadlineError,
    FetchNotAllowedError,
    RenderError,
)
from ..net import npm_registry
from ..net.asset_cache import AssetCache
from ..net.fetch_policy import ALLOWED_SCHEMES, OPT_IN_HINT, FetchBudget, FetchPolicy
from ..net.safe_http import guarded_get

NO_PACKAGE = "no npm package named by this URL"
COPY_SIZE = 1 << 20

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


class _HashingSink:
    """Writes a body to a file as it arrives, hashing and counting it on the way."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)

    def restart(self) -> None:
        self.handle.seek(0)
        self.handle.truncate()
        self.digest = hashlib.sha256()
        self.size = 0


class RemoteFetcher:
    """Fetches remote asset URLs: disk cache → the URL itself → the npm tarball.

    One fetcher per plan: it carries the plan's :class:`FetchBudget` (bytes and seconds).
    Direct fetches follow ``policy`` (default: :meth:`FetchPolicy.from_env`); a policy
    refusal of a CDN URL still tries the npm tarball, which is our registry fetch.
    Bodies are streamed to a file in the cache directory (hashed on the way), never held
    whole in memory; the cache keeps under its bound (:mod:`asset_cache`). A URL fetched
    twice by one fetcher is charged to the budget once.
    """

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        allow_direct: bool = True,
        policy: FetchPolicy | None = None,
        cache_max_bytes: int | None = None,
    ) -> None:
        self.cache_dir = cache_dir if cache_dir is not None else cache_root() / "remote"
        self.cache = AssetCache(self.cache_dir, cache_max_bytes)
        self.allow_direct = allow_direct
        self.policy = policy if policy is not None else FetchPolicy.from_env()
        self.budget = FetchBudget(self.policy)
        self.records: dict[str, FetchRecord] = {}
        self._lock = threading.Lock()

    def source_of(self, url: str) -> str | None:
        """``direct``, ``npm:<name>@<version>/<path>`` or ``cache`` for a fetched URL."""
        record = self.records.get(url)
        return record.source if record else None

    def fetch_to(self, url: str, dest: Path) -> Path:
        """Fetch ``url`` and write it atomically to ``dest``, a block at a time."""
        with self.open(url) as body, atomic_writer(dest) as out:
            shutil.copyfileobj(body, out, COPY_SIZE)
        return dest

    def fetch(self, url: str) -> bytes:
        """The bytes of ``url`` in memory: for small text (stylesheets); use
        :meth:`fetch_to` for anything that may be large. Errors as :meth:`open`."""
        with self.open(url) as body:
            return body.read()

    @contextlib.contextmanager
    def open(self, url: str) -> Iterator[IO[bytes]]:
        """An open file holding the body of ``url``, positioned at its start.

        Raises AssetFetchError naming the URL and every failure, or the policy's
        FetchNotAllowedError / AssetTooLargeError / FetchDeadlineError."""
        _check_before_cache(url, self.policy)
        key = hashlib.sha256(url.encode()).hexdigest()
        handle = self._open_cached(url, key)
        if handle is None:
            handle = self._download(url, key)
        try:
            yield handle
        finally:
            handle.close()

    def _charge(self, url: str, size: int) -> bool:
        """Admit ``size`` bytes for ``url`` unless this fetcher already did; True if new."""
        with self._lock:
            if url in self.records:
                return False
        self.budget.admit(url, size)
        return True

    def _record(self, record: FetchRecord) -> None:
        with self._lock:
            self.records.setdefault(record.url, record)

    def _open_cached(self, url: str, key: str) -> IO[bytes] | None:
        """The cached body, only when its recorded URL and sha256 still match."""
        hit = self.cache.open(key)
        if hit is None:
            return None
        meta, handle = hit.meta, hit.handle
        digest = hashlib.sha256()
        size = 0
        while block := handle.read(COPY_SIZE):
            digest.update(block)
            size += len(block)
        if meta.get("url") != url or meta.get("sha256") != digest.hexdigest():
            handle.close()
            return None
        handle.seek(0)
        try:
            self._charge(url, size)
        except BaseException:
            handle.close()
            raise
        origin = str(meta.get("source", "unknown"))
        self._record(FetchRecord(url, "cache", digest.hexdigest(), size, origin))
        return handle

    def _download(self, url: str, key: str) -> IO[bytes]:
        """Fetch ``url`` into a file (cached when it fits); return it open at its start."""
        try:
            part = self.cache.new_part()
        except OSError:  # an unwritable cache: the temp directory still works
            part = tempfile.NamedTemporaryFile()  # noqa: SIM115 - returned open
        part_path = Path(part.name)
        try:
            sink = _HashingSink(part)
            source = self._fetch_uncached(url, sink)
            self._charge(url, sink.size)
            part.flush()
            digest = sink.digest.hexdigest()
            meta = {"url": url, "source": source, "sha256": digest, "size": sink.size}
            if part_path.parent == self.cache_dir:
                try:
                    self.cache.commit(key, part_path, meta)
                except OSError:
                    part_path.unlink(missing_ok=True)  # the cache only saves a later fetch
            self._record(FetchRecord(url, source, digest, sink.size, None))
            part.seek(0)
            return part
        except BaseException:
            part.close()
            part_path.unlink(missing_ok=True)
            raise

    def _fetch_uncached(self, url: str, sink: _HashingSink) -> str:
        """Stream the body into ``sink``; return where it came from."""
        direct_error = "direct fetch disabled"
        refusal: RenderError | None = None  # the policy's verdict on the direct fetch
        if self.allow_direct:
            try:
                guarded_get(url, self.policy, self.budget, npm_registry.USER_AGENT, sink)
            except AssetTooLargeError:
                raise  # the npm tarball holds the same bytes: no fallback can help
            except (FetchNotAllowedError, FetchDeadlineError) as exc:
                if self.budget.out_of_time():
                    raise  # the plan's fetch deadline is spent
                refusal, direct_error = exc, str(exc)
            except AssetFetchError as exc:
                direct_error = str(exc)
            else:
                return "direct"
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
                sink.restart()
                sink.write(data)
                return f"npm:{npm_file.name}@{version}/{path}"
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
