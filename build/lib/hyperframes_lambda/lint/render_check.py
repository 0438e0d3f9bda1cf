"""The lint step of a render: findings become warnings, or fail it with ``strict``.

A render does not depend on the linter being available (first use downloads it; a
machine offline may not have it): without ``strict`` a linter that cannot run is one
warning; with ``strict`` it fails the render, since "no errors" was not shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LintFailedError, RenderError
from . import LintReport, lint_project


@dataclass(frozen=True)
class LintOutcome:
    report: LintReport | None
    warnings: list[str] = field(default_factory=list)


def failure_message(project_dir: Path, report: LintReport) -> str:
    errors = [f for f in report.findings if f.severity == "error"]
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return (
        f"HyperFrames' linter found {report.summary()} in {project_dir}: "
        f"{first.line_text()}{more}; see them all with: hyperframes-lambda lint {project_dir}"
    )


def run_lint(project_dir: Path, entry: str, *, strict: bool) -> LintOutcome:
    """Lint before rendering; raise :class:`LintFailedError` when ``strict`` and any
    finding is an error."""
    try:
        report = lint_project(project_dir, entry)
    except RenderError as exc:  # not loadable, not fetchable, browser failed
        if strict:
            raise
        return LintOutcome(None, [f"lint: skipped: {exc}"])
    if strict and not report.ok:
        raise LintFailedError(failure_message(project_dir, report))
    return LintOutcome(report, [f"lint: {finding.line_text()}" for finding in report.shown()])
