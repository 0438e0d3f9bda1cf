"""``hyperframes-lambda lambda …``: render on a deployed stack from the command line.

``add_lambda_commands(subparsers)`` registers the group on the main parser and
``run_lambda_command(args)`` runs it. Exit codes follow the main CLI's contract: 0 done,
1 failed with one ``error [CODE]: message`` line on stderr, 2 usage error (argparse),
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ENV_STACK = "HYPERFRAMES_STACK"


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def _target_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--stack",
        default=os.environ.get(ENV_STACK, "hyperframes"),
        help=f"the deployed stack's name (default ${ENV_STACK} or hyperframes)",
    )
    common.add_argument("--region", help="AWS region (default: the profile's)")
    common.add_argument("--profile", help="AWS named profile")
    common.add_argument("--endpoint-url", help="one endpoint for every AWS API (local servers)")
    common.add_argument("--json", action="store_true", help="print JSON instead of text")
    return common


def _wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true", help="wait, show progress, summarise")
    parser.add_argument(
        "-o", "--output", type=Path, help="download the output here (implies --wait)"
    )
    parser.add_argument(
        "--poll", type=float, default=2.0, metavar="S", help="seconds between polls"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def add_lambda_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``lambda`` and its subcommands on the main CLI's subparsers."""
    common = _target_options()
    group: argparse.ArgumentParser = subparsers.add_parser(
        "lambda", help="render on a deployed AWS stack (upload, render, progress, cost, …)"
    )
    commands = group.add_subparsers(dest="lambda_command", required=True)

    upload = commands.add_parser(
        "upload", parents=[common], help="upload a project (content-addressed)"
    )
    upload.add_argument("project", type=Path)
    upload.add_argument("--entry", default="index.html", help="entry HTML file")

    render = commands.add_parser("render", parents=[common], help="start a render on the stack")
    render.add_argument("project", type=Path)
    render.add_argument("--config", type=_json_object, default={}, help="Config JSON object")
    render.add_argument("--variables", type=_json_object, help="JSON object: window.__hfVariables")
    render.add_argument("--name", help="execution name (default render-<time>-<random>)")
    _output_options(render)
    render.add_argument("--webhook-url", help="POST a signed JSON here on success and failure")
    render.add_argument("--webhook-secret-arn", help="Secrets Manager secret with the signing key")
    render.add_argument(
        "--webhook-secret", help="signing key in the input (visible in the history; prefer -arn)"
    )
    _wait_options(render)

    still = commands.add_parser(
        "still", parents=[common], help="render frames as images in one invocation"
    )
    still.add_argument("project", type=Path)
    still.add_argument("--frame", type=_frame_number, action="append", default=[], metavar="N")
    still.add_argument("--at", type=_seconds, action="append", default=[], metavar="S")
    still.add_argument(
        "--image-format", choices=("png", "jpeg", "webp"), default="png", help="default png"
    )
    still.add_argument("--quality", type=int, metavar="1-100", help="JPEG/WebP quality")
    still.add_argument("--config", type=_json_object, default={}, help="Config JSON object")
    still.add_argument("--name", help="object name under outputs/ (default still-<time>-…)")
    still.add_argument(
        "--presign", action="store_true", help="also print a signed HTTPS URL (1 hour)"
    )
    still.add_argument("-o", "--output", type=Path, help="also download the image here")

    for name, text in (
        ("progress", "status, chunks done/total, errors"),
        ("cancel", "stop an execution (the output is never half-written)"),
        ("cost", "the actual cost of an execution, from its history"),
    ):
        command = commands.add_parser(name, parents=[common], help=text)
        command.add_argument("execution", help="execution ARN")

    resume = commands.add_parser(
        "resume", parents=[common], help="re-run a failed execution, reusing rendered chunks"
    )
    resume.add_argument("execution", help="execution ARN")
    _wait_options(resume)

    est = commands.add_parser("estimate", parents=[common], help="expected cost before rendering")
    est.add_argument("--frames", type=int, required=True)
    est.add_argument("--width", type=int, default=1920)
    est.add_argument("--height", type=int, default=1080)
    est.add_argument("--chunks", type=int, default=16)
    est.add_argument("--memory-mb", type=int, default=10240)
    est.add_argument("--ephemeral-mb", type=int, default=10240)
    _emulate_command(commands)
    return group


def _frame_number(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame number (0-based)")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a time >= 0 (seconds)")
    return value


def _frame_span(text: str) -> list[int]:
    first, dash, last = text.partition("-")
    if not dash or not first.isdigit() or not last.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not FIRST-LAST (e.g. 30-89, 0-based)")
    return [int(first), int(last)]


