"""The Lambda adapter: one function, ``hyperframes_lambda.handler.handler``, is SAM's Handler.

A way in (the top layer). It turns a Step Functions event into a call of a stage and moves
bytes between storage and a per-invocation work directory; it renders nothing itself.

    dispatch    the handler: parse the event, run plan / renderChunk / assemble / notify

May import: ``stages/``, ``runner/`` (the page-count default), ``browser/``, ``media/``,
``aws/`` (the webhook step) and the ground modules; nothing imports it but the other ways in
(``local/`` calls it the way Lambda does).
"""

from __future__ import annotations

from .dispatch import handler

__all__ = ["handler"]
