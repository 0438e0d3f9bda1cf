"""A first render from ``pip install``: the pinned browser, fetched on first use.

``make setup`` installs the pinned ``@sparticuz/chromium`` build (the binary Lambda runs);
a pip user has no ``make``, and used to render with whatever browser the resolver found
next (Debian's, Playwright's) — other pixels than Lambda's, with no word about it. The CLI
now installs the pinned build the first time it renders (70 MB, announced with progress by
:mod:`..net.downloads`), and where that cannot work (another OS or CPU, no network) says in
one line which browser renders instead and how to get the pinned one.

Not on Lambda (the ZIP carries the build), not when ``HYPERFRAMES_CHROME_PATH`` chooses a
browser, not with ``HYPERFRAMES_BROWSER_AUTO_INSTALL=0`` (a machine that must not download).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..browser import resolve, sparticuz
from ..errors import RenderError

ENV_AUTO_INSTALL = "HYPERFRAMES_BROWSER_AUTO_INSTALL"


def ensure_pinned_browser(say: Callable[[str], None]) -> str | None:
    """Install the pinned build if it is missing and may be installed; return what was
    said about the browser (None when the pinned build is there or was just installed)."""
    if (
        os.environ.get(resolve.ENV_CHROME_PATH)
        or resolve.running_on_lambda()
        or resolve.bundled_chromium_dir() is not None
        or sparticuz.installed_binary() is not None
    ):
        return None
    pinned = f"{sparticuz.PACKAGE}@{sparticuz.SPARTICUZ_VERSION}"
    why = f"{ENV_AUTO_INSTALL}=0"
    if os.environ.get(ENV_AUTO_INSTALL, "1") != "0":
        say(
            f"first run: installing the pinned browser {pinned} (the build Lambda runs, so "
            f"local frames match Lambda's) into {sparticuz.install_dir()}"
        )
        try:
            sparticuz.install()
            return None
        except RenderError as exc:
            why = str(exc).splitlines()[0]
    try:
        fallback = resolve.browser_build(resolve.resolve_chrome())
    except RenderError:
        return None  # the render itself reports the missing browser, with both routes
    note = (
        f"note: rendering with {fallback}, not the pinned {pinned} ({why}); frames may "
        f"differ from Lambda's: `hyperframes-lambda browser install` gets it"
    )
    say(note)
    return note
