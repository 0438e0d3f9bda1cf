"""Issue 21 item 2, under moto's IAM enforcement: deploy and render as an IAM user whose
only policies are the printed ones, with the function's calls made as an identity whose
only policy is the printed role.

moto's enforcement is real but partial (``moto/core/authorization.py``,
``moto/iam/access_control.py``): it checks every request's signature and action, but the
resource only for S3 (bucket and object ARNs); every other service is authorised against
``*``. It names S3's actions after the API operation (``s3:HeadObject``) and Lambda's
Invoke ``lambda:Invoke``. So each identity holds the printed document exactly (created as
a managed policy, which moto's policy validator accepts) *and* the same document in moto's
dialect (``iam_actions.moto_dialect``: the S3 actions as the operations that need them,
resources kept; other services' actions kept, on ``*``). What this proves: the code runs
deploy, render and destroy to the end with no permission outside those documents' actions,
and with S3 access only inside their bucket and object ARNs. The resource scoping of the
other services is what ``test_iam_recorded.py`` checks.

The emulator runs in this process: moto's ASL interpreter invokes the function with fixed
keys (``ak``), and the emulator gives its function processes ``testing``; both keys are
made the access keys of IAM users here (the state machine's stand-in may invoke; the
function's holds the role).
"""

from __future__ import annotations

import json
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from hyperframes_lambda import cli
from hyperframes_lambda.aws.policies import Names, role_policy, user_policy
from hyperframes_lambda.local import emulate

from ..conftest import EXAMPLES
from .iam_actions import moto_dialect

pytestmark = pytest.mark.slow

STACK = "hfauth"
DEPLOYED = "hfauthdeploy"
ACCOUNT = "123456789012"
REGION = "us-east-1"
CONFIG = {"width": 320, "height": 180, "chunkSize": 40}


