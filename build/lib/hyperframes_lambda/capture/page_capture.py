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
import contextlib
import os
import re
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal
from urllib.parse import urlsplit

from ..browser.binary import ChromeBinary
from ..browser.cdp import CdpPipe
from ..browser.launch import BrowserProcess, launch_browser
from ..browser.memory_budget import current_budget
from ..browser.pool import BrowserPool
from ..errors import (
    AssetNotFoundError,
    BrowserCrashedError,
    CaptureError,
    CdpProtocolError,
    CdpTimeoutError,
    CompositionError,
    InvalidConfigError,
    PageScriptError,
    PageUnresponsiveError,
    RenderError,
)
from ..page.injection import new_document_scripts
from ..page.locations import project_path, user_locations
from ..timing import frame_time
from .page_events import PageEvents

ImageFormat = Literal["jpeg", "png"]
CaptureMode = Literal["beginframe", "screenshot"]

# A BeginFrame may return no image while the renderer initialises (even with damage);
# retry with backoff, ~3 s in all, before calling it a (retryable) capture failure.
_EMPTY_FRAME_RETRIES = 12
_EMPTY_FRAME_BACKOFF_S = (0.005, 0.5)
# No frames are drawn while the page loads: a Web Animation a page script creates is adopted
# by the runtime with whatever time it had run, and every drawn frame advances it (16.7 ms
# each, whatever frameTimeTicks say; measured: 150-450 ms between runs of the same page,
# a WAAPI box 15-45 px off). Undrawn, it is still pending at 0 ms when adopted. A page
# that is not ready after this long without frames gets frames (it may wait on rendering).
_FRAMELESS_LOAD_S = 5.0
_LOAD_TICK_MS = 0.001
# Checking who hung: how long the browser and the page get to answer a trivial command.
_PROBE_TIMEOUT_S = 3.0
# The shortest wait for one status poll, however little of the ready deadline is left.
_MIN_CALL_S = 1.0
# Once the composition is ready, how long sub-compositions may still register timelines.
_TIMELINE_GRACE_S = 0.5
# A runtime that is up with nothing to play gets this long for a late timeline.
_ZERO_DURATION_GRACE_S = 1.0


PAGE_TIMEOUT_ENV = "HYPERFRAMES_PAGE_TIMEOUT_S"
# PageCapture.timings: once per page, then summed over its frames ("frames" counts them).
PAGE_TIMING_KEYS = ("launch", "load", "ready", "seek", "settle", "draw", "frames")


