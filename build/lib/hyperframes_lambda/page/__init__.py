"""Everything that happens to a composition's page before a frame is captured.

The format's semantics (clips, timelines, adapters, variables) belong to HyperFrames' own
page runtime, a pinned npm dependency (:mod:`.official_runtime`). This package owns the
engine side around it: what is injected into the served page (:mod:`.injection`).

Only what runs in the page, or is read to be put there: ``engine.js``, ``scope.js``,
the pinned runtime (:mod:`.official_runtime`), where scripts came from (:mod:`.locations`).

May import: ``net/`` (the runtime's npm tarball) and the ground modules. Never ``browser/``,
``compile/``, ``capture/`` or anything above.
"""
