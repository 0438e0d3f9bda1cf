"""The package's folders are its layers: this test reads every import and holds it to them.

Each module of ``hyperframes_lambda`` belongs to one unit (a folder, or a module at the
package top), and each unit stands on one floor of :data:`LAYERS`. A module may import its
own unit and the units of lower floors, never a sibling on its floor nor anything above.
Besides that: no import cycle between modules, and no ``_private`` name taken from another
module. The imports are read with :mod:`ast` (nothing is imported), those inside functions
and ``TYPE_CHECKING`` blocks included, so a lazy import cannot hide an upward one.

A new module fails here until it is given a floor: add it to :data:`LAYERS`, where the
folder's ``__init__`` docstring says it belongs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hyperframes_lambda

PACKAGE = "hyperframes_lambda"
ROOT = Path(hyperframes_lambda.__file__).resolve().parent

# Top floor first. A unit is a folder of the package or a module at its top.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("ways in: the package face, the command lines", ("__init__", "cli", "rie")),
    ("ways in: the lambda commands", ("lambda_cli",)),
    ("ways in: the Python API, Step Functions on this machine", ("api", "local")),
    ("ways in: the Lambda adapter", ("handler",)),
    ("a whole render in this process", ("runner",)),
    ("the three stages", ("stages",)),
    ("the compile; frames out of a page; the linter", ("compile", "capture", "lint")),
    ("the browser; what runs in the page; comparing renders", ("browser", "page", "compare")),
    ("media, the network, the AWS client", ("media", "net", "aws")),
    ("batches: the rows file and where a batch keeps its objects", ("batch",)),
    ("ground: files and caches, the render configuration", ("cache", "config")),
    ("ground: errors, frame arithmetic, the version", ("errors", "timing", "_version")),
]
FLOOR = {unit: len(LAYERS) - i for i, (_, units) in enumerate(LAYERS) for unit in units}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def unit_of(module: str) -> str:
    """The longest unit of :data:`LAYERS` that holds ``module`` (a folder or a module)."""
    parts = module.split(".")[1:]
    for size in range(len(parts), 0, -1):
        if ".".join(parts[:size]) in FLOOR:
            return ".".join(parts[:size])
    return parts[0] if parts else "__init__"


def imports_of(module: str) -> list[tuple[str, str, int]]:
    """(imported module, name taken from it or "", line) for every import in ``module``."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, "", node.lineno) for a in node.names if a.name.startswith(PACKAGE)]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target != PACKAGE and not target.startswith(PACKAGE + "."):
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if submodule in MODULES:  # from package import module
                    found.append((submodule, "", node.lineno))
                else:
                    found.append((target, alias.name, node.lineno))
    return found


def test_every_module_has_a_floor() -> None:
    missing = sorted({unit_of(m) for m in MODULES} - FLOOR.keys())
    assert not missing, f"give these a floor in LAYERS: {missing}"


def test_no_import_runs_up_or_sideways() -> None:
    wrong = []
    for module in MODULES:
        unit = unit_of(module)
        for target, _, line in imports_of(module):
            other = unit_of(target)
            if other != unit and FLOOR[other] >= FLOOR[unit]:
                wrong.append(f"{module}:{line} imports {target} ({other} is not below {unit})")
    assert not wrong, "\n".join(wrong)


def test_no_private_name_crosses_a_module() -> None:
    wrong = [
        f"{module}:{line} takes {name} from {target}"
        for module in MODULES
        for target, name, line in imports_of(module)
        if name.startswith("_") and not name.startswith("__") and target != module
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle() -> None:
    graph = {
        m: sorted({t for t, _, _ in imports_of(m) if t in MODULES and t != m}) for m in MODULES
    }
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for target in graph[module]:
            visit(target, [*path, module])
        done.add(module)

    for module in graph:
        visit(module, [])


def test_every_folder_says_what_it_is_and_may_import() -> None:
    silent = [
        str(init.relative_to(ROOT))
        for init in sorted(ROOT.glob("*/__init__.py"))
        if "may import" not in (ast.get_docstring(ast.parse(init.read_text())) or "").lower()
    ]
    assert not silent, f"these folders' docstrings do not say what they may import: {silent}"


def test_the_architecture_page_names_every_module() -> None:
    """docs/architecture.md is the layout a newcomer reads: it keeps up with the code."""
    page = (ROOT.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [
        name
        for name, path in MODULES.items()
        if path.stem not in ("__init__", "__main__") and f"`{path.stem}" not in page
    ]
    assert missing == [], f"docs/architecture.md does not mention {missing}"
