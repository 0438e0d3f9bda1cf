"""Issue 21 item 5: ``lambda rm``, ``lambda projects ls|rm``, per-render output expiry.

A real render on the real state machine in moto (tests/test_state_machine.py's harness),
with its output inside its own render prefix (where HyperFrames' client puts it): its
intermediates are tagged and its output is not, so ``rm`` deletes the one and keeps the
other; ``--output`` deletes that too; nothing of it is left afterwards.
"""

from __future__ import annotations

import json

import boto3
import pytest

from hyperframes_lambda import cli
from hyperframes_lambda.aws import RenderClient
from hyperframes_lambda.aws.lifecycle import LIFECYCLE_TAG

from ..conftest import EXAMPLES
from ..local.test_state_machine import (  # noqa: F401 - the machine fixture is used by name
    REGION,
    StateMachine,
    machine,
    with_rie,
)
from .test_aws_client import stack_for


@pytest.mark.slow
def test_rm_deletes_intermediates_keeps_the_output_and_projects_go_by_name(
    machine: StateMachine,  # noqa: F811 - test_state_machine's fixture
    capsys: pytest.CaptureFixture[str],
) -> None:
    sm = machine
    with_rie(sm, AWS_ENDPOINT_URL=sm.endpoint, AWS_DEFAULT_REGION=REGION)
    stack = stack_for(sm, f"hf-rm-{sm.bucket[-6:]}")
    target = ["--stack", stack, "--region", REGION, "--endpoint-url", sm.endpoint]
    client = RenderClient(stack, region=REGION, endpoint_url=sm.endpoint)
    s3 = boto3.client("s3", endpoint_url=sm.endpoint)
    upload = client.upload_project(EXAMPLES / "title-card")
    config = {"width": 320, "height": 180, "chunkSize": 40, "outputExpiresInDays": 7}
    execution_input = {
        "ProjectS3Uri": upload.uri, "PlanOutputS3Prefix": f"s3://{sm.bucket}/renders/r1/",
        "OutputS3Uri": f"s3://{sm.bucket}/renders/r1/output.mp4", "Config": config,
    }  # fmt: skip
    job = client.start(execution_input, "r1")
    job.wait(poll_s=0.3)
    tags = s3.get_object_tagging(Bucket=sm.bucket, Key="renders/r1/output.mp4")["TagSet"]
    assert tags == [{"Key": LIFECYCLE_TAG, "Value": "output-7d"}], "the render's own expiry"

    # A running render is refused.
    running = client.start({**execution_input, "PlanOutputS3Prefix": f"s3://{sm.bucket}/renders/r2/",
                            "OutputS3Uri": f"s3://{sm.bucket}/outputs/r2.mp4"}, "r2")  # fmt: skip
    assert cli.main(["lambda", "rm", "r2", *target]) == 1
    assert "error [EXECUTION_RUNNING]" in capsys.readouterr().err
    client.cancel(running.execution_arn)

    assert cli.main(["lambda", "rm", "r1", "--json", *target]) == 0
    removed = json.loads(capsys.readouterr().out)
    deleted = sorted(removed["deleted"])
    artifacts = [k for k in deleted if k.startswith("renders/r1/artifacts/")]
    assert len(artifacts) >= 1, deleted  # the plan's content-addressed artifacts
    assert [k for k in deleted if k not in artifacts] == [
        "renders/r1/chunks/0000.mp4", "renders/r1/chunks/0001.mp4", "renders/r1/chunks/0002.mp4",
        "renders/r1/chunks/progress/0000.json", "renders/r1/chunks/progress/0001.json",
        "renders/r1/chunks/progress/0002.json", "renders/r1/plan.tar.gz",
    ]  # fmt: skip
    assert removed["left"] == [] and removed["kept"] == []
    left = [
        o["Key"] for o in s3.list_objects_v2(Bucket=sm.bucket, Prefix="renders/r1/")["Contents"]
    ]
    assert left == ["renders/r1/output.mp4"]
    assert cli.main(["lambda", "rm", "r1", "--output", *target]) == 0
    assert "deleted 1 object(s)" in capsys.readouterr().out
    assert "Contents" not in s3.list_objects_v2(Bucket=sm.bucket, Prefix="renders/r1/")

    # Projects: listed, deleted by their sha256, a second rm names what is missing.
    assert cli.main(["lambda", "projects", "ls", "--json", *target]) == 0
    keys = [p["key"] for p in json.loads(capsys.readouterr().out)]
    key = upload.uri.removeprefix(f"s3://{sm.bucket}/")
    assert key in keys
    sha = key.removeprefix("projects/").removesuffix(".tar.gz")
    assert cli.main(["lambda", "projects", "rm", sha, *target]) == 0
    assert f"deleted {key}" in capsys.readouterr().out
    assert cli.main(["lambda", "projects", "rm", sha, *target]) == 1
    assert "error [PROJECT_NOT_FOUND]" in capsys.readouterr().err
