"""What the planner may fetch for a composition, and how much (issue 10, README "Fetch policy").

Why: a composition is untrusted input. Every URL it names is fetched at plan time and the
bytes end up in the plan and the video, so without a policy a template could read the
instance metadata service (169.254.169.254), the Lambda Runtime API or any internal host,
and a huge or slow-drip asset could exhaust memory or hold the plan until Lambda kills it.

The policy is data (a frozen dataclass) plus two small pieces of state per plan
(:class:`FetchBudget`). The guarded HTTP client that enforces it is :mod:`safe_http`.
Address checks are done on the addresses a host *resolves to*, and the client connects
to exactly the address it checked (no second DNS lookup that a rebinding server could
answer differently), again on every redirect hop.

Our own fetches of pinned npm packages (page runtime, fonts, Chromium) are not the
composition's and do not go through this policy.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import AssetTooLargeError, FetchDeadlineError, InvalidConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ENV_ALLOW_PRIVATE = "HYPERFRAMES_ALLOW_PRIVATE_FETCH"
ENV_MAX_ASSET_BYTES = "HYPERFRAMES_FETCH_MAX_ASSET_BYTES"
ENV_MAX_TOTAL_BYTES = "HYPERFRAMES_FETCH_MAX_TOTAL_BYTES"
ENV_REQUEST_TIMEOUT = "HYPERFRAMES_FETCH_TIMEOUT_S"
ENV_DEADLINE = "HYPERFRAMES_FETCH_DEADLINE_S"

DEFAULT_MAX_ASSET_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_TOTAL_BYTES = 1024 * 1024 * 1024
DEFAULT_REQUEST_TIMEOUT_S = 30.0
DEFAULT_DEADLINE_S = 300.0
DEFAULT_MAX_REDIRECTS = 5
ALLOWED_SCHEMES = ("http", "https")
OPT_IN_HINT = f"set {ENV_ALLOW_PRIVATE}=1 to allow private addresses for local development"

# NAT64's well-known prefix embeds an IPv4 address in its last 32 bits (RFC 6052).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def address_kind(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public internet address (``"loopback"``, ``"link-local"`` …),
    or None when it is one. IPv6 addresses that embed an IPv4 address (v4-mapped, 6to4,
    Teredo, NAT64) are judged by the embedded address too."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = address_kind(embedded)
            if inner is not None:
                return f"{inner} (embedded in {ip})"
            if ip.ipv4_mapped is not None:
                return None  # the socket talks to the IPv4 address itself
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("not globally routable", not ip.is_global),
    )
    return next((kind for kind, hit in checks if hit), None)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IP literals resolve to themselves)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _public_only(ip: IPAddress) -> str | None:
    return address_kind(ip)


@dataclass(frozen=True)
class FetchPolicy:
    """Rules for fetching the URLs a composition names.

    ``refusal_reason`` decides about one resolved address (None: allowed); tests replace it
    to declare a loopback address "public". ``resolver`` maps (host, port) to addresses.
    """

    allow_private: bool = False
    max_asset_bytes: int = DEFAULT_MAX_ASSET_BYTES
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    deadline_s: float = DEFAULT_DEADLINE_S
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    resolver: Callable[[str, int], list[str]] = field(default=system_resolver, compare=False)
    refusal_reason: Callable[[IPAddress], str | None] = field(default=_public_only, compare=False)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> FetchPolicy:
        """The policy the environment sets (defaults for what it does not set)."""
        env = dict(os.environ if environ is None else environ)
        return cls(
            allow_private=env.get(ENV_ALLOW_PRIVATE, "").strip().lower() in ("1", "true", "yes"),
            max_asset_bytes=int(_positive(env, ENV_MAX_ASSET_BYTES, DEFAULT_MAX_ASSET_BYTES)),
            max_total_bytes=int(_positive(env, ENV_MAX_TOTAL_BYTES, DEFAULT_MAX_TOTAL_BYTES)),
            request_timeout_s=_positive(env, ENV_REQUEST_TIMEOUT, DEFAULT_REQUEST_TIMEOUT_S),
            deadline_s=_positive(env, ENV_DEADLINE, DEFAULT_DEADLINE_S),
        )

    def address_refusal(self, ip: IPAddress) -> str | None:
        """Why a connection to ``ip`` is refused, or None."""
        if self.allow_private:
            return None
        return self.refusal_reason(ip)


def _positive(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise InvalidConfigError(f"{name}={raw!r} must be a positive number")
    return value


class FetchBudget:
    """What one plan may still fetch: bytes across all assets and seconds spent fetching.

    Thread-safe; one per :class:`RemoteFetcher` (one fetcher per plan).
    """

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self.bytes_used = 0
        self.seconds_used = 0.0
        self._lock = threading.Lock()

    def admit(self, url: str, size: int) -> None:
        """Count ``size`` more bytes for ``url``; raise when an asset or the plan is too big."""
        cap = self.policy.max_asset_bytes
        if size > cap:
            raise AssetTooLargeError(
                f"{url}: {size} bytes exceeds the per-asset cap of {cap} bytes "
                f"({ENV_MAX_ASSET_BYTES})"
            )
        with self._lock:
            total = self.bytes_used + size
            if total > self.policy.max_total_bytes:
                raise AssetTooLargeError(
                    f"{url}: the plan's remote assets exceed the per-plan cap of "
                    f"{self.policy.max_total_bytes} bytes ({ENV_MAX_TOTAL_BYTES}); "
                    f"{self.bytes_used} bytes were fetched before this one"
                )
            self.bytes_used = total

    def remaining_bytes(self) -> int:
        with self._lock:
            return self.policy.max_total_bytes - self.bytes_used

    def remaining_seconds(self, url: str) -> float:
        """Seconds left for fetching this plan's assets; raise when none are left."""
        with self._lock:
            left = self.policy.deadline_s - self.seconds_used
        if left <= 0:
            raise FetchDeadlineError(
                f"{url}: the plan's fetches exceeded the plan fetch deadline of "
                f"{self.policy.deadline_s:g} s ({ENV_DEADLINE})"
            )
        return left

    def out_of_time(self) -> bool:
        with self._lock:
            return self.seconds_used >= self.policy.deadline_s

    def spend(self, seconds: float) -> None:
        with self._lock:
            self.seconds_used += seconds
