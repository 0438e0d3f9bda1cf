"""Find the chrome-headless-shell binary to render with — one resolver, three routes.

Order: ``HYPERFRAMES_CHROME_PATH`` (explicit override), then the build bundled in the
Lambda ZIP (its ``.br`` archives, decompressed to ``/tmp`` once per container), then the
pinned ``@sparticuz/chromium`` build installed by ``hyperframes-lambda browser install``
(the same binary Lambda runs), then Debian's ``chromium-headless-shell`` package.
Debian's full ``chromium`` is deliberately not a candidate: it has no BeginFrame.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import ChromeBinaryUnavailableError

ENV_CHROME_PATH = "HYPERFRAMES_CHROME_PATH"
ENV_BUNDLED_DIR = "HYPERFRAMES_BUNDLED_CHROMIUM_DIR"
# Chrome on Lambda: no zygote (no /dev/shm tricks, one sandbox) and a single process, as
# the sparticuz build is run there.
LAMBDA_FLAGS = ("--single-process", "--no-zygote")
DEBIAN_HEADLESS_SHELL = Path("/usr/lib/chromium/chromium-headless-shell")

INSTALL_HINT = (
    "Install one of:\n"
    "  - the Lambda build:  hyperframes-lambda browser install\n"
    "  - Debian/Ubuntu:     apt-get install chromium-headless-shell\n"
    f"or point {ENV_CHROME_PATH} at a chrome-headless-shell binary."
)


@dataclass(frozen=True)
class ChromeBinary:
    """An executable plus the environment and flags it needs to start."""

    path: str
    source: str  # "env" | "bundled" | "sparticuz" | "debian"
    env: dict[str, str] = field(default_factory=dict)
    extra_flags: tuple[str, ...] = ()


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

    if DEBIAN_HEADLESS_SHELL.is_file() and os.access(DEBIAN_HEADLESS_SHELL, os.X_OK):
        return ChromeBinary(str(DEBIAN_HEADLESS_SHELL), "debian")

    raise ChromeBinaryUnavailableError(
        f"No chrome-headless-shell binary was found.\n{INSTALL_HINT}"
    )
