"""``hyperframes-lambda`` command line: render locally, run the stages, manage the browser.

Every subcommand follows one exit-code contract (:mod:`.cli_errors`): 0 ok, 1 failed
(``error [CODE]: message``), 2 usage error, 130 SIGINT, 143 SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    CompositionError,
    InvalidConfigError,
    InvalidOutputError,
    InvalidVariablesError,
)
from .runner.cli_errors import (
    EXIT_CODES_HELP,
    CliParser,
    UsageError,
    chosen_parser,
    int_at_least,
    run_guarded,
)
from .runner.interrupts import install_interrupt_handlers
from .timing import FPS_RULE, fps_json, fps_text, parse_fps

if TYPE_CHECKING:
    from .runner.local_render import RenderOptions, RenderResult


_positive = int_at_least(1)
_index = int_at_least(0)


def _positive_even(text: str) -> int:
    value = _positive(text)
    if value % 2:
        raise argparse.ArgumentTypeError(f"must be even (got {value}): yuv420p needs it")
    return value


def _crf(text: str) -> int:
    value = _index(text)
    if value > 51:
        raise argparse.ArgumentTypeError(f"must be 0…51 (got {value})")
    return value


def _frame_span(text: str) -> tuple[int, int]:
    """``30-89``: frames 30 to 89, inclusive, 0-based."""
    first, dash, last = text.partition("-")
    if not dash or not first.strip().isdigit() or not last.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not FIRST-LAST (e.g. 30-89, 0-based)")
    if int(last) < int(first):
        raise argparse.ArgumentTypeError(f"{text!r}: the last frame is before the first")
    return int(first), int(last)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a time >= 0 (seconds)")
    return value


def _gif_loop(text: str) -> int:
    value = int_at_least(-1)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be -1…65535 (got {value})")
    return value


def _fps(text: str) -> Fraction:
    try:
        return parse_fps(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} {exc}") from None


def _json_object(flag: str, text: str | None) -> dict[str, Any]:
    """A JSON object given on the command line, or a usage error naming the flag."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{flag} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{flag} must be a JSON object, got {type(value).__name__}")
    return value


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the exit-status epilog's layout."""


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(
        prog="hyperframes-lambda",
        description="Render HyperFrames HTML compositions to video, deterministically.",
        epilog=EXIT_CODES_HELP,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of failures")
    common = CliParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, parents=[common], epilog=EXIT_CODES_HELP, formatter_class=_Formatter, **kwargs
        )

    render = command("render", help="render a composition to a video file")
    render.add_argument("project", type=Path, help="project directory (or its entry .html file)")
    render.add_argument(
        "-o", "--output", type=Path, required=True,
        help="output: .mp4, .mov, .webm, .gif, audio only .m4a, .mp3, .wav, "
        "or a directory for png-sequence",
    )  # fmt: skip
    render.add_argument(
        "--fps", type=_fps, metavar="N|N/D", help=f"{FPS_RULE} (default: data-fps or 30)"
    )
    render.add_argument("--quality", choices=("draft", "standard", "high"), default="standard")
    render.add_argument("--width", type=_positive_even, help="output width (scales the page)")
    render.add_argument("--height", type=_positive_even, help="output height")
    render.add_argument(
        "--format", choices=("mp4", "mov", "webm", "png-sequence", "gif", "aac", "mp3", "wav"),
        help="default: from the -o extension (none: png-sequence)",
    )  # fmt: skip
    span = render.add_argument_group("part of the composition")
    span.add_argument(
        "--frames", type=_frame_span, metavar="FIRST-LAST",
        help="render only these frames (inclusive, 0-based), e.g. 30-89",
    )  # fmt: skip
    span.add_argument(
        "--from", dest="from_s", type=_seconds, metavar="S", help="or: from S seconds…"
    )
    span.add_argument("--to", dest="to_s", type=_seconds, metavar="S", help="…up to S seconds")
    gif = render.add_argument_group("gif")
    gif.add_argument(
        "--every-nth-frame", type=_positive, metavar="K",
        help="keep every Kth frame (plays at fps/K; gif only)",
    )  # fmt: skip
    gif.add_argument(
        "--gif-loop", type=_gif_loop, metavar="N",
        help="0 loops forever (default), N repeats N times, -1 plays once",
    )  # fmt: skip
    sound = render.add_argument_group("audio")
    sound.add_argument("--muted", action="store_true", help="no audio stream at all")
    sound.add_argument("--audio-bitrate", metavar="RATE", help="e.g. 128k (default 192k)")
    render.add_argument(
        "--thumbnail-at", type=_seconds, metavar="S",
        help="also write the frame shown at S seconds as a PNG beside the output (x.mp4 → x.png)",
    )  # fmt: skip
    render.add_argument("--codec", choices=("h264", "h265"))
    render.add_argument("--crf", type=_crf, metavar="0-51")
    render.add_argument("--bitrate")
    render.add_argument("--entry", help="entry HTML file in the project (default index.html)")
    render.add_argument("--variables", help="JSON object exposed as window.__hfVariables")
    render.add_argument(
        "--variables-file", type=Path, metavar="FILE",
        help="the variables from a JSON file (an object; instead of --variables)",
    )  # fmt: skip
    render.add_argument(
        "--strict-variables", action="store_true",
        help="fail when a variable is not declared in the composition's "
        "data-composition-variables or has another type (default: warn)",
    )  # fmt: skip
    render.add_argument(
        "--strict-assets",
        action="store_true",
        help="fail when a remote image cannot be fetched (default: render without it, warn)",
    )
    render.add_argument(
        "--strict-lint",
        action="store_true",
        help="fail when HyperFrames' linter finds an error (default: print findings, render)",
    )
    split = render.add_mutually_exclusive_group()
    split.add_argument("--chunks", type=_positive, help="split into about N chunks (default 1)")
    split.add_argument("--chunk-size", type=_positive, metavar="F", help="or: F frames per chunk")
    render.add_argument("--workers", type=_positive, help="chunk worker processes (default: cores)")
    render.add_argument(
        "--dump-frames", type=Path, metavar="DIR", help="also write every raw screenshot to DIR"
    )
    render.add_argument(
        "--pages", type=_positive, help="browsers capturing in parallel (default: 2 on 2+ cores)"
    )
    render.add_argument("--quiet", action="store_true", help="no progress output")
    batch = render.add_argument_group("batch (one video per row)")
    batch.add_argument(
        "--rows", type=Path, metavar="ROWS.jsonl",
        help="render once per row of this JSONL file (variables, output, config per row); -o "
        "is then a template: {id} and {index} are the row's, e.g. -o 'out/{id}.mp4'. Browsers "
        "are reused across rows; a failed row does not stop the others; exit 1 if any failed",
    )  # fmt: skip
    batch.add_argument(
        "--results", type=Path, metavar="FILE",
        help="with --rows: where the results JSONL goes (default: batch-results.jsonl beside "
        "the outputs)",
    )  # fmt: skip

    still = command("still", help="render single frames as .png, .jpg or .webp images")
    still.add_argument("project", type=Path, help="project directory (or its entry .html file)")
    still.add_argument(
        "-o", "--output", type=Path, required=True,
        help="image: .png, .jpg or .webp (several frames: NAME-<frame>.png, …)",
    )  # fmt: skip
    at = still.add_argument_group("which frames (one or more, repeatable)")
    at.add_argument("--frame", type=_index, action="append", default=[], metavar="N")
    at.add_argument("--at", type=_seconds, action="append", default=[], metavar="S")
    still.add_argument(
        "--quality", type=int_at_least(1), metavar="1-100",
        help="JPEG (default 90) or WebP (default: lossless) quality",
    )  # fmt: skip
    still.add_argument(
        "--fps", type=_fps, metavar="N|N/D", help="frame rate --at counts in (default: data-fps)"
    )
    still.add_argument("--width", type=_positive_even, help="image width (scales the page)")
    still.add_argument("--height", type=_positive_even, help="image height")
    still.add_argument("--entry", help="entry HTML file in the project (default index.html)")
    still.add_argument("--variables", help="JSON object exposed as window.__hfVariables")

    lint = command("lint", help="check a composition with HyperFrames' own linter")
    lint.add_argument("project", type=Path, help="project directory (or its entry .html file)")
    lint.add_argument("--entry", help="entry HTML file in the project (default index.html)")
    lint.add_argument("--json", action="store_true", help="print the findings as JSON")
    lint.add_argument("--verbose", action="store_true", help="also show info-level findings")

    plan = command("plan", help="freeze a project into OUT_DIR/plan.tar.gz (+ plan/)")
    plan.add_argument("project", type=Path)
    plan.add_argument("out_dir", type=Path)
    plan.add_argument("--config", help="Config JSON (the execution input's Config object)")

    chunk = command("render-chunk", help="render one chunk of a plan")
    chunk.add_argument("plan", type=Path, help="plan directory or plan.tar.gz")
    chunk.add_argument("index", type=_index)
    chunk.add_argument("out", type=Path)
    chunk.add_argument("--plan-hash", help="fail unless the plan has this hash")
    chunk.add_argument("--pages", type=_positive, default=1)

    asm = command("assemble", help="assemble rendered chunks into the output")
    asm.add_argument("plan", type=Path, help="plan directory or plan.tar.gz")
    asm.add_argument("out", type=Path)
    asm.add_argument("chunks", type=Path, nargs="+")
    asm.add_argument("--hashes", help="comma-separated sha256 of the chunks, in order")

    browser = command("browser", help="manage the headless browser")
    browser_commands = browser.add_subparsers(dest="browser_command", required=True)
    install = browser_commands.add_parser(
        "install", help="install the pinned @sparticuz/chromium build (the Lambda binary)"
    )
    install.add_argument("--version", dest="chromium_version", help="override the pinned version")
    browser_commands.add_parser("which", help="print the browser that renders would use")

    fonts = command("fonts", help="the font set every browser renders with")
    font_commands = fonts.add_subparsers(dest="fonts_command", required=True)
    font_commands.add_parser("install", help="install the pinned font set into the cache")
    font_commands.add_parser("which", help="print the font set's id, directory and families")
    from .lambda_cli import add_lambda_commands  # hyperframes-lambda lambda … (AWS client)

    add_lambda_commands(commands)
    return parser


