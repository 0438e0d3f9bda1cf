"""Find the chrome-headless-shell binary to render with — one resolver, four routes.

Order: ``HYPERFRAMES_CHROME_PATH`` (explicit override), then the build bundled in the
Lambda ZIP (its ``.br`` archives, decompressed to ``/tmp`` once per container), then the
pinned ``@sparticuz/chromium`` build installed by ``hyperframes-lambda browser install``
(the same binary Lambda runs), then a chrome-headless-shell that
``playwright install chromium-headless-shell`` left in ``$PLAYWRIGHT_BROWSERS_PATH`` or
``~/.cache/ms-playwright`` (found on disk; Playwright itself is not used), then Debian's
``chromium-headless-shell`` package. Debian's full ``chromium`` is deliberately not a
candidate: it has no BeginFrame.

Whichever runs, it sees the project's font set (:mod:`hyperframes_lambda.browser.font_set`), not the
host's fonts: :func:`~hyperframes_lambda.browser.launch.launch_browser` sets its fontconfig.
:func:`browser_build` names the build for plans and summaries.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import replace
from functools import cache
from pathlib import Path

from ..errors import ChromeBinaryUnavailableError
from .binary import ChromeBinary

ENV_CHROME_PATH = "HYPERFRAMES_CHROME_PATH"
ENV_BUNDLED_DIR = "HYPERFRAMES_BUNDLED_CHROMIUM_DIR"
# Chrome on Lambda: no zygote (no /dev/shm tricks, one sandbox) and a single process, as
# the sparticuz build is run there.
LAMBDA_FLAGS = ("--single-process", "--no-zygote")
DEBIAN_HEADLESS_SHELL = Path("/usr/lib/chromium/chromium-headless-shell")
ENV_PLAYWRIGHT_BROWSERS = "PLAYWRIGHT_BROWSERS_PATH"
# Inside a ``chromium_headless_shell-<revision>`` directory: the current layout, then the
# one before Playwright 1.49.
PLAYWRIGHT_SHELL_PATHS = (
    ("chrome-headless-shell-linux64", "chrome-headless-shell"),
    ("chrome-linux", "headless_shell"),
)

INSTALL_HINT = (
    "Install one of:\n"
    "  - the Lambda build:  hyperframes-lambda browser install\n"
    "  - Debian/Ubuntu:     apt-get install chromium-headless-shell\n"
    "  - with Playwright:   playwright install chromium-headless-shell\n"
    f"or point {ENV_CHROME_PATH} at a chrome-headless-shell binary."
)


def resolve_chrome() -> ChromeBinary:
    """Return the first usable browser, or raise with both install routes named."""
    binary = _find_chrome()
    if running_on_lambda():
        binary = replace(binary, extra_flags=(*binary.extra_flags, *LAMBDA_FLAGS))
    return binary


def running_on_lambda() -> bool:
    """True inside a real Lambda sandbox (set by the service, not by local emulators)."""
    return os.environ.get("AWS_EXECUTION_ENV", "").startswith("AWS_Lambda_")


def bundled_chromium_dir() -> Path | None:
    """The directory of the ZIP's ``chromium.br`` & co., when this is the Lambda package."""
    candidates = [os.environ.get(ENV_BUNDLED_DIR)]
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    if task_root:
        candidates.append(os.path.join(task_root, "chromium"))
    for candidate in candidates:
        if candidate and (Path(candidate) / "chromium.br").is_file():
            return Path(candidate)
    return None


def _find_chrome() -> ChromeBinary:
    override = os.environ.get(ENV_CHROME_PATH)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ChromeBinaryUnavailableError(
                f"{ENV_CHROME_PATH}={override} is not an executable file.\n{INSTALL_HINT}"
            )
        return ChromeBinary(str(path), "env")

    from . import sparticuz  # local import: keeps brotli off the import path of the CLI

    bundled = bundled_chromium_dir()
    if bundled is not None:
        # Once per container; a half-finished extraction (a timeout mid-way) has no
        # completion marker and is redone.
        target = Path(tempfile.gettempdir()) / f"hf-chromium-{sparticuz.SPARTICUZ_VERSION}"
        return replace(sparticuz.extract_bundled(bundled, target), source="bundled")

    installed = sparticuz.installed_binary()
    if installed is not None:
        return installed

    playwright = playwright_headless_shell()
    if playwright is not None:
        return playwright

    if DEBIAN_HEADLESS_SHELL.is_file() and os.access(DEBIAN_HEADLESS_SHELL, os.X_OK):
        return ChromeBinary(str(DEBIAN_HEADLESS_SHELL), "debian")

    raise ChromeBinaryUnavailableError(
        f"No chrome-headless-shell binary was found.\n{INSTALL_HINT}"
    )


def playwright_browsers_dir() -> Path | None:
    """Where ``playwright install`` puts browsers: ``$PLAYWRIGHT_BROWSERS_PATH`` (``0``
    means inside the Node package, which we do not search) or ``~/.cache/ms-playwright``."""
    configured = os.environ.get(ENV_PLAYWRIGHT_BROWSERS)
    if configured == "0":
        return None
    if configured:
        return Path(configured).expanduser()
    try:
        return Path.home() / ".cache" / "ms-playwright"
    except RuntimeError:
        return None


def playwright_headless_shell(root: Path | None = None) -> ChromeBinary | None:
    """The newest finished ``chromium_headless_shell-<revision>`` install, else None.

    Playwright marks a finished download with ``INSTALLATION_COMPLETE``; the revision is the
    number after the dash (compared as a number).
    """
    base = root if root is not None else playwright_browsers_dir()
    if base is None or not base.is_dir():
        return None
    installs: list[tuple[int, Path]] = []
    for entry in base.glob("chromium_headless_shell-*"):
        revision = entry.name.rsplit("-", 1)[-1]
        if revision.isdigit() and (entry / "INSTALLATION_COMPLETE").is_file():
            installs.append((int(revision), entry))
    for _revision, entry in sorted(installs, reverse=True):
        for parts in PLAYWRIGHT_SHELL_PATHS:
            executable = entry.joinpath(*parts)
            if executable.is_file() and os.access(executable, os.X_OK):
                return ChromeBinary(str(executable), "playwright")
    return None


def browser_build(binary: ChromeBinary) -> str:
    """A name for the build, e.g. ``@sparticuz/chromium@153.0.0`` (installed or bundled:
    the same pinned package), ``debian Chromium 156.0.8078.108``, ``playwright
    chromium_headless_shell-1187 Chromium 140.0.7339.16``, ``custom Chromium …``."""
    if binary.build:
        return binary.build
    version = _version_line(binary.path, tuple(sorted(binary.env.items())))
    if binary.source == "playwright":
        revision = Path(binary.path).parent.parent.name
        return f"playwright {revision} {version}"
    if binary.source == "debian":
        return f"debian {version}"
    return f"{binary.source} {version}"


@cache
def _version_line(path: str, env: tuple[tuple[str, str], ...]) -> str:
    try:
        result = subprocess.run(
            [path, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, **dict(env)},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ChromeBinaryUnavailableError(f"{path} --version failed: {exc}") from exc
    line = (result.stdout or "").strip().splitlines()
    if result.returncode != 0 or not line:
        raise ChromeBinaryUnavailableError(
            f"{path} --version failed (exit {result.returncode}): {result.stderr.strip()[-300:]}"
        )
    return re.sub(r"\s+", " ", line[0]).strip()
