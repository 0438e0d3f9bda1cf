"""Page isolation: a composition reaches its own page server and nothing else.

The page below tries, while it loads, every way out we know of to a second server on
another loopback port (fetch, XHR, <img>, WebSocket, EventSource, an iframe, a dedicated
worker, a service worker, sendBeacon), WebRTC to a loopback IP literal (a STUN request to a
UDP socket of the test) and ``file://``. The servers must record nothing, the page's own
files must still load, and the render must still succeed (these are the page's failures).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hyperframes_lambda.browser.binary import ChromeBinary
from hyperframes_lambda.browser.page_server import PageServer, page_proxy
from hyperframes_lambda.browser.pool import BrowserPool
from hyperframes_lambda.browser.resolve import LAMBDA_FLAGS
from hyperframes_lambda.capture.frame_source import composition_server, open_frame_source
from hyperframes_lambda.capture.page_capture import CaptureSettings, PageCapture
from hyperframes_lambda.compile.project import CompiledProject, compile_project
from hyperframes_lambda.media.probe import probe
from hyperframes_lambda.net.remote_assets import RemoteFetcher

from ..http_servers import QuietHandler, loopback_server

_PROBES = (
    "fetch", "xhr", "img", "ws", "es", "iframe", "worker", "sw", "beacon",
    "webrtc", "fileFetch", "fileImg", "ownFetch", "ownImg",
)  # fmt: skip

_PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<div data-composition-id="iso" data-width="320" data-height="180" data-duration="1"
     style="width:320px;height:180px;background:#123">
  <img id="own" src="own.svg" width="40" height="40">
</div>
<script src="targets.js"></script>
<script src="probe.js"></script>
</body></html>
"""

# Every attempt records "got ..." or "failed ..." under its name; nothing may reject unhandled
# (that would be a script error of the page and fail the render).
_PROBE_JS = """
(() => {
  const t = window.__targets;
  const r = (window.__isolation = {});
  const got = (name) => (v) => { r[name] = "got " + String(v).slice(0, 40); };
  const failed = (name) => (e) => { r[name] = "failed " + String(e).slice(0, 60); };
  fetch(t.http + "/fetch").then((x) => x.text()).then(got("fetch"), failed("fetch"));
  const xhr = new XMLHttpRequest();
  xhr.open("GET", t.http + "/xhr");
  xhr.onload = () => got("xhr")(xhr.status);
  xhr.onerror = failed("xhr");
  xhr.send();
  const img = new Image();
  img.onload = () => got("img")(img.naturalWidth);
  img.onerror = failed("img");
  img.src = t.http + "/img.png";
  const ws = new WebSocket(t.ws);
  ws.onopen = () => got("ws")("open");
  ws.onerror = failed("ws");
  const es = new EventSource(t.http + "/es");
  es.onopen = () => got("es")("open");
  es.onerror = () => { es.close(); failed("es")("error"); };
  const frame = document.createElement("iframe");
  frame.onload = () => got("iframe")("loaded");
  frame.src = t.http + "/frame";
  document.body.appendChild(frame);
  const source = `fetch(${JSON.stringify(t.http + "/worker")}).then(
    () => postMessage("got"), (e) => postMessage("failed " + e))`;
  const worker = new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })));
  worker.onmessage = (e) => { r.worker = e.data; };
  navigator.serviceWorker.register("sw.js?target=" + encodeURIComponent(t.http))
    .then(() => navigator.serviceWorker.ready)
    .then(got("sw"), failed("sw"));
  r.beacon = "queued " + navigator.sendBeacon(t.http + "/beacon", "x");
  const pc = new RTCPeerConnection({ iceServers: [{ urls: t.stun }] });
  const candidates = [];
  pc.onicecandidate = (e) => {
    if (e.candidate) candidates.push(e.candidate.candidate);
    else r.webrtc = "candidates " + JSON.stringify(candidates);
  };
  pc.createDataChannel("x");
  pc.createOffer().then((o) => pc.setLocalDescription(o)).catch(failed("webrtc"));
  fetch(t.file).then((x) => x.text()).then(got("fileFetch"), failed("fileFetch"));
  const fileImg = new Image();
  fileImg.onload = () => got("fileImg")(fileImg.naturalWidth);
  fileImg.onerror = failed("fileImg");
  fileImg.src = t.fileImage;
  fetch("own.txt").then((x) => x.text()).then(got("ownFetch"), failed("ownFetch"));
  const own = document.getElementById("own");
  const ownDone = () => { r.ownImg = own.naturalWidth > 0 ? "got " + own.naturalWidth : "failed"; };
  if (own.complete) ownDone(); else { own.onload = ownDone; own.onerror = ownDone; }
})();
"""

