"""``hyperframes-lambda lint``: HyperFrames' own linter, run on a project.

The findings are the reference CLI's (``hyperframes lint``) because the code is: the
pinned linter modules (:mod:`.sources`) run in our headless browser (:mod:`.page_run`).
This module turns their result into :class:`LintReport` with project-relative file names.

May import: ``browser/`` (it runs in a headless browser served by the page server),
``net/`` and the ground modules. Never ``stages/``, ``runner/`` or a way in.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from .page_run import LintBrowser

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class LintFinding:
    """One finding, in the reference's terms (``code`` is its rule id)."""

    code: str
    severity: Severity
    message: str
    file: str | None = None  # project-relative ("index.html", "compositions/a.html")
    line: int | None = None
    column: int | None = None
    selector: str | None = None
    element_id: str | None = None
    fix_hint: str | None = None

    def where(self) -> str:
        place = self.file or ""
        if place and self.line is not None:
            place += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        return place

    def line_text(self) -> str:
        """``index.html:31:5: warning: <message> [rule]``."""
        where = self.where()
        return f"{where + ': ' if where else ''}{self.severity}: {self.message} [{self.code}]"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {
            ("elementId" if k == "element_id" else "fixHint" if k == "fix_hint" else k): v
            for k, v in data.items()
            if v is not None
        }


@dataclass(frozen=True)
class LintReport:
    findings: list[LintFinding]
    files_scanned: int

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def ok(self) -> bool:
        return self.count("error") == 0

    def shown(self, *, verbose: bool = False) -> list[LintFinding]:
        """What the reference shows: errors and warnings, infos with ``verbose``."""
        return [f for f in self.findings if verbose or f.severity != "info"]

    def summary(self) -> str:
        errors, warnings = self.count("error"), self.count("warning")
        return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"

    def to_json(self, *, verbose: bool = False) -> dict[str, Any]:
        """The reference's ``lint --json`` shape, file names project-relative."""
        return {
            "ok": self.ok,
            "errorCount": self.count("error"),
            "warningCount": self.count("warning"),
            "infoCount": self.count("info"),
            "findings": [f.to_json() for f in self.shown(verbose=verbose)],
            "filesScanned": self.files_scanned,
        }


def _relative(root: str, file: object) -> str | None:
    if not isinstance(file, str) or not file:
        return None
    if not os.path.isabs(file):
        return file
    rel = os.path.relpath(file, root)
    return file if rel.startswith("..") else Path(rel).as_posix()


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def report_from(root: Path, raw: dict[str, Any]) -> LintReport:
    """The linter's ``lintProject`` result -> :class:`LintReport`, in its order."""
    base = os.path.abspath(root)
    findings: list[LintFinding] = []
    results = raw.get("results") or []
    for result in results:
        for item in result.get("result", {}).get("findings", []):
            severity = item.get("severity")
            findings.append(
                LintFinding(
                    code=str(item.get("code")),
                    severity=severity if severity in SEVERITIES else "info",
                    message=str(item.get("message", "")),
                    file=_relative(base, item.get("file")),
                    line=_int(item.get("line")),
                    column=_int(item.get("column")),
                    selector=_str(item.get("selector")),
                    element_id=_str(item.get("elementId")),
                    fix_hint=_str(item.get("fixHint")),
                )
            )
    return LintReport(findings, files_scanned=len(results))


def lint_project(
    project_dir: Path, entry: str | None = None, *, browser: LintBrowser | None = None
) -> LintReport:
    """Lint ``project_dir`` as ``hyperframes lint`` does (``entry``: an entry file other
    than index.html, linted alone like the reference's explicit entry)."""
    entry_file = (
        None if entry in (None, "index.html") else Path(os.path.abspath(project_dir / entry))
    )
    if browser is not None:
        return report_from(project_dir, browser.run(project_dir, entry_file))
    with LintBrowser() as own:
        return report_from(project_dir, own.run(project_dir, entry_file))
