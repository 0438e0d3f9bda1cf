"""Issue 21 item 4 and 6: progress you can trust, and histories of an INLINE-Map stack.

- An INLINE Map (HyperFrames' own template) runs its chunks' tasks in the parent history,
  interleaved, and its ``$.Chunks`` is a list: a canned history of that shape parses with
  frames, chunks and cost right, finished and mid-Map; so does the history moto's
  interpreter writes for our ASL with its Map made INLINE (slow: a real render).
- The chunks' heartbeats (written by the real handler code to S3 on moto) give frames,
  %, the cost so far, the slowest chunks, and a stuck chunk with its attempt and log
  stream; ``now`` is passed in, so no test waits for a wall clock.
- Short render ids resolve to ARNs.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from hyperframes_lambda.aws import cost_from_records, parse_history
from hyperframes_lambda.aws.executions import execution_arn_for
from hyperframes_lambda.aws.heartbeat import Heartbeat, heartbeat_key
from hyperframes_lambda.aws.progress import build_progress
from hyperframes_lambda.errors import ExecutionNotFoundError
from hyperframes_lambda.handler.heartbeat import HeartbeatWriter
from hyperframes_lambda.handler.storage import Storage

from ..conftest import EXAMPLES
from ..local.test_state_machine import (  # noqa: F401 - the machine fixture is used by name
    REGION,
    StateMachine,
    definition_for,
    machine,
    with_rie,
)

T0 = 1_700_000_000
MEM = 10240


class Events:
    """A history under construction: ids in order, each event linked to its previous one
    the way Step Functions links them (``previousEventId``)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, kind: str, t: float, previous: int | None = None, **details: Any) -> int:
        n = len(self.events) + 1
        event: dict[str, Any] = {"id": n, "type": kind, "timestamp": T0 + t, **details}
        event["previousEventId"] = previous if previous is not None else n - 1
        self.events.append(event)
        return n

    def entered(self, kind: str, name: str, t: float) -> int:
        return self.add(kind, t, stateEnteredEventDetails={"name": name})

    def exited(self, kind: str, name: str, t: float, output: Any = None) -> int:
        return self.add(
            kind, t, stateExitedEventDetails={"name": name, "output": json.dumps(output or {})}
        )

    def scheduled(self, t: float, payload: dict[str, Any]) -> int:
        parameters = json.dumps({"FunctionName": "fn", "Payload": payload})
        return self.add(
            "TaskScheduled", t,
            taskScheduledEventDetails={"resourceType": "lambda", "resource": "invoke",
                                       "parameters": parameters},
        )  # fmt: skip

    def started(self, t: float, scheduled: int) -> int:
        return self.add("TaskStarted", t, previous=scheduled)

    def succeeded(self, t: float, started: int, payload: dict[str, Any]) -> int:
        output = json.dumps({"StatusCode": 200, "Payload": payload})
        return self.add(
            "TaskSucceeded", t, previous=started,
            taskSucceededEventDetails={"resourceType": "lambda", "output": output},
        )  # fmt: skip

    def failed(self, t: float, started: int, error: str) -> int:
        return self.add(
            "TaskFailed", t, previous=started,
            taskFailedEventDetails={"error": error, "cause": "injected"},
        )  # fmt: skip


