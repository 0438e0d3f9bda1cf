"""The command-line contract: usage errors up front (exit 2), failures as one
``error [CODE]`` line (exit 1), SIGINT/SIGTERM (130/143) leaving no browser and no files,
plain progress lines when stderr is not a terminal."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hyperframes_lambda.errors import PageScriptError
from hyperframes_lambda.media.probe import probe
from hyperframes_lambda.runner.cli_errors import (
    EXIT_FAILED,
    EXIT_USAGE,
    UsageError,
    format_error,
    one_line,
    run_guarded,
)

from .conftest import COMPOSITIONS, EXAMPLES

KNOWN = COMPOSITIONS / "known-pixels"


def cli(
    *args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hyperframes_lambda.cli", *map(str, args)],
        capture_output=True, text=True, timeout=600, check=False, env=env, cwd=cwd,
    )  # fmt: skip


def contents(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


# ---- usage errors: found before any work, exit 2, naming the flag --------------------


USAGE_CASES: list[tuple[list[str], str]] = [
    (["render", "{kp}", "-o", "{tmp}/x.avi"], "-o {tmp}/x.avi: unsupported extension '.avi'"),
    (["render", "{kp}", "-o", "{tmp}/o.mp4", "--gif-loop", "2"], "--gif-loop applies to gif only"),
    (["render", "{kp}", "-o", "{tmp}/o.mp4", "--from", "1"], "--from and --to go together"),
    (["render", "{kp}", "-o", "{tmp}/o.mp4", "--frames", "9-3"], "the last frame is before"),
    (["render", "{kp}", "-o", "{tmp}/o.mp3", "--muted"], "--muted contradicts the audio-only"),
    (
        ["render", "{kp}", "-o", "{tmp}/o.wav", "--audio-bitrate", "96k"],
        "--audio-bitrate does not apply",
    ),
    (["still", "{kp}", "-o", "{tmp}/p.png"], "give the frame: --frame N"),
    (["still", "{kp}", "-o", "{tmp}/p.bmp", "--frame", "1"], "a still is .png, .jpg or .webp"),
    (["render", "{kp}", "--format", "mp4", "-o", "{tmp}/x.webm"], "--format mp4 does not"),
    (["render", "{kp}", "--format", "mp4", "-o", "{tmp}/x.webm"], "'.webm'"),
    (["render", "{kp}", "--format", "png-sequence", "-o", "{tmp}/o.mp4"], "writes a directory"),
    (["render", "{kp}", "-o", "{tmp}/dir.mp4"], "is a directory, not a file"),
    (["render", "{kp}", "-o", "{tmp}/taken"], "holds other files (notes.txt)"),
    (["render", "{kp}", "-o", "{tmp}/readme.txt/x.mp4"], "readme.txt is a file, so directory"),
    (["render", "{kp}", "-o", "/proc/new/x.mp4"], "cannot create /proc/new under /proc"),
    (["render", "{kp}", "-o", "/proc/x.mp4"], "cannot write in /proc"),  # even as root
    (["render", "{kp}", "-o", "{tmp}/o.mp4", "--chunks", "0"], "--chunks: must be at least 1"),
    (["render", "{kp}", "-o", "{tmp}/o.mp4", "--chunks", "-2"], "--chunks: must be at least 1"),
    (["render", "{kp}", "-o", "{tmp}/o.mp4", "--chunk-size", "0"], "--chunk-size: must be at"),
    (["render", "{kp}", "-o", "{tmp}/o.mp4", "--workers", "0"], "--workers: must be at least 1"),
    (["render", "{kp}", "-o", "{tmp}/o.mp4", "--pages", "0"], "--pages: must be at least 1"),
    (["render", "{kp}", "-o", "{tmp}/o.mp4", "--crf", "52"], "--crf: must be 0…51"),
    (["render", "{kp}", "-o", "{tmp}/o.mp4", "--chunks", "2", "--chunk-size", "5"], "not allowed"),
    (["render", "{kp}", "-o", "{tmp}/o.mp4", "--variables", "{{bad"], "--variables is not valid"),
    (["render", "{kp}", "-o", "{tmp}/o.mp4", "--variables", "[1]"], "must be a JSON object"),
    (["render", "{kp}", "-o", "{tmp}/o.mp4", "--width", "320"], "width and height must be given"),
    (["render", "{tmp}/readme.txt", "-o", "{tmp}/o.mp4"], "is a file, not a project directory"),
    (["render", "{tmp}/empty-project", "-o", "{tmp}/o.mp4"], "set --entry"),
    (["render", "{kp}", "--entry", "x.html", "-o", "{tmp}/o.mp4"], "choose one with --entry"),
    (["render", "{tmp}/missing", "-o", "{tmp}/o.mp4"], "{tmp}/missing does not exist"),
    (["plan", "{kp}", "{tmp}/p", "--config", "[1]"], "--config must be a JSON object"),
    (["plan", "{kp}", "{tmp}/p", "--config", '{{"fps": 0}}'], "--config: Config.fps: must be"),
    (["plan", "{tmp}/empty-project", "{tmp}/p"], "set Config.entryFile"),
    (["render-chunk", "{tmp}/p", "-1", "{tmp}/o.mp4"], "must be at least 0"),
    (["render-chunk", "{tmp}/p", "0", "{tmp}/o.mp4", "--pages", "0"], "--pages: must be at"),
]


@pytest.mark.parametrize(("args", "message"), USAGE_CASES, ids=range(len(USAGE_CASES)))
def test_usage_errors_exit_2_up_front_naming_the_problem(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("keep me")
    (tmp_path / "dir.mp4").mkdir()
    (tmp_path / "empty-project").mkdir()
    (tmp_path / "readme.txt").write_text("not a project")
    before = contents(tmp_path)
    result = cli(*(arg.format(tmp=tmp_path, kp=KNOWN) for arg in args))
    assert result.returncode == EXIT_USAGE, result.stderr
    assert message.format(tmp=tmp_path) in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert "planning…" not in result.stderr and " frames (" not in result.stderr  # nothing ran
    assert contents(tmp_path) == before  # nothing written


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/missing", "-o", "{tmp}/o.mp4"], "{tmp}/missing is not a project directory"),
        (["{kp}", "-o", "{tmp}/o.mp4", "--parallel", "0"], "--parallel: must be at least 1"),
        (["{kp}", "-o", "{tmp}/o.mp4", "--config", "{{"], "--config is not valid JSON"),
    ],
)
def test_the_local_runner_reports_usage_errors_too(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hyperframes_lambda.local",
         *(arg.format(tmp=tmp_path, kp=KNOWN) for arg in args)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == EXIT_USAGE, result.stderr
    assert message.format(tmp=tmp_path) in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["render", "{kp}", "-o", "{tmp}/o.mp4", "--fsp", "30"],
         "hyperframes-lambda render: unknown option --fsp (did you mean --fps?); "
         "see 'hyperframes-lambda render --help'"),
        (["rendr", "{kp}"],
         "hyperframes-lambda: unknown command 'rendr' (did you mean 'render'?); "
         "see 'hyperframes-lambda --help'"),
        (["lambda", "progres", "arn"],
         "hyperframes-lambda lambda: unknown command 'progres' (did you mean 'progress'?); "
         "see 'hyperframes-lambda lambda --help'"),
        (["lambda", "render", "{kp}", "--wiat"],
         "hyperframes-lambda lambda render: unknown option --wiat (did you mean --wait?); "
         "see 'hyperframes-lambda lambda render --help'"),
        (["fonts"],
         "hyperframes-lambda fonts: a command is required: install, which; "
         "see 'hyperframes-lambda fonts --help'"),
    ],
)  # fmt: skip
def test_a_usage_error_is_one_line_with_the_subcommands_help_and_a_near_miss(
    tmp_path: Path, args: list[str], line: str
) -> None:
    result = cli(*(arg.format(tmp=tmp_path, kp=KNOWN) for arg in args))
    assert result.returncode == EXIT_USAGE
    assert result.stderr.splitlines() == [line]


def test_main_in_process_puts_the_signal_handlers_back(tmp_path: Path) -> None:
    from hyperframes_lambda.cli import main

    before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
    with pytest.raises(SystemExit) as caught:
        main(["render", str(KNOWN), "-o", str(tmp_path / "x.avi")])
    assert caught.value.code == EXIT_USAGE
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_help_documents_the_exit_codes() -> None:
    for args in (["--help"], ["render", "--help"], ["assemble", "--help"]):
        result = cli(*args)
        assert result.returncode == 0
        for line in ("0    success", "1    failed", "2    usage error", "130", "143"):
            assert line in result.stdout, (args, result.stdout)


# ---- failures: exit 1, one line; unexpected errors are INTERNAL --------------------------


def test_a_deliberate_error_is_one_line_with_its_code() -> None:
    error = PageScriptError("boom\n  at scene.js:3\n")
    assert format_error(error) == "error [PAGE_SCRIPT_ERROR]: boom; at scene.js:3"
    assert one_line("Install one of:\n- a\n- b\n") == "Install one of: a; b"


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_exception_is_internal_with_a_debug_hint(debug: bool) -> None:
    def broken() -> int:
        return {}["missing"]  # type: ignore[no-any-return]

    usage: list[str] = []
    err = io.StringIO()
    status = run_guarded(broken, usage_error=usage.append, debug=debug, stderr=err)
    assert status == EXIT_FAILED and usage == []
    last = err.getvalue().splitlines()[-1]
    assert last == (
        "error [INTERNAL_ERROR]: KeyError: 'missing' (a bug; rerun with --debug for the traceback)"
    )
    assert ("Traceback" in err.getvalue()) is debug


def test_usage_errors_raised_by_commands_go_to_the_parser() -> None:
    def command() -> int:
        raise UsageError("--variables must be a JSON object")

    usage: list[str] = []
    assert run_guarded(command, usage_error=usage.append) == EXIT_USAGE
    assert usage == ["--variables must be a JSON object"]


# ---- interrupted: 130 / 143, no browser left, TMPDIR as before ----------------------------


def processes_mentioning(text: str) -> list[str]:
    """Processes whose command line names ``text`` (browsers: their profile; ffmpeg: its
    output in the work directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


def interrupt_while_capturing(
    tmp_path: Path,
    command: list[str],
    ready: Callable[[str], bool],
    sig: signal.Signals,
    *,
    whole_group: bool = False,
) -> tuple[int, str, Path]:
    """Start ``command``, wait for ``ready`` and a browser, then signal it (or, like Ctrl-C
    in a terminal, its whole process group: workers and browsers get the signal too)."""
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", *command],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**os.environ, "TMPDIR": str(tmpdir)}, start_new_session=whole_group,
    )  # fmt: skip
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if ready(line):
            break
    else:
        pytest.fail(f"never got going: {''.join(seen)}")
    for _ in range(600):  # the stage is under way; wait for its first browser
        if any("--user-data-dir" in p for p in processes_mentioning(str(tmpdir))):
            break
        time.sleep(0.1)
    else:
        pytest.fail("no browser started")
    if whole_group:
        os.killpg(process.pid, sig)
    else:
        process.send_signal(sig)
    rest = process.stderr.read()
    return process.wait(timeout=120), "".join(seen) + rest, tmpdir


