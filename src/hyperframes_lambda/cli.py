"""``hyperframes-lambda`` command line: render locally, manage the browser."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .errors import RenderError


def _positive_even(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


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
    render.add_argument("--fps", type=int, choices=(24, 30, 60), help="default: data-fps or 30")
    render.add_argument("--quality", choices=("draft", "standard", "high"), default="standard")
    render.add_argument("--width", type=_positive_even, help="output width (scales the page)")
    render.add_argument("--height", type=_positive_even, help="output height")
    render.add_argument("--format", choices=("mp4", "mov", "webm"), default="mp4")
    render.add_argument("--codec", choices=("h264", "h265"), default="h264")
    render.add_argument("--crf", type=int)
    render.add_argument("--bitrate")
    render.add_argument("--entry", default="index.html", help="entry HTML file in the project")
    render.add_argument("--variables", help="JSON object exposed as window.__hfVariables")
    render.add_argument(
        "--capture-format", choices=("jpeg", "png"), help="override the quality preset's capture"
    )
    render.add_argument(
        "--dump-frames", type=Path, metavar="DIR", help="also write every raw screenshot to DIR"
    )
    render.add_argument(
        "--pages", type=int, help="browsers capturing in parallel (default: 2 on 2+ cores)"
    )
    render.add_argument("--quiet", action="store_true", help="no progress bar")

    browser = commands.add_parser("browser", help="manage the headless browser")
    browser_commands = browser.add_subparsers(dest="browser_command", required=True)
    install = browser_commands.add_parser(
        "install", help="install the pinned @sparticuz/chromium build (the Lambda binary)"
    )
    install.add_argument("--version", dest="chromium_version", help="override the pinned version")
    browser_commands.add_parser("which", help="print the browser that renders would use")
    return parser


def _cmd_render(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .render import RenderOptions, render_local

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
        capture_format=args.capture_format, pages=args.pages,
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
    print(
        f"{result.output}: {result.frames} frames, {result.duration:.2f}s at {result.fps} fps, "
        f"{result.width}x{result.height} | load {result.load_seconds:.1f}s, capture "
        f"{result.capture_seconds:.1f}s ({result.capture_fps:.1f} fps, {result.capture_mode}), "
        f"encode tail {result.encode_tail_seconds:.2f}s | total {result.total_seconds:.1f}s "
        f"({result.frames / result.total_seconds:.1f} fps end to end)"
    )
    return 0


def _cmd_browser(args: argparse.Namespace) -> int:
    from .browser import sparticuz
    from .browser.resolve import resolve_chrome

    if args.browser_command == "install":
        version = args.chromium_version or sparticuz.SPARTICUZ_VERSION
        binary = sparticuz.install(version, progress=lambda line: print(line, file=sys.stderr))
        print(binary.path)
        return 0
    binary = resolve_chrome()
    print(f"{binary.path} ({binary.source})")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "render":
            return _cmd_render(args)
        if args.command == "browser":
            return _cmd_browser(args)
    except RenderError as exc:
        print(f"error [{exc.code}]: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
