"""Progress you can trust: where a render is, from its history and its chunks' heartbeats.

Chunks done is a coarse measure (a render of 8 chunks sits at 0/8 for most of its Map), so
during the Map the frames come from the chunks' heartbeats (:mod:`.heartbeat`): frames
rendered, the overall percentage, a rate and an ETA, the chunks that render slowest, and
any chunk whose frame count has not moved for ``stuck_after_s`` (with its attempt and log
stream). Without heartbeats (a stack whose handler does not write them) the frames come
from the chunks the history shows finished.

Pure functions of (record, heartbeats, now): the client fetches, this module decides; the
tests pass ``now`` instead of waiting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .cost import FREE_EPHEMERAL_MB, cost_from_records
from .heartbeat import Heartbeat
from .history import ExecutionError, ExecutionRecord

DEFAULT_STUCK_AFTER_S = 120.0
SLOWEST = 3
# The share of the whole each stage gets in the percentage: plan, the Map, assemble.
_PLAN_SHARE, _MAP_SHARE = 0.05, 0.90


@dataclass(frozen=True)
class ChunkStatus:
    """One chunk as its heartbeat shows it."""

    index: int
    frames_done: int
    frames_total: int | None
    attempt: int
    seconds: float  # this attempt's running time
    done: bool
    reused: bool
    log_group: str
    log_stream: str

    @property
    def fps(self) -> float | None:
        return self.frames_done / self.seconds if self.seconds > 0 and self.frames_done else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "framesDone": self.frames_done,
            "framesTotal": self.frames_total, "attempt": self.attempt,
            "seconds": round(self.seconds, 1), "done": self.done, "reused": self.reused,
            "logGroup": self.log_group, "logStream": self.log_stream,
        }  # fmt: skip


@dataclass(frozen=True)
class StuckChunk:
    index: int
    attempt: int
    idle_seconds: float
    frames_done: int
    frames_total: int | None
    log_group: str
    log_stream: str

    def __str__(self) -> str:
        total = "?" if self.frames_total is None else self.frames_total
        where = f"log stream {self.log_group} {self.log_stream}" if self.log_stream else "no log"
        return (
            f"chunk {self.index} (attempt {self.attempt}) stuck: no frame for "
            f"{self.idle_seconds:.0f}s at {self.frames_done}/{total}; {where}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "attempt": self.attempt,
            "idleSeconds": round(self.idle_seconds, 1), "framesDone": self.frames_done,
            "framesTotal": self.frames_total, "logGroup": self.log_group,
            "logStream": self.log_stream,
        }  # fmt: skip


@dataclass(frozen=True)
class Progress:
    """Where an execution is. ``frames_done``/``percent``/``eta_seconds``/``cost_usd`` are
    the render's, so far; ``slowest`` and ``stuck`` are chunks (from heartbeats)."""

    execution_arn: str
    status: str
    stage: str  # the last state entered
    chunks_done: int
    chunks_total: int | None
    frames_done: int
    frames_total: int | None
    percent: float
    eta_seconds: float | None
    cost_usd: float | None  # accrued so far (Lambda time of finished and running work)
    errors: list[ExecutionError]
    slowest: list[ChunkStatus] = field(default_factory=list)
    stuck: list[StuckChunk] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # the plan's
    output_uri: str | None = None  # once SUCCEEDED
    output_url: str | None = None  # a signed GET URL of it, when asked for (--presign)

    @property
    def render_id(self) -> str:
        return self.execution_arn.rsplit(":", 1)[-1]

    def line(self) -> str:
        """One line: status, stage, chunks, frames, %, cost so far, ETA."""
        chunks = "?" if self.chunks_total is None else self.chunks_total
        frames = "?" if self.frames_total is None else self.frames_total
        text = (
            f"{self.status} {self.stage}: {self.chunks_done}/{chunks} chunks, "
            f"{self.frames_done}/{frames} frames ({self.percent:.0f}%)"
        )
        if self.cost_usd is not None:
            text += f", ${self.cost_usd:.4f} so far"
        if self.eta_seconds is not None and self.status == "RUNNING":
            text += f", ETA {format_seconds(self.eta_seconds)}"
        return text

    def __str__(self) -> str:
        text = self.line()
        if self.slowest and self.status == "RUNNING":
            slow = ", ".join(
                f"{c.index} ({c.frames_done}/{'?' if c.frames_total is None else c.frames_total}"
                f" in {c.seconds:.0f}s)"
                for c in self.slowest
            )
            text += f"\n  slowest chunks: {slow}"
        for chunk in self.stuck:
            text += f"\n  {chunk}"
        for warning in self.warnings:
            text += f"\n  plan warning: {warning}"
        for error in self.errors:
            text += f"\n  {error.where}: {error.error}: {error.cause[:300]}"
        if self.output_url:
            text += f"\n  output: {self.output_url}"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "renderId": self.render_id, "executionArn": self.execution_arn,
            "status": self.status, "stage": self.stage, "chunksDone": self.chunks_done,
            "chunksTotal": self.chunks_total, "framesDone": self.frames_done,
            "framesTotal": self.frames_total, "percent": round(self.percent, 1),
            "etaSeconds": None if self.eta_seconds is None else round(self.eta_seconds, 1),
            "costUsd": None if self.cost_usd is None else round(self.cost_usd, 6),
            "slowest": [c.as_dict() for c in self.slowest],
            "stuck": [c.as_dict() for c in self.stuck],
            "warnings": self.warnings,
            "errors": [e.__dict__ for e in self.errors],
            "outputS3Uri": self.output_uri, "outputUrl": self.output_url,
        }  # fmt: skip


