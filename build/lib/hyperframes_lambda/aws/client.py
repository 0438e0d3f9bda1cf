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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import (
    ExecutionNotResumableError,
    ExecutionOutputMissingError,
    ExecutionRunningError,
    InvalidConfigError,
    OutputExistsError,
    RemoteExecutionFailedError,
    S3UriNotAllowedError,
)
from .cost import DEFAULT_EPHEMERAL_MB, DEFAULT_MEMORY_MB, CostReport, cost_from_records
from .execution_input import check_custom_data, check_presign_seconds, offload_if_large
from .executions import console_url, execution_arn_for, load_history, load_records
from .heartbeat import HEARTBEAT_DIR, Heartbeat
from .history import ExecutionError, ExecutionRecord, parse_history
from .hygiene import Project, Removal, list_projects, remove_projects, remove_render
from .listing import RenderListing, list_renders
from .progress import DEFAULT_STUCK_AFTER_S, Progress, accrued_usd, build_progress
from .quotas import Quotas, read_quotas
from .stack import AwsTarget, Stack, find_stack
from .upload import UploadResult, project_archive, upload_archive

FINISHED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
OUTPUT_SUFFIX = {
    "mp4": ".mp4", "mov": ".mov", "webm": ".webm", "png-sequence": ".tar.gz", "gif": ".gif",
    "aac": ".m4a", "mp3": ".mp3", "wav": ".wav",
}  # fmt: skip
PRESIGN_SECONDS = 3600
CANCEL_ERROR = "CANCELLED"


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
    url: str | None = None  # presign: a signed GET URL of the output

    def text(self) -> str:
        stages = ", ".join(
            f"{name} {self.stage_seconds[name]:.1f}s"
            for name in ("Plan", "RenderChunks", "Assemble", "AssembleAudioOnly")
            if name in self.stage_seconds
        )
        where = self.output_path or self.output_uri
        text = (
            f"{where}: {self.frames} frames in {self.chunks} chunk(s), wall "
            f"{self.wall_seconds:.1f}s ({stages}), cost ${self.cost.total_usd:.6f} "
            f"(up to ${self.cost.high_usd:.6f}; prices {self.cost.prices.region}, "
            f"read {self.cost.prices.read_on})"
        )
        return f"{text}\n{self.url}" if self.url else text


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
    presign_seconds: int | None = None
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
        stuck_after_s: float = DEFAULT_STUCK_AFTER_S,
    ) -> RenderSummary:
        """Until the execution ends; then download to ``output`` (if given) and summarise.
        A failed execution raises :class:`RemoteExecutionFailedError` with its error."""
        record = self.client.wait(
            self.execution_arn, on_progress=on_progress, poll_s=poll_s, timeout_s=timeout_s,
            stuck_after_s=stuck_after_s,
        )  # fmt: skip
        uploaded = self.upload is not None and self.upload.uploaded
        # The client's own S3 requests: HeadObject (+ PutObject) of the upload, the download.
        client_s3 = (int(self.upload is not None) + int(output is not None), int(uploaded))
        summary = self.client.summarise(self.execution_arn, record, output, client_s3=client_s3)
        if self.presign_seconds:
            summary.url = self.client.presign(summary.output_uri, self.presign_seconds)
        return summary

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
        self._beats: dict[str, tuple[Any, Heartbeat | None]] = {}

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
        on_warning: Callable[[str], None] | None = None,
        expire_output_days: int | None = None,
        output_key: str | None = None,
        output_uri: str | None = None,
        overwrite: bool = False,
        presign_seconds: int | None = None,
        custom_data: Any = None,
    ) -> RenderJob:
        """Upload (if needed) and start an execution; returns at once. With
        ``on_warning``, the concurrency preflight runs first and tells it when the Map may
        start more chunks than Lambda can run (:meth:`Quotas.warning`).

        The output goes to ``outputs/<name>.<ext>`` in the stack's bucket, or to
        ``output_key`` there, or to ``output_uri`` (``s3://bucket/key``: another bucket
        only when the stack lists it in AllowedOutputBuckets). An existing object there is
        ``OUTPUT_EXISTS`` before anything is uploaded or started, unless ``overwrite``.
        ``presign_seconds`` adds a signed GET URL of the output to the summary and the
        webhook; ``custom_data`` (JSON, at most 1 KiB) is echoed in the webhook. An input
        over Step Functions' 256 KiB has its Config offloaded to S3
        (:mod:`.execution_input`)."""
        if custom_data is not None:
            check_custom_data(custom_data, "customData")
        if presign_seconds is not None:
            check_presign_seconds(presign_seconds, "presign")
        if on_warning is not None:
            warning = self.quotas().warning()
            if warning:
                on_warning(warning)
        config = dict(config or {})
        if expire_output_days is not None:
            config["outputExpiresInDays"] = expire_output_days
        if variables is not None:
            config["variables"] = variables
        run = name or f"render-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        suffix = OUTPUT_SUFFIX.get(str(config.get("format", "mp4")), ".mp4")
        bucket = self.stack.bucket
        output = self.output_location(
            output_key=output_key, output_uri=output_uri, default_key=f"outputs/{run}{suffix}"
        )
        if not overwrite and self._exists(output):
            raise OutputExistsError(
                f"{output} already exists: pass --overwrite (overwrite=True) to replace it, "
                "or choose another --output-key"
            )
        upload = self.upload_project(project, str(config.get("entryFile", "index.html")))
        execution_input: dict[str, Any] = {
            "ProjectS3Uri": upload.uri,
            "PlanOutputS3Prefix": f"s3://{bucket}/renders/{run}/",
            "OutputS3Uri": output,
            "Config": config,
        }
        if overwrite:
            execution_input["Overwrite"] = True
        if presign_seconds is not None:
            execution_input["PresignSeconds"] = presign_seconds
        if custom_data is not None:
            execution_input["CustomData"] = custom_data
        if webhook_url:
            execution_input["WebhookUrl"] = webhook_url
            if webhook_secret_arn:
                execution_input["WebhookSecretArn"] = webhook_secret_arn
            if webhook_secret:
                execution_input["WebhookSecret"] = webhook_secret
        execution_input = offload_if_large(
            execution_input, str(execution_input["PlanOutputS3Prefix"]), self._put_intermediate
        )
        job = self.start(execution_input, run, upload)
        job.presign_seconds = presign_seconds
        return job

    def output_location(
        self, *, output_key: str | None, output_uri: str | None, default_key: str
    ) -> str:
        """The output's ``s3://`` URI: ``output_uri``, else ``output_key`` in the stack's
        bucket, else ``default_key`` there. A bucket the stack does not allow is
        ``S3_URI_NOT_ALLOWED`` (the state machine and the function's IAM refuse it too)."""
        if output_key is not None and output_uri is not None:
            raise InvalidConfigError("--output-key and an s3:// --output both name the output")
        if output_uri is None:
            key = default_key if output_key is None else output_key
            if not key or key.startswith("/") or key.endswith("/"):
                raise InvalidConfigError(f"--output-key {key!r}: must name an object (a/b.mp4)")
            return f"s3://{self.stack.bucket}/{key}"
        bucket, _, key = output_uri.removeprefix("s3://").partition("/")
        if not output_uri.startswith("s3://") or not bucket or not key or key.endswith("/"):
            raise InvalidConfigError(f"--output {output_uri!r}: expected s3://bucket/key")
        allowed = (self.stack.bucket, *self.stack.allowed_output_buckets)
        if bucket not in allowed:
            raise S3UriNotAllowedError(
                f"--output {output_uri}: bucket {bucket} is not one the stack may write to "
                f"({', '.join(allowed)}); add it to the template's AllowedOutputBuckets "
                "parameter and deploy again"
            )
        return output_uri

    def presign(self, uri: str, seconds: int) -> str:
        """A signed HTTPS GET URL of ``s3://bucket/key``, valid ``seconds``."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return str(
            self.s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds
            )
        )

    def _put_intermediate(self, uri: str, body: bytes) -> None:
        """An object the render needs only while it runs (an offloaded Config), tagged so
        the bucket's lifecycle rule expires it with the plan and chunks."""
        from .lifecycle import INTERMEDIATE_TAG

        bucket, _, key = uri.removeprefix("s3://").partition("/")
        tagging = "&".join(f"{k}={v}" for k, v in INTERMEDIATE_TAG.items())
        self.s3.put_object(
            Bucket=bucket, Key=key, Body=body, ContentType="application/json", Tagging=tagging
        )

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
        return parse_history(load_history(self.sfn, self.resolve(execution_arn)))

    def list_renders(self, limit: int = 10) -> list[RenderListing]:
        """The stack's newest ``limit`` renders (see :mod:`.listing`)."""
        memory, ephemeral = self.sizes
        return list_renders(
            self.sfn, self.stack.state_machine_arn, limit=limit, memory_mb=memory,
            ephemeral_mb=ephemeral,
        )  # fmt: skip

    def quotas(self) -> Quotas:
        """The account's and the stack's concurrency (see :mod:`.quotas`)."""
        return read_quotas(
            self.target.client("lambda"), self.sfn, self.stack.function_arn,
            self.stack.state_machine_arn,
        )  # fmt: skip

    def remove(self, execution: str, *, output: bool = False) -> Removal:
        """Delete a finished render's intermediates (and its output with ``output``); see
        :mod:`.hygiene`. A running execution is refused: cancel it first."""
        execution_arn = self.resolve(execution)
        described = self.sfn.describe_execution(executionArn=execution_arn)
        if described["status"] == "RUNNING":
            raise ExecutionRunningError(
                f"{execution_arn} is RUNNING: cancel it first (lambda cancel), then rm"
            )
        execution_input = json.loads(described.get("input") or "{}")
        return remove_render(
            self.s3, execution_arn.rsplit(":", 1)[-1], execution_input, output=output
        )

    def projects(self) -> list[Project]:
        return list_projects(self.s3, self.stack.bucket)

    def remove_projects(self, names: list[str]) -> list[str]:
        return remove_projects(self.s3, self.stack.bucket, names)

    def resolve(self, execution: str) -> str:
        """An execution ARN from the ARN or the short render id (the execution's name); an
        ARN is taken as it is (the stack is not looked up)."""
        if execution.startswith("arn:"):
            return execution
        return execution_arn_for(execution, self.stack.state_machine_arn)

    def progress(
        self,
        execution_arn: str,
        *,
        stuck_after_s: float = DEFAULT_STUCK_AFTER_S,
        presign_seconds: int | None = None,
    ) -> Progress:
        """Status and stage; chunks and frames done of the totals, %, ETA, the cost so far;
        the slowest chunks and any stuck one (from the chunks' heartbeats); every error so
        far with its name and cause (failed chunks included). See :mod:`.progress`."""
        execution_arn = self.resolve(execution_arn)
        record = self.record(execution_arn)
        prefix = self._chunk_prefix(record)
        chunk_objects, beats = self._chunk_listing(prefix) if prefix else (0, [])
        now = time.time()
        progress = build_progress(
            execution_arn, record, beats, now, chunk_objects=chunk_objects,
            stuck_after_s=stuck_after_s,
            accrued_usd=accrued_usd(
                record, beats, now, region=record_region(self.stack.state_machine_arn),
                memory_mb=self.sizes[0], ephemeral_mb=self.sizes[1],
            ),
        )  # fmt: skip
        if record.status == "SUCCEEDED" and record.output_uri.startswith("s3://"):
            seconds = presign_seconds or record.input.get("PresignSeconds")
            url = None
            if isinstance(seconds, int) and seconds > 0:
                url = self.presign(record.output_uri, seconds)
            progress = replace(progress, output_uri=record.output_uri, output_url=url)
        return progress

    def _chunk_prefix(self, record: ExecutionRecord) -> str | None:
        """The chunks' key prefix in the stack's bucket (None outside it)."""
        uri = record.input.get("PlanOutputS3Prefix")
        bucket_uri = f"s3://{self.stack.bucket}/"
        if not isinstance(uri, str) or not uri.startswith(bucket_uri):
            return None
        return uri.removeprefix(bucket_uri).rstrip("/") + "/chunks/"

    def _chunk_listing(self, prefix: str) -> tuple[int, list[Heartbeat]]:
        """Chunk objects under ``prefix`` and the heartbeats beside them; a heartbeat is
        fetched again only when its ETag changed since the last poll."""
        count = 0
        beats: list[Heartbeat] = []
        beat_prefix = f"{prefix}{HEARTBEAT_DIR}/"
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.stack.bucket, Prefix=prefix
        ):
            for item in page.get("Contents", []):
                key = str(item["Key"])
                if not key.startswith(beat_prefix):
                    count += 1
                    continue
                cached = self._beats.get(key)
                if cached is None or cached[0] != item.get("ETag"):
                    body = self.s3.get_object(Bucket=self.stack.bucket, Key=key)["Body"].read()
                    cached = (item.get("ETag"), Heartbeat.from_bytes(body))
                    self._beats[key] = cached
                if cached[1] is not None:
                    beats.append(cached[1])
        return count, beats

    def wait(
        self,
        execution_arn: str,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        poll_s: float = 2.0,
        timeout_s: float | None = None,
        stuck_after_s: float = DEFAULT_STUCK_AFTER_S,
    ) -> ExecutionRecord:
        """Poll until the execution ends; a failure raises with the execution's own error."""
        execution_arn = self.resolve(execution_arn)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            progress = self.progress(execution_arn, stuck_after_s=stuck_after_s)
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

    @cached_property
    def sizes(self) -> tuple[int, int]:
        """:meth:`function_sizes`, read once per client."""
        return self.function_sizes()

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
        execution_arn = self.resolve(execution_arn)
        parent, children = load_records(self.sfn, execution_arn)
        memory, ephemeral = self.sizes
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
        uri = record.output_uri
        if output is not None and not (uri.startswith("s3://") and "/" in uri[5:]):
            raise ExecutionOutputMissingError(
                f"{execution_arn} {record.status}, but its result names no output object "
                f"(OutputS3Uri: {uri or 'absent'}): nothing to download to {output}"
            )
        path = self.download(uri, output) if output is not None else None
        return RenderSummary(
            execution_arn=execution_arn, output_uri=uri, output_path=path,
            frames=record.frames_encoded,
            chunks=int(record.output.get("ChunkCount") or record.chunk_total or 0),
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
        execution_arn = self.resolve(execution_arn)
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
        execution_arn = self.resolve(execution_arn)
        described = self.sfn.describe_execution(executionArn=execution_arn)
        if described["status"] not in ("FAILED", "TIMED_OUT", "ABORTED"):
            raise ExecutionNotResumableError(
                f"{execution_arn} is {described['status']}: only a FAILED, TIMED_OUT or "
                "ABORTED execution can be resumed"
            )
        execution_input = json.loads(described["input"])
        base = str(described.get("name") or execution_arn.rsplit(":", 1)[-1])[:60]
        return self.start(execution_input, f"{base}-resume-{secrets.token_hex(3)}")


def record_region(arn: str) -> str:
    return arn.split(":")[3]
