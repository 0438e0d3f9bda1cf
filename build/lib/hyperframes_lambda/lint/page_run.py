"""Run HyperFrames' linter in the headless browser we render with (Lambda has no Node).

One browser serves many lints (:class:`LintBrowser`); each project gets its own page
server (the project directory plus the lint page's routes) and a fresh page.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..browser.launch import BrowserProcess, launch_browser
from ..browser.page_server import PageServer, ServedFile
from ..browser.resolve import resolve_chrome
from ..errors import LintUnavailableError
from .page_assets import PREFIX, static_routes
from .snapshot import snapshot

LOAD_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 120.0
_POLL_S = 0.02
_STATUS = (
    "window.__hfLint ? 'ready' : (window.__hfLintHost && window.__hfLintHost.errors.length"
    " ? JSON.stringify(window.__hfLintHost.errors) : null)"
)


class LintBrowser:
    """``with LintBrowser() as browser: browser.run(project_dir, entry_file)``."""

    def __init__(self) -> None:
        self._browser: BrowserProcess | None = None

    def __enter__(self) -> LintBrowser:
        self._browser = launch_browser(resolve_chrome(), width=800, height=600, deterministic=False)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None

    def run(self, project_dir: Path, entry_file: Path | None) -> dict[str, Any]:
        """``lintProject(project_dir, entry_file)``'s result (absolute paths in it)."""
        assert self._browser is not None, "use LintBrowser as a context manager"
        cdp = self._browser.cdp
        tree = snapshot(project_dir)
        routes = {
            **static_routes(),
            f"{PREFIX}/project.json": ServedFile(json.dumps(tree).encode(), "application/json"),
        }
        target = cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        try:
            session: str = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
                "sessionId"
            ]

            def evaluate(expression: str, timeout: float, *, wait: bool = False) -> Any:
                reply = cdp.call(
                    "Runtime.evaluate",
                    {"expression": expression, "awaitPromise": wait, "returnByValue": True},
                    session_id=session,
                    timeout=timeout,
                )
                if "exceptionDetails" in reply:
                    details = reply["exceptionDetails"]
                    text = details.get("exception", {}).get("description") or details.get("text")
                    raise LintUnavailableError(f"HyperFrames' linter failed: {text}")
                return reply.get("result", {}).get("value")

            with PageServer(project_dir, routes=routes) as server:
                cdp.call(
                    "Page.navigate", {"url": server.url(f"{PREFIX}/index.html")}, session_id=session
                )
                deadline = time.monotonic() + LOAD_TIMEOUT_S
                while (status := evaluate(_STATUS, LOAD_TIMEOUT_S)) != "ready":
                    if status is not None:
                        first = json.loads(status)[0]
                        raise LintUnavailableError(
                            f"HyperFrames' linter did not load in the browser: {first}"
                        )
                    if time.monotonic() > deadline:
                        raise LintUnavailableError(
                            f"HyperFrames' linter did not load within {LOAD_TIMEOUT_S:.0f}s"
                        )
                    time.sleep(_POLL_S)
                entry = json.dumps(str(entry_file) if entry_file is not None else None)
                result = evaluate(
                    f"window.__hfLint.run({json.dumps(tree['cwd'])}, {entry})",
                    RUN_TIMEOUT_S,
                    wait=True,
                )
            return dict(json.loads(result))
        finally:
            cdp.call("Target.closeTarget", {"targetId": target})
