"""What one render cost on AWS, from its Step Functions execution histories.

Inputs are the JSON of ``aws stepfunctions get-execution-history`` for the parent execution
and for every child execution of its Distributed Map (one per chunk). From them:

- **Lambda**: every ``TaskStarted`` -> ``TaskSucceeded``/``TaskFailed``/``TaskTimedOut`` of a
  ``lambda`` task is one invocation; its duration as Step Functions saw it, rounded up to
  the millisecond, is taken as the billed duration (an upper bound: it also holds the
  invoke round trip). Billed GB-seconds = duration x memory; ephemeral storage is billed
  for what is configured beyond the free 512 MB, for the same duration. The handler's own
  ``DurationMs`` (work only, no cold start) is summed beside it.
- **Step Functions** (STANDARD): one state transition per ``…StateEntered`` event, parent
  and children.
- **S3 requests** are not in the histories; they are estimated from the chunk count:
  PUTs = project + plan + audio + N chunks + output, GETs = project + plan x (N + 1) +
  audio + N chunks + the script's download of the output (multipart parts and HEADs not
  counted).

Prices are us-east-1 list prices (x86_64); other regions differ by a few percent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..aws.cost import DEFAULT_EPHEMERAL_MB, DEFAULT_MEMORY_MB, FREE_EPHEMERAL_MB
from ..aws.prices import prices_for

# One price list for the package: aws.prices (the client's cost and estimate use it too).
_PRICES = prices_for("us-east-1")
LAMBDA_GB_SECOND_USD = _PRICES.lambda_gb_second
LAMBDA_REQUEST_USD = _PRICES.lambda_request
EPHEMERAL_GB_SECOND_USD = _PRICES.ephemeral_gb_second
STATE_TRANSITION_USD = _PRICES.sfn_transition
S3_PUT_USD = _PRICES.s3_put
S3_GET_USD = _PRICES.s3_get

PRICE_TEXT = f"""\
cost model (us-east-1 list prices, x86_64):
  Lambda      ${LAMBDA_GB_SECOND_USD:.10f} per GB-second of memory, ${EPHEMERAL_GB_SECOND_USD:.10f}
              per GB-second of ephemeral storage beyond {FREE_EPHEMERAL_MB} MB, $0.20 per million
              requests. At the template's defaults (10240 MB memory, 10240 MB /tmp) one
              minute of rendering is 600 GB-s = $0.0100 + $0.0002 storage.
  Step Fns    $0.025 per 1,000 state transitions (~15 for the parent, ~3 per chunk).
  S3          $0.005 per 1,000 PUTs, $0.0004 per 1,000 GETs (~N+4 PUTs, ~2N+4 GETs per
              render of N chunks); storage is negligible for a run that is torn down.
  Each run's actual cost is computed from its execution histories (billed duration x
  memory) and printed per fixture."""


@dataclass(frozen=True)
class Invocation:
    execution: str
    seconds: float  # billed: Step Functions' TaskStarted -> end, rounded up to 1 ms
    handler_ms: int | None  # the handler's own DurationMs, when it succeeded
    succeeded: bool


@dataclass(frozen=True)
class RunCost:
    invocations: int
    lambda_seconds: float
    handler_seconds: float
    gb_seconds: float
    ephemeral_gb_seconds: float
    state_transitions: int
    s3_puts: int
    s3_gets: int
    lambda_usd: float
    ephemeral_usd: float
    requests_usd: float
    step_functions_usd: float
    s3_usd: float

    @property
    def total_usd(self) -> float:
        return (
            self.lambda_usd
            + self.ephemeral_usd
            + self.requests_usd
            + self.step_functions_usd
            + self.s3_usd
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, float):
                data[key] = round(value, 8 if key.endswith("usd") else 3)
        data["total_usd"] = round(self.total_usd, 8)
        return data


def _timestamp(value: Any) -> float:
    """History timestamps: ISO 8601 (aws cli v2) or epoch seconds (boto3 JSON dumps)."""
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def history_events(document: Any) -> list[dict[str, Any]]:
    events = document.get("events") if isinstance(document, dict) else document
    if not isinstance(events, list):
        raise ValueError("not an execution history: no 'events' list")
    return [e for e in events if isinstance(e, dict)]


def lambda_invocations(events: list[dict[str, Any]], execution: str = "") -> list[Invocation]:
    by_id = {e.get("id"): e for e in events}
    found = []
    for event in events:
        kind = event.get("type")
        if kind not in ("TaskSucceeded", "TaskFailed", "TaskTimedOut"):
            continue
        details: dict[str, Any] = next(
            (v for k, v in event.items() if k.endswith("EventDetails")), {}
        )
        if details.get("resourceType") not in (None, "lambda"):
            continue
        started = by_id.get(event.get("previousEventId"))
        if not started or started.get("type") != "TaskStarted":
            continue
        seconds = _timestamp(event["timestamp"]) - _timestamp(started["timestamp"])
        handler_ms = None
        if kind == "TaskSucceeded":
            try:
                payload = json.loads(details.get("output") or "{}").get("Payload") or {}
                handler_ms = int(payload["DurationMs"])
            except (ValueError, KeyError, TypeError, AttributeError):
                handler_ms = None
        # Rounded to the microsecond first: timestamps are exact to it, floats are not.
        billed = math.ceil(round(max(seconds, 0.0) * 1000, 3)) / 1000
        found.append(Invocation(execution, billed, handler_ms, kind == "TaskSucceeded"))
    return found


def state_transitions(events: list[dict[str, Any]]) -> int:
    return sum(1 for e in events if str(e.get("type", "")).endswith("StateEntered"))


def run_cost(
    histories: Iterable[Path],
    chunks: int,
    memory_mb: int = DEFAULT_MEMORY_MB,
    ephemeral_mb: int = DEFAULT_EPHEMERAL_MB,
) -> RunCost:
    """The cost of one execution (its parent and child histories) of ``chunks`` chunks."""
    invocations: list[Invocation] = []
    transitions = 0
    for path in histories:
        events = history_events(json.loads(path.read_text()))
        invocations.extend(lambda_invocations(events, path.name))
        transitions += state_transitions(events)
    seconds = sum(i.seconds for i in invocations)
    gb_seconds = seconds * memory_mb / 1024
    ephemeral = seconds * max(0, ephemeral_mb - FREE_EPHEMERAL_MB) / 1024
    puts, gets = chunks + 4, 2 * chunks + 4
    return RunCost(
        invocations=len(invocations),
        lambda_seconds=seconds,
        handler_seconds=sum((i.handler_ms or 0) for i in invocations) / 1000,
        gb_seconds=gb_seconds,
        ephemeral_gb_seconds=ephemeral,
        state_transitions=transitions,
        s3_puts=puts,
        s3_gets=gets,
        lambda_usd=gb_seconds * LAMBDA_GB_SECOND_USD,
        ephemeral_usd=ephemeral * EPHEMERAL_GB_SECOND_USD,
        requests_usd=len(invocations) * LAMBDA_REQUEST_USD,
        step_functions_usd=transitions * STATE_TRANSITION_USD,
        s3_usd=puts * S3_PUT_USD + gets * S3_GET_USD,
    )


def execution_seconds(describe: dict[str, Any]) -> float | None:
    """Wall clock of an execution, ``startDate`` -> ``stopDate`` of describe-execution."""
    if not describe.get("startDate") or not describe.get("stopDate"):
        return None
    return _timestamp(describe["stopDate"]) - _timestamp(describe["startDate"])
