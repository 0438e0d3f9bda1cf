"""One GET of a composition's URL under a :class:`FetchPolicy` (see :mod:`fetch_policy`).

Why not urllib: it resolves the host itself (so the address we checked need not be the
one it connects to), follows redirects to anywhere, and has no byte cap or total deadline.
Here each hop is: check the scheme, resolve the host once, check every address, connect
to the checked address with the host name kept for the ``Host`` header and TLS (SNI and
certificate check), then follow a redirect only through the same steps. The body is
streamed and reading stops at the cap; a watchdog closes the socket at the deadline so a
server dripping headers or body a byte at a time cannot hold the plan.

Direct asset fetches do not use ``HTTP(S)_PROXY``: a proxy would resolve the name itself
and the address check would mean nothing.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
from dataclasses import dataclass
from typing import Protocol

from ..errors import AssetFetchError, AssetTooLargeError, FetchDeadlineError, FetchNotAllowedError
from ..net.fetch_policy import (
    ALLOWED_SCHEMES,
    ENV_DEADLINE,
    ENV_REQUEST_TIMEOUT,
    OPT_IN_HINT,
    FetchBudget,
    FetchPolicy,
)

READ_SIZE = 64 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class Sink(Protocol):
    """Where a body goes as it arrives (a file, a hashing writer): never held whole here."""

    def write(self, data: bytes, /) -> object: ...

    def restart(self) -> None:
        """Forget what was written (a retried exchange starts the body again)."""


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line


def _target(original: str, url: str) -> _Target:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AssetFetchError(f"{original}: {url!r} is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        via = "" if url == original else f" (redirected to {url})"
        raise FetchNotAllowedError(
            f"{original}{via}: refused by the fetch policy: only http and https URLs may be "
            f"fetched, not {scheme or 'a relative URL'}:"
        )
    if not parts.hostname:
        raise AssetFetchError(f"{original}: {url!r} has no host")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    default_port = 443 if scheme == "https" else 80
    return _Target(url, scheme, parts.hostname, port or default_port, path)


def _checked_addresses(original: str, target: _Target, policy: FetchPolicy) -> list[str]:
    """The addresses of ``target.host`` (resolved once), all of them allowed, or an error."""
    try:
        addresses = policy.resolver(target.host, target.port)
    except (OSError, UnicodeError) as exc:
        raise AssetFetchError(f"{original}: cannot resolve {target.host}: {exc}") from exc
    if not addresses:
        raise AssetFetchError(f"{original}: {target.host} resolves to no address")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        kind = policy.address_refusal(ip)
        if kind is not None:
            via = "" if target.url == original else f" (redirected to {target.url})"
            raise FetchNotAllowedError(
                f"{original}{via}: refused by the fetch policy: {target.host} resolves to "
                f"{ip}, a {kind} address; {OPT_IN_HINT}"
            )
    return addresses


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to a given address; ``Host`` stays the URL's host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address
        self.raw: socket.socket | None = None

    def connect(self) -> None:
        self.raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.raw


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As :class:`_PinnedHTTPConnection`, with TLS for the host name (SNI, certificate)."""

    def __init__(
        self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self.address = address
        self.tls = context
        self.raw: socket.socket | None = None

    def connect(self) -> None:
        self.raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(self.raw, server_hostname=self.host)


class _Watchdog:
    """Shuts a connection's socket down at the deadline, whatever it is blocked in."""

    def __init__(
        self, conn: _PinnedHTTPConnection | _PinnedHTTPSConnection, deadline: _Deadline
    ) -> None:
        self._conn = conn
        self._deadline = deadline
        self._timer = threading.Timer(max(0.0, deadline.left()), self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self._deadline.fired = True
        raw = self._conn.raw
        if raw is not None:
            with contextlib.suppress(OSError):  # already closed: nothing to stop
                raw.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


class _Deadline:
    """The time one URL (all its hops) must be done by, and which limit set it."""

    def __init__(self, url: str, policy: FetchPolicy, budget: FetchBudget) -> None:
        self.url = url
        self.started = time.monotonic()
        plan_left = budget.remaining_seconds(url)
        self.plan_bound = plan_left < policy.request_timeout_s
        self.at = self.started + min(policy.request_timeout_s, plan_left)
        self.policy = policy
        self.fired = False  # set by the watchdog when it closed the socket

    def left(self) -> float:
        return self.at - time.monotonic()

    def expired(self) -> bool:
        return self.fired or self.left() <= 0

    def error(self) -> FetchDeadlineError:
        if self.plan_bound:
            return FetchDeadlineError(
                f"{self.url}: the plan's fetches exceeded the plan fetch deadline of "
                f"{self.policy.deadline_s:g} s ({ENV_DEADLINE})"
            )
        return FetchDeadlineError(
            f"{self.url}: not fetched within the per-request timeout of "
            f"{self.policy.request_timeout_s:g} s ({ENV_REQUEST_TIMEOUT})"
        )


def guarded_get(
    url: str, policy: FetchPolicy, budget: FetchBudget, user_agent: str, sink: Sink
) -> int:
    """Stream the body of ``url`` into ``sink`` under ``policy``; return its size. Time
    spent is charged to ``budget``.

    Raises FetchNotAllowedError (scheme, address, redirects), AssetTooLargeError,
    FetchDeadlineError, or AssetFetchError (network failure, HTTP error status).
    """
    deadline = _Deadline(url, policy, budget)
    try:
        current = url
        for _ in range(policy.max_redirects + 1):
            target = _target(url, current)
            addresses = _checked_addresses(url, target, policy)
            location, size = _get_once(
                url, target, addresses, policy, budget, deadline, user_agent, sink
            )
            if location is None:
                return size
            current = urllib.parse.urljoin(current, location)
        raise FetchNotAllowedError(
            f"{url}: refused by the fetch policy: more than {policy.max_redirects} redirects"
        )
    finally:
        budget.spend(time.monotonic() - deadline.started)


def _connect(
    target: _Target, address: str, timeout: float
) -> _PinnedHTTPConnection | _PinnedHTTPSConnection:
    """A connection (not yet open) to ``address`` speaking for ``target.host``."""
    if target.scheme == "https":
        context = ssl.create_default_context()
        return _PinnedHTTPSConnection(target.host, target.port, address, timeout, context)
    return _PinnedHTTPConnection(target.host, target.port, address, timeout)


def _get_once(
    url: str,
    target: _Target,
    addresses: list[str],
    policy: FetchPolicy,
    budget: FetchBudget,
    deadline: _Deadline,
    user_agent: str,
    sink: Sink,
) -> tuple[str | None, int]:
    """One request to one checked address: (redirect location, 0) or (None, body size)."""
    if deadline.expired():
        raise deadline.error()
    last: Exception | None = None
    for address in addresses:  # every one of them passed the check
        conn = _connect(target, address, min(policy.request_timeout_s, deadline.left()))
        try:
            with _Watchdog(conn, deadline):
                try:
                    return _exchange(url, target, conn, policy, budget, deadline, user_agent, sink)
                except (OSError, http.client.HTTPException) as exc:
                    if deadline.expired():
                        raise deadline.error() from exc
                    last = exc
                    if conn.sock is not None:  # connected, then failed: do not try others
                        break
        finally:
            conn.close()
    raise AssetFetchError(f"{url}: {type(last).__name__}: {last}") from last


def _exchange(
    url: str,
    target: _Target,
    conn: _PinnedHTTPConnection | _PinnedHTTPSConnection,
    policy: FetchPolicy,
    budget: FetchBudget,
    deadline: _Deadline,
    user_agent: str,
    sink: Sink,
) -> tuple[str | None, int]:
    conn.request(
        "GET",
        target.path,
        headers={"User-Agent": user_agent, "Accept-Encoding": "identity", "Connection": "close"},
    )
    response = conn.getresponse()
    location = response.getheader("Location")
    if response.status in REDIRECT_STATUSES and location:
        return location, 0
    if not 200 <= response.status < 300:
        raise AssetFetchError(f"HTTP {response.status}")
    limit = min(policy.max_asset_bytes, budget.remaining_bytes())
    declared = response.getheader("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        budget.admit(url, int(declared))  # raises, naming the cap that was hit
        raise AssetTooLargeError(f"{url}: {declared} bytes exceeds the byte cap")
    sink.restart()
    size = 0
    while True:
        piece = response.read(READ_SIZE)
        if deadline.expired():
            raise deadline.error()
        if not piece:
            break
        size += len(piece)
        if size > limit:
            budget.admit(url, size)  # raises, naming the cap that was hit
            raise AssetTooLargeError(f"{url}: more than {limit} bytes")
        sink.write(piece)
    return None, size


def is_network_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is the network failing, not a definite answer."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        status = current.code if isinstance(current, urllib.error.HTTPError) else None
        status = getattr(current, "status", status)
        if isinstance(status, int):
            return status >= 500 or status == 429
        if isinstance(
            current,
            (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError,
             socket.timeout),
        ):  # fmt: skip
            return True
        current = current.__cause__ or current.__context__
    return False
