"""What the engine puts into a composition page, and where (SPEC §3).

Two places, matching the contract HyperFrames' runtime is written against:

* before any document script (CDP ``Page.addScriptToEvaluateOnNewDocument``): a prelude with
  the render's fps and variables, then :file:`engine.js` — virtual time, seeded randomness,
  the render-mode globals and the ``window.__hf`` bridge;
* before ``</head>`` of the entry page (done by the page server when it serves it): the
  pinned official runtime, after the author's head scripts (GSAP & co.) and before the
  body's. Copies of the runtime the author embedded are removed first, so exactly one
  runtime — the pinned one — runs.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Any

RUNTIME_URL_PATH = "/__hyperframes__/hyperframe.runtime.iife.js"

# Script tags of an author-embedded runtime (CDN or local copy) and the preview-only flags
# that only make sense without a render engine.
_EMBEDDED_RUNTIME = re.compile(
    r"""<script\b[^>]*(?:data-hyperframes-preview-runtime|src\s*=\s*["'][^"']*"""
    r"""(?:hyperframe\.runtime\.iife\.js|hyperframes-runtime\.modular\.inline\.js|"""
    r"""hyperframe-runtime\.modular-runtime\.inline\.js)[^"']*["'])[^>]*>\s*</script\s*>""",
    re.IGNORECASE,
)
_READY_FLAG_SCRIPT = re.compile(
    r"<script\b[^>]*>\s*window\.__(?:playerReady|renderReady)\s*=\s*(?:true|false)\s*;?\s*"
    r"</script\s*>",
    re.IGNORECASE,
)
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)
_BODY_START = re.compile(r"<body\b", re.IGNORECASE)


@cache
def engine_source() -> str:
    return resources.files(__package__).joinpath("engine.js").read_text(encoding="utf-8")


def _script_json(value: Any) -> str:
    """JSON that is also safe inside a JavaScript string literal."""
    return json.dumps(json.dumps(value, sort_keys=True, separators=(",", ":")))


def prelude_source(
    fps: Fraction | int | float,
    variables: dict[str, Any],
    *,
    transparent: bool = False,
    page_side_compositing: bool = False,
) -> str:
    """Config the engine shim reads, and ``window.__hfVariables`` when there are any."""
    config = {
        "fps": float(fps),
        "seedRandom": True,
        "transparent": transparent,
        "pageSideCompositing": page_side_compositing,
    }
    lines = [f"window.__hfEngineConfig = JSON.parse({_script_json(config)});"]
    if variables:
        lines.append(f"window.__hfVariables = JSON.parse({_script_json(variables)});")
    return "\n".join(lines)


def new_document_scripts(
    fps: Fraction | int | float,
    variables: dict[str, Any],
    extra: tuple[str, ...] = (),
    *,
    transparent: bool = False,
    page_side_compositing: bool = False,
) -> list[str]:
    """Scripts to register, in order, before the page loads."""
    prelude = prelude_source(
        fps, variables, transparent=transparent, page_side_compositing=page_side_compositing
    )
    return [prelude, *extra, engine_source()]


def inject_runtime(html: str, runtime_url: str = RUNTIME_URL_PATH) -> str:
    """The entry page with the runtime loaded right before ``</head>``."""
    html = _EMBEDDED_RUNTIME.sub("", html)
    html = _READY_FLAG_SCRIPT.sub("", html)
    tag = f'<script src="{runtime_url}" data-hyperframes-lambda-runtime></script>'
    head_end = _HEAD_END.search(html)
    if head_end:
        return html[: head_end.start()] + tag + html[head_end.start() :]
    body = _BODY_START.search(html)
    if body:
        return html[: body.start()] + tag + html[body.start() :]
    return tag + html