def _page_timeout_s(default: float) -> float:
    raw = os.environ.get(PAGE_TIMEOUT_ENV, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidConfigError(f"{PAGE_TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise InvalidConfigError(f"{PAGE_TIMEOUT_ENV}={raw!r} must be a positive number of seconds")
    return min(default, value)


@dataclass(frozen=True)
class CaptureSettings:
    """What the page is rendered at. ``width``/``height`` are output pixels; the page is
    laid out at ``css_width``/``css_height`` and scaled by the device pixel ratio."""

    css_width: int
    css_height: int
    width: int
    height: int
    fps: Fraction
    image_format: ImageFormat = "jpeg"
    jpeg_quality: int = 90
    transparent: bool = False
    variables: Mapping[str, Any] = field(default_factory=dict)
    # How long the page may take to load and get ready, and any one call into it (a seek,
    # a frame); HYPERFRAMES_PAGE_TIMEOUT_S lowers both (tests, impatient local runs).
    ready_timeout_s: float = field(default_factory=lambda: _page_timeout_s(60.0))
    call_timeout_s: float = field(default_factory=lambda: _page_timeout_s(30.0))
    mode: Literal["auto", "beginframe", "screenshot"] = "auto"
    # A missing image fails the render instead of rendering broken (with a warning).
    strict_assets: bool = False
    # The page composites shader transitions itself (window.__HF_PAGE_SIDE_COMPOSITING__).
    page_side_compositing: bool = False
    # Scripts run before the runtime on every document (e.g. the plan's video frame list).
    init_scripts: tuple[str, ...] = ()

    @property
    def scale(self) -> float:
        return self.width / self.css_width

    @property
    def downscaled(self) -> bool:
        """Smaller than Chrome renders BeginFrames: captured at half the layout size and
        resized to the output by the encoder (see _MIN_BEGINFRAME_SCALE)."""
        return self.scale < _MIN_BEGINFRAME_SCALE

    @property
    def beginframe_scale(self) -> float:
        return max(self.scale, _MIN_BEGINFRAME_SCALE)


class PageCapture:
    """A loaded, ready composition page; capture frames with :meth:`capture`."""

    def __init__(
        self,
        browser: BrowserProcess,
        session_id: str,
        settings: CaptureSettings,
        mode: CaptureMode,
        missing_assets: Any,
        *,
        target_id: str | None = None,
        pool: BrowserPool | None = None,
        page_url: str = "",
        blocked_requests: Callable[[], list[str]] | None = None,
    ) -> None:
        self._browser = browser
        self._cdp: CdpPipe = browser.cdp
        self._session = session_id
        self._target = target_id
        self._pool = pool  # the page's browser belongs to the pool: close only the page
        self.settings = settings
        self.mode: CaptureMode = mode
        self._ticks = browser.frame_ticks  # _open_target's probe frame was the last one
        self._interval_ms = 1000.0 / float(settings.fps)
        self._last_frame: bytes | None = None
        self._missing_assets = missing_assets
        self._blocked_requests = blocked_requests
        self.duration = 0.0
        self.missing_timelines: list[str] = []
        self.warnings: list[str] = []
        # What the page is doing, for a hang's message: "load", "ready", "seek at frame N".
        self._phase = "load"
        parts = urlsplit(page_url)
        self._origin = f"{parts.scheme}://{parts.netloc}" if page_url else ""
        self._entry = project_path(parts.path) if page_url else "the page"
        self._unresponsive = False
        # Seconds this page spent per step (summed over frames): where a render's time goes
        # (benchmarks/reference_bench.py prints them). "launch" and "load" once; "seek" the
        # seek call less "settle" (the page waiting on fonts, images, video frames), "draw"
        # the BeginFrame or screenshot that makes the frame's bytes.
        self.timings: dict[str, float] = dict.fromkeys(PAGE_TIMING_KEYS, 0.0)
        self._events = PageEvents(
            self._cdp,
            session_id,
            target_id,
            page_url,
            lambda: f"{self._entry}: during {self._phase}",
        )
        # The page's memory budget, watched from outside while it loads and renders.
        self._budget = current_budget()
        self._watch = browser.memory_watch
        self._cdp.add_listener(self._on_event)

    def phase(self) -> str:
        """What the page is doing: "load", "ready", "seek at frame N", "capture of frame N"."""
        return self._phase

    def _on_event(self, method: str, _params: dict[str, Any], session: str | None) -> None:
        """A crashed renderer keeps its session: fail its calls now, not at their timeout."""
        if method == "Inspector.targetCrashed" and session == self._session:
            self._cdp.fail_session(self._session)

    # ---- opening -------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        binary: ChromeBinary,
        url: str,
        settings: CaptureSettings,
        missing_assets: Any = None,
        *,
        pool: BrowserPool | None = None,
        slot: int = 0,
        blocked_requests: Callable[[], list[str]] | None = None,
    ) -> PageCapture:
        """Launch a browser (or take one from ``pool``), load ``url`` in a new page and
        wait until the composition is ready.

        ``missing_assets`` is a callable returning paths the page server could not find;
        ``blocked_requests`` one returning what the page asked for outside its origin.
        """
        modes: list[CaptureMode] = (
            ["beginframe", "screenshot"] if settings.mode == "auto" else [settings.mode]
        )
        for attempt, mode in enumerate(modes):
            launch_started = time.perf_counter()
            launch = {
                "width": settings.css_width,
                "height": settings.css_height,
                "deterministic": mode == "beginframe",
                "extra_flags": _scale_flags(settings),
            }
            browser = (
                pool.acquire(binary, slot=slot, **launch)  # type: ignore[arg-type]
                if pool is not None
                else launch_browser(binary, **launch)  # type: ignore[arg-type]
            )

            def give_up(broken: BrowserProcess = browser) -> None:
                if pool is not None:
                    pool.discard(broken)
                else:
                    broken.close()

            try:
                target, session = _open_target(browser, settings, mode)
            except CdpProtocolError as exc:
                give_up()
                if mode == "beginframe" and attempt + 1 < len(modes) and "wasn't found" in str(exc):
                    continue  # this binary has no BeginFrame: fall back to screenshots
                raise
            except BaseException:
                give_up()
                raise
            page = cls(
                browser,
                session,
                settings,
                mode,
                missing_assets,
                target_id=target,
                pool=pool,
                page_url=url,
                blocked_requests=blocked_requests,
            )
            page.timings["launch"] = time.perf_counter() - launch_started
            try:
                page._watch.attach(page._budget, page.phase)
                page._load(url)
            except BaseException:
                page.close()
                raise
            return page
        raise CaptureError("no capture mode could be started")  # pragma: no cover

    def _load(self, url: str) -> None:
        """Navigate, then pump frames and poll until the composition is ready (SPEC §3).

        Ready: the document loaded, the runtime's player exists and reports a positive
        duration (which implies its render-ready gate passed), fonts and images loaded.
        Sub-composition timelines registered late get a short grace, then a rebind.
        """
        load_started = time.perf_counter()
        self._call("Page.navigate", {"url": url})
        started = time.monotonic()
        loaded_at: float | None = None
        deadline = started + self.settings.ready_timeout_s
        ready_since: float | None = None
        zero_since: float | None = None
        status: dict[str, Any] = {}
        while True:
            if self.mode == "beginframe" and time.monotonic() - started > _FRAMELESS_LOAD_S:
                self._begin_frame(screenshot=False, advance_ms=_LOAD_TICK_MS)
            # A page that hangs is found by the ready deadline, not a full call timeout later.
            left = max(_MIN_CALL_S, deadline - time.monotonic())
            status = (
                self._evaluate(
                    "window.__hfEngine ? window.__hfEngine.status() : null",
                    timeout=min(self.settings.call_timeout_s, left),
                )
                or {}
            )
            if status.get("readyState") == "complete":
                self._phase = "ready"
                loaded_at = loaded_at or time.perf_counter()
            if status.get("errors"):
                failed = [str(f) for f in status.get("failedLoads") or []]
                raise PageScriptError(
                    "the composition's scripts failed while loading:\n"
                    + self._locate("\n".join(status["errors"]))
                    + (f"\n(after: {'; '.join(failed)})" if failed else "")
                )
            if status.get("startupError"):
                raise CompositionError(
                    f"the HyperFrames runtime could not start the composition: "
                    f"{self._locate(str(status['startupError']))}"
                )
            now = time.monotonic()
            loaded = status.get("readyState") == "complete"
            if loaded and not status.get("hasRoot"):
                raise CompositionError(
                    f"{self._entry}: no element with data-composition-id (the composition root)"
                )
            ready = (
                loaded
                and status.get("player")
                and float(status.get("duration") or 0) > 0
                and status.get("fonts")
                and not status.get("imagesPending")
            )
            if _nothing_to_play(status):
                zero_since = zero_since or now
                if now - zero_since >= _ZERO_DURATION_GRACE_S:
                    raise CompositionError(
                        f"{self._entry}: the composition's duration is 0 — set data-duration on "
                        "the root element or register a non-empty timeline in window.__timelines"
                    )
            if ready:
                ready_since = ready_since or now
                waited = now - ready_since
                if not status.get("missingTimelines") or waited >= _TIMELINE_GRACE_S:
                    break
            if now > deadline:
                self._check_missing_assets()
                raise CompositionError(_not_ready_message(self._entry, status, self.settings))
            time.sleep(0.01)
        self._check_missing_assets()
        self._check_failed_loads([str(f) for f in status.get("failedLoads") or []])
        self._report_blocked_requests()
        self.missing_timelines = list(status.get("missingTimelines") or [])
        self.warnings.extend(
            _collapse_image_warnings([str(w) for w in status.get("warnings") or []])
        )
        self.warnings.extend(self.dialog_warnings)  # later ones are logged as they come
        prepared = self._evaluate("window.__hfEngine.prepare()") or {}
        self.duration = float(prepared.get("duration") or status.get("duration") or 0.0)
        if self.mode == "beginframe":
            # Draw once with a screenshot so we hold the bytes of the last drawn frame:
            # "no damage" replies are then always answerable.
            self._draw("the loaded page")
        now = time.perf_counter()
        self.timings["load"] = (loaded_at or now) - load_started
        self.timings["ready"] = now - (loaded_at or now)

    def _report_blocked_requests(self) -> None:
        """What the page tried to reach beyond its own files failed in the page (README
        "Page isolation"); say so once, as a warning: the author may have expected it."""
        blocked = sorted(set(self._blocked_requests())) if self._blocked_requests else []
        if blocked:
            shown = ", ".join(blocked[:3]) + (
                f" and {len(blocked) - 3} more" if len(blocked) > 3 else ""
            )
            self.warnings.append(
                f"the page asked for {len(blocked)} URL(s) outside the project ({shown}); "
                "a page reaches only its own files, so these failed in the page"
            )

    def _check_failed_loads(self, failed: list[str]) -> None:
        """A <script> or stylesheet that failed to load (an empty ``src`` included): a
        browser fires an error event and goes on, and so does HyperFrames; we warn, naming
        the element, unless assets are strict."""
        if failed and self.settings.strict_assets:
            raise AssetNotFoundError(
                f"{self._entry}: {'; '.join(failed)}; strictAssets makes this an error"
            )
        for item in failed:
            text = f"{item}; the page went on without it, as a browser does"
            if text not in self.warnings:
                self.warnings.append(text)

    def _check_missing_assets(self) -> None:
        """A missing script, style, font or media file fails the render; a missing image
        renders as a broken image with a warning (as in HyperFrames) unless assets are
        strict."""
        asked = self._missing_assets() if self._missing_assets else []
        missing = sorted({project_path(path) for path in asked})  # as the author wrote them
        images = [] if self.settings.strict_assets else [p for p in missing if _is_image(p)]
        fatal = [p for p in missing if p not in images]
        if fatal:
            raise AssetNotFoundError(
                "the composition references files that are not in the project: " + ", ".join(fatal)
            )
        for path in images:
            text = f"image {path} is not in the project; it renders as a broken image"
            if text not in self.warnings:
                self.warnings.append(text)

    # ---- capturing -----------------------------------------------------------------

    def capture(self, index: int) -> bytes:
        """Seek to frame ``index`` (absolute) and return its screenshot bytes."""
        t = frame_time(index, self.settings.fps)
        self._phase = f"seek at frame {index}"
        started = time.perf_counter()
        if self._seek(t):
            self._composite(t)
        self._phase = f"capture of frame {index}"
        drawing = time.perf_counter()
        data = self._screenshot() if self.mode == "screenshot" else self._draw(f"frame {index}")
        timings = self.timings
        timings["seek"] += drawing - started
        timings["draw"] += time.perf_counter() - drawing
        timings["frames"] += 1
        return data

    @property
    def browser_pid(self) -> int:
        """The browser's process id (its renderer and GPU processes are its children)."""
        return self._browser.process.pid

    def redraw(self) -> bytes:
        """Draw and capture the page as it stands, without seeking: the floor of what a
        frame costs here (benchmarks/reference_bench.py). Every BeginFrame that asks for a
        screenshot draws (measured: each such frame reports damage)."""
        if self.mode == "screenshot":
            return self._screenshot()
        return self._draw("a redraw")

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

    def _seek(self, t: float) -> bool:
        """Seek; True when the page has a shader transition to composite for this frame."""
        value = self._await(f"window.__hfEngine.seek({t!r})", f"seeking to t={t:.4f}s")
        if not isinstance(value, dict):
            return False
        settle_s = float(value.get("settleMs") or 0.0) / 1000
        self.timings["settle"] += settle_s
        self.timings["seek"] -= settle_s
        return bool(value.get("compositePending"))

    def _composite(self, t: float) -> None:
        """HyperFrames' page-side compositor: the page clones the two scenes into canvases
        (prepare), they are painted once (a frame drawn without a screenshot, where
        HyperFrames takes a 1x1 screenshot), then the page draws the transition (resolve)."""
        self._await("window.__hfEngine.prepareComposite()", f"compositing t={t:.4f}s")
        if self.mode == "beginframe":
            self._begin_frame(screenshot=False)
        else:
            self._call(
                "Page.captureScreenshot",
                {"format": "jpeg", "quality": 1, "clip": _ONE_PIXEL},
            )
        self._await("window.__hfEngine.resolveComposite()", f"compositing t={t:.4f}s")

    def _await(self, expression: str, what: str) -> Any:
        reply = self._call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
        )
        details = reply.get("exceptionDetails")
        if details:
            raise PageScriptError(f"{what} failed: {self._locate(_exception_text(details))}")
        return reply.get("result", {}).get("value")

    def _begin_frame(
        self, *, screenshot: bool, advance_ms: float | None = None
    ) -> tuple[bool, bytes | None]:
        # The one monotonic counter (see module docstring).
        self._ticks += self._interval_ms if advance_ms is None else advance_ms
        self._browser.frame_ticks = max(self._browser.frame_ticks, self._ticks)
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

    def _call(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        timeout = self.settings.call_timeout_s if timeout is None else timeout
        try:
            reply = self._cdp.call(method, params, session_id=self._session, timeout=timeout)
        except CdpTimeoutError as exc:
            self._events.check()  # a page that left is why nothing answered
            if self._watch.overrun is not None:
                raise self._watch.error(self._entry) from exc
            raise self._why_no_reply(method, timeout) from exc
        except BrowserCrashedError as exc:
            raise self._crash_cause(exc) from exc
        except RenderError:
            self._events.check()
            raise
        self._events.check()  # before the reply is read: it may be the other document's
        return reply

    def _crash_cause(self, exc: BrowserCrashedError) -> RenderError:
        """A page or browser that died: stopped by the memory watch, or out of memory by
        itself (V8's heap limit; its stderr says so) is the page's doing, terminal
        ``PAGE_OUT_OF_MEMORY``; any other crash stays retryable."""
        if self._watch.overrun is None:
            # The stderr reader may still be draining what the dying browser said.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._browser.process.wait(timeout=1)
            time.sleep(0.2)
        if self._watch.overrun is not None:
            return self._watch.error(self._entry)
        inferred = self._watch.crash_overrun(self._phase)
        if inferred is not None:
            self._unresponsive = True  # a pooled browser that lost a page is not kept
            return self._watch.error(self._entry, inferred)
        return exc

    def _locate(self, text: str) -> str:
        """Page URLs and inline-script names in ``text`` as the author's files and lines."""
        return user_locations(text, self._origin)

    def _why_no_reply(self, method: str, timeout: float) -> RenderError:
        """A call into the page got no reply: the page hung, or the browser did?

        Evidence, not guesswork: a browser that has exited or does not answer
        ``Browser.getVersion`` failed (retryable). One that answers while the page does not
        hosts a page that hangs — its main thread busy in a script (a trivial evaluate gets
        no reply either) or a promise of its own that never settles — and retrying the
        same page hangs the same way (terminal)."""
        where = f"{self._entry}: during {self._phase}"
        if self._watch.overrun is not None:
            return self._watch.error(self._entry)
        if self._browser.process.poll() is not None:
            return BrowserCrashedError(
                f"{where}, the browser exited ({self._browser.describe_exit()})"
            )
        try:
            self._cdp.call("Browser.getVersion", timeout=_PROBE_TIMEOUT_S)
        except RenderError:
            return BrowserCrashedError(
                f"{where}, the browser stopped responding ({self._browser.describe_exit()})"
            )
        try:
            self._cdp.call(
                "Runtime.evaluate",
                {"expression": "0", "returnByValue": True},
                session_id=self._session,
                timeout=_PROBE_TIMEOUT_S,
            )
            cause = "the page is idle but its answer never came (a promise that never settles)"
        except CdpTimeoutError:
            cause = (
                "the page's main thread is busy in a script that does not return (an endless loop?)"
            )
        except RenderError as exc:  # the page's renderer is gone: a crash, retryable
            return BrowserCrashedError(f"{where}, the page's renderer failed: {exc}")
        self._unresponsive = True
        return PageUnresponsiveError(
            f"{where}, the page stopped responding: {method} got no reply within "
            f"{timeout:.0f}s while the browser itself responds; {cause}"
        )

    def evaluate(self, expression: str) -> Any:
        """Evaluate ``expression`` in the page and return its JSON value (debugging, tests)."""
        return self._evaluate(expression)

    def cdp_call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One CDP call on this page's session (diagnostics such as the font report)."""
        return self._call(method, params)

    def _evaluate(self, expression: str, *, timeout: float | None = None) -> Any:
        reply = self._call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, timeout=timeout
        )
        if reply.get("exceptionDetails"):
            raise PageScriptError(self._locate(_exception_text(reply["exceptionDetails"])))
        return reply.get("result", {}).get("value")

    @property
    def dialog_warnings(self) -> list[str]:
        """The dialogs the page opened so far, each answered at once (:mod:`page_events`)."""
        return list(self._events.warnings)

    def close(self) -> None:
        self._events.close()
        self._watch.detach()
        self._cdp.remove_listener(self._on_event)
        if self._pool is None:
            self._browser.close()
            return
        if self._unresponsive or self._watch.overrun is not None:
            # A hung renderer is not left spinning in a pooled browser, nor is one the
            # memory watch stopped (it is dead) kept.
            self._pool.discard(self._browser)
            return
        # A pooled browser stays up for the next render; this page goes. A browser that
        # cannot close a page is not worth keeping.
        try:
            # Nothing the page stored (localStorage, IndexedDB, caches) is left for a later
            # page that gets the same port, then the page goes.
            if self._origin:
                self._cdp.call(
                    "Storage.clearDataForOrigin",
                    {"origin": self._origin, "storageTypes": "all"},
                    session_id=self._session,
                    timeout=self.settings.call_timeout_s,
                )
            if self._target is not None:
                self._cdp.call(
                    "Target.closeTarget",
                    {"targetId": self._target},
                    timeout=self.settings.call_timeout_s,
                )
        except Exception:  # noqa: BLE001 - any failure: start afresh next time
            self._pool.discard(self._browser)

    def __enter__(self) -> PageCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_target(
    browser: BrowserProcess, settings: CaptureSettings, mode: CaptureMode
) -> tuple[str, str]:
    """A new page (target) in ``browser``, set up for capture: (target id, session id)."""
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
    call("Inspector.enable")  # Inspector.targetCrashed: a renderer crash fails calls at once
    call(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": settings.css_width,
            "height": settings.css_height,
            "deviceScaleFactor": (
                settings.beginframe_scale if mode == "beginframe" else settings.scale
            ),
            "mobile": False,
        },
    )
    if settings.transparent:
        call(
            "Emulation.setDefaultBackgroundColorOverride",
            {"color": {"r": 0, "g": 0, "b": 0, "a": 0}},
        )
    scripts = new_document_scripts(
        settings.fps,
        dict(settings.variables),
        settings.init_scripts,
        transparent=settings.transparent,
        page_side_compositing=settings.page_side_compositing,
    )
    for script in scripts:
        call("Page.addScriptToEvaluateOnNewDocument", {"source": script})
    if mode == "beginframe":
        # Fail now (and fall back) if this binary has no BeginFrame domain.
        cdp.call(
            "HeadlessExperimental.beginFrame",
            {
                "frameTimeTicks": browser.frame_ticks + 1.0,
                "interval": 1000.0 / float(settings.fps),
                "noDisplayUpdates": True,
            },
            session_id=session,
            timeout=settings.call_timeout_s,
        )
        browser.frame_ticks += 1.0
    return target["targetId"], session


