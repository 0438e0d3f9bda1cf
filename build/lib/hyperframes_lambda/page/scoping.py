"""Run each sub-composition's scripts in a scope of their own (compile step).

HyperFrames runs a sub-composition's inline scripts in a function whose ``document`` and
``gsap`` resolve selectors inside that composition first: two compositions may both say
``const root = document.querySelector(".title")``. We do the same with our own helper
(:file:`scope.js`), emitted once before the wrapped scripts.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def scope_helper_source() -> str:
    return resources.files(__package__).joinpath("scope.js").read_text(encoding="utf-8")


def wrap_scoped_script(composition_id: str, source: str) -> str:
    """``source`` as a function of its composition's scoped ``document`` and ``gsap``.

    A failure is reported with the composition's id instead of stopping the scripts of
    the compositions after it.
    """
    cid = json.dumps(composition_id)
    return (
        f"(function(){{var __hfScope=window.__hfScopeComposition({cid});try{{"
        f"(function(document,gsap){{\n{source}\n}}).call(window,__hfScope.document,__hfScope.gsap);"
        f"}}catch(__hfError){{window.__hfCompositionScriptFailed({cid},__hfError);}}}})();"
    )
