"""Run a whole render the way the state machine does, with no AWS account.

    python -m hyperframes_lambda.local PROJECT_DIR -o OUTPUT [--parallel N] [--chunk-size F]
        [--config JSON] [--s3-endpoint-url URL --bucket NAME] [--invoke-url URL]

Upload the project (a .tar.gz), invoke ``plan``, then ``renderChunk`` for every chunk
(``--parallel`` at a time), then ``assemble``, and download the output. Invocations go to
the real handler, either in worker processes here (each one a fresh "container") or over
HTTP to a Lambda Runtime Interface Emulator endpoint (``--invoke-url``, e.g. the Docker
image's, or ``python -m hyperframes_lambda.rie``). Storage is a local directory
(``file://``, the default) or an S3 endpoint. Retries follow the state machine's policy:
terminal errors fail at once, others are retried with backoff.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import (
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    as_completed,
)
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..config import AUDIO_FORMATS
from ..errors import InvalidOutputError, terminal_codes
from ..handler.storage import Storage, join_uri
from ..runner.cli_errors import EXIT_FAILED, CliParser, int_at_least
from ..runner.interrupts import (
    install_interrupt_handlers,
    install_worker_interrupt_handlers,
    stop_pool_workers,
    worker_task,
)
from ..runner.output_target import resolve_output
from ..timing import fps_text, frames_duration, parse_fps

Invocation = dict[str, Any]


class InvocationFailed(Exception):
    def __init__(self, action: str, error_type: str, message: str) -> None:
        super().__init__(f"{action} failed [{error_type}]: {message}")
        self.action, self.error_type, self.message = action, error_type, message


@dataclass
class StageStats:
    invocations: int = 0
    retries: int = 0
    seconds: float = 0.0


@dataclass
class RunSummary:
    output: Path
    frames: int = 0
    fps: Fraction = field(default_factory=Fraction)  # 0 until planned
    chunks: int = 0
    stages: dict[str, StageStats] = field(default_factory=dict)
    total_seconds: float = 0.0

    def table(self) -> str:
        lines = [f"{'stage':<12}{'invocations':>12}{'retries':>9}{'seconds':>10}"]
        for name, stats in self.stages.items():
            lines.append(
                f"{name:<12}{stats.invocations:>12}{stats.retries:>9}{stats.seconds:>10.2f}"
            )
        fps = self.frames / self.total_seconds if self.total_seconds else 0.0
        seconds = frames_duration(self.frames, self.fps) if self.fps else 0.0
        lines.append(
            f"{self.frames} frames ({seconds:.2f}s at {fps_text(self.fps)} fps) in "
            f"{self.chunks} chunks, {self.total_seconds:.2f}s total: {fps:.1f} frames/s effective"
        )
        return "\n".join(lines)


# ---- invokers -----------------------------------------------------------------------


@dataclass(frozen=True)
class LocalContext:
    """The attributes of a Lambda context object the handler and powertools read."""

    aws_request_id: str
    function_name: str = "hyperframes-local"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:hyperframes-local"
    memory_limit_in_mb: int = 10240
    log_group_name: str = "/aws/lambda/hyperframes-local"
    log_stream_name: str = "local"
    deadline: float = 0.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))


def invoke_in_process(event: Invocation) -> Invocation:
    """Call the real handler; report errors the way the Lambda runtime does."""
    from ..handler.dispatch import handler

    context = LocalContext(aws_request_id=str(uuid.uuid4()), deadline=time.time() + 900)
    try:
        with worker_task():  # a SIGTERM from the runner interrupts the invocation cleanly
            return {"ok": handler(event, context)}
    except Exception as exc:  # noqa: BLE001 - every failure becomes a Lambda-style error
        return {"errorType": type(exc).__name__, "errorMessage": str(exc)}


def invoke_http(url: str, event: Invocation, timeout: float = 960.0) -> Invocation:
    """POST to a Runtime Interface Emulator endpoint."""
    request = urllib.request.Request(
        url, data=json.dumps(event).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            body = json.loads(reply.read() or b"null")
            failed = reply.headers.get("X-Amz-Function-Error")
    except (urllib.error.URLError, OSError) as exc:
        return {"errorType": "Invoke.ConnectionError", "errorMessage": f"{url}: {exc}"}
    if failed or (isinstance(body, dict) and "errorType" in body and "errorMessage" in body):
        return {
            "errorType": body.get("errorType", failed),
            "errorMessage": body.get("errorMessage", ""),
        }
    return {"ok": body}


def _init_in_process_worker(env: dict[str, str]) -> None:
    os.environ.update(env)
    install_worker_interrupt_handlers()


def stop_executor(executor: Executor) -> None:
    """On Ctrl-C/SIGTERM: interrupt the worker processes (each "container" stops its
    browsers and removes its work directory) and drop the invocations not yet started."""
    if isinstance(executor, ProcessPoolExecutor):
        stop_pool_workers(executor._processes)  # no public handle on the workers
    executor.shutdown(wait=False, cancel_futures=True)


# ---- the run ------------------------------------------------------------------------


@dataclass
class LocalRunner:
    invoke: Callable[[Invocation], Invocation]
    executor: Executor
    retries: int = 2
    backoff_s: float = 1.0
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)
    _terminal: frozenset[str] = field(default_factory=lambda: frozenset(terminal_codes()))

    def call(self, event: Invocation, stats: StageStats) -> Invocation:
        """One Task state: invoke, retry what is retryable, raise what is not."""
        attempt = 0
        while True:
            stats.invocations += 1
            reply = self.executor.submit(self.invoke, event).result()
            if "ok" in reply:
                return dict(reply["ok"])
            error_type = str(reply.get("errorType"))
            if error_type in self._terminal or attempt >= self.retries:
                raise InvocationFailed(event["Action"], error_type, str(reply.get("errorMessage")))
            attempt += 1
            stats.retries += 1
            delay = self.backoff_s * 2 ** (attempt - 1)
            self.log(f"[{event['Action']}] {error_type}: retrying in {delay:.0f}s")
            time.sleep(delay)

    def run(
        self, project_uri: str, prefix: str, output_uri: str, config: dict[str, Any], parallel: int
    ) -> tuple[dict[str, Any], RunSummary]:
        try:
            return self._run(project_uri, prefix, output_uri, config, parallel)
        except KeyboardInterrupt:
            stop_executor(self.executor)
            raise

    def _run(
        self, project_uri: str, prefix: str, output_uri: str, config: dict[str, Any], parallel: int
    ) -> tuple[dict[str, Any], RunSummary]:
        summary = RunSummary(output=Path())
        started = time.perf_counter()
        plan_stats = summary.stages.setdefault("plan", StageStats())
        t = time.perf_counter()
        self.log("[plan] planning…")
        planned = self.call(
            {"Action": "plan", "ProjectS3Uri": project_uri, "PlanOutputS3Prefix": prefix,
             "OutputS3Uri": output_uri, "Config": config},
            plan_stats,
        )  # fmt: skip
        plan_stats.seconds = time.perf_counter() - t
        count = int(planned["ChunkCount"])
        summary.frames, summary.chunks = planned["TotalFrames"], count
        summary.fps = parse_fps(planned["Fps"])
        self.log(
            f"[plan] {planned['TotalFrames']} frames at {planned['Fps']} fps, "
            f"{planned['Width']}x{planned['Height']} {planned['Format']}, {count} chunks, "
            f"plan {planned['PlanHash'][:12]}…"
        )
        if count == 0 and planned["Format"] not in AUDIO_FORMATS:  # audio only: no chunks
            raise InvocationFailed("plan", "States.NoChunks", "the plan has no chunks")
        chunk_stats = summary.stages.setdefault("renderChunk", StageStats())
        t = time.perf_counter()
        results: dict[int, dict[str, Any]] = {}
        with ThreadPoolExecutor(max_workers=parallel) as fan_out:
            futures: dict[Future[Invocation], int] = {
                fan_out.submit(
                    self.call,
                    {
                        "Action": "renderChunk",
                        "PlanS3Uri": planned["PlanS3Uri"],
                        "PlanHash": planned["PlanHash"],
                        "ChunkIndex": index,
                        "ChunkOutputS3Prefix": join_uri(prefix, "chunks"),
                        "Format": planned["Format"],
                    },
                    chunk_stats,
                ): index
                for index in range(count)
            }
            try:
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    self.log(f"[renderChunk] {len(results)}/{count} chunks done")
            except KeyboardInterrupt:  # before the fan-out waits for its invocations
                stop_executor(self.executor)
                raise
        chunk_stats.seconds = time.perf_counter() - t
        assemble_stats = summary.stages.setdefault("assemble", StageStats())
        t = time.perf_counter()
        assembled = self.call(
            {"Action": "assemble", "PlanS3Uri": planned["PlanS3Uri"],
             "PlanHash": planned["PlanHash"],
             "ChunkS3Uris": [results[i]["ChunkS3Uri"] for i in range(count)],
             "ChunkSha256s": [results[i]["Sha256"] for i in range(count)],
             "AudioS3Uri": planned["AudioS3Uri"], "OutputS3Uri": output_uri,
             "Format": planned["Format"]},
            assemble_stats,
        )  # fmt: skip
        assemble_stats.seconds = time.perf_counter() - t
        summary.total_seconds = time.perf_counter() - started
        return assembled, summary


def pack_project(project_dir: Path, dest: Path) -> Path:
    """A .tar.gz of the project (what users upload for Lambda), without build clutter."""
    skipped = {"node_modules", ".git", ".cache", "dist", "output"}

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if set(Path(info.name).parts) & skipped:
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        return info

    if not project_dir.is_dir():
        raise SystemExit(f"{project_dir} is not a project directory")
    with tarfile.open(dest, "w:gz") as tar:
        for path in sorted(project_dir.iterdir()):
            tar.add(path, arcname=path.name, filter=keep)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = CliParser(
        prog="python -m hyperframes_lambda.local", description=__doc__.splitlines()[0]
    )
    parser.add_argument("project", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument(
        "--parallel", type=int_at_least(1), default=max(1, min(4, os.cpu_count() or 1))
    )
    parser.add_argument("--chunk-size", type=int_at_least(1))
    parser.add_argument("--config", default="{}", help="Config JSON (fps, format, quality, …)")
    parser.add_argument("--s3-endpoint-url", help="an S3-compatible endpoint (default: local dir)")
    parser.add_argument("--bucket", help="bucket for --s3-endpoint-url (or real S3)")
    parser.add_argument("--invoke-url", help="Runtime Interface Emulator invoke URL")
    parser.add_argument("--work-dir", type=Path, help="file:// storage root (default: temporary)")
    parser.add_argument(
        "--retries", type=int_at_least(0), default=2, help="retries of retryable errors"
    )
    args = parser.parse_args(argv)
    if not args.project.is_dir():
        parser.error(f"{args.project} is not a project directory")
    restore_signals = install_interrupt_handlers()
    try:
        return _main(parser, args)
    except KeyboardInterrupt as exc:
        from ..runner.cli_errors import exit_code_for
        from ..runner.interrupts import Terminated

        print("terminated" if isinstance(exc, Terminated) else "interrupted", file=sys.stderr)
        return exit_code_for(exc)
    finally:
        restore_signals()


def _main(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        config = json.loads(args.config)
    except json.JSONDecodeError as exc:
        parser.error(f"--config is not valid JSON: {exc}")
    if args.chunk_size:
        config["chunkSize"] = args.chunk_size
    config.setdefault("maxParallelChunks", max(args.parallel, 1) if not args.chunk_size else 256)
    if args.s3_endpoint_url and not args.bucket:
        parser.error("--s3-endpoint-url needs --bucket")
    if isinstance(config, dict) and "format" not in config:  # as `render`: from -o's extension
        try:
            config["format"] = resolve_output(args.output, None, output_name="-o")
        except InvalidOutputError as exc:
            parser.error(str(exc))

    output = args.output.resolve()
    with tempfile.TemporaryDirectory(prefix="hf-local-") as scratch_name:
        scratch = Path(scratch_name)
        env: dict[str, str] = {}
        if args.s3_endpoint_url:
            env["HYPERFRAMES_S3_ENDPOINT_URL"] = args.s3_endpoint_url
            os.environ.update(env)
        storage = Storage()
        if args.bucket:
            root = f"s3://{args.bucket}"
        else:
            work_dir = (args.work_dir or scratch / "storage").resolve()
            work_dir.mkdir(parents=True, exist_ok=True)
            root = f"file://{work_dir}"
        archive = pack_project(args.project, scratch / "project.tar.gz")
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
        project_uri = join_uri(root, "projects", f"{args.project.resolve().name}-{digest}.tar.gz")
        run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        prefix = join_uri(root, "renders", run_id)
        suffix = ".tar.gz" if config.get("format") == "png-sequence" else output.suffix or ".mp4"
        output_uri = join_uri(root, "outputs", f"{run_id}{suffix}")
        storage.upload(archive, project_uri)
        print(f"project uploaded to {project_uri}", file=sys.stderr)

        if args.invoke_url:
            executor: Executor = ThreadPoolExecutor(max_workers=max(1, args.parallel))
            invoke: Callable[[Invocation], Invocation] = functools.partial(
                invoke_http, args.invoke_url
            )
        else:
            env.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
            env.setdefault(
                "POWERTOOLS_LOG_LEVEL", os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING")
            )
            executor = ProcessPoolExecutor(
                max_workers=max(1, args.parallel),
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_in_process_worker,
                initargs=(env,),
            )
            invoke = invoke_in_process
        runner = LocalRunner(invoke=invoke, executor=executor, retries=args.retries)
        try:
            with executor:
                assembled, summary = runner.run(
                    project_uri, prefix, output_uri, config, args.parallel
                )
        except InvocationFailed as exc:
            print(f"failed: {exc}", file=sys.stderr)
            return EXIT_FAILED
        _fetch_output(storage, output_uri, output, scratch, config.get("format") == "png-sequence")
    summary.output = output
    print(summary.table())
    print(f"output: {output} ({assembled['FileSize']} bytes, sha256 {assembled['Sha256'][:16]}…)")
    return 0


def _fetch_output(storage: Storage, uri: str, output: Path, scratch: Path, sequence: bool) -> None:
    """Download the output to ``output``, atomically (a png-sequence is unpacked there)."""
    downloaded = storage.download(uri, scratch / "output.download")
    if sequence:
        unpacked = scratch / "sequence"
        with tarfile.open(downloaded, "r:gz") as tar:
            tar.extractall(unpacked, filter="data")
        if output.exists():
            shutil.rmtree(output)
        shutil.move(str(unpacked), output)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    shutil.copyfile(downloaded, partial)
    os.replace(partial, output)


if __name__ == "__main__":
    sys.exit(main())
