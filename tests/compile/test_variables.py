"""Declared variables (``data-composition-variables``) and the check of a render's values:
the types HyperFrames 0.8.170 accepts, strict refusal naming key and types, warnings
otherwise, the variables file; and one local render that paints a value from a file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hyperframes_lambda.compile.variables import (
    check_variables,
    load_variables,
    read_declarations,
    validate_variables,
)
from hyperframes_lambda.errors import InvalidVariablesError
from hyperframes_lambda.media.probe import decode_frames

from ..conftest import COMPOSITIONS

PROJECT = COMPOSITIONS / "variables"


def test_declarations_follow_hyperframes_rules() -> None:
    html = """<html data-composition-variables='[
      {"id": "a", "type": "string", "label": "A", "default": "x"},
      {"id": "b", "type": "number", "label": "B", "default": "not a number"},
      {"id": "c", "type": "widget", "label": "C", "default": "x"},
      {"id": "e", "type": "enum", "label": "E", "default": "p",
       "options": [{"value": "p"}, {"value": "q"}]}]'>
      <body><div data-composition-id="m"
        data-composition-variables='[{"id": "a", "type": "color", "label": "A", "default": "#fff"}]'>
      </div></body></html>"""
    declarations, warnings = read_declarations(html)
    assert [(d.id, d.type) for d in declarations] == [("a", "color"), ("e", "enum")]
    assert declarations[1].options == ("p", "q")
    assert len(warnings) == 2 and "[1]" in warnings[0] and "[2]" in warnings[1]


def test_findings_name_the_key_the_declared_type_and_the_value_type() -> None:
    declarations, _ = read_declarations(PROJECT.joinpath("index.html").read_text())
    findings = check_variables(
        {"color": 12, "count": "3", "shape": "star", "typo": "x", "padding": "ok",
         "nan": None},
        declarations,
    )  # fmt: skip
    got = {f.key: (f.kind, f.declared_type, f.value_type) for f in findings}
    assert got == {
        "color": ("type-mismatch", "color", "number"),
        "count": ("type-mismatch", "number", "string"),
        "shape": ("enum-out-of-range", "enum", "string"),
        "typo": ("undeclared", None, "string"),
        "nan": ("undeclared", None, "null"),
    }
    assert check_variables({"count": True}, declarations)[0].value_type == "boolean"
    assert check_variables({"anything": 1}, []) == [], "nothing declared: nothing checked"


def test_strict_raises_every_finding_and_lenient_warns() -> None:
    with pytest.raises(InvalidVariablesError) as refused:
        validate_variables(PROJECT, {"color": 12, "typo": 1}, strict=True)
    message = str(refused.value)
    assert "variables.color: declared color, got number (12)" in message
    assert "variables.typo: not declared in data-composition-variables" in message
    assert refused.value.code == "INVALID_VARIABLES"
    warnings = validate_variables(PROJECT, {"color": 12})
    assert len(warnings) == 1 and warnings[0].startswith("variables.color: declared color")
    assert validate_variables(PROJECT, {"color": "#123456", "count": 2.5}, strict=True) == []


def test_variables_file_or_inline_never_both(tmp_path: Path) -> None:
    good = tmp_path / "vars.json"
    good.write_text('{"color": "rgb(0, 0, 255)"}')
    assert load_variables(None, good) == {"color": "rgb(0, 0, 255)"}
    assert load_variables('{"a": 1}', None) == {"a": 1}
    assert load_variables(None, None) == {}
    with pytest.raises(InvalidVariablesError, match="--variables and --variables-file both"):
        load_variables("{}", good)
    bad = tmp_path / "list.json"
    bad.write_text("[1]")
    with pytest.raises(
        InvalidVariablesError,
        match=r"--variables-file .*list\.json must be a JSON object, got array",
    ):
        load_variables(None, bad)
    with pytest.raises(InvalidVariablesError, match="cannot read it"):
        load_variables(None, tmp_path / "missing.json")


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hyperframes_lambda.cli", *map(str, args)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_cli_strict_refusal_is_one_line_before_any_browser(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    result = run_cli("render", PROJECT, "-o", out, "--quiet", "--strict-variables",
                     "--variables", json.dumps({"count": "three"}))  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == (
        'error [INVALID_VARIABLES]: variables.count: declared number, got string ("three") '
        "(index.html, strictVariables)"
    )
    assert not out.exists()
    both = run_cli("render", PROJECT, "-o", out, "--variables", "{}", "--variables-file", out)
    assert both.returncode == 2 and "give one" in both.stderr


@pytest.mark.slow
def test_cli_variables_file_paints_its_value_and_warns_of_a_typo(tmp_path: Path) -> None:
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"color": "rgb(0, 0, 255)", "colour": "typo"}))
    out = tmp_path / "out.mp4"
    result = run_cli("render", PROJECT, "-o", out, "--quiet", "--fps", "10", "--crf", "0",
                     "--variables-file", values)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "variables.colour: not declared in data-composition-variables" in result.stderr
    frame = np.frombuffer(next(iter(decode_frames(out, 320, 180))), np.uint8)
    pixel = frame.reshape(180, 320, 3)[80, 80].astype(int)
    assert np.abs(pixel - (0, 0, 255)).max() <= 8, pixel


def test_python_api_takes_a_variables_file_and_strict_variables(tmp_path: Path) -> None:
    from hyperframes_lambda import render

    values = tmp_path / "values.json"
    values.write_text('{"shape": "star"}')
    out = tmp_path / "out.mp4"
    with pytest.raises(InvalidVariablesError, match=r"variables\.shape: declared enum, 'star'"):
        render(PROJECT, out, variables_file=values, strict_variables=True, lint=False)
    assert not out.exists()
    with pytest.raises(InvalidVariablesError, match="variables and variables_file both"):
        render(PROJECT, out, variables={"a": 1}, variables_file=values, lint=False)
