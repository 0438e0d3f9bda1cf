"""The cost of a run from its saved execution histories (hyperframes_lambda.compare.cost,
which applies the AWS client's model and prices): a canned history with a finished
chunk, a chunk whose Lambda was still running when the execution was stopped, ephemeral
storage and state transitions priced as AWS prices them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperframes_lambda.aws.prices import prices_for
from hyperframes_lambda.compare.cost import PRICE_TEXT, execution_seconds, run_cost


def _events(*specs: tuple[str, float, dict[str, object]]) -> dict[str, object]:
    events = []
    for n, (kind, seconds, details) in enumerate(specs, 1):
        event: dict[str, object] = {"id": n, "previousEventId": n - 1, "type": kind,
                                    "timestamp": 1_795_000_000 + seconds}  # fmt: skip
        if kind.endswith("StateEntered"):
            event["stateEnteredEventDetails"] = details
        elif details:
            event[kind[0].lower() + kind[1:] + "EventDetails"] = details
        events.append(event)
    return {"events": events}


def _task(action: str, start: float, ms: int | None, end: float) -> list:
    params = {"resourceType": "lambda", "parameters": json.dumps({"Payload": {"Action": action}})}
    steps: list = [("TaskStateEntered", start, {"name": action}), ("TaskScheduled", start, params),
                   ("TaskStarted", start, {"resourceType": "lambda"})]  # fmt: skip
    if ms is not None:
        out = json.dumps({"Payload": {"DurationMs": ms, "MemoryMb": 10240, "ChunkCount": 2}})
        steps.append(("TaskSucceeded", end, {"resourceType": "lambda", "output": out}))
    return steps


def test_canned_history_priced_as_aws_prices_it(tmp_path: Path) -> None:
    parent = tmp_path / "history-parent.json"
    parent.write_text(json.dumps(_events(
        ("ExecutionStarted", 0, {"input": "{}"}), ("ChoiceStateEntered", 0, {"name": "CheckInput"}),
        *_task("plan", 0.1, 2000, 2.2), ("MapStateEntered", 2.3, {"name": "RenderChunks"}),
        ("MapStateStarted", 2.3, {"length": 2}), ("ExecutionAborted", 10.0, {}),
    )))  # fmt: skip
    done, stopped = tmp_path / "history-chunk-1.json", tmp_path / "history-chunk-2.json"
    done.write_text(json.dumps(_events(("ExecutionStarted", 2.4, {}),
                                       *_task("renderChunk", 2.5, 3000, 5.6),
                                       ("ExecutionSucceeded", 5.7, {}))))  # fmt: skip
    # Stopped with the execution at 10 s: Lambda goes on (and bills) until it returns.
    stopped.write_text(json.dumps(_events(("ExecutionStarted", 2.4, {}),
                                          *_task("renderChunk", 4.0, None, 0),
                                          ("ExecutionAborted", 10.0, {}))))  # fmt: skip
    report = run_cost(parent, [done, stopped], region="us-east-1", timeout_s=900)
    prices = prices_for("us-east-1")
    lines = {line.item: line for line in report.lines}
    # Billed (low): plan 2 s + chunk 3 s + the unfinished chunk until the stop (6 s).
    assert report.invocations == 3 and report.billed_ms == 2000 + 3000 + 6000
    assert lines["Lambda duration"].quantity == pytest.approx(11.0 * 10)  # 10 GB
    # /tmp beyond the free 512 MB, per GB-second: 9.5 GB x 11 s; a minute is $0.000018.
    storage = lines["ephemeral storage > 512 MB"]
    assert storage.quantity == pytest.approx(11.0 * 9.5)
    assert storage.usd == pytest.approx(11.0 * 9.5 * 0.0000000309)
    assert 60 * 9.5 * prices.ephemeral_gb_second == pytest.approx(0.0000176, rel=0.01)
    # States entered: CheckInput, Plan, RenderChunks + one task per chunk's child.
    assert lines["Step Functions transitions"].quantity == 5
    # High: the unfinished invocation up to the 900 s timeout, the finished ones' spans
    # (0.1 s more each: invoke overhead).
    extra_s = (900 - 6) + 0.1 + 0.1
    assert report.high_usd - report.total_usd == pytest.approx(
        extra_s * (10 * prices.lambda_gb_second + 9.5 * prices.ephemeral_gb_second)
    )
    assert any("still running when their execution ended" in n for n in report.notes)
    assert "$0.000018 of storage" in PRICE_TEXT and "~1 per chunk" in PRICE_TEXT


def test_not_a_history_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"executionArn": "x"}))
    with pytest.raises(ValueError, match="not an execution history"):
        run_cost(bad)


def test_execution_seconds() -> None:
    assert execution_seconds(
        {"startDate": "2026-11-28T12:00:00+00:00", "stopDate": "2026-11-28T12:01:01.5+00:00"}
    ) == pytest.approx(61.5)
    assert execution_seconds({"startDate": "2026-11-28T12:00:00+00:00"}) is None
