"""Issue 19's outputs and inputs on a stack in moto (the real ASL in moto's Step Functions,
invokes delivered to our handler, as tests/aws/test_aws_client.py does): strict variables
refused before anything starts; a 300 KiB variables object offloaded to S3 and rendered
(the frame shows it arrived); --output-key; --presign downloads the output from the moto
server; an existing output is refused before any Lambda runs (client) and by the plan
(direct StartExecution); an output bucket outside AllowedOutputBuckets is refused; the
webhook carries customData and the signed URL."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest

from hyperframes_lambda import cli
from hyperframes_lambda.aws import RenderClient
from hyperframes_lambda.aws.execution_input import (
    OFFLOAD_URI,
    offload_if_large,
    resolve_offloaded,
)
from hyperframes_lambda.aws.lifecycle import LIFECYCLE_TAG
from hyperframes_lambda.errors import (
    InputTooLargeError,
    InvalidConfigError,
    OutputExistsError,
    S3UriNotAllowedError,
    StoredObjectCorruptError,
)

from ..conftest import COMPOSITIONS
from ..local.test_state_machine import (  # noqa: F401 - the machine fixture is used by name
    REGION,
    StateMachine,
    definition_for,
    machine,
    with_rie,
)
from ..pipeline_helpers import decoded
from .test_aws_client import Receiver, _lambda_env, create_stack, receiver  # noqa: F401

PROJECT = COMPOSITIONS / "variables"
BLUE, GREEN = (0, 0, 255), (0, 255, 0)


def test_offload_keeps_a_small_input_and_names_a_field_that_cannot_fit() -> None:
    puts: list[tuple[str, bytes]] = []
    small = {"OutputS3Uri": "s3://b/o.mp4", "Config": {"variables": {"a": 1}}}
    assert offload_if_large(small, "s3://b/renders/r/", lambda u, b: puts.append((u, b))) is small
    big = {"Config": {"variables": {"a": "x" * 300_000}}, "WebhookUrl": "http://h/"}
    moved = offload_if_large(big, "s3://b/renders/r/", lambda u, b: puts.append((u, b)))
    assert moved["Config"][OFFLOAD_URI] == "s3://b/renders/r/config.json"
    assert json.loads(puts[0][1]) == big["Config"]
    huge = {"Config": {}, "WebhookUrl": "http://h/" + "x" * 300_000}
    with pytest.raises(InputTooLargeError, match="WebhookUrl alone is"):
        offload_if_large(huge, "s3://b/renders/r/", lambda u, b: None)


def test_an_offloaded_config_is_read_back_only_with_its_digest() -> None:
    stored: dict[str, bytes] = {}
    big = {"Config": {"variables": {"a": "x" * 300_000}}}
    moved = offload_if_large(big, "s3://b/renders/r", stored.__setitem__)
    pointer = moved["Config"]
    assert resolve_offloaded(pointer, stored.__getitem__) == big["Config"]
    stored[pointer[OFFLOAD_URI]] = b'{"variables": {"a": "changed"}}'
    with pytest.raises(StoredObjectCorruptError, match="SHA-256"):
        resolve_offloaded(pointer, stored.__getitem__)


def _stack(sm: StateMachine, other: str) -> str:
    """A stack whose AllowedOutputBuckets is ``other``: the stack's output for the client,
    the ASL's substitution for the state machine."""
    fn = boto3.client("lambda", endpoint_url=sm.endpoint, region_name=REGION)
    suffix = sm.arn.rsplit("-", 1)[1]
    function_arn = next(f["FunctionArn"] for f in fn.list_functions()["Functions"]
                        if f["FunctionName"].endswith(suffix))  # fmt: skip
    sm.sfn.update_state_machine(
        stateMachineArn=sm.arn, definition=definition_for(function_arn, sm.bucket, other)
    )
    name = f"hf-out-{sm.bucket[-6:]}"
    create_stack(sm.endpoint, name, {
        "RenderBucketName": sm.bucket, "RenderFunctionArn": function_arn,
        "RenderStateMachineArn": sm.arn, "AllowedOutputBuckets": other,
    })  # fmt: skip
    return name


