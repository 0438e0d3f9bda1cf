"""The AWS client (``hyperframes_lambda.aws``, ``hyperframes-lambda lambda …``) against moto.

Fast tests cover what needs no render: the deterministic archive, the cost of a canned
history (hand-computed), the estimate, webhook signing and delivery to a loopback server,
and stack lookup from a CloudFormation stack created in moto. The slow ones run the real
``sam/statemachine/render.asl.json`` in moto's Step Functions interpreter with Lambda
invokes delivered to our handler (tests/local/test_state_machine.py's harness), found through a
moto CloudFormation stack with the template's output names.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from hyperframes_lambda import cli
from hyperframes_lambda.aws import (
    RenderClient,
    cost_from_records,
    estimate,
    find_stack,
    parse_history,
    project_archive,
    sign,
    verify_webhook,
)
from hyperframes_lambda.aws.stack import AwsTarget
from hyperframes_lambda.aws.webhook import SIGNATURE_HEADER, deliver
from hyperframes_lambda.errors import StackNotFoundError, StackOutputMissingError

from ..conftest import COMPOSITIONS, EXAMPLES, ROOT
from ..http_servers import QuietHandler, loopback_server
from ..local.test_state_machine import (  # noqa: F401 - the machine fixture is used by name
    REGION,
    StateMachine,
    assert_frames_equal,
    local_frames,
    machine,
    with_rie,
)
from ..pipeline_helpers import decoded

# ---- the archive ------------------------------------------------------------------------


def test_project_archive_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / "assets").mkdir(parents=True)
    (project / "index.html").write_text("<html></html>")
    (project / "assets" / "b.txt").write_text("b")
    (project / "node_modules").mkdir()
    (project / "node_modules" / "junk.js").write_text("x")
    first = project_archive(project)
    # New mtimes, a different creation order: the same bytes, the same key.
    time.sleep(0.01)
    (project / "assets" / "b.txt").write_text("b")
    (project / "index.html").touch()
    second = project_archive(project)
    assert first.data == second.data
    assert first.key == f"projects/{hashlib.sha256(first.data).hexdigest()}.tar.gz"
    assert first.files == 2  # node_modules skipped
    assert first.data[4:8] == b"\0\0\0\0", "gzip header mtime is zero"
    (project / "assets" / "b.txt").write_text("changed")
    assert project_archive(project).sha256 != first.sha256


def test_project_archive_names_a_missing_entry_file(tmp_path: Path) -> None:
    from hyperframes_lambda.errors import CompositionError

    with pytest.raises(CompositionError, match=r"has no index\.html"):
        project_archive(tmp_path)


# ---- cost ---------------------------------------------------------------------------------


def _event(n: int, kind: str, t: float, **details: Any) -> dict[str, Any]:
    return {"id": n, "type": kind, "timestamp": 1_700_000_000 + t, **details}


def _task(
    n: int, state: str, action: str, t0: float, t1: float, payload: Any
) -> list[dict[str, Any]]:
    scheduled = {"resourceType": "lambda", "resource": "invoke",
                 "parameters": json.dumps({"Payload": {"Action": action}})}  # fmt: skip
    end = (
        _event(n + 2, "TaskSucceeded", t1, taskSucceededEventDetails={
            "resourceType": "lambda", "output": json.dumps({"StatusCode": 200, "Payload": payload})})
        if payload is not None
        else _event(n + 2, "TaskFailed", t1, taskFailedEventDetails={
            "error": "BROWSER_CRASHED", "cause": "injected"})
    )  # fmt: skip
    return [
        _event(n, "TaskScheduled", t0, taskScheduledEventDetails=scheduled),
        _event(n + 1, "TaskStarted", t0),
        end,
    ]


def canned_history() -> list[dict[str, Any]]:
    """Plan 1200 ms; two chunks 3000 and 2500 ms (the Map's results); Assemble fails once
    after a 700 ms span, then succeeds in 800 ms. 10240 MB everywhere."""
    mem = 10240
    plan = {"PlanS3Uri": "s3://b/renders/r/plan.tar.gz", "ChunkCount": 2, "AudioS3Uri": None,
            "DurationMs": 1200, "MemoryMb": mem}  # fmt: skip
    results = [
        {"Failed": False, "ChunkIndex": 0, "DurationMs": 3000, "MemoryMb": mem, "Reused": False},
        {"Failed": False, "ChunkIndex": 1, "DurationMs": 2500, "MemoryMb": mem, "Reused": False},
    ]
    entered = lambda n, kind, name, t: _event(n, kind, t, stateEnteredEventDetails={"name": name})  # noqa: E731
    exited = lambda n, kind, name, t, out="{}": _event(  # noqa: E731
        n, kind, t, stateExitedEventDetails={"name": name, "output": out}
    )
    return [
        _event(1, "ExecutionStarted", 0, executionStartedEventDetails={"input": "{}"}),
        entered(2, "TaskStateEntered", "Plan", 0.1),
        *_task(3, "Plan", "plan", 0.1, 1.5, plan),
        exited(6, "TaskStateExited", "Plan", 1.5),
        entered(7, "MapStateEntered", "RenderChunks", 1.5),
        _event(8, "MapStateStarted", 1.5, mapStateStartedEventDetails={"length": 2}),
        exited(9, "MapStateExited", "RenderChunks", 5.0, json.dumps({"Chunks": {"Results": results}})),
        entered(10, "TaskStateEntered", "Assemble", 5.0),
        *_task(11, "Assemble", "assemble", 5.0, 5.7, None),
        *_task(14, "Assemble", "assemble", 7.7, 8.6, {"DurationMs": 800, "MemoryMb": mem}),
        exited(17, "TaskStateExited", "Assemble", 8.6),
        _event(18, "ExecutionSucceeded", 8.7, executionSucceededEventDetails={"output": "{}"}),
    ]  # fmt: skip


def test_cost_of_a_canned_history_is_the_hand_computed_sum() -> None:
    record = parse_history(canned_history())
    report = cost_from_records(record, region="us-east-1", memory_mb=10240, ephemeral_mb=10240)
    # Billed: 1200 + 3000 + 2500 + 700 (failed attempt: its span) + 800 = 8200 ms.
    assert report.billed_ms == 8200
    assert report.invocations == 5
    lines = {line.item: line for line in report.lines}
    assert lines["Lambda duration"].quantity == pytest.approx(82.0)  # 8.2 s x 10 GB
    assert lines["Lambda requests"].quantity == 5
    assert lines["ephemeral storage > 512 MB"].quantity == pytest.approx(8.2 * 9.5)
    # Plan, RenderChunks, Assemble, Assemble's retry; one per chunk child (from results).
    assert lines["Step Functions transitions"].quantity == 6
    # GET: plan 1, chunks 2 + 2, assemble 1 + 2 chunks; PUT: plan, 2 chunks, output.
    assert (lines["S3 GET-class requests"].quantity, lines["S3 PUT-class requests"].quantity) == (
        8,
        4,
    )
    expected = (
        82.0 * 0.0000166667 + 5 * 0.2e-6 + 77.9 * 0.0000000309
        + 6 * 0.025 / 1000 + 4 * 0.005 / 1000 + 8 * 0.0004 / 1000
    )  # fmt: skip
    assert report.total_usd == pytest.approx(expected, rel=1e-9)
    assert report.total_usd == pytest.approx(0.00154327611, rel=1e-6)
    assert report.high_usd >= report.total_usd
    assert report.prices.read_on in report.table()
    assert record.stage_seconds["RenderChunks"] == pytest.approx(3.5)
    assert record.wall_seconds == pytest.approx(8.7)


def test_unknown_region_falls_back_and_says_so() -> None:
    report = cost_from_records(parse_history(canned_history()), region="xx-test-1")
    assert report.prices.region == "default"
    assert any("xx-test-1" in note for note in report.notes)


def test_estimate_is_a_range_that_grows_with_the_work() -> None:
    small = estimate(120, 1280, 720, 4)
    big = estimate(1200, 1920, 1080, 16)
    assert 0 < small.low_usd < small.high_usd
    assert big.low_usd > small.low_usd and big.high_usd > small.high_usd
    assert estimate(120, 1280, 720, 500).chunks == 120  # never more chunks than frames
    with pytest.raises(ValueError, match="positive"):
        estimate(0)


# ---- webhooks ------------------------------------------------------------------------------


def test_signature_verifies_only_with_the_right_secret_body_and_time() -> None:
    body = b'{"status": "SUCCEEDED"}'
    header = sign(body, "s3cret", int(time.time()))
    assert verify_webhook(body, header, "s3cret")
    assert verify_webhook(body.decode(), header, "s3cret")
    assert not verify_webhook(body, header, "wrong")
    assert not verify_webhook(body + b" ", header, "s3cret")
    assert not verify_webhook(body, sign(body, "s3cret", int(time.time()) - 3600), "s3cret")
    assert not verify_webhook(body, "garbage", "s3cret")


def test_the_documented_verification_snippet_agrees_with_sign() -> None:
    namespace: dict[str, Any] = {}
    exec(documented_block("### Webhooks"), namespace)
    verify = namespace["verify"]
    body = b'{"status": "FAILED"}'
    header = sign(body, "key", int(time.time()))
    assert verify(body, header, "key")
    assert not verify(body, header, "other")
    assert not verify(body, sign(body, "key", int(time.time()) - 900), "key")


@dataclass
class Receiver:
    url: str
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give, then 200

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A loopback HTTP server that records every POST."""
    state = Receiver("")

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.requests.append((dict(self.headers.items()), body))
            self.send_response(state.statuses.pop(0) if state.statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with loopback_server(Handler) as url:
        state.url = f"{url}/hook"
        yield state


def test_delivery_retries_a_5xx_and_signs_every_attempt(receiver: Receiver) -> None:
    receiver.statuses = [503]
    body = b'{"a": 1}'
    assert deliver(receiver.url, body, "k", "evt-1", backoff_s=0.01) == 200
    assert len(receiver.requests) == 2
    for headers, sent in receiver.requests:
        assert sent == body
        assert verify_webhook(sent, headers[SIGNATURE_HEADER], "k")
        assert headers["X-Hyperframes-Event-Id"] == "evt-1"


# ---- the stack -------------------------------------------------------------------------------


def create_stack(endpoint: str, name: str, outputs: dict[str, str]) -> None:
    """A real CloudFormation stack in moto whose Outputs carry the template's names."""
    cfn = boto3.client("cloudformation", endpoint_url=endpoint, region_name=REGION)
    template = {
        "Resources": {"Handle": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    with contextlib.suppress(Exception):  # not there yet
        cfn.delete_stack(StackName=name)
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))


def test_find_stack_reads_outputs_and_names_what_is_missing(s3_endpoint: str) -> None:
    target = AwsTarget(region=REGION, endpoint_url=s3_endpoint)
    sm = f"arn:aws:states:{REGION}:123456789012:stateMachine:hf-render"
    create_stack(s3_endpoint, "hf-complete", {
        "RenderBucketName": "bkt", "RenderStateMachineArn": sm,
        "RenderFunctionArn": f"arn:aws:lambda:{REGION}:123456789012:function:hf-render",
    })  # fmt: skip
    stack = find_stack("hf-complete", target)
    assert (stack.bucket, stack.state_machine_arn, stack.region) == ("bkt", sm, REGION)
    create_stack(s3_endpoint, "hf-partial", {"RenderBucketName": "bkt"})
    with pytest.raises(StackOutputMissingError, match="RenderFunctionArn, RenderStateMachineArn"):
        find_stack("hf-partial", target)
    with pytest.raises(StackNotFoundError, match="'no-such-stack'"):
        find_stack("no-such-stack", target)


def test_cli_upload_is_content_addressed_and_sent_once(
    s3_endpoint: str, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = f"arn:aws:states:{REGION}:123456789012:stateMachine:hf-render"
    create_stack(s3_endpoint, f"hf-upload-{bucket[-6:]}", {
        "RenderBucketName": bucket, "RenderStateMachineArn": arn,
        "RenderFunctionArn": f"arn:aws:lambda:{REGION}:123456789012:function:hf-render",
    })  # fmt: skip
    target = [
        "--stack",
        f"hf-upload-{bucket[-6:]}",
        "--region",
        REGION,
        "--endpoint-url",
        s3_endpoint,
    ]
    project = str(COMPOSITIONS / "known-pixels")
    assert cli.main(["lambda", "upload", project, "--json", *target]) == 0
    first = json.loads(capsys.readouterr().out)
    assert cli.main(["lambda", "upload", project, "--json", *target]) == 0
    second = json.loads(capsys.readouterr().out)
    assert (first["uploaded"], second["uploaded"]) == (True, False)
    expected = project_archive(COMPOSITIONS / "known-pixels")
    assert first["uri"] == second["uri"] == f"s3://{bucket}/{expected.key}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    stored = s3.get_object(Bucket=bucket, Key=expected.key)
    assert stored["Body"].read() == expected.data
    assert stored["Metadata"]["sha256"] == expected.sha256


def test_cli_exit_codes_and_error_lines(
    s3_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["lambda", "estimate", "--frames", "300", "--chunks", "4", "--json"]) == 0
    estimated = json.loads(capsys.readouterr().out)
    assert 0 < estimated["lowUsd"] < estimated["highUsd"] and estimated["chunks"] == 4
    target = ["--stack", "no-such-stack", "--region", REGION, "--endpoint-url", s3_endpoint]

    def error_lines() -> list[str]:  # moto's server logs to the same stderr
        return [x for x in capsys.readouterr().err.splitlines() if x.startswith("error [")]

    assert cli.main(["lambda", "upload", str(EXAMPLES / "title-card"), *target]) == 1
    assert [x.split(":")[0] for x in error_lines()] == ["error [STACK_NOT_FOUND]"]
    assert cli.main(["lambda", "progress", "arn:aws:states:x", *target]) == 1
    assert [x.split(":")[0] for x in error_lines()] == ["error [EXECUTION_NOT_FOUND]"]
    with pytest.raises(SystemExit) as usage:
        cli.main(["lambda", "render", "p", "--config", "[1]"])
    assert usage.value.code == 2
    assert "must be a JSON object" in capsys.readouterr().err


def test_cli_botocore_failures_have_stable_codes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No region configured: a stable code, not botocore's class name (NoRegionError)."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    arn = "arn:aws:states:us-east-1:1:execution:a:b"
    assert (
        cli.main(
            ["lambda", "progress", arn, "--stack", "s", "--endpoint-url", "http://127.0.0.1:9"]
        )
        == 1
    )
    errors = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error [")]
    assert [x.split(":")[0] for x in errors] == ["error [AWS_CONFIG_MISSING]"]


# ---- against the state machine ------------------------------------------------------------


@pytest.fixture
def sfn_machine(machine: StateMachine) -> StateMachine:  # noqa: F811 - test_state_machine's
    """tests/local/test_state_machine.py's harness: the real ASL in moto, invokes to our handler."""
    return machine


def stack_for(sm: StateMachine, name: str) -> str:
    suffix = sm.arn.rsplit("-", 1)[1]
    fn = boto3.client("lambda", endpoint_url=sm.endpoint, region_name=REGION)
    function_arn = next(
        f["FunctionArn"]
        for f in fn.list_functions()["Functions"]
        if f["FunctionName"].endswith(suffix)
    )
    create_stack(sm.endpoint, name, {
        "RenderBucketName": sm.bucket, "RenderFunctionArn": function_arn,
        "RenderStateMachineArn": sm.arn,
    })  # fmt: skip
    return name


@pytest.fixture
def put_objects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every PutObject the client's own boto3 clients send (a botocore event hook)."""
    calls: list[str] = []
    original = AwsTarget.client

    def client(self: AwsTarget, service: str) -> Any:
        made = original(self, service)
        if service == "s3":
            made.meta.events.register(
                "before-call.s3.PutObject", lambda params, **_: calls.append(params["url_path"])
            )
        return made

    monkeypatch.setattr(AwsTarget, "client", client)
    return calls


def _lambda_env(sm: StateMachine) -> dict[str, str]:
    # The notify step reads the execution's history for its cost report.
    return {"AWS_ENDPOINT_URL": sm.endpoint, "AWS_DEFAULT_REGION": REGION}


@pytest.mark.slow
def test_cli_render_wait_then_a_second_render_uploads_nothing_and_cancels_clean(
    sfn_machine: StateMachine,
    tmp_path: Path,
    put_objects: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sm = sfn_machine
    with_rie(sm, **_lambda_env(sm))
    stack = stack_for(sm, f"hf-cli-{sm.bucket[-6:]}")
    target = ["--stack", stack, "--region", REGION, "--endpoint-url", sm.endpoint]
    config = json.dumps({"width": 320, "height": 180, "crf": 0, "chunkSize": 40})
    out = tmp_path / "out.mp4"
    code = cli.main(["lambda", "render", str(EXAMPLES / "title-card"), "--config", config,
                     "--wait", "-o", str(out), "--poll", "0.3", *target])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert len(put_objects) == 1, "the project was uploaded once"
    arn = captured.out.splitlines()[0]
    assert arn.startswith("arn:aws:states:") and "console.aws.amazon.com" in captured.out
    # Progress lines on a non-tty, ending at the total.
    progress = re.findall(r"(\d+)/(\d+) chunks", captured.err)
    assert progress and progress[-1] == ("3", "3"), captured.err
    assert "120 frames in 3 chunk(s)" in captured.out and "cost $" in captured.out
    reference = local_frames(EXAMPLES / "title-card", tmp_path, width=320, height=180)
    assert_frames_equal(out, reference, 320, 180)

    # cost and progress on the finished execution
    assert cli.main(["lambda", "cost", arn, "--json", *target]) == 0
    report = json.loads(capsys.readouterr().out)
    lines = {line["item"]: line for line in report["lines"]}
    assert lines["Lambda requests"]["quantity"] == 5  # plan, 3 chunks, assemble
    assert report["billedMs"] > 0 and report["totalUsd"] > 0
    assert cli.main(["lambda", "progress", arn, *target]) == 0
    assert "SUCCEEDED" in capsys.readouterr().out

    # Same project, new variables: nothing uploaded; cancel it while chunks render.
    client = RenderClient(stack, region=REGION, endpoint_url=sm.endpoint)
    job = client.render(EXAMPLES / "title-card", config=json.loads(config), variables={"x": 1})
    assert len(put_objects) == 1, "a second render of the same project uploads nothing"
    assert job.upload is not None and not job.upload.uploaded
    deadline = time.monotonic() + 300
    while "RenderChunks" not in client.record(job.execution_arn).entered_states:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert cli.main(["lambda", "cancel", job.execution_arn, *target]) == 0
    assert "ABORTED" in capsys.readouterr().out
    while sm.route.in_flight:  # invocations still running finish; nothing may assemble
        assert time.monotonic() < deadline
        time.sleep(0.2)
    s3 = boto3.client("s3", endpoint_url=sm.endpoint)
    key = job.execution_input["OutputS3Uri"].removeprefix(f"s3://{sm.bucket}/")
    assert "Contents" not in s3.list_objects_v2(Bucket=sm.bucket, Prefix=key)
    assert "assemble" not in sm.route.actions()[5:]


@pytest.mark.slow
def test_resume_reuses_chunks_and_webhooks_report_failure_then_success(
    sfn_machine: StateMachine,
    tmp_path: Path,
    receiver: Receiver,
) -> None:
    sm = sfn_machine
    flag = sm.state_dir / "fail-chunk-1"
    flag.touch()
    with_rie(sm, "tests.sfn_test_handlers.fail_chunk_while_flagged", **_lambda_env(sm))
    stack = stack_for(sm, f"hf-resume-{sm.bucket[-6:]}")
    client = RenderClient(stack, region=REGION, endpoint_url=sm.endpoint)
    config = {"fps": 10, "crf": 0, "chunkSize": 7}  # known-pixels: 20 frames, 3 chunks
    job = client.render(
        COMPOSITIONS / "known-pixels", config=config, webhook_url=receiver.url,
        webhook_secret="hook-key",
    )  # fmt: skip
    from hyperframes_lambda.errors import RemoteExecutionFailedError

    with pytest.raises(RemoteExecutionFailedError) as failed:
        job.wait(poll_s=0.3)
    assert failed.value.error_name == "INVALID_COMPOSITION"
    progress = client.progress(job.execution_arn)
    assert progress.status == "FAILED"
    assert (progress.chunks_done, progress.chunks_total) == (2, 3)
    assert any(e.where == "chunk 1" and "injected" in e.cause for e in progress.errors)
    # The failure webhook: signed, with the original error name and cause.
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert verify_webhook(body, headers[SIGNATURE_HEADER], "hook-key")
    assert not verify_webhook(body, headers[SIGNATURE_HEADER], "not-the-key")
    sent = json.loads(body)
    assert (sent["status"], sent["error"], sent["outputS3Uri"]) == (
        "FAILED",
        "INVALID_COMPOSITION",
        None,
    )
    assert "injected" in sent["cause"]

    renders_before = [e["ChunkIndex"] for e in sm.route.events if e.get("Action") == "renderChunk"]
    assert sorted(renders_before) == [0, 1, 2]
    flag.unlink()
    resumed = client.resume(job.execution_arn)
    summary = resumed.wait(output=tmp_path / "resumed.mp4", poll_s=0.3)
    assert summary.frames == 20
    results = client.record(resumed.execution_arn).chunk_results
    assert {r["ChunkIndex"]: r["Reused"] for r in results} == {0: True, 1: False, 2: True}
    assert_frames_equal(
        tmp_path / "resumed.mp4",
        local_frames(COMPOSITIONS / "known-pixels", tmp_path, fps=10),
        320, 180,
    )  # fmt: skip
    assert len(receiver.requests) == 2
    headers, body = receiver.requests[1]
    assert verify_webhook(body, headers[SIGNATURE_HEADER], "hook-key")
    sent = json.loads(body)
    assert (sent["status"], sent["frames"], sent["error"]) == ("SUCCEEDED", 20, None)
    assert sent["outputS3Uri"] == summary.output_uri
    assert sent["cost"] is not None and sent["cost"]["totalUsd"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("refused", [False, True], ids=["delivered", "receiver-refuses"])
def test_tampered_plan_fails_with_its_error_after_a_signed_failure_webhook(
    sfn_machine: StateMachine,
    tmp_path: Path,
    receiver: Receiver,
    refused: bool,
) -> None:
    """The signing key from Secrets Manager; a receiver that refuses (HTTP 400) changes
    nothing: the execution still fails with the plan's own error, and the refusal is in
    the history."""
    sm = sfn_machine
    with_rie(sm, "tests.sfn_test_handlers.tamper_after_plan", **_lambda_env(sm))
    stack = stack_for(sm, f"hf-tamper-{sm.bucket[-6:]}")
    secret_arn = boto3.client(
        "secretsmanager", endpoint_url=sm.endpoint, region_name=REGION
    ).create_secret(Name=f"hyperframes-webhook-{sm.bucket[-6:]}-{refused}", SecretString="k2")[
        "ARN"
    ]
    if refused:
        receiver.statuses = [400]
    client = RenderClient(stack, region=REGION, endpoint_url=sm.endpoint)
    job = client.render(
        COMPOSITIONS / "known-pixels", config={"fps": 10, "maxParallelChunks": 1},
        webhook_url=receiver.url, webhook_secret_arn=secret_arn,
    )  # fmt: skip
    assert "WebhookSecret" not in job.execution_input  # only the reference travels
    described = sm.sfn.describe_execution(executionArn=job.execution_arn)
    while described["status"] == "RUNNING":
        time.sleep(0.3)
        described = sm.sfn.describe_execution(executionArn=job.execution_arn)
    assert (described["status"], described["error"]) == ("FAILED", "PLAN_HASH_MISMATCH")
    assert len(receiver.requests) == 1, "a refusal (4xx) is not retried"
    headers, body = receiver.requests[0]
    assert verify_webhook(body, headers[SIGNATURE_HEADER], "k2")
    assert not verify_webhook(body, headers[SIGNATURE_HEADER], "k3")
    assert json.loads(body)["error"] == "PLAN_HASH_MISMATCH"
    notify_errors = [
        e for e in client.progress(job.execution_arn).errors if e.where == "NotifyFailed"
    ]
    assert [e.error for e in notify_errors] == (["INVALID_WEBHOOK"] if refused else [])


def documented_block(heading: str) -> str:
    text = (ROOT / "docs" / "aws.md").read_text()
    section = text.split(heading, 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.mark.slow
def test_python_api_exactly_as_the_docs_show_it(
    sfn_machine: StateMachine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sm = sfn_machine
    with_rie(sm, **_lambda_env(sm))
    stack_for(sm, "hyperframes")  # the documented stack name
    monkeypatch.setenv("AWS_ENDPOINT_URL", sm.endpoint)  # boto3 reads it: no AWS
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    (tmp_path / "examples").symlink_to(EXAMPLES)
    monkeypatch.chdir(tmp_path)
    code = documented_block("## Render on AWS from Python")
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/aws.md", "exec"), namespace)
    summary = namespace["summary"]
    assert summary.frames == 120 and summary.cost.total_usd > 0
    assert len(decoded(tmp_path / "out.mp4", 320, 180)) == 120
