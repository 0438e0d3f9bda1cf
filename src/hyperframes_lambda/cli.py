"""``hyperframes-lambda`` command line: render locally, manage the browser."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

from . import __version__
from .errors import RenderError
from .timing import FPS_RULE, fps_json, fps_text, parse_fps


def _positive_even(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _fps(text: str) -> Fraction:
    try:
        return parse_fps(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} {exc}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hyperframes-lambda",
        description="Render HyperFrames HTML compositions to video, deterministically.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    render = commands.add_parser("render", help="render a composition to a video file")
    render.add_argument("project", type=Path, help="project directory (holds index.html)")
    render.add_argument("-o", "--output", type=Path, required=True, help="output file (.mp4)")
    render.add_argument(
        "--fps", type=_fps, metavar="N|N/D", help=f"{FPS_RULE} (default: data-fps or 30)"
    )
    render.add_argument("--quality", choices=("draft", "standard", "high"), default="standard")
    render.add_argument("--width", type=_positive_even, help="output width (scales the page)")
    render.add_argument("--height", type=_positive_even, help="output height")
    render.add_argument("--format", choices=("mp4", "mov", "webm", "png-sequence"), default="mp4")
    render.add_argument("--codec", choices=("h264", "h265"))
    render.add_argument("--crf", type=int)
    render.add_argument("--bitrate")
    render.add_argument("--entry", default="index.html", help="entry HTML file in the project")
    render.add_argument("--variables", help="JSON object exposed as window.__hfVariables")
    render.add_argument(
        "--strict-assets",
        action="store_true",
        help="fail when a remote image cannot be fetched (default: render without it, warn)",
    )
    render.add_argument("--chunks", type=int, help="split into about N chunks (default 1)")
    render.add_argument("--chunk-size", type=int, metavar="F", help="or: F frames per chunk")
    render.add_argument("--workers", type=int, help="chunk worker processes (default: cores)")
    render.add_argument(
        "--dump-frames", type=Path, metavar="DIR", help="also write every raw screenshot to DIR"
    )
    render.add_argument(
        "--pages", type=int, help="browsers capturing in parallel (default: 2 on 2+ cores)"
    )
    render.add_argument("--quiet", action="store_true", help="no progress bar")

    plan = commands.add_parser("plan", help="freeze a project into OUT_DIR/plan.tar.gz (+ plan/)")
    plan.add_argument("project", type=Path)
    plan.add_argument("out_dir", type=Path)
    plan.add_argument("--config", help="Config JSON (the execution input's Config object)")

    chunk = commands.add_parser("render-chunk", help="render one chunk of a plan")
    chunk.add_argument("plan", type=Path, help="plan directory or plan.tar.gz")
    chunk.add_argument("index", type=int)
    chunk.add_argument("out", type=Path)
    chunk.add_argument("--plan-hash", help="fail unless the plan has this hash")
    chunk.add_argument("--pages", type=int, default=1)

    asm = commands.add_parser("assemble", help="assemble rendered chunks into the output")
    asm.add_argument("plan", type=Path, help="plan directory or plan.tar.gz")
    asm.add_argument("out", type=Path)
    asm.add_argument("chunks", type=Path, nargs="+")
    asm.add_argument("--hashes", help="comma-separated sha256 of the chunks, in order")

    browser = commands.add_parser("browser", help="manage the headless browser")
    browser_commands = browser.add_subparsers(dest="browser_command", required=True)
    install = browser_commands.add_parser(
        "install", help="install the pinned @sparticuz/chromium build (the Lambda binary)"
    )
    install.add_argument("--version", dest="chromium_version", help="override the pinned version")
    browser_commands.add_parser("which", help="print the browser that renders would use")

    fonts = commands.add_parser("fonts", help="the font set every browser renders with")
    font_commands = fonts.add_subparsers(dest="fonts_command", required=True)
    font_commands.add_parser("install", help="install the pinned font set into the cache")
    font_commands.add_parser("which", help="print the font set's id, directory and families")
    return parser


def _cmd_render(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .local_render import RenderOptions, render_local

    variables: dict[str, Any] = {}
    if args.variables:
        try:
            variables = json.loads(args.variables)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"--variables is not valid JSON: {exc}") from None
        if not isinstance(variables, dict):
            raise SystemExit("--variables must be a JSON object")
    options = RenderOptions(
        fps=args.fps, width=args.width, height=args.height, quality=args.quality,
        format=args.format, codec=args.codec, crf=args.crf, bitrate=args.bitrate,
        entry_file=args.entry, variables=variables, dump_frames=args.dump_frames,
        strict_assets=args.strict_assets,
        pages=args.pages, chunks=args.chunks, chunk_size=args.chunk_size, workers=args.workers,
    )  # fmt: skip
    bar: Any = None

    def on_progress(done: int, total: int) -> None:
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            bar = tqdm(total=total, unit="frame", desc=args.output.name, file=sys.stderr)
        bar.update(done - bar.n)

    try:
        result = render_local(args.project, args.output, options, on_progress=on_progress)
    finally:
        if bar is not None:
            bar.close()
    t = result.timings
    print(
        f"{result.output}: {result.frames} frames, {result.duration:.2f}s at "
        f"{fps_text(result.plan.fps)} fps, "
        f"{result.plan.width}x{result.plan.height}, {len(result.chunks)} chunk(s) on "
        f"{result.workers} worker(s) | plan {t['plan']:.1f}s, chunks {t['chunks']:.1f}s "
        f"(capture {result.capture_fps:.1f} fps per worker, {result.capture_mode}), assemble "
        f"{t['assemble']:.1f}s | total {t['total']:.1f}s "
        f"({result.frames / t['total']:.1f} fps end to end)"
    )
    print(
        f"rendered with {result.plan.browser_build}, font set {result.plan.font_set}, "
        f"{result.plan.ffmpeg_version.split(' Copyright')[0]}"
    )
    for warning in result.plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    from .plan import plan

    config = json.loads(args.config) if args.config else {}
    result = plan(args.project, config, args.out_dir / "plan", args.out_dir / "plan.tar.gz")
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


@contextlib.contextmanager
def _plan_directory(path: Path) -> Iterator[Path]:
    """A plan directory as given, or a plan.tar.gz extracted to a temporary directory."""
    if path.is_dir():
        yield path
        return
    from .plan_archive import extract_plan_archive

    with tempfile.TemporaryDirectory(prefix="hf-plan-") as tmp:
        yield extract_plan_archive(path, Path(tmp) / "plan")


def _cmd_render_chunk(args: argparse.Namespace) -> int:
    from .render_chunk import render_chunk

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
    from .assemble import assemble

    hashes = args.hashes.split(",") if args.hashes else None
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

    if args.browser_command == "install":
        version = args.chromium_version or sparticuz.SPARTICUZ_VERSION
        binary = sparticuz.install(version, progress=lambda line: print(line, file=sys.stderr))
        print(binary.path)
        return 0
    binary = resolve_chrome()
    print(f"{binary.path} ({binary.source}: {browser_build(binary)})")
    return 0


def _cmd_fonts(args: argparse.Namespace) -> int:
    from . import fonts_set

    directory = fonts_set.font_set_dir()  # installs on first use
    if args.fonts_command == "install":
        print(directory)
        return 0
    print(f"{fonts_set.font_set_id()}: {directory}")
    print(f"  {len(fonts_set.FONT_FILES)} files, {fonts_set.total_size() / 1e6:.1f} MB")
    for generic, named in fonts_set.GENERIC_FAMILIES.items():
        print(f"  {generic} -> {named}")
    print(f"  fallback: {', '.join(fonts_set.FALLBACK_FAMILIES)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "render":
            return _cmd_render(args)
        if args.command == "browser":
            return _cmd_browser(args)
        if args.command == "fonts":
            return _cmd_fonts(args)
        if args.command == "plan":
            return _cmd_plan(args)
        if args.command == "render-chunk":
            return _cmd_render_chunk(args)
        if args.command == "assemble":
            return _cmd_assemble(args)
    except RenderError as exc:
        print(f"error [{exc.code}]: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
