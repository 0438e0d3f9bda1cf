"""The project as the linter's ``fs`` sees it: every path's kind and real path.

HyperFrames' linter asks Node's ``fs`` whether files exist, lists directories, resolves
real paths and reads files. In the page those answers come from this snapshot (taken
once, metadata only); file contents are read on demand from the page server, which
serves the project directory. Symbolic links are followed as Node follows them, and
directory listings are in byte order of the names (Node's ``readdir``: libuv sorts
them), with each entry's own type (a link is a link, as in Node's ``Dirent``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import CompositionError

# Directories whose contents are not snapshotted (listed in their parent, empty inside):
# a composition never references files there, and they can hold more files than the
# rest of the project together.
SKIPPED_DIRS = frozenset({".git", "node_modules"})
MAX_PATHS = 50_000


def _kind(entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return "l"
    if entry.is_dir(follow_symlinks=False):
        return "d"
    return "f" if entry.is_file(follow_symlinks=False) else "o"


def snapshot(root: Path) -> dict[str, Any]:
    """``{"cwd": root, "paths": {absolute path: {"t": "f"|"d", "real": …, "url"|"list": …}}}``."""
    base = os.path.abspath(root)
    paths: dict[str, dict[str, Any]] = {}

    def add(path: str, record: dict[str, Any]) -> None:
        if len(paths) >= MAX_PATHS:
            raise CompositionError(
                f"{root}: more than {MAX_PATHS} files and folders; the linter reads the "
                "project's file tree (move unrelated files out of the project directory)"
            )
        paths[path] = record
        real = record["real"]
        if real != path and real not in paths:
            paths[real] = record

    def visit(directory: str, rel: str, ancestors: frozenset[str]) -> None:
        real = os.path.realpath(directory)
        listing: list[list[str]] = []
        record: dict[str, Any] = {"t": "d", "real": real, "list": listing}
        add(directory, record)
        if real in ancestors:  # a link back up the tree: Node would loop; list it empty
            return
        try:
            entries = sorted(os.scandir(directory), key=lambda e: os.fsencode(e.name))
        except OSError:
            return
        for entry in entries:
            listing.append([entry.name, _kind(entry)])
            path = f"{directory}/{entry.name}"
            child_rel = f"{rel}/{entry.name}" if rel else entry.name
            try:
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            if is_dir:
                if entry.name in SKIPPED_DIRS:
                    add(path, {"t": "d", "real": os.path.realpath(path), "list": []})
                else:
                    visit(path, child_rel, ancestors | {real})
            elif is_file:
                add(path, {"t": "f", "real": os.path.realpath(path), "url": "/" + quote(child_rel)})

    visit(base, "", frozenset())
    return {"cwd": base, "paths": paths}
