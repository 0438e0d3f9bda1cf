"""Issue 21 item 1: ``lambda deploy`` and ``lambda destroy`` with boto3 CloudFormation.

Against moto on 127.0.0.1. What moto can and cannot show, said plainly:

- ``deploy`` runs whole against moto's CloudFormation: the ZIP and the definition go to
  the artifacts bucket once (content-addressed), the template's CodeUri/DefinitionUri point
  at them, a change set creates the stack; the same deploy again is "up to date" with no
  change set; a changed parameter updates the stack, and a parameter not given keeps its
  value. moto does not implement the Serverless transform (it skips ``AWS::Serverless::*``
  resources), so the function and state machine of *this* template are not created here
  and the stack has no outputs: on AWS, CloudFormation runs the transform itself
  (``CAPABILITY_AUTO_EXPAND``), which no test here can exercise.
- ``destroy`` runs against a stack that moto can build (a function, a state machine, a
  retained bucket and the three outputs, in plain CloudFormation): a running execution is
  stopped, intermediates are deleted and outputs kept (or, with ``--delete-outputs``, the
  bucket goes), the stack goes, and the check that nothing is left runs for real.
"""

from __future__ import annotations

import json
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest

from hyperframes_lambda import cli
from hyperframes_lambda.aws.deploy import packaged_template
from hyperframes_lambda.aws.lifecycle import INTERMEDIATE_TAG, OUTPUT, tagging

REGION = "us-east-1"


@pytest.fixture
def function_zip(tmp_path: Path) -> Path:
    path = tmp_path / "function.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context): return {}\n")
    return path


def test_packaging_points_the_template_at_the_artifacts() -> None:
    text = "Resources:\n  F:\n    Properties:\n      CodeUri: ../x.zip\n  S:\n    Properties:\n      DefinitionUri: a.json\n"
    out = packaged_template(text, "s3://b/artifacts/1.zip", "s3://b/artifacts/2.asl.json")
    assert "CodeUri: s3://b/artifacts/1.zip" in out
    assert "DefinitionUri: s3://b/artifacts/2.asl.json" in out


def test_deploy_creates_then_is_up_to_date_then_updates_one_parameter(
    s3_endpoint: str, function_zip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ["--stack", "hfdeploy", "--region", REGION, "--endpoint-url", s3_endpoint]

    def deploy(*extra: str) -> dict[str, object]:
        assert cli.main(["lambda", "deploy", "--zip", str(function_zip), "--json", *target,
                         *extra]) == 0  # fmt: skip
        return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]

    first = deploy("--map-concurrency", "10")
    assert first["status"] == "created"
    code, definition, _batch_definition = first["artifacts"]  # type: ignore[misc]
    cfn = boto3.client("cloudformation", endpoint_url=s3_endpoint, region_name=REGION)
    body = cfn.get_template(StackName="hfdeploy")["TemplateBody"]
    assert f"CodeUri: {code}" in body and f"DefinitionUri: {definition}" in body
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION)
    bucket, _, key = str(code).removeprefix("s3://").partition("/")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == function_zip.read_bytes()

    def parameters() -> dict[str, str]:
        stack = cfn.describe_stacks(StackName="hfdeploy")["Stacks"][0]
        return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}

    assert parameters()["MapMaxConcurrency"] == "10"
    assert parameters()["ProjectName"] == "hfdeploy"
    change_sets = len(cfn.list_change_sets(StackName="hfdeploy")["Summaries"])
    assert deploy("--map-concurrency", "10")["status"] == "up to date"
    assert len(cfn.list_change_sets(StackName="hfdeploy")["Summaries"]) == change_sets
    assert deploy("--memory", "4096")["status"] == "updated"
    assert parameters()["LambdaMemoryMb"] == "4096"
    assert parameters()["MapMaxConcurrency"] == "10", "a parameter not given keeps its value"
    assert deploy()["status"] == "up to date"


def test_deploy_names_a_missing_zip(s3_endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["lambda", "deploy", "--zip", "/nonexistent.zip", "--stack", "hfx",
                     "--region", REGION, "--endpoint-url", s3_endpoint])  # fmt: skip
    assert code == 1
    assert "error [DEPLOY_FAILED]: /nonexistent.zip: no such ZIP" in capsys.readouterr().err


def plain_stack(endpoint: str, name: str) -> dict[str, str]:
    """A stack moto can build, with the template's three outputs and a retained bucket."""
    role = {"Fn::GetAtt": ["Role", "Arn"]}
    waits = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100000, "End": True}}}
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
                "Version": "2012-10-17", "Statement": []}}},
            "RenderBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"},
            "RenderFunction": {"Type": "AWS::Lambda::Function", "Properties": {
                "FunctionName": f"{name}-render", "Runtime": "python3.12", "Handler": "h.h",
                "Role": role, "Code": {"ZipFile": "def h(e, c): return {}"}}},
            "RenderStateMachine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
                "StateMachineName": f"{name}-render", "RoleArn": role,
                "DefinitionString": json.dumps(waits)}},
        },
        "Outputs": {
            "RenderBucketName": {"Value": {"Ref": "RenderBucket"}},
            "RenderFunctionArn": {"Value": {"Fn::GetAtt": ["RenderFunction", "Arn"]}},
            "RenderStateMachineArn": {"Value": {"Ref": "RenderStateMachine"}},
        },
    }  # fmt: skip
    cfn = boto3.client("cloudformation", endpoint_url=endpoint, region_name=REGION)
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    outputs = cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


@pytest.mark.parametrize("delete_outputs", [False, True])
def test_destroy_stops_deletes_and_verifies_nothing_is_left(
    s3_endpoint: str, delete_outputs: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    # CloudFormation creates its state machine in moto's plain Step Functions backend;
    # with the ASL interpreter on (tests/local/test_state_machine.py's machine turns it
    # on for the session's server), StartExecution looks in another backend.
    request = urllib.request.Request(
        f"{s3_endpoint}/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": False}}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request).close()
    name = f"hfdestroy{int(delete_outputs)}"
    outputs = plain_stack(s3_endpoint, name)
    bucket = outputs["RenderBucketName"]
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION)
    s3.put_object(Bucket=bucket, Key="renders/r/chunks/0000.mp4", Body=b"c",
                  Tagging=tagging(INTERMEDIATE_TAG))  # fmt: skip
    s3.put_object(Bucket=bucket, Key="renders/r/output.mp4", Body=b"o",
                  Tagging=tagging({"hyperframes-lifecycle": OUTPUT}))  # fmt: skip
    sfn = boto3.client("stepfunctions", endpoint_url=s3_endpoint, region_name=REGION)
    running = sfn.start_execution(stateMachineArn=outputs["RenderStateMachineArn"], input="{}")
    assert sfn.describe_execution(executionArn=running["executionArn"])["status"] == "RUNNING"

    args = ["lambda", "destroy", "--stack", name, "--region", REGION,
            "--endpoint-url", s3_endpoint, "--json"]  # fmt: skip
    assert cli.main([*args, *(["--delete-outputs"] if delete_outputs else [])]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["stoppedExecutions"] == [running["executionArn"]] and result["left"] == []
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    if delete_outputs:
        assert bucket not in buckets
    else:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
        assert keys == ["renders/r/output.mp4"], "outputs kept, intermediates gone"
    assert cli.main(args) == 1  # gone: nothing to destroy
    assert "error [STACK_NOT_FOUND]" in capsys.readouterr().err
