"""Server-side batches: ``lambda render-batch`` against the real ``sam/statemachine/batch.asl.json``.

Both definitions run in moto's Step Functions interpreter (tests/local/test_state_machine.py's
harness): the batch machine's Distributed Map reads the rows index with its ItemReader from
moto's S3, each row starts the real render machine with ``states:startExecution.sync:2``,
and every Lambda invoke (the batch steps, plan, renderChunk, assemble) is delivered to our
handler in real Lambda runtime processes. Rows are tiny (320x180, 2 frames) for 2 cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest

from hyperframes_lambda import cli
from hyperframes_lambda.aws import RenderClient, asl
from hyperframes_lambda.aws.batch import batch_progress, prepare_batch, start_batch
from hyperframes_lambda.batch.layout import ROW_HASH_TAG
from hyperframes_lambda.batch.rows import parse_rows
from hyperframes_lambda.errors import terminal_codes

from ..conftest import COMPOSITIONS
from ..local.test_state_machine import (  # noqa: F401 - the machine fixture is used by name
    REGION,
    StateMachine,
    machine,
    with_rie,
)
from ..pipeline_helpers import decoded
from .test_aws_client import create_stack

CARD = COMPOSITIONS / "batch-card"
CONFIG = {"fps": 10, "crf": 0}  # 0.2 s: 2 frames a row, one chunk
COLOURS = [(255, 0, 0), (0, 0, 255), (0, 160, 0), (255, 255, 0), (0, 255, 255), (255, 0, 255)]


@dataclass
class BatchStack:
    sm: StateMachine
    stack: str
    batch_arn: str

    def target(self) -> list[str]:
        return ["--stack", self.stack, "--region", REGION, "--endpoint-url", self.sm.endpoint]

    def client(self) -> RenderClient:
        return RenderClient(self.stack, region=REGION, endpoint_url=self.sm.endpoint)

    def s3(self) -> Any:
        return boto3.client("s3", endpoint_url=self.sm.endpoint, region_name=REGION)


def batch_definition(function_arn: str, bucket: str, render_arn: str) -> str:
    """The batch ASL file with DefinitionSubstitutions applied as the template maps them."""
    return asl.substitute(
        asl.BATCH_ASL_PATH.read_text(),
        {"RenderFunctionArn": function_arn, "RenderBucketName": bucket,
         "RenderStateMachineArn": render_arn},
    )  # fmt: skip


def make_stack(sm: StateMachine, definition: str | None = None) -> BatchStack:
    """The render machine of the harness, a batch machine beside it, and a CloudFormation
    stack whose outputs name them (as sam/template.yaml's do)."""
    suffix = sm.arn.rsplit("-", 1)[1]
    fn = boto3.client("lambda", endpoint_url=sm.endpoint, region_name=REGION)
    function_arn = next(
        f["FunctionArn"] for f in fn.list_functions()["Functions"]
        if f["FunctionName"].endswith(suffix)
    )  # fmt: skip
    role = f"arn:aws:iam::123456789012:role/hf-render-{suffix}"
    batch_arn = sm.sfn.create_state_machine(
        name=f"hyperframes-batch-{suffix}",
        definition=definition or batch_definition(function_arn, sm.bucket, sm.arn),
        roleArn=role, type="STANDARD",
    )["stateMachineArn"]  # fmt: skip
    name = f"hf-batch-{suffix}"
    create_stack(sm.endpoint, name, {
        "RenderBucketName": sm.bucket, "RenderFunctionArn": function_arn,
        "RenderStateMachineArn": sm.arn, "BatchStateMachineArn": batch_arn,
    })  # fmt: skip
    return BatchStack(sm, name, batch_arn)


@pytest.fixture(autouse=True)
def sfn_integration_casing(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto 5.2's ``states:startExecution`` integration passes the ASL's parameter names
    (``StateMachineArn``, ``Name``, ``Input``: what AWS requires in a definition) straight
    to botocore, which wants ``stateMachineArn``…, and returns botocore's ``executionArn``
    where its own ``.sync:2`` poller (and AWS's integration output) has ``ExecutionArn``:
    both halves of the casing AWS's service integration does. Exactly those two no-op
    hooks of moto's Step Functions task are filled in; the definition stays AWS's."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_sfn as sfn_task,
    )

    cls = sfn_task.StateTaskServiceSfn
    original = cls._normalise_parameters

    def parameters(self: Any, parameters: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original(self, parameters, *args, **kwargs)
        for key in list(parameters):
            parameters[key[:1].lower() + key[1:]] = parameters.pop(key)

    def response(self: Any, response: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(response, dict):
            for key in list(response):
                response[key[:1].upper() + key[1:]] = response.pop(key)

    monkeypatch.setattr(cls, "_normalise_parameters", parameters)
    monkeypatch.setattr(cls, "_normalise_response", response)


@pytest.fixture
def stack(machine: StateMachine) -> Iterator[BatchStack]:  # noqa: F811 - the harness's
    with_rie(machine, AWS_ENDPOINT_URL=machine.endpoint, AWS_DEFAULT_REGION=REGION)
    yield make_stack(machine)


def card_rows(
    count: int,
    *,
    strict_row: int | None = None,
    throw_row: int | None = None,
    big_row: int | None = None,
) -> str:
    lines = []
    for index in range(count):
        colour = COLOURS[index % len(COLOURS)]
        row: dict[str, Any] = {
            "id": f"p{index:02d}",
            "variables": {"name": f"N{index:02d}", "color": "rgb({}, {}, {})".format(*colour)},
        }
        if index % 2 == 0:
            row["outputKey"] = f"videos/p{index:02d}.mp4"  # odd rows: the default key
        if index == strict_row:
            # Strict variables: `name` is declared a string, 42 is a number.
            row["variables"]["name"] = 42
            row["config"] = {"strictVariables": True}
        if index == throw_row:
            row["variables"]["fail"] = True
        if index == big_row:
            # 300 KiB of variables: the row's Config reaches its render through S3.
            row["variables"]["padding"] = "x" * 300_000
        lines.append(json.dumps(row))
    return "\n".join(lines) + "\n"


def strict_error() -> str:
    """What the strict row fails with: INVALID_VARIABLES once the variables schema
    (issue 19 item 1) is in; before it, the plan event refuses the unknown Config key
    (INVALID_EVENT)."""
    return "INVALID_VARIABLES" if "INVALID_VARIABLES" in terminal_codes() else "INVALID_EVENT"


def results_of(bs: BatchStack, batch_id: str) -> list[dict[str, Any]]:
    key = f"batches/{batch_id}/results.jsonl"
    body = bs.s3().get_object(Bucket=bs.sm.bucket, Key=key)["Body"].read()
    return [json.loads(line) for line in body.splitlines()]


def wait_finished(bs: BatchStack, batch_id: str, timeout: float = 1200) -> dict[str, Any]:
    arn = f"{bs.batch_arn.replace(':stateMachine:', ':execution:')}:{batch_id}"
    deadline = time.monotonic() + timeout
    while True:
        described = bs.sm.sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return dict(described)
        assert time.monotonic() < deadline, f"batch still running after {timeout}s"
        time.sleep(0.5)


def background(frame: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in frame[40:80, 100:220].reshape(-1, 3).mean(axis=0))


def planned_rows(bs: BatchStack, batch_id: str) -> set[int]:
    """Rows of ``batch_id`` whose render reached Plan (from the invokes the harness saw)."""
    prefix = f"s3://{bs.sm.bucket}/renders/{batch_id}/"
    return {
        int(str(e["PlanOutputS3Prefix"]).removeprefix(prefix).strip("/"))
        for e in bs.sm.route.events
        if e.get("Action") == "plan" and str(e.get("PlanOutputS3Prefix", "")).startswith(prefix)
    }


# ---- the 20-row batch, then --resume ---------------------------------------------------


@pytest.mark.slow
def test_twenty_rows_two_fail_with_their_codes_then_resume_renders_only_the_missing(
    stack: BatchStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bs = stack
    rows = tmp_path / "rows.jsonl"
    rows.write_text(card_rows(20, strict_row=5, throw_row=12, big_row=9))
    code = cli.main([
        "lambda", "render-batch", str(CARD), "--rows", str(rows), "--config", json.dumps(CONFIG),
        "--max-concurrent-rows", "4", "--name", "b20", "--wait", "--poll", "1", *bs.target(),
    ])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1, captured.err  # two rows failed: exit 1, the batch itself succeeded
    assert "error [BATCH_ROWS_FAILED]: batch b20 SUCCEEDED: 2 of 20 rows failed" in captured.err, (
        captured.out
    )
    assert wait_finished(bs, "b20")["status"] == "SUCCEEDED"
    results = results_of(bs, "b20")
    assert [r["id"] for r in results] == [f"p{i:02d}" for i in range(20)]
    failed = {r["id"]: r for r in results if r["status"] == "failed"}
    assert {k: v["error"] for k, v in failed.items()} == {
        "p05": strict_error(), "p12": "PAGE_SCRIPT_ERROR",
    }  # fmt: skip
    assert "row asked to fail: N12" in failed["p12"]["cause"]
    done = [r for r in results if r["status"] == "succeeded"]
    assert len(done) == 18
    s3 = bs.s3()
    # Row 9's 300 KiB of variables went to its render as an offloaded Config.
    assert (
        s3.head_object(Bucket=bs.sm.bucket, Key="renders/b20/000009/config.json")["ContentLength"]
        > 300_000
    )
    for index, record in enumerate(results):
        if record["status"] != "succeeded":
            continue
        expected = (
            f"s3://{bs.sm.bucket}/videos/p{index:02d}.mp4" if index % 2 == 0
            else f"s3://{bs.sm.bucket}/outputs/b20/p{index:02d}.mp4"
        )  # fmt: skip
        assert record["output"] == expected
        assert record["frames"] == 2 and record["durationS"] > 0 and record["costUsd"] > 0
        key = expected.removeprefix(f"s3://{bs.sm.bucket}/")
        local = tmp_path / f"{record['id']}.mp4"
        s3.download_file(bs.sm.bucket, key, str(local))
        frames = decoded(local, 320, 180)
        assert len(frames) == 2
        colour = COLOURS[index % len(COLOURS)]
        assert all(abs(a - e) <= 12 for a, e in zip(background(frames[0]), colour, strict=True))
        tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bs.sm.bucket, Key=key)["TagSet"]}  # fmt: skip
        assert len(tags[ROW_HASH_TAG]) == 64 and tags["hyperframes-lifecycle"] == "output"
    # Each row's own name on its band: rows 0 and 6 share a colour, not a name.
    bands = {}
    for index in (0, 6):
        frame = decoded(tmp_path / f"p{index:02d}.mp4", 320, 180)[0]
        bands[index] = (frame[124:176] > 200).all(axis=2)
    assert bands[0].sum() > 50 and bands[6].sum() > 50
    assert (bands[0] != bands[6]).sum() > 20, "N00 and N06 must be different text"
    # progress on the finished batch: the batch id works where a render id does.
    assert cli.main(["lambda", "progress", "b20", "--json", *bs.target()]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["status"], shown["rows"], shown["succeeded"], shown["failed"]) == (
        "SUCCEEDED", 20, 18, 2,
    )  # fmt: skip
    assert shown["framesDone"] == 36 and shown["costUsd"] > 0
    assert shown["resultsS3Uri"] == f"s3://{bs.sm.bucket}/batches/b20/results.jsonl"

    # --resume: two outputs gone; only they (and the two failing rows) render again.
    for key in ("videos/p02.mp4", "outputs/b20/p07.mp4"):
        s3.delete_object(Bucket=bs.sm.bucket, Key=key)
    code = cli.main([
        "lambda", "render-batch", "--resume", "b20", "--name", "b20-resumed", "--wait",
        "--poll", "1", "--max-concurrent-rows", "4", *bs.target(),
    ])  # fmt: skip
    assert code == 1, capsys.readouterr().err  # the two bad rows fail again
    resumed = results_of(bs, "b20-resumed")
    assert {r["id"]: r["status"] for r in resumed if r["status"] != "skipped"} == {
        "p02": "succeeded", "p07": "succeeded", "p05": "failed", "p12": "failed",
    }  # fmt: skip
    assert sum(r["status"] == "skipped" for r in resumed) == 16
    # Only those rows' renders reached Plan (the strict row fails in Plan, either code).
    assert planned_rows(bs, "b20-resumed") == {2, 5, 7, 12}
    for key in ("videos/p02.mp4", "outputs/b20/p07.mp4"):  # back where they were
        assert s3.head_object(Bucket=bs.sm.bucket, Key=key)["ContentLength"] > 0


# ---- a client that goes away ---------------------------------------------------------------


@pytest.mark.slow
def test_batch_finishes_after_its_client_is_killed_and_progress_reattaches(
    stack: BatchStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bs = stack
    rows = tmp_path / "rows.jsonl"
    rows.write_text(card_rows(5))
    env = {**os.environ, "AWS_ENDPOINT_URL": bs.sm.endpoint}
    command = str(Path(sys.executable).with_name("hyperframes-lambda"))
    client = subprocess.Popen(
        [command, "lambda", "render-batch", str(CARD),
         "--rows", str(rows), "--config", json.dumps(CONFIG), "--name", "b-killed",
         "--max-concurrent-rows", "1", "--wait", "--poll", "0.5", *bs.target()],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    s3 = bs.s3()
    deadline = time.monotonic() + 600
    while "Contents" not in s3.list_objects_v2(
        Bucket=bs.sm.bucket, Prefix="batches/b-killed/results/"
    ):
        assert client.poll() is None, client.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.3)
    client.send_signal(signal.SIGKILL)  # the laptop closes: no goodbye to anything
    client.wait()
    assert client.returncode == -signal.SIGKILL
    out, _ = client.communicate()
    assert "arn:aws:states:" in out  # it had started the batch
    # Reattach from another process (this one), any number of times, until it is done.
    seen_running = False
    while True:
        assert cli.main(["lambda", "progress", "b-killed", "--json", *bs.target()]) == 0
        shown = json.loads(capsys.readouterr().out)
        seen_running |= shown["status"] == "RUNNING" and 0 < shown["done"] < 5
        if shown["status"] != "RUNNING":
            break
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert seen_running, "progress reattached while the batch was still running"
    assert (shown["status"], shown["succeeded"], shown["failed"], shown["framesDone"]) == (
        "SUCCEEDED", 5, 0, 10,
    )  # fmt: skip
    assert cli.main(["lambda", "progress", "b-killed", *bs.target()]) == 0
    assert (
        "SUCCEEDED 5/5 rows (5 rendered, 0 skipped, 0 failed, 0 running)" in capsys.readouterr().out
    )
    assert [r["status"] for r in results_of(bs, "b-killed")] == ["succeeded"] * 5


# ---- nothing starts -------------------------------------------------------------------------


def test_dry_run_checks_every_row_and_starts_nothing(
    machine: StateMachine,  # noqa: F811 - the harness's fixture
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bs = make_stack(machine)
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        '{"id": "a", "outputKey": "same.mp4"}\n'
        '{"id": "b", "outputKey": "same.mp4"}\n'
        '{"id": "c", "config": {"crf": 99}}\n'
        '{"id": "d", "variables": {"blob": "' + "x" * 300_000 + '"}}\n'
        '{"id": "e", "variables": {"name": 7}, "config": {"strictVariables": true}}\n'
    )
    code = cli.main(["lambda", "render-batch", str(CARD), "--rows", str(rows), "--dry-run",
                     *bs.target()])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1
    assert f"rows a, b all write s3://{bs.sm.bucket}/same.mp4" in captured.out
    assert "row 3 (c): INVALID_CONFIG: Config.crf" in captured.out
    # 300 KiB of variables: not a problem, its Config travels through S3 (and a warning:
    # `blob` is not declared); a strict row's type mismatch is one.
    assert "warning: row 4 (d): its render input is 293 KiB: its Config goes to S3" in captured.out
    assert "row 5 (e): INVALID_VARIABLES: variables.name" in captured.out
    assert "error [BATCH_ROWS_INVALID]: 3 problem(s) in the rows" in captured.err
    assert bs.sm.sfn.list_executions(stateMachineArn=bs.batch_arn)["executions"] == []
    assert "Contents" not in bs.s3().list_objects_v2(Bucket=bs.sm.bucket)  # nothing uploaded
    assert machine.route.events == []
    # A clean file: exit 0, still nothing started.
    rows.write_text('{"id": "a"}\n{"id": "b"}\n')
    assert cli.main(["lambda", "render-batch", str(CARD), "--rows", str(rows), "--dry-run",
                     "--json", *bs.target()]) == 0  # fmt: skip
    plan = json.loads(capsys.readouterr().out)
    assert plan["problems"] == [] and plan["rows"] == 2
    assert bs.sm.sfn.list_executions(stateMachineArn=bs.batch_arn)["executions"] == []


def test_ten_thousand_rows_never_travel_in_an_execution_input(
    machine: StateMachine,  # noqa: F811 - the harness's fixture
    tmp_path: Path,
) -> None:
    """10,000 rows uploaded and started: the batch execution's input is a few hundred bytes,
    every Map item (what a row's child execution receives) well under 1 KiB, the largest
    row render input (one row's variables) a few hundred bytes. The machine here only
    records its input (a Pass state): the rows are the point, not 10,000 renders."""
    recorder = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    bs = make_stack(machine, recorder)
    lines = [
        json.dumps(
            {
                "id": f"user-{i:05d}",
                "variables": {"name": f"User {i}", "color": "#123456"},
                "outputKey": f"videos/{i:05d}.mp4",
            }
        )
        for i in range(10_000)
    ]
    rows = parse_rows(lines)
    client = bs.client()
    plan, _ = prepare_batch(client, CARD, rows, config=CONFIG, name="b10k")
    assert plan.problems == [] and plan.max_input_bytes < 1024
    job = start_batch(client, CARD, rows, config=CONFIG, name="b10k")
    described = bs.sm.sfn.describe_execution(executionArn=job.execution_arn)
    assert len(described["input"].encode()) < 512, described["input"]
    s3 = bs.s3()
    items = json.loads(
        s3.get_object(Bucket=bs.sm.bucket, Key="batches/b10k/items.json")["Body"].read()
    )
    assert len(items) == 10_000
    assert max(len(json.dumps(item)) for item in items) < 128
    # The items address the rows: a ranged GET of item 9,999 is exactly that row.
    last = items[-1]
    body = s3.get_object(
        Bucket=bs.sm.bucket, Key="batches/b10k/rows.jsonl",
        Range=f"bytes={last['Offset']}-{last['Offset'] + last['Length'] - 1}",
    )["Body"].read()  # fmt: skip
    assert json.loads(body)["id"] == "user-09999"
    assert batch_progress(client, "b10k").rows == 10_000


# ---- the cost model --------------------------------------------------------------------------


ROW_CHILD_STATES = ("PrepareRow", "SkipRow", "RenderRow", "RecordRow")


def transitions_of(sfn: Any, execution_arn: str) -> int:
    """State transitions as the cost report counts them (:func:`cost_from_records`: every
    state entered and retried; a Distributed Map's children from the service's listing,
    or from the Map's results where an emulator cannot list them)."""
    from hyperframes_lambda.aws.cost import cost_from_records
    from hyperframes_lambda.aws.executions import load_records

    parent, children = load_records(sfn, execution_arn)
    report = cost_from_records(parent, children, region=REGION)
    lines = {line.item: line for line in report.lines}
    return int(lines["Step Functions transitions"].quantity)


@pytest.mark.slow
def test_cost_model_per_row(stack: BatchStack, tmp_path: Path) -> None:
    """Per row: 5 Lambda invocations (batchRow, plan, renderChunk, assemble, batchRowDone)
    plus one batchCollect per batch; the state transitions of the batch's own Map child and
    of the row's render (with its chunk child) are the same for every row. With
    HF_BATCH_BENCH_JSON set, the numbers are written there (benchmarks/batch_bench.py)."""
    bs = stack
    count = 3
    rows = parse_rows(card_rows(count).splitlines())
    client = bs.client()
    job = start_batch(client, CARD, rows, config=CONFIG, name="bcost", max_concurrent_rows=2)
    assert wait_finished(bs, "bcost")["status"] == "SUCCEEDED"
    results = results_of(bs, "bcost")
    assert [r["status"] for r in results] == ["succeeded"] * count
    actions = [e.get("Action") for e in bs.sm.route.events]
    per_action = {a: actions.count(a) for a in sorted(set(actions), key=str)}
    assert per_action == {
        "assemble": count, "batchCollect": 1, "batchRow": count, "batchRowDone": count,
        "plan": count, "renderChunk": count,
    }  # fmt: skip
    sfn = bs.sm.sfn
    # The batch's own states, and each row's Map child: moto cannot list a Map run's
    # children (ListExecutions by mapRunArn), so a row child counts the 4 states every
    # rendered row passes through (ROW_CHILD_STATES; no retries happened here).
    batch_transitions = transitions_of(sfn, job.execution_arn) + count * len(ROW_CHILD_STATES)
    render_transitions = [transitions_of(sfn, r["executionArn"]) for r in results]
    assert len(set(render_transitions)) == 1, render_transitions
    per_row = {
        "rows": count,
        "lambdaInvocationsPerRow": round(len(actions) / count, 3),
        "batchTransitionsPerRow": round(batch_transitions / count, 3),
        "renderTransitionsPerRow": render_transitions[0],
        "transitionsPerRow": round((batch_transitions + sum(render_transitions)) / count, 3),
        "costUsdPerRow": sum(r["costUsd"] for r in results) / count,
    }
    out = os.environ.get("HF_BATCH_BENCH_JSON")
    if out:
        Path(out).write_text(json.dumps(per_row, indent=2))
