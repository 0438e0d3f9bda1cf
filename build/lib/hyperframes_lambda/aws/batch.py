"""Server-side batches: ``hyperframes-lambda lambda render-batch PROJECT --rows rows.jsonl``.

The client checks the rows (ids, output collisions, each row's Config and render input
size), uploads the project once and the rows as three objects under
``s3://BUCKET/batches/<batch-id>/`` (:mod:`hyperframes_lambda.batch.layout`), and starts one
execution of the stack's batch state machine whose input is four small fields, whatever
the row count: rows are read from S3 by the Distributed Map's ItemReader and, one at a
time, by the function. Then the caller may go away: :func:`batch_progress` reads the
batch's state from S3 and Step Functions at any time (``lambda progress BATCH``).

``resume`` starts a new batch over an earlier one's rows (or new rows) whose default
outputs keep the earlier batch's names; a row whose output already carries the same row
hash (an object tag written when the row finished) is skipped, not rendered.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..batch.layout import (
    BATCH_FILE,
    ITEMS_FILE,
    RESULTS_FILE,
    ROWS_FILE,
    STARTED_DIR,
    batch_prefix_key,
    parse_result_key,
    row_name,
)
from ..batch.rows import EXECUTION_INPUT_LIMIT, Row, output_collisions, row_from_json
from ..errors import (
    BatchRowsInvalidError,
    ExecutionNotFoundError,
    RenderError,
    StackOutputMissingError,
)
from .execution_input import offload_if_large
from .heartbeat import HEARTBEAT_DIR, Heartbeat
from .upload import project_archive

if TYPE_CHECKING:
    from .client import RenderClient

FINISHED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
_BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
DEFAULT_MAX_CONCURRENT_ROWS = 10
# A row's variables -> one message per undeclared key or mismatched type.
VariableCheck = Callable[[dict[str, Any]], list[str]]


@dataclass(frozen=True)
class RowPlan:
    """One row as it will run: its output, its render input's size, what is wrong."""

    row: Row
    output: str
    config: dict[str, Any]
    input_bytes: int
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # e.g. an undeclared variable without strictVariables
    offloaded: bool = False  # its Config travels through S3 (too big for an input)


@dataclass
class BatchPlan:
    """Every row checked before anything starts (``--dry-run`` prints this)."""

    batch_id: str
    project_uri: str
    rows: list[RowPlan]
    collisions: list[str]

    @property
    def problems(self) -> list[str]:
        lines = [f"row {p.row.index + 1} ({p.row.id}): {x}" for p in self.rows for x in p.problems]
        return [*self.collisions, *lines]

    @property
    def warnings(self) -> list[str]:
        return [f"row {p.row.index + 1} ({p.row.id}): {x}" for p in self.rows for x in p.warnings]

    @property
    def max_input_bytes(self) -> int:
        return max((p.input_bytes for p in self.rows), default=0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "batchId": self.batch_id, "projectS3Uri": self.project_uri, "rows": len(self.rows),
            "maxRowInputBytes": self.max_input_bytes, "problems": self.problems,
            "warnings": self.warnings, "offloadedRows": sum(p.offloaded for p in self.rows),
            "outputs": {p.row.id: p.output for p in self.rows},
        }  # fmt: skip

    def text(self) -> str:
        head = (
            f"{len(self.rows)} rows; largest row render input {self.max_input_bytes / 1024:.1f} "
            f"KiB (limit {EXECUTION_INPUT_LIMIT // 1024} KiB); project {self.project_uri}"
        )
        problems = self.problems
        lines = [head, *(f"warning: {w}" for w in self.warnings)]
        if not problems:
            return "\n".join([*lines, "no problems found: nothing was started (--dry-run)"])
        return "\n".join([*lines, *problems, f"{len(problems)} problem(s); nothing was started"])


def row_config_problems(config: dict[str, Any]) -> list[str]:
    """What the render would refuse in this row's Config (checked again by the plan)."""
    from ..config import parse_config

    try:
        parse_config(config)
    except RenderError as exc:
        return [f"{exc.code}: {exc}"]
    return []


