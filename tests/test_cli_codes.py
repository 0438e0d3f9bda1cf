"""Every way a command can fail prints one ``error [CODE]: …`` line whose CODE is
UPPER_SNAKE and one of :mod:`hyperframes_lambda.errors`' codes — local commands and the
``lambda`` client alike (botocore's class names and the services' own codes, such as
``ExecutionDoesNotExist``, used to leak through)."""

from __future__ import annotations

import re
from pathlib import Path

import boto3
import pytest

from hyperframes_lambda import cli, errors
from hyperframes_lambda.aws.client import RenderClient
from hyperframes_lambda.aws.history import ExecutionRecord

from .aws.test_aws_client import REGION, create_stack
from .conftest import EXAMPLES

CODES = {cls.code for cls in errors.all_error_classes()}
ERROR_LINE = re.compile(r"^error \[([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)\]: \S")
UNKNOWN_ARN = f"arn:aws:states:{REGION}:123456789012:execution:hf-render:nope"


def failure_code(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI in this process; exit 1 with exactly one well-formed error line."""
    assert cli.main(list(argv)) == 1
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error")]
    assert len(lines) == 1, lines
    matched = ERROR_LINE.match(lines[0])
    assert matched is not None, lines[0]
    assert matched.group(1) in CODES, lines[0]
    return matched.group(1)


@pytest.fixture
def stack(s3_endpoint: str) -> list[str]:
    """The flags naming a stack in moto whose outputs point at real (empty) resources."""
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION)
    s3.create_bucket(Bucket="hf-codes")
    machine = f"arn:aws:states:{REGION}:123456789012:stateMachine:hf-render"
    create_stack(s3_endpoint, "hf-codes", {
        "RenderBucketName": "hf-codes", "RenderStateMachineArn": machine,
        "RenderFunctionArn": f"arn:aws:lambda:{REGION}:123456789012:function:hf-render",
    })  # fmt: skip
    return ["--stack", "hf-codes", "--region", REGION, "--endpoint-url", s3_endpoint]


@pytest.mark.parametrize("command", ["progress", "resume", "cancel", "cost"])
def test_an_unknown_execution_is_execution_not_found_for_every_command(
    command: str, stack: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert failure_code(capsys, "lambda", command, UNKNOWN_ARN, *stack) == "EXECUTION_NOT_FOUND"


def test_a_missing_stack_and_an_unreachable_endpoint(
    s3_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ["--region", REGION, "--endpoint-url"]
    assert (
        failure_code(capsys, "lambda", "upload", str(EXAMPLES / "title-card"), "--stack",
                     "none", *target, s3_endpoint)
        == "STACK_NOT_FOUND"
    )  # fmt: skip
    assert (
        failure_code(capsys, "lambda", "progress", UNKNOWN_ARN, "--stack", "s",
                     *target, "http://127.0.0.1:9")
        == "AWS_UNREACHABLE"
    )  # fmt: skip


def test_missing_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance metadata lookup
    code = failure_code(
        capsys, "lambda", "progress", UNKNOWN_ARN, "--stack", "s", "--region", REGION,
        "--endpoint-url", "http://127.0.0.1:9",
    )  # fmt: skip
    assert code == "AWS_CREDENTIALS_MISSING"


def test_a_finished_execution_without_an_output_says_so_before_any_download(
    s3_endpoint: str, tmp_path: Path
) -> None:
    client = RenderClient("never-looked-up", region=REGION, endpoint_url=s3_endpoint)
    record = ExecutionRecord(status="SUCCEEDED", output={"FramesEncoded": 3})
    with pytest.raises(errors.ExecutionOutputMissingError, match="OutputS3Uri: absent"):
        client.summarise(UNKNOWN_ARN, record, tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_local_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_a_plan = tmp_path / "plan.tar.gz"
    not_a_plan.write_bytes(b"not gzip")
    assert failure_code(capsys, "render-chunk", str(not_a_plan), "0", str(tmp_path / "c.mp4"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "index.html").write_text("<html><body>no composition root</body></html>")
    code = failure_code(capsys, "plan", str(broken), str(tmp_path / "p"))
    assert code == "INVALID_COMPOSITION"
    assert not (tmp_path / "p").exists()


def test_a_missing_browser(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HYPERFRAMES_CHROME_PATH", str(tmp_path / "no-chrome"))
    code = failure_code(
        capsys, "render", str(EXAMPLES / "title-card"), "-o", str(tmp_path / "out" / "x.mp4")
    )
    assert code == "CHROME_BINARY_UNAVAILABLE"
    assert list(tmp_path.iterdir()) == []  # not even the out/ directory it made
