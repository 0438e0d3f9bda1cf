"""``hyperframes-lambda lint`` reports what HyperFrames' own linter reports.

The expected findings are data recorded from the reference CLI (npm hyperframes@0.8.170,
``hyperframes lint DIR --json --verbose``, Node 22) on the compositions in
``tests/lint_cases/`` (one per rule family: GSAP, clip timing, script determinism,
project files, sub-compositions, root discovery), on ``examples/`` and on every
conformance fixture (``reference_fixtures.json``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hyperframes_lambda import render
from hyperframes_lambda.errors import LintFailedError
from hyperframes_lambda.lint import LintReport, lint_project
from hyperframes_lambda.lint.page_run import LintBrowser

ROOT = Path(__file__).resolve().parents[2]
CASES = Path(__file__).resolve().parents[1] / "lint_cases"
FIXTURES = ROOT.parent / "shared" / "conformance" / "fixtures"

# Per case: (rule id, severity, file, line, column, selector or element id), in order.
Row = tuple[str, str, str | None, int | None, int | None, str | None]
REFERENCE: dict[str, list[Row]] = {
    "clean": [],
    "gsap-layout-tween": [("gsap_non_transform_motion", "error", "index.html", 15, 5, "#t")],
    "timing-no-clip": [
        ("non_deterministic_code", "error", "index.html", 11, 18, None),
        ("timed_element_missing_clip_class", "warning", "index.html", 7, 5, "late"),
    ],
    "missing-assets": [
        ("missing_gsap_script", "error", "index.html", None, None, None),
        ("audio_file_without_element", "warning", None, None, None, None),
        ("missing_local_asset", "error", "index.html", None, None, None),
    ],
    "sub-composition": [
        ("css_transition_used", "warning", "compositions/card.html", 3, 5, "card-title")
    ],
    "two-roots": [("multiple_root_compositions", "error", None, None, None, None)],
}


def rows(report: LintReport) -> list[Row]:
    return [
        (f.code, f.severity, f.file, f.line, f.column, f.selector or f.element_id)
        for f in report.shown(verbose=True)
    ]


@pytest.fixture(scope="module")
def browser() -> object:
    with LintBrowser() as own:
        yield own


@pytest.mark.parametrize("case", sorted(REFERENCE))
def test_findings_match_the_reference_cli(case: str, browser: LintBrowser) -> None:
    report = lint_project(CASES / case, browser=browser)
    assert rows(report) == REFERENCE[case]
    assert report.ok == all(row[1] != "error" for row in REFERENCE[case])


def test_root_files_are_listed_in_nodes_order(browser: LintBrowser) -> None:
    (finding,) = lint_project(CASES / "two-roots", browser=browser).findings
    assert "a-scene.html, b-scene.html, index.html" in finding.message


@pytest.mark.parametrize("example", ["title-card", "css-nested"])
def test_the_examples_pass(example: str, browser: LintBrowser) -> None:
    report = lint_project(ROOT / "examples" / example, browser=browser)
    assert report.findings == []


def test_the_page_digests_files_like_node(browser: LintBrowser) -> None:
    """The linter's content digest (node's crypto.createHash in the reference) is sha256."""
    raw = browser.run(CASES / "sub-composition", None)
    html = {r["file"]: (CASES / "sub-composition" / r["file"]).read_bytes() for r in raw["results"]}
    assert {r["file"]: r["contentHash"] for r in raw["results"]} == {
        name: hashlib.sha256(data).hexdigest()[:16] for name, data in html.items()
    }


@pytest.mark.slow
@pytest.mark.skipif(not FIXTURES.is_dir(), reason="the conformance fixtures are not here")
def test_conformance_fixtures_match_the_reference_cli(browser: LintBrowser) -> None:
    recorded = json.loads((CASES / "reference_fixtures.json").read_text())["fixtures"]
    differ = {}
    for name, expected in recorded.items():
        report = lint_project(FIXTURES / name, browser=browser)
        ours = [[f.code, f.severity, f.file, f.line, f.column] for f in report.shown(verbose=True)]
        if ours != expected:
            differ[name] = (ours, expected)
    assert differ == {}
    assert sum(map(len, recorded.values())) > 200


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hyperframes_lambda.cli", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_exit_codes_and_json() -> None:
    errors = _cli("lint", CASES / "timing-no-clip", "--json")
    assert errors.returncode == 1, errors.stderr
    data = json.loads(errors.stdout)
    assert (data["ok"], data["errorCount"], data["warningCount"]) == (False, 1, 1)
    assert [f["file"] for f in data["findings"]] == ["index.html", "index.html"]
    warnings_only = _cli("lint", CASES / "sub-composition")
    assert warnings_only.returncode == 0, warnings_only.stderr
    assert warnings_only.stdout.startswith("compositions/card.html:3:5: warning: ")
    assert warnings_only.stdout.rstrip().endswith(": 0 errors, 1 warning")
    usage = _cli("lint", CASES / "no-such-project")
    assert usage.returncode == 2 and "does not exist" in usage.stderr


def test_strict_lint_fails_before_rendering(tmp_path: Path) -> None:
    out = tmp_path / "out" / "video.mp4"
    result = _cli("render", CASES / "gsap-layout-tween", "-o", out, "--strict-lint", "--quiet")
    assert result.returncode == 1
    assert result.stderr.startswith("error [LINT_FAILED]: HyperFrames' linter found 1 error, 0")
    assert "index.html:15:5: error: " in result.stderr
    assert "[gsap_non_transform_motion]" in result.stderr
    assert not out.exists() and not out.parent.exists()
    with pytest.raises(LintFailedError) as caught:
        render(CASES / "gsap-layout-tween", out, strict_lint=True)
    assert caught.value.code == "LINT_FAILED"


@pytest.mark.slow
def test_render_prints_findings_as_warnings(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(CASES / "clean", project)
    html = (project / "index.html").read_text()
    (project / "index.html").write_text(
        html.replace('<div id="box">', '<div id="box" data-start="0" data-duration="0.2">')
    )
    out = tmp_path / "video.mp4"
    result = _cli("render", project, "-o", out, "--quiet")
    assert result.returncode == 0, result.stderr
    warning = 'warning: lint: index.html:7:5: warning: <div id="box"> has timing attributes'
    assert warning in result.stderr
    assert out.is_file()