def would_offload(render_input: dict[str, Any]) -> tuple[bool, str | None]:
    """(its Config would travel through S3, the problem when even that cannot fit)."""
    written: list[str] = []
    try:
        offload_if_large(render_input, "s3://check/", lambda uri, _body: written.append(uri))
    except RenderError as exc:
        return True, f"{exc.code}: {exc}"
    return bool(written), None


def plan_rows(
    rows: list[Row],
    *,
    bucket: str,
    batch_id: str,
    outputs_batch_id: str,
    project_uri: str,
    config: dict[str, Any],
    variable_check: VariableCheck | None = None,
    allowed_buckets: tuple[str, ...] = (),
) -> BatchPlan:
    """Each row's effective Config, output and render input (size), with problems: a
    Config the render refuses, variables its composition does not declare (a problem
    under ``strictVariables``, else a warning), an input that cannot fit even with its
    Config in S3, an output bucket the stack does not allow."""
    from .client import OUTPUT_SUFFIX

    planned = []
    for row in rows:
        effective = row.effective_config(config)
        suffix = OUTPUT_SUFFIX.get(str(effective.get("format", "mp4")), ".mp4")
        output = row.s3_output(bucket, outputs_batch_id, suffix)
        render_input = {
            "ProjectS3Uri": project_uri,
            "PlanOutputS3Prefix": f"s3://{bucket}/renders/{batch_id}/{row_name(row.index)}/",
            "OutputS3Uri": output, "Config": effective,
        }  # fmt: skip
        size = len(json.dumps(render_input).encode())
        problems = row_config_problems(effective)
        out_bucket = output.removeprefix("s3://").split("/", 1)[0]
        if out_bucket != bucket and out_bucket not in allowed_buckets:
            problems.append(
                f"S3_URI_NOT_ALLOWED: {output} is outside the stack's bucket and its "
                "AllowedOutputBuckets"
            )
        warnings: list[str] = []
        values = dict(effective.get("variables") or {})
        findings = variable_check(values) if variable_check is not None else []
        if findings and effective.get("strictVariables"):
            problems.append(f"INVALID_VARIABLES: {'; '.join(findings)} (strictVariables)")
        else:
            warnings += findings
        offloaded, too_large = would_offload(render_input)
        if too_large:
            problems.append(too_large)
        if offloaded:
            warnings.append(
                f"its render input is {size / 1024:.0f} KiB: its Config goes to S3 (over Step "
                f"Functions' {EXECUTION_INPUT_LIMIT // 1024} KiB)"
            )
        planned.append(
            RowPlan(row, output, effective, size, tuple(problems), tuple(warnings), offloaded)
        )
    collisions = output_collisions({p.row.id: p.output for p in planned})
    return BatchPlan(batch_id, project_uri, planned, collisions)


@dataclass
class BatchJob:
    """A started batch: ``progress()`` any time, ``wait()`` until it ends."""

    client: RenderClient
    batch_id: str
    execution_arn: str
    rows: int
    execution_input: dict[str, Any]

    def progress(self) -> BatchProgress:
        return batch_progress(self.client, self.batch_id)

    def wait(
        self, on_progress: Callable[[BatchProgress], None] | None = None, *, poll_s: float = 5.0
    ) -> BatchProgress:
        return wait_batch(self.client, self.batch_id, on_progress, poll_s=poll_s)


def new_batch_id(name: str | None) -> str:
    if name is None:
        return f"batch-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    if not _BATCH_ID.match(name):
        raise BatchRowsInvalidError(f"batch name {name!r} must be 1-64 letters, digits, '-' or '_'")
    return name


def batch_machine(client: RenderClient) -> str:
    arn = client.stack.batch_state_machine_arn
    if not arn:
        raise StackOutputMissingError(
            f"stack {client.stack_name!r} has no output BatchStateMachineArn: it predates "
            "batches; redeploy it (lambda deploy) from this version's template"
        )
    return arn


