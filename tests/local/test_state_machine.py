"""The very ``sam/statemachine/render.asl.json`` runs in a real ASL interpreter.

The interpreter is moto's Step Functions backend with ``execute_state_machine`` enabled (a
port of LocalStack's ASL interpreter: ANTLR grammar, JSONPath, intrinsics, Retry/Catch,
Distributed Map with child executions), running in moto's server on 127.0.0.1 (the
``s3_endpoint`` fixture, also our S3). The definition is the file from the repository with
its ``${…}`` placeholders substituted as ``DefinitionSubstitutions`` does; nothing in it is
changed for the tests.

How a Lambda invoke is routed: each Task state's ``arn:aws:states:::lambda:invoke`` makes the
interpreter call ``lambda.invoke`` with boto3 against moto's Lambda API, where a function was
created with ``create_function``. moto would run the function's code in Docker
(``LambdaFunction._invoke_lambda``), and there is no Docker here, so exactly that one method
is replaced: it hands the event to :class:`hyperframes_lambda.local.rie.LocalLambda`, a Runtime-API
server with real ``awslambdaric`` processes serving ``hyperframes_lambda.handler.handler``
(one invocation at a time per process, like a Lambda container), and returns the bytes the
runtime produced. Everything around it is real: the interpreter's Parameters/ResultSelector,
the Lambda API's payload encoding and ``FunctionError`` header, the error name Step Functions
extracts from ``errorType``, the handler, its S3 traffic (moto's S3 on 127.0.0.1). Fault
injection, where a test needs it, wraps the real handler (``tests/sfn_test_handlers.py``) or
raises Lambda's own ``TooManyRequestsException`` from that routed method.

moto really sleeps between retries (``time.sleep`` in its retrier); the retry tests record
the intervals the interpreter computed instead of waiting for them.
"""

from __future__ import annotations

import json
import threading
import time
import typing
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest

from hyperframes_lambda.aws import asl, lifecycle
from hyperframes_lambda.cache import cache_root
from hyperframes_lambda.config import RenderConfig
from hyperframes_lambda.errors import terminal_codes
from hyperframes_lambda.local.rie import LocalLambda
from hyperframes_lambda.local.step_functions import pack_project
from hyperframes_lambda.runner.local_render import RenderOptions, render_local

from ..conftest import COMPOSITIONS, EXAMPLES, ROOT
from ..pipeline_helpers import decoded

REGION = "us-east-1"
MAP_MAX_CONCURRENCY = 64


# ---- the harness --------------------------------------------------------------------


@dataclass
class LambdaRoute:
    """What the replaced ``_invoke_lambda`` saw: every event, and the peak in flight."""

    rie: LocalLambda | None = None
    throttle_plan: int = 0  # answer this many plan invokes with Lambda's 429
    events: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def invoke(self, event: dict[str, Any]) -> tuple[str, bool, str]:
        from moto.awslambda.exceptions import LambdaClientError

        with self.lock:
            self.events.append(event)
            if event.get("Action") == "plan" and self.throttle_plan > 0:
                self.throttle_plan -= 1
                error = LambdaClientError("TooManyRequestsException", "Rate Exceeded.")
                error.code = 429
                raise error
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            assert self.rie is not None, "this test expects no Lambda invocation"
            outcome = self.rie.invoke(event)
            return outcome.body.decode(), not outcome.ok, ""
        finally:
            with self.lock:
                self.in_flight -= 1

    def actions(self) -> list[str]:
        return [e.get("Action", "?") for e in self.events]

    def chunk_indexes(self) -> list[int]:
        return sorted(e["ChunkIndex"] for e in self.events if e.get("Action") == "renderChunk")


