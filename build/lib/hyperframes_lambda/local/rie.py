"""A Docker-free Lambda Runtime Interface Emulator: our Runtime API server + real awslambdaric.

Why: the AWS emulator ships inside container images and Docker is not available here. This
runs N ``python -m awslambdaric <handler>`` processes (the genuine runtime client Lambda's
Python images use) against :class:`~hyperframes_lambda.local.runtime_api.RuntimeApiServer`, and
serves RIE's invoke endpoint, so anything that talks to RIE works unchanged::

    python -m hyperframes_lambda.rie --handler hyperframes_lambda.handler.handler --port 9000
    curl -d '{"Action": "plan", ...}' \\
        http://127.0.0.1:9000/2015-03-31/functions/function/invocations

Like Lambda, each client runs one invocation at a time (``--concurrency`` clients run that
many in parallel); a client that dies fails its invocation with ``Runtime.ExitError`` and is
replaced by a fresh one; an invocation past ``--timeout`` fails with ``Sandbox.Timedout`` and
its client is recycled.

Note: the clients get the usual Lambda environment, including ``AWS_LAMBDA_FUNCTION_NAME``,
which makes code that checks it believe it runs on Lambda (``--function-name``, default
``hyperframes-local``; pass ``--function-name ''`` to leave the variable unset) — so the
handler refuses ``file://`` URIs unless ``--allow-file-uris``. ``--local-storage DIR``
needs no S3 and no credentials: the events' ``s3://BUCKET/KEY`` are the files
``DIR/BUCKET/KEY`` (what the README's ``curl -d @sam/events/plan.json`` example uses).

awslambdaric is an optional dependency: ``pip install 'hyperframes-lambda[lambda-local]'``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import IO, Any

from hyperframes_lambda.cache import ENV_CACHE_DIR, cache_root
from hyperframes_lambda.local.runtime_api import (
    DEFAULT_REGION,
    DEFAULT_TIMEOUT_S,
    InvocationOutcome,
    RuntimeApiServer,
    RuntimeSlot,
)

DEFAULT_HANDLER = "hyperframes_lambda.handler.handler"
INSTALL_HINT = "pip install 'hyperframes-lambda[lambda-local]'"
DEFAULT_FUNCTION_NAME = "hyperframes-local"
DEFAULT_MEMORY_MB = 3008
STARTUP_TIMEOUT_S = 60.0
_STOP_GRACE_S = 5.0

Stream = IO[Any] | int | None


@dataclass
class _Client:
    slot: RuntimeSlot
    proc: subprocess.Popen[bytes]
    started_at: float
    restarts: int = 0
    quick_exits: int = 0  # consecutive exits within a second of starting


def describe_exit(returncode: int) -> str:
    """Render an exit code the way RIE reports it ("exit status 3", "signal: SIGKILL")."""
    if returncode < 0:
        try:
            return f"signal: {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal: {-returncode}"
    return f"exit status {returncode}"


class LocalLambda:
    """Runtime API server plus ``concurrency`` supervised awslambdaric clients.

    ``with LocalLambda("mod.fn", concurrency=2) as rie: post to rie.invoke_url``.
    ``env`` entries override the client environment; a ``None`` value removes a variable.
    Clients inherit ``stdout``/``stderr`` unless given (a stream, fd or subprocess constant).
    """

    def __init__(
        self,
        handler: str = DEFAULT_HANDLER,
        concurrency: int = 1,
        *,
        port: int = 0,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        function_name: str = DEFAULT_FUNCTION_NAME,
        memory_mb: int = DEFAULT_MEMORY_MB,
        env: Mapping[str, str | None] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        stdout: Stream = None,
        stderr: Stream = None,
        python: str = sys.executable,
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.handler = handler
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.function_name = function_name
        self.memory_mb = memory_mb
        self.cwd = cwd
        self.python = python
        self.startup_timeout_s = startup_timeout_s
        self._env_overrides = dict(env or {})
        self._stdout = stdout
        self._stderr = stderr
        self.server = RuntimeApiServer(
            port,
            timeout_s=timeout_s,
            function_name=function_name or "function",
            region=self._region(),
            on_timeout=self._recycle_slot,
        )
        self._lock = threading.Lock()
        self._clients: list[_Client] = []
        self._monitors: list[threading.Thread] = []
        self._stopping = False

    # ----- addresses / convenience -----------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def invoke_url(self) -> str:
        return self.server.invoke_url

    @property
    def runtime_api(self) -> str:
        return self.server.runtime_api

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return [c.proc.pid for c in self._clients]

    @property
    def restarts(self) -> int:
        with self._lock:
            return sum(c.restarts for c in self._clients)

    def invoke(self, event: Any, timeout: float | None = None) -> InvocationOutcome:
        return self.server.invoke(event, timeout)

    # ----- lifecycle -------------------------------------------------------------------

    def start(self) -> LocalLambda:
        """Start the server and every client; return once each client is polling /next."""
        self.server.start()
        try:
            with self._lock:
                for _ in range(self.concurrency):
                    slot = self.server.add_slot()
                    self._clients.append(_Client(slot, self._spawn(slot), time.monotonic()))
            self._wait_until_polling()
        except BaseException:
            self.stop()
            raise
        for index in range(self.concurrency):
            thread = threading.Thread(
                target=self._monitor, args=(index,), name=f"rie-client-{index}", daemon=True
            )
            thread.start()
            self._monitors.append(thread)
        return self

    def stop(self) -> None:
        """Stop the clients (SIGTERM, then SIGKILL after a grace period), then the server."""
        with self._lock:
            self._stopping = True
            procs = [c.proc for c in self._clients]
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + _STOP_GRACE_S
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for thread in self._monitors:
            thread.join(timeout=_STOP_GRACE_S)
        self.server.stop()

    def __enter__(self) -> LocalLambda:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----- clients ---------------------------------------------------------------------

    def _region(self) -> str:
        for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            value = self._env_overrides.get(name, os.environ.get(name))
            if value:
                return value
        return DEFAULT_REGION

    def client_env(self, slot: RuntimeSlot) -> dict[str, str]:
        """The environment a Lambda Python runtime would give the handler (minus secrets)."""
        env = dict(os.environ)
        region = self._region()
        stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{secrets.token_hex(16)}"
        name = self.function_name or "function"
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": slot.runtime_api,
                "_HANDLER": self.handler,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(self.timeout_s)),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": stream,
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION") or region,
            }
        )
        # On Lambda the cache is /tmp's, and the ZIP carries the browser. Here, the clients
        # would otherwise take AWS_LAMBDA_FUNCTION_NAME for Lambda, cache in a fresh /tmp
        # directory and render with Debian's browser instead of the pinned build (other
        # pixels than Lambda's): they share this machine's cache, where the build is.
        env.setdefault(ENV_CACHE_DIR, str(cache_root()))
        if self.function_name:
            env["AWS_LAMBDA_FUNCTION_NAME"] = self.function_name
        else:
            env.pop("AWS_LAMBDA_FUNCTION_NAME", None)
        for key, value in self._env_overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def _spawn(self, slot: RuntimeSlot) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [self.python, "-m", "awslambdaric", self.handler],
            env=self.client_env(slot),
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=self._stderr,
            # Own session: a terminal's Ctrl-C reaches us only; we stop clients ourselves.
            start_new_session=True,
        )

    def _wait_until_polling(self) -> None:
        slots = [c.slot.slot for c in self._clients]
        deadline = time.monotonic() + self.startup_timeout_s
        while not self.server.wait_for_pollers(slots, timeout=0.1):
            for client in self._clients:
                code = client.proc.poll()
                if code is not None and not self.server.wait_for_pollers([client.slot.slot], 0):
                    raise RuntimeError(
                        f"awslambdaric for {self.handler!r} exited ({describe_exit(code)}) "
                        "before polling for invocations; is awslambdaric installed in "
                        f"{self.python}? ({INSTALL_HINT})"
                    )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"runtime clients for {self.handler!r} did not poll /next "
                    f"within {self.startup_timeout_s:.0f} s"
                )

    def _monitor(self, index: int) -> None:
        """Replace a client that exits, failing its in-flight invocation first."""
        while True:
            with self._lock:
                client = self._clients[index]
            code = client.proc.wait()
            with self._lock:
                if self._stopping:
                    return
            self.server.runtime_exited(client.slot.slot, describe_exit(code))
            if self.server.init_error is not None:
                # Init failed (bad handler, import error): invocations now return that error,
                # as on Lambda; restarting would only loop.
                return
            if time.monotonic() - client.started_at < 1.0:
                client.quick_exits += 1
                if client.quick_exits > 1:  # crash loop: back off, but not on a first crash
                    time.sleep(min(5.0, 0.1 * 2**client.quick_exits))
            else:
                client.quick_exits = 0
            with self._lock:
                if self._stopping:
                    return
                client.proc = self._spawn(client.slot)
                client.started_at = time.monotonic()
                client.restarts += 1

    def _recycle_slot(self, slot: int | None) -> None:
        """An invocation timed out: kill its client so the next one gets a fresh runtime."""
        with self._lock:
            for client in self._clients:
                if client.slot.slot == slot and client.proc.poll() is None:
                    client.proc.kill()


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    from ..runner.cli_errors import CliParser

    parser = CliParser(
        prog="python -m hyperframes_lambda.rie",
        description="Serve a Lambda handler through the real awslambdaric, RIE-style.",
    )
    parser.add_argument("--handler", default=DEFAULT_HANDLER, help="module.function")
    parser.add_argument("--port", type=int, default=9000, help="0 picks a free port")
    parser.add_argument("--concurrency", type=int, default=1, help="runtime client processes")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds")
    parser.add_argument(
        "--function-name",
        default=DEFAULT_FUNCTION_NAME,
        help="AWS_LAMBDA_FUNCTION_NAME for the clients ('' leaves it unset)",
    )
    parser.add_argument("--memory", type=int, default=DEFAULT_MEMORY_MB, help="MB (env only)")
    parser.add_argument(
        "--local-storage",
        metavar="DIR",
        help="serve s3://BUCKET/KEY from the file DIR/BUCKET/KEY (no S3, no credentials)",
    )
    parser.add_argument(
        "--allow-file-uris",
        action="store_true",
        help="let events use file:// URIs (refused when the handler believes it is on Lambda)",
    )
    return parser.parse_args(argv)


def missing_runtime_client() -> str | None:
    """The error to print when awslambdaric is not importable here, else None."""
    try:
        if importlib.util.find_spec("awslambdaric") is not None:
            return None
    except ImportError:  # a broken or blocked install is as good as none
        pass
    return (
        "the Lambda runtime interface client (awslambdaric) is not installed; "
        f"install it with: {INSTALL_HINT}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    if (problem := missing_runtime_client()) is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    env: dict[str, str | None] = {}
    if args.local_storage:
        root = os.path.abspath(args.local_storage)
        if not os.path.isdir(root):
            print(
                f"error: --local-storage {args.local_storage}: no such directory", file=sys.stderr
            )
            return 1
        env["HYPERFRAMES_LOCAL_STORAGE"] = root
    if args.allow_file_uris:
        env["HYPERFRAMES_ALLOW_FILE_URIS"] = "1"
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    rie = LocalLambda(
        args.handler,
        args.concurrency,
        port=args.port,
        timeout_s=args.timeout,
        function_name=args.function_name,
        memory_mb=args.memory,
        env=env,
        stdout=sys.stderr,  # keep our stdout to the one "ready" line; logs go to stderr
    )
    try:
        rie.start()
    except (RuntimeError, TimeoutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        if (init_error := rie.server.init_error) is not None:
            print(
                f"warning: handler init failed, invocations will fail: {init_error}",
                file=sys.stderr,
            )
        print(
            f"Lambda RIE ready: invoke URL {rie.invoke_url} "
            f"(handler {args.handler}, concurrency {args.concurrency})",
            flush=True,
        )
        while not stop.wait(1.0):
            pass
    finally:
        rie.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