def format_seconds(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def chunk_statuses(beats: Iterable[Heartbeat], now: float) -> list[ChunkStatus]:
    return [
        ChunkStatus(
            index=b.ChunkIndex,
            frames_done=b.FramesDone,
            frames_total=b.FramesTotal,
            attempt=b.Attempt,
            seconds=b.running_seconds(now),
            done=b.Done,
            reused=b.Reused,
            log_group=b.LogGroup,
            log_stream=b.LogStream,
        )
        for b in sorted(beats, key=lambda b: b.ChunkIndex)
    ]


def stuck_chunks(beats: Iterable[Heartbeat], now: float, stuck_after_s: float) -> list[StuckChunk]:
    """Chunks not done whose frame count has not moved for ``stuck_after_s`` seconds."""
    return [
        StuckChunk(
            index=b.ChunkIndex,
            attempt=b.Attempt,
            idle_seconds=now - b.UpdatedAt,
            frames_done=b.FramesDone,
            frames_total=b.FramesTotal,
            log_group=b.LogGroup,
            log_stream=b.LogStream,
        )
        for b in sorted(beats, key=lambda b: b.ChunkIndex)
        if not b.Done and now - b.UpdatedAt >= stuck_after_s
    ]


def slowest_chunks(statuses: Iterable[ChunkStatus], count: int = SLOWEST) -> list[ChunkStatus]:
    """The chunks rendering slowest (lowest frames per second; none yet counts slowest),
    reused chunks left out."""
    rendered = [s for s in statuses if not s.reused]

    def pace(status: ChunkStatus) -> tuple[float, float]:
        return (status.fps if status.fps is not None else 0.0, -status.seconds)

    return sorted(rendered, key=pace)[:count]


def heartbeat_seconds(beats: Iterable[Heartbeat], now: float) -> tuple[float, int]:
    """Lambda seconds the chunks ran (this attempt and earlier ones) and the attempts."""
    seconds = attempts = 0.0
    for beat in beats:
        seconds += beat.PriorSeconds + beat.running_seconds(now)
        attempts += beat.Attempt
    return seconds, int(attempts)


def accrued_usd(
    record: ExecutionRecord,
    beats: list[Heartbeat],
    now: float,
    *,
    region: str,
    memory_mb: int,
    ephemeral_mb: int,
) -> float:
    """What the execution has cost so far: its history's invocations (a running one counted
    to ``now``) and, while a DISTRIBUTED Map runs (its chunks are in child executions, not
    in this history), the chunks' heartbeat time: memory and ephemeral storage for the
    seconds they ran, one request per attempt."""
    from dataclasses import replace
    from datetime import UTC, datetime

    until = datetime.fromtimestamp(now, UTC)
    calls = [
        replace(c, ended=until) if c.started is not None and c.ended is None else c
        for c in record.invocations
    ]
    report = cost_from_records(
        replace(record, invocations=calls), region=region, memory_mb=memory_mb,
        ephemeral_mb=ephemeral_mb,
    )  # fmt: skip
    total = report.total_usd
    if beats and not record.inline_chunks and not record.chunk_results:
        seconds, attempts = heartbeat_seconds(beats, now)
        prices = report.prices
        extra_gb = max(0, ephemeral_mb - FREE_EPHEMERAL_MB) / 1024
        total += seconds * memory_mb / 1024 * prices.lambda_gb_second
        total += seconds * extra_gb * prices.ephemeral_gb_second
        total += attempts * prices.lambda_request
    return total


def build_progress(
    execution_arn: str,
    record: ExecutionRecord,
    beats: list[Heartbeat],
    now: float,
    *,
    chunk_objects: int = 0,
    stuck_after_s: float = DEFAULT_STUCK_AFTER_S,
    accrued_usd: float | None = None,
) -> Progress:
    """Combine the history (stages, totals, errors) with the heartbeats (frames inside the
    Map). ``chunk_objects`` is how many chunk files are in S3 (chunks done, for a Map whose
    results are not in the history yet)."""
    chunks_total = record.chunk_total
    frames_total = _int(record.plan.get("TotalFrames"))
    errors = list(record.errors)
    failed = [r for r in record.chunk_results if r.get("Failed")]
    for chunk in failed:
        where = f"chunk {chunk.get('ChunkIndex')}"
        errors.insert(0, ExecutionError(where, str(chunk.get("Error")), str(chunk.get("Cause"))))
    inline_done = [c for c in record.inline_chunks if c.succeeded]
    if record.map_exited and chunks_total is not None:
        chunks_done = chunks_total - len(failed)
    elif record.inline_chunks:
        chunks_done = len({c.chunk_index for c in inline_done})
    else:
        chunks_done = max(chunk_objects, sum(1 for b in beats if b.Done))
    if chunks_total is not None:
        chunks_done = min(chunks_done, chunks_total)

    if record.status == "SUCCEEDED":
        frames_done = record.frames_encoded or frames_total or 0
    elif beats:
        frames_done = sum(b.FramesDone for b in beats)
    else:
        frames_done = sum(_int(c.payload.get("FramesEncoded")) or 0 for c in inline_done)
        if record.map_exited and frames_total is not None and not failed:
            frames_done = frames_total
    if frames_total is not None:
        frames_done = min(frames_done, frames_total)

    stage = record.entered_states[-1] if record.entered_states else ""
    percent = _percent(record, frames_done, frames_total)
    eta = _eta(record, frames_done, frames_total, now)
    statuses = chunk_statuses(beats, now)
    running = record.status == "RUNNING"
    return Progress(
        execution_arn=execution_arn, status=record.status, stage=stage,
        chunks_done=chunks_done, chunks_total=chunks_total, frames_done=frames_done,
        frames_total=frames_total, percent=percent, eta_seconds=eta, cost_usd=accrued_usd,
        errors=_unique(errors),
        slowest=slowest_chunks(s for s in statuses if not s.done) if running else [],
        stuck=stuck_chunks(beats, now, stuck_after_s) if running else [],
        warnings=[str(w) for w in record.plan.get("Warnings") or []],
    )  # fmt: skip


def _percent(record: ExecutionRecord, frames_done: int, frames_total: int | None) -> float:
    if record.status == "SUCCEEDED":
        return 100.0
    if not record.plan:
        return 0.0
    share = _PLAN_SHARE
    if frames_total:
        share += _MAP_SHARE * frames_done / frames_total
    if record.map_exited:
        share = _PLAN_SHARE + _MAP_SHARE
    return min(99.0, 100.0 * share)


def _eta(
    record: ExecutionRecord, frames_done: int, frames_total: int | None, now: float
) -> float | None:
    """Remaining frames at the Map's rate so far, plus an assemble as long as the plan took
    (a rough stand-in); None before the first frame."""
    started = record.entered_at.get("RenderChunks")
    if record.status != "RUNNING" or started is None or not frames_total:
        return None
    if record.map_exited:
        return record.stage_seconds.get("Plan", 0.0)
    elapsed = now - started.timestamp()
    if frames_done <= 0 or elapsed <= 0:
        return None
    rate = frames_done / elapsed
    return (frames_total - frames_done) / rate + record.stage_seconds.get("Plan", 0.0)


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _unique(errors: list[ExecutionError]) -> list[ExecutionError]:
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for error in errors:
        key = (error.where, error.error, error.cause)
        if key not in seen:
            seen.add(key)
            unique.append(error)
    return unique
