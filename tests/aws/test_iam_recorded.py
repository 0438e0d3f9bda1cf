"""Issue 21 item 2: every API call a deploy and a render make is allowed by the printed
policies (``lambda policies user``, ``--render-only`` and ``role``).

Why not moto's IAM enforcement: moto authorises S3 requests against bucket and object
ARNs but every other service's against ``*`` (so a policy scoped to the stack's state
machine or function is denied there though AWS allows it), it names S3's actions by API
operation (``s3:HeadObject``, ``s3:ListObjectsV2``: IAM has neither), and its ASL
interpreter invokes the function with fixed keys no IAM user has. Under moto's enforcement
the printed policy fails for moto's reasons, not ours (docs/aws.md, "IAM policies").

What runs instead, all against the emulator on 127.0.0.1: ``lambda deploy`` (create, "up
to date", an update), a render with a signed webhook whose key is in Secrets Manager,
``progress``, ``cost``, ``ls``, ``quotas``, ``still --presign``, ``projects ls``, ``rm
--output``, ``projects rm``, a second render cancelled, and ``destroy``. Every API call of
this process (the client), of the function's processes (the real handler under
``awslambdaric``) and of the emulator is recorded through botocore's event hooks
(``api_recording/``), mapped to the IAM actions and resource ARNs AWS authorises
(``iam_actions.py``), and evaluated against the printed documents with
``policies.validate`` (IAM's wildcards, ``NotAction``/``NotResource``, Deny wins). A call
the policy does not allow fails the test, naming it. Actions the policies grant that no
call used are reported, and for the render policy and the role, must each have a reason.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from hyperframes_lambda import cli
from hyperframes_lambda.aws.policies import Names, role_policy, user_policy, validate

from ..conftest import EXAMPLES
from ..local.test_emulate import Running, start_emulator
from .api_recording import hf_api_recorder
from .iam_actions import Need, needs
from .test_aws_client import Receiver, receiver  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.slow

STACK = "hfiam"  # the emulated stack (render, destroy)
DEPLOYED = "hfiamdeploy"  # the stack `lambda deploy` creates (moto skips its Serverless parts)
ACCOUNT = "123456789012"  # moto's
REGION = "us-east-1"
RECORDING = Path(__file__).resolve().parent / "api_recording"
CONFIG = {"width": 320, "height": 180, "chunkSize": 40}

# Granted, and no call here uses them, for a reason the recording cannot change.
UNUSED_BY_DESIGN = {
    # the role: boto3 uploads in parts only above 64 MiB (handler/storage.py), and aborts
    # or lists parts only when such an upload fails or is retried
    "s3:AbortMultipartUpload": "multipart uploads (> 64 MiB) that fail",
    "s3:ListMultipartUploadParts": "multipart uploads (> 64 MiB) that are retried",
}


def aws_only_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Calls the code makes on AWS that moto's Distributed Map never leads to: moto lists
    no child executions under a map run, so nobody reads a chunk's history. On AWS, every
    ``ListExecutions(mapRunArn=...)`` is followed by ``GetExecutionHistory`` of each child,
    whose ARN AWS forms as ``execution:<machine>/<map run label>:<id>``."""
    children = []
    for call in calls:
        map_run = call["params"].get("mapRunArn")
        if call["operation"] == "ListExecutions" and map_run:
            child = str(map_run).replace(":mapRun:", ":execution:").rsplit(":", 1)[0]
            children.append({**call, "operation": "GetExecutionHistory",
                             "params": {"executionArn": f"{child}:00000000-0000-4000-8000-000000000000"}})  # fmt: skip
    return children


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    """The emulator, recording its own and its function processes' calls."""
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv(hf_api_recorder.ENV_LOG, str(log))
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(RECORDING), path])))
    running = start_emulator(tmp_path, "--stack", STACK)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(key, running.env[key])
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    hf_api_recorder.install(str(log), "client", phase=None)
    try:
        yield running
    finally:
        hf_api_recorder.uninstall()
        if running.proc.poll() is None:
            running.stop(signal.SIGTERM)