def _finished(sm: StateMachine, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while True:
        described = sm.sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return dict(described)
        assert time.monotonic() < deadline
        time.sleep(0.3)


@pytest.mark.slow
def test_outputs_where_asked_inputs_of_any_size(
    machine: StateMachine,  # noqa: F811
    tmp_path: Path,
    receiver: Receiver,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    sm = machine
    other = f"{sm.bucket}-other"
    # The function's environment as the template sets it from AllowedOutputBuckets.
    with_rie(sm, HYPERFRAMES_OUTPUT_BUCKETS=other, **_lambda_env(sm))
    s3 = boto3.client("s3", endpoint_url=sm.endpoint, region_name=REGION)
    s3.create_bucket(Bucket=other)
    stack = _stack(sm, other)
    target = ["--stack", stack, "--region", REGION, "--endpoint-url", sm.endpoint]
    client = RenderClient(stack, region=REGION, endpoint_url=sm.endpoint)
    config = {"fps": 10, "crf": 0}

    # Strict variables: refused before upload, one line naming key and types; no invoke.
    code = cli.main(["lambda", "render", str(PROJECT), "--config", json.dumps(config),
                     "--variables", '{"count": "three"}', "--strict-variables",
                     "--no-preflight", *target])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "error [INVALID_VARIABLES]: variables.count: declared number, got " \
        'string ("three")' in err, err  # fmt: skip
    assert sm.route.events == []

    # 300 KiB of variables: the Config goes to S3, the plan reads it, the frame shows it.
    variables = {"color": "rgb(0, 0, 255)", "padding": "p" * 300_001}
    job = client.render(
        PROJECT, config=config, variables=variables, output_key="renders/custom/final.mp4",
        presign_seconds=600, webhook_url=receiver.url, webhook_secret="k",
        custom_data={"orderId": 7},
    )  # fmt: skip
    started = json.loads(sm.sfn.describe_execution(executionArn=job.execution_arn)["input"])
    assert len(json.dumps(started)) < 2000 and OFFLOAD_URI in started["Config"]
    summary = job.wait(poll_s=0.3)
    assert summary.output_uri == f"s3://{sm.bucket}/renders/custom/final.mp4"
    assert summary.url is not None and summary.url.startswith(sm.endpoint)
    with urllib.request.urlopen(summary.url) as response:  # the moto server, unsigned client
        fetched = response.read()
    stored = s3.get_object(Bucket=sm.bucket, Key="renders/custom/final.mp4")["Body"].read()
    assert fetched == stored
    video = tmp_path / "final.mp4"
    video.write_bytes(fetched)
    first = decoded(video, 320, 180)[0].astype(int)
    assert np.abs(first[80, 80] - BLUE).max() <= 8, first[80, 80]
    assert np.abs(first[80, 240] - GREEN).max() <= 8, first[80, 240]
    # Under renders/ yet an output: tagged as one, never as an intermediate.
    tags = s3.get_object_tagging(Bucket=sm.bucket, Key="renders/custom/final.mp4")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags}[LIFECYCLE_TAG] == "output"
    [body] = receiver.bodies()
    assert body["customData"] == {"orderId": 7} and body["outputUrl"].startswith(sm.endpoint)
    # progress --json carries the URL (the render's PresignSeconds)
    assert cli.main(["lambda", "progress", job.execution_arn, "--json", *target]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["outputS3Uri"] == summary.output_uri and shown["outputUrl"].startswith("http")

    # An existing output: refused before anything is uploaded or invoked.
    invokes = len(sm.route.events)
    with pytest.raises(OutputExistsError, match=r"renders/custom/final\.mp4 already exists"):
        client.render(PROJECT, config=config, output_key="renders/custom/final.mp4")
    code = cli.main(["lambda", "render", str(PROJECT), "--output-key",
                     "renders/custom/final.mp4", "--no-preflight", *target])  # fmt: skip
    assert code == 1 and "error [OUTPUT_EXISTS]" in capsys.readouterr().err
    assert len(sm.route.events) == invokes, "no Lambda was invoked"
    # A direct StartExecution is protected by the plan (its first invocation).
    direct = {k: v for k, v in job.execution_input.items() if not k.startswith("Webhook")}
    direct["Config"] = {}
    arn = sm.sfn.start_execution(stateMachineArn=sm.arn, name="direct-1", input=json.dumps(direct))[
        "executionArn"
    ]
    failed = _finished(sm, arn)
    assert (failed["status"], failed["error"]) == ("FAILED", "OUTPUT_EXISTS")
    assert [e["Action"] for e in sm.route.events[invokes:]] == ["plan"]

    # Buckets: one not listed is refused by the client and by the state machine (no
    # invoke); the listed one passes the state machine (its plan then finds the object).
    with pytest.raises(S3UriNotAllowedError, match="not one the stack may write to"):
        client.render(PROJECT, output_uri="s3://someone-elses-bucket/x.mp4")
    invokes = len(sm.route.events)
    outside = dict(direct, OutputS3Uri="s3://someone-elses-bucket/x.mp4")
    arn = sm.sfn.start_execution(
        stateMachineArn=sm.arn, name="direct-2", input=json.dumps(outside)
    )["executionArn"]
    failed = _finished(sm, arn)
    assert (failed["status"], failed["error"]) == ("FAILED", "INVALID_EXECUTION_INPUT")
    assert len(sm.route.events) == invokes
    s3.put_object(Bucket=other, Key="taken.mp4", Body=b"x")
    listed = dict(direct, OutputS3Uri=f"s3://{other}/taken.mp4")
    arn = sm.sfn.start_execution(stateMachineArn=sm.arn, name="direct-3", input=json.dumps(listed))[
        "executionArn"
    ]
    failed = _finished(sm, arn)
    assert (failed["status"], failed["error"]) == ("FAILED", "OUTPUT_EXISTS")

    with pytest.raises(InvalidConfigError, match=r"customData: 1[0-9]{3} bytes of JSON"):
        client.render(PROJECT, custom_data={"x": "y" * 1100})