@dataclass
class StateMachine:
    sfn: Any
    arn: str
    bucket: str
    route: LambdaRoute
    endpoint: str
    state_dir: Path
    retry_sleeps: list[float]

    def serve(self, handler: str = "hyperframes_lambda.handler.handler", **env: str) -> LocalLambda:
        """Start the Lambda runtime clients that invokes are routed to (2, as on 2 cores)."""
        rie = LocalLambda(
            handler,
            concurrency=2,
            function_name="hyperframes-render",
            cwd=ROOT,
            env={
                "HYPERFRAMES_S3_ENDPOINT_URL": self.endpoint,
                "HYPERFRAMES_RENDER_BUCKET": self.bucket,
                "HYPERFRAMES_CACHE_DIR": str(cache_root()),  # the tests' shared download cache
                "POWERTOOLS_SERVICE_NAME": "hyperframes-render",
                "POWERTOOLS_METRICS_NAMESPACE": "HyperFramesTest",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "HF_TEST_STATE_DIR": str(self.state_dir),
                "PYTHONPATH": str(ROOT),
                **env,
            },
        )
        self.route.rie = rie
        return rie

    def upload(self, project: Path, tmp_path: Path) -> str:
        archive = pack_project(project, tmp_path / f"{project.name}.tar.gz")
        key = f"projects/{project.name}.tar.gz"
        boto3.client("s3", endpoint_url=self.endpoint).upload_file(str(archive), self.bucket, key)
        return f"s3://{self.bucket}/{key}"

    def execution_input(self, project_uri: str, config: dict[str, Any]) -> dict[str, Any]:
        run = uuid.uuid4().hex[:8]
        return {
            "ProjectS3Uri": project_uri,
            "PlanOutputS3Prefix": f"s3://{self.bucket}/renders/{run}/",
            "OutputS3Uri": f"s3://{self.bucket}/outputs/{run}.mp4",
            "Config": config,
        }

    def run(self, execution_input: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
        arn = self.sfn.start_execution(stateMachineArn=self.arn, input=json.dumps(execution_input))[
            "executionArn"
        ]
        deadline = time.monotonic() + timeout
        while True:
            described = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return dict(described)
            assert time.monotonic() < deadline, f"execution still running after {timeout}s"
            time.sleep(0.2)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        return list(self.sfn.get_execution_history(executionArn=execution_arn)["events"])

    def download(self, uri: str, dest: Path) -> Path:
        key = uri.removeprefix(f"s3://{self.bucket}/")
        boto3.client("s3", endpoint_url=self.endpoint).download_file(self.bucket, key, str(dest))
        return dest


def _dummy_zip() -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(
            "placeholder.txt", "code runs through tests/local/test_state_machine.py's route"
        )
    return buffer.getvalue()


def definition_for(function_arn: str, bucket: str, allowed_output_buckets: str = "") -> str:
    """The ASL file with DefinitionSubstitutions applied, exactly as the template maps them."""
    return asl.substitute(
        asl.ASL_PATH.read_text(),
        {
            "RenderFunctionArn": function_arn,
            "RenderBucketName": bucket,
            "MapMaxConcurrency": str(MAP_MAX_CONCURRENCY),
            "AllowedOutputBuckets": allowed_output_buckets,
        },
    )


@pytest.fixture
def machine(
    s3_endpoint: str, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StateMachine]:
    from moto.awslambda.models import LambdaFunction
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    port = s3_endpoint.rsplit(":", 1)[1]
    # The interpreter's own boto3 clients reach moto's server at localhost:$MOTO_PORT.
    monkeypatch.setenv("MOTO_PORT", port)
    request = urllib.request.Request(
        f"{s3_endpoint}/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request).close()

    route = LambdaRoute()
    monkeypatch.setattr(
        LambdaFunction, "_invoke_lambda", lambda self, event=None: route.invoke(event or {})
    )
    sleeps: list[float] = []

    class _RecordingTime:
        @staticmethod
        def sleep(seconds: float) -> None:
            sleeps.append(seconds)

    monkeypatch.setattr(retrier_decl, "time", _RecordingTime)

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=s3_endpoint, region_name=REGION)

    suffix = uuid.uuid4().hex[:8]
    role = client("iam").create_role(
        RoleName=f"hf-render-{suffix}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    function_arn = client("lambda").create_function(
        FunctionName=f"hyperframes-render-{suffix}",
        Runtime="python3.12",
        Role=role,
        Handler="hyperframes_lambda.handler.handler",
        Code={"ZipFile": _dummy_zip()},
        Timeout=900,
        MemorySize=10240,
    )["FunctionArn"]
    sfn = client("stepfunctions")
    arn = sfn.create_state_machine(
        name=f"hyperframes-render-{suffix}",
        definition=definition_for(function_arn, bucket),
        roleArn=role,
        type="STANDARD",
    )["stateMachineArn"]
    state_dir = tmp_path / "handler-state"
    state_dir.mkdir()
    harness = StateMachine(sfn, arn, bucket, route, s3_endpoint, state_dir, sleeps)
    try:
        yield harness
    finally:
        if route.rie is not None:
            route.rie.stop()


def with_rie(machine: StateMachine, handler: str | None = None, **env: str) -> LocalLambda:
    rie = machine.serve(handler, **env) if handler else machine.serve(**env)
    return rie.start()


# ---- the definition itself ----------------------------------------------------------


def test_terminal_retriers_match_errors_py() -> None:
    """`make asl` output is what is committed: the terminal names are errors.py's."""
    text = asl.ASL_PATH.read_text()
    assert asl.generate(text) == text, "run `make asl`: the ASL drifted from errors.py"
    definition = json.loads(text)
    tasks = [(w, s) for w, s in asl.iter_states(definition["States"]) if s["Type"] == "Task"]
    assert [w for w, _ in tasks] == [
        "Plan", "RenderChunks/RenderChunk", "Assemble", "AssembleAudioOnly", "NotifySucceeded",
        "NotifyFailed",
    ]  # fmt: skip
    for where, state in tasks:
        first, throttling, catch_all = state["Retry"]
        assert first == {"ErrorEquals": terminal_codes(), "MaxAttempts": 0}, where
        assert "Lambda.TooManyRequestsException" in throttling["ErrorEquals"], where
        assert catch_all == {
            "ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "BackoffRate": 2,
            "MaxAttempts": 4, "MaxDelaySeconds": 60,
        }, where  # fmt: skip
        assert state["Catch"][0]["ErrorEquals"] == ["States.ALL"], where


def test_drift_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "render.asl.json"
    copy.write_text(asl.ASL_PATH.read_text())
    assert asl.main(["--file", str(copy), "--check"]) == 0
    monkeypatch.setattr(asl, "terminal_codes", lambda: [*terminal_codes(), "NEW_TERMINAL"])
    assert asl.main(["--file", str(copy), "--check"]) == 1
    assert asl.main(["--file", str(copy)]) == 0
    assert "NEW_TERMINAL" in copy.read_text()
    assert asl.main(["--file", str(copy), "--check"]) == 0


def test_placeholders_are_the_templates_substitutions() -> None:
    import yaml

    class _CfnLoader(yaml.SafeLoader):
        pass

    def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        return {suffix: getattr(loader, f"construct_{node.id}")(node)}

    _CfnLoader.add_multi_constructor("!", _tag)
    template = yaml.load(asl.TEMPLATE_PATH.read_text(), Loader=_CfnLoader)
    props = template["Resources"]["RenderStateMachine"]["Properties"]
    assert props["DefinitionUri"] == "statemachine/render.asl.json"
    assert set(props["DefinitionSubstitutions"]) == asl.placeholders(asl.ASL_PATH.read_text())
    # Objects expire by the tag the function writes (aws.lifecycle), never by prefix: one
    # rule per tag value, intermediates after IntermediateExpirationDays, outputs only
    # when asked (OutputExpirationDays, or one of the per-render choices).
    rules = template["Resources"]["RenderBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = [r for r in rules if "ExpirationInDays" in r]
    assert all("Prefix" not in r for r in rules)
    by_tag = {r["TagFilters"][0]["Value"]: r for r in expiring}
    assert all(r["TagFilters"][0]["Key"] == lifecycle.LIFECYCLE_TAG for r in expiring)
    intermediate = by_tag[lifecycle.INTERMEDIATE]
    assert intermediate["ExpirationInDays"] == {"Ref": "IntermediateExpirationDays"}
    assert "If" in by_tag[lifecycle.OUTPUT]["Status"]  # off unless OutputExpirationDays > 0
    for days in lifecycle.OUTPUT_EXPIRY_DAYS:
        rule = by_tag[lifecycle.output_tag(days)[lifecycle.LIFECYCLE_TAG]]
        assert (rule["ExpirationInDays"], rule["Status"]) == (days, "Enabled")
    assert set(lifecycle.OUTPUT_EXPIRY_DAYS) == set(
        typing.get_args(
            typing.get_args(RenderConfig.model_fields["output_expires_in_days"].annotation)[0]
        )
    )
    assert "/renders/" not in json.dumps(
        json.loads(asl.ASL_PATH.read_text())["States"]["CheckInput"]
    )


# ---- executions without Lambda --------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        ({"OutputS3Uri": None}, "needs ProjectS3Uri, PlanOutputS3Prefix and OutputS3Uri"),
        ({"PlanOutputS3Prefix": "s3://other-bucket/renders/x/"}, "PlanOutputS3Prefix must be in the render bucket"),
        ({"OutputS3Uri": "s3://other-bucket/outputs/out.mp4"}, "OutputS3Uri must name an object in the render bucket"),
    ],
)  # fmt: skip
def test_bad_input_fails_before_any_invocation(
    machine: StateMachine, change: dict[str, str | None], cause: str
) -> None:
    execution_input = machine.execution_input(f"s3://{machine.bucket}/projects/p.tar.gz", {})
    for key, value in change.items():
        if value is None:
            del execution_input[key]
        else:
            execution_input[key] = value.format(bucket=machine.bucket)
    result = machine.run(execution_input, timeout=60)
    assert result["status"] == "FAILED"
    assert result["error"] == "INVALID_EXECUTION_INPUT"
    assert cause.format(bucket=machine.bucket) in result["cause"]
    assert machine.route.events == []