def _stored_rows(client: RenderClient, prefix_key: str) -> tuple[list[Row], dict[str, Any]]:
    """An earlier batch's rows and batch.json."""
    bucket = client.stack.bucket
    try:
        batch = json.loads(
            client.s3.get_object(Bucket=bucket, Key=prefix_key + BATCH_FILE)["Body"].read()
        )
        body = client.s3.get_object(Bucket=bucket, Key=prefix_key + ROWS_FILE)["Body"].read()
    except client.s3.exceptions.NoSuchKey:
        raise ExecutionNotFoundError(
            f"s3://{bucket}/{prefix_key} holds no batch (rows.jsonl, batch.json) to resume"
        ) from None
    rows = []
    for line in body.splitlines():
        data = json.loads(line)
        index = int(data.pop("index"))
        rows.append(_row_at(data, index))
    return rows, batch


def _row_at(data: dict[str, Any], index: int) -> Row:
    return row_from_json(data, index, index + 1)


def prepare_batch(
    client: RenderClient,
    project: str | Path | None,
    rows: list[Row] | None,
    *,
    config: dict[str, Any] | None = None,
    name: str | None = None,
    resume: str | None = None,
    overwrite: bool = False,
    variable_check: VariableCheck | None = None,
) -> tuple[BatchPlan, dict[str, Any]]:
    """The checked plan and batch.json of a batch; nothing is uploaded or started.
    ``variable_check(values)`` returns what is wrong with a row's variables against the
    composition's declarations (the caller reads them: the compile is above this floor)."""
    config = dict(config or {})
    batch_id = new_batch_id(name)
    bucket = client.stack.bucket
    outputs_batch_id = batch_id
    project_uri: str | None = None
    if resume is not None:
        old_rows, old = _stored_rows(client, batch_prefix_key(resume))
        outputs_batch_id = str(old.get("OutputsBatchId") or resume)
        project_uri = str(old["ProjectS3Uri"])
        config = {**dict(old.get("Config") or {}), **config}
        rows = old_rows if rows is None else rows
    if project is not None:
        entry = str(config.get("entryFile", "index.html"))
        project_uri = f"s3://{bucket}/{project_archive(Path(project), entry).key}"
    if rows is None or project_uri is None:
        raise BatchRowsInvalidError("a batch needs a project and --rows (or --resume BATCH)")
    plan = plan_rows(
        rows, bucket=bucket, batch_id=batch_id, outputs_batch_id=outputs_batch_id,
        project_uri=project_uri, config=config, variable_check=variable_check,
        allowed_buckets=client.stack.allowed_output_buckets,
    )  # fmt: skip
    batch = {
        "BatchId": batch_id, "ProjectS3Uri": project_uri, "Config": config, "Rows": len(rows),
        "OutputsBatchId": outputs_batch_id, "ResumeOf": resume, "Overwrite": overwrite,
        "CreatedAt": datetime.now(UTC).isoformat(timespec="seconds"),
    }  # fmt: skip
    return plan, batch


def start_batch(
    client: RenderClient,
    project: str | Path | None,
    rows: list[Row] | None,
    *,
    config: dict[str, Any] | None = None,
    name: str | None = None,
    resume: str | None = None,
    overwrite: bool = False,
    max_concurrent_rows: int = DEFAULT_MAX_CONCURRENT_ROWS,
) -> BatchJob:
    """Check, upload (the project once, the rows as three objects) and start the batch.
    Output collisions refuse the batch; a row whose Config the render will refuse is left
    to fail on its own (with its code in the results), as the others render. An existing
    output fails its row (``OUTPUT_EXISTS``, from the plan) unless ``overwrite``."""
    machine = batch_machine(client)
    plan, batch = prepare_batch(
        client, project, rows, config=config, name=name, resume=resume, overwrite=overwrite
    )
    if plan.collisions:
        raise BatchRowsInvalidError(
            f"{'; '.join(plan.collisions[:5])}: every row needs its own output"
        )
    if project is not None:
        client.upload_project(project, str(batch["Config"].get("entryFile", "index.html")))
    bucket, prefix_key = client.stack.bucket, batch_prefix_key(plan.batch_id)
    lines, items, offset = [], [], 0
    for planned in plan.rows:
        row = planned.row
        stored = Row(row.index, row.line, row.id, row.variables, None, planned.output, row.config)
        data = stored.line_bytes()
        lines.append(data)
        items.append({"Index": row.index, "Id": row.id, "Line": row.line, "Offset": offset,
                      "Length": len(data)})  # fmt: skip
        offset += len(data)
    for key, body in (
        (ROWS_FILE, b"".join(lines)),
        (ITEMS_FILE, json.dumps(items, separators=(",", ":")).encode()),
        (BATCH_FILE, json.dumps(batch, sort_keys=True).encode()),
    ):
        client.s3.put_object(Bucket=bucket, Key=prefix_key + key, Body=body)
    execution_input = {
        "BatchS3Prefix": f"s3://{bucket}/{prefix_key}",
        "ItemsKey": prefix_key + ITEMS_FILE,
        "MaxConcurrentRows": max_concurrent_rows,
        "Resume": resume is not None,
    }
    started = client.sfn.start_execution(
        stateMachineArn=machine, name=plan.batch_id, input=json.dumps(execution_input)
    )
    return BatchJob(client, plan.batch_id, started["executionArn"], len(plan.rows), execution_input)


