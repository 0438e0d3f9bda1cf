"""Serve one compiled project directory to the browser on 127.0.0.1.

Pages need a real origin (fonts, modules, fetch of local JSON) and must never touch the
network: the browser is started with a host-resolver rule that sends every other host to
NOTFOUND, and this server serves only the given directory. It is also the proxy of the
page's browser context (``capture._isolated_context``): every request of the page arrives
here, and whatever is not for this server's own origin (another loopback port, another
host, a CONNECT tunnel) is refused and recorded. Requests for files that do
not exist are recorded so the renderer can fail naming them, instead of rendering a
frame with a hole in it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


class _Handler(SimpleHTTPRequestHandler):
    server: _Server
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
        if not self._own_request():
            return
        path = unquote(urlsplit(self.path).path)
        served = self.server.routes.get(path)
        if served is None and path == self.server.entry_path and self.server.transform:
            file = Path(self.translate_path(self.path))
            if file.is_file():
                html = file.read_bytes().decode("utf-8", errors="surrogateescape")
                body = self.server.transform(html).encode("utf-8", errors="surrogateescape")
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
        if self._own_request():
            super().do_HEAD()

    def do_CONNECT(self) -> None:
        # A tunnel (https, wss, WebRTC over TCP) to anywhere: never.
        self._refuse(f"a tunnel to {self.path}")

    def _own_request(self) -> bool:
        """The browser sends every request here as its proxy (absolute-form request line):
        serve our own origin's, refuse the rest. A plain request (origin-form) is ours."""
        if self.path.startswith("/"):
            return True
        parts = urlsplit(self.path)
        if parts.scheme == "http" and parts.netloc == self.server.authority:
            self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            return True
        self._refuse(self.path)
        return False

    def _refuse(self, what: str) -> None:
        if len(self.server.blocked) < _MAX_BLOCKED_RECORDED:
            self.server.blocked.append(what)
        self.close_connection = True
        super().send_error(403, "only the page's own origin is reachable")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # A 404 for fetch()/XHR (Sec-Fetch-Dest "empty") is the asking script's to handle
        # (HyperFrames' runtime probes optional files such as caption-overrides.json);
        # what the document itself loads (scripts, styles, fonts, media) is recorded.
        if code == 404 and self.headers.get("Sec-Fetch-Dest", "") != "empty":
            path = unquote(urlsplit(self.path).path)
            if path not in IGNORED_MISSING:
                self.server.missing.append(path)
        super().send_error(code, message, explain)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    missing: list[str]
    blocked: list[str]
    authority: str
    routes: Mapping[str, ServedFile]
    entry_path: str | None
    transform: HtmlTransform | None


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
        handler = partial(_Handler, directory=str(root))
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.missing = []
        self._server.blocked = []
        host, port = self._server.server_address[:2]
        self._server.authority = f"{host!s}:{port}"
        self._server.routes = dict(routes or {})
        self._server.entry_path = "/" + entry.lstrip("/") if entry else None
        self._server.transform = transform
        # shutdown() waits for the serve loop's next poll: the default 0.5 s interval was
        # most of a warm Lambda chunk's overhead (measured: 0.55 s -> see README).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, relative_path: str) -> str:
        return f"{self.origin}/{relative_path.lstrip('/')}"

    @property
    def missing(self) -> list[str]:
        """Paths the page asked for that are not in the project (404s)."""
        return list(self._server.missing)

    @property
    def blocked(self) -> list[str]:
        """Requests for anything but this origin that the page made (and did not get)."""
        return list(self._server.blocked)

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
