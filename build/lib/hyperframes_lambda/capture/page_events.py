"""What a composition page does that nobody renders: JavaScript dialogs and navigation.

Why: a render has no one to click "OK". ``alert()`` blocks the page's main thread until a
dialog is answered, so without an answer the next call into the page waits for its full
timeout and the render fails as an unresponsive page ("an endless loop?"). Each dialog is
answered at once (``Page.handleJavaScriptDialog``: ``alert`` and ``beforeunload``
accepted, ``confirm``/``prompt`` dismissed, so they return ``false``/``null``) and becomes
a warning naming the call.

A page that navigates away (a script sets ``location``, submits a form, a meta refresh)
leaves the composition: the frames that follow are of another document. That is the
page's doing and would happen again on a retry, so it ends the render as a terminal
``PAGE_NAVIGATED`` naming the target, instead of whatever engine error the other document
gives (``__hf.seek is not a function``).

The listener runs on the CDP reader thread: it only sends (never waits for a reply) and
records; :class:`PageCapture` raises from its own thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urldefrag

from ..browser.cdp import CdpPipe
from ..errors import PageNavigatedError, quoted

logger = logging.getLogger(__name__)

_ACCEPTED = frozenset({"alert", "beforeunload"})  # the only answer each has, or "leave"
_RESULTS = {"confirm": "false", "prompt": "null"}


class PageEvents:
    """Answers one page's dialogs and notices when it navigates away from ``page_url``."""

    def __init__(
        self,
        cdp: CdpPipe,
        session_id: str,
        target_id: str | None,
        page_url: str,
        describe: Callable[[], str],
    ) -> None:
        """``describe`` says where the page is, for messages (``index.html: during
        seek at frame 12``)."""
        self._cdp = cdp
        self._session = session_id
        self._target = target_id
        self._page = urldefrag(page_url)[0]
        self._describe = describe
        self._lock = threading.Lock()
        self._seen_dialogs: set[tuple[str, str]] = set()
        self.warnings: list[str] = []
        self.navigated_to: str | None = None
        self._committed = False
        cdp.add_listener(self._on_event)

    def close(self) -> None:
        self._cdp.remove_listener(self._on_event)

    def check(self) -> None:
        """Raise ``PAGE_NAVIGATED`` if the page has left its document."""
        target = self.navigated_to
        if target is not None:
            raise PageNavigatedError(
                f"{self._describe()}, the page navigated away to {quoted(target, 200)}; a "
                "composition must stay on its page (a script set location, submitted a "
                "form or followed a link, or a meta refresh)"
            )

    def _on_event(self, method: str, params: dict[str, Any], session_id: str | None) -> None:
        if session_id != self._session:
            return
        if method == "Page.javascriptDialogOpening":
            self._answer_dialog(params)
        elif method == "Page.frameRequestedNavigation":
            if params.get("frameId") == self._target:
                self._left(str(params.get("url", "")))
        elif method == "Page.frameNavigated":
            frame = params.get("frame") or {}
            if frame.get("parentId") is None:  # the main frame committed a document
                url = str(frame.get("unreachableUrl") or frame.get("url") or "")
                if urldefrag(url)[0] == self._page:
                    self._committed = True  # ours (the blank page before it is not)
                elif self._committed:
                    self._left(url)

    def _left(self, url: str) -> None:
        if url and urldefrag(url)[0] == self._page and "#" in url:
            return  # a jump to an anchor of the same document
        with self._lock:
            if self.navigated_to is None:
                self.navigated_to = url or "(an unknown URL)"

    def _answer_dialog(self, params: dict[str, Any]) -> None:
        kind = str(params.get("type") or "dialog")
        self._cdp.send(
            "Page.handleJavaScriptDialog",
            {"accept": kind in _ACCEPTED},
            session_id=self._session,
        )
        text = str(params.get("message") or "")
        with self._lock:
            if (kind, text) in self._seen_dialogs:
                return
            self._seen_dialogs.add((kind, text))
        call = "a beforeunload handler" if kind == "beforeunload" else f"{kind}({quoted(text, 80)})"
        result = f", so it returned {_RESULTS[kind]}" if kind in _RESULTS else ""
        warning = (
            f"{self._describe()}, the page called {call}; dismissed at once (a render has no "
            f"one to answer it{result})"
        )
        logger.warning(warning)
        with self._lock:
            self.warnings.append(warning)
