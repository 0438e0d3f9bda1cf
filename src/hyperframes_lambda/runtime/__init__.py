"""The JavaScript we inject into every composition page (SPEC §3)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def runtime_source() -> str:
    """The page runtime: virtual time, seeded randomness and ``window.__hf``."""
    return resources.files(__package__).joinpath("hf_runtime.js").read_text(encoding="utf-8")


def variables_source(variables: dict[str, Any]) -> str:
    """A script that exposes the render's variables as ``window.__hfVariables``."""
    payload = json.dumps(variables, sort_keys=True, separators=(",", ":"))
    return f"window.__hfVariables = Object.freeze(JSON.parse({json.dumps(payload)}));"
