"""Two renders onto one output (issue 23 item 5): the second fails at once with
``OUTPUT_IN_USE`` naming the output and the process holding it, instead of silently
replacing the first one's file. The holder is a real second process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperframes_lambda.errors import OutputInUseError
from hyperframes_lambda.runner.local_render import RenderOptions, render_local
from hyperframes_lambda.runner.output_target import lock_path, output_lock

from ..conftest import COMPOSITIONS

HOLD = """
import sys
from pathlib import Path
from hyperframes_lambda.runner.output_target import output_lock
with output_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """An output path whose lock another process holds; yields (output, its pid)."""
    output = tmp_path / "out" / "video.mp4"
    output.parent.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(output)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    try:
        yield output, holder.pid
    finally:
        holder.communicate("")  # close stdin: the holder ends, releasing the lock


def test_a_second_render_onto_a_held_output_fails_at_once(held: tuple[Path, int]) -> None:
    output, pid = held
    with pytest.raises(OutputInUseError) as caught:
        render_local(COMPOSITIONS / "known-pixels", output, RenderOptions(lint=False))
    message = str(caught.value)
    assert str(output) in message and f"process {pid}" in message
    assert caught.value.code == "OUTPUT_IN_USE" and not caught.value.retryable
    assert not output.exists()
    assert lock_path(output).exists(), "the holder's lock file is left alone"


def test_the_command_line_says_which_output_is_in_use(held: tuple[Path, int]) -> None:
    output, _ = held
    result = subprocess.run(
        [sys.executable, "-m", "hyperframes_lambda.cli", "render",
         str(COMPOSITIONS / "known-pixels"), "-o", str(output), "--quiet"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "[OUTPUT_IN_USE]" in result.stderr and str(output) in result.stderr
    assert not output.exists()


def test_the_lock_is_released_and_removed(tmp_path: Path) -> None:
    output = tmp_path / "video.mp4"
    with output_lock(output) as lock:
        assert lock.read_text() == str(__import__("os").getpid())
        with pytest.raises(OutputInUseError), output_lock(output):  # a second render, here
            pass
    assert not lock_path(output).exists()
    with output_lock(output):  # free again
        pass
