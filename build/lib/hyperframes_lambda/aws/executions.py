"""Fetch an execution's history, and its chunks' child executions, from Step Functions."""

from __future__ import annotations

import re
from typing import Any

from ..errors import ExecutionNotFoundError
from .history import ExecutionRecord, parse_history


def load_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every event of the execution, oldest first (all pages)."""
    from botocore.exceptions import ClientError

    events: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        try:
            page = sfn.get_execution_history(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"ExecutionDoesNotExist", "InvalidArn", "ResourceNotFound"}:
                raise ExecutionNotFoundError(f"no execution {execution_arn}: {code}") from None
            raise
        events.extend(page.get("events", []))
        token = page.get("nextToken")
        if not token:
            return events


def child_records(sfn: Any, map_run_arn: str | None) -> list[ExecutionRecord]:
    """The Distributed Map's child executions (one per chunk), where the service lists
    them; an empty list where it cannot (the caller falls back to the Map's results)."""
    if not map_run_arn:
        return []
    try:
        children: list[dict[str, Any]] = []
        paginator = sfn.get_paginator("list_executions")
        for page in paginator.paginate(mapRunArn=map_run_arn):
            children.extend(page.get("executions", []))
        records = [parse_history(load_history(sfn, c["executionArn"])) for c in children]
    except Exception:  # noqa: BLE001 - an emulator without map-run listing
        return []
    return [r for r in records if any(c.action == "renderChunk" for c in r.invocations)]


def load_records(sfn: Any, execution_arn: str) -> tuple[ExecutionRecord, list[ExecutionRecord]]:
    parent = parse_history(load_history(sfn, execution_arn))
    return parent, child_records(sfn, parent.map_run_arn)


def console_url(execution_arn: str) -> str:
    region = execution_arn.split(":")[3]
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{execution_arn}"
    )


_NAME = re.compile(r"[A-Za-z0-9_.-]{1,80}")


def execution_arn_for(execution: str, state_machine_arn: str) -> str:
    """``execution`` as an ARN: an ARN as it is; a short render id (the execution's name,
    as ``lambda render`` and ``lambda ls`` print it) as that name in the stack's state
    machine."""
    if execution.startswith("arn:"):
        return execution
    if not _NAME.fullmatch(execution):
        raise ExecutionNotFoundError(
            f"{execution!r} is neither an execution ARN nor a render id (letters, digits, "
            "'-', '_', '.'; at most 80)"
        )
    head, _, machine = state_machine_arn.partition(":stateMachine:")
    return f"{head}:execution:{machine}:{execution}"
