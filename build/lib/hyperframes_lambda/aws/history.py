"""Read a render execution's Step Functions history: invocations, stage times, errors.

The history is the record the client works from: progress (how far the Map got), the
errors with their names and causes, the per-stage wall times, and the numbers cost is
computed from. Every Lambda task of ``render.asl.json`` is ``arn:aws:states:::lambda:invoke``,
whose ``TaskSucceeded`` output holds the handler's own result (``Payload``), including the
``DurationMs`` it measured and the ``MemoryMb`` it ran with. A failed attempt has no
payload; its span (TaskStarted → TaskFailed) stands in for its duration.

Works on the events as boto3 returns them (``timestamp`` a datetime) and on canned JSON
(ISO-8601 strings or epoch seconds), so a saved history can be re-costed offline.

Two shapes of Map are read. Ours is DISTRIBUTED: each chunk is a child execution, and the
parent sees only the Map's result, ``{"Failed": [...], "Results": [...]}``. A stack whose
Map is INLINE (HyperFrames' own template; an older one of ours) runs every chunk's task in
the parent's history, iterations interleaved, and its ``$.Chunks`` is the plain list of
results. Interleaved tasks are told apart by each event's ``previousEventId`` (TaskStarted
points at its TaskScheduled, the end at its TaskStarted), not by their order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

STAGES = ("Plan", "RenderChunks", "Assemble")


def timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return None


@dataclass
class Invocation:
    """One attempt of one Lambda task (a retry is another invocation)."""

    state: str
    action: str
    started: datetime | None = None
    ended: datetime | None = None
    succeeded: bool = False
    duration_ms: int | None = None  # the handler's own measure (success only)
    memory_mb: int | None = None
    reused: bool = False
    error: str | None = None
    cause: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    chunk_index: int | None = None  # renderChunk: the index in its request
    # Started, and its execution ended (stopped, timed out) before it did: the function
    # goes on running, and Lambda bills it, until it returns or reaches its timeout.
    unfinished: bool = False

    @property
    def span_ms(self) -> int | None:
        """TaskStarted -> its end; for an unfinished one, -> the execution's end (the
        least it ran)."""
        if self.started is None or self.ended is None:
            return None
        return max(0, round((self.ended - self.started).total_seconds() * 1000))


@dataclass(frozen=True)
class ExecutionError:
    where: str
    error: str
    cause: str


@dataclass
class ExecutionRecord:
    """What one execution's history says."""

    input: dict[str, Any] = field(default_factory=dict)
    status: str = "RUNNING"
    started: datetime | None = None
    ended: datetime | None = None
    invocations: list[Invocation] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    errors: list[ExecutionError] = field(default_factory=list)
    plan: dict[str, Any] = field(default_factory=dict)  # the plan task's payload
    chunk_results: list[dict[str, Any]] = field(default_factory=list)  # the Map's results
    output: dict[str, Any] = field(default_factory=dict)
    map_run_arn: str | None = None
    map_length: int | None = None
    map_exited: bool = False
    state_transitions: int = 0
    entered_states: list[str] = field(default_factory=list)
    entered_at: dict[str, datetime] = field(default_factory=dict)  # each state's first entry

    @property
    def wall_seconds(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return (self.ended - self.started).total_seconds()

    @property
    def chunk_total(self) -> int | None:
        if self.plan.get("ChunkCount") is not None:
            return int(self.plan["ChunkCount"])
        return self.map_length

    @property
    def failure(self) -> ExecutionError | None:
        return self.errors[-1] if self.errors else None

    @property
    def inline_chunks(self) -> list[Invocation]:
        """The chunks' invocations in this history (an INLINE Map); [] for a DISTRIBUTED
        one, whose chunks run in child executions."""
        return [c for c in self.invocations if c.action == "renderChunk"]

    def _assembled(self) -> dict[str, Any]:
        done = [c for c in self.invocations if c.action == "assemble" and c.succeeded]
        return done[-1].payload if done else {}

    @property
    def frames_encoded(self) -> int:
        """Frames in the output: the execution's result, else the assemble task's."""
        for source in (self.output, self.output.get("Output"), self._assembled()):
            if isinstance(source, dict) and isinstance(source.get("FramesEncoded"), int):
                return int(source["FramesEncoded"])
        return 0

    @property
    def output_uri(self) -> str:
        """The output object: the execution's result, else the assemble task's."""
        for source in (self.output, self.output.get("Output"), self._assembled()):
            if isinstance(source, dict) and source.get("OutputS3Uri"):
                return str(source["OutputS3Uri"])
        return ""


def _details(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event's ``…EventDetails`` object (each event type names its own)."""
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


_TERMINAL = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
}


def parse_history(events: Iterable[Mapping[str, Any]]) -> ExecutionRecord:
    record = ExecutionRecord()
    entered: dict[str, datetime] = {}
    not_yet_scheduled: dict[str, int] = {}  # TaskStateEntered without its first TaskScheduled
    state = ""
    current: Invocation | None = None
    by_event: dict[int, Invocation] = {}  # TaskScheduled/TaskStarted id -> its invocation

    def invocation_of(event: Mapping[str, Any]) -> Invocation | None:
        linked = by_event.get(int(event.get("previousEventId") or 0))
        return linked if linked is not None else current

    call: Invocation | None
    for event in sorted(events, key=lambda e: int(e.get("id", 0))):
        kind = str(event.get("type", ""))
        event_id = int(event.get("id", 0))
        when = timestamp(event["timestamp"]) if "timestamp" in event else None
        if kind == "ExecutionStarted":
            details = event.get("executionStartedEventDetails", {})
            record.input = _json(details.get("input")) or {}
            record.started = when
        elif kind in _TERMINAL:
            record.status = _TERMINAL[kind]
            record.ended = when
            for call in record.invocations:
                if call.started is not None and call.ended is None:
                    call.unfinished, call.ended = True, when
            details = _details(event)
            if kind == "ExecutionSucceeded":
                record.output = _json(details.get("output")) or {}
            else:
                record.errors.append(
                    ExecutionError(
                        "execution",
                        str(details.get("error") or record.status),
                        str(details.get("cause") or ""),
                    )
                )
        elif kind.endswith("StateEntered"):
            name = event.get("stateEnteredEventDetails", {}).get("name", "")
            record.state_transitions += 1
            record.entered_states.append(name)
            entered[name] = when or datetime.now(UTC)
            record.entered_at.setdefault(name, entered[name])
            if kind == "TaskStateEntered":
                state = name
                not_yet_scheduled[name] = not_yet_scheduled.get(name, 0) + 1
        elif kind.endswith("StateExited"):
            details = event.get("stateExitedEventDetails", {})
            name = details.get("name", "")
            if name in entered and when is not None:
                record.stage_seconds[name] = (when - entered[name]).total_seconds()
            if kind == "MapStateExited":
                record.map_exited = True
                output = _json(details.get("output")) or {}
                chunks = output.get("Chunks") if isinstance(output, dict) else None
                # DISTRIBUTED (ours): {"Failed": [...], "Results": [...]}; INLINE: the list.
                results = chunks.get("Results") if isinstance(chunks, dict) else chunks
                if isinstance(results, list):
                    record.chunk_results = [r for r in results if isinstance(r, dict)]
        elif kind == "MapStateStarted":
            record.map_length = event.get("mapStateStartedEventDetails", {}).get("length")
        elif kind == "MapRunStarted":
            record.map_run_arn = event.get("mapRunStartedEventDetails", {}).get("mapRunArn")
        elif kind == "MapRunFailed":
            details = event.get("mapRunFailedEventDetails", {})
            error = str(details.get("error", "MapRunFailed"))
            record.errors.append(ExecutionError("RenderChunks", error, details.get("cause", "")))
        elif kind == "TaskScheduled":
            details = event.get("taskScheduledEventDetails", {})
            if details.get("resourceType") != "lambda":
                continue
            parameters = _json(details.get("parameters")) or {}
            payload = parameters.get("Payload") if isinstance(parameters, dict) else None
            payload = payload if isinstance(payload, dict) else {}
            current = Invocation(state=state, action=str(payload.get("Action", "")))
            if isinstance(payload.get("ChunkIndex"), int):
                current.chunk_index = int(payload["ChunkIndex"])
            record.invocations.append(current)
            by_event[event_id] = current
            if not_yet_scheduled.get(state, 0) > 0:
                not_yet_scheduled[state] -= 1
            else:
                record.state_transitions += 1  # a retry counts as a transition
        elif kind == "TaskStarted" and (call := invocation_of(event)) is not None:
            call.started = when
            by_event[event_id] = call
        elif kind == "TaskSucceeded" and (call := invocation_of(event)) is not None:
            details = event.get("taskSucceededEventDetails", {})
            output = _json(details.get("output")) or {}
            payload = output.get("Payload") if isinstance(output, dict) else None
            payload = payload if isinstance(payload, dict) else {}
            call.ended, call.succeeded, call.payload = when, True, payload
            if isinstance(payload.get("DurationMs"), int | float):
                call.duration_ms = int(payload["DurationMs"])
            if isinstance(payload.get("MemoryMb"), int | float):
                call.memory_mb = int(payload["MemoryMb"])
            call.reused = bool(payload.get("Reused", False))
            if call.action == "plan":
                record.plan = payload
            current = None
        elif kind in {"TaskFailed", "TaskTimedOut", "TaskSubmitFailed", "TaskStartFailed"}:
            details = _details(event)
            error = str(details.get("error") or kind)
            cause = str(details.get("cause") or "")
            call = invocation_of(event)
            if call is not None:
                call.ended, call.error, call.cause = when, error, cause
                current = None
            where = state or "task"
            if call is not None and call.chunk_index is not None:
                where = f"chunk {call.chunk_index}"
            record.errors.append(ExecutionError(where, error, cause))
    return record