def inline_history(finished: bool = True) -> list[dict[str, Any]]:
    """HyperFrames' INLINE template's shape: Plan 1000 ms; three chunks of 40 frames run
    at once, their events interleaved; chunk 1 fails once (span 500 ms) and is retried;
    the chunks' handler durations are 3000, 2000 (+ the failed 500), 2500 ms; Assemble
    700 ms. ``finished=False`` stops mid-Map, chunk 0 done, chunks 1 and 2 running."""
    h = Events()
    h.add("ExecutionStarted", 0, executionStartedEventDetails={"input": json.dumps({
        "ProjectS3Uri": "s3://b/sites/x/project.tar.gz",
        "PlanOutputS3Prefix": "s3://b/renders/abc/", "OutputS3Uri": "s3://b/renders/abc.mp4",
    })})  # fmt: skip
    h.entered("TaskStateEntered", "Plan", 0.1)
    s = h.scheduled(0.1, {"Action": "plan"})
    st = h.started(0.2, s)
    plan = {"PlanS3Uri": "s3://b/renders/abc/plan.tar.gz", "PlanHash": "h", "ChunkCount": 3,
            "TotalFrames": 120, "Format": "mp4", "HasAudio": False, "AudioS3Uri": None,
            "DurationMs": 1000, "MemoryMb": MEM}  # fmt: skip
    h.succeeded(1.2, st, plan)
    h.exited("TaskStateExited", "Plan", 1.2)
    h.entered("MapStateEntered", "RenderChunks", 1.3)
    h.add("MapStateStarted", 1.3, mapStateStartedEventDetails={"length": 3})
    sched: dict[int, int] = {}
    for i in range(3):
        h.add("MapIterationStarted", 1.3, mapIterationStartedEventDetails={"name": "RenderChunks", "index": i})  # fmt: skip
        h.entered("TaskStateEntered", "RenderChunk", 1.3)
        sched[i] = h.scheduled(1.3, {"Action": "renderChunk", "ChunkIndex": i})
    started = {i: h.started(1.4, sched[i]) for i in range(3)}
    h.failed(1.9, started[1], "BROWSER_CRASHED")
    retry = h.scheduled(3.9, {"Action": "renderChunk", "ChunkIndex": 1})
    started[1] = h.started(4.0, retry)

    def chunk(i: int, ms: int) -> dict[str, Any]:
        return {"ChunkS3Uri": f"s3://b/renders/abc/chunks/{i:04d}.mp4", "ChunkIndex": i,
                "Sha256": "0" * 64, "FramesEncoded": 40, "DurationMs": ms, "MemoryMb": MEM}  # fmt: skip

    h.succeeded(4.4, started[0], chunk(0, 3000))
    h.exited("TaskStateExited", "RenderChunk", 4.4)
    h.add("MapIterationSucceeded", 4.4, mapIterationSucceededEventDetails={"index": 0})
    if not finished:
        return h.events
    h.succeeded(4.0 + 2.1, started[1], chunk(1, 2000))
    h.succeeded(4.0 + 2.2, started[2], chunk(2, 2500))
    results = [
        {"ChunkS3Uri": f"s3://b/renders/abc/chunks/{i:04d}.mp4", "ChunkIndex": i, "Sha256": "0" * 64}
        for i in range(3)
    ]  # fmt: skip
    h.exited("MapStateExited", "RenderChunks", 6.3, {"Plan": plan, "Chunks": results})
    h.entered("TaskStateEntered", "Assemble", 6.3)
    s = h.scheduled(6.3, {"Action": "assemble"})
    st = h.started(6.4, s)
    h.succeeded(7.1, st, {"OutputS3Uri": "s3://b/renders/abc.mp4", "FramesEncoded": 120,
                           "FileSize": 1234, "Sha256": "1" * 64, "DurationMs": 700, "MemoryMb": MEM})  # fmt: skip
    h.exited("TaskStateExited", "Assemble", 7.1)
    h.add("ExecutionSucceeded", 7.2, executionSucceededEventDetails={"output": json.dumps({"Done": True})})  # fmt: skip
    return h.events


def test_an_inline_map_history_reads_with_frames_chunks_and_cost_right() -> None:
    record = parse_history(inline_history())
    assert record.status == "SUCCEEDED"
    assert record.chunk_total == 3 and len(record.chunk_results) == 3
    assert record.frames_encoded == 120 and record.output_uri == "s3://b/renders/abc.mp4"
    chunks = record.inline_chunks
    assert [(c.chunk_index, c.succeeded) for c in chunks] == [
        (0, True), (1, False), (2, True), (1, True),
    ]  # fmt: skip
    # The interleaved tasks were told apart by previousEventId: chunk 1's failure is its own.
    assert chunks[1].error == "BROWSER_CRASHED" and chunks[1].span_ms == 500
    assert chunks[2].duration_ms == 2500 and chunks[3].duration_ms == 2000
    assert [e.where for e in record.errors] == ["chunk 1"]

    report = cost_from_records(record, region="us-east-1", memory_mb=MEM, ephemeral_mb=MEM)
    # Billed: plan 1000 + chunks 3000 + 500 (failed: its span) + 2000 + 2500 + assemble 700.
    assert report.billed_ms == 9700
    lines = {line.item: line for line in report.lines}
    assert lines["Lambda requests"].quantity == 6
    assert lines["Lambda duration"].quantity == pytest.approx(97.0)  # 9.7 s x 10 GB
    # Plan, the Map, three RenderChunk iterations, one retry, Assemble.
    assert lines["Step Functions transitions"].quantity == 7
    assert not any("Map's results" in note for note in report.notes)

    progress = build_progress("arn:aws:states:us-east-1:1:execution:m:abc", record, [], T0 + 8)
    assert (progress.frames_done, progress.frames_total) == (120, 120)
    assert (progress.chunks_done, progress.chunks_total) == (3, 3)
    assert progress.percent == 100 and progress.render_id == "abc"


def test_an_inline_map_mid_render_counts_the_chunks_it_finished() -> None:
    record = parse_history(inline_history(finished=False))
    assert record.status == "RUNNING" and not record.map_exited
    progress = build_progress("arn:x:abc", record, [], T0 + 5)
    assert (progress.chunks_done, progress.chunks_total) == (1, 3)
    assert (progress.frames_done, progress.frames_total) == (40, 120)
    assert 5 < progress.percent < 95
    # 40 frames in 3.7 s of Map: 80 more at that rate, plus a plan-long (1.1 s) assemble.
    assert progress.eta_seconds == pytest.approx(80 / (40 / 3.7) + 1.1)
    assert "40/120 frames" in progress.line() and "ETA" in progress.line()


