"""Headless Chromium: find it, install it, start it, talk to it, serve it a page.

    binary       what a route hands the launcher (executable, environment, flags)
    resolve      which browser to use, by route (env, bundled, sparticuz, Playwright, Debian)
    sparticuz    the pinned Lambda build: install and unpack it
    launch       start one browser with the font set, over a CDP pipe
    cdp          the DevTools protocol over that pipe
    pool         warm browsers kept for the chunks of one invocation
    page_server  the loopback HTTP server the compiled page is loaded from
    font_set     the pinned font set every browser sees instead of the host's fonts

May import: ``net/`` (the npm registry, for the installs) and the ground modules. Never
``page/``, ``compile/``, ``capture/`` or anything above.
"""