# ---- progress ------------------------------------------------------------------------------


@dataclass
class BatchProgress:
    """Rows done / skipped / failed / running, frames rendered, cost so far, the failures."""

    batch_id: str
    execution_arn: str
    status: str
    rows: int
    succeeded: int
    skipped: int
    failed: int
    running: int
    frames_done: int
    cost_usd: float
    results_uri: str | None  # the results JSONL, once the batch has written it
    failures: list[dict[str, Any]] = field(default_factory=list)  # {id, error, cause}
    error: str | None = None  # the batch execution's own failure, if any

    @property
    def done(self) -> int:
        return self.succeeded + self.skipped + self.failed

    def line(self) -> str:
        text = (
            f"{self.status} {self.done}/{self.rows} rows ({self.succeeded} rendered, "
            f"{self.skipped} skipped, {self.failed} failed, {self.running} running), "
            f"{self.frames_done} frames, ${self.cost_usd:.4f} so far"
        )
        return text + (f"; results {self.results_uri}" if self.results_uri else "")

    def __str__(self) -> str:
        lines = [f"batch {self.batch_id}: {self.line()}"]
        lines += [f"  row {f['id']}: {f['error']}: {f['cause']}" for f in self.failures[:20]]
        if len(self.failures) > 20:
            lines.append(f"  … {len(self.failures) - 20} more failed rows (see the results)")
        if self.error:
            lines.append(f"  batch error: {self.error}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "batchId": self.batch_id, "executionArn": self.execution_arn, "status": self.status,
            "rows": self.rows, "done": self.done, "succeeded": self.succeeded,
            "skipped": self.skipped, "failed": self.failed, "running": self.running,
            "framesDone": self.frames_done, "costUsd": self.cost_usd,
            "resultsS3Uri": self.results_uri, "failures": self.failures, "error": self.error,
        }  # fmt: skip


_result_cache: dict[tuple[str, str], dict[str, Any]] = {}


def is_batch(client: RenderClient, execution: str) -> bool:
    """Whether ``execution`` (a name or ARN) is an execution of the stack's batch machine."""
    from botocore.exceptions import ClientError

    machine = client.stack.batch_state_machine_arn
    if not machine:
        return False
    if execution.startswith("arn:"):
        return (
            execution.rsplit(":execution:", maxsplit=1)[-1].split(":", maxsplit=1)[0]
            == machine.rsplit(":", 1)[-1]
        )
    from .executions import execution_arn_for

    try:
        client.sfn.describe_execution(executionArn=execution_arn_for(execution, machine))
        return True
    except ClientError:
        return False


