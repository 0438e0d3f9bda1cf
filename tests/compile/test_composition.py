from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from hyperframes_lambda.compile.composition import read_composition
from hyperframes_lambda.errors import CompositionError

from ..conftest import COMPOSITIONS, EXAMPLES


def write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "index.html").write_text(f"<!doctype html><html><body>{body}</body></html>")
    return tmp_path


def test_reads_the_root_composition() -> None:
    info = read_composition(EXAMPLES / "title-card")
    assert (info.composition_id, info.width, info.height, info.duration) == (
        "title",
        1920,
        1080,
        4.0,
    )


def test_missing_entry_names_the_file() -> None:
    with pytest.raises(CompositionError, match=r"no-entry/index\.html does not exist"):
        read_composition(COMPOSITIONS / "bad" / "no-entry")


def test_no_composition_id_is_an_error() -> None:
    with pytest.raises(CompositionError, match="no element with data-composition-id"):
        read_composition(COMPOSITIONS / "bad" / "no-id")


@pytest.mark.parametrize(
    ("attr", "fps"),
    [
        ("", None),
        ('data-fps=""', None),
        ('data-fps="25"', Fraction(25)),
        ('data-fps="10"', Fraction(10)),
        ('data-fps="12"', Fraction(12)),
        ('data-fps="30.0"', Fraction(30)),
        ('data-fps="30000/1001"', Fraction(30000, 1001)),
    ],
)
def test_data_fps_is_any_whole_rate_or_rational(
    tmp_path: Path, attr: str, fps: Fraction | None
) -> None:
    project = write(
        tmp_path, f'<div data-composition-id="x" data-width="320" data-height="180" {attr}></div>'
    )
    assert read_composition(project).fps == fps


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ('data-width="320"', "has no data-height"),
        ('data-width="abc" data-height="180"', "data-width='abc'.*not a number"),
        ('data-width="321.5" data-height="180"', "data-width=321.5 must be a whole number"),
        ('data-width="99999" data-height="180"', "data-width=99999"),
        ('data-width="320" data-height="180" data-duration="0"', "data-duration=0 must be > 0"),
        ('data-width="320" data-height="180" data-fps="0"', "data-fps='0' must be 1…240"),
        ('data-width="320" data-height="180" data-fps="241"', "data-fps='241' must be 1…240"),
        ('data-width="320" data-height="180" data-fps="fast"', "data-fps='fast' must be 1…240"),
        ('data-width="320" data-height="180" data-fps="29.97"', "data-fps='29.97' must be a whole"),
    ],
)
def test_bad_root_attributes_are_named(tmp_path: Path, attrs: str, message: str) -> None:
    project = write(tmp_path, f'<div data-composition-id="x" {attrs}></div>')
    with pytest.raises(CompositionError, match=message):
        read_composition(project)