TWO_WORKERS = ("--chunks", "2", "--workers", "2", "--pages", "1")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "status", "split", "whole_group"),
    [
        (signal.SIGTERM, 143, (), False),
        (signal.SIGINT, 130, (), False),
        (signal.SIGTERM, 143, TWO_WORKERS, False),
        (signal.SIGINT, 130, TWO_WORKERS, False),
        (signal.SIGINT, 130, TWO_WORKERS, True),  # Ctrl-C in a terminal
    ],
)
def test_a_signal_mid_render_cleans_up_like_ctrl_c(
    tmp_path: Path, sig: signal.Signals, status: int, split: tuple[str, ...], whole_group: bool
) -> None:
    out = tmp_path / "video.mp4"
    code, stderr, tmpdir = interrupt_while_capturing(
        tmp_path,
        ["hyperframes_lambda.cli", "render", str(EXAMPLES / "title-card"), "-o", str(out), *split],
        lambda line: " frames (" in line,  # the plain progress line: capture is under way
        sig,
        whole_group=whole_group,
    )
    assert code == status, stderr
    assert "Traceback" not in stderr
    assert processes_mentioning(str(tmpdir)) == []
    assert contents(tmpdir) == [], "work directory and browser profiles must be removed"
    assert not out.exists()


@pytest.mark.slow
def test_sigterm_stops_the_local_runner_and_its_worker_containers(tmp_path: Path) -> None:
    out = tmp_path / "video.mp4"
    code, stderr, tmpdir = interrupt_while_capturing(
        tmp_path,
        ["hyperframes_lambda.local", str(EXAMPLES / "title-card"), "-o", str(out),
         "--parallel", "2"],
        lambda line: line.startswith("[plan] ") and "chunks" in line,
        signal.SIGTERM,
    )  # fmt: skip
    assert code == 143, stderr
    assert processes_mentioning(str(tmpdir)) == []
    assert contents(tmpdir) == []
    assert not out.exists()


