"""Serve one compiled project directory to the browser on 127.0.0.1 — and nothing else.

Pages need a real origin (fonts, modules, fetch of local JSON) and must never touch the
network: the browser is started with a host-resolver rule that sends every other host to
NOTFOUND, and this server serves only the given directory. Requests for files that do
not exist are recorded so the renderer can fail naming them, instead of rendering a
frame with a hole in it.

Page isolation (README "Page isolation"): every browser is launched with this process's
*page proxy* (:func:`page_proxy`) as its proxy, loopback included. The proxy serves the
requests for the origins of the page servers open in this process, from their own
directories, and refuses everything else — another loopback port (Lambda's Runtime API),
another host, every ``CONNECT`` tunnel (https, wss, WebRTC over TCP) — and service worker
scripts (a worker registered for ``127.0.0.1:PORT`` would outlive the render in a pooled
browser). One proxy per process, not per server, so pooled browsers keep their flags;
one per browser context is not possible: ``--single-process`` Chrome (Lambda) crashes on
a second context.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

IGNORED_MISSING = frozenset({"/favicon.ico"})
# Refused requests remembered for the plan's warning (a page may make millions).
_MAX_BLOCKED_RECORDED = 1000


@dataclass(frozen=True)
class ServedFile:
    """Bytes served at a fixed path that is not a file of the project (e.g. the runtime)."""

    body: bytes
    content_type: str


# The entry page's HTML -> what the browser gets (the engine injects the runtime there).
HtmlTransform = Callable[[str], str]


@dataclass
class _Site:
    """One page server's origin and what it serves; what its pages asked for in vain."""

    root: Path
    authority: str  # "127.0.0.1:PORT"
    routes: Mapping[str, ServedFile]
    entry_path: str | None
    transform: HtmlTransform | None
    missing: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def refused(self, what: str) -> None:
        if len(self.blocked) < _MAX_BLOCKED_RECORDED:
            self.blocked.append(what)


_sites: dict[str, _Site] = {}
_sites_lock = threading.Lock()


def _site_for(authority: str) -> _Site | None:
    with _sites_lock:
        return _sites.get(authority)


class _Handler(SimpleHTTPRequestHandler):
    server: _Server
    site: _Site | None = None
    extensions_map = {  # noqa: RUF012 - class attribute shape required by the base class
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".json": "application/json",
        ".wasm": "application/wasm",
        ".woff2": "font/woff2",
        ".woff": "font/woff",
        ".svg": "image/svg+xml",
    }

    def do_GET(self) -> None:
        site = self._own_site()
        if site is None:
            return
        path = unquote(urlsplit(self.path).path)
        served = site.routes.get(path)
        if served is None and path == site.entry_path and site.transform:
            file = Path(self.translate_path(self.path))
            if file.is_file():
                html = file.read_bytes().decode("utf-8", errors="surrogateescape")
                body = site.transform(html).encode("utf-8", errors="surrogateescape")
                served = ServedFile(body, "text/html; charset=utf-8")
        if served is None:
            super().do_GET()
            return
        self.send_response(200)
        self.send_header("Content-Type", served.content_type)
        self.send_header("Content-Length", str(len(served.body)))
        self.end_headers()
        self.wfile.write(served.body)

    def do_HEAD(self) -> None:
        if self._own_site() is not None:
            super().do_HEAD()

    def do_CONNECT(self) -> None:
        # A tunnel (https, wss, WebRTC over TCP) to anywhere: never.
        self._refuse(f"a tunnel to {self.path}")

    def _own_site(self) -> _Site | None:
        """The site this request is for, ready to serve (``self.path`` origin-form,
        ``self.directory`` its root); None when refused.

        Through the proxy the request line is absolute (``GET http://127.0.0.1:P/x``):
        served when P is an open page server's. Straight to a page server (origin-form),
        it is that server's own."""
        if self.path.startswith("/"):
            site = self.server.site
            url = self.path
        else:
            parts = urlsplit(self.path)
            site = _site_for(parts.netloc) if parts.scheme == "http" else None
            url = self.path
            self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if site is None or self.headers.get("Service-Worker", "").lower() == "script":
            self._refuse(url if site is None else f"a service worker {url}")
            return None
        self.site = site
        self.directory = str(site.root)
        return site

    def _refuse(self, what: str) -> None:
        site = self._asking_site()
        if site is not None:
            site.refused(what)
        self.close_connection = True
        super().send_error(403, "only the page's own origin is reachable")

    def _asking_site(self) -> _Site | None:
        """Whose page asked (for the plan's warning): the Origin or Referer the browser
        sent, else the only page server open, else nobody in particular."""
        for header in ("Origin", "Referer"):
            site = _site_for(urlsplit(self.headers.get(header, "")).netloc)
            if site is not None:
                return site
        if self.server.site is not None:
            return self.server.site
        with _sites_lock:
            sites = list(_sites.values())
        return sites[0] if len(sites) == 1 else None

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # A 404 for fetch()/XHR (Sec-Fetch-Dest "empty") is the asking script's to handle
        # (HyperFrames' runtime probes optional files such as caption-overrides.json);
        # what the document itself loads (scripts, styles, fonts, media) is recorded.
        if (
            code == 404
            and self.site is not None
            and self.headers.get("Sec-Fetch-Dest", "") != "empty"
        ):
            path = unquote(urlsplit(self.path).path)
            if path not in IGNORED_MISSING:
                self.site.missing.append(path)
        super().send_error(code, message, explain)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: _Site | None  # None: the page proxy, serving every open site


