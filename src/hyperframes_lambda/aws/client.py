"""Render on a deployed stack from Python: upload, start, progress, wait, download, cost,
cancel, resume.

::

    from hyperframes_lambda.aws import RenderClient

    client = RenderClient(stack="hyperframes", region="us-east-1")
    job = client.render("my-project", config={"width": 1280, "height": 720})
    summary = job.wait(output="out.mp4", on_progress=print)
    print(summary.text())

Everything goes through boto3 (``region``, ``profile``, ``endpoint_url`` for local
servers). Outputs appear whole or not at all: S3 makes an object visible only when its
upload completes, and :meth:`RenderClient.download` writes a temporary file beside the
destination and renames it.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import (
    ExecutionNotResumableError,
    ExecutionOutputMissingError,
    RemoteExecutionFailedError,
)
from .cost import DEFAULT_EPHEMERAL_MB, DEFAULT_MEMORY_MB, CostReport, cost_from_records
from .executions import console_url, load_history, load_records
from .history import ExecutionError, ExecutionRecord, parse_history
from .stack import AwsTarget, Stack, find_stack
from .upload import UploadResult, project_archive, upload_archive

FINISHED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
OUTPUT_SUFFIX = {
    "mp4": ".mp4", "mov": ".mov", "webm": ".webm", "png-sequence": ".tar.gz", "gif": ".gif",
    "aac": ".m4a", "mp3": ".mp3", "wav": ".wav",
}  # fmt: skip
PRESIGN_SECONDS = 3600
CANCEL_ERROR = "CANCELLED"


@dataclass(frozen=True)
class Progress:
    """Where an execution is: its status, chunks rendered of the total, errors so far."""

    execution_arn: str
    status: str
    chunks_done: int
    chunks_total: int | None
    errors: list[ExecutionError]
    stage: str  # the last state entered

    def __str__(self) -> str:
        total = "?" if self.chunks_total is None else str(self.chunks_total)
        text = f"{self.status} {self.stage}: {self.chunks_done}/{total} chunks"
        for error in self.errors:
            text += f"\n  {error.where}: {error.error}: {error.cause[:300]}"
        return text


@dataclass
class RenderSummary:
    execution_arn: str
    output_uri: str
    output_path: Path | None
    frames: int
    chunks: int
    wall_seconds: float
    stage_seconds: dict[str, float]
    cost: CostReport

    def text(self) -> str:
        stages = ", ".join(
            f"{name} {self.stage_seconds[name]:.1f}s"
            for name in ("Plan", "RenderChunks", "Assemble", "AssembleAudioOnly")
            if name in self.stage_seconds
        )
        where = self.output_path or self.output_uri
        return (
            f"{where}: {self.frames} frames in {self.chunks} chunk(s), wall "
            f"{self.wall_seconds:.1f}s ({stages}), cost ${self.cost.total_usd:.6f} "
            f"(up to ${self.cost.high_usd:.6f}; prices {self.cost.prices.region}, "
            f"read {self.cost.prices.read_on})"
        )


@dataclass(frozen=True)
class StillImage:
    """One image a ``still`` invocation wrote: its frame, object URI and (with
    ``presign``) a signed HTTPS URL that fetches it without credentials."""

    frame: int
    uri: str
    sha256: str
    size: int
    width: int
    height: int
    url: str | None = None


@dataclass(frozen=True)
class CancelResult:
    execution_arn: str
    status: str
    assemble_started: bool  # an assemble in flight may still write its (whole) output
    output_exists: bool


@dataclass
class RenderJob:
    """A started execution."""

    client: RenderClient
    execution_arn: str
    execution_input: dict[str, Any]
    upload: UploadResult | None = None
    console_url: str = field(init=False)

    def __post_init__(self) -> None:
        self.console_url = console_url(self.execution_arn)

    def progress(self) -> Progress:
        return self.client.progress(self.execution_arn)

    def wait(
        self,
        output: str | Path | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        *,
        poll_s: float = 2.0,
        timeout_s: float | None = None,
    ) -> RenderSummary:
        """Until the execution ends; then download to ``output`` (if given) and summarise.
        A failed execution raises :class:`RemoteExecutionFailedError` with its error."""
        record = self.client.wait(
            self.execution_arn, on_progress=on_progress, poll_s=poll_s, timeout_s=timeout_s
        )
        uploaded = self.upload is not None and self.upload.uploaded
        # The client's own S3 requests: HeadObject (+ PutObject) of the upload, the download.
        client_s3 = (int(self.upload is not None) + int(output is not None), int(uploaded))
        return self.client.summarise(self.execution_arn, record, output, client_s3=client_s3)

    def cancel(self) -> CancelResult:
        return self.client.cancel(self.execution_arn)


class RenderClient:
    """One deployed stack, reached through boto3."""

    def __init__(
        self,
        stack: str,
        *,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self.stack_name = stack
        self.target = AwsTarget(region=region, profile=profile, endpoint_url=endpoint_url)

    @cached_property
    def stack(self) -> Stack:
        return find_stack(self.stack_name, self.target)

    @cached_property
    def s3(self) -> Any:
        return self.target.client("s3")

    @cached_property
    def sfn(self) -> Any:
        return self.target.client("stepfunctions")

    # ---- upload and start --------------------------------------------------------------

    def upload_project(self, project: str | Path, entry_file: str = "index.html") -> UploadResult:
        """The project as ``s3://BUCKET/projects/<sha256>.tar.gz``; nothing is sent when
        that exact archive is already there."""
        return upload_archive(
            project_archive(Path(project), entry_file), self.stack.bucket, self.s3
        )

    def render(
        self,
        project: str | Path,
        *,
        config: dict[str, Any] | None = None,
        variables: dict[str, Any] | None = None,
        webhook_url: str | None = None,
        webhook_secret_arn: str | None = None,
        webhook_secret: str | None = None,
        name: str | None = None,
    ) -> RenderJob:
        """Upload (if needed) and start an execution; returns at once."""
        config = dict(config or {})
        if variables is not None:
            config["variables"] = variables
        upload = self.upload_project(project, str(config.get("entryFile", "index.html")))
        run = name or f"render-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        suffix = OUTPUT_SUFFIX.get(str(config.get("format", "mp4")), ".mp4")
        bucket = self.stack.bucket
        execution_input: dict[str, Any] = {
            "ProjectS3Uri": upload.uri,
            "PlanOutputS3Prefix": f"s3://{bucket}/renders/{run}/",
            "OutputS3Uri": f"s3://{bucket}/outputs/{run}{suffix}",
            "Config": config,
        }
        if webhook_url:
            execution_input["WebhookUrl"] = webhook_url
            if webhook_secret_arn:
                execution_input["WebhookSecretArn"] = webhook_secret_arn
            if webhook_secret:
                execution_input["WebhookSecret"] = webhook_secret
        return self.start(execution_input, run, upload)

    def still(
        self,
        project: str | Path,
        *,
        frames: list[int] | None = None,
        times: list[float] | None = None,
        image_format: str = "png",
        quality: int | None = None,
        config: dict[str, Any] | None = None,
        name: str | None = None,
        presign: bool = False,
    ) -> list[StillImage]:
        """Frames of ``project`` as images, in one synchronous invocation of the stack's
        function (its ``still`` action: no Step Functions, no plan in S3). The project is
        uploaded only if that exact archive is not there yet. Images go to
        ``s3://BUCKET/outputs/<name>.<ext>`` (several: ``<name>-<frame>.<ext>``)."""
        config = dict(config or {})
        upload = self.upload_project(project, str(config.get("entryFile", "index.html")))
        ext = {"png": ".png", "jpeg": ".jpg", "jpg": ".jpg", "webp": ".webp"}[image_format]
        run = name or f"still-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        event: dict[str, Any] = {
            "Action": "still", "ProjectS3Uri": upload.uri,
            "OutputS3Uri": f"s3://{self.stack.bucket}/outputs/{run}{ext}",
            "Frames": list(frames or []), "Times": list(times or []), "Config": config,
        }  # fmt: skip
        if quality is not None:
            event["Quality"] = quality
        response = self.target.client("lambda").invoke(
            FunctionName=self.stack.function_arn, Payload=json.dumps(event).encode()
        )
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError") or not isinstance(payload, dict):
            error = payload if isinstance(payload, dict) else {}
            error_name = str(error.get("errorType") or "Unhandled")
            message = str(error.get("errorMessage") or payload)
            raise RemoteExecutionFailedError(
                f"the still invocation failed: {error_name}: {message}", error_name, message
            )
        images = []
        for item in payload["Stills"]:
            bucket, _, key = str(item["S3Uri"]).removeprefix("s3://").partition("/")
            url = (
                self.s3.generate_presigned_url(
                    "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=PRESIGN_SECONDS
                )
                if presign
                else None
            )
            images.append(StillImage(
                frame=int(item["Frame"]), uri=str(item["S3Uri"]), sha256=str(item["Sha256"]),
                size=int(item["FileSize"]), width=int(item["Width"]), height=int(item["Height"]),
                url=url,
            ))  # fmt: skip
        return images

    def start(
        self, execution_input: dict[str, Any], name: str, upload: UploadResult | None = None
    ) -> RenderJob:
        started = self.sfn.start_execution(
            stateMachineArn=self.stack.state_machine_arn,
            name=name,
            input=json.dumps(execution_input),
        )
        return RenderJob(self, started["executionArn"], execution_input, upload)

    # ---- watch --------------------------------------------------------------------------

    def record(self, execution_arn: str) -> ExecutionRecord:
        return parse_history(load_history(self.sfn, execution_arn))

    def progress(self, execution_arn: str) -> Progress:
        """Status, chunks done/total (chunk objects in S3, or all once the Map finished),
        and every error so far with its name and cause (failed chunks included)."""
        record = self.record(execution_arn)
        total = record.chunk_total
        errors = list(record.errors)
        failed_chunks = [r for r in record.chunk_results if r.get("Failed")]
        for chunk in failed_chunks:
            where = f"chunk {chunk.get('ChunkIndex')}"
            errors.insert(
                0, ExecutionError(where, str(chunk.get("Error")), str(chunk.get("Cause")))
            )
        if record.map_exited and total is not None:
            done = total - len(failed_chunks)
        else:
            done = self._chunk_objects(record.input.get("PlanOutputS3Prefix"))
            if total is not None:
                done = min(done, total)
        stage = record.entered_states[-1] if record.entered_states else ""
        return Progress(execution_arn, record.status, done, total, _unique(errors), stage)

    def _chunk_objects(self, prefix_uri: str | None) -> int:
        if not prefix_uri or not prefix_uri.startswith(f"s3://{self.stack.bucket}/"):
            return 0
        prefix = prefix_uri.removeprefix(f"s3://{self.stack.bucket}/").rstrip("/") + "/chunks/"
        count = 0
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.stack.bucket, Prefix=prefix
        ):
            count += len(page.get("Contents", []))
        return count

    def wait(
        self,
        execution_arn: str,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        poll_s: float = 2.0,
        timeout_s: float | None = None,
    ) -> ExecutionRecord:
        """Poll until the execution ends; a failure raises with the execution's own error."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            progress = self.progress(execution_arn)
            if on_progress is not None:
                on_progress(progress)
            if progress.status in FINISHED:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still {progress.status} after {timeout_s}s")
            time.sleep(poll_s)
        record = self.record(execution_arn)
        if record.status != "SUCCEEDED":
            failure = record.failure or ExecutionError("execution", record.status, "")
            raise RemoteExecutionFailedError(
                f"{execution_arn} {record.status}: {failure.error}: {failure.cause}",
                failure.error,
                failure.cause,
            )
        return record

    # ---- results ------------------------------------------------------------------------

    def download(self, uri: str, dest: str | Path) -> Path:
        """Download ``s3://…`` to ``dest`` through a temporary file renamed at the end."""
        target = Path(dest)
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        try:
            self.s3.download_file(bucket, key, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return target

    def function_sizes(self) -> tuple[int, int]:
        """The function's memory and ephemeral storage (MB), the template's when unreadable."""
        try:
            conf = self.target.client("lambda").get_function_configuration(
                FunctionName=self.stack.function_arn
            )
            return int(conf.get("MemorySize") or DEFAULT_MEMORY_MB), int(
                (conf.get("EphemeralStorage") or {}).get("Size") or DEFAULT_EPHEMERAL_MB
            )
        except Exception:  # noqa: BLE001 - no lambda:GetFunctionConfiguration permission
            return DEFAULT_MEMORY_MB, DEFAULT_EPHEMERAL_MB

    def cost(self, execution_arn: str, client_s3: tuple[int, int] = (0, 0)) -> CostReport:
        """The execution's actual cost, from its history (see :mod:`.cost`)."""
        parent, children = load_records(self.sfn, execution_arn)
        memory, ephemeral = self.function_sizes()
        return cost_from_records(
            parent, children, region=execution_arn.split(":")[3], memory_mb=memory,
            ephemeral_mb=ephemeral, client_s3=client_s3,
        )  # fmt: skip

    def summarise(
        self,
        execution_arn: str,
        record: ExecutionRecord,
        output: str | Path | None = None,
        client_s3: tuple[int, int] = (0, 0),
    ) -> RenderSummary:
        uri = str(record.output.get("OutputS3Uri", ""))
        if output is not None and not (uri.startswith("s3://") and "/" in uri[5:]):
            raise ExecutionOutputMissingError(
                f"{execution_arn} {record.status}, but its result names no output object "
                f"(OutputS3Uri: {uri or 'absent'}): nothing to download to {output}"
            )
        path = self.download(uri, output) if output is not None else None
        return RenderSummary(
            execution_arn=execution_arn, output_uri=uri, output_path=path,
            frames=int(record.output.get("FramesEncoded", 0)),
            chunks=int(record.output.get("ChunkCount", 0)),
            wall_seconds=record.wall_seconds or 0.0, stage_seconds=record.stage_seconds,
            cost=self.cost(execution_arn, client_s3),
        )  # fmt: skip

    # ---- control -------------------------------------------------------------------------

    def _settled_status(self, execution_arn: str, settle_s: float) -> str:
        """The status once the stop took effect (immediate on AWS; an emulator may finish
        the state in flight first), or RUNNING after ``settle_s``."""
        deadline = time.monotonic() + settle_s
        while True:
            status = str(self.sfn.describe_execution(executionArn=execution_arn)["status"])
            if status != "RUNNING" or time.monotonic() > deadline:
                return status
            time.sleep(0.5)

    def cancel(self, execution_arn: str, settle_s: float = 120.0) -> CancelResult:
        """Stop the execution. The output is never half-written (an S3 object appears only
        whole); if Assemble had already started, its invocation may still finish and write
        the whole output — ``assemble_started`` says so."""
        described = self.sfn.describe_execution(executionArn=execution_arn)
        if described["status"] == "RUNNING":
            self.sfn.stop_execution(
                executionArn=execution_arn,
                error=CANCEL_ERROR,
                cause="cancelled with hyperframes-lambda lambda cancel",
            )
        status = self._settled_status(execution_arn, settle_s)
        record = self.record(execution_arn)
        output = str(record.input.get("OutputS3Uri", ""))
        return CancelResult(
            execution_arn,
            status,
            any(s.startswith("Assemble") for s in record.entered_states),
            self._exists(output),
        )

    def _exists(self, uri: str) -> bool:
        from botocore.exceptions import ClientError

        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if not key:
            return False
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
            return True
        except ClientError:
            return False

    def resume(self, execution_arn: str) -> RenderJob:
        """Start the failed execution's input again, under the same render prefix: the
        plan comes out the same (same hash) and every chunk already in S3 for that hash is
        reused by renderChunk instead of rendered again."""
        described = self.sfn.describe_execution(executionArn=execution_arn)
        if described["status"] not in ("FAILED", "TIMED_OUT", "ABORTED"):
            raise ExecutionNotResumableError(
                f"{execution_arn} is {described['status']}: only a FAILED, TIMED_OUT or "
                "ABORTED execution can be resumed"
            )
        execution_input = json.loads(described["input"])
        base = str(described.get("name") or execution_arn.rsplit(":", 1)[-1])[:60]
        return self.start(execution_input, f"{base}-resume-{secrets.token_hex(3)}")


def _unique(errors: list[ExecutionError]) -> list[ExecutionError]:
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for error in errors:
        key = (error.where, error.error, error.cause)
        if key not in seen:
            seen.add(key)
            unique.append(error)
    return unique
