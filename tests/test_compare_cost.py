"""The cost of a run from its execution histories (hyperframes_lambda.compare.cost)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperframes_lambda.compare.cost import (
    EPHEMERAL_GB_SECOND_USD,
    LAMBDA_GB_SECOND_USD,
    STATE_TRANSITION_USD,
    execution_seconds,
    run_cost,
)


def _task(
    first_id: int, start: str, end: str, kind: str = "TaskSucceeded"
) -> list[dict[str, object]]:
    end_details = {"resourceType": "lambda"}
    if kind == "TaskSucceeded":
        end_details["output"] = json.dumps({"Payload": {"DurationMs": 1500}})
    key = kind[0].lower() + kind[1:] + "EventDetails"
    return [
        {"id": first_id, "type": "TaskStateEntered", "timestamp": start},
        {"id": first_id + 1, "previousEventId": first_id, "type": "TaskStarted",
         "timestamp": start, "taskStartedEventDetails": {"resourceType": "lambda"}},
        {"id": first_id + 2, "previousEventId": first_id + 1, "type": kind, "timestamp": end,
         key: end_details},
    ]  # fmt: skip


def test_billed_duration_memory_storage_and_transitions(tmp_path: Path) -> None:
    parent = tmp_path / "parent.json"
    parent.write_text(json.dumps({"events": [
        *_task(1, "2026-11-28T12:00:00+00:00", "2026-11-28T12:00:02.0004+00:00"),
        {"id": 9, "type": "MapStateEntered", "timestamp": "2026-11-28T12:00:02+00:00"},
    ]}))  # fmt: skip
    child = tmp_path / "child.json"
    # A failed attempt is billed too; epoch-second timestamps (boto3 dumps) parse as well.
    child.write_text(json.dumps({"events": _task(1, 1000.0, 1004.0, "TaskFailed")}))
    cost = run_cost([parent, child], chunks=1, memory_mb=2048, ephemeral_mb=10240)
    assert cost.invocations == 2
    assert cost.lambda_seconds == pytest.approx(2.001 + 4.0)  # rounded up to the ms
    assert cost.handler_seconds == pytest.approx(1.5)  # only the successful one reports it
    assert cost.gb_seconds == pytest.approx(6.001 * 2)
    assert cost.ephemeral_gb_seconds == pytest.approx(6.001 * (10240 - 512) / 1024)
    assert cost.state_transitions == 3
    assert cost.lambda_usd == pytest.approx(cost.gb_seconds * LAMBDA_GB_SECOND_USD)
    assert cost.ephemeral_usd == pytest.approx(cost.ephemeral_gb_seconds * EPHEMERAL_GB_SECOND_USD)
    assert cost.step_functions_usd == pytest.approx(3 * STATE_TRANSITION_USD)
    assert (cost.s3_puts, cost.s3_gets) == (5, 6)
    assert cost.total_usd == pytest.approx(
        cost.lambda_usd + cost.ephemeral_usd + cost.requests_usd + cost.step_functions_usd
        + cost.s3_usd
    )  # fmt: skip


def test_not_a_history_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"executionArn": "x"}))
    with pytest.raises(ValueError, match="not an execution history"):
        run_cost([bad], chunks=1)


def test_execution_seconds() -> None:
    assert execution_seconds(
        {"startDate": "2026-11-28T12:00:00+00:00", "stopDate": "2026-11-28T12:01:01.5+00:00"}
    ) == pytest.approx(61.5)
    assert execution_seconds({"startDate": "2026-11-28T12:00:00+00:00"}) is None
