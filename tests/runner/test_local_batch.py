"""``hyperframes-lambda render PROJECT --rows rows.jsonl -o 'out/{id}.mp4'``: one video per
row, in browsers launched once for the whole batch, a failed row recorded and skipped past.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from hyperframes_lambda import cli
from hyperframes_lambda.batch.rows import parse_rows
from hyperframes_lambda.errors import BatchRowsInvalidError

from ..conftest import COMPOSITIONS
from ..pipeline_helpers import decoded

CARD = COMPOSITIONS / "batch-card"


def background(frame: np.ndarray) -> tuple[int, ...]:
    """The colour of the card's background (above the name band)."""
    return tuple(int(v) for v in frame[40:80, 100:220].reshape(-1, 3).mean(axis=0))


def band(frame: np.ndarray) -> np.ndarray:
    """The black band where the row's name is written in white."""
    return frame[124:176, :, :]


def close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


@pytest.mark.slow
def test_rows_render_in_one_browser_and_a_failed_row_does_not_stop_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        '{"id": "red", "variables": {"name": "ANA", "color": "rgb(255, 0, 0)"}}\n'
        '{"id": "boom", "variables": {"name": "X", "fail": true}}\n'
        "\n"
        '{"variables": {"name": "WWWW", "color": "rgb(0, 0, 255)"}, "config": {"fps": 5}}\n'
    )
    out = tmp_path / "out"
    code = cli.main([
        "render", str(CARD), "--rows", str(rows), "-o", f"{out}/{{id}}.mp4", "--fps", "10",
        "--crf", "0", "--pages", "1",
    ])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1, captured.err  # a row failed: the documented exit code
    assert "error [BATCH_ROWS_FAILED]: 1 of 3 rows failed: boom (PAGE_SCRIPT_ERROR)" in captured.err
    # One browser for the three rows (--pages 1), counted by the pool that launched it.
    assert re.search(r"2/3 rows rendered, 1 failed .*\(.*, 1 browser launch\(es\)\)", captured.out)
    results = [json.loads(x) for x in (out / "batch-results.jsonl").read_text().splitlines()]
    assert [(r["row"], r["id"], r["status"], r["error"]) for r in results] == [
        (1, "red", "succeeded", None), (2, "boom", "failed", "PAGE_SCRIPT_ERROR"),
        (3, "3", "succeeded", None),
    ]  # fmt: skip
    assert "row asked to fail: X" in results[1]["cause"]
    assert not (out / "boom.mp4").exists()
    red = decoded(out / "red.mp4", 320, 180)
    blue = decoded(out / "3.mp4", 320, 180)
    assert (len(red), len(blue)) == (2, 1), "fps 10 for the batch, 5 for row 3 (its config)"
    assert close(background(red[0]), (255, 0, 0)) and close(background(blue[0]), (0, 0, 255))
    # Each row's own name: white text on the band, and the two bands differ.
    white = [int((band(f[0]) > 200).all(axis=2).sum()) for f in (red, blue)]
    assert all(w > 50 for w in white), white
    assert white[1] > white[0], "WWWW covers more of the band than ANA"


def test_rows_file_problems_name_the_line_and_field(tmp_path: Path) -> None:
    with pytest.raises(BatchRowsInvalidError, match=r"rows:2: unknown field\(s\) varibles"):
        parse_rows(['{"id": "a"}', '{"varibles": {}}'])
    with pytest.raises(BatchRowsInvalidError, match=r"rows:2: id 'a' is already the id of line 1"):
        parse_rows(['{"id": "a"}', '{"id": "a"}'])
    with pytest.raises(BatchRowsInvalidError, match=r"rows:1: not valid JSON"):
        parse_rows(["{nope"])
    with pytest.raises(BatchRowsInvalidError, match=r"rows:1: give outputKey or output"):
        parse_rows(['{"outputKey": "a.mp4", "output": "s3://b/a.mp4"}'])
    with pytest.raises(BatchRowsInvalidError, match=r"rows:1: id 'a b' must be"):
        parse_rows(['{"id": "a b"}'])
    assert [r.id for r in parse_rows(["{}", "", '{"id": 7}'])] == ["1", "7"]
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": "a"}\n{"id": "b"}\n')
    code = cli.main(["render", str(CARD), "--rows", str(rows), "-o", str(tmp_path / "same.mp4")])
    assert code == 1  # both rows would write same.mp4: refused before any render
    assert not (tmp_path / "same.mp4").exists()
