"""Capture composition frames from headless Chromium, deterministically (SPEC §4).

One :class:`PageCapture` is one browser with one composition page. ``capture(i)`` seeks the
page to the absolute time of frame ``i`` and returns the encoded screenshot bytes, so any
frame range, in any order, can be captured by any process and give the same bytes.

The pitfall this module exists to avoid: every ``beginFrame`` of a page, including those
pumped while it loads, takes its ``frameTimeTicks`` from one counter that only increases.
Mixing omitted ticks with small explicit ones makes Chrome ignore frames silently.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .browser.cdp import CdpPipe
from .browser.launch import BrowserProcess, launch_browser
from .browser.resolve import ChromeBinary
from .errors import (
    AssetNotFoundError,
    CaptureError,
    CdpProtocolError,
    CompositionError,
    PageScriptError,
)
from .runtime import runtime_source, variables_source
from .timing import frame_time

ImageFormat = Literal["jpeg", "png"]
CaptureMode = Literal["beginframe", "screenshot"]

# A BeginFrame may return no image while the renderer initialises (even with damage);
# retry with backoff, ~3 s in all, before calling it a (retryable) capture failure.
_EMPTY_FRAME_RETRIES = 12
_EMPTY_FRAME_BACKOFF_S = (0.005, 0.5)


@dataclass(frozen=True)
class CaptureSettings:
    """What the page is rendered at. ``width``/``height`` are output pixels; the page is
    laid out at ``css_width``/``css_height`` and scaled by the device pixel ratio."""

    css_width: int
    css_height: int
    width: int
    height: int
    fps: int
    image_format: ImageFormat = "jpeg"
    jpeg_quality: int = 90
    transparent: bool = False
    variables: Mapping[str, Any] = field(default_factory=dict)
    ready_timeout_s: float = 60.0
    call_timeout_s: float = 30.0
    mode: Literal["auto", "beginframe", "screenshot"] = "auto"
    # Scripts run before the runtime on every document (e.g. the plan's video frame list).
    init_scripts: tuple[str, ...] = ()

    @property
    def scale(self) -> float:
        return self.width / self.css_width


class PageCapture:
    """A loaded, ready composition page; capture frames with :meth:`capture`."""

    def __init__(
        self,
        browser: BrowserProcess,
        session_id: str,
        settings: CaptureSettings,
        mode: CaptureMode,
        missing_assets: Any,
    ) -> None:
        self._browser = browser
        self._cdp: CdpPipe = browser.cdp
        self._session = session_id
        self.settings = settings
        self.mode: CaptureMode = mode
        self._ticks = 0.0
        self._interval_ms = 1000.0 / settings.fps
        self._last_frame: bytes | None = None
        self._missing_assets = missing_assets
        self.duration = 0.0

    # ---- opening -------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        binary: ChromeBinary,
        url: str,
        settings: CaptureSettings,
        missing_assets: Any = None,
    ) -> PageCapture:
        """Launch a browser, load ``url`` and wait until the composition is ready.

        ``missing_assets`` is a callable returning paths the page server could not find.
        """
        modes: list[CaptureMode] = (
            ["beginframe", "screenshot"] if settings.mode == "auto" else [settings.mode]
        )
        for attempt, mode in enumerate(modes):
            browser = launch_browser(
                binary,
                width=settings.css_width,
                height=settings.css_height,
                deterministic=mode == "beginframe",
            )
            try:
                session = _open_target(browser, settings, mode)
            except CdpProtocolError as exc:
                browser.close()
                if mode == "beginframe" and attempt + 1 < len(modes) and "wasn't found" in str(exc):
                    continue  # this binary has no BeginFrame: fall back to screenshots
                raise
            except BaseException:
                browser.close()
                raise
            page = cls(browser, session, settings, mode, missing_assets)
            try:
                page._load(url)
            except BaseException:
                page.close()
                raise
            return page
        raise CaptureError("no capture mode could be started")  # pragma: no cover

    def _load(self, url: str) -> None:
        self._call("Page.navigate", {"url": url})
        deadline = time.monotonic() + self.settings.ready_timeout_s
        while True:
            if self.mode == "beginframe":
                self._begin_frame(screenshot=False)
            status = self._evaluate("window.__hf ? window.__hf.status() : null")
            if status:
                if status.get("errors"):
                    raise PageScriptError(
                        "the composition's scripts failed while loading:\n"
                        + "\n".join(status["errors"])
                    )
                if status.get("failure"):
                    raise CompositionError(
                        f"the composition cannot be rendered: {status['failure']}"
                    )
                if status.get("ready"):
                    self._check_missing_assets()
                    self.duration = float(status.get("duration") or 0.0)
                    if self.mode == "beginframe":
                        # Draw once with a screenshot so we hold the bytes of the last
                        # drawn frame: "no damage" replies are then always answerable.
                        self._draw("the loaded page")
                    return
            if time.monotonic() > deadline:
                self._check_missing_assets()
                raise CompositionError(
                    f"the composition at {url} was not ready within "
                    f"{self.settings.ready_timeout_s:.0f}s (scripts still loading, fonts or "
                    "images pending, or no load event)"
                )
            if self.mode == "screenshot":
                time.sleep(0.01)

    def _check_missing_assets(self) -> None:
        missing = list(self._missing_assets()) if self._missing_assets else []
        if missing:
            raise AssetNotFoundError(
                "the composition references files that are not in the project: "
                + ", ".join(sorted(set(missing)))
            )

    # ---- capturing -----------------------------------------------------------------

    def capture(self, index: int) -> bytes:
        """Seek to frame ``index`` (absolute) and return its screenshot bytes."""
        t = frame_time(index, self.settings.fps)
        self._seek(t)
        if self.mode == "screenshot":
            return self._screenshot()
        return self._draw(f"frame {index}")

    def _draw(self, what: str) -> bytes:
        """One BeginFrame with a screenshot. No image and no damage means the page looks
        exactly as last drawn: that frame's bytes (we always hold them, see ``_load``).
        No image *with* damage means the renderer was not ready: try again, later."""
        first, most = _EMPTY_FRAME_BACKOFF_S
        for attempt in range(_EMPTY_FRAME_RETRIES):
            has_damage, data = self._begin_frame(screenshot=True)
            if data is not None:
                self._last_frame = data
                return data
            if not has_damage and self._last_frame is not None:
                return self._last_frame
            time.sleep(min(most, first * 2**attempt))
        raise CaptureError(
            f"the browser produced no image for {what} after {_EMPTY_FRAME_RETRIES} tries"
        )

    def _seek(self, t: float) -> None:
        reply = self._call(
            "Runtime.evaluate",
            {
                "expression": f"window.__hf.seek({t!r}, {self.settings.fps})",
                "awaitPromise": True,
                "returnByValue": True,
            },
        )
        details = reply.get("exceptionDetails")
        if details:
            raise PageScriptError(f"seeking to t={t:.4f}s failed: {_exception_text(details)}")

    def _begin_frame(self, *, screenshot: bool) -> tuple[bool, bytes | None]:
        self._ticks += self._interval_ms  # the one monotonic counter (see module docstring)
        params: dict[str, Any] = {"frameTimeTicks": self._ticks, "interval": self._interval_ms}
        if screenshot:
            params["screenshot"] = self._screenshot_params()
        reply = self._call("HeadlessExperimental.beginFrame", params)
        data = reply.get("screenshotData")
        return bool(reply.get("hasDamage")), (base64.b64decode(data) if data else None)

    def _screenshot(self) -> bytes:
        params = {**self._screenshot_params(), "captureBeyondViewport": False, "fromSurface": True}
        reply = self._call("Page.captureScreenshot", params)
        return base64.b64decode(reply["data"])

    def _screenshot_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"format": self.settings.image_format, "optimizeForSpeed": True}
        if self.settings.image_format == "jpeg":
            params["quality"] = self.settings.jpeg_quality
        return params

    # ---- plumbing ------------------------------------------------------------------

    def _call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._cdp.call(
            method, params, session_id=self._session, timeout=self.settings.call_timeout_s
        )

    def evaluate(self, expression: str) -> Any:
        """Evaluate ``expression`` in the page and return its JSON value (debugging, tests)."""
        return self._evaluate(expression)

    def _evaluate(self, expression: str) -> Any:
        reply = self._call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if reply.get("exceptionDetails"):
            raise PageScriptError(_exception_text(reply["exceptionDetails"]))
        return reply.get("result", {}).get("value")

    def close(self) -> None:
        self._browser.close()

    def __enter__(self) -> PageCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_target(browser: BrowserProcess, settings: CaptureSettings, mode: CaptureMode) -> str:
    cdp = browser.cdp
    target = cdp.call(
        "Target.createTarget",
        {
            "url": "about:blank",
            "width": settings.css_width,
            "height": settings.css_height,
            "enableBeginFrameControl": mode == "beginframe",
        },
    )
    session: str = cdp.call(
        "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
    )["sessionId"]

    def call(method: str, params: dict[str, Any] | None = None) -> None:
        cdp.call(method, params, session_id=session, timeout=settings.call_timeout_s)

    call("Page.enable")
    call(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": settings.css_width,
            "height": settings.css_height,
            "deviceScaleFactor": settings.scale,
            "mobile": False,
        },
    )
    if settings.transparent:
        call(
            "Emulation.setDefaultBackgroundColorOverride",
            {"color": {"r": 0, "g": 0, "b": 0, "a": 0}},
        )
    call(
        "Page.addScriptToEvaluateOnNewDocument",
        {"source": variables_source(dict(settings.variables))},
    )
    for script in settings.init_scripts:
        call("Page.addScriptToEvaluateOnNewDocument", {"source": script})
    call("Page.addScriptToEvaluateOnNewDocument", {"source": runtime_source()})
    if mode == "beginframe":
        # Fail now (and fall back) if this binary has no BeginFrame domain.
        cdp.call(
            "HeadlessExperimental.beginFrame",
            {"frameTimeTicks": 1.0, "interval": 1000.0 / settings.fps, "noDisplayUpdates": True},
            session_id=session,
            timeout=settings.call_timeout_s,
        )
    return session


def _exception_text(details: dict[str, Any]) -> str:
    exception = details.get("exception") or {}
    text = exception.get("description") or details.get("text") or "unknown exception"
    return str(text)