# ---- whole renders --------------------------------------------------------------------


def local_frames(project: Path, tmp_path: Path, **options: Any) -> list[np.ndarray]:
    out = tmp_path / f"local-{project.name}.mp4"
    render_local(project, out, RenderOptions(crf=0, chunks=1, **options))
    return decoded(out, options.get("width", 320), options.get("height", 180))


def assert_frames_equal(video: Path, reference: list[np.ndarray], width: int, height: int) -> None:
    frames = decoded(video, width, height)
    assert len(frames) == len(reference)
    for index, (a, b) in enumerate(zip(frames, reference, strict=True)):
        assert np.array_equal(a, b), f"frame {index} differs from the local render"


@pytest.mark.slow
def test_title_card_plan_map_assemble(machine: StateMachine, tmp_path: Path) -> None:
    with_rie(machine)
    project = machine.upload(EXAMPLES / "title-card", tmp_path)
    config = {"width": 320, "height": 180, "crf": 0, "chunkSize": 40}
    result = machine.run(machine.execution_input(project, config))
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert (output["ChunkCount"], output["FramesEncoded"], output["Width"]) == (3, 120, 320)
    assert machine.route.actions() == ["plan", "renderChunk", "renderChunk", "renderChunk", "assemble"]  # fmt: skip
    assert machine.route.chunk_indexes() == [0, 1, 2]
    assert output["OutputS3Uri"].startswith(f"s3://{machine.bucket}/outputs/")
    video = machine.download(output["OutputS3Uri"], tmp_path / "sfn.mp4")
    reference = local_frames(EXAMPLES / "title-card", tmp_path, width=320, height=180)
    assert_frames_equal(video, reference, 320, 180)
    # Intermediates sit under the expiring prefix, the output outside it.
    keys = [
        o["Key"]
        for o in boto3.client("s3", endpoint_url=machine.endpoint).list_objects_v2(
            Bucket=machine.bucket
        )["Contents"]
    ]
    # renders/: the plan's core and its content-addressed artifacts, 3 chunks and their 3
    # heartbeats (chunks/progress/); nothing else anywhere.
    renders = sorted(k for k in keys if k.startswith("renders/"))
    assert sorted(k.split("/")[0] for k in keys) == ["outputs", "projects"] + ["renders"] * len(
        renders
    ), keys
    assert sum(k.endswith("/plan.tar.gz") for k in renders) == 1, renders
    assert sum("/artifacts/" in k for k in renders) >= 1, renders
    assert sum("/chunks/progress/" in k for k in renders) == 3, renders
    others = [
        k
        for k in renders
        if not (k.endswith("/plan.tar.gz") or "/artifacts/" in k or "/chunks/" in k)
    ]
    assert others == [], others
    assert sum("/chunks/" in k and "/progress/" not in k for k in renders) == 3, renders
    assert machine.retry_sleeps == []