# flag → Config field: each is a shortcut for the same key of --config (which it overrides).
_CONFIG_FLAGS = {
    "format": "format", "frames": "frameRange", "muted": "muted",
    "audio_bitrate": "audioBitrate", "gif_loop": "gifLoop",
    "every_nth_frame": "everyNthFrame", "thumbnail_at": "thumbnail",
}  # fmt: skip


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=("mp4", "mov", "webm", "png-sequence", "gif", "aac", "mp3", "wav")
    )
    parser.add_argument(
        "--frames", type=_frame_span, metavar="FIRST-LAST", help="only these frames (0-based)"
    )
    parser.add_argument("--muted", action="store_true", default=None, help="no audio stream")
    parser.add_argument("--audio-bitrate", metavar="RATE", help="e.g. 128k")
    parser.add_argument("--gif-loop", type=int, metavar="N", help="gif: 0 forever, -1 once")
    parser.add_argument("--every-nth-frame", type=int, metavar="K", help="gif: every Kth frame")
    parser.add_argument(
        "--thumbnail-at", type=_seconds, metavar="S", help="also write <output>.png of frame at S"
    )


def _config_with_flags(args: argparse.Namespace) -> dict[str, Any]:
    config = dict(args.config)
    for flag, key in _CONFIG_FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            config[key] = value
    return config


def _emulate_command(commands: Any) -> None:
    from ..local.emulate import DEFAULT_CONCURRENCY, DEFAULT_PORT, DEFAULT_REGION, stack_name
    from ..runner.cli_errors import int_at_least

    emulate = commands.add_parser(
        "emulate",
        help="try the AWS path without AWS: the stack on 127.0.0.1 (moto + the real handler)",
        description="Run S3, CloudFormation and Step Functions (moto) on 127.0.0.1 with the "
        "stack of sam/template.yaml: the real state machine definition, Lambda invocations "
        "served by local processes of the real handler. Prints the environment to export in "
        "another shell; stays in the foreground until Ctrl-C.",
    )
    emulate.add_argument(
        "--port",
        type=int_at_least(0),
        default=DEFAULT_PORT,
        help=f"on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    emulate.add_argument(
        "--stack",
        type=stack_name,
        default=os.environ.get(ENV_STACK, "hyperframes"),
        help=f"the emulated stack's name (default ${ENV_STACK} or hyperframes)",
    )
    emulate.add_argument("--region", default=DEFAULT_REGION, help="its region")
    emulate.add_argument(
        "--data-dir",
        type=Path,
        help="the function's /tmp and its log (default: a temporary directory, removed)",
    )
    emulate.add_argument(
        "--concurrency",
        type=int_at_least(1),
        default=DEFAULT_CONCURRENCY,
        help="handler processes, i.e. invocations at once (more queue, as under a "
        "reserved concurrency)",
    )


def _client(args: argparse.Namespace) -> Any:
    from .client import RenderClient

    return RenderClient(
        args.stack, region=args.region, profile=args.profile, endpoint_url=args.endpoint_url
    )