def _render_options(args: argparse.Namespace) -> tuple[Path, Path, RenderOptions]:
    """Everything about the command line checked before any work: the project and entry,
    the output path and format, the options (usage errors, exit 2)."""
    from .compile.variables import load_variables
    from .runner.local_render import RenderOptions, resolve_project
    from .runner.output_target import resolve_output

    try:
        variables = load_variables(args.variables, args.variables_file)
    except InvalidVariablesError as exc:
        raise UsageError(str(exc)) from None
    try:
        project, entry = resolve_project(args.project, args.entry, entry_name="--entry")
        output_format = resolve_output(
            args.output, args.format, output_name="-o", format_name="--format"
        )
    except (CompositionError, InvalidOutputError) as exc:
        raise UsageError(str(exc)) from None
    if (args.from_s is None) != (args.to_s is None):
        raise UsageError("--from and --to go together (seconds: --from 1.0 --to 3.0)")
    if args.frames is not None and args.from_s is not None:
        raise UsageError("--frames and --from/--to both choose the frames; give one")
    if args.from_s is not None and args.to_s <= args.from_s:
        raise UsageError(f"--to {args.to_s:g} must be after --from {args.from_s:g}")
    options = RenderOptions(
        fps=args.fps, width=args.width, height=args.height, quality=args.quality,
        format=output_format, codec=args.codec, crf=args.crf, bitrate=args.bitrate,
        entry_file=entry, variables=variables, dump_frames=args.dump_frames,
        strict_assets=args.strict_assets, strict_variables=args.strict_variables,
        strict_lint=args.strict_lint,
        pages=args.pages, chunks=args.chunks, chunk_size=args.chunk_size, workers=args.workers,
        frame_range=args.frames,
        time_range=(args.from_s, args.to_s) if args.from_s is not None else None,
        every_nth_frame=args.every_nth_frame, gif_loop=args.gif_loop, muted=args.muted,
        audio_bitrate=args.audio_bitrate, thumbnail=args.thumbnail_at,
    )  # fmt: skip
    try:
        options.config()
    except InvalidConfigError as exc:
        raise UsageError(_as_flags(str(exc))) from None
    return project, args.output, options


