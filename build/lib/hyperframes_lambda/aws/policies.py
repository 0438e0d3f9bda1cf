"""Least-privilege IAM policies: to deploy and render (``user``), for the function (``role``),
and a check of a given policy against them (``validate``).

First deploys fail on IAM more than on anything else, and an identity with ``*`` is what
people grant to get past it. ``lambda policies user`` prints what a person or CI identity
needs to deploy the stack (``lambda deploy``/``destroy``: CloudFormation with the Serverless
transform, the roles it creates, the function, the state machine, log groups, alarms, the
buckets) and to render on it (every call of :class:`~.client.RenderClient`), scoped to the
stack's names; tests/aws/test_iam_*.py hold it to what the code calls and to what
CloudFormation's resource handlers declare. ``lambda policies role`` prints the function's
execution role as ``sam/template.yaml`` grants it (a test keeps the two equal). ``lambda
policies validate FILE`` reads a policy document and lists the needed actions it does not
allow.

The validation evaluates ``Effect``/``Action``/``NotAction``/``Resource``/``NotResource``
with IAM's wildcards (an explicit Deny wins); ``Condition`` blocks are not evaluated (a
statement with one is counted as allowing, and said so), nor are permission boundaries,
SCPs or resource policies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidPolicyError

ARTIFACTS_BUCKET = "hyperframes-lambda-artifacts-{account}-{region}"
TRANSFORM = "arn:aws:cloudformation:{region}:aws:transform/Serverless-2016-10-31"


@dataclass(frozen=True)
class Names:
    """What the policies are scoped to (``*`` where a value is not known)."""

    stack: str = "hyperframes"
    project: str = "hyperframes"  # the template's ProjectName
    region: str = "*"
    account: str = "*"
    # The template's AllowedOutputBuckets: buckets besides the render bucket outputs go to.
    output_buckets: tuple[str, ...] = ()

    def fill(self, text: str) -> str:
        return text.format(
            stack=self.stack, project=self.project, region=self.region, account=self.account
        )


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def document(self, names: Names) -> dict[str, Any]:
        resources = [names.fill(r) for r in self.resources]
        return {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": sorted(self.actions),
            "Resource": resources[0] if len(resources) == 1 else resources,
        }


_BUCKET = "arn:aws:s3:::{stack}-renderbucket-*"
_MACHINE = "arn:aws:states:{region}:{account}:stateMachine:{project}-render"
_EXECUTIONS = "arn:aws:states:{region}:{account}:execution:{project}-render:*"
_CHILDREN = "arn:aws:states:{region}:{account}:execution:{project}-render/*"
_MAP_RUNS = "arn:aws:states:{region}:{account}:mapRun:{project}-render/*"
_BATCH_MACHINE = "arn:aws:states:{region}:{account}:stateMachine:{project}-batch"
_BATCH_EXECUTIONS = "arn:aws:states:{region}:{account}:execution:{project}-batch:*"
_FUNCTION = "arn:aws:lambda:{region}:{account}:function:{project}-render"
_STACK = "arn:aws:cloudformation:{region}:{account}:stack/{stack}/*"

# fmt: off
RENDER = (
    Statement("FindTheStack", ("cloudformation:DescribeStacks",), (_STACK,)),
    Statement(
        "RenderBucketObjects",
        ("s3:GetObject", "s3:PutObject", "s3:GetObjectTagging", "s3:DeleteObject"),
        (_BUCKET + "/*",),
    ),
    Statement("RenderBucketList", ("s3:ListBucket",), (_BUCKET,)),
    Statement(
        "StartAndList",
        ("states:StartExecution", "states:ListExecutions", "states:DescribeStateMachine"),
        (_MACHINE, _BATCH_MACHINE),
    ),
    Statement(
        "WatchExecutions",
        ("states:DescribeExecution", "states:GetExecutionHistory", "states:StopExecution"),
        (_EXECUTIONS, _CHILDREN, _BATCH_EXECUTIONS),
    ),
    Statement("ChunkExecutions", ("states:ListExecutions",), (_MAP_RUNS,)),
    Statement(
        "FunctionSizeAndConcurrency",
        ("lambda:GetFunctionConfiguration", "lambda:GetFunctionConcurrency"),
        (_FUNCTION,),
    ),
    Statement("AccountConcurrency", ("lambda:GetAccountSettings",), ("*",)),
    Statement("Stills", ("lambda:InvokeFunction",), (_FUNCTION,)),  # lambda still
)

DEPLOY = (
    Statement(
        "Stack",
        (
            "cloudformation:CreateChangeSet",
            "cloudformation:DescribeChangeSet",
            "cloudformation:ExecuteChangeSet",
            "cloudformation:DeleteChangeSet",
            "cloudformation:DescribeStacks",
            "cloudformation:DescribeStackEvents",
            "cloudformation:DescribeStackResources",
            "cloudformation:GetTemplate",
            "cloudformation:DeleteStack",
        ),
        (_STACK,),
    ),
    Statement("ServerlessTransform", ("cloudformation:CreateChangeSet",), (TRANSFORM,)),
    Statement(
        "Roles",
        (
            "iam:CreateRole",
            "iam:DeleteRole",
            "iam:GetRole",
            "iam:PassRole",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:GetRolePolicy",
            "iam:AttachRolePolicy",
            "iam:DetachRolePolicy",
            "iam:ListRolePolicies",  # deleting a role lists what to detach first
            "iam:ListAttachedRolePolicies",
        ),
        ("arn:aws:iam::{account}:role/{stack}-*",),
    ),
    Statement(
        "Function",
        (
            "lambda:CreateFunction",
            "lambda:DeleteFunction",
            "lambda:GetFunction",
            "lambda:GetFunctionConfiguration",
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
            "lambda:PutFunctionConcurrency",
            "lambda:DeleteFunctionConcurrency",
            "lambda:TagResource",
            "lambda:UntagResource",
            "lambda:ListTags",
            "lambda:GetRuntimeManagementConfig",  # read back on create and update
            "lambda:GetFunctionRecursionConfig",
        ),
        (_FUNCTION,),
    ),
    Statement(
        "StateMachine",
        (
            "states:CreateStateMachine",
            "states:UpdateStateMachine",
            "states:DeleteStateMachine",
            "states:DescribeStateMachine",
            "states:TagResource",
            "states:UntagResource",
            "states:ListTagsForResource",
        ),
        (_MACHINE, _BATCH_MACHINE),
    ),
    Statement(
        "LogGroups",
        (
            "logs:CreateLogGroup",
            "logs:DeleteLogGroup",
            "logs:PutRetentionPolicy",
            "logs:TagResource",
            "logs:UntagResource",
            "logs:ListTagsForResource",
        ),
        (
            "arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{project}-render*",
            "arn:aws:logs:{region}:{account}:log-group:/aws/vendedlogs/states/{project}-render*",
        ),
    ),
    Statement(
        "LogDeliveryAndDescribe",
        (
            "logs:DescribeLogGroups",
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
        ),
        ("*",),
    ),
    Statement(
        "Alarms",
        (
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:DeleteAlarms",
            "cloudwatch:DescribeAlarms",
            "cloudwatch:TagResource",
            "cloudwatch:UntagResource",
            "cloudwatch:ListTagsForResource",
        ),
        ("arn:aws:cloudwatch:{region}:{account}:alarm:{project}-render-*",),
    ),
    Statement(
        "RenderBucket",
        (
            "s3:CreateBucket",
            "s3:DeleteBucket",
            "s3:PutBucketPolicy",
            "s3:GetBucketPolicy",
            "s3:DeleteBucketPolicy",
            "s3:PutLifecycleConfiguration",
            "s3:GetLifecycleConfiguration",
            "s3:PutEncryptionConfiguration",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutBucketOwnershipControls",
            "s3:PutBucketTagging",
            "s3:TagResource",  # the stack's tags reach the bucket
            "s3:UntagResource",
            "s3:GetBucketLocation",
            "s3:ListBucketVersions",
        ),
        (_BUCKET,),
    ),
    Statement(
        "Artifacts",
        (
            "s3:CreateBucket",
            "s3:PutEncryptionConfiguration",
            "s3:PutBucketPublicAccessBlock",
            "s3:ListBucket",
            "s3:GetObject",
            "s3:PutObject",
        ),
        ("arn:aws:s3:::" + ARTIFACTS_BUCKET, "arn:aws:s3:::" + ARTIFACTS_BUCKET + "/*"),
    ),
)

# The function's execution role: sam/template.yaml's RenderFunction Policies (a test keeps
# them equal), with the template's names.
ROLE = (
    Statement(
        "RenderBucketObjects",
        (
            "s3:GetObject",
            "s3:PutObject",
            "s3:PutObjectTagging",
            "s3:GetObjectTagging",
            "s3:AbortMultipartUpload",
            "s3:ListMultipartUploadParts",
        ),
        (_BUCKET + "/*",),
    ),
    Statement("RenderBucketList", ("s3:ListBucket",), (_BUCKET,)),
    Statement(
        "WebhookSecrets",
        ("secretsmanager:GetSecretValue",),
        ("arn:aws:secretsmanager:{region}:{account}:secret:{project}-webhook*",),
    ),
    Statement(
        "ExecutionHistoryForCost",
        ("states:GetExecutionHistory", "states:ListExecutions"),
        (_EXECUTIONS, _CHILDREN, _MAP_RUNS),
    ),
)
ROLE_MANAGED = (
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
)
# fmt: on


def output_bucket_statements(buckets: Iterable[str]) -> tuple[Statement, ...]:
    """The function's rights on the AllowedOutputBuckets (the template's conditional
    policy, kept equal by a test): write outputs (and read them back to check whether one
    exists; ListBucket makes a missing key a 404, not a 403); nothing else there."""
    names = tuple(buckets)
    if not names:
        return ()
    return (
        Statement(
            "AllowedOutputBucketObjects",
            (
                "s3:GetObject",
                "s3:PutObject",
                "s3:PutObjectTagging",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ),
            tuple(f"arn:aws:s3:::{b}/*" for b in names),
        ),
        Statement(
            "AllowedOutputBucketList", ("s3:ListBucket",), tuple(f"arn:aws:s3:::{b}" for b in names)
        ),
    )


def policy(statements: Iterable[Statement], names: Names) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [s.document(names) for s in statements]}


def user_policy(names: Names, *, render_only: bool = False) -> dict[str, Any]:
    """The renderer also checks an output in an allowed bucket exists and presigns it."""
    extra = output_bucket_statements(names.output_buckets)
    return policy((*(RENDER if render_only else (*RENDER, *DEPLOY)), *extra), names)


def role_policy(names: Names) -> dict[str, Any]:
    return policy((*ROLE, *output_bucket_statements(names.output_buckets)), names)


# ---- validate -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Validation:
    missing: list[tuple[str, str]]  # (action, resource) the policy does not allow
    conditional: list[str] = field(default_factory=list)  # Sids allowing under a Condition

    def as_dict(self) -> dict[str, Any]:
        return {
            "missing": [{"action": a, "resource": r} for a, r in self.missing],
            "conditionsNotEvaluated": self.conditional,
        }

    def text(self) -> str:
        if not self.missing:
            lines = ["the policy allows every needed action"]
        else:
            lines = [f"missing {a} on {r}" for a, r in self.missing]
        lines += [
            f"note: statement {sid} has a Condition, not evaluated" for sid in self.conditional
        ]
        return "\n".join(lines)


def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text),
        re.IGNORECASE | re.DOTALL,
    )


def _matches(patterns: Any, value: str) -> bool:
    items = patterns if isinstance(patterns, list) else [patterns]
    return any(_pattern(str(p)).fullmatch(value) for p in items)


def _covers(patterns: Any, value: str) -> bool:
    """A policy's resource pattern covers a needed one when it matches it as text: a ``*``
    in the needed resource (a name not known) only counts where the policy has one too."""
    return _matches(patterns, value)


def _applies(statement: dict[str, Any], action: str, resource: str) -> bool:
    if "Action" in statement:
        if not _matches(statement["Action"], action):
            return False
    elif "NotAction" in statement:
        if _matches(statement["NotAction"], action):
            return False
    else:
        return False
    if "Resource" in statement:
        return _covers(statement["Resource"], resource)
    if "NotResource" in statement:
        return not _covers(statement["NotResource"], resource)
    return False


def load_policy(path: Path) -> list[dict[str, Any]]:
    """The statements of a policy file: a policy document, a list of them, or the shape
    ``aws iam get-policy-version`` prints."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidPolicyError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise InvalidPolicyError(f"{path}: not JSON ({exc})") from None
    documents = data if isinstance(data, list) else [data]
    statements: list[dict[str, Any]] = []
    for item in documents:
        document = item
        if isinstance(item, dict) and "PolicyVersion" in item:
            document = item["PolicyVersion"].get("Document", {})
        raw = document.get("Statement") if isinstance(document, dict) else None
        items = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else None
        if items is None or not all(isinstance(s, dict) for s in items):
            raise InvalidPolicyError(f"{path}: not an IAM policy document (no Statement list)")
        statements.extend(items)
    return statements


def validate(statements: list[dict[str, Any]], needed: dict[str, Any]) -> Validation:
    """Which (action, resource) pairs of the ``needed`` policy ``statements`` do not allow."""
    missing = []
    conditional: set[str] = set()
    for want in needed["Statement"]:
        resources = want["Resource"] if isinstance(want["Resource"], list) else [want["Resource"]]
        for action in want["Action"]:
            for resource in resources:
                allows = [
                    s for s in statements
                    if str(s.get("Effect")) == "Allow" and _applies(s, action, resource)
                ]  # fmt: skip
                denied = any(
                    str(s.get("Effect")) == "Deny" and _applies(s, action, resource)
                    for s in statements
                )
                if denied or not allows:
                    missing.append((action, resource))
                elif all("Condition" in s for s in allows):
                    conditional.update(str(s.get("Sid", "?")) for s in allows)
    return Validation(missing, sorted(conditional))
