"""``lambda ls``: the stack's recent renders, newest first, one line each.

Each row reads the execution's own history (one paged ``GetExecutionHistory``): frames,
output and cost come from there. The cost counts the chunks from the Map's results (no
child histories are read per row: that is ``lambda cost``'s job), so a row's cost leaves
out failed chunk attempts; the note in ``docs/aws.md`` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .cost import cost_from_records
from .executions import load_history
from .history import parse_history, timestamp


@dataclass(frozen=True)
class RenderListing:
    render_id: str
    execution_arn: str
    status: str
    started: datetime
    duration_seconds: float | None
    frames: int | None
    output_uri: str
    cost_usd: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "renderId": self.render_id, "executionArn": self.execution_arn,
            "status": self.status, "started": self.started.isoformat(),
            "durationSeconds": None if self.duration_seconds is None
            else round(self.duration_seconds, 1),
            "frames": self.frames, "output": self.output_uri or None,
            "costUsd": None if self.cost_usd is None else round(self.cost_usd, 6),
        }  # fmt: skip


def list_renders(
    sfn: Any, state_machine_arn: str, *, limit: int, memory_mb: int, ephemeral_mb: int
) -> list[RenderListing]:
    """The newest ``limit`` executions of the state machine, each summarised."""
    executions: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(
        stateMachineArn=state_machine_arn, PaginationConfig={"MaxItems": limit}
    ):
        executions.extend(page.get("executions", []))
    executions.sort(key=lambda e: timestamp(e["startDate"]), reverse=True)
    region = state_machine_arn.split(":")[3]
    rows = []
    for execution in executions[:limit]:
        arn = str(execution["executionArn"])
        record = parse_history(load_history(sfn, arn))
        started = timestamp(execution["startDate"]).astimezone(UTC)
        stopped = execution.get("stopDate")
        duration = (timestamp(stopped) - started).total_seconds() if stopped else None
        cost = cost_from_records(
            record, region=region, memory_mb=memory_mb, ephemeral_mb=ephemeral_mb
        )
        frames = record.frames_encoded or None
        rows.append(
            RenderListing(
                render_id=str(execution.get("name") or arn.rsplit(":", 1)[-1]),
                execution_arn=arn,
                status=str(execution["status"]),
                started=started,
                duration_seconds=duration,
                frames=frames,
                output_uri=record.output_uri or str(record.input.get("OutputS3Uri", "")),
                cost_usd=cost.total_usd if record.invocations else None,
            )
        )
    return rows


def render_table(rows: list[RenderListing]) -> str:
    if not rows:
        return "no renders on this stack yet"
    width = max(len("render id"), *(len(row.render_id) for row in rows))
    lines = [
        f"{'render id':<{width}} {'status':<10} {'started (UTC)':<19} {'duration':>9} "
        f"{'frames':>7} {'cost':>10}  output"
    ]
    for row in rows:
        duration = "-" if row.duration_seconds is None else f"{row.duration_seconds:.1f}s"
        frames = "-" if row.frames is None else str(row.frames)
        cost = "-" if row.cost_usd is None else f"${row.cost_usd:.4f}"
        lines.append(
            f"{row.render_id:<{width}} {row.status:<10} {row.started:%Y-%m-%d %H:%M:%S} "
            f"{duration:>9} {frames:>7} {cost:>10}  {row.output_uri}"
        )
    return "\n".join(lines)