# Chrome does not go below a device scale factor of 0.5 (measured: 1920x1080 asked for at
# 320x180, 480x270 and 640x360 all drew 960x540). Smaller outputs are captured at 0.5 and
# resized by the encoder (lanczos): deterministic, unlike screenshots without BeginFrame
# control (measured: one frame of 120 differed between a 3-chunk and a 1-chunk render).
_MIN_BEGINFRAME_SCALE = 0.5
_ONE_PIXEL = {"x": 0, "y": 0, "width": 1, "height": 1, "scale": 1}
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".avif", ".bmp", ".ico")


def _is_image(path: str) -> bool:
    return path.lower().endswith(_IMAGE_SUFFIXES)


_BROKEN_IMAGE = re.compile(r"^image (\S+) failed to load; it renders as a broken image$")


def _collapse_image_warnings(warnings: list[str], keep: int = 3) -> list[str]:
    """Many broken images from one origin (map tiles a page wanted from the network) say
    one thing: name a few and count the rest."""
    by_origin: dict[str, list[str]] = {}
    out: list[str] = []
    for warning in warnings:
        match = _BROKEN_IMAGE.match(warning)
        if match is None:
            out.append(warning)
            continue
        parts = urlsplit(match.group(1))
        by_origin.setdefault(f"{parts.scheme}://{parts.netloc}", []).append(match.group(1))
    for origin, urls in by_origin.items():
        if len(urls) <= keep:
            out.extend(f"image {url} failed to load; it renders as a broken image" for url in urls)
        else:
            out.append(
                f"{len(urls)} images from {origin} failed to load (e.g. {', '.join(urls[:keep])}); "
                "they render as broken images — a render never reaches the network"
            )
    return out