_FLAG_NAMES = {
    "frameRange": "frames", "everyNthFrame": "every-nth-frame", "gifLoop": "gif-loop",
    "audioBitrate": "audio-bitrate", "thumbnail": "thumbnail-at", "muted": "muted",
}  # fmt: skip


def _as_flags(message: str) -> str:
    """A Config error in the command line's words (``Config.gifLoop`` → ``--gif-loop``)."""
    for field, flag in _FLAG_NAMES.items():
        message = re.sub(rf"(?:Config\.)?(?<![-\w]){field}\b", f"--{flag}", message)
    return message.replace("Config.", "--").replace("Config: ", "")


def _cmd_render(args: argparse.Namespace) -> int:
    from .runner.first_run import ensure_pinned_browser
    from .runner.local_render import render_local
    from .runner.progress import ProgressPrinter, showing_downloads

    project, output, options = _render_options(args)
    if args.rows is not None:
        return _render_batch(args, project, output, options)
    if args.results is not None:
        raise UsageError("--results goes with --rows")
    printer = None if args.quiet else ProgressPrinter(output.name)
    with contextlib.nullcontext() if args.quiet else showing_downloads():
        ensure_pinned_browser(lambda line: None if args.quiet else print(line, file=sys.stderr))
        try:
            result = render_local(project, output, options, on_progress=printer)
        finally:
            if printer is not None:
                printer.close()
    for warning in result.warnings:  # lint findings, then the plan's: before the summary
        print(f"warning: {warning}", file=sys.stderr)
    for line in summary_lines(result):
        print(line)
    return 0


