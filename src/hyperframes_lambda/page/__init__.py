"""Everything that happens to a composition's page before a frame is captured.

The format's semantics (clips, timelines, adapters, variables) belong to HyperFrames' own
page runtime, a pinned npm dependency (:mod:`.official_runtime`). This package owns the
engine side around it: what is injected into the served page (:mod:`.injection`).
"""
