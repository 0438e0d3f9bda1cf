#!/usr/bin/env python3
"""Run the extracted Lambda ZIP the way Lambda runs it, in a bubblewrap sandbox.

What the sandbox looks like (a Lambda python3.12 container, as far as a host can fake it):

- the root filesystem read-only; the extracted ZIP read-only at ``/var/task``; the runtime
  interface client (``awslambdaric`` for CPython 3.12, pip-installed like the ZIP's
  dependencies) read-only at ``/var/runtime`` — on Lambda it is part of the runtime, not of
  the ZIP, so the ZIP does not carry it;
- a fresh writable ``/tmp`` per container, nothing else writable: HOME
  (``/home/sbx_user1051``) does not exist and cannot be created;
- hidden: the host's Chromium (``/usr/lib/chromium``, ``/usr/bin/chromium*``), any system
  ffmpeg/ffprobe, ``/root`` (the host caches; only the Python 3.12 install is mounted
  back), ``/home``, ``/work`` (this checkout and its virtualenv), the host's ``/tmp``;
- Lambda's environment (``LAMBDA_TASK_ROOT``, ``AWS_EXECUTION_ENV``, ``PYTHONPATH``…)
  and nothing of the host's environment but what the Runtime API emulator sets;
- no network but loopback (``--unshare-net``): the services the handler must reach — the
  Runtime API, the S3 server and the npm registry mirror the tests run on the host's
  127.0.0.1 — are relayed to the same ports of the sandbox's own loopback through Unix
  sockets (build/loopback_relay.py); every other address is unreachable.

Python 3.12: ``$HYPERFRAMES_PYTHON312``, else ``python3.12`` on PATH (pyenv shims are
resolved to the real interpreter), else ``$(pyenv root)/versions/3.12*/bin/python3.12``.

Used by the tests (tests/test_lambda_zip.py) and benchmarks/lambda_cold_start.py through
:class:`Sandbox`, whose :meth:`Sandbox.launcher` is an executable that
:class:`hyperframes_lambda.local.rie.LocalLambda` runs as its ``python``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loopback_relay

HERE = Path(__file__).resolve().parent
LAMBDA_HOME = "/home/sbx_user1051"
RELAY_SCRIPT = HERE / "loopback_relay.py"
RELAY_DIR = ".hf-loopback"  # in the container's /tmp: the Unix sockets of the relays
_LOOPBACK_PORT = re.compile(r"(?:127\.0\.0\.1|localhost):(\d+)")
# The environment of a Lambda python3.12 function (values as documented by AWS).
LAMBDA_ENV = {
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    "LD_LIBRARY_PATH": (
        "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:"
        "/var/task/lib:/opt/lib"
    ),
    "PYTHONPATH": "/var/runtime",
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    "HOME": LAMBDA_HOME,
}
# What the Runtime API emulator's client environment may pass in.
_PASSED_PREFIXES = ("AWS_LAMBDA_",)
_PASSED_NAMES = ("_HANDLER", "AWS_REGION", "AWS_DEFAULT_REGION")
_HIDDEN_FILES = (
    "/usr/bin/ffmpeg",
    "/usr/bin/ffprobe",
    "/usr/local/bin/ffmpeg",
    "/usr/local/bin/ffprobe",
)


# --- what the host needs ----------------------------------------------------------------


def find_python312() -> str | None:
    """The real path of a CPython 3.12 interpreter, or None."""
    candidates: list[str] = []
    explicit = os.environ.get("HYPERFRAMES_PYTHON312")
    if explicit:
        candidates.append(explicit)
    on_path = shutil.which("python3.12")
    if on_path:
        candidates.append(on_path)
    roots = [os.environ.get("PYENV_ROOT"), str(Path.home() / ".pyenv")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        result = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        roots.insert(0, result.stdout.strip() or None)
    for root in roots:
        if root:
            candidates += sorted(str(p) for p in Path(root).glob("versions/3.12*/bin/python3.12"))
    for candidate in candidates:
        result = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12), sys.executable)"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        ok, _, executable = result.stdout.strip().partition(" ")
        if result.returncode == 0 and ok == "True" and executable:
            return str(Path(executable).resolve())
    return None


def find_bwrap() -> str | None:
    """``bwrap`` if it exists and can create a sandbox here (user namespaces allowed)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None
    probe = subprocess.run(
        [bwrap, "--unshare-net", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
         "true"],
        capture_output=True, check=False,
    )  # fmt: skip
    return bwrap if probe.returncode == 0 else None


