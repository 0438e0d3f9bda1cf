"""The CLI's progress display: a bar only where one can be drawn, plain lines elsewhere
(pipes, logs, 0-column ptys), and no rate or ETA read off the first, slow frames."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import struct
import termios
import time

from hyperframes_lambda.runner.progress import (
    ETA_MIN_FRAMES,
    FrameRate,
    Progress,
    ProgressPrinter,
    is_terminal,
)


def pty_with_columns(columns: int) -> tuple[int, int]:
    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    return parent, child


def test_a_pty_without_columns_is_not_a_terminal_to_draw_on() -> None:
    for columns, expected in ((0, False), (80, True)):
        parent, child = pty_with_columns(columns)
        with os.fdopen(child, "w") as stream:
            assert is_terminal(stream) is expected
        os.close(parent)
    assert is_terminal(io.StringIO()) is False


def test_no_rate_or_eta_until_a_few_frames_are_in() -> None:
    rate = FrameRate()
    assert rate.update(0, 100, 0.0) == (None, None)
    assert rate.update(1, 100, 5.0) == (None, None)  # the first frame paid for the launch
    assert rate.update(ETA_MIN_FRAMES, 100, 5.5) == (None, None)  # 4 frames since
    fps, eta = rate.update(1 + ETA_MIN_FRAMES * 2, 100, 6.0)
    assert fps == ETA_MIN_FRAMES * 2 and eta == (100 - 1 - ETA_MIN_FRAMES * 2) / fps
    quick = FrameRate()  # a short render: its last line has a rate, however fast it was
    quick.update(1, 20, 0.0)
    assert quick.update(20, 20, 0.1) == (190.0, 0.0)


def test_plain_lines_name_stages_and_leave_the_eta_out_at_first() -> None:
    out = io.StringIO()
    printer = ProgressPrinter("x.mp4", out, tty=False, every_s=3600)
    printer(Progress("plan", 0, 1, 0.0))
    printer(Progress("plan", 1, 1, 0.4))
    for done in range(0, 11):
        printer(Progress("frames", done, 10, 0.5))
    printer.close()
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["x.mp4: planning…", "x.mp4: plan done in 0.4s"]
    frame_lines = lines[2:]
    assert frame_lines[0] == "x.mp4: 1/10 frames (10%)"  # no "eta 150s" off the first frame
    assert frame_lines[-1].startswith("x.mp4: 10/10 frames (100%)")
    assert all("eta" not in line for line in frame_lines[:ETA_MIN_FRAMES])


def test_on_a_terminal_planning_ticks_and_is_erased() -> None:
    out = io.StringIO()
    printer = ProgressPrinter("x.mp4", out, tty=True)
    printer(Progress("plan", 0, 1, 0.0))
    deadline = time.monotonic() + 30
    while "planning… 1s" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.1)  # the status line ticks twice a second
    printer(Progress("plan", 1, 1, 1.2))
    printer.close()
    text = out.getvalue()
    assert "\rx.mp4: planning… 1s" in text and "\r\x1b[K" in text
    assert text.rstrip().endswith("x.mp4: plan done in 1.2s")
