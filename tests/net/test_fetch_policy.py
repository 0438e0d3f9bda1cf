"""The fetch policy for URLs a composition names (issue 10 item 1).

Every server here is a real HTTP server on a loopback address. To test what happens with
"public" hosts without leaving the machine, policies declare 127.0.0.2 public through
their ``refusal_reason`` hook and map made-up host names to loopback addresses through
their ``resolver`` hook; the default policy (what users get) is tested on real loopback.
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from hyperframes_lambda.compile.project import compile_project
from hyperframes_lambda.errors import (
    AssetFetchError,
    AssetTooLargeError,
    FetchDeadlineError,
    FetchNotAllowedError,
    InvalidConfigError,
)
from hyperframes_lambda.net.fetch_policy import (
    ENV_ALLOW_PRIVATE,
    FetchPolicy,
    IPAddress,
    address_kind,
)
from hyperframes_lambda.net.remote_assets import RemoteFetcher

MiB = 1024 * 1024
PUBLIC_FOR_TESTS = ipaddress.ip_address("127.0.0.2")

pytestmark = pytest.mark.usefixtures("temp_cache")


Route = Callable[[BaseHTTPRequestHandler], None]


class _Server:
    """A loopback HTTP server whose answers are functions of the request path."""

    def __init__(self, host: str, routes: dict[str, Route]) -> None:
        self.requests: list[tuple[str, str]] = []  # (path, Host header)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:
                outer.requests.append((self.path, self.headers.get("Host", "")))
                route = routes.get(self.path.split("?")[0])
                if route is None:
                    self.send_error(404)
                    return
                with contextlib.suppress(OSError):  # the client may hang up on purpose
                    route(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.host, self.port = host, self.httpd.server_address[1]

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"


@contextlib.contextmanager
def serving(host: str, routes: dict[str, Route]) -> Iterator[_Server]:
    server = _Server(host, routes)
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


def body(data: bytes, *, length: bool = True) -> Route:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        if length:
            handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return answer


def redirect(location: Callable[[], str]) -> Route:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location())
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def endless(handler: BaseHTTPRequestHandler) -> None:
    """200 with no length, then 64 KiB pieces for ever (until the client hangs up)."""
    handler.send_response(200)
    handler.end_headers()
    piece = b"x" * 65536
    while True:
        handler.wfile.write(piece)


def drip(handler: BaseHTTPRequestHandler) -> None:
    """200, then one byte every 50 ms for ever: each read succeeds, the whole never ends."""
    handler.send_response(200)
    handler.end_headers()
    while True:
        handler.wfile.write(b"x")
        handler.wfile.flush()
        time.sleep(0.05)


def only_test_public(ip: IPAddress) -> str | None:
    """127.0.0.2 plays a public host; every other address is judged as usual."""
    return None if ip == PUBLIC_FOR_TESTS else address_kind(ip)


def test_policy(**overrides: Any) -> FetchPolicy:
    return FetchPolicy(refusal_reason=only_test_public, **overrides)


test_policy.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


# --- the address rules -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("172.16.0.1", "private"),
        ("fd00::1", "private"),
        ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback (embedded in ::ffff:7f00:1)"),
        ("::ffff:169.254.169.254", "link-local (embedded in ::ffff:a9fe:a9fe)"),
        ("2002:7f00:1::", "loopback (embedded in 2002:7f00:1::)"),  # 6to4
        ("64:ff9b::a9fe:a9fe", "link-local (embedded in 64:ff9b::a9fe:a9fe)"),  # NAT64
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_address_kind(address: str, kind: str | None) -> None:
    assert address_kind(ipaddress.ip_address(address)) == kind


def test_opt_in_comes_from_the_environment() -> None:
    assert not FetchPolicy.from_env({}).allow_private
    assert FetchPolicy.from_env({ENV_ALLOW_PRIVATE: "1"}).allow_private
    assert FetchPolicy.from_env({ENV_ALLOW_PRIVATE: "1"}).address_refusal(PUBLIC_FOR_TESTS) is None
    limited = FetchPolicy.from_env(
        {"HYPERFRAMES_FETCH_MAX_ASSET_BYTES": "1048576", "HYPERFRAMES_FETCH_DEADLINE_S": "2.5"}
    )
    assert (limited.max_asset_bytes, limited.deadline_s) == (MiB, 2.5)
    with pytest.raises(InvalidConfigError, match="HYPERFRAMES_FETCH_TIMEOUT_S='soon'"):
        FetchPolicy.from_env({"HYPERFRAMES_FETCH_TIMEOUT_S": "soon"})


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:{port}/asset.js", "loopback"),
        ("http://localhost:{port}/asset.js", "loopback"),  # a name resolving to loopback
        ("http://[::ffff:127.0.0.1]:{port}/asset.js", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.1/x.png", "private"),
        ("http://0.0.0.0:{port}/asset.js", "unspecified"),
    ],
)
def test_private_addresses_are_refused_by_default(
    url: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_ALLOW_PRIVATE, raising=False)
    with serving("127.0.0.1", {"/asset.js": body(b"secret")}) as server:
        target = url.format(port=server.port)
        with pytest.raises(FetchNotAllowedError) as caught:
            RemoteFetcher().fetch(target)
        assert server.requests == []  # refused before any connection
    message = str(caught.value)
    assert target in message and kind in message and ENV_ALLOW_PRIVATE in message
    assert caught.value.code == "FETCH_NOT_ALLOWED" and not caught.value.retryable


def test_opting_in_reaches_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_ALLOW_PRIVATE, "1")
    with serving("127.0.0.1", {"/asset.js": body(b"local dev")}) as server:
        assert RemoteFetcher().fetch(server.url("/asset.js")) == b"local dev"


def test_public_looking_name_resolving_to_loopback_is_refused() -> None:
    resolved: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    with serving("127.0.0.1", {"/a.js": body(b"secret")}) as server:
        url = server.url("/a.js", host="cdn.example.com")
        with pytest.raises(
            FetchNotAllowedError, match=r"cdn\.example\.com resolves to 127\.0\.0\.1"
        ):
            RemoteFetcher(policy=test_policy(resolver=resolver)).fetch(url)
        assert server.requests == [] and resolved == ["cdn.example.com"]


def test_connects_to_the_address_it_checked_with_the_host_name_kept() -> None:
    """DNS rebinding: the name is resolved once per hop and that address is the one used;
    a second lookup (which could answer 127.0.0.1) never happens."""
    answers = iter([["127.0.0.2"], ["127.0.0.1"]])
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    with serving("127.0.0.2", {"/lib.js": body(b"public bytes")}) as server:
        url = server.url("/lib.js", host="assets.example.test")
        data = RemoteFetcher(policy=test_policy(resolver=rebinding)).fetch(url)
        assert data == b"public bytes" and calls == ["assets.example.test"]
        assert server.requests == [("/lib.js", f"assets.example.test:{server.port}")]


def test_redirect_to_a_private_address_is_refused() -> None:
    with (
        serving("127.0.0.1", {"/secret": body(b"internal")}) as internal,
        serving(
            "127.0.0.2",
            {
                "/to-private": redirect(lambda: internal.url("/secret")),
                "/to-public": redirect(lambda: public.url("/ok.js")),
                "/ok.js": body(b"fine"),
            },
        ) as public,
    ):
        fetcher = RemoteFetcher(policy=test_policy())
        assert fetcher.fetch(public.url("/to-public")) == b"fine"  # public → public is fine
        with pytest.raises(FetchNotAllowedError) as caught:
            fetcher.fetch(public.url("/to-private"))
        assert internal.requests == []
    message = str(caught.value)
    assert public.url("/to-private") in message and internal.url("/secret") in message
    assert "loopback" in message


def test_redirect_loops_stop() -> None:
    with serving("127.0.0.2", {"/loop": redirect(lambda: "/loop")}) as server:
        with pytest.raises(FetchNotAllowedError, match="more than 5 redirects"):
            RemoteFetcher(policy=test_policy()).fetch(server.url("/loop"))
        assert len(server.requests) == 6


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/x.js", "gopher://example.com/", "data:,x"]
)
def test_non_http_schemes_are_refused(url: str) -> None:
    with pytest.raises(FetchNotAllowedError, match="only http and https") as caught:
        RemoteFetcher(policy=test_policy()).fetch(url)
    assert url in str(caught.value)


def test_redirect_to_a_file_url_is_refused() -> None:
    with (
        serving("127.0.0.2", {"/r": redirect(lambda: "file:///etc/passwd")}) as server,
        pytest.raises(FetchNotAllowedError, match="redirected to file:///etc/passwd"),
    ):
        RemoteFetcher(policy=test_policy()).fetch(server.url("/r"))


# --- limits -------------------------------------------------------------------------------


def test_asset_over_the_cap_is_refused_from_its_length() -> None:
    with serving("127.0.0.2", {"/big.mp4": body(b"v" * (2 * MiB))}) as server:
        policy = test_policy(max_asset_bytes=MiB)
        with pytest.raises(AssetTooLargeError, match="per-asset cap of 1048576") as caught:
            RemoteFetcher(policy=policy).fetch(server.url("/big.mp4"))
    assert server.url("/big.mp4") in str(caught.value)
    assert caught.value.code == "ASSET_TOO_LARGE" and not caught.value.retryable


def test_endless_body_stops_at_the_cap() -> None:
    """No Content-Length and a body that never ends: only stopping at the cap can return."""
    with serving("127.0.0.2", {"/endless": endless}) as server:
        fetcher = RemoteFetcher(policy=test_policy(max_asset_bytes=MiB))
        with pytest.raises(AssetTooLargeError, match="per-asset cap"):
            fetcher.fetch(server.url("/endless"))
        assert fetcher.budget.bytes_used == 0


def test_plan_total_cap() -> None:
    piece = b"p" * (600 * 1024)
    routes = {"/a.png": body(piece), "/b.png": body(piece, length=False)}
    with serving("127.0.0.2", routes) as server:
        fetcher = RemoteFetcher(policy=test_policy(max_total_bytes=MiB))
        assert fetcher.fetch(server.url("/a.png")) == piece
        with pytest.raises(AssetTooLargeError, match="per-plan cap of 1048576") as caught:
            fetcher.fetch(server.url("/b.png"))
    assert server.url("/b.png") in str(caught.value)


def test_slow_drip_is_stopped_by_the_plan_deadline() -> None:
    with serving("127.0.0.2", {"/drip": drip, "/ok": body(b"ok")}) as server:
        fetcher = RemoteFetcher(policy=test_policy(deadline_s=0.5))
        with pytest.raises(FetchDeadlineError, match=r"plan fetch deadline of 0\.5 s") as caught:
            fetcher.fetch(server.url("/drip"))
        assert server.url("/drip") in str(caught.value)
        assert caught.value.code == "FETCH_DEADLINE_EXCEEDED" and not caught.value.retryable
        # The plan's time is spent: the next URL is not even requested.
        with pytest.raises(FetchDeadlineError):
            fetcher.fetch(server.url("/ok"))
        assert [path for path, _ in server.requests] == ["/drip"]


def test_slow_drip_is_stopped_by_the_request_timeout() -> None:
    with serving("127.0.0.2", {"/drip": drip, "/ok": body(b"ok")}) as server:
        fetcher = RemoteFetcher(policy=test_policy(request_timeout_s=0.5))
        with pytest.raises(FetchDeadlineError, match=r"per-request timeout of 0\.5 s"):
            fetcher.fetch(server.url("/drip"))
        assert fetcher.fetch(server.url("/ok")) == b"ok"  # the plan still has time


def test_headers_dripped_forever_are_stopped_by_the_deadline() -> None:
    def drip_headers(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(b"HTTP/1.0 200 OK\r\n")
        while True:
            handler.wfile.write(b"X-A: b\r\n")
            handler.wfile.flush()
            time.sleep(0.05)

    with (
        serving("127.0.0.2", {"/h": drip_headers}) as server,
        pytest.raises(FetchDeadlineError, match="per-request timeout"),
    ):
        RemoteFetcher(policy=test_policy(request_timeout_s=0.5)).fetch(server.url("/h"))


# --- through the compiler -------------------------------------------------------------------


def test_compiling_a_project_with_a_metadata_url_fails_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image is optional (a failed fetch is a warning), but a refused one fails the plan."""
    monkeypatch.delenv(ENV_ALLOW_PRIVATE, raising=False)
    project = tmp_path / "project"
    project.mkdir()
    url = "http://169.254.169.254/latest/meta-data/iam/security-credentials/role.png"
    (project / "index.html").write_text(
        '<div data-composition-id="main" data-width="320" data-height="180" data-duration="1">'
        f'<img src="{url}"></div>'
    )
    with pytest.raises(FetchNotAllowedError, match="link-local") as caught:
        compile_project(project, tmp_path / "out", RemoteFetcher())
    assert url in str(caught.value)


# --- HTTPS to the pinned address ------------------------------------------------------------


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` and its key (the test's own CA)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_is_verified_for_the_name_while_connecting_to_the_checked_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    cert, key = _certificate(tmp_path, "assets.example.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the default context trusts our CA only
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server_names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)  # type: ignore[assignment,misc,return-value]

    def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.2"]

    with serving("127.0.0.2", {"/lib.js": body(b"over tls")}) as server:
        server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
        policy = test_policy(resolver=resolver)
        url = f"https://assets.example.test:{server.port}/lib.js"
        assert RemoteFetcher(policy=policy).fetch(url) == b"over tls"
        assert server_names == ["assets.example.test"]
        # The same server under another name fails verification: the name is what is checked.
        other = f"https://other.example.test:{server.port}/lib.js"
        with pytest.raises(AssetFetchError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            RemoteFetcher(policy=policy).fetch(other)
