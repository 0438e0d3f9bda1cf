"""The batch state machine's Lambda steps (``sam/statemachine/batch.asl.json``).

``batchRow`` turns one Map item (a row's byte range in ``rows.jsonl``) into its render
execution's input; ``batchRowDone`` writes the row's result object (status, output,
duration, cost, error code and cause) and tags a rendered output with the row's hash;
``batchCollect`` writes the results JSONL in row order. Each step sees one row at most:
rows live in S3, never in an execution input or a Map's payload (see
:mod:`hyperframes_lambda.batch.layout` for the objects).
"""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..aws.execution_input import offload_if_large
from ..aws.lifecycle import INTERMEDIATE_TAG
from ..batch.layout import (
    BATCH_FILE,
    RESULTS_FILE,
    ROW_HASH_TAG,
    ROWS_FILE,
    STARTED_DIR,
    execution_name,
    parse_result_key,
    render_prefix,
    result_key,
    row_name,
)
from ..batch.rows import row_from_json, row_hash
from ..errors import (
    BatchRowNotRecordedError,
    InvalidEventError,
    StoredObjectCorruptError,
)
from .storage import classify_client_error

BATCH_ACTIONS = ("batchRow", "batchRowDone", "batchCollect")
ENV_EPHEMERAL_MB = "HYPERFRAMES_EPHEMERAL_STORAGE_MB"

# batch.json per batch, read once per warm container (it never changes).
_batch_files: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


def run_batch_action(event: dict[str, Any], context: Any, s3: Any) -> dict[str, Any]:
    """Run one batch step with the container's S3 client."""
    action = event.get("Action")
    if action == "batchRow":
        return prepare_row(event, s3)
    if action == "batchRowDone":
        return record_row(event.get("State") or {}, context, s3)
    if action == "batchCollect":
        return collect(event, s3)
    raise InvalidEventError(f"unknown batch action {action!r}")


def _split(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise InvalidEventError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _get(s3: Any, bucket: str, key: str, **extra: Any) -> bytes:
    from botocore.exceptions import ClientError

    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read())
    except ClientError as exc:
        raise classify_client_error(exc, "read", f"s3://{bucket}/{key}") from exc


def _put(s3: Any, bucket: str, key: str, body: bytes) -> None:
    from botocore.exceptions import ClientError

    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    except ClientError as exc:
        raise classify_client_error(exc, "write", f"s3://{bucket}/{key}") from exc


def _put_intermediate(s3: Any, uri: str, body: bytes) -> None:
    """An object only the row's render needs (its offloaded Config), tagged to expire
    with the render's plan and chunks."""
    from botocore.exceptions import ClientError

    bucket, key = _split(uri)
    tagging = "&".join(f"{k}={v}" for k, v in INTERMEDIATE_TAG.items())
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, Tagging=tagging)
    except ClientError as exc:
        raise classify_client_error(exc, "write", uri) from exc


def batch_file(s3: Any, prefix_uri: str) -> dict[str, Any]:
    with _lock:
        cached = _batch_files.get(prefix_uri)
    if cached is not None:
        return cached
    bucket, key = _split(prefix_uri)
    try:
        data = json.loads(_get(s3, bucket, key + BATCH_FILE))
    except json.JSONDecodeError as exc:
        raise StoredObjectCorruptError(f"{prefix_uri}{BATCH_FILE}: not JSON ({exc})") from None
    with _lock:
        _batch_files[prefix_uri] = data
    return dict(data)


def _item(event: dict[str, Any]) -> dict[str, Any]:
    item = event.get("Item")
    if not isinstance(item, dict) or not {"Index", "Id", "Offset", "Length"} <= set(item):
        raise InvalidEventError(
            f"a batch step needs Item {{Index, Id, Offset, Length}}, got {item!r}"
        )
    return item


