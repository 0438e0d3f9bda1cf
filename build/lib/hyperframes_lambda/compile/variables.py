"""The composition's declared variables and a check of the values a render is given.

A HyperFrames composition declares its variables on ``<html>`` (or on its root
``[data-composition-id]`` element) as ``data-composition-variables``: a JSON array of
``{id, type, label, default}`` (``enum`` adds ``options``). The caller's variables are a
JSON object keyed by id; a key the composition does not declare, or a value of another
type than declared, is almost always a typo or a stale rows file, and the video then
silently shows the default. This module finds those mismatches before a browser starts:
as plan warnings by default, as ``INVALID_VARIABLES`` with ``strictVariables``.

The accepted types and what each takes follow HyperFrames 0.8.170 (its core's
``validateVariables``): ``string`` and ``color`` take a string, ``number`` a finite number,
``boolean`` a boolean, ``enum`` one of its ``options``' values, ``font`` a string or
``{name, source}``, ``image`` a string or ``{url}``. A declaration that HyperFrames would
drop (unknown type, a default of the wrong type) is dropped here too, with a warning. A
composition that declares nothing is not checked (HyperFrames does the same).

:func:`validate_variables` is the one call for a project and a set of values (the plan,
the AWS client's preflight and a batch's per-row check use it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from ..errors import InvalidVariablesError

ATTRIBUTE = "data-composition-variables"
# Each declared type and the JavaScript type of its default (HyperFrames' DEFAULT_TYPEOF).
DEFAULT_TYPES: dict[str, str] = {
    "string": "string", "number": "number", "color": "string", "boolean": "boolean",
    "enum": "string", "font": "string", "image": "string",
}  # fmt: skip


@dataclass(frozen=True)
class VariableDeclaration:
    id: str
    type: str
    label: str
    default: Any
    options: tuple[str, ...] = ()  # enum: the allowed values


@dataclass(frozen=True)
class VariableFinding:
    """One value that does not fit the declarations."""

    key: str
    kind: str  # "undeclared", "type-mismatch" or "enum-out-of-range"
    declared_type: str | None  # None when undeclared
    value_type: str  # the value's JSON type: string, number, boolean, null, array, object
    message: str


def json_type(value: Any) -> str:
    """The JavaScript ``typeof`` of a JSON value, with null and array told apart."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object"


