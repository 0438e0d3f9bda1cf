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
DEFAULT_STUCK_AFTER_S = 120.0  # .progress.DEFAULT_STUCK_AFTER_S (not imported: argparse only)
EXECUTION_HELP = "render id (the execution's name, as render and ls print it) or execution ARN"


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def _json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE")
    return key, value


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
        "-o",
        "--output",
        help="download the output here (implies --wait); lambda render: "
        "an s3://bucket/key is where the stack writes it instead (no download)",
    )
    parser.add_argument(
        "--poll", type=float, default=2.0, metavar="S", help="seconds between polls"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    _stuck_option(parser)


def _stuck_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stuck-after",
        type=float,
        default=DEFAULT_STUCK_AFTER_S,
        metavar="S",
        help=f"report a chunk whose frame count has not moved for S seconds as stuck "
        f"(default {DEFAULT_STUCK_AFTER_S:.0f})",
    )


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
    render.add_argument("--variables", help="JSON object: window.__hfVariables")
    render.add_argument(
        "--variables-file", type=Path, metavar="FILE",
        help="the variables from a JSON file (an object; instead of --variables)",
    )  # fmt: skip
    render.add_argument(
        "--strict-variables", action="store_true",
        help="refuse a variable the composition does not declare or of another type "
        "(checked before upload, and by the plan: Config.strictVariables)",
    )  # fmt: skip
    render.add_argument("--name", help="execution name (default render-<time>-<random>)")
    _output_options(render)
    render.add_argument(
        "--output-key", metavar="KEY",
        help="write the output to this key of the stack's bucket (default outputs/<name>.<ext>)",
    )  # fmt: skip
    render.add_argument(
        "--overwrite", action="store_true",
        help="replace an existing output object (default: an existing one is an error "
        "before anything starts)",
    )  # fmt: skip
    render.add_argument(
        "--presign", type=int, metavar="SECONDS",
        help="a signed GET URL of the output, valid SECONDS: in the result, progress and webhook",
    )  # fmt: skip
    render.add_argument(
        "--custom-data", type=_json_value, metavar="JSON",
        help="JSON (at most 1 KiB) echoed as customData in the webhook",
    )  # fmt: skip
    render.add_argument("--webhook-url", help="POST a signed JSON here on success and failure")
    render.add_argument("--webhook-secret-arn", help="Secrets Manager secret with the signing key")
    render.add_argument(
        "--webhook-secret", help="signing key in the input (visible in the history; prefer -arn)"
    )
    render.add_argument(
        "--expire-output-days",
        type=int,
        choices=(1, 3, 7, 30, 90),
        help="expire the output this many days after it is written (Config.outputExpiresInDays)",
    )
    render.add_argument(
        "--no-preflight",
        action="store_true",
        help="skip the concurrency check (lambda quotas) before starting",
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

    batch = commands.add_parser(
        "render-batch", parents=[common],
        help="render one video per row of a JSONL rows file on the stack, unattended",
        description="Upload the project once and the rows to S3, then start one execution of "
        "the stack's batch state machine: each row renders as its own render execution, a "
        "failed row does not stop the others, and the results JSONL lands in "
        "s3://BUCKET/batches/<batch-id>/results.jsonl. Close the terminal any time: "
        "`lambda progress BATCH` reattaches.",
    )  # fmt: skip
    batch.add_argument("project", type=Path, nargs="?", help="project directory (not with "
                       "--resume alone: the earlier batch's project is used)")  # fmt: skip
    batch.add_argument(
        "--rows", type=Path, metavar="ROWS.jsonl",
        help="one JSON object a line: id, variables, outputKey or output (s3://…), config",
    )  # fmt: skip
    batch.add_argument("--config", type=_json_object, default={},
                       help="Config JSON object for every row (a row's config wins)")  # fmt: skip
    batch.add_argument("--variables", type=_json_object,
                       help="JSON object: variables of every row (a row's keys win)")  # fmt: skip
    batch.add_argument(
        "--max-concurrent-rows", type=_positive_int, default=10, metavar="N",
        help="rows rendering at once (default 10; each row's chunks fan out on their own)",
    )  # fmt: skip
    batch.add_argument(
        "--dry-run", action="store_true",
        help="check every row (Config, output collisions, render input size) and exit: "
        "nothing is uploaded or started; exit 1 if a row has a problem",
    )  # fmt: skip
    batch.add_argument(
        "--resume", metavar="BATCH",
        help="a new batch over BATCH's rows (or --rows): rows whose output exists with the "
        "same row hash are skipped, the rest render",
    )  # fmt: skip
    batch.add_argument(
        "--overwrite", action="store_true",
        help="replace outputs that exist (default: such a row fails with OUTPUT_EXISTS)",
    )  # fmt: skip
    batch.add_argument("--name", help="batch id (default batch-<time>-<random>)")
    batch.add_argument("--wait", action="store_true", help="wait, show progress, summarise")
    batch.add_argument("--poll", type=float, default=5.0, help="seconds between progress polls")
    batch.add_argument("--quiet", action="store_true", help="no progress output")

    for name, text in (
        (
            "progress",
            "status, frames and chunks done, %%, cost so far, ETA, stuck chunks, errors "
            "(a batch id: rows done / failed / running, frames, cost)",
        ),
        ("cancel", "stop an execution (the output is never half-written)"),
        ("cost", "the actual cost of an execution, from its history"),
    ):
        command = commands.add_parser(name, parents=[common], help=text)
        command.add_argument("execution", help=EXECUTION_HELP)
        if name == "progress":
            _stuck_option(command)
            command.add_argument(
                "--presign", type=int, metavar="SECONDS",
                help="once SUCCEEDED, a signed GET URL of the output valid SECONDS (default: "
                "the render's own --presign)",
            )  # fmt: skip

    deploy = commands.add_parser(
        "deploy", parents=[common],
        help="deploy (or update) the stack with boto3 CloudFormation: no SAM CLI, no Docker",
    )  # fmt: skip
    deploy.add_argument("--zip", type=Path, help="the function's ZIP (default: build it)")
    deploy.add_argument("--project-name", help="the template's ProjectName (default: --stack)")
    for flag, parameter, text in (
        ("--memory", "LambdaMemoryMb", "function memory, MB (2048-10240)"),
        ("--timeout", "LambdaTimeoutSec", "per-invocation timeout, s (60-900)"),
        ("--map-concurrency", "MapMaxConcurrency", "chunks at once (0 = no limit)"),
        ("--reserved-concurrency", "ReservedConcurrency", "reserved executions (-1 = none)"),
        ("--output-expiration-days", "OutputExpirationDays", "expire outputs (0 = keep)"),
        ("--intermediate-expiration-days", "IntermediateExpirationDays", "expire intermediates"),
    ):
        deploy.add_argument(flag, type=int, dest=parameter, help=f"{parameter}: {text}")
    deploy.add_argument(
        "--parameter", action="append", default=[], metavar="KEY=VALUE", type=_key_value,
        help="any other template parameter (repeatable)",
    )  # fmt: skip
    deploy.add_argument(
        "--write-hyperframes-state", nargs="?", const=Path("."), type=Path, metavar="DIR",
        help="write .hyperframes/lambda-stack-<stack>.json under DIR (default .) for "
        "HyperFrames' own CLI",
    )  # fmt: skip

    destroy = commands.add_parser(
        "destroy", parents=[common],
        help="stop executions, delete intermediates and the stack; verify nothing is left",
    )  # fmt: skip
    destroy.add_argument(
        "--delete-outputs", action="store_true",
        help="also delete every object and the bucket (kept by default)",
    )  # fmt: skip

    policies = commands.add_parser(
        "policies", help="least-privilege IAM policies: to deploy and render, the function's"
    )
    kinds = policies.add_subparsers(dest="policies_command", required=True)
    for kind, text in (
        ("user", "what a person or CI identity needs to deploy the stack and render on it"),
        ("role", "the function's execution role, as sam/template.yaml grants it"),
        ("validate", "which needed actions a policy file does not allow"),
    ):
        sub = kinds.add_parser(kind, parents=[common], help=text)
        if kind == "validate":
            sub.add_argument("file", type=Path, help="an IAM policy document (JSON)")
        if kind != "role":
            sub.add_argument("--render-only", action="store_true", help="only what rendering needs")
        sub.add_argument("--project-name", help="the template's ProjectName (default: --stack)")
        sub.add_argument("--account", default="*", help="account id to scope to (default *)")
        sub.add_argument(
            "--output-bucket", action="append", default=[], metavar="BUCKET",
            help="a bucket of the stack's AllowedOutputBuckets (repeatable)",
        )  # fmt: skip

    quotas = commands.add_parser(
        "quotas",
        parents=[common],
        help="Lambda concurrency: the account's, the stack's, and what N chunks will do",
    )
    quotas.add_argument("--chunks", type=int, help="say what a render of N chunks does")

    remove = commands.add_parser(
        "rm",
        parents=[common],
        help="delete a finished render's intermediates (--output: its output too)",
    )
    remove.add_argument("execution", help=EXECUTION_HELP)
    remove.add_argument("--output", action="store_true", help="delete the output as well")

    projects = commands.add_parser("projects", help="uploaded projects: ls, rm")
    project_commands = projects.add_subparsers(dest="projects_command", required=True)
    project_commands.add_parser("ls", parents=[common], help="list uploaded projects")
    project_rm = project_commands.add_parser("rm", parents=[common], help="delete projects")
    project_rm.add_argument(
        "names", nargs="+", help="sha256, projects/KEY or s3:// URI (as ls prints them)"
    )

    listing = commands.add_parser(
        "ls", parents=[common], help="recent renders: id, status, started, duration, frames, cost"
    )
    listing.add_argument(
        "--limit", type=int, default=10, help="how many, newest first (default 10)"
    )

    resume = commands.add_parser(
        "resume", parents=[common], help="re-run a failed execution, reusing rendered chunks"
    )
    resume.add_argument("execution", help=EXECUTION_HELP)
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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


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


def _checked_variables(args: argparse.Namespace, config: dict[str, Any]) -> dict[str, Any] | None:
    """``--variables``/``--variables-file``, checked against the project's declared
    variables before anything is uploaded: a finding is a warning, or with
    ``--strict-variables`` (or Config.strictVariables) the command's error."""
    from .compile.variables import load_variables, validate_variables
    from .errors import InvalidVariablesError
    from .runner.cli_errors import UsageError

    try:
        variables = load_variables(args.variables, args.variables_file)
    except InvalidVariablesError as exc:
        raise UsageError(str(exc)) from None
    if args.strict_variables:
        config["strictVariables"] = True
    given = variables if (args.variables or args.variables_file) else None
    values = given if given is not None else config.get("variables") or {}
    if args.project.is_dir() and isinstance(values, dict):
        for warning in validate_variables(
            args.project, values, entry_file=str(config.get("entryFile", "index.html")),
            strict=bool(config.get("strictVariables")),
        ):  # fmt: skip
            _warn(warning)
    return given


def _config_with_flags(args: argparse.Namespace) -> dict[str, Any]:
    config = dict(args.config)
    for flag, key in _CONFIG_FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            config[key] = value
    return config


def _emulate_command(commands: Any) -> None:
    from .local.emulate import DEFAULT_CONCURRENCY, DEFAULT_PORT, DEFAULT_REGION, stack_name
    from .runner.cli_errors import int_at_least

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
    from .aws.client import RenderClient

    return RenderClient(
        args.stack, region=args.region, profile=args.profile, endpoint_url=args.endpoint_url
    )


class ProgressDisplay:
    """tqdm over frames on a terminal; otherwise a plain line when something changed (at
    most every 5 s). A stuck chunk is printed once per attempt, on either."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.bar: Any = None
        self.last_line = ""
        self.last_time = 0.0
        self.reported_stuck: set[tuple[int, int]] = set()
        self.reported_warnings: set[str] = set()

    def __call__(self, progress: Any) -> None:
        if self.quiet:
            return
        for warning in progress.warnings:
            if warning not in self.reported_warnings:
                self.reported_warnings.add(warning)
                self._print(f"plan warning: {warning}")
        for chunk in progress.stuck:
            if (chunk.index, chunk.attempt) not in self.reported_stuck:
                self.reported_stuck.add((chunk.index, chunk.attempt))
                self._print(f"warning: {chunk}")
        total = progress.frames_total
        if self.tty:
            from tqdm import tqdm

            if self.bar is None and total is not None:
                self.bar = tqdm(total=total, unit="frame", desc="render", file=sys.stderr)
            if self.bar is not None:
                self.bar.update(progress.frames_done - self.bar.n)
                postfix = f"{progress.status} {progress.stage}"
                if progress.cost_usd is not None:
                    postfix += f" ${progress.cost_usd:.4f}"
                self.bar.set_postfix_str(postfix)
            return
        line = progress.line()
        now = time.monotonic()
        if line != self.last_line and (
            now - self.last_time >= 5
            or progress.status != "RUNNING"
            or progress.frames_done == total
        ):
            self._print(line)
            self.last_line, self.last_time = line, now

    def _print(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _wait_and_report(job: Any, args: argparse.Namespace) -> int:
    display = ProgressDisplay(args.quiet or args.json)
    try:
        summary = job.wait(
            output=args.output, on_progress=display, poll_s=args.poll,
            stuck_after_s=args.stuck_after,
        )  # fmt: skip
    finally:
        display.close()
    if args.json:
        print(json.dumps({
            "renderId": summary.execution_arn.rsplit(":", 1)[-1],
            "executionArn": summary.execution_arn, "outputS3Uri": summary.output_uri,
            "outputUrl": summary.url,
            "output": str(summary.output_path) if summary.output_path else None,
            "frames": summary.frames, "chunks": summary.chunks,
            "wallSeconds": summary.wall_seconds, "stageSeconds": summary.stage_seconds,
            "cost": summary.cost.as_dict(),
        }, indent=2))  # fmt: skip
    else:
        print(summary.text())
    return 0


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _started(job: Any, args: argparse.Namespace) -> int:
    render_id = job.execution_arn.rsplit(":", 1)[-1]
    if args.json and not (args.wait or args.output):
        print(json.dumps({
            "renderId": render_id, "executionArn": job.execution_arn,
            "consoleUrl": job.console_url,
        }))  # fmt: skip
        return 0
    print(job.execution_arn)
    print(job.console_url)
    if not args.json:
        print(f"render id: {render_id}", file=sys.stderr)
    if args.wait or args.output:
        return _wait_and_report(job, args)
    return 0


def _run(args: argparse.Namespace) -> int:
    command = args.lambda_command
    if command == "emulate":
        from .local.emulate import run

        return run(args)
    if command == "estimate":
        from .aws.cost import estimate

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
    if command == "policies":
        return _policies(args)
    if command in ("deploy", "destroy"):
        return _stack_lifecycle(args)
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
        config = _config_with_flags(args)
        variables = _checked_variables(args, config)
        output_uri = None
        if args.output is not None and str(args.output).startswith("s3://"):
            output_uri, args.output = str(args.output), None
        job = client.render(
            args.project, config=config, variables=variables, output_key=args.output_key,
            output_uri=output_uri, overwrite=args.overwrite, presign_seconds=args.presign,
            custom_data=args.custom_data,
            name=args.name,
            webhook_url=args.webhook_url, webhook_secret_arn=args.webhook_secret_arn,
            webhook_secret=args.webhook_secret,
            on_warning=None if args.no_preflight else _warn,
            expire_output_days=args.expire_output_days,
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
        if args.output is not None and str(args.output).startswith("s3://"):
            from .runner.cli_errors import UsageError

            raise UsageError("resume writes where the render did: -o is a local file here")
        return _started(client.resume(args.execution), args)
    if command == "render-batch":
        return _render_batch(client, args)
    if command == "progress":
        from .aws.batch import batch_progress, is_batch

        if is_batch(client, args.execution):
            shown = batch_progress(client, args.execution)
            print(json.dumps(shown.as_dict()) if args.json else shown)
            return 0
        progress = client.progress(
            args.execution, stuck_after_s=args.stuck_after, presign_seconds=args.presign
        )
        print(json.dumps(progress.as_dict()) if args.json else progress)
        return 0
    if command == "rm":
        from .errors import StorageLeftError

        removal = client.remove(args.execution, output=args.output)
        print(json.dumps(removal.as_dict(), indent=2) if args.json else removal.text())
        if removal.left:
            raise StorageLeftError(
                f"{len(removal.left)} object(s) of {removal.render_id} are still there: "
                f"{', '.join(removal.left[:5])}"
            )
        return 0
    if command == "projects":
        if args.projects_command == "ls":
            found = client.projects()
            if args.json:
                print(json.dumps([p.as_dict() for p in found], indent=2))
            else:
                for project in found:
                    print(f"{project.modified:%Y-%m-%d %H:%M:%S}  {project.size:>12,}  "
                          f"{project.key}")  # fmt: skip
                if not found:
                    print("no uploaded projects")
            return 0
        deleted = client.remove_projects(args.names)
        print(json.dumps({"deleted": deleted}) if args.json else "\n".join(
            f"deleted {key}" for key in deleted))  # fmt: skip
        return 0
    if command == "quotas":
        found = client.quotas()
        if args.json:
            data = found.as_dict()
            if args.chunks:
                data["render"] = found.plan_for(args.chunks).as_dict()
            print(json.dumps(data, indent=2))
        else:
            print(found.table(args.chunks))
        return 0
    if command == "ls":
        from .aws.listing import render_table

        renders = client.list_renders(limit=args.limit)
        if args.json:
            print(json.dumps([r.as_dict() for r in renders], indent=2))
        else:
            print(render_table(renders))
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


def _render_batch(client: Any, args: argparse.Namespace) -> int:
    from .aws.batch import prepare_batch, read_results, start_batch, wait_batch
    from .batch.rows import read_rows
    from .errors import BatchRowsFailedError, BatchRowsInvalidError

    if args.resume is None and (args.project is None or args.rows is None):
        raise BatchRowsInvalidError("render-batch needs PROJECT and --rows (or --resume BATCH)")
    rows = read_rows(args.rows) if args.rows is not None else None
    config = dict(args.config)
    if args.variables is not None:
        config["variables"] = args.variables
    if args.dry_run:
        check = None
        if args.project is not None:
            from .compile.variables import check_variables, declared_variables

            entry = str(config.get("entryFile", "index.html"))
            declarations, _ = declared_variables(args.project, entry)

            def check(values: dict[str, Any]) -> list[str]:
                return [f.message for f in check_variables(values, declarations)]

        plan, _ = prepare_batch(
            client, args.project, rows, config=config, name=args.name, resume=args.resume,
            overwrite=args.overwrite, variable_check=check,
        )  # fmt: skip
        print(json.dumps(plan.as_dict(), indent=2) if args.json else plan.text())
        if plan.problems:
            raise BatchRowsInvalidError(
                f"{len(plan.problems)} problem(s) in the rows: {plan.problems[0]}"
            )
        return 0
    job = start_batch(
        client, args.project, rows, config=config, name=args.name, resume=args.resume,
        overwrite=args.overwrite, max_concurrent_rows=args.max_concurrent_rows,
    )  # fmt: skip
    if args.json and not args.wait:
        print(json.dumps({"batchId": job.batch_id, "executionArn": job.execution_arn,
                          "rows": job.rows}))  # fmt: skip
        return 0
    print(job.execution_arn)
    if not args.json:
        print(f"batch id: {job.batch_id} ({job.rows} rows); reattach with "
              f"`hyperframes-lambda lambda progress {job.batch_id}`", file=sys.stderr)  # fmt: skip
    if not args.wait:
        return 0
    last = [""]

    def show(progress: Any) -> None:
        line = progress.line()
        if not (args.quiet or args.json) and line != last[0]:
            print(line, file=sys.stderr, flush=True)
            last[0] = line

    final = wait_batch(client, job.batch_id, show, poll_s=args.poll)
    if args.json:
        print(json.dumps({**final.as_dict(), "results": read_results(client, final)}, indent=2))
    else:
        print(final)
    if final.status != "SUCCEEDED" or final.failed:
        raise BatchRowsFailedError(
            f"batch {job.batch_id} {final.status}: {final.failed} of {final.rows} rows failed"
            + (f"; results {final.results_uri}" if final.results_uri else "")
        )
    return 0


_DEPLOY_PARAMETERS = (
    "LambdaMemoryMb", "LambdaTimeoutSec", "MapMaxConcurrency", "ReservedConcurrency",
    "OutputExpirationDays", "IntermediateExpirationDays",
)  # fmt: skip


def _stack_lifecycle(args: argparse.Namespace) -> int:
    from .aws.client import RenderClient
    from .aws.deploy import Deployer, build_zip
    from .aws.stack import AwsTarget

    target = AwsTarget(region=args.region, profile=args.profile, endpoint_url=args.endpoint_url)
    deployer = Deployer(target, args.stack, log=None if not args.json else _quiet)
    if args.lambda_command == "destroy":
        destroyed = deployer.destroy(delete_outputs=args.delete_outputs)
        state = Path(".hyperframes") / f"lambda-stack-{args.stack}.json"
        state.unlink(missing_ok=True)
        if args.json:
            print(json.dumps(destroyed.as_dict(), indent=2))
        else:
            kept = "" if args.delete_outputs else " (outputs kept in the bucket)"
            print(f"stack {args.stack} destroyed; nothing left{kept}")
        return 0
    parameters = {"ProjectName": args.project_name or args.stack}
    parameters |= {
        k: str(getattr(args, k)) for k in _DEPLOY_PARAMETERS if getattr(args, k) is not None
    }
    for item in args.parameter:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--parameter {item!r}: expected KEY=VALUE")
        parameters[key] = value
    zip_path = args.zip or build_zip(log=None if args.json else _warn_plain)
    result = deployer.deploy(zip_path, parameters)
    state_path = None
    if args.write_hyperframes_state is not None:
        from .aws.hyperframes_state import write_hyperframes_state

        client = RenderClient(
            args.stack, region=args.region, profile=args.profile, endpoint_url=args.endpoint_url
        )
        memory, _ = client.function_sizes()
        state_path = write_hyperframes_state(
            client.stack, args.write_hyperframes_state, memory_mb=memory,
            reserved_concurrency=client.quotas().reserved,
        )  # fmt: skip
    if args.json:
        data = result.as_dict()
        data["hyperframesState"] = str(state_path) if state_path else None
        print(json.dumps(data, indent=2))
    else:
        print(f"stack {result.stack}: {result.status}")
        for key, value in sorted(result.outputs.items()):
            print(f"  {key}: {value}")
        if state_path:
            print(f"HyperFrames' CLI state: {state_path}")
    return 0


def _quiet(_line: str) -> None:
    return None


def _warn_plain(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _policies(args: argparse.Namespace) -> int:
    from .aws.policies import Names, load_policy, role_policy, user_policy, validate
    from .errors import PolicyMissingActionsError

    names = Names(
        stack=args.stack, project=args.project_name or args.stack,
        region=args.region or "*", account=args.account,
        output_buckets=tuple(args.output_bucket),
    )  # fmt: skip
    kind = args.policies_command
    if kind in ("user", "role"):
        document = (
            role_policy(names)
            if kind == "role"
            else user_policy(names, render_only=args.render_only)
        )
        print(json.dumps(document, indent=2))
        if kind == "role" and not args.json:
            print(
                "also attached (AWS managed): AWSLambdaBasicExecutionRole, AWSXrayWriteOnlyAccess",
                file=sys.stderr,
            )
        return 0
    result = validate(load_policy(args.file), user_policy(names, render_only=args.render_only))
    print(json.dumps(result.as_dict(), indent=2) if args.json else result.text())
    if result.missing:
        actions = sorted({action for action, _ in result.missing})
        raise PolicyMissingActionsError(
            f"{args.file} does not allow {len(actions)} needed action(s): {', '.join(actions)}"
        )
    return 0


def run_lambda_command(args: argparse.Namespace) -> int:
    """Run ``hyperframes-lambda lambda …``. botocore's failures become this package's
    errors (:mod:`.client_errors`), so :func:`~hyperframes_lambda.runner.cli_errors.run_guarded`
    prints them as one ``error [CODE]: …`` line like every other command."""
    from botocore.exceptions import BotoCoreError, ClientError

    from .aws.client_errors import from_botocore

    try:
        return _run(args)
    except (ClientError, BotoCoreError) as exc:
        raise from_botocore(exc) from exc
    # KeyboardInterrupt (and SIGTERM's Terminated) propagate to cli_errors.run_guarded,
    # which prints the line and returns 130 or 143.