class _ProgressDisplay:
    """tqdm on a terminal; otherwise a plain line when something changed (at most every 5 s)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.bar: Any = None
        self.last_line = ""
        self.last_time = 0.0

    def __call__(self, progress: Any) -> None:
        if self.quiet:
            return
        total = progress.chunks_total
        if self.tty:
            from tqdm import tqdm

            if self.bar is None and total is not None:
                self.bar = tqdm(total=total, unit="chunk", desc="render", file=sys.stderr)
            if self.bar is not None:
                self.bar.update(progress.chunks_done - self.bar.n)
                self.bar.set_postfix_str(f"{progress.status} {progress.stage}")
            return
        shown = "?" if total is None else total
        line = f"{progress.status} {progress.stage}: {progress.chunks_done}/{shown} chunks"
        now = time.monotonic()
        if line != self.last_line and (
            now - self.last_time >= 5
            or progress.status != "RUNNING"
            or progress.chunks_done == total
        ):
            print(line, file=sys.stderr, flush=True)
            self.last_line, self.last_time = line, now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _wait_and_report(job: Any, args: argparse.Namespace) -> int:
    display = _ProgressDisplay(args.quiet or args.json)
    try:
        summary = job.wait(output=args.output, on_progress=display, poll_s=args.poll)
    finally:
        display.close()
    if args.json:
        print(json.dumps({
            "executionArn": summary.execution_arn, "outputS3Uri": summary.output_uri,
            "output": str(summary.output_path) if summary.output_path else None,
            "frames": summary.frames, "chunks": summary.chunks,
            "wallSeconds": summary.wall_seconds, "stageSeconds": summary.stage_seconds,
            "cost": summary.cost.as_dict(),
        }, indent=2))  # fmt: skip
    else:
        print(summary.text())
    return 0


def _started(job: Any, args: argparse.Namespace) -> int:
    if args.json and not (args.wait or args.output):
        print(json.dumps({"executionArn": job.execution_arn, "consoleUrl": job.console_url}))
        return 0
    print(job.execution_arn)
    print(job.console_url)
    if args.wait or args.output:
        return _wait_and_report(job, args)
    return 0


def _run(args: argparse.Namespace) -> int:
    command = args.lambda_command
    if command == "emulate":
        from ..local.emulate import run

        return run(args)
    if command == "estimate":
        from .cost import estimate

        result = estimate(
            args.frames, args.width, args.height, args.chunks, region=args.region,
            memory_mb=args.memory_mb, ephemeral_mb=args.ephemeral_mb,
        )  # fmt: skip
        if args.json:
            print(json.dumps(result.as_dict()))
        else:
            print(
                f"${result.low_usd:.4f} - ${result.high_usd:.4f} for {args.frames} frames at "
                f"{args.width}x{args.height} in {result.chunks} chunks "
                f"({result.lambda_seconds[0]:.0f}-{result.lambda_seconds[1]:.0f} Lambda seconds; "
                f"prices {result.region}, read {result.read_on})"
            )
        return 0
    client = _client(args)
    if command == "upload":
        uploaded = client.upload_project(args.project, args.entry)
        if args.json:
            print(json.dumps(uploaded.__dict__))
        else:
            state = "uploaded" if uploaded.uploaded else "already uploaded, nothing sent"
            print(f"{uploaded.uri} ({uploaded.size} bytes, {state})")
        return 0
    if command == "render":
        job = client.render(
            args.project, config=_config_with_flags(args), variables=args.variables,
            name=args.name,
            webhook_url=args.webhook_url, webhook_secret_arn=args.webhook_secret_arn,
            webhook_secret=args.webhook_secret,
        )  # fmt: skip
        return _started(job, args)
    if command == "still":
        if not args.frame and not args.at:
            print("error [INVALID_ARGUMENTS]: give --frame N or --at SECONDS", file=sys.stderr)
            return 2
        images = client.still(
            args.project, frames=args.frame, times=args.at, image_format=args.image_format,
            quality=args.quality, config=args.config, name=args.name, presign=args.presign,
        )  # fmt: skip
        if args.output is not None:
            stem = args.output.name.removesuffix(args.output.suffix)
            for image in images:  # several: NAME-<frame>.ext beside -o, as `still` writes
                target = args.output
                if len(images) > 1:
                    target = args.output.with_name(f"{stem}-{image.frame:06d}{args.output.suffix}")
                client.download(image.uri, target)
        if args.json:
            print(json.dumps([image.__dict__ for image in images]))
        else:
            for image in images:
                print(f"{image.uri} (frame {image.frame}, {image.width}x{image.height})")
                if image.url:
                    print(image.url)
        return 0
    if command == "resume":
        return _started(client.resume(args.execution), args)
    if command == "progress":
        progress = client.progress(args.execution)
        if args.json:
            print(json.dumps({
                "status": progress.status, "stage": progress.stage,
                "chunksDone": progress.chunks_done, "chunksTotal": progress.chunks_total,
                "errors": [e.__dict__ for e in progress.errors],
            }))  # fmt: skip
        else:
            print(progress)
        return 0
    if command == "cancel":
        result = client.cancel(args.execution)
        print(f"{result.execution_arn}: {result.status}")
        if result.assemble_started:
            print(
                "note: Assemble had started; its invocation may still finish and write the "
                "whole output",
                file=sys.stderr,
            )
        return 0
    if command == "cost":
        report = client.cost(args.execution)
        print(json.dumps(report.as_dict(), indent=2) if args.json else report.table())
        return 0
    raise AssertionError(command)


def run_lambda_command(args: argparse.Namespace) -> int:
    """Run ``hyperframes-lambda lambda …``. botocore's failures become this package's
    errors (:mod:`.client_errors`), so :func:`~hyperframes_lambda.runner.cli_errors.run_guarded`
    prints them as one ``error [CODE]: …`` line like every other command."""
    from botocore.exceptions import BotoCoreError, ClientError

    from .client_errors import from_botocore

    try:
        return _run(args)
    except (ClientError, BotoCoreError) as exc:
        raise from_botocore(exc) from exc
    # KeyboardInterrupt (and SIGTERM's Terminated) propagate to cli_errors.run_guarded,
    # which prints the line and returns 130 or 143.