class _Attributes(HTMLParser):
    """The ``<html>`` tag's and the root composition's attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.html: dict[str, str | None] = {}
        self.root: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html" and not self.html:
            self.html = found
        if self.root is None and "data-composition-id" in found:
            self.root = found


def _declaration(item: Any) -> VariableDeclaration | None:
    if not isinstance(item, dict):
        return None
    kind, ident, label = item.get("type"), item.get("id"), item.get("label")
    if not isinstance(ident, str) or not isinstance(label, str) or kind not in DEFAULT_TYPES:
        return None
    if json_type(item.get("default")) != DEFAULT_TYPES[kind]:
        return None
    options: tuple[str, ...] = ()
    if kind == "enum":
        raw = item.get("options")
        if not isinstance(raw, list):
            return None
        options = tuple(
            str(o["value"]) if isinstance(o, dict) and "value" in o else str(o) for o in raw
        )
    return VariableDeclaration(ident, str(kind), label, item["default"], options)


def _parse_attribute(raw: str | None, where: str, warnings: list[str]) -> list[VariableDeclaration]:
    if raw is None or not raw.strip():
        return []
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        warnings.append(f"{where}: {ATTRIBUTE} is not valid JSON ({exc.msg}); ignored")
        return []
    if not isinstance(items, list):
        return []  # a sub-composition host's values object, not declarations
    found = []
    for index, item in enumerate(items):
        declaration = _declaration(item)
        if declaration is None:
            warnings.append(
                f"{where}: {ATTRIBUTE}[{index}] is not a declaration HyperFrames accepts "
                f"({{id, type, label, default}}, type one of {', '.join(DEFAULT_TYPES)}, the "
                "default of that type); ignored"
            )
        else:
            found.append(declaration)
    return found


def read_declarations(
    html: str, where: str = "index.html"
) -> tuple[list[VariableDeclaration], list[str]]:
    """The declarations of ``<html>`` and then the root composition (a later id wins, as
    in HyperFrames), and warnings about the entries that were dropped."""
    parser = _Attributes()
    parser.feed(html)
    warnings: list[str] = []
    merged: dict[str, VariableDeclaration] = {}
    for attrs in (parser.html, parser.root or {}):
        if attrs is parser.root and parser.root is parser.html:
            continue
        for declaration in _parse_attribute(attrs.get(ATTRIBUTE), where, warnings):
            merged[declaration.id] = declaration
    return list(merged.values()), warnings


def declared_variables(
    project_dir: Path, entry_file: str = "index.html"
) -> tuple[list[VariableDeclaration], list[str]]:
    """:func:`read_declarations` of the project's entry file (none when it is unreadable:
    the plan names a missing entry file itself)."""
    try:
        html = (project_dir / entry_file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return [], []
    return read_declarations(html, entry_file)


def _mismatch(key: str, declaration: VariableDeclaration, value: Any) -> VariableFinding | None:
    got = json_type(value)
    kind = declaration.type

    def wrong(expected: str) -> VariableFinding:
        return VariableFinding(
            key, "type-mismatch", kind, got,
            f"variables.{key}: declared {expected}, got {got} ({_short(value)})",
        )  # fmt: skip

    if kind in ("string", "color"):
        return None if got == "string" else wrong(kind)
    if kind == "number":
        ok = got == "number" and math.isfinite(float(value))
        return None if ok else wrong("number")
    if kind == "boolean":
        return None if got == "boolean" else wrong("boolean")
    if kind == "enum":
        if got != "string":
            return wrong("enum (a string)")
        if value not in declaration.options:
            allowed = ", ".join(repr(o) for o in declaration.options)
            return VariableFinding(
                key, "enum-out-of-range", kind, got,
                f"variables.{key}: declared enum, {value!r} is not one of {allowed}",
            )  # fmt: skip
        return None
    if kind == "font":
        if got == "string":
            return None
        if got == "object" and all(isinstance(value.get(f), str) for f in ("name", "source")):
            return None
        return wrong("font (a string or {name, source})")
    if kind == "image":
        if got == "string" or (got == "object" and isinstance(value.get("url"), str)):
            return None
        return wrong("image (a string or {url})")
    return None


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def check_variables(
    values: Mapping[str, Any], declarations: list[VariableDeclaration]
) -> list[VariableFinding]:
    """Every undeclared key and every value of the wrong type, in the values' order. No
    declarations: nothing is checked."""
    if not declarations:
        return []
    by_id = {d.id: d for d in declarations}
    findings = []
    for key, value in values.items():
        declaration = by_id.get(key)
        if declaration is None:
            known = ", ".join(sorted(by_id))
            findings.append(VariableFinding(
                key, "undeclared", None, json_type(value),
                f"variables.{key}: not declared in {ATTRIBUTE} (declared: {known})",
            ))  # fmt: skip
            continue
        mismatch = _mismatch(key, declaration, value)
        if mismatch is not None:
            findings.append(mismatch)
    return findings


def validate_variables(
    project_dir: Path,
    variables: Mapping[str, Any],
    *,
    entry_file: str = "index.html",
    strict: bool = False,
) -> list[str]:
    """Check ``variables`` against what the project's entry declares. Returns the
    findings (and dropped declarations) as warning lines; with ``strict``, any finding
    raises :class:`InvalidVariablesError` naming every offending key, its declared type and
    the value's type."""
    declarations, warnings = declared_variables(project_dir, entry_file)
    findings = check_variables(variables, declarations)
    if strict and findings:
        raise InvalidVariablesError(
            "; ".join(f.message for f in findings) + f" ({entry_file}, strictVariables)"
        )
    dropped = warnings if variables else []  # only worth saying when values are given
    return [*dropped, *(f"{f.message} (the composition may not show it)" for f in findings)]


def load_variables(
    inline: str | None,
    file: Path | None,
    *,
    inline_name: str = "--variables",
    file_name: str = "--variables-file",
) -> dict[str, Any]:
    """The variables of ``--variables JSON`` or ``--variables-file FILE`` (one or the
    other, as HyperFrames' CLI; neither: ``{}``). Raises :class:`InvalidVariablesError`
    naming the flag (or the file) when the JSON is not an object."""
    if inline is not None and file is not None:
        raise InvalidVariablesError(
            f"{inline_name} and {file_name} both give the variables; give one"
        )
    source, text = inline_name, inline
    if file is not None:
        source = f"{file_name} {file}"
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidVariablesError(f"{source}: cannot read it ({exc.strerror})") from None
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidVariablesError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidVariablesError(f"{source} must be a JSON object, got {json_type(value)}")
    return value
