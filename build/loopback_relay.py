"""Loopback services across a network namespace boundary, through Unix sockets.

The Lambda-like sandbox (build/lambda_sandbox.py) runs with ``bwrap --unshare-net``: only
its own loopback exists inside. The services the handler must reach — the Runtime API, the
S3 server, the npm registry mirror — listen on the host's 127.0.0.1. Outside, the sandbox
launcher accepts on ``<dir>/<port>.sock`` and connects to the host's ``127.0.0.1:<port>``;
inside, this script (stdlib only, run by the sandbox's Python) listens on the sandbox's
``127.0.0.1:<port>`` and connects to ``<dir>/<port>.sock``. Nothing else leaves the sandbox.

    python loopback_relay.py SOCKET_DIR PORT... -- COMMAND ARGS...

listens on every PORT, forks the relay, and execs COMMAND (it runs as the sandbox's main
process; the relay dies with the sandbox's PID namespace).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from collections.abc import Callable, Sequence

Connect = Callable[[], socket.socket]
_BUFFER = 256 * 1024


def _pump(source: socket.socket, dest: socket.socket) -> None:
    try:
        while data := source.recv(_BUFFER):
            dest.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        dest.shutdown(socket.SHUT_WR)  # pass the half-close on; the other way may go on


def bridge(client: socket.socket, connect: Connect) -> None:
    """Copy bytes both ways between ``client`` and a fresh upstream connection."""
    try:
        upstream = connect()
    except OSError:
        client.close()
        return
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def serve(listener: socket.socket, connect: Connect) -> None:
    """Accept forever, one bridging thread per connection."""
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=bridge, args=(client, connect), daemon=True).start()


def serve_in_background(listener: socket.socket, connect: Connect) -> threading.Thread:
    thread = threading.Thread(target=serve, args=(listener, connect), daemon=True)
    thread.start()
    return thread


def _unix_connector(path: str) -> Connect:
    def connect() -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        return sock

    return connect


def main(argv: Sequence[str]) -> int:
    if "--" not in argv or len(argv) < 3:
        print("usage: loopback_relay.py SOCKET_DIR PORT... -- COMMAND...", file=sys.stderr)
        return 2
    split = list(argv).index("--")
    socket_dir, ports, command = argv[0], [int(p) for p in argv[1:split]], argv[split + 1 :]
    listeners = []
    for port in ports:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        listeners.append((port, listener))
    if os.fork() == 0:  # the relay: no threads exist yet, so forking is safe
        for port, listener in listeners:
            serve_in_background(listener, _unix_connector(f"{socket_dir}/{port}.sock"))
        threading.Event().wait()
        os._exit(0)
    for _, listener in listeners:
        listener.close()
    os.execv(command[0], list(command))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