def beat(index: int, done: int, total: int, updated: float, **fields: Any) -> Heartbeat:
    values: dict[str, Any] = {
        "ChunkIndex": index, "FramesDone": done, "FramesTotal": total, "Attempt": 1,
        "StartedAt": T0 + 2, "UpdatedAt": updated, "LogGroup": "/aws/lambda/fn",
        "LogStream": f"2026/01/01/[$LATEST]{index:032x}",
    }  # fmt: skip
    values.update(fields)
    return Heartbeat(**values)


def test_heartbeats_give_frames_percent_slowest_and_a_stuck_chunk() -> None:
    record = parse_history(inline_history(finished=False)[:8])  # plan done, Map started
    assert record.plan and not record.inline_chunks
    beats = [
        beat(0, 40, 40, T0 + 6, Done=True),
        beat(1, 30, 40, T0 + 9),
        beat(2, 5, 40, T0 + 4, Attempt=2, PriorSeconds=3.0),  # no frame since T0 + 4
    ]
    now = T0 + 10
    progress = build_progress("arn:x:r", record, beats, now, stuck_after_s=5)
    assert (progress.frames_done, progress.frames_total) == (75, 120)
    assert progress.chunks_done == 1
    assert progress.percent == pytest.approx(5 + 90 * 75 / 120)
    assert [c.index for c in progress.slowest] == [2, 1]  # running chunks, slowest first
    [stuck] = progress.stuck
    assert (stuck.index, stuck.attempt, stuck.idle_seconds) == (2, 2, 6)
    assert stuck.log_stream.endswith(f"{2:032x}") and stuck.log_group == "/aws/lambda/fn"
    assert "chunk 2 (attempt 2) stuck" in str(progress) and stuck.log_stream in str(progress)
    # A shorter wait flags nothing; the same chunk done is never stuck.
    assert not build_progress("arn:x:r", record, beats, now, stuck_after_s=7).stuck
    done = [*beats[:2], beat(2, 40, 40, T0 + 4, Done=True)]
    assert not build_progress("arn:x:r", record, done, now, stuck_after_s=5).stuck
    as_json = json.loads(json.dumps(progress.as_dict()))
    assert as_json["stuck"][0]["attempt"] == 2 and as_json["framesDone"] == 75


def test_the_handlers_heartbeat_counts_frames_and_attempts_in_s3(
    bucket: str, tmp_path: Path
) -> None:
    storage = Storage()
    prefix = f"s3://{bucket}/renders/r1/chunks/"
    context = SimpleNamespace(
        aws_request_id="req-1", log_group_name="/aws/lambda/fn",
        log_stream_name="2026/01/01/[$LATEST]abc", memory_limit_in_mb=2048,
    )  # fmt: skip
    log = SimpleNamespace(warning=lambda *a, **k: None)
    first = HeartbeatWriter(storage, prefix, 3, tmp_path, context, log)
    first.start()
    first.set_total(40)
    for i in range(12):
        first.frame(i)
    first.finish(done=False)  # the attempt failed after 12 frames

    s3 = boto3.client("s3")
    key = heartbeat_key("renders/r1/chunks/", 3)
    assert key == "renders/r1/chunks/progress/0003.json"
    seen = Heartbeat.from_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert seen is not None
    assert (seen.FramesDone, seen.FramesTotal, seen.Attempt, seen.Done) == (12, 40, 1, False)
    assert seen.LogStream == "2026/01/01/[$LATEST]abc" and seen.MemoryMb == 2048

    retry = HeartbeatWriter(
        storage, prefix, 3, tmp_path, SimpleNamespace(**{**vars(context), "aws_request_id": "req-2"}), log
    )  # fmt: skip
    retry.start()
    retry.finish(done=True, frames=40)
    seen = Heartbeat.from_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert seen is not None
    assert (seen.FramesDone, seen.Attempt, seen.Done, seen.RequestId) == (40, 2, True, "req-2")
    assert seen.PriorSeconds >= 0


def test_short_render_ids_resolve_to_the_stacks_execution_arns() -> None:
    state_machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:hf-render"
    arn = "arn:aws:states:eu-west-1:123456789012:execution:hf-render:render-1"
    assert execution_arn_for("render-1", state_machine) == arn
    assert execution_arn_for(arn, state_machine) == arn
    with pytest.raises(ExecutionNotFoundError, match="neither an execution ARN"):
        execution_arn_for("no such/id", state_machine)