def prepare_row(event: dict[str, Any], s3: Any) -> dict[str, Any]:
    """The row's render input (and name), or ``Skip`` when ``Resume`` finds its output
    already there with the same row hash."""
    prefix = str(event.get("BatchS3Prefix") or "")
    batch_id = str(event.get("BatchId") or "")
    item = _item(event)
    index, offset, length = int(item["Index"]), int(item["Offset"]), int(item["Length"])
    bucket, prefix_key = _split(prefix)
    batch = batch_file(s3, prefix)
    line = _get(s3, bucket, prefix_key + ROWS_FILE, Range=f"bytes={offset}-{offset + length - 1}")
    try:
        stored = json.loads(line)
    except json.JSONDecodeError as exc:
        raise StoredObjectCorruptError(f"{prefix}{ROWS_FILE} row {index + 1}: {exc}") from None
    stored.pop("index", None)
    row = row_from_json(stored, index, int(item.get("Line", index + 1)), f"{prefix}{ROWS_FILE}")
    if row.id != str(item["Id"]):
        raise StoredObjectCorruptError(
            f"{prefix}{ROWS_FILE}: the bytes of row {index + 1} hold id {row.id!r}, the items "
            f"file says {item['Id']!r}"
        )
    config = row.effective_config(batch.get("Config") or {})
    if row.output is None:  # the client resolves every row's output before uploading
        raise StoredObjectCorruptError(f"{prefix}{ROWS_FILE} row {index + 1} names no output")
    output = row.output
    digest = row_hash(str(batch["ProjectS3Uri"]), config, output)
    render_input = {
        "ProjectS3Uri": batch["ProjectS3Uri"],
        "PlanOutputS3Prefix": render_prefix(bucket, batch_id, index),
        "OutputS3Uri": output,
        "Config": config,
    }
    if batch.get("Overwrite"):
        render_input["Overwrite"] = True
    # A row whose Config is too big for an execution input travels as a pointer to it
    # (INPUT_TOO_LARGE if even that does not fit): this step's own result stays small too.
    render_input = offload_if_large(
        render_input, str(render_input["PlanOutputS3Prefix"]),
        lambda uri, body: _put_intermediate(s3, uri, body),
    )  # fmt: skip
    _put(s3, bucket, f"{prefix_key}{STARTED_DIR}/{row_name(index)}", b"")
    skip = bool(event.get("Resume")) and _output_hash(s3, output) == digest
    return {
        "Skip": skip, "Name": execution_name(batch_id, index), "Input": render_input,
        "RowHash": digest, "OutputS3Uri": output, "Id": row.id, "Index": index,
    }  # fmt: skip


def _output_hash(s3: Any, uri: str) -> str | None:
    """The row hash tagged on an existing output; None when there is no output (or tag)."""
    from botocore.exceptions import ClientError

    bucket, key = _split(uri)
    try:
        tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise classify_client_error(exc, "read the tags of", uri) from exc
    return next((str(t["Value"]) for t in tags if t["Key"] == ROW_HASH_TAG), None)


def _tag_output(s3: Any, uri: str, digest: str) -> None:
    """Add the row hash to the output's tags (keeping its lifecycle tag)."""
    from botocore.exceptions import ClientError

    bucket, key = _split(uri)
    try:
        tags = [
            t for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
            if t["Key"] != ROW_HASH_TAG
        ]  # fmt: skip
        tags.append({"Key": ROW_HASH_TAG, "Value": digest})
        s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": tags})
    except ClientError as exc:
        raise classify_client_error(exc, "tag", uri) from exc


def child_failure(failure: dict[str, Any]) -> tuple[str, str, str | None]:
    """(error, cause, child execution ARN) of a caught failure. A failed child render
    surfaces as ``States.TaskFailed`` whose cause is the child's DescribeExecution (keys
    capitalised by the integration): its own error and cause are taken from there."""
    error, cause = str(failure.get("Error") or "States.TaskFailed"), str(failure.get("Cause") or "")
    try:
        described = json.loads(cause)
    except (json.JSONDecodeError, TypeError):
        return error, cause, None
    if not isinstance(described, dict):
        return error, cause, None
    lowered = {str(k).lower(): v for k, v in described.items()}
    arn = lowered.get("executionarn")
    child_error = lowered.get("error")
    if child_error:
        return str(child_error), str(lowered.get("cause") or ""), str(arn) if arn else None
    status = lowered.get("status")
    if status and arn:
        return f"RENDER_{status}", f"the row's render execution ended {status}", str(arn)
    return error, cause, str(arn) if arn else None


