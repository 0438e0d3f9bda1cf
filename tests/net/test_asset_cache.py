"""The remote-asset cache is bounded (least recently used out first) and bodies stream to
disk (issue 23 item 3). Every body comes from a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import hashlib
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperframes_lambda.errors import InvalidConfigError
from hyperframes_lambda.net.asset_cache import (
    ENV_MAX_BYTES,
    LOCAL_DEFAULT_MAX_BYTES,
    AssetCache,
    default_max_bytes,
)
from hyperframes_lambda.net.fetch_policy import FetchPolicy
from hyperframes_lambda.net.remote_assets import RemoteFetcher
from tests.http_servers import QuietHandler, loopback_server

KiB = 1024
MiB = 1024 * KiB
BLOCK = bytes(range(256)) * (4 * KiB)  # 1 MiB, made once: the server allocates nothing big


def body_of(path: str) -> Iterator[bytes]:
    """``/<n>/<name>``: n bytes, a pattern seeded by the name (so bodies differ)."""
    size = int(path.split("/")[1])
    seed = hashlib.sha256(path.encode()).digest()
    prefix = seed * 4  # 128 bytes that differ per path
    sent = 0
    yield prefix[:size]
    sent = min(size, len(prefix))
    while sent < size:
        piece = BLOCK[: size - sent]
        yield piece
        sent += len(piece)


def expected(path: str) -> bytes:
    return b"".join(body_of(path))


class Bodies(QuietHandler):
    def do_GET(self) -> None:
        size = int(self.path.split("/")[1])
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        with contextlib.suppress(OSError):
            for piece in body_of(self.path):
                self.wfile.write(piece)


@pytest.fixture
def server() -> Iterator[str]:
    with loopback_server(Bodies) as base:
        yield base


def fetcher(cache: Path, bound: int) -> RemoteFetcher:
    """A fetcher as one plan gets it: loopback allowed, the cache shared by the container."""
    return RemoteFetcher(cache, policy=FetchPolicy(allow_private=True), cache_max_bytes=bound)


def test_a_warm_container_stays_under_the_bound(server: str, tmp_path: Path) -> None:
    """Plans fetching 3 MiB in total through one cache bounded at 1 MiB: after every fetch
    the cache holds at most 1 MiB, and every render got the right bytes."""
    cache = tmp_path / "tmp" / "hyperframes-cache" / "remote"
    fetched = 0
    for plan in range(6):
        plan_fetcher = fetcher(cache, MiB)
        for asset in range(4):
            path = f"/{128 * KiB}/plan{plan}-asset{asset}.mp4"
            dest = plan_fetcher.fetch_to(server + path, tmp_path / f"plan{plan}" / f"{asset}.mp4")
            assert dest.read_bytes() == expected(path)
            fetched += 128 * KiB
            on_disk = sum(f.stat().st_size for f in cache.iterdir() if f.is_file())
            assert on_disk <= MiB, f"cache holds {on_disk} bytes after {fetched} fetched"
    assert fetched == 3 * MiB
    assert AssetCache(cache, MiB).size() > MiB // 2  # it does cache, up to the bound


def test_least_recently_used_goes_first(server: str, tmp_path: Path) -> None:
    cache = tmp_path / "remote"
    size = 300 * KiB
    urls = {name: f"{server}/{size}/{name}.png" for name in "abcd"}
    first = fetcher(cache, MiB)
    for name in "abc":
        first.fetch(urls[name])
    again = fetcher(cache, MiB)  # a later plan uses a again: a is now the newest
    assert again.fetch(urls["a"]) == expected(f"/{size}/a.png")
    assert again.source_of(urls["a"]) == "cache"
    again.fetch(urls["d"])  # no room for four: b, the least recently used, goes
    later = fetcher(cache, MiB)
    for name in "acd":
        later.fetch(urls[name])
        assert later.source_of(urls[name]) == "cache", name
    later.fetch(urls["b"])
    assert later.source_of(urls["b"]) == "direct"


def test_an_asset_larger_than_the_bound_is_fetched_but_not_kept(
    server: str, tmp_path: Path
) -> None:
    cache = tmp_path / "remote"
    path = f"/{2 * MiB}/big.mp4"
    dest = fetcher(cache, MiB).fetch_to(server + path, tmp_path / "big.mp4")
    assert dest.read_bytes() == expected(path)
    assert [p.name for p in cache.iterdir() if not p.name.startswith(".")] == []
    assert not list(cache.glob(".part-*"))  # no download left behind


def test_the_fetcher_does_not_hold_the_body_in_memory(server: str, tmp_path: Path) -> None:
    """A 50 MiB body streams to disk: Python's allocations peak far below its size (the
    old fetcher joined every body in memory, and cached a second copy)."""
    size = 50 * MiB
    path = f"/{size}/large.mp4"
    dest = tmp_path / "large.mp4"
    tracemalloc.start()
    try:
        fetcher(tmp_path / "remote", 64 * MiB).fetch_to(server + path, dest)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert dest.stat().st_size == size
    assert peak < 8 * MiB, f"peak Python allocation {peak} bytes for a {size}-byte body"
    digest = hashlib.sha256()
    for piece in body_of(path):
        digest.update(piece)
    with dest.open("rb") as handle:
        assert hashlib.file_digest(handle, "sha256").hexdigest() == digest.hexdigest()


def test_the_bound_comes_from_the_environment() -> None:
    assert default_max_bytes({}) == LOCAL_DEFAULT_MAX_BYTES
    assert default_max_bytes({ENV_MAX_BYTES: "1048576"}) == MiB
    on_lambda = {"AWS_LAMBDA_FUNCTION_NAME": "f"}
    assert default_max_bytes(on_lambda) == 512 * MiB // 10  # Lambda's default /tmp
    sized = {**on_lambda, "HYPERFRAMES_EPHEMERAL_STORAGE_MB": "10240"}
    assert default_max_bytes(sized) == 1024 * MiB
    with pytest.raises(InvalidConfigError, match=ENV_MAX_BYTES):
        default_max_bytes({ENV_MAX_BYTES: "lots"})
