"""Start chrome-headless-shell with the deterministic flag set and a CDP pipe.

Every browser gets the project's font set (:func:`..fonts_set.fontconfig_env`): the same
fonts whichever binary runs, never the host's.

The flag list follows SPEC §4: ``--deterministic-mode`` puts every target under
BeginFrame control; SwiftShader software GL gives identical pixels on every host.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

from ..errors import BrowserCrashedError
from . import font_set
from .binary import ChromeBinary
from .cdp import CdpPipe
from .memory_budget import current_budget
from .memory_watch import MemoryWatch
from .page_server import page_proxy

DETERMINISTIC_FLAGS = (
    "--deterministic-mode",
    "--enable-begin-frame-control",
    "--run-all-compositor-stages-before-draw",
    "--disable-new-content-rendering-timeout",
    "--enable-surface-synchronization",
    "--disable-threaded-animation",
    "--disable-threaded-scrolling",
    "--disable-checker-imaging",
    "--disable-image-animation-resync",
)

COMMON_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--hide-scrollbars",
    "--mute-audio",
    "--disable-dev-shm-usage",
    "--font-render-hinting=none",
    "--force-color-profile=srgb",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--disable-quic",
    "--disable-features=Translate,MediaRouter,OptimizationHints,DialMediaRouteProvider",
    # canvas.drawElementImage: HyperFrames' page-side shader compositing draws scenes with it.
    "--enable-features=CanvasDrawElement",
    # The page may only reach our local server: anything else fails fast, never leaks.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    # ... and everything goes through the page proxy (launch_browser adds it), so this
    # policy leaves WebRTC no UDP (to IP literals, which no resolver rule sees), only TCP
    # through that proxy, which refuses it.
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--remote-debugging-pipe",
)


@dataclass
class BrowserProcess:
    """A running browser: its process, CDP pipe and the tail of its stderr."""

    binary: ChromeBinary
    process: subprocess.Popen[bytes]
    cdp: CdpPipe
    user_data_dir: str
    stderr_tail: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=60)
    )
    # The highest BeginFrame frameTimeTicks sent to any page of this browser: a page opened
    # later in a pooled browser continues from it (ticks only ever increase, SPEC §4).
    frame_ticks: float = 1.0
    # Pages (chunks) a pooled browser has served: the use budget (see .pool).
    pages_served: int = 0
    # The page budget's watch: one thread for the browser's life, pages attach to it.
    memory_watch: MemoryWatch = field(init=False)

    def __post_init__(self) -> None:
        self.memory_watch = MemoryWatch(self.process, self.stderr_tail)

    def describe_exit(self) -> str:
        return _describe_exit(self.binary, self.process, self.stderr_tail)

    def close(self) -> None:
        """Ask the browser to quit, then make sure it is gone and its profile removed."""
        self.memory_watch.close()
        if self.process.poll() is None:
            with contextlib.suppress(Exception):  # best effort; we kill below anyway
                self.cdp.call("Browser.close", timeout=5)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.cdp.close()
        remove_profile(self.user_data_dir)

    def __enter__(self) -> BrowserProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def remove_profile(path: str, attempts: int = 40) -> None:
    """Remove a browser profile directory, for good. Chrome's helper processes (renderer,
    GPU, network service) can still be writing into it for a moment after the browser
    process has exited; a single rmtree then leaves what they wrote after it passed (seen
    under load: a SIGTERMed render left a half-removed profile). So retry until it is gone,
    briefly (40 x 50 ms at most)."""
    for _ in range(attempts):
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.lexists(path):
            return
        time.sleep(0.05)


def launch_browser(
    binary: ChromeBinary,
    *,
    width: int,
    height: int,
    deterministic: bool = True,
    extra_flags: tuple[str, ...] = (),
) -> BrowserProcess:
    """Launch ``binary`` and return a connected :class:`BrowserProcess`."""
    user_data_dir = tempfile.mkdtemp(prefix="hf-chrome-")
    args = [
        binary.path,
        *COMMON_FLAGS,
        *(DETERMINISTIC_FLAGS if deterministic else ()),
        *binary.extra_flags,
        # V8's heap capped at the page budget: past it the page dies "out of memory" (a
        # typed PAGE_OUT_OF_MEMORY), not the whole function (see .memory_budget).
        *current_budget().launch_flags(),
        *extra_flags,
        # Page isolation: the page proxy serves the open page servers' origins, nothing
        # else; `<-loopback>` sends loopback through it too (Chrome bypasses it by default).
        f"--proxy-server=http://{page_proxy()}",
        "--proxy-bypass-list=<-loopback>",
        f"--window-size={width},{height}",
        f"--user-data-dir={user_data_dir}",
        "about:blank",
    ]
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()

    def place_pipe_fds() -> None:  # runs in the child, before exec
        # Move both ends out of the way first so dup2 onto 3/4 cannot clobber them; the
        # copies are close-on-exec and dup2's targets are not, so only 3/4 are inherited
        # (every other fd Python opened is close-on-exec, PEP 446).
        a = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
        b = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.dup2(a, 3)
        os.dup2(b, 4)

    # The project's font set, whichever binary this is (its own fontconfig is overridden).
    env = {**os.environ, **binary.env, **font_set.fontconfig_env()}
    try:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            preexec_fn=place_pipe_fds,  # noqa: PLW1509 - needed to place fds 3/4
            close_fds=False,
        )
    except OSError as exc:
        shutil.rmtree(user_data_dir, ignore_errors=True)
        raise BrowserCrashedError(f"could not start {binary.path}: {exc}") from exc
    except BaseException:  # Ctrl-C / SIGTERM while starting: leave no profile behind
        shutil.rmtree(user_data_dir, ignore_errors=True)
        raise
    finally:
        os.close(to_browser_r)
        os.close(from_browser_w)

    stderr_tail: collections.deque[str] = collections.deque(maxlen=60)

    def describe_exit() -> str:  # the pipe needs it before the BrowserProcess exists
        return _describe_exit(binary, process, stderr_tail)

    cdp = CdpPipe(to_browser_w, from_browser_r, describe_exit)
    browser = BrowserProcess(binary, process, cdp, user_data_dir, stderr_tail)
    threading.Thread(target=_drain_stderr, args=(browser,), daemon=True).start()
    try:
        cdp.call("Browser.getVersion", timeout=30)
    except Exception:
        browser.close()
        raise
    return browser


def _describe_exit(
    binary: ChromeBinary, process: subprocess.Popen[bytes], stderr_tail: collections.deque[str]
) -> str:
    code = process.poll()
    state = "still running" if code is None else f"exit code {code}"
    tail = "\n".join(list(stderr_tail)[-15:])
    return f"{binary.path}: {state}" + (f"; stderr:\n{tail}" if tail else "")


def _drain_stderr(browser: BrowserProcess) -> None:
    assert browser.process.stderr is not None
    for raw in browser.process.stderr:
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            browser.stderr_tail.append(line)
