"""Browsers kept alive across renders in one process: the per-container cache of a warm
Lambda container (SPEC §13).

Launching chrome-headless-shell and closing it again costs ~0.4 s of every chunk a warm
container renders (measured in the Lambda-like sandbox: 0.15 s launch, 0.27 s close).
A pool keeps one browser per (binary, capture mode, layout size, flags, slot) and every
render opens a fresh page in it, so nothing of a page outlives its chunk. Frames do not
depend on which page of which browser drew them (tested: cold vs warm byte-identical).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .binary import ChromeBinary
from .launch import BrowserProcess, launch_browser

PoolKey = tuple[str, bool, int, int, tuple[str, ...], int]


@dataclass
class BrowserPool:
    """``acquire`` a running browser for a page; ``close`` them all at the end."""

    _browsers: dict[PoolKey, BrowserProcess] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Browsers this pool started (a batch checks that it did not start one per row).
    launches: int = 0

    def acquire(
        self,
        binary: ChromeBinary,
        *,
        width: int,
        height: int,
        deterministic: bool,
        extra_flags: tuple[str, ...] = (),
        slot: int = 0,
    ) -> BrowserProcess:
        """A live browser for these settings: the pooled one, or a new one (pooled)."""
        key: PoolKey = (binary.path, deterministic, width, height, extra_flags, slot)
        with self._lock:
            browser = self._browsers.get(key)
            if browser is not None and browser.process.poll() is None:
                return browser
            if browser is not None:
                browser.close()
            browser = launch_browser(
                binary,
                width=width,
                height=height,
                deterministic=deterministic,
                extra_flags=extra_flags,
            )
            self.launches += 1
            self._browsers[key] = browser
            return browser

    def discard(self, browser: BrowserProcess) -> None:
        """Close a browser that failed; the next ``acquire`` starts a new one."""
        with self._lock:
            for key, pooled in list(self._browsers.items()):
                if pooled is browser:
                    del self._browsers[key]
        browser.close()

    def close(self) -> None:
        with self._lock:
            browsers = list(self._browsers.values())
            self._browsers.clear()
        for browser in browsers:
            browser.close()

    def __len__(self) -> int:
        return len(self._browsers)
