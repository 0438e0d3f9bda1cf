"""What the lint page is made of: the pinned linter modules, the Node stand-ins of
``js/`` and the import map that joins them (see :mod:`.sources` and ``js/host.js``)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from ..browser.page_server import ServedFile
from .sources import (
    HYPERFRAMES_LINT,
    LINT_ENTRY,
    NANOID,
    PATH_BROWSERIFY,
    PICOCOLORS,
    POSTCSS,
    FileSetPin,
    pinned_files,
)

PREFIX = "/__hf_lint__"
JS_DIR = Path(__file__).resolve().parent / "js"
JS = "text/javascript; charset=utf-8"
# Node built-ins the linter imports -> our stand-in module (js/<name>.js).
BUILTINS = ("fs", "path", "module", "url", "crypto", "child_process")


def _cjs_id(pin: FileSetPin, path: str) -> str:
    return f"{pin.package}/{path}"


def _browser_false(pin: FileSetPin) -> list[str]:
    """What the package's ``browser`` field replaces with an empty module, as ids/names."""
    manifest = json.loads(pinned_files(pin)["package.json"])
    out: list[str] = []
    for key, value in (manifest.get("browser") or {}).items():
        if value is False:
            out.append(
                _cjs_id(pin, key.removeprefix("./") + ".js") if key.startswith("./") else key
            )
    return out


def cjs_bundle() -> dict[str, object]:
    """The CommonJS files host.js may ``require``, the bare names it resolves, and the
    modules each package's browser field turns off."""
    modules: dict[str, str] = {}
    for pin in (POSTCSS, NANOID, PICOCOLORS, PATH_BROWSERIFY):
        for path, data in pinned_files(pin).items():
            if path.endswith((".js", ".cjs")):
                modules[_cjs_id(pin, path)] = data.decode("utf-8")
    names = {
        "postcss": _cjs_id(POSTCSS, "lib/postcss.js"),
        "nanoid/non-secure": _cjs_id(NANOID, "non-secure/index.cjs"),
        "picocolors": _cjs_id(PICOCOLORS, "picocolors.browser.js"),
        "path": _cjs_id(PATH_BROWSERIFY, "index.js"),
    }
    return {
        "modules": modules,
        "names": names,
        "browserFalse": {"postcss": _browser_false(POSTCSS)},
    }


def import_map() -> dict[str, dict[str, str]]:
    imports = {"hyperframes-lint": f"{PREFIX}/hyperframes/{LINT_ENTRY}"}
    imports["postcss"] = f"{PREFIX}/js/postcss.js"
    for name in BUILTINS:
        imports[name] = imports[f"node:{name}"] = f"{PREFIX}/js/{name}.js"
    return {"imports": imports}


@cache
def static_routes() -> dict[str, ServedFile]:
    """Everything the page loads except the project snapshot (the same for every lint)."""
    routes = {
        f"{PREFIX}/hyperframes/{path}": ServedFile(data, JS)
        for path, data in pinned_files(HYPERFRAMES_LINT).items()
    }
    for script in JS_DIR.glob("*.js"):
        routes[f"{PREFIX}/js/{script.name}"] = ServedFile(script.read_bytes(), JS)
    routes[f"{PREFIX}/cjs.json"] = ServedFile(
        json.dumps(cjs_bundle()).encode("utf-8"), "application/json"
    )
    page = (
        '<!doctype html><meta charset="utf-8"><title>hyperframes lint</title>\n'
        f'<script type="importmap">{json.dumps(import_map())}</script>\n'
        f'<script src="{PREFIX}/js/host.js"></script>\n'
        f'<script type="module" src="{PREFIX}/js/entry.js"></script>\n'
    )
    routes[f"{PREFIX}/index.html"] = ServedFile(page.encode("utf-8"), "text/html; charset=utf-8")
    return routes
