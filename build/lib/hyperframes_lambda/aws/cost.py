"""What a render cost, from its execution history, and what one will cost, before it runs.

Actual cost (:func:`cost_from_records`):

- **Lambda duration**: every invocation (retries and failed attempts included) x the
  memory it ran with. The handler reports its own measured ``DurationMs`` and ``MemoryMb``
  in every result, and the history keeps that result, so the billed duration is read, not
  guessed; a failed attempt (no result) counts its TaskStarted → TaskFailed span. That is
  the low end; the high end counts every invocation's span in the history, which also holds
  the invoke overhead and a cold start's init (Lambda bills init too). An invocation still
  running when its execution ended (stopped, timed out) is billed by Lambda until it
  returns: at least until the execution's end (low), at most the function's timeout (high).
- **Lambda requests**: one per invocation.
- **Ephemeral storage** beyond the free 512 MB, for the same duration.
- **Step Functions** state transitions: every state entered (and every retry), in the
  parent execution (about 13) and in each chunk's child execution (one: its task).
- **S3 requests**: counted from what each invocation did (project GET, plan PUT, chunk
  HEAD/GET/PUT and its heartbeat's HEAD and PUTs, assemble GETs and PUT; single-part
  transfers) plus the client's own.

Prices are data (:mod:`.prices`), per region, with the date they were read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .heartbeat import DEFAULT_INTERVAL_S
from .history import ExecutionRecord, Invocation
from .prices import Prices, prices_for

FREE_EPHEMERAL_MB = 512
DEFAULT_MEMORY_MB = 10240  # sam/template.yaml's LambdaMemoryMb default
DEFAULT_EPHEMERAL_MB = 10240  # sam/template.yaml's EphemeralStorage
DEFAULT_TIMEOUT_S = 900  # sam/template.yaml's LambdaTimeoutSec default


@dataclass(frozen=True)
class CostLine:
    item: str
    quantity: float
    unit: str
    unit_usd: float

    @property
    def usd(self) -> float:
        return self.quantity * self.unit_usd


@dataclass
class CostReport:
    region: str
    prices: Prices
    lines: list[CostLine]
    invocations: int
    billed_ms: int  # the handler-reported durations (failed attempts: their spans)
    span_ms: int  # every invocation's span in the history
    high_usd: float  # with span_ms instead of billed_ms
    notes: list[str] = field(default_factory=list)

    @property
    def total_usd(self) -> float:
        return sum(line.usd for line in self.lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "totalUsd": round(self.total_usd, 8),
            "highUsd": round(self.high_usd, 8),
            "region": self.region,
            "pricesReadOn": self.prices.read_on,
            "invocations": self.invocations,
            "billedMs": self.billed_ms,
            "lines": [
                {"item": x.item, "quantity": x.quantity, "unit": x.unit, "usd": round(x.usd, 8)}
                for x in self.lines
            ],
            "notes": self.notes,
        }

    def table(self) -> str:
        rows = [f"{'item':<34} {'quantity':>14}  {'usd':>12}"]
        for line in self.lines:
            rows.append(
                f"{line.item:<34} {line.quantity:>14,.3f} {line.unit:<0}  {line.usd:>10.6f}"
            )
        rows.append(
            f"{'total':<34} {'':>14}  {self.total_usd:>10.6f} "
            f"(up to {self.high_usd:.6f} with invoke overhead and cold starts)"
        )
        rows.append(
            f"prices: {self.prices.region}, read {self.prices.read_on} ({self.prices.source})"
        )
        rows.extend(f"note: {note}" for note in self.notes)
        return "\n".join(rows)


# S3 requests one invocation makes, by action (GET-class, PUT-class), single-part transfers.
_S3_REQUESTS = {
    "plan": (1, 1),  # GET project; PUT plan (+ PUT audio, added below)
    # HEAD heartbeat, HEAD chunk, GET plan; PUT heartbeat (start, end), PUT chunk; plus a
    # heartbeat PUT per interval of rendering (.heartbeat), added below.
    "renderChunk": (3, 3),
    "renderChunkReused": (2, 2),  # HEAD heartbeat, HEAD chunk; PUT heartbeat (start, end)
    "assemble": (1, 1),  # GET plan (+ one GET per chunk, + audio); PUT output
    "notify": (0, 0),
}


def _s3_requests(
    invocations: Iterable[Invocation], has_audio: bool, chunk_count: int
) -> tuple[int, int]:
    gets = puts = 0
    for call in invocations:
        if not call.succeeded:
            continue
        key = "renderChunkReused" if call.action == "renderChunk" and call.reused else call.action
        get, put = _S3_REQUESTS.get(key, (0, 0))
        gets, puts = gets + get, puts + put
        if call.action == "plan" and has_audio:
            puts += 1
        if key == "renderChunk" and call.duration_ms:
            puts += int(call.duration_ms / 1000 // DEFAULT_INTERVAL_S)
        if call.action == "assemble":
            gets += chunk_count + int(has_audio)
    return gets, puts


def chunk_invocations(
    parent: ExecutionRecord, children: Iterable[ExecutionRecord]
) -> tuple[list[Invocation], int, list[str]]:
    """The chunks' invocations and state transitions not already counted in the parent:
    an INLINE Map's are in the parent's own history; a DISTRIBUTED one's in the children's
    histories when they could be read, else in the Map's results (successful attempts only)."""
    if parent.inline_chunks:
        return parent.inline_chunks, 0, []
    kids = list(children)
    if kids:
        calls = [c for kid in kids for c in kid.invocations]
        return calls, sum(kid.state_transitions for kid in kids), []
    calls = []
    transitions = 0
    for result in parent.chunk_results:
        transitions += 2 if result.get("Failed") else 1
        if result.get("Failed"):
            continue
        calls.append(
            Invocation(
                state="RenderChunk", action="renderChunk", succeeded=True,
                duration_ms=_int(result.get("DurationMs")), memory_mb=_int(result.get("MemoryMb")),
                reused=bool(result.get("Reused", False)),
            )
        )  # fmt: skip
    notes = []
    if parent.chunk_results:
        notes.append(
            "chunk child executions' histories were not available: chunks counted from the "
            "Map's results (successful attempts only)"
        )
    return calls, transitions, notes


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def cost_from_records(
    parent: ExecutionRecord,
    children: Iterable[ExecutionRecord] = (),
    *,
    region: str | None = None,
    memory_mb: int = DEFAULT_MEMORY_MB,
    ephemeral_mb: int = DEFAULT_EPHEMERAL_MB,
    client_s3: tuple[int, int] = (0, 0),
    timeout_s: int = DEFAULT_TIMEOUT_S,
) -> CostReport:
    """The actual cost of one execution. ``memory_mb`` is used for invocations that did not
    report theirs; ``client_s3`` is (GET, PUT) requests the client made itself;
    ``timeout_s`` is the function's timeout, the most an unfinished invocation is billed."""
    prices = prices_for(region)
    chunk_calls, chunk_transitions, notes = chunk_invocations(parent, children)
    calls = [c for c in parent.invocations if c.action != "renderChunk"] + chunk_calls
    gb_ms = gb_ms_high = eph_gb_ms = eph_gb_ms_high = 0.0
    billed_ms = span_ms = 0
    unfinished = 0
    for call in calls:
        memory = call.memory_mb or memory_mb
        billed = call.duration_ms if call.duration_ms is not None else call.span_ms or 0
        span = max(call.span_ms or 0, billed)
        if call.unfinished:
            unfinished += 1
            span = max(span, timeout_s * 1000)
        billed_ms, span_ms = billed_ms + billed, span_ms + span
        gb_ms += billed * memory / 1024
        gb_ms_high += span * memory / 1024
        extra_gb = max(0, ephemeral_mb - FREE_EPHEMERAL_MB) / 1024
        eph_gb_ms += billed * extra_gb
        eph_gb_ms_high += span * extra_gb
    transitions = parent.state_transitions + chunk_transitions
    gets, puts = _s3_requests(calls, bool(parent.plan.get("AudioS3Uri")), parent.chunk_total or 0)
    gets, puts = gets + client_s3[0], puts + client_s3[1]
    lines = [
        CostLine("Lambda duration", gb_ms / 1000, "GB-s", prices.lambda_gb_second),
        CostLine("Lambda requests", len(calls), "req", prices.lambda_request),
        CostLine(
            f"ephemeral storage > {FREE_EPHEMERAL_MB} MB",
            eph_gb_ms / 1000,
            "GB-s",
            prices.ephemeral_gb_second,
        ),
        CostLine("Step Functions transitions", transitions, "tr", prices.sfn_transition),
        CostLine("S3 PUT-class requests", puts, "req", prices.s3_put),
        CostLine("S3 GET-class requests", gets, "req", prices.s3_get),
    ]
    high = sum(x.usd for x in lines) + (
        (gb_ms_high - gb_ms) / 1000 * prices.lambda_gb_second
        + (eph_gb_ms_high - eph_gb_ms) / 1000 * prices.ephemeral_gb_second
    )
    if unfinished:
        notes.append(
            f"{unfinished} invocation(s) were still running when their execution ended: "
            f"billed until they return, counted until the execution's end (low) and up to "
            f"the function's {timeout_s} s timeout (high)"
        )
    if prices.region == "default" and region:
        notes.append(f"no prices for {region}: us-east-1's list prices used")
    return CostReport(
        region=region or prices.region, prices=prices, lines=lines, invocations=len(calls),
        billed_ms=billed_ms, span_ms=span_ms, high_usd=high, notes=notes,
    )  # fmt: skip