def _serve(server: _Server) -> threading.Thread:
    # shutdown() waits for the serve loop's next poll: the default 0.5 s interval was
    # most of a warm Lambda chunk's overhead (measured: 0.55 s -> see README).
    return threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )


# The page proxy of this process, by pid: a forked child starts its own.
_proxies: dict[int, _Server] = {}
_proxy_lock = threading.Lock()


def page_proxy() -> str:
    """``host:port`` of this process's page proxy (started on first use, kept for the
    process's life): every browser goes through it (see the module docstring)."""
    with _proxy_lock:
        server = _proxies.get(os.getpid())
        if server is None:
            server = _Server(("127.0.0.1", 0), _Handler)
            server.site = None
            _serve(server).start()
            _proxies[os.getpid()] = server
        host, port = server.server_address[:2]
        return f"{host!s}:{port}"


class PageServer:
    """``with PageServer(dir) as server: server.url("index.html")``.

    ``routes`` are extra files served from memory; ``entry``'s HTML (a path relative to
    ``root``) goes through ``transform`` on its way to the browser.
    """

    def __init__(
        self,
        root: Path,
        *,
        routes: Mapping[str, ServedFile] | None = None,
        entry: str | None = None,
        transform: HtmlTransform | None = None,
    ) -> None:
        self.root = root
        self._server = _Server(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
        host, port = self._server.server_address[:2]
        self._site = _Site(
            root=root,
            authority=f"{host!s}:{port}",
            routes=dict(routes or {}),
            entry_path="/" + entry.lstrip("/") if entry else None,
            transform=transform,
        )
        self._server.site = self._site
        self._thread = _serve(self._server)

    @property
    def origin(self) -> str:
        return f"http://{self._site.authority}"

    def url(self, relative_path: str) -> str:
        return f"{self.origin}/{relative_path.lstrip('/')}"

    @property
    def missing(self) -> list[str]:
        """Paths the page asked for that are not in the project (404s)."""
        return list(self._site.missing)

    @property
    def blocked(self) -> list[str]:
        """What the page asked for beyond this origin (refused by the page proxy)."""
        return list(self._site.blocked)

    def __enter__(self) -> PageServer:
        with _sites_lock:
            _sites[self._site.authority] = self._site
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with _sites_lock:
            _sites.pop(self._site.authority, None)
        self._server.shutdown()
        self._server.server_close()