def _render_batch(
    args: argparse.Namespace, project: Path, output: Path, options: RenderOptions
) -> int:
    """``render --rows``: every row, one summary, the results JSONL; exit 1 if a row failed."""
    from .batch.rows import read_rows
    from .errors import BatchRowsFailedError
    from .runner.batch import render_rows
    from .runner.first_run import ensure_pinned_browser

    rows = read_rows(args.rows)
    template = str(output)
    results = args.results or output.parent / "batch-results.jsonl"
    ensure_pinned_browser(lambda line: None if args.quiet else print(line, file=sys.stderr))

    def on_row(row: Any, done: int, total: int) -> None:
        if args.quiet:
            return
        what = row.output if row.status == "succeeded" else f"{row.error}: {row.cause}"
        what = " ".join(str(what).split())
        print(f"row {done}/{total} {row.id}: {row.status} in {row.duration_s:.1f}s ({what})",
              file=sys.stderr, flush=True)  # fmt: skip

    result = render_rows(project, rows, template, options, results, on_row=on_row)
    print(result.summary())
    if result.failed:
        names = ", ".join(f"{r.id} ({r.error})" for r in result.failed[:5])
        raise BatchRowsFailedError(
            f"{len(result.failed)} of {len(result.rows)} rows failed: {names}; see {results}"
        )
    return 0


def _cmd_still(args: argparse.Namespace) -> int:
    from .config import parse_config
    from .runner.local_render import resolve_project
    from .runner.output_target import check_writable_parent
    from .runner.still import render_still_files
    from .stages.still import still_format

    if not args.frame and not args.at:
        raise UsageError("give the frame: --frame N (0-based) or --at SECONDS (repeatable)")
    variables = _json_object("--variables", args.variables)
    try:
        project, entry = resolve_project(args.project, args.entry, entry_name="--entry")
        still_format(args.output, "-o")
        check_writable_parent(args.output, "-o")
        config = {
            "fps": args.fps, "width": args.width, "height": args.height,
            "entryFile": entry, "variables": variables,
        }  # fmt: skip
        parse_config({k: v for k, v in config.items() if v is not None})
    except (CompositionError, InvalidOutputError, InvalidConfigError) as exc:
        raise UsageError(_as_flags(str(exc))) from None
    if args.quality is not None and args.quality > 100:
        raise UsageError(f"--quality must be 1…100 (got {args.quality})")
    results = render_still_files(
        project, args.output, frames=args.frame, times=args.at, quality=args.quality,
        config={k: v for k, v in config.items() if v is not None},
    )  # fmt: skip
    for result in results:
        print(f"{result.path}: frame {result.frame}, {result.width}x{result.height}")
    return 0