@pytest.mark.slow
def test_more_than_40_chunks_run_through_the_distributed_map(
    machine: StateMachine, tmp_path: Path
) -> None:
    with_rie(machine)
    project = machine.upload(COMPOSITIONS / "known-pixels", tmp_path)
    # 2 s at 21 fps = 42 frames, one chunk each.
    config = {"fps": 21, "crf": 0, "chunkSize": 1, "maxParallelChunks": 42}
    execution_input = machine.execution_input(project, config)
    result = machine.run(execution_input, timeout=900)
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["ChunkCount"] == 42
    assert machine.route.chunk_indexes() == list(range(42))
    # Every chunk was its own child execution of a Map Run, and more than 40 were in flight
    # at once (the two runtime clients queue them, as a reserved concurrency of 2 would).
    events = machine.history(result["executionArn"])
    assert any(e["type"] == "MapRunStarted" for e in events)
    assert machine.route.peak > 40, machine.route.peak
    video = machine.download(output["OutputS3Uri"], tmp_path / "sfn.mp4")
    assert_frames_equal(
        video, local_frames(COMPOSITIONS / "known-pixels", tmp_path, fps=21), 320, 180
    )


# ---- failures -------------------------------------------------------------------------


@pytest.mark.slow
def test_terminal_error_is_not_retried_and_names_the_failure(
    machine: StateMachine, tmp_path: Path
) -> None:
    with_rie(machine, "tests.sfn_test_handlers.tamper_after_plan")
    project = machine.upload(COMPOSITIONS / "known-pixels", tmp_path)
    result = machine.run(machine.execution_input(project, {"maxParallelChunks": 1}))
    assert result["status"] == "FAILED"
    assert result["error"] == "PLAN_HASH_MISMATCH"
    assert "PLAN_HASH_MISMATCH" in result["cause"]
    assert machine.route.actions() == ["plan", "renderChunk"], "invoked exactly once"
    assert machine.retry_sleeps == []