def extract_zip(zip_path: Path, dest: Path) -> Path:
    """Extract like Lambda does: regular files with the modes the ZIP records."""
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            path = archive.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(path, mode)
    return dest


def install_runtime(dest: Path) -> Path:
    """``awslambdaric`` (this environment's version) for CPython 3.12 into ``dest``."""
    from importlib import metadata

    sys.path.insert(0, str(HERE))
    from build_zip import PIP_TARGET_ARGS

    version = metadata.version("awslambdaric")
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile", "--target", str(dest), *PIP_TARGET_ARGS, f"awslambdaric=={version}",
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    shutil.rmtree(dest / "bin", ignore_errors=True)
    return dest


# --- the sandbox ------------------------------------------------------------------------


@dataclass
class Sandbox:
    """A Lambda-like container recipe; each :meth:`command` call is a fresh container."""

    task_dir: Path
    runtime_dir: Path
    tmp_root: Path  # each container gets its own directory below it as /tmp
    python: str
    bwrap: str
    env: dict[str, str] = field(default_factory=dict)  # on top of LAMBDA_ENV

    def python_prefix(self) -> str:
        result = subprocess.run(
            [self.python, "-c", "import sys; print(sys.base_prefix)"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return result.stdout.strip()

    def environment(self, inherited: Mapping[str, str]) -> dict[str, str]:
        """What the handler sees: Lambda's variables, the emulator's, the caller's."""
        env = {
            key: value
            for key, value in inherited.items()
            if key.startswith(_PASSED_PREFIXES) or key in _PASSED_NAMES
        }
        env.update(LAMBDA_ENV)
        env.update(self.env)
        return env

    def command(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        container_tmp: Path,
        relayed_ports: Sequence[int] = (),
    ) -> list[str]:
        """The bwrap command line running ``python3.12 -s argv…`` in a new container whose
        loopback ``relayed_ports`` lead to the host's (see :func:`relay_host_ports`)."""
        prefix = self.python_prefix()
        args = [
            self.bwrap, "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-net", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
        ]  # fmt: skip
        for hidden in ("/root", "/home", "/work"):
            if Path(hidden).is_dir():
                args += ["--tmpfs", hidden]
        if prefix.startswith(("/root/", "/home/", "/work/")):
            args += ["--ro-bind", prefix, prefix]
        for hidden in ("/root", "/home", "/work"):
            if Path(hidden).is_dir():
                args += ["--remount-ro", hidden]
        if Path("/usr/lib/chromium").is_dir():
            args += ["--tmpfs", "/usr/lib/chromium", "--remount-ro", "/usr/lib/chromium"]
        hidden_files = [*_HIDDEN_FILES, *map(str, Path("/usr/bin").glob("chromium*"))]
        for path in hidden_files:
            if os.path.lexists(path):
                args += ["--ro-bind", "/dev/null", path]
        args += [
            "--tmpfs", "/var",
            "--ro-bind", str(self.task_dir), "/var/task",
            "--ro-bind", str(self.runtime_dir), "/var/runtime",
            "--ro-bind", str(RELAY_SCRIPT), "/var/hf-sandbox/loopback_relay.py",
            "--remount-ro", "/var",
            "--bind", str(container_tmp), "/tmp",
            "--chdir", "/var/task",
            "--clearenv",
        ]  # fmt: skip
        for key, value in sorted(env.items()):
            args += ["--setenv", key, value]
        relay = [
            self.python, "-s", "/var/hf-sandbox/loopback_relay.py", f"/tmp/{RELAY_DIR}",
            *map(str, relayed_ports), "--",
        ]  # fmt: skip
        return [*args, *relay, self.python, "-s", *argv]

    def launcher(self, directory: Path) -> Path:
        """An executable that runs its arguments with Python 3.12 in a new container
        (give it to LocalLambda as ``python``)."""
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "sandbox.json"
        data = {k: v if k == "env" else str(v) for k, v in asdict(self).items()}
        config.write_text(json.dumps(data, indent=1))
        script = directory / "python3.12-lambda"
        script.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" "{config}" "$@"\n'
        )
        script.chmod(0o755)
        return script


@dataclass
class NpmMirror:
    """What a loopback npm registry served: its URL and every request path."""

    url: str
    requests: list[str] = field(default_factory=list)


@contextlib.contextmanager
def npm_mirror(packages: Sequence[tuple[str, str]]) -> Iterator[NpmMirror]:
    """A registry on 127.0.0.1 serving ``(name, version)`` tarballs from this host's verified
    npm cache (fetched once if missing) with their SHA-512; anything else is a 404.

    The sandbox has no internet: a composition's CDN URL falls back to the registry the
    renderer is pointed at (``HYPERFRAMES_NPM_REGISTRY``), which is this mirror.
    """
    from hyperframes_lambda.net import npm_registry

    documents: dict[str, bytes] = {}
    tarballs: dict[str, bytes] = {}
    state = NpmMirror("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            path = urllib.parse.unquote(self.path.split("?", 1)[0])
            body = documents.get(path) or tarballs.get(path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    for name, version in packages:
        data = npm_registry.fetch_tarball(name, version).read_bytes()
        tar_path = f"/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"
        tarballs[tar_path] = data
        sri = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
        document = {
            "name": name,
            "dist-tags": {"latest": version},
            "versions": {version: {"dist": {"tarball": state.url + tar_path, "integrity": sri}}},
        }
        documents[f"/{name}"] = json.dumps(document).encode()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _load(config: Path) -> Sandbox:
    raw = json.loads(config.read_text())
    return Sandbox(
        task_dir=Path(raw["task_dir"]), runtime_dir=Path(raw["runtime_dir"]),
        tmp_root=Path(raw["tmp_root"]), python=raw["python"], bwrap=raw["bwrap"],
        env=dict(raw["env"]),
    )  # fmt: skip


def loopback_ports(env: Mapping[str, str]) -> list[int]:
    """Ports of the host's loopback the environment names (Runtime API, endpoints)."""
    ports = {int(m) for value in env.values() for m in _LOOPBACK_PORT.findall(value)}
    return sorted(ports)


def relay_host_ports(socket_dir: Path, ports: Sequence[int]) -> None:
    """Accept on ``socket_dir/<port>.sock`` and connect to the host's 127.0.0.1:<port>."""
    socket_dir.mkdir(mode=0o700)
    for port in ports:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # A relative name: the absolute path may be longer than a socket address allows.
        cwd = os.getcwd()
        os.chdir(socket_dir)
        try:
            listener.bind(f"{port}.sock")
        finally:
            os.chdir(cwd)
        listener.listen(128)

        def connect(port: int = port) -> socket.socket:
            return socket.create_connection(("127.0.0.1", port))

        loopback_relay.serve_in_background(listener, connect)


def main(argv: Sequence[str]) -> int:
    """``lambda_sandbox.py CONFIG ARGS…``: run ARGS under Python 3.12 in a new container
    (and relay its loopback services until it exits)."""
    if len(argv) < 1:
        print("usage: lambda_sandbox.py SANDBOX_JSON PYTHON_ARGS...", file=sys.stderr)
        return 2
    sandbox = _load(Path(argv[0]))
    sandbox.tmp_root.mkdir(parents=True, exist_ok=True)
    container_tmp = Path(tempfile.mkdtemp(prefix="container-", dir=sandbox.tmp_root))
    container_tmp.chmod(0o1777)
    env = sandbox.environment(os.environ)
    ports = loopback_ports(env)
    relay_host_ports(container_tmp / RELAY_DIR, ports)
    process = subprocess.Popen(sandbox.command(argv[1:], env, container_tmp, ports))

    def forward(signum: int, _frame: object) -> None:
        process.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return process.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