def set_auth(endpoint: str, initial_no_auth_count: str) -> None:
    """moto's switch: ``0`` authorises every request from now on, ``inf`` none."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=initial_no_auth_count.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},  # a form body would be parsed away
    )
    urllib.request.urlopen(request, timeout=30).close()


def identity(iam: Any, name: str, documents: dict[str, dict[str, Any]]) -> dict[str, str]:
    """An IAM user holding exactly ``documents`` as managed policies; its access key."""
    iam.create_user(UserName=name)
    for policy_name, document in documents.items():
        arn = iam.create_policy(PolicyName=f"{name}-{policy_name}",
                                PolicyDocument=json.dumps(document))["Policy"]["Arn"]  # fmt: skip
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


def with_documents(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"printed": document, "printed-in-motos-dialect": moto_dialect(document)}


def give_key(user: str, access_key_id: str, secret: str) -> None:
    """Make a fixed key (the emulator's, the interpreter's) ``user``'s own: moto finds a
    request's user by scanning its users' keys."""
    from moto.iam.models import iam_backends

    [key] = iam_backends[ACCOUNT]["aws"].get_user(user).access_keys
    key.access_key_id, key.secret_access_key = access_key_id, secret


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[emulate.EmulatedStack]:
    options = emulate.EmulatorOptions(port=0, stack=STACK, data_dir=tmp_path / "emulator")
    with emulate.Emulator(options) as emulator:
        assert emulator.stack is not None
        endpoint = emulator.stack.endpoint
        iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION,
                           **{k.lower(): v for k, v in emulate.CREDENTIALS.items()})  # fmt: skip
        names = Names(stack=STACK, project=STACK, region=REGION, account=ACCOUNT)
        deployed = Names(stack=DEPLOYED, project=DEPLOYED, region=REGION, account=ACCOUNT)
        deployer = identity(iam, "deployer", {
            **with_documents(user_policy(names)),
            **{f"deploy-{k}": v for k, v in with_documents(user_policy(deployed)).items()},
        })  # fmt: skip
        identity(iam, "render-function", with_documents(role_policy(names)))
        give_key("render-function", *emulate.CREDENTIALS.values())
        invoke = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "lambda:Invoke", "Resource": "*"}]}  # fmt: skip
        identity(iam, "state-machine", {"invoke": invoke})
        give_key("state-machine", "ak", "sk")  # moto's ASL interpreter's fixed keys
        for key, value in {**deployer, "AWS_DEFAULT_REGION": REGION}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        set_auth(endpoint, "0")
        try:
            yield emulator.stack
        finally:
            set_auth(endpoint, "inf")


def lambda_cli(capsys: pytest.CaptureFixture[str], *args: str, expect: int = 0) -> str:
    code = cli.main(["lambda", *args])
    captured = capsys.readouterr()
    assert code == expect, f"lambda {' '.join(args[:2])}: exit {code}: {captured.err[-2000:]}"
    return captured.out


def test_deploy_render_and_destroy_with_only_the_printed_policies(
    stack: emulate.EmulatedStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = stack.endpoint
    # Enforcement is on, for S3 and the others: the deployer may do nothing else.
    for denied in (
        lambda: boto3.client("s3", endpoint_url=endpoint).list_buckets(),
        lambda: boto3.client("stepfunctions", endpoint_url=endpoint).list_state_machines(),
        lambda: boto3.client("s3", endpoint_url=endpoint).put_object(
            Bucket="another-stacks-bucket", Key="x", Body=b"x"),
    ):  # fmt: skip
        with pytest.raises(ClientError, match=r"AccessDenied|Forbidden|403"):
            denied()
    target = ["--region", REGION, "--endpoint-url", endpoint]
    function_zip = tmp_path / "function.zip"
    with zipfile.ZipFile(function_zip, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context): return {}\n")
    deploy = ["deploy", "--zip", str(function_zip), "--stack", DEPLOYED, "--json", *target]
    assert json.loads(lambda_cli(capsys, *deploy))["status"] == "created"
    assert json.loads(lambda_cli(capsys, *deploy))["status"] == "up to date"
    assert json.loads(lambda_cli(capsys, *deploy, "--memory", "4096"))["status"] == "updated"

    on_stack = ["--stack", STACK, *target]
    out = tmp_path / "out.mp4"
    lines = lambda_cli(capsys, "render", str(EXAMPLES / "title-card"), "--config",
                       json.dumps(CONFIG), "--wait", "-o", str(out), "--poll", "0.5",
                       *on_stack).splitlines()  # fmt: skip
    arn = lines[0]
    assert out.stat().st_size > 0 and "120 frames in 3 chunk(s)" in "\n".join(lines)
    assert "SUCCEEDED" in lambda_cli(capsys, "progress", arn, *on_stack)
    assert json.loads(lambda_cli(capsys, "cost", arn, "--json", *on_stack))["totalUsd"] > 0
    assert arn.rsplit(":", 1)[-1] in lambda_cli(capsys, "ls", *on_stack)
    lambda_cli(capsys, "quotas", "--chunks", "3", *on_stack)
    still = lambda_cli(capsys, "still", str(EXAMPLES / "title-card"), "--frame", "0",
                       "-o", str(tmp_path / "still.png"), *on_stack)  # fmt: skip
    assert "s3://" in still and (tmp_path / "still.png").stat().st_size > 0
    projects = json.loads(lambda_cli(capsys, "projects", "ls", "--json", *on_stack))
    lambda_cli(capsys, "rm", arn, "--output", *on_stack)
    lambda_cli(capsys, "projects", "rm", *[p["key"] for p in projects], *on_stack)
    # As in test_iam_recorded: the emulator's state machine is beside its stack, so it is
    # what destroy finds left, after deleting everything else.
    assert cli.main(["lambda", "destroy", "--delete-outputs", *on_stack]) == 1
    [error] = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error [")]
    assert error == (f"error [STORAGE_LEFT]: destroy of {STACK} left: state machine "
                     f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STACK}-render")  # fmt: skip
