"""A project directory into one self-contained page: the render compile (SPEC §4).

Everything that reads or rewrites the composition's HTML and CSS before a browser sees it:

    project              the compile: entry HTML in, ``index.html`` plus assets out
    composition          what can be known about a composition without a browser
    variables            its declared variables (data-composition-variables) and the check
                         of a render's values against them
    subcompositions      inline file sub-compositions into the entry HTML
    document_prep        the edits every compiled document gets (script order, text rendering)
    google_fonts         Google Fonts stylesheets localized (fetched once, cached)
    deterministic_fonts  generic families pinned to bundled faces, so every machine matches

May import: ``page/`` (the scoping helper the compile inlines), ``net/`` and the ground
modules. Never ``browser/``, ``capture/``, ``stages/`` or anything above: the compile runs
no browser.
"""