# ---- format from the extension; progress lines in logs -----------------------------------


@pytest.mark.slow
def test_the_output_extension_picks_the_format_and_progress_is_plain_lines(
    tmp_path: Path,
) -> None:
    webm = tmp_path / "kp.webm"
    result = cli("render", KNOWN, "-o", webm)  # stderr is a pipe: no bar, periodic lines
    assert result.returncode == 0, result.stderr
    info = probe(webm)
    assert (info.video_codec, info.frame_count) == ("vp9", 60)
    lines = result.stderr.splitlines()
    assert "\r" not in result.stderr
    assert lines[0] == "kp.webm: planning…"
    assert any(line.startswith("kp.webm: plan done in ") for line in lines)
    frames = [line for line in lines if " frames (" in line]
    assert frames[-1].startswith("kp.webm: 60/60 frames (100%), ") and "eta 0s" in frames[-1]
    assert 2 <= len(frames) <= 12, frames  # every 10% (or 5 s), not every frame
    assert any(line.startswith("kp.webm: assemble done in ") for line in lines)

    sequence = tmp_path / "frames"  # no extension: a png-sequence directory
    result = cli("render", KNOWN, "-o", sequence, "--quiet")
    assert result.returncode == 0, result.stderr
    assert len(list(sequence.glob("frame_*.png"))) == 60
    again = cli("render", KNOWN, "-o", sequence, "--quiet")  # its own output: replaced
    assert again.returncode == 0, again.stderr


def test_every_help_page_formats() -> None:
    """``--help`` of every command and subcommand prints (a ``%`` in a help string is
    argparse's format character: ``lambda --help`` once failed with a traceback)."""
    import argparse

    from hyperframes_lambda.cli import build_parser

    def walk(parser: argparse.ArgumentParser) -> int:
        assert parser.format_help()  # also expands each subcommand's one-line help
        subcommands = [
            choice
            for action in parser._actions  # argparse lists subcommands nowhere public
            if isinstance(action, argparse._SubParsersAction)
            for choice in action.choices.values()
        ]
        return 1 + sum(walk(choice) for choice in subcommands)

    assert walk(build_parser()) > 20
