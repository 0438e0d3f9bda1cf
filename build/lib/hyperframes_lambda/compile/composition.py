"""Read what can be known about a composition before a browser starts (SPEC §2).

The root composition is the first element with ``data-composition-id``; its
``data-width``/``data-height`` give the canvas, ``data-duration`` and ``data-fps`` are
optional. Checking these statically means bad input fails in milliseconds with the file
and attribute named, not after a browser launch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path

from ..errors import CompositionError
from ..timing import parse_fps


@dataclass(frozen=True)
class CompositionInfo:
    entry: Path
    composition_id: str
    width: int
    height: int
    duration: float | None  # None: the page decides (timeline length)
    fps: Fraction | None


class _RootFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.root is None:
            found = dict(attrs)
            if "data-composition-id" in found:
                self.root = found


def _number(entry: Path, attrs: dict[str, str | None], name: str) -> float | None:
    raw = attrs.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise CompositionError(
            f"{entry}: {name}={raw!r} on the root composition is not a number"
        ) from None
    if not math.isfinite(value):
        raise CompositionError(f"{entry}: {name}={raw!r} on the root composition is not finite")
    return value


def read_composition(project_dir: Path, entry_file: str = "index.html") -> CompositionInfo:
    """Parse the entry file and validate the root composition's attributes."""
    if not project_dir.is_dir():
        raise CompositionError(f"project directory {project_dir} does not exist")
    entry = project_dir / entry_file
    if not entry.is_file():
        raise CompositionError(
            f"entry file {entry} does not exist (set entryFile to choose another)"
        )
    finder = _RootFinder()
    finder.feed(entry.read_text(encoding="utf-8", errors="replace"))
    root = finder.root
    if root is None:
        raise CompositionError(
            f"{entry}: no element with data-composition-id; the root composition must declare "
            'one, e.g. <div data-composition-id="main" data-width="1920" data-height="1080">'
        )
    composition_id = (root.get("data-composition-id") or "").strip()
    if not composition_id:
        raise CompositionError(f"{entry}: data-composition-id on the root composition is empty")

    sizes: dict[str, int] = {}
    for name in ("data-width", "data-height"):
        value = _number(entry, root, name)
        if value is None:
            raise CompositionError(f"{entry}: the root composition has no {name}")
        if value != int(value) or not 16 <= value <= 7680:
            raise CompositionError(
                f"{entry}: {name}={root.get(name)} must be a whole number of pixels, 16…7680"
            )
        sizes[name] = int(value)

    duration = _number(entry, root, "data-duration")
    if duration is not None and duration <= 0:
        raise CompositionError(
            f"{entry}: data-duration={root.get('data-duration')} must be > 0 seconds"
        )
    fps = None
    raw_fps = root.get("data-fps")
    if raw_fps is not None and raw_fps.strip() != "":
        try:
            fps = parse_fps(raw_fps)
        except ValueError as exc:
            raise CompositionError(f"{entry}: data-fps={raw_fps!r} {exc}") from None
    return CompositionInfo(
        entry=entry,
        composition_id=composition_id,
        width=sizes["data-width"],
        height=sizes["data-height"],
        duration=duration,
        fps=fps,
    )
