"""What one smoke or eval render cost on AWS: the AWS client's cost model
(:mod:`hyperframes_lambda.aws.cost`, prices in :mod:`hyperframes_lambda.aws.prices`) applied
to the execution histories the scripts save.

Inputs are the JSON of ``aws stepfunctions get-execution-history`` for the parent execution
and for every child execution of its Distributed Map (one per chunk). One model, one price
list: the figures here are the ones ``hyperframes-lambda-aws`` reports for the same
execution, plus the script's own S3 requests (the output download).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..aws.cost import (
    DEFAULT_EPHEMERAL_MB,
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
    FREE_EPHEMERAL_MB,
    CostReport,
    cost_from_records,
)
from ..aws.history import ExecutionRecord, parse_history, timestamp
from ..aws.prices import prices_for

__all__ = [
    "DEFAULT_EPHEMERAL_MB",
    "DEFAULT_MEMORY_MB",
    "DEFAULT_TIMEOUT_S",
    "PRICE_TEXT",
    "execution_seconds",
    "history_record",
    "run_cost",
]


def _price_text() -> str:
    p = prices_for("us-east-1")
    minute_gb_s = 60 * DEFAULT_MEMORY_MB / 1024
    memory_usd = minute_gb_s * p.lambda_gb_second
    storage_usd = 60 * (DEFAULT_EPHEMERAL_MB - FREE_EPHEMERAL_MB) / 1024 * p.ephemeral_gb_second
    lines = [
        f"cost model (hyperframes_lambda.aws.prices: {p.region} list prices, x86_64, "
        f"read {p.read_on}):",
        f"  Lambda      ${p.lambda_gb_second:.10f} per GB-second of memory, "
        f"${p.ephemeral_gb_second:.10f} per",
        f"              GB-second of ephemeral storage beyond {FREE_EPHEMERAL_MB} MB, "
        f"${p.lambda_request * 1e6:.2f} per million requests.",
        "              At the template's defaults (10240 MB memory, 10240 MB /tmp) one minute",
        f"              of rendering is {minute_gb_s:.0f} GB-s = ${memory_usd:.4f} + "
        f"${storage_usd:.6f} of storage.",
        "              An invocation still running when its execution was stopped is billed",
        "              until it returns: counted to the execution's end (low) and up to the",
        "              function's timeout (high).",
        f"  Step Fns    ${p.sfn_transition * 1000:.3f} per 1,000 state transitions "
        "(~13 for the parent,",
        "              ~1 per chunk, one more per retry).",
        f"  S3          ${p.s3_put * 1000:.4f} per 1,000 PUTs, "
        f"${p.s3_get * 1000:.4f} per 1,000 GETs, counted from what each",
        "              invocation did; storage is negligible for a run that is torn down.",
        "  Each run's cost is computed from its execution histories and printed per fixture.",
    ]
    return "\n".join(lines)


PRICE_TEXT = _price_text()


def history_events(document: Any) -> list[dict[str, Any]]:
    events = document.get("events") if isinstance(document, dict) else document
    if not isinstance(events, list):
        raise ValueError("not an execution history: no 'events' list")
    return [e for e in events if isinstance(e, dict)]


def history_record(path: Path) -> ExecutionRecord:
    """One saved history file, parsed."""
    return parse_history(history_events(json.loads(path.read_text())))


def run_cost(
    parent: Path,
    children: Iterable[Path] = (),
    *,
    region: str | None = None,
    memory_mb: int = DEFAULT_MEMORY_MB,
    ephemeral_mb: int = DEFAULT_EPHEMERAL_MB,
    timeout_s: int = DEFAULT_TIMEOUT_S,
) -> CostReport:
    """The cost of one execution from its parent's and its chunks' saved histories; the
    script's own download of the output is one more GET."""
    return cost_from_records(
        history_record(parent), [history_record(c) for c in children], region=region,
        memory_mb=memory_mb, ephemeral_mb=ephemeral_mb, client_s3=(1, 0), timeout_s=timeout_s,
    )  # fmt: skip


def execution_seconds(describe: dict[str, Any]) -> float | None:
    """Wall clock of an execution, ``startDate`` -> ``stopDate`` of describe-execution."""
    if not describe.get("startDate") or not describe.get("stopDate"):
        return None
    return (timestamp(describe["stopDate"]) - timestamp(describe["startDate"])).total_seconds()