def _scale_flags(settings: CaptureSettings) -> tuple[str, ...]:
    """Output size != layout size: the whole browser renders at the device scale factor,
    so BeginFrame screenshots (which ignore an emulated one) come out at the output size."""
    if settings.width == settings.css_width and settings.height == settings.css_height:
        return ()
    return (f"--force-device-scale-factor={settings.beginframe_scale!r}",)


def _nothing_to_play(status: dict[str, Any]) -> bool:
    """The runtime is up and found no timeline, no declared duration and no media length."""
    return bool(
        status.get("readyState") == "complete"
        and status.get("player")
        and status.get("renderReady")
        and not status.get("timelines")
        and not float(status.get("declaredDuration") or 0)
        and not float(status.get("duration") or 0)
    )


def _not_ready_message(entry: str, status: dict[str, Any], settings: CaptureSettings) -> str:
    """Say which readiness condition never held."""
    waited = f"within {settings.ready_timeout_s:.0f}s"
    if status.get("readyState") != "complete":
        return f"{entry} did not finish loading {waited} (scripts, styles or fonts pending)"
    if not status.get("player"):
        return f"the HyperFrames runtime did not start the composition at {entry} {waited}"
    if float(status.get("duration") or 0) <= 0:
        return (
            f"the composition at {entry} has no duration {waited}: set data-duration on the root "
            "element or register a non-empty timeline in window.__timelines"
        )
    if not status.get("fonts"):
        return f"the composition's fonts at {entry} did not load {waited}"
    return f"{status.get('imagesPending')} image(s) of {entry} did not load {waited}"


def _exception_text(details: dict[str, Any]) -> str:
    exception = details.get("exception") or {}
    text = exception.get("description") or details.get("text") or "unknown exception"
    return str(text)