def _keys(client: RenderClient, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in client.s3.get_paginator("list_objects_v2").paginate(
        Bucket=client.stack.bucket, Prefix=prefix
    ):
        keys += [str(item["Key"]) for item in page.get("Contents", [])]
    return keys


def batch_progress(client: RenderClient, batch: str) -> BatchProgress:
    """The batch's state now, from its execution and its objects (any client, any time)."""
    from .executions import execution_arn_for

    arn = batch if batch.startswith("arn:") else execution_arn_for(batch, batch_machine(client))
    from botocore.exceptions import ClientError

    try:
        described = client.sfn.describe_execution(executionArn=arn)
    except ClientError as exc:
        raise ExecutionNotFoundError(f"no batch {batch!r}: {exc}") from None
    execution_input = json.loads(described.get("input") or "{}")
    bucket = client.stack.bucket
    prefix_key = str(execution_input.get("BatchS3Prefix", "")).removeprefix(f"s3://{bucket}/")
    batch_id = str(described.get("name") or arn.rsplit(":", 1)[-1])
    items = json.loads(
        client.s3.get_object(Bucket=bucket, Key=str(execution_input["ItemsKey"]))["Body"].read()
    )
    finished: dict[int, tuple[str, str]] = {}
    for key in _keys(client, f"{prefix_key}results/"):
        parsed = parse_result_key(key)
        if parsed is not None:
            finished[parsed[0]] = (parsed[1], key)
    counts = {"succeeded": 0, "skipped": 0, "failed": 0}
    frames, cost, failures = 0, 0.0, []
    for index, (status, key) in sorted(finished.items()):
        counts[status] += 1
        record = _result_cache.get((bucket, key))
        if record is None:
            record = json.loads(client.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            _result_cache[(bucket, key)] = record
        frames += int(record.get("frames") or 0)
        cost += float(record.get("costUsd") or 0.0)
        if status == "failed":
            cause = " ".join(str(record.get("cause") or "").split())
            failures.append({"id": record.get("id"), "row": index + 1,
                             "error": record.get("error"), "cause": cause[:300]})  # fmt: skip
    status = str(described["status"])
    running = 0
    if status == "RUNNING":
        started = {
            int(key.rsplit("/", 1)[-1])
            for key in _keys(client, f"{prefix_key}{STARTED_DIR}/")
            if key.rsplit("/", 1)[-1].isdigit()
        }
        for index in sorted(started - set(finished)):
            running += 1
            frames += _running_frames(client, batch_id, index)
    results_uri = None
    if status == "SUCCEEDED":
        results_uri = f"s3://{bucket}/{prefix_key}{RESULTS_FILE}"
    error = None
    if status in ("FAILED", "TIMED_OUT", "ABORTED"):
        error = f"{described.get('error') or status}: {described.get('cause') or ''}".strip()
    return BatchProgress(
        batch_id, arn, status, len(items), counts["succeeded"], counts["skipped"],
        counts["failed"], running, frames, cost, results_uri, failures, error,
    )  # fmt: skip


def _running_frames(client: RenderClient, batch_id: str, index: int) -> int:
    """Frames a running row's chunks have rendered (their heartbeats)."""
    prefix = f"renders/{batch_id}/{row_name(index)}/chunks/{HEARTBEAT_DIR}/"
    total = 0
    for key in _keys(client, prefix):
        body = client.s3.get_object(Bucket=client.stack.bucket, Key=key)["Body"].read()
        beat = Heartbeat.from_bytes(body)
        total += beat.FramesDone if beat is not None else 0
    return total


def wait_batch(
    client: RenderClient,
    batch: str,
    on_progress: Callable[[BatchProgress], None] | None = None,
    *,
    poll_s: float = 5.0,
) -> BatchProgress:
    """Poll until the batch execution ends; returns the last progress."""
    while True:
        progress = batch_progress(client, batch)
        if on_progress is not None:
            on_progress(progress)
        if progress.status in FINISHED:
            return progress
        time.sleep(poll_s)


def read_results(client: RenderClient, progress: BatchProgress) -> list[dict[str, Any]]:
    """The finished batch's results JSONL, one dict per row in row order."""
    if progress.results_uri is None:
        return []
    key = progress.results_uri.removeprefix(f"s3://{client.stack.bucket}/")
    body = client.s3.get_object(Bucket=client.stack.bucket, Key=key)["Body"].read()
    return [json.loads(line) for line in body.splitlines() if line.strip()]