def lambda_cli(capsys: pytest.CaptureFixture[str], *args: str, expect: int = 0) -> str:
    code = cli.main(["lambda", *args])
    captured = capsys.readouterr()
    assert code == expect, f"lambda {' '.join(args[:2])}: exit {code}: {captured.err[-2000:]}"
    return captured.out


def recorded(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text("utf-8").splitlines() if line]


def check(calls: list[dict[str, Any]], document: dict[str, Any]) -> tuple[list[Need], set[str]]:
    """The needs the document does not allow, and the actions it grants that none used."""
    wanted = [n for call in calls for n in needs(call, ACCOUNT)]
    statements = document["Statement"]
    denied = [
        n for n in wanted
        if validate(statements, {"Statement": [{"Action": [n.action], "Resource": n.resource}]}
                    ).missing
    ]  # fmt: skip
    granted = {a for s in statements for a in s["Action"]}
    return denied, granted - {n.action for n in wanted}


def test_every_call_of_a_deploy_and_a_render_is_in_the_printed_policies(
    emulator: Running,
    receiver: Receiver,  # noqa: F811 - test_aws_client's fixture
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint = emulator.env["AWS_ENDPOINT_URL"]
    log = Path(os.environ[hf_api_recorder.ENV_LOG])
    target = ["--region", REGION, "--endpoint-url", endpoint]

    # ---- deploy: create, up to date, update (moto's CloudFormation, the real template) --
    function_zip = tmp_path / "function.zip"
    with zipfile.ZipFile(function_zip, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context): return {}\n")
    deploy = ["deploy", "--zip", str(function_zip), "--stack", DEPLOYED, "--json", *target]
    hf_api_recorder.set_phase("deploy")
    assert json.loads(lambda_cli(capsys, *deploy))["status"] == "created"
    assert json.loads(lambda_cli(capsys, *deploy))["status"] == "up to date"
    assert json.loads(lambda_cli(capsys, *deploy, "--memory", "4096"))["status"] == "updated"
    hf_api_recorder.set_phase(None)

    # ---- render, with a signed webhook whose key the function reads from Secrets Manager -
    secret_name = f"{STACK}-webhook-key"
    secret_arn = boto3.client("secretsmanager", endpoint_url=endpoint).create_secret(
        Name=secret_name, SecretString="webhook-signing-key"
    )["ARN"]
    on_stack = ["--stack", STACK, *target]
    out = tmp_path / "out.mp4"
    hf_api_recorder.set_phase("render")
    lines = lambda_cli(
        capsys, "render", str(EXAMPLES / "title-card"), "--config", json.dumps(CONFIG),
        "--webhook-url", receiver.url, "--webhook-secret-arn", secret_arn,
        "--wait", "-o", str(out), "--poll", "0.5", *on_stack,
    ).splitlines()  # fmt: skip
    arn = lines[0]
    assert out.stat().st_size > 0 and "120 frames" in "\n".join(lines)
    assert [b["status"] for b in receiver.bodies()] == ["SUCCEEDED"]
    assert "SUCCEEDED" in lambda_cli(capsys, "progress", arn, *on_stack)
    assert json.loads(lambda_cli(capsys, "cost", arn, "--json", *on_stack))["totalUsd"] > 0
    assert arn.rsplit(":", 1)[-1] in lambda_cli(capsys, "ls", *on_stack)
    lambda_cli(capsys, "quotas", "--chunks", "3", *on_stack)
    still = lambda_cli(capsys, "still", str(EXAMPLES / "title-card"), "--frame", "0",
                       "--presign", "-o", str(tmp_path / "still.png"), *on_stack)  # fmt: skip
    assert "s3://" in still and (tmp_path / "still.png").stat().st_size > 0
    projects = json.loads(lambda_cli(capsys, "projects", "ls", "--json", *on_stack))
    lambda_cli(capsys, "rm", arn, "--output", *on_stack)
    lambda_cli(capsys, "projects", "rm", *[p["key"] for p in projects], *on_stack)
    # A second render, cancelled once started (the interpreter may not have run a chunk).
    second = lambda_cli(capsys, "render", str(EXAMPLES / "title-card"), "--config",
                        json.dumps(CONFIG), "--no-preflight", *on_stack).splitlines()[0]  # fmt: skip
    assert "ABORTED" in lambda_cli(capsys, "cancel", second, *on_stack)

    # ---- destroy the emulated stack -------------------------------------------------------
    hf_api_recorder.set_phase("destroy")
    # The emulator creates its state machine through the Step Functions API, beside its
    # stack (moto's CloudFormation would hide it from the interpreter), so destroy finds
    # that one thing left and says so (exit 1), after every call it makes on AWS.
    assert cli.main(["lambda", "destroy", "--delete-outputs", *on_stack]) == 1
    [error] = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error [")]
    assert error == (f"error [STORAGE_LEFT]: destroy of {STACK} left: state machine "
                     f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STACK}-render")  # fmt: skip
    hf_api_recorder.set_phase(None)

    # ---- every recorded call against the printed documents --------------------------------
    calls = recorded(log)
    calls += aws_only_calls(calls)
    by = {
        phase: [c for c in calls if c["who"] == "client" and c["phase"] == phase]
        for phase in ("deploy", "render", "destroy")
    }
    function_calls = [c for c in calls if c["who"] == "function"]
    assert all(by.values()) and function_calls, {k: len(v) for k, v in by.items()}
    names = Names(stack=STACK, project=STACK, region=REGION, account=ACCOUNT)
    deployed = Names(stack=DEPLOYED, project=DEPLOYED, region=REGION, account=ACCOUNT)
    results = {
        "lambda policies user (deploy)": check(by["deploy"], user_policy(deployed)),
        "lambda policies user --render-only (render)": check(
            by["render"], user_policy(names, render_only=True)
        ),
        "lambda policies user (destroy)": check(by["destroy"], user_policy(names)),
        "lambda policies role (the function)": check(function_calls, role_policy(names)),
    }
    report = []
    for title, (denied, _) in results.items():
        for need in sorted(set(denied), key=lambda n: (n.action, n.resource)):
            report.append(f"{title}: {need.call} needs {need.action} on {need.resource}")
    assert report == [], "calls the printed policy does not allow:\n" + "\n".join(report)

    # Least privilege: what the render policy and the role grant is used, or has a reason.
    unused = (
        results["lambda policies user --render-only (render)"][1]
        | (results["lambda policies role (the function)"][1])
    )
    used_anywhere = {n.action for c in calls if c["who"] != "emulator" for n in needs(c, ACCOUNT)}
    print("granted, unused here:", sorted(unused), file=sys.stderr)
    assert sorted(unused - used_anywhere - set(UNUSED_BY_DESIGN)) == []


def test_the_recorder_sees_a_subprocess_call(tmp_path: Path) -> None:
    """The hook a function process gets (PYTHONPATH + the log variable) records its calls,
    with the resource that the IAM mapping turns into an ARN."""
    log = tmp_path / "calls.jsonl"
    code = (
        "import boto3, botocore.exceptions as e\n"
        "c = boto3.client('s3', endpoint_url='http://127.0.0.1:9', region_name='us-east-1',"
        " aws_access_key_id='a', aws_secret_access_key='b',"
        " config=boto3.session.Config(retries={'max_attempts': 0}, connect_timeout=1))\n"
        "try: c.head_object(Bucket='b-1', Key='k/x')\n"
        "except e.BotoCoreError: pass\n"
    )
    env = {**os.environ, hf_api_recorder.ENV_LOG: str(log), "PYTHONPATH": str(RECORDING),
           "AWS_LAMBDA_FUNCTION_NAME": "f"}  # fmt: skip
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    [call] = recorded(log)
    assert (call["who"], call["service"], call["operation"]) == ("function", "s3", "HeadObject")
    assert needs(call, ACCOUNT) == [
        Need("s3:GetObject", "arn:aws:s3:::b-1/k/x", "s3.HeadObject (function, run)")
    ]
