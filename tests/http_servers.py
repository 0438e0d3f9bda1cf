"""Real HTTP servers on 127.0.0.1 for the tests: :func:`loopback_server` runs any handler
class (one copy of the start/stop dance), :func:`throttling_s3` counts requests and answers
503."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the test output free of access-log lines."""

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextlib.contextmanager
def loopback_server(
    handler: Callable[..., BaseHTTPRequestHandler], host: str = "127.0.0.1"
) -> Iterator[str]:
    """Serve ``handler`` on ``host`` (a free port) in a thread; yields ``http://host:port``."""
    server = ThreadingHTTPServer((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Counter:
    def __init__(self) -> None:
        self.requests: list[str] = []


@contextlib.contextmanager
def throttling_s3() -> Iterator[tuple[str, _Counter]]:
    """An 'S3 endpoint' that answers every request 503 SlowDown and counts them."""
    counter = _Counter()

    class Handler(QuietHandler):
        def _answer(self) -> None:
            counter.requests.append(f"{self.command} {self.path}")
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(SLOW_DOWN)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(SLOW_DOWN)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

    with loopback_server(Handler) as url:
        yield url, counter