# ---- before rendering -----------------------------------------------------------------

# End-to-end rates measured on this project's 2-core machine at 1920x1080 (README,
# Benchmarks): 8.3 fps for busy frames (gradients, noise, particles) up to 25.6 fps for
# flat ones. A 10 GB Lambda has 6 vCPUs; these are taken as its range, scaled by pixels.
_FPS_1080P = (8.0, 26.0)
_CHUNK_OVERHEAD_S = (1.0, 4.0)  # warm browser reuse … cold start (README, Cold start)
_PLAN_S = (1.0, 6.0)
_ASSEMBLE_S = (0.5, 3.0)


@dataclass(frozen=True)
class Estimate:
    low_usd: float
    high_usd: float
    lambda_seconds: tuple[float, float]
    chunks: int
    region: str
    read_on: str

    def as_dict(self) -> dict[str, object]:
        return {
            "lowUsd": round(self.low_usd, 6),
            "highUsd": round(self.high_usd, 6),
            "lambdaSeconds": [round(s, 1) for s in self.lambda_seconds],
            "chunks": self.chunks,
            "region": self.region,
            "pricesReadOn": self.read_on,
        }


def estimate(
    frames: int,
    width: int = 1920,
    height: int = 1080,
    chunks: int = 16,
    *,
    region: str | None = None,
    memory_mb: int = DEFAULT_MEMORY_MB,
    ephemeral_mb: int = DEFAULT_EPHEMERAL_MB,
) -> Estimate:
    """An expected cost range for a render of ``frames`` at ``width``x``height`` split into
    ``chunks``: Lambda time from measured capture rates (flat to busy frames) plus each
    chunk's start-up, Step Functions transitions and S3 requests from the flow's shape."""
    if frames < 1 or chunks < 1 or width < 1 or height < 1:
        raise ValueError("frames, width, height and chunks must be positive")
    chunks = min(chunks, frames)
    region = region or "us-east-1"
    prices = prices_for(region)
    scale = (width * height) / (1920 * 1080)
    bounds = []
    for fps, overhead, plan_s, assemble_s in zip(
        reversed(_FPS_1080P), _CHUNK_OVERHEAD_S, _PLAN_S, _ASSEMBLE_S, strict=True
    ):
        render_s = frames * scale / fps
        bounds.append(plan_s + assemble_s + render_s + chunks * overhead)
    low_s, high_s = bounds
    transitions = 13 + chunks  # the parent's states; each chunk's child execution's task
    gets, puts = 2 + 3 * chunks, 3 + chunks
    requests = 2 + chunks
    extra_gb = max(0, ephemeral_mb - FREE_EPHEMERAL_MB) / 1024

    def usd(seconds: float) -> float:
        return (
            seconds * memory_mb / 1024 * prices.lambda_gb_second
            + seconds * extra_gb * prices.ephemeral_gb_second
            + requests * prices.lambda_request
            + transitions * prices.sfn_transition
            + gets * prices.s3_get
            + puts * prices.s3_put
        )

    return Estimate(
        low_usd=usd(low_s), high_usd=usd(high_s), lambda_seconds=(low_s, high_s),
        chunks=chunks, region=region or prices.region, read_on=prices.read_on,
    )  # fmt: skip