def test_the_cost_so_far_counts_running_work_and_the_heartbeats() -> None:
    """Mid-Map on a DISTRIBUTED stack: the plan (1000 ms, from the history) plus the
    chunks' heartbeat time (a done 4 s attempt, a running one 8 s in after a 3 s failed
    attempt), at 10 GB; one request per attempt."""
    record = parse_history(inline_history(finished=False)[:8])
    beats = [
        beat(0, 40, 40, T0 + 6, Done=True),  # StartedAt T0 + 2: 4 s
        beat(1, 30, 40, T0 + 9, Attempt=2, PriorSeconds=3.0),  # 8 s so far, + 3 s
    ]
    from hyperframes_lambda.aws.prices import prices_for
    from hyperframes_lambda.aws.progress import accrued_usd

    p = prices_for("us-east-1")
    plan_only = accrued_usd(record, [], T0 + 10, region="us-east-1", memory_mb=MEM,
                            ephemeral_mb=512)  # fmt: skip
    with_chunks = accrued_usd(record, beats, T0 + 10, region="us-east-1", memory_mb=MEM,
                              ephemeral_mb=512)  # fmt: skip
    seconds = 4 + 8 + 3
    expected = seconds * 10 * p.lambda_gb_second + 3 * p.lambda_request
    assert with_chunks - plan_only == pytest.approx(expected, rel=1e-9)
    assert plan_only > 0


def test_the_wait_display_says_a_stuck_chunk_and_a_plan_warning_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from hyperframes_lambda.lambda_cli import ProgressDisplay

    record = parse_history(inline_history(finished=False)[:8])
    record.plan["Warnings"] = ["Config.workerConcurrency is a HyperFrames setting"]
    beats = [beat(0, 5, 40, T0 + 1)]
    display = ProgressDisplay(quiet=False)
    for now in (T0 + 200, T0 + 210):
        display(build_progress("arn:x:r", record, beats, now, stuck_after_s=120))
    err = capsys.readouterr().err
    assert err.count("warning: chunk 0 (attempt 1) stuck: no frame for") == 1
    assert err.count("plan warning: Config.workerConcurrency") == 1
    assert "5/120 frames" in err


@pytest.mark.slow
def test_a_real_inline_map_history_from_moto_reads_right(
    machine: StateMachine,  # noqa: F811 - test_state_machine's fixture
    tmp_path: Path,
) -> None:
    """Our ASL with its Map made INLINE (the shape of HyperFrames' template: the chunks'
    tasks in the parent history, ``$.Chunks`` a plain list), run by moto's interpreter on
    the real handler: the history moto writes parses with frames, chunks and cost right."""
    sm = machine
    with_rie(sm)
    function_arn = next(
        f["FunctionArn"]
        for f in boto3.client(
            "lambda", endpoint_url=sm.endpoint, region_name=REGION
        ).list_functions()["Functions"]
        if f["FunctionName"].endswith(sm.arn.rsplit("-", 1)[1])
    )
    definition = json.loads(definition_for(function_arn, sm.bucket))
    states = definition["States"]
    render = states["RenderChunks"]
    render["ItemProcessor"]["ProcessorConfig"] = {"Mode": "INLINE"}
    del render["ResultSelector"]
    render.pop("Label", None)
    render["Next"] = "Assemble"
    payload = states["Assemble"]["Parameters"]["Payload"]
    payload["ChunkS3Uris.$"] = "$.Chunks[*].ChunkS3Uri"
    payload["ChunkSha256s.$"] = "$.Chunks[*].Sha256"
    role = boto3.client("iam", endpoint_url=sm.endpoint).list_roles()["Roles"][0]["Arn"]
    inline_arn = sm.sfn.create_state_machine(
        name=f"inline-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=role
    )["stateMachineArn"]
    inline = replace(sm, arn=inline_arn)
    project = sm.upload(EXAMPLES / "title-card", tmp_path)
    config = {"width": 320, "height": 180, "chunkSize": 40}
    result = inline.run(inline.execution_input(project, config))
    assert result["status"] == "SUCCEEDED", result

    record = parse_history(inline.history(result["executionArn"]))
    assert record.map_exited and len(record.chunk_results) == 3
    assert sorted(c.chunk_index for c in record.inline_chunks if c.succeeded) == [0, 1, 2]
    assert all(c.duration_ms and c.memory_mb for c in record.inline_chunks)
    assert record.frames_encoded == 120
    report = cost_from_records(record, region=REGION)
    lines = {line.item: line for line in report.lines}
    assert lines["Lambda requests"].quantity == 5  # plan, 3 chunks, assemble
    assert report.billed_ms == sum(c.duration_ms or 0 for c in record.invocations)
    progress = build_progress(result["executionArn"], record, [], T0)
    assert (progress.frames_done, progress.chunks_done, progress.percent) == (120, 3, 100)
