"""Find a deployed stack's bucket, function and state machine from its CloudFormation outputs.

``sam/template.yaml`` exports ``RenderBucketName``, ``RenderFunctionArn`` and
``RenderStateMachineArn``; everything the client does starts from those three, so users
name a stack (``--stack hyperframes``) instead of copying ARNs around.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import StackNotFoundError, StackOutputMissingError

OUTPUT_BUCKET = "RenderBucketName"
OUTPUT_FUNCTION = "RenderFunctionArn"
OUTPUT_STATE_MACHINE = "RenderStateMachineArn"
OUTPUT_BATCH_STATE_MACHINE = "BatchStateMachineArn"  # optional: stacks before batches lack it
REQUIRED_OUTPUTS = (OUTPUT_BUCKET, OUTPUT_FUNCTION, OUTPUT_STATE_MACHINE)
# Optional: the template's AllowedOutputBuckets parameter, comma-separated (older stacks: none).
OUTPUT_ALLOWED_BUCKETS = "AllowedOutputBuckets"


@dataclass(frozen=True)
class AwsTarget:
    """How to reach AWS: region, named profile, and an endpoint for local servers (moto)."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None

    def session(self) -> Any:
        import boto3

        return boto3.Session(profile_name=self.profile, region_name=self.region)

    def client(self, service: str) -> Any:
        from botocore.config import Config

        config = Config(retries={"mode": "standard", "max_attempts": 5})
        if service == "s3" and self.endpoint_url:
            config = config.merge(Config(s3={"addressing_style": "path"}))
        return self.session().client(service, endpoint_url=self.endpoint_url, config=config)

    @property
    def region_name(self) -> str:
        return str(self.session().region_name or "us-east-1")


@dataclass(frozen=True)
class Stack:
    """What a deployed hyperframes-lambda stack exposes."""

    name: str
    bucket: str
    function_arn: str
    state_machine_arn: str
    region: str
    batch_state_machine_arn: str | None = None
    # Buckets besides ``bucket`` an output may be written to (the template's list).
    allowed_output_buckets: tuple[str, ...] = ()


def find_stack(name: str, target: AwsTarget) -> Stack:
    """Read the stack's outputs; a missing stack or output is a clear, named error."""
    from botocore.exceptions import ClientError

    cfn = target.client("cloudformation")
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        if "does not exist" in message or exc.response.get("Error", {}).get("Code") in {
            "ValidationError",
            "StackNotFound",
        }:
            raise StackNotFoundError(
                f"stack {name!r} not found in {target.region_name} ({message}); "
                "deploy it with `sam deploy` or pass --stack/--region"
            ) from None
        raise
    if not stacks:
        raise StackNotFoundError(f"stack {name!r} not found in {target.region_name}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [key for key in REQUIRED_OUTPUTS if not outputs.get(key)]
    if missing:
        raise StackOutputMissingError(
            f"stack {name!r} has no output {', '.join(missing)} "
            "(is it a hyperframes-lambda stack from sam/template.yaml?)"
        )
    region = outputs[OUTPUT_STATE_MACHINE].split(":")[3] or target.region_name
    return Stack(
        name=name,
        bucket=outputs[OUTPUT_BUCKET],
        function_arn=outputs[OUTPUT_FUNCTION],
        state_machine_arn=outputs[OUTPUT_STATE_MACHINE],
        region=region,
        batch_state_machine_arn=outputs.get(OUTPUT_BATCH_STATE_MACHINE) or None,
        allowed_output_buckets=tuple(
            b.strip() for b in outputs.get(OUTPUT_ALLOWED_BUCKETS, "").split(",") if b.strip()
        ),
    )
