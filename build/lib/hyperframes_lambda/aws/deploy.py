"""``lambda deploy`` and ``lambda destroy``: the stack's lifecycle with boto3 alone.

No SAM CLI and no Docker: ``sam/template.yaml`` uses the Serverless transform, and
CloudFormation runs that transform itself when a change set is created with
``CAPABILITY_AUTO_EXPAND``. What ``sam deploy`` adds on the client is packaging, done here:
the function's ZIP (``make zip``, or ``--zip``) and the state machine definition are
uploaded, content-addressed, to an artifacts bucket (``hyperframes-lambda-artifacts-
<account>-<region>``, created once, private, encrypted), and the template's ``CodeUri``
and the ``DefinitionUri``s are pointed at them. Then one change set: a stack that would not
change is reported "up to date" and nothing is executed (a second deploy is a no-op).

``destroy`` follows ``scripts/lib.sh``'s teardown rules in Python: stop the running
executions first (nothing may write after the stack goes), delete the intermediates (the
tagged objects), keep the outputs unless ``--delete-outputs`` (then the bucket, which the
template retains, goes too), delete the stack, and verify that nothing it meant to remove
is left (the stack, the function, the state machine, the intermediates or the bucket).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DeployFailedError, StorageLeftError
from .asl import ASL_PATHS, TEMPLATE_PATH
from .lifecycle import INTERMEDIATE, LIFECYCLE_TAG
from .stack import AwsTarget, Stack, find_stack

ARTIFACTS_BUCKET = "hyperframes-lambda-artifacts-{account}-{region}"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
_TEMPLATE_BODY_LIMIT = 51_200  # CloudFormation's TemplateBody limit; larger goes by URL


@dataclass(frozen=True)
class DeployResult:
    stack: str
    status: str  # "created", "updated", "up to date"
    outputs: dict[str, str]
    artifacts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack, "status": self.status, "outputs": self.outputs,
            "artifacts": self.artifacts,
        }  # fmt: skip


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def packaged_template(template: str, code_uri: str, definition_uri: str | Mapping[str, str]) -> str:
    """The template with its local ``CodeUri`` and ``DefinitionUri``s pointed at S3: one
    URI for a template with one state machine, or each local ``DefinitionUri`` value
    (``statemachine/render.asl.json``) mapped to its S3 URI."""
    replaced, count = re.subn(r"(?m)^(\s*CodeUri:)\s*\S.*$", rf"\1 {code_uri}", template)
    found: list[str] = []

    def point(match: re.Match[str]) -> str:
        local = match.group(2).strip()
        found.append(local)
        uri = definition_uri if isinstance(definition_uri, str) else definition_uri.get(local)
        return f"{match.group(1)} {uri}" if uri else match.group(0)

    replaced = re.sub(r"(?m)^(\s*DefinitionUri:)\s*(\S.*)$", point, replaced)
    expected = 1 if isinstance(definition_uri, str) else len(definition_uri)
    if (
        count != 1
        or len(found) != expected
        or (not isinstance(definition_uri, str) and sorted(found) != sorted(definition_uri))
    ):
        raise DeployFailedError(
            f"{TEMPLATE_PATH}: expected one CodeUri and {expected} DefinitionUri(s), found "
            f"{count} and {len(found)} ({', '.join(found)})"
        )
    return replaced


class Deployer:
    """One stack in one account and region, reached through ``target``."""

    def __init__(
        self, target: AwsTarget, stack: str, log: Callable[[str], None] | None = None
    ) -> None:
        self.target = target
        self.stack_name = stack
        self.cfn = target.client("cloudformation")
        self.s3 = target.client("s3")
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))

    # ---- deploy -------------------------------------------------------------------------

    def artifacts_bucket(self) -> str:
        from botocore.exceptions import ClientError

        account = self.target.client("sts").get_caller_identity()["Account"]
        region = self.target.region_name
        bucket = ARTIFACTS_BUCKET.format(account=account, region=region)
        try:
            self.s3.head_bucket(Bucket=bucket)
            return bucket
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) not in ("404", "NoSuchBucket"):
                raise
        self.log(f"creating the artifacts bucket s3://{bucket}")
        create: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": region}
        self.s3.create_bucket(**create)
        self.s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True, "IgnorePublicAcls": True,
                "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
            },
        )  # fmt: skip
        self.s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        return bucket

    def upload(self, bucket: str, data: bytes, suffix: str) -> str:
        """``data`` as ``artifacts/<sha256><suffix>``, sent only when not there yet."""
        from botocore.exceptions import ClientError

        key = f"artifacts/{_sha256(data)}{suffix}"
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError:
            self.s3.put_object(Bucket=bucket, Key=key, Body=data)
        return f"s3://{bucket}/{key}"

    def _stack_status(self) -> str | None:
        from botocore.exceptions import ClientError

        try:
            stacks = self.cfn.describe_stacks(StackName=self.stack_name)["Stacks"]
        except ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        return str(stacks[0]["StackStatus"]) if stacks else None

    def deploy(self, zip_path: Path, parameters: dict[str, str]) -> DeployResult:
        if not zip_path.is_file():
            raise DeployFailedError(f"{zip_path}: no such ZIP (build it with `make zip`)")
        bucket = self.artifacts_bucket()
        code = self.upload(bucket, zip_path.read_bytes(), ".zip")
        definitions = {
            f"statemachine/{path.name}": self.upload(bucket, path.read_bytes(), ".asl.json")
            for path in ASL_PATHS
        }
        template = packaged_template(TEMPLATE_PATH.read_text(), code, definitions)
        uploaded = [code, *definitions.values()]
        body: dict[str, str] = {"TemplateBody": template}
        if len(template.encode()) > _TEMPLATE_BODY_LIMIT:
            uri = self.upload(bucket, template.encode(), ".template.yaml")
            key = uri.removeprefix(f"s3://{bucket}/")
            body = {"TemplateURL": f"https://{bucket}.s3.amazonaws.com/{key}"}
        status = self._stack_status()
        create = status in (None, "REVIEW_IN_PROGRESS")
        if status is not None and status.endswith("_IN_PROGRESS") and not create:
            raise DeployFailedError(f"stack {self.stack_name} is {status}: wait for it to finish")
        if status == "ROLLBACK_COMPLETE":
            raise DeployFailedError(
                f"stack {self.stack_name} is ROLLBACK_COMPLETE (its first deploy failed): "
                "run `lambda destroy` first"
            )
        if not create and self._unchanged(template, parameters):
            return DeployResult(self.stack_name, "up to date", self._outputs(), uploaded)
        name = f"hyperframes-lambda-{int(time.time())}-{secrets.token_hex(3)}"
        given: list[dict[str, Any]] = [
            {"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()
        ]
        if not create:  # a parameter not given keeps its value (not the template's default)
            current = self.cfn.describe_stacks(StackName=self.stack_name)["Stacks"][0]
            given += [
                {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
                for p in current.get("Parameters", [])
                if p["ParameterKey"] not in parameters
            ]
        self.cfn.create_change_set(
            StackName=self.stack_name, ChangeSetName=name, **body,
            ChangeSetType="CREATE" if create else "UPDATE", Capabilities=CAPABILITIES,
            Parameters=given,
            Tags=[{"Key": "hyperframes-lambda-stack", "Value": self.stack_name}],
        )  # fmt: skip
        described = self._wait_change_set(name)
        if described["Status"] == "FAILED":
            reason = str(described.get("StatusReason", ""))
            self.cfn.delete_change_set(StackName=self.stack_name, ChangeSetName=name)
            if any(text in reason for text in _NO_CHANGES):
                return DeployResult(self.stack_name, "up to date", self._outputs(), uploaded)
            raise DeployFailedError(f"stack {self.stack_name}: change set failed: {reason}")
        self.log(f"{'creating' if create else 'updating'} stack {self.stack_name} "
                 f"({len(described.get('Changes', []))} change(s))")  # fmt: skip
        self.cfn.execute_change_set(StackName=self.stack_name, ChangeSetName=name)
        final = self._wait_stack(("CREATE_COMPLETE", "UPDATE_COMPLETE"))
        if final not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            raise DeployFailedError(
                f"stack {self.stack_name} ended {final}: {self._first_failure()}"
            )
        return DeployResult(
            self.stack_name, "created" if create else "updated", self._outputs(),
            uploaded,
        )  # fmt: skip

    def _unchanged(self, template: str, parameters: dict[str, str]) -> bool:
        """The deployed stack has this very template (same content-addressed artifacts) and
        these parameter values: nothing to do, no change set."""
        deployed = self.cfn.get_template(StackName=self.stack_name, TemplateStage="Original")
        if deployed.get("TemplateBody") != template:
            return False
        stack = self.cfn.describe_stacks(StackName=self.stack_name)["Stacks"][0]
        current = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
        return all(current.get(key) == value for key, value in parameters.items())

    def _wait_change_set(self, name: str) -> dict[str, Any]:
        while True:
            described: dict[str, Any] = self.cfn.describe_change_set(
                StackName=self.stack_name, ChangeSetName=name
            )
            if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
                return described
            time.sleep(2)

    def _wait_stack(self, done: tuple[str, ...]) -> str:
        """Poll until the stack leaves *_IN_PROGRESS, printing each new event."""
        seen: set[str] = set()
        while True:
            status = self._stack_status() or "DELETE_COMPLETE"
            self._new_events(seen)
            if not status.endswith("_IN_PROGRESS") or status in done:
                return status
            time.sleep(3)

    def _new_events(self, seen: set[str]) -> None:
        from botocore.exceptions import ClientError

        try:
            events = self.cfn.describe_stack_events(StackName=self.stack_name)["StackEvents"]
        except ClientError:
            return
        for event in reversed(events[:50]):
            if event["EventId"] in seen:
                continue
            seen.add(event["EventId"])
            reason = event.get("ResourceStatusReason")
            self.log(
                f"  {event.get('LogicalResourceId')} {event.get('ResourceStatus')}"
                + (f": {reason}" if reason else "")
            )

    def _first_failure(self) -> str:
        events = self.cfn.describe_stack_events(StackName=self.stack_name)["StackEvents"]
        failed = [e for e in events if str(e.get("ResourceStatus", "")).endswith("_FAILED")]
        if not failed:
            return "no failed resource reported"
        first = failed[-1]
        return f"{first.get('LogicalResourceId')}: {first.get('ResourceStatusReason', '')}"

    def _outputs(self) -> dict[str, str]:
        stacks = self.cfn.describe_stacks(StackName=self.stack_name)["Stacks"]
        return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

    # ---- destroy -------------------------------------------------------------------------

    def destroy(self, *, delete_outputs: bool, settle_s: float = 300.0) -> DestroyResult:
        stack = find_stack(self.stack_name, self.target)
        result = DestroyResult(self.stack_name)
        result.stopped, still_running = self._stop_executions(stack, settle_s)
        if still_running:  # nothing is deleted under a render that still writes
            raise DeployFailedError(
                f"{len(still_running)} execution(s) of {self.stack_name} still RUNNING after "
                f"being stopped: {', '.join(still_running[:3])}; nothing was deleted"
            )
        result.deleted_objects = self._empty(stack.bucket, everything=delete_outputs)
        self.log(f"deleting stack {self.stack_name}")
        self.cfn.delete_stack(StackName=self.stack_name)
        final = self._wait_stack(("DELETE_COMPLETE",))
        if final != "DELETE_COMPLETE":
            raise DeployFailedError(
                f"stack {self.stack_name} ended {final}: {self._first_failure()}"
            )
        if delete_outputs:
            self._empty(stack.bucket, everything=True)  # anything written meanwhile
            self.s3.delete_bucket(Bucket=stack.bucket)
        result.left = self._leftovers(stack, delete_outputs)
        if result.left:
            raise StorageLeftError(
                f"destroy of {self.stack_name} left: {'; '.join(result.left[:5])}"
            )
        return result

    def _stop_executions(self, stack: Stack, settle_s: float) -> tuple[list[str], list[str]]:
        """Stop every RUNNING execution (batches first, so none starts another row's
        render); wait until none is. Returns (stopped, still running after ``settle_s``)."""
        sfn = self.target.client("stepfunctions")
        machines = [m for m in (stack.batch_state_machine_arn, stack.state_machine_arn) if m]
        running = [
            e["executionArn"]
            for machine in machines
            for page in sfn.get_paginator("list_executions").paginate(
                stateMachineArn=machine, statusFilter="RUNNING"
            )
            for e in page.get("executions", [])
        ]
        for arn in running:
            self.log(f"stopping {arn.rsplit(':', 1)[-1]}")
            sfn.stop_execution(executionArn=arn, error="CANCELLED", cause="lambda destroy")
        deadline = time.monotonic() + settle_s
        still = list(running)
        while still:
            still = [
                a for a in still if sfn.describe_execution(executionArn=a)["status"] == "RUNNING"
            ]
            if not still or time.monotonic() > deadline:
                break
            time.sleep(1)
        return running, still

    def _keys(self, bucket: str) -> list[str]:
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys.extend(str(item["Key"]) for item in page.get("Contents", []))
        return keys

    def _intermediates(self, bucket: str) -> list[str]:
        found = []
        for key in self._keys(bucket):
            tags = self.s3.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", [])
            if any(t["Key"] == LIFECYCLE_TAG and t["Value"] == INTERMEDIATE for t in tags):
                found.append(key)
        return found

    def _empty(self, bucket: str, *, everything: bool) -> int:
        keys = self._keys(bucket) if everything else self._intermediates(bucket)
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            self.s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        if keys:
            what = "objects" if everything else "intermediates"
            self.log(f"deleted {len(keys)} {what} from s3://{bucket}")
        return len(keys)

    def _leftovers(self, stack: Stack, bucket_gone: bool) -> list[str]:
        from botocore.exceptions import ClientError

        left = []
        if self._stack_status() not in (None, "DELETE_COMPLETE"):
            left.append(f"stack {self.stack_name}")
        try:
            self.target.client("lambda").get_function(FunctionName=stack.function_arn)
            left.append(f"function {stack.function_arn}")
        except ClientError:
            pass
        try:
            self.target.client("stepfunctions").describe_state_machine(
                stateMachineArn=stack.state_machine_arn
            )
            left.append(f"state machine {stack.state_machine_arn}")
        except ClientError:
            pass
        try:
            self.s3.head_bucket(Bucket=stack.bucket)
            if bucket_gone:
                left.append(f"bucket {stack.bucket}")
            else:
                left += [f"intermediate {k}" for k in self._intermediates(stack.bucket)]
        except ClientError:
            pass
        return left


@dataclass
class DestroyResult:
    stack: str
    stopped: list[str] = field(default_factory=list)
    deleted_objects: int = 0
    left: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack, "stoppedExecutions": self.stopped,
            "deletedObjects": self.deleted_objects, "left": self.left,
        }  # fmt: skip


def build_zip(log: Callable[[str], None] | None = None) -> Path:
    """``make zip``: build/build_zip.py from this checkout; returns the ZIP's path."""
    import subprocess

    root = TEMPLATE_PATH.parents[1]
    script = root / "build" / "build_zip.py"
    if not script.is_file():
        raise DeployFailedError(
            f"no {script}: building the ZIP needs a checkout; pass --zip PATH instead"
        )
    if log is not None:
        log("building the function's ZIP (build/build_zip.py)")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=root, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise DeployFailedError(f"building the ZIP failed: {done.stderr.strip()[-500:]}")
    return root / "build" / "dist" / "hyperframes-lambda.zip"
