"""A local Lambda Runtime API plus the RIE invoke endpoint, on 127.0.0.1.

Why: there is no Docker here, so the AWS Runtime Interface Emulator cannot run. This server
speaks the same HTTP as RIE on both sides — runtime clients (the real ``awslambdaric``) poll
``/2018-06-01/runtime/invocation/next`` and post results, while callers POST events to
``/2015-03-31/functions/function/invocations`` — so a handler can be exercised end to end
through the real runtime client without a container.

Parallelism works like Lambda's: each runtime client holds one invocation at a time, and N
clients polling ``/next`` serve N invocations at once. Extra invocations wait in a queue.

Crash attribution: a supervisor (``hyperframes_lambda.rie``) gives every client its own
listening port (a *slot*, see :meth:`RuntimeApiServer.add_slot`), so when a client process
dies the server knows exactly which in-flight invocation to fail with ``Runtime.ExitError``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import re
import secrets
import select
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 900.0
DEFAULT_FUNCTION_NAME = "function"
DEFAULT_REGION = "us-east-1"
LOCAL_ACCOUNT_ID = "000000000000"

RUNTIME_NEXT_PATH = "/2018-06-01/runtime/invocation/next"
RUNTIME_INIT_ERROR_PATH = "/2018-06-01/runtime/init/error"
_RUNTIME_RESULT_RE = re.compile(r"^/2018-06-01/runtime/invocation/([^/]+)/(response|error)$")
_INVOKE_RE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")

ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
FUNCTION_ERROR_HEADER = "X-Amz-Function-Error"

# awslambdaric only JSON-decodes an event whose Content-Type is exactly this string.
JSON_CONTENT_TYPE = "application/json"

# Seconds between re-checks while a poller or a queued invocation waits (dead peers, etc.).
_POLL_RECHECK_S = 1.0
# How often a listener notices stop(); bounds stop() latency.
_SERVE_POLL_S = 0.05


@dataclass(frozen=True)
class InvocationOutcome:
    """What a caller of the function gets back (one synchronous invocation)."""

    request_id: str
    payload: Any  # decoded JSON result, the error object on failure, or raw bytes
    error_type: str | None
    error_message: str | None
    duration_s: float  # wall time from submission to completion, queueing included
    body: bytes = b""  # the exact bytes the invoke endpoint returns
    content_type: str = JSON_CONTENT_TYPE

    @property
    def ok(self) -> bool:
        return self.error_type is None


@dataclass(frozen=True)
class RuntimeSlot:
    """A dedicated runtime-API address for one supervised runtime client."""

    slot: int
    runtime_api: str  # host:port, the value for AWS_LAMBDA_RUNTIME_API


@dataclass(eq=False)
class _Invocation:
    request_id: str
    body: bytes
    timeout_s: float
    client_context: str | None = None
    submitted_at: float = field(default_factory=time.monotonic)
    slot: int | None = None
    dispatched_at: float | None = None
    finished_at: float | None = None
    result: bytes | None = None
    result_content_type: str = JSON_CONTENT_TYPE
    error: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


def error_object(error_type: str, message: str) -> dict[str, Any]:
    """The JSON error shape Lambda returns to callers (and Step Functions parses)."""
    return {"errorMessage": message, "errorType": error_type, "stackTrace": []}


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: RuntimeApiServer, slot: int | None):
        self.api = api
        self.slot = slot
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A runtime client that exits drops its connection: normal here, not a traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            log.debug("connection from %s dropped: %s", client_address, error)
        else:
            super().handle_error(request, client_address)


class RuntimeApiServer:
    """Threaded Runtime API + RIE invoke endpoint; see the module docstring."""

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        function_name: str = DEFAULT_FUNCTION_NAME,
        region: str = DEFAULT_REGION,
        on_timeout: Callable[[int | None], None] | None = None,
    ) -> None:
        self.host = host
        self.timeout_s = timeout_s
        self.function_name = function_name
        self.region = region
        # Called (outside locks) with the slot whose invocation timed out; a supervisor uses
        # it to recycle that client, as Lambda resets a sandbox after a timeout.
        self.on_timeout = on_timeout
        self._requested_port = port
        self._cond = threading.Condition()
        self._queue: deque[_Invocation] = deque()
        self._inflight: dict[str, _Invocation] = {}
        self._all: dict[str, _Invocation] = {}  # submitted, not yet collected by wait()
        self._generation: dict[int | None, int] = {}
        self._polled: set[int | None] = set()
        self._init_failed_slots: set[int | None] = set()
        self._init_error: dict[str, Any] | None = None
        self._invocation_count = 0
        self._stopping = False
        self._main: _Listener | None = None
        self._listeners: list[tuple[_Listener, threading.Thread]] = []

    # ----- lifecycle -------------------------------------------------------------------

    def start(self) -> RuntimeApiServer:
        if self._main is not None:
            return self
        self._main = self._listen(self._requested_port, None)
        return self

    def stop(self) -> None:
        """Fail whatever is queued or running, then close every listener."""
        with self._cond:
            self._stopping = True
            pending = list(self._queue) + list(self._inflight.values())
            self._queue.clear()
            for inv in pending:
                self._finish(
                    inv,
                    error=error_object(
                        "Runtime.Unavailable",
                        f"RequestId: {inv.request_id} Error: the local Runtime API stopped",
                    ),
                )
            self._cond.notify_all()
        # shutdown() blocks up to one poll interval per listener; do them side by side.
        closers = [threading.Thread(target=lst.shutdown) for lst, _ in self._listeners]
        for closer in closers:
            closer.start()
        for closer in closers:
            closer.join(timeout=5)
        for listener, thread in self._listeners:
            listener.server_close()
            thread.join(timeout=5)
        self._listeners.clear()

    def __enter__(self) -> RuntimeApiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _listen(self, port: int, slot: int | None) -> _Listener:
        listener = _Listener((self.host, port), self, slot)
        name = "runtime-api" if slot is None else f"runtime-api-slot-{slot}"
        thread = threading.Thread(
            target=listener.serve_forever, args=(_SERVE_POLL_S,), name=name, daemon=True
        )
        thread.start()
        self._listeners.append((listener, thread))
        return listener

    def add_slot(self) -> RuntimeSlot:
        """Open a dedicated runtime-API port for one client, so its crashes are attributable."""
        if self._main is None:
            raise RuntimeError("start() the server first")
        slot = len(self._listeners)
        listener = self._listen(0, slot)
        return RuntimeSlot(slot=slot, runtime_api=f"{self.host}:{listener.server_address[1]}")

    # ----- addresses ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._main is None:
            raise RuntimeError("the server is not started")
        return int(self._main.server_address[1])

    @property
    def runtime_api(self) -> str:
        """host:port for AWS_LAMBDA_RUNTIME_API (shared; crashes there are not attributed)."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def invoke_url(self) -> str:
        return f"{self.url}/2015-03-31/functions/function/invocations"

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{LOCAL_ACCOUNT_ID}:function:{self.function_name}"

    # ----- state for callers and supervisors --------------------------------------------

    @property
    def invocation_count(self) -> int:
        """Invocations submitted so far (HTTP and in-process)."""
        with self._cond:
            return self._invocation_count

    @property
    def init_error(self) -> dict[str, Any] | None:
        with self._cond:
            return None if self._init_error is None else dict(self._init_error)

    def wait_for_pollers(self, slots: Collection[int | None], timeout: float) -> bool:
        """Wait until each slot has polled /next (or reported an init error)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not all(s in self._polled or s in self._init_failed_slots for s in slots):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def runtime_exited(self, slot: int, reason: str) -> list[str]:
        """A slot's client died: fail its in-flight invocations with Runtime.ExitError.

        Also invalidates any /next poll still parked for that slot, so a queued invocation
        is never handed to a dead connection. Returns the failed request ids.
        """
        failed: list[str] = []
        with self._cond:
            self._generation[slot] = self._generation.get(slot, 0) + 1
            self._polled.discard(slot)
            for inv in [i for i in self._inflight.values() if i.slot == slot]:
                message = f"RequestId: {inv.request_id} Error: Runtime exited with error: {reason}"
                self._finish(inv, error=error_object("Runtime.ExitError", message))
                failed.append(inv.request_id)
            self._cond.notify_all()
        return failed

    # ----- invoking --------------------------------------------------------------------

    def invoke(self, event: Any, timeout: float | None = None) -> InvocationOutcome:
        """Invoke in-process (no HTTP on the caller side); blocks until the outcome."""
        body = json.dumps(event).encode()
        return self.wait(self.submit(body, timeout))

    def submit(
        self, body: bytes, timeout: float | None = None, client_context: str | None = None
    ) -> str:
        """Queue one invocation and return its request id (see :meth:`wait`)."""
        inv = _Invocation(
            request_id=str(uuid.uuid4()),
            body=body or b"{}",
            timeout_s=self.timeout_s if timeout is None else timeout,
            client_context=client_context,
        )
        with self._cond:
            self._invocation_count += 1
            self._all[inv.request_id] = inv
            if self._stopping:
                self._finish(inv, error=error_object("Runtime.Unavailable", "server stopped"))
            elif self._init_error is not None:
                self._finish(inv, error=dict(self._init_error))
            else:
                self._queue.append(inv)
            self._cond.notify_all()
        return inv.request_id

    def wait(self, request_id: str) -> InvocationOutcome:
        """Block until a submitted invocation finishes; enforce its timeout once running."""
        timed_out_slot: int | None = None
        timed_out = False
        with self._cond:
            inv = self._all[request_id]
            while not inv.finished:
                if inv.dispatched_at is None:
                    self._cond.wait(_POLL_RECHECK_S)
                    continue
                remaining = inv.dispatched_at + inv.timeout_s - time.monotonic()
                if remaining <= 0:
                    message = (
                        f"RequestId: {inv.request_id} Error: "
                        f"Task timed out after {inv.timeout_s:.2f} seconds"
                    )
                    self._finish(inv, error=error_object("Sandbox.Timedout", message))
                    timed_out, timed_out_slot = True, inv.slot
                    break
                self._cond.wait(remaining)
            del self._all[request_id]
        if timed_out and self.on_timeout is not None:
            self.on_timeout(timed_out_slot)
        return _outcome(inv)

    # ----- called by the HTTP handler ----------------------------------------------------

    def _finish(
        self,
        inv: _Invocation,
        *,
        result: bytes | None = None,
        content_type: str = JSON_CONTENT_TYPE,
        error: dict[str, Any] | None = None,
    ) -> None:
        """Record an outcome; caller holds the lock."""
        if inv.finished:
            return
        inv.result, inv.result_content_type, inv.error = result, content_type, error
        inv.finished_at = time.monotonic()
        self._inflight.pop(inv.request_id, None)
        self._cond.notify_all()

    def _take_next(self, slot: int | None, peer_closed: Callable[[], bool]) -> _Invocation | None:
        """Park a /next poll until an invocation is queued; None if the poll is abandoned."""
        with self._cond:
            generation = self._generation.get(slot, 0)
            self._polled.add(slot)
            self._cond.notify_all()
            while True:
                if self._stopping or self._generation.get(slot, 0) != generation:
                    return None
                if self._queue:
                    if peer_closed():
                        return None
                    inv = self._queue.popleft()
                    inv.slot, inv.dispatched_at = slot, time.monotonic()
                    self._inflight[inv.request_id] = inv
                    self._cond.notify_all()
                    return inv
                self._cond.wait(_POLL_RECHECK_S)

    def _requeue(self, inv: _Invocation) -> None:
        """Delivery to the runtime failed: give the invocation to the next poller."""
        with self._cond:
            if inv.finished or self._inflight.pop(inv.request_id, None) is None:
                return
            inv.slot, inv.dispatched_at = None, None
            self._queue.appendleft(inv)
            self._cond.notify_all()

    def _complete(
        self, request_id: str, *, result: bytes | None, content_type: str, error: Any
    ) -> bool:
        with self._cond:
            inv = self._inflight.get(request_id)
            if inv is None:
                return False
            self._finish(inv, result=result, content_type=content_type, error=error)
            return True

    def _record_init_error(self, slot: int | None, error: dict[str, Any]) -> None:
        with self._cond:
            self._init_failed_slots.add(slot)
            if self._init_error is None:
                self._init_error = error
            pending = list(self._queue)
            self._queue.clear()
            for inv in pending:
                self._finish(inv, error=dict(error))
            self._cond.notify_all()

    def _deadline_ms(self, inv: _Invocation) -> int:
        return int((time.time() + inv.timeout_s) * 1000)


def _outcome(inv: _Invocation) -> InvocationOutcome:
    assert inv.finished_at is not None
    duration = inv.finished_at - inv.submitted_at
    if inv.error is not None:
        return InvocationOutcome(
            request_id=inv.request_id,
            payload=inv.error,
            error_type=str(inv.error.get("errorType") or "Unhandled"),
            error_message=str(inv.error.get("errorMessage") or ""),
            duration_s=duration,
            body=json.dumps(inv.error).encode(),
        )
    body = inv.result or b""
    payload: Any = body
    if inv.result_content_type.startswith(JSON_CONTENT_TYPE):
        with contextlib.suppress(ValueError):
            payload = json.loads(body)
    return InvocationOutcome(
        request_id=inv.request_id,
        payload=payload,
        error_type=None,
        error_message=None,
        duration_s=duration,
        body=body,
        content_type=inv.result_content_type,
    )


def _error_from_post(body: bytes, header_type: str | None) -> dict[str, Any]:
    """Normalise a runtime's error post into Lambda's caller-facing error object."""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        error = dict(parsed)
        error.setdefault("errorType", header_type or "Unhandled")
        error.setdefault("errorMessage", "")
        return error
    message = body.decode("utf-8", "replace")
    return error_object(header_type or "Unhandled", message)


def _trace_id() -> str:
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled=0"


def _decode_client_context(header: str | None) -> str | None:
    """X-Amz-Client-Context is base64 JSON on the invoke side, plain JSON on the runtime side."""
    if not header:
        return None
    try:
        return base64.b64decode(header, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


class _Handler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive, as the runtime client (libcurl) reuses it."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the body waits ~40 ms for
    # the peer's delayed ACK on every reused connection.
    disable_nagle_algorithm = True
    server: _Listener

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    # --- plumbing ---

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        content_type: str = JSON_CONTENT_TYPE,
        close: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if body:
            self.wfile.write(body)
        self.wfile.flush()

    def _send_json(self, status: int, obj: Any, *, close: bool = False) -> None:
        self._send(status, json.dumps(obj).encode(), close=close)

    def _peer_closed(self) -> bool:
        sock: socket.socket = self.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    # --- routes ---

    def do_GET(self) -> None:
        if self.path == RUNTIME_NEXT_PATH:
            self._next()
        else:
            self._send_json(404, {"errorType": "NotFound", "errorMessage": self.path})

    def do_POST(self) -> None:
        body = self._read_body()
        if match := _RUNTIME_RESULT_RE.match(self.path):
            self._result(match.group(1), match.group(2), body)
        elif self.path == RUNTIME_INIT_ERROR_PATH:
            error = _error_from_post(body, self.headers.get(ERROR_TYPE_HEADER))
            self.server.api._record_init_error(self.server.slot, error)
            self._send_json(202, {"status": "OK"})
        elif _INVOKE_RE.match(self.path):
            self._invoke(body)
        else:
            self._send_json(404, {"errorType": "NotFound", "errorMessage": self.path})

    def _next(self) -> None:
        api = self.server.api
        inv = api._take_next(self.server.slot, self._peer_closed)
        if inv is None:
            error = {"errorType": "Runtime.Unavailable", "errorMessage": "no more invocations"}
            with contextlib.suppress(OSError):
                self._send_json(HTTPStatus.GONE, error, close=True)
            return
        headers = {
            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(api._deadline_ms(inv)),
            "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
            "Lambda-Runtime-Trace-Id": _trace_id(),
        }
        if inv.client_context:
            headers["Lambda-Runtime-Client-Context"] = inv.client_context
        try:
            self._send(200, inv.body, headers)
        except OSError:
            api._requeue(inv)
            self.close_connection = True

    def _result(self, request_id: str, kind: str, body: bytes) -> None:
        api = self.server.api
        if kind == "response":
            content_type = self.headers.get("Content-Type") or JSON_CONTENT_TYPE
            accepted = api._complete(request_id, result=body, content_type=content_type, error=None)
        else:
            error = _error_from_post(body, self.headers.get(ERROR_TYPE_HEADER))
            accepted = api._complete(
                request_id, result=None, content_type=JSON_CONTENT_TYPE, error=error
            )
        if accepted:
            self._send_json(202, {"status": "OK"})
        else:
            message = f"Invalid request ID: {request_id} (unknown, finished or timed out)"
            self._send_json(400, {"errorType": "InvalidRequestID", "errorMessage": message})

    def _invoke(self, body: bytes) -> None:
        api = self.server.api
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            self._send(204)
            return
        context = _decode_client_context(self.headers.get("X-Amz-Client-Context"))
        request_id = api.submit(body, client_context=context)
        if invocation_type == "Event":
            threading.Thread(target=api.wait, args=(request_id,), daemon=True).start()
            self._send(202, headers={"X-Amzn-RequestId": request_id})
            return
        outcome = api.wait(request_id)
        headers = {"X-Amzn-RequestId": request_id, "X-Amz-Executed-Version": "$LATEST"}
        if not outcome.ok:
            headers[FUNCTION_ERROR_HEADER] = "Unhandled"
        self._send(200, outcome.body, headers, content_type=outcome.content_type)