def _cmd_lint(args: argparse.Namespace) -> int:
    """Exit 0: no errors (warnings allowed); 1: errors; 2: usage."""
    from .lint import lint_project
    from .runner.local_render import resolve_project

    try:
        project, entry = resolve_project(args.project, args.entry, entry_name="--entry")
    except CompositionError as exc:
        raise UsageError(str(exc)) from None
    report = lint_project(project, entry)
    if args.json:
        print(json.dumps(report.to_json(verbose=args.verbose), indent=2))
    else:
        for finding in report.shown(verbose=args.verbose):
            print(finding.line_text())
        print(f"{project / entry}: {report.summary()}")
    return 0 if report.ok else 1


def summary_lines(result: RenderResult) -> list[str]:
    """A render's summary in three short lines: what was made, where the time went, and
    what made it (the browser, fonts and ffmpeg builds that decide the pixels)."""
    plan, t = result.plan, result.timings
    made = (
        f"made with {plan.browser_build}, font set {plan.font_set}, "
        f"ffmpeg {plan.ffmpeg_version.split(' Copyright')[0].removeprefix('ffmpeg version ')}"
    )
    if result.capture_mode is None:  # audio only: no frame was captured
        return [
            f"{result.output}: {result.duration:.3f} s of {plan.format} audio, "
            f"{_size_text(result.output)}",
            f"took {t['total']:.1f} s: plan {t['plan']:.1f} s, assemble {t['assemble']:.1f} s",
            made,
        ]
    chunks = f"{len(result.chunks)} chunk{'s' if len(result.chunks) != 1 else ''}"
    workers = f"{result.workers} worker{'s' if result.workers != 1 else ''}"
    return [
        f"{result.output}: {result.frames} frames, {plan.width}x{plan.height} at "
        f"{fps_text(result.fps)} fps ({result.duration:.2f} s), {_size_text(result.output)}",
        f"took {t['total']:.1f} s: plan {t['plan']:.1f} s, frames {t['chunks']:.1f} s "
        f"({result.capture_fps:.0f} fps, {chunks} on {workers}), assemble {t['assemble']:.1f} s",
        made,
    ]


def _size_text(output: Path) -> str:
    """The output's size (a png-sequence directory: its files together)."""
    paths = list(output.iterdir()) if output.is_dir() else [output]
    size = float(sum(p.stat().st_size for p in paths if p.is_file()))
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("not reached")


def _cmd_plan(args: argparse.Namespace) -> int:
    from .config import parse_config
    from .runner.local_render import resolve_project
    from .stages.plan import plan

    config = _json_object("--config", args.config)
    try:
        project, entry = resolve_project(
            args.project, config.get("entryFile"), entry_name="Config.entryFile"
        )
    except CompositionError as exc:
        raise UsageError(str(exc)) from None
    if entry != "index.html" or "entryFile" in config:
        config["entryFile"] = entry
    try:
        parse_config(config)
    except InvalidConfigError as exc:
        raise UsageError(f"--config: {exc}") from None
    _check_output(
        args.out_dir / "plan.tar.gz" if args.out_dir.is_dir() else args.out_dir, "OUT_DIR"
    )
    result = plan(project, config, args.out_dir / "plan", args.out_dir / "plan.tar.gz")
    _emit(
        {
            "planHash": result.plan_hash,
            "chunkCount": result.chunk_count,
            "totalFrames": result.total_frames,
            "fps": fps_json(result.fps),
            "width": result.width,
            "height": result.height,
            "format": result.format,
            "hasAudio": result.has_audio,
            "browserBuild": result.browser_build,
            "fontSet": result.font_set,
            "ffmpegVersion": result.ffmpeg_version,
            "planDir": str(result.plan_dir),
            "archive": str(result.archive),
            "warnings": result.warnings,
        },
        result.timings,
    )
    return 0


def _emit(payload: dict[str, Any], timings: dict[str, float]) -> None:
    """Print a stage's result as JSON (what a script driving the stages would parse)."""
    payload["timings"] = {name: round(seconds, 3) for name, seconds in timings.items()}
    print(json.dumps(payload, indent=2))