def _cost_and_duration(execution_arn: str, context: Any) -> tuple[float | None, float | None]:
    """The row's render cost and wall time from its history (None when unreadable)."""
    try:
        import boto3

        from ..aws.cost import cost_from_records
        from ..aws.executions import load_records

        parent, children = load_records(boto3.client("stepfunctions"), execution_arn)
        report = cost_from_records(
            parent, children, region=execution_arn.split(":")[3],
            memory_mb=int(getattr(context, "memory_limit_in_mb", 0) or 10240),
            ephemeral_mb=int(os.environ.get(ENV_EPHEMERAL_MB, "512")),
        )  # fmt: skip
        return report.total_usd, parent.wall_seconds
    except Exception:  # noqa: BLE001 - a cost we cannot read must not lose the row's result
        return None, None


def record_row(state: dict[str, Any], context: Any, s3: Any) -> dict[str, Any]:
    """Write ``results/<row>-<status>.json``; tag a rendered output with the row hash."""
    item = _item(state)
    index = int(item["Index"])
    prefix = str(state.get("BatchS3Prefix") or "")
    bucket, prefix_key = _split(prefix)
    prepared = state.get("Row") or {}
    rendered = state.get("Render") or {}
    failure = state.get("Failure")
    result: dict[str, Any] = {
        "row": index + 1, "id": str(item["Id"]), "status": "succeeded",
        "output": prepared.get("OutputS3Uri"), "durationS": None, "costUsd": None,
        "frames": None, "error": None, "cause": None, "executionArn": None,
    }  # fmt: skip
    arn: str | None = None
    if isinstance(failure, dict):
        error, cause, arn = child_failure(failure)
        result.update(status="failed", output=None, error=error, cause=cause[:4000])
    elif prepared.get("Skip"):
        result["status"] = "skipped"
    else:
        arn = str(rendered.get("ExecutionArn") or "") or None
        output = rendered.get("Output")
        if isinstance(output, str):
            output = json.loads(output)
        output = output if isinstance(output, dict) else {}
        result["output"] = output.get("OutputS3Uri") or prepared.get("OutputS3Uri")
        result["frames"] = output.get("FramesEncoded")
        if result["output"] and prepared.get("RowHash"):
            _tag_output(s3, str(result["output"]), str(prepared["RowHash"]))
    if arn:
        result["executionArn"] = arn
        cost, duration = _cost_and_duration(arn, context)
        result["costUsd"], result["durationS"] = cost, duration
    body = json.dumps(result, sort_keys=True).encode()
    _put(s3, bucket, result_key(prefix_key, index, str(result["status"])), body)
    return {"Id": result["id"], "Status": result["status"]}


def collect(event: dict[str, Any], s3: Any) -> dict[str, Any]:
    """``results.jsonl`` in row order from the items and the result objects."""
    prefix = str(event.get("BatchS3Prefix") or "")
    bucket, prefix_key = _split(prefix)
    items = json.loads(_get(s3, bucket, str(event.get("ItemsKey") or "")))
    found: dict[int, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{prefix_key}results/"
    ):
        for entry in page.get("Contents", []):
            parsed = parse_result_key(str(entry["Key"]))
            if parsed is not None:
                found[parsed[0]] = str(entry["Key"])  # a later status's key wins (sorted)

    def read(key: str) -> dict[str, Any]:
        return dict(json.loads(_get(s3, bucket, key)))

    with ThreadPoolExecutor(16) as pool:
        records = dict(zip(found, pool.map(read, found.values()), strict=True))
    lines = []
    counts = {"succeeded": 0, "skipped": 0, "failed": 0}
    for item in items:
        index = int(item["Index"])
        record = records.get(index) or {
            "row": index + 1, "id": str(item["Id"]), "status": "failed", "output": None,
            "durationS": None, "costUsd": None, "frames": None,
            "error": BatchRowNotRecordedError.code,
            "cause": "the row ended without a result record (its recording step failed)",
            "executionArn": None,
        }  # fmt: skip
        counts[str(record["status"])] = counts.get(str(record["status"]), 0) + 1
        lines.append(json.dumps(record, sort_keys=True))
    body = ("\n".join(lines) + "\n").encode()
    _put(s3, bucket, prefix_key + RESULTS_FILE, body)
    return {
        "Rows": len(items), "Succeeded": counts["succeeded"], "Skipped": counts["skipped"],
        "Failed": counts["failed"], "ResultsS3Uri": f"{prefix}{RESULTS_FILE}",
    }  # fmt: skip
