"""The three stages of a render (SPEC §5-7): plan, render a chunk, assemble.

    plan           compile, probe, split into chunks, write the plan and its archive
    render_chunk   capture one chunk's frames and encode them
    assemble       join the chunks (checked against their tags) and the audio
    plan_hash      the plan's identity; a worker with another renderer refuses it
    plan_archive   the plan as a deterministic ``plan.tar.gz`` (and safe extraction)
    chunking       frame ranges per chunk
    chunk_tag      what a chunk says about itself, checked before assembling
    render_size    output size and frame rate from config and composition
    versions       what a plan records as "the renderer"

May import: ``compile/``, ``capture/``, ``browser/``, ``page/``, ``media/``, ``net/`` and the
ground modules. Never ``runner/`` or a way in: the stages do not know who calls them.
"""
