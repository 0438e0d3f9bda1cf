"""A composition's sounding clips read from its HTML alone, for audio-only outputs.

An audio-only render (``-o voice.m4a``) needs the clips' windows and the duration, not a
single frame, so when the compiled entry says everything plainly it is read here and no
browser starts. "Plainly" means what the page runtime would compute the same way
(``page/engine.js``, ``clipWindows``/``describeMedia``): the root has a numeric
``data-duration``, every ``<audio>``/``<video>`` has numeric timing attributes and no timed
ancestor other than the root, and no sub-composition is mounted. Anything else (a
``data-start="intro + 1"`` reference, a timeline-defined length, clips made by script
that the HTML cannot show) returns None and the planner asks the page instead.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

_TIMING = (
    "data-start", "data-duration", "data-media-start", "data-playback-start", "data-volume",
    "data-playback-rate",
)  # fmt: skip


@dataclass
class _Element:
    tag: str
    attrs: dict[str, str | None]
    timed_ancestor: bool
    sources: list[str] = field(default_factory=list)


class _MediaReader(HTMLParser):
    """Collects the root's attributes and every media element with its context."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root: dict[str, str | None] | None = None
        self.media: list[_Element] = []
        self.plain = True  # False once something only the page can resolve is seen
        self._stack: list[tuple[str, bool]] = []  # (tag, opens a timed scope)
        self._open_media: _Element | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "data-composition-src" in found or "data-hf-inlined-from" in found:
            self.plain = False
        is_root = self.root is None and "data-composition-id" in found
        if is_root:
            self.root = found
        timed_above = any(timed for _, timed in self._stack)
        if tag in ("audio", "video"):
            element = _Element(tag, found, timed_above)
            self.media.append(element)
            self._open_media = element
        elif tag == "source" and self._open_media is not None and found.get("src"):
            self._open_media.sources.append(str(found["src"]))
        if tag in _VOID:
            return
        opens_scope = not is_root and self.root is not None and "data-start" in found
        self._stack.append((tag, opens_scope))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("audio", "video"):
            self._open_media = None
        for depth in range(len(self._stack) - 1, -1, -1):
            if self._stack[depth][0] == tag:
                del self._stack[depth:]
                break


_VOID = frozenset(
    "area base br col embed hr img input link meta source track wbr".split()  # noqa: SIM905
)


def _number(attrs: dict[str, str | None], name: str) -> float | None:
    raw = attrs.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _plain_number(attrs: dict[str, str | None], name: str) -> bool:
    raw = attrs.get(name)
    return raw is None or not raw.strip() or _number(attrs, name) is not None


@dataclass(frozen=True)
class StaticMedia:
    duration: float
    media: list[dict[str, Any]]  # as window.__hfEngine.media() describes them


def _media_offset(attrs: dict[str, str | None]) -> float:
    """Where in the file the clip starts: ``data-playback-start`` (HyperFrames' newer name)
    wins over ``data-media-start`` when it is a number >= 0, as the page decides."""
    for name in ("data-playback-start", "data-media-start"):
        value = _number(attrs, name)
        if value is not None and value >= 0:
            return value
    return 0.0


def _declared_silent(attrs: dict[str, str | None]) -> bool:
    """``<video data-has-audio="false">`` (anything but "true") adds no sound."""
    return "data-has-audio" in attrs and attrs["data-has-audio"] != "true"


_LEADING_NUMBER = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _fades(attrs: dict[str, str | None]) -> dict[str, float]:
    """``fadeIn``/``fadeOut`` seconds when set (> 0), read like JavaScript's parseFloat."""
    out: dict[str, float] = {}
    for name, key in (("data-fade-in", "fadeIn"), ("data-fade-out", "fadeOut")):
        match = _LEADING_NUMBER.match(attrs.get(name) or "")
        value = float(match.group()) if match else 0.0
        if math.isfinite(value) and value > 0:
            out[key] = value
    return out


def read_static_media(entry: Path, base_url: str) -> StaticMedia | None:
    """The clips of the compiled ``entry`` as the page would describe them (``src``
    resolved against ``base_url``, the URL the page is served at), or None when only the
    page can tell."""
    reader = _MediaReader()
    reader.feed(entry.read_text(encoding="utf-8", errors="replace"))
    reader.close()
    root = reader.root
    if root is None or not reader.plain:
        return None
    duration = _number(root, "data-duration")
    if duration is None or duration <= 0:
        return None
    described: list[dict[str, Any]] = []
    for kind in ("audio", "video"):
        elements = [m for m in reader.media if m.tag == kind]
        for index, element in enumerate(elements):
            attrs = element.attrs
            if element.timed_ancestor or not all(_plain_number(attrs, n) for n in _TIMING):
                return None
            src = attrs.get("src") or (element.sources[0] if element.sources else None)
            start = _number(attrs, "data-start") or 0.0
            length = _number(attrs, "data-duration")
            media_start = _media_offset(attrs)
            rate = _number(attrs, "data-playback-rate")
            volume = _number(attrs, "data-volume")
            described.append({
                "kind": kind, "index": index, "id": attrs.get("id") or None,
                "src": urljoin(base_url, src) if src else None,
                "start": start, "end": None if length is None else start + length,
                "mediaStart": media_start if media_start and media_start > 0 else 0,
                "playbackRate": rate if rate and rate > 0 else 1,
                "volume": 1 if volume is None else volume,
                "loop": "loop" in attrs,
                "muted": "muted" in attrs or (kind == "video" and _declared_silent(attrs)),
                **_fades(attrs),
            })  # fmt: skip
    return StaticMedia(duration, described)
