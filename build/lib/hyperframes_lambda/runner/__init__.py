"""Render a whole composition in this process: the stages in order, with progress.

The layer under the ways in (``api``, ``cli``, ``local/``, ``handler/``) and over the
stages. It owns what a run needs around the stages, not what a frame needs:

    local_render    plan, the chunks in a process pool, assemble; ``render()`` behind ``api``
    progress        the progress model a caller sees (``on_progress``, the CLI's bar)
    output_target   where the output goes: checked, its parents made (and removed on failure)
    cli_errors      exit codes, one-line error text, one-line usage errors
    interrupts      SIGINT/SIGTERM as exceptions, for runs and their worker processes
    first_run       the pinned browser installed on a first render (or one line saying why not)
    still           stills of a project: plan, then capture only the frames asked for

May import: ``stages/`` and everything under it (``capture/``, ``compile/``, ``lint/``,
``browser/``, ``page/``, ``media/``, ``net/``) and the ground modules. Never a way in.
"""