def test_invalid_config_fails_at_plan_once(machine: StateMachine, tmp_path: Path) -> None:
    with_rie(machine)
    project = machine.upload(COMPOSITIONS / "known-pixels", tmp_path)
    result = machine.run(machine.execution_input(project, {"fps": 29.97}))
    assert (result["status"], result["error"]) == ("FAILED", "INVALID_EVENT")
    assert "30000/1001" in result["cause"]
    assert machine.route.actions() == ["plan"]


@pytest.mark.slow
def test_retryable_error_is_retried_per_the_policy(machine: StateMachine, tmp_path: Path) -> None:
    """BROWSER_CRASHED on every attempt: 1 + 4 retries after 2, 4, 8, 16 s, then the
    execution fails with that name. A chunk that crashes twice then renders succeeds."""
    with_rie(machine, "tests.sfn_test_handlers.crash_first_chunks", HF_TEST_FAILURES="5")
    project = machine.upload(COMPOSITIONS / "known-pixels", tmp_path)
    result = machine.run(machine.execution_input(project, {"maxParallelChunks": 1}))
    assert (result["status"], result["error"]) == ("FAILED", "BROWSER_CRASHED")
    assert "injected crash, attempt 5" in result["cause"]
    assert machine.route.actions() == ["plan"] + ["renderChunk"] * 5
    assert machine.retry_sleeps == [2, 4, 8, 16]


@pytest.mark.slow
def test_transient_crash_then_success(machine: StateMachine, tmp_path: Path) -> None:
    with_rie(machine, "tests.sfn_test_handlers.crash_first_chunks", HF_TEST_FAILURES="2")
    project = machine.upload(COMPOSITIONS / "known-pixels", tmp_path)
    result = machine.run(machine.execution_input(project, {"maxParallelChunks": 1}))
    assert result["status"] == "SUCCEEDED", result
    assert machine.route.actions() == ["plan"] + ["renderChunk"] * 3 + ["assemble"]
    assert machine.retry_sleeps == [2, 4]


def test_lambda_throttling_gets_its_own_longer_backoff(
    machine: StateMachine, tmp_path: Path
) -> None:
    """Lambda's 429 is retried 8 times, full jitter over 10 s doubling to 300 s, not 4."""
    machine.route.throttle_plan = 6
    with_rie(machine)
    project = machine.upload(COMPOSITIONS / "known-pixels", tmp_path)
    result = machine.run(machine.execution_input(project, {"fps": 29.97}))
    # After 6 throttles the 7th plan reaches the handler, which rejects the config.
    assert (result["status"], result["error"]) == ("FAILED", "INVALID_EVENT")
    assert machine.route.actions() == ["plan"] * 7
    caps = [10, 20, 40, 80, 160, 300]
    assert len(machine.retry_sleeps) == 6
    assert all(0 <= s <= cap for s, cap in zip(machine.retry_sleeps, caps, strict=True))


def test_throttling_exhausted_fails_with_lambdas_error_name(
    machine: StateMachine, tmp_path: Path
) -> None:
    machine.route.throttle_plan = 100
    result = machine.run(machine.execution_input(f"s3://{machine.bucket}/projects/p.tar.gz", {}))
    assert (result["status"], result["error"]) == ("FAILED", "Lambda.TooManyRequestsException")
    assert machine.route.actions() == ["plan"] * 9  # 1 + 8 retries


@pytest.mark.slow
def test_zero_chunks_fails_clearly(machine: StateMachine, tmp_path: Path) -> None:
    with_rie(machine, "tests.sfn_test_handlers.zero_chunks")
    project = machine.upload(COMPOSITIONS / "known-pixels", tmp_path)
    result = machine.run(machine.execution_input(project, {}))
    assert (result["status"], result["error"]) == ("FAILED", "NO_CHUNKS")
    assert "0 chunks" in result["cause"]
    assert machine.route.actions() == ["plan"]