_SERVICE_WORKER = """
const target = new URL(location.href).searchParams.get("target");
self.addEventListener("install", (e) => e.waitUntil(fetch(target + "/sw-install").catch(() => 0)));
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));
"""

_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
    '<rect width="40" height="40" fill="#0f0"/></svg>'
)


@contextlib.contextmanager
def _recording_http_server() -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on another loopback port that records every request line it gets."""
    hits: list[str] = []

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            hits.append(f"{self.command} {self.path}")
            body = b"secret from another port"
            self.send_response(200)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

    with loopback_server(Handler) as url:
        yield int(url.rsplit(":", 1)[1]), hits


def _datagrams(sock: socket.socket) -> list[bytes]:
    received: list[bytes] = []
    sock.settimeout(0.5)
    with contextlib.suppress(TimeoutError):
        while True:
            received.append(sock.recvfrom(4096)[0])
    return received


def _write_project(root: Path, http_port: int, udp_port: int, secret: Path) -> None:
    root.mkdir()
    (root / "index.html").write_text(_PAGE)
    (root / "probe.js").write_text(_PROBE_JS)
    (root / "sw.js").write_text(_SERVICE_WORKER)
    (root / "own.svg").write_text(_SVG)
    (root / "own.txt").write_text("the page's own file")
    # Built at run time so nothing of the project names a URL the compiler would fetch.
    targets = {
        "http": ["http:", "", f"127.0.0.1:{http_port}"],
        "ws": ["ws:", "", f"127.0.0.1:{http_port}", "ws"],
        "file": ["file:", "", str(secret)],
        "fileImage": ["file:", "", str(secret.with_suffix(".svg"))],
    }
    lines = [f"window.__targets = {{stun: 'stun:127.0.0.1:{udp_port}'}};"]
    lines += [f"window.__targets.{k} = {json.dumps(v)}.join('/');" for k, v in targets.items()]
    (root / "targets.js").write_text("\n".join(lines) + "\n")


@pytest.mark.slow
@pytest.mark.parametrize("single_process", [False, True], ids=["local", "lambda-flags"])
def test_a_page_reaches_only_its_own_page_server(
    tmp_path: Path, chrome: ChromeBinary, single_process: bool
) -> None:
    """As locally, and with the flags Chrome runs with on Lambda (one process)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("a local file the page must not read")
    secret.with_suffix(".svg").write_text(_SVG)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    with _recording_http_server() as (http_port, hits), contextlib.closing(udp):
        project = tmp_path / "project"
        _write_project(project, http_port, udp.getsockname()[1], secret)
        compiled = compile_project(project, tmp_path / "compiled", RemoteFetcher())
        settings = CaptureSettings(
            css_width=320, css_height=180, width=320, height=180, fps=30, image_format="png"
        )
        binary = (
            replace(chrome, extra_flags=(*chrome.extra_flags, *LAMBDA_FLAGS))
            if single_process
            else chrome
        )
        with open_frame_source(compiled.root, compiled.entry, settings, binary) as page:
            results: dict[str, str] = {}
            for _ in range(300):  # every attempt settles (blocked ones fail fast)
                results = page.evaluate("window.__isolation") or {}
                if all(name in results for name in _PROBES):
                    break
                time.sleep(0.05)
            frame = page.capture(0)
        assert set(_PROBES) <= set(results), f"probes that never settled: {results}"
        assert frame[:8] == b"\x89PNG\r\n\x1a\n"

        # The page's own files load; everything else fails in the page.
        assert results["ownFetch"] == "got the page's own file"
        assert results["ownImg"] == "got 40"
        for name in ("fetch", "img", "ws", "es", "sw", "fileFetch", "fileImg"):
            assert results[name].startswith("failed"), (name, results[name])
        assert results["webrtc"] == "candidates []", results["webrtc"]
        assert "secret" not in json.dumps(results)

        # And the other servers never heard of it (the service worker and beacon included).
        assert hits == []
        assert _datagrams(udp) == []

        if single_process:
            return
        # The whole pipeline renders it: blocked requests are the page's failures.
        out = tmp_path / "out.mp4"
        result = subprocess.run(
            [sys.executable, "-m", "hyperframes_lambda.cli", "render", str(project),
             "-o", str(out), "--quiet"],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert probe(out).frame_count == 30
        warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
        assert any(f"http://127.0.0.1:{http_port}/" in w and "outside the project" in w
                   for w in warnings), warnings  # fmt: skip
        assert hits == []
        assert _datagrams(udp) == []


@pytest.mark.parametrize("via", ["page proxy", "page server"])
@pytest.mark.parametrize(
    ("method", "target", "served"),
    [
        ("GET", "{origin}/own.txt", True),
        ("GET", "/own.txt", None),  # origin-form: the page server's own; not the proxy's
        ("GET", "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next", False),
        ("GET", "http://localhost:{port}/own.txt", False),  # same port, another origin
        ("GET", "https://169.254.169.254/latest/meta-data/", False),
        ("CONNECT", "127.0.0.1:9001", False),
    ],
)
def test_only_the_page_servers_own_origin_is_served(
    tmp_path: Path, via: str, method: str, target: str, served: bool | None
) -> None:
    (tmp_path / "own.txt").write_text("mine")
    with PageServer(tmp_path) as server:
        port = int(server.origin.rsplit(":", 1)[1])
        connect_to = int(page_proxy().rsplit(":", 1)[1]) if via == "page proxy" else port
        connection = http.client.HTTPConnection("127.0.0.1", connect_to, timeout=10)
        request_target = target.format(origin=server.origin, port=port)
        connection.putrequest(method, request_target, skip_host=True)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        connection.close()
        if served or (served is None and via == "page server"):
            assert (response.status, body) == (200, b"mine")
            assert server.blocked == []
        else:
            assert response.status == 403 and b"mine" not in body
            assert server.blocked == [
                f"a tunnel to {target}" if method == "CONNECT" else request_target
            ]


def test_service_worker_scripts_are_refused(tmp_path: Path) -> None:
    """A worker registered for 127.0.0.1:PORT would outlive the render in a pooled browser."""
    (tmp_path / "sw.js").write_text("self.x = 1;")
    with PageServer(tmp_path) as server:
        port = int(page_proxy().rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", server.url("sw.js"), headers={"Service-Worker": "script"})
        assert connection.getresponse().status == 403
        connection.close()
        assert server.blocked == [f"a service worker {server.url('sw.js')}"]


@pytest.mark.slow
def test_a_pooled_browser_keeps_nothing_a_page_stored(
    known_pixels: CompiledProject, chrome: ChromeBinary
) -> None:
    """A later page on the same origin (a port the OS hands out again) finds no
    localStorage, IndexedDB or cache of an earlier one: it could be another tenant's."""
    settings = CaptureSettings(
        css_width=320, css_height=180, width=320, height=180, fps=30, image_format="png"
    )
    pool = BrowserPool()
    try:
        with composition_server(known_pixels.root, known_pixels.entry) as server:
            url = server.url(known_pixels.entry)
            with PageCapture.open(chrome, url, settings, pool=pool) as first:
                first.evaluate("localStorage.setItem('left', 'by the last render')")
                assert first.evaluate("localStorage.getItem('left')") == "by the last render"
            with PageCapture.open(chrome, url, settings, pool=pool) as second:
                assert second.evaluate("localStorage.getItem('left')") is None
        assert len(pool) == 1  # the same browser served both pages
    finally:
        pool.close()