def _check_output(path: Path, name: str) -> None:
    from .runner.output_target import check_writable_parent

    try:
        check_writable_parent(path, name)
    except InvalidOutputError as exc:
        raise UsageError(str(exc)) from None


@contextlib.contextmanager
def _plan_directory(path: Path) -> Iterator[Path]:
    """A plan directory as given, or a plan.tar.gz extracted to a temporary directory."""
    if path.is_dir():
        yield path
        return
    from .stages.plan_archive import extract_plan_archive

    with tempfile.TemporaryDirectory(prefix="hf-plan-") as tmp:
        yield extract_plan_archive(path, Path(tmp) / "plan")


def _cmd_render_chunk(args: argparse.Namespace) -> int:
    from .stages.render_chunk import render_chunk

    _check_output(args.out, "OUT")
    with _plan_directory(args.plan) as plan_dir:
        result = render_chunk(
            plan_dir, args.index, args.out, expected_hash=args.plan_hash, pages=args.pages
        )
    _emit(
        {
            "chunkIndex": result.index,
            "path": str(result.path),
            "sha256": result.sha256,
            "framesEncoded": result.frames,
            "captureMode": result.capture_mode,
            "browserBuild": result.browser_build,
            "fontSet": result.font_set,
            "ffmpegVersion": result.ffmpeg_version,
        },
        result.timings,
    )
    return 0


def _cmd_assemble(args: argparse.Namespace) -> int:
    from .stages.assemble import assemble

    hashes = args.hashes.split(",") if args.hashes else None
    _check_output(args.out, "OUT")
    with _plan_directory(args.plan) as plan_dir:
        result = assemble(plan_dir, args.chunks, args.out, expected_hashes=hashes)
    _emit(
        {
            "output": str(result.path),
            "framesEncoded": result.frames,
            "fileSize": result.size,
            "sha256": result.sha256,
            "hasAudio": result.has_audio,
        },
        result.timings,
    )
    return 0


def _cmd_browser(args: argparse.Namespace) -> int:
    from .browser import sparticuz
    from .browser.resolve import browser_build, resolve_chrome
    from .runner.progress import showing_downloads

    if args.browser_command == "install":
        version = args.chromium_version or sparticuz.SPARTICUZ_VERSION
        with showing_downloads():
            binary = sparticuz.install(version, progress=lambda line: print(line, file=sys.stderr))
        print(binary.path)
        return 0
    binary = resolve_chrome()
    print(f"{binary.path} ({binary.source}: {browser_build(binary)})")
    return 0


def _cmd_fonts(args: argparse.Namespace) -> int:
    from .browser import font_set
    from .runner.progress import showing_downloads

    with showing_downloads():
        directory = font_set.font_set_dir()  # installs on first use
    if args.fonts_command == "install":
        print(directory)
        return 0
    print(f"{font_set.font_set_id()}: {directory}")
    print(f"  {len(font_set.FONT_FILES)} files, {font_set.total_size() / 1e6:.1f} MB")
    for generic, named in font_set.GENERIC_FAMILIES.items():
        print(f"  {generic} -> {named}")
    print(f"  fallback: {', '.join(font_set.FALLBACK_FAMILIES)}")
    return 0


def _cmd_lambda(args: argparse.Namespace) -> int:
    from .lambda_cli import run_lambda_command

    return run_lambda_command(args)


RUNNERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "render": _cmd_render,
    "still": _cmd_still,
    "lint": _cmd_lint,
    "plan": _cmd_plan,
    "render-chunk": _cmd_render_chunk,
    "assemble": _cmd_assemble,
    "browser": _cmd_browser,
    "fonts": _cmd_fonts,
    "lambda": _cmd_lambda,
}


def main(argv: list[str] | None = None) -> int:
    """Exit status per the contract in :mod:`.cli_errors` (and ``--help``)."""
    restore_signals = install_interrupt_handlers()
    try:
        return _main(argv)
    finally:
        restore_signals()


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command_parser = chosen_parser(parser, args)
    return run_guarded(
        lambda: RUNNERS[args.command](args),
        usage_error=command_parser.error,
        debug=bool(getattr(args, "debug", False)),
    )


if __name__ == "__main__":
    sys.exit(main())
