"""A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe``.

Why not Playwright: its Node driver is ~165 MB and does not fit the Lambda ZIP, and a
WebSocket transport halves PNG throughput (SPEC §4). The pipe protocol is simple: JSON
messages terminated by a NUL byte, we write on the browser's fd 3 and read its fd 4.

One reader thread parses messages; replies complete the waiting call, events go to
listeners. Every call has a timeout and fails with a typed, retryable error.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable
from typing import Any

from ..errors import BrowserCrashedError, CdpProtocolError, CdpTimeoutError

EventListener = Callable[[str, dict[str, Any], str | None], None]

DEFAULT_TIMEOUT_S = 30.0


class _PendingCall:
    __slots__ = ("done", "error", "result", "session")

    def __init__(self, session: str | None = None) -> None:
        self.session = session
        self.done = threading.Event()
        self.result: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None


class CdpPipe:
    """Sends commands and receives replies/events over a pair of pipe file descriptors."""

    def __init__(self, write_fd: int, read_fd: int, describe_exit: Callable[[], str]) -> None:
        self._write = os.fdopen(write_fd, "wb", buffering=0)
        self._read_fd = read_fd
        self._describe_exit = describe_exit
        self._lock = threading.Lock()
        self._next_id = 0
        self._pending: dict[int, _PendingCall] = {}
        self._listeners: list[EventListener] = []
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, name="cdp-reader", daemon=True)
        self._reader.start()

    def add_listener(self, listener: EventListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: EventListener) -> None:
        """Stop calling ``listener`` (a page of a pooled browser closed: its listener goes
        with it, or they would pile up over a warm container's renders)."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, session_id: str | None = None
    ) -> None:
        """Send one command without waiting for its reply: what a listener may do (it runs
        on the reader thread, which a waiting :meth:`call` would block). Errors are dropped."""
        if self._closed.is_set():
            return
        with self._lock:
            self._next_id += 1
            message: dict[str, Any] = {
                "id": self._next_id,
                "method": method,
                "params": params or {},
            }
            if session_id is not None:
                message["sessionId"] = session_id
            with contextlib.suppress(OSError):
                self._write.write(json.dumps(message, separators=(",", ":")).encode() + b"\0")

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> dict[str, Any]:
        """Send one command and wait for its reply (or raise)."""
        if self._closed.is_set():
            raise BrowserCrashedError(f"browser connection is closed ({self._describe_exit()})")
        pending = _PendingCall(session_id)
        with self._lock:
            self._next_id += 1
            call_id = self._next_id
            self._pending[call_id] = pending
        message: dict[str, Any] = {"id": call_id, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        data = json.dumps(message, separators=(",", ":")).encode() + b"\0"
        try:
            with self._lock:
                self._write.write(data)
        except OSError as exc:
            self._pending.pop(call_id, None)
            raise BrowserCrashedError(
                f"could not send {method} to the browser: {exc} ({self._describe_exit()})"
            ) from exc
        if not pending.done.wait(timeout):
            self._pending.pop(call_id, None)
            raise CdpTimeoutError(f"CDP call {method} got no reply within {timeout:.0f}s")
        if pending.error is not None:
            if pending.error.get("code") == "closed":
                raise BrowserCrashedError(
                    f"browser exited during {method} ({self._describe_exit()})"
                )
            if pending.error.get("code") == "crashed":
                raise BrowserCrashedError(f"the page's renderer crashed during {method}")
            raise CdpProtocolError(
                f"CDP call {method} failed: {pending.error.get('message')} "
                f"{pending.error.get('data', '')}".rstrip()
            )
        return pending.result or {}

    def fail_session(self, session_id: str) -> None:
        """Fail every call waiting on ``session_id`` (its renderer crashed: a crashed
        target keeps its session, so they would otherwise wait for their timeout)."""
        with self._lock:
            ids = [i for i, call in self._pending.items() if call.session == session_id]
            calls = [self._pending.pop(i) for i in ids]
        for call in calls:
            call.error = {"code": "crashed"}
            call.done.set()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._write.close()

    def _read_loop(self) -> None:
        buffer = bytearray()
        try:
            while True:
                chunk = os.read(self._read_fd, 1 << 20)
                if not chunk:
                    break
                buffer += chunk
                while True:
                    end = buffer.find(b"\0")
                    if end < 0:
                        break
                    raw = bytes(buffer[:end])
                    del buffer[: end + 1]
                    self._dispatch(json.loads(raw))
        except OSError:
            pass
        finally:
            self._closed.set()
            os.close(self._read_fd)
            with self._lock:
                pending = list(self._pending.values())
                self._pending.clear()
            for call in pending:
                call.error = {"code": "closed"}
                call.done.set()

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            with self._lock:
                pending = self._pending.pop(message["id"], None)
            if pending is None:
                return
            pending.error = message.get("error")
            pending.result = message.get("result", {})
            pending.done.set()
            return
        method = message.get("method", "")
        params = message.get("params", {})
        for listener in list(self._listeners):
            listener(method, params, message.get("sessionId"))
