"""What IAM authorises for a recorded API call: the actions and the resource ARNs.

AWS authorises a request by IAM *actions*, which are not always the API operation's name
(S3's HeadObject needs ``s3:GetObject``, ListObjectsV2 ``s3:ListBucket``, a PutObject with
tags also ``s3:PutObjectTagging``; Lambda's Invoke is ``lambda:InvokeFunction``), against the
resource the request names, as an ARN. This table follows the Service Authorization
Reference for the operations our code calls; an operation not in it fails the test (add it,
rather than let a call pass unchecked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SERVERLESS_TRANSFORM = "arn:aws:cloudformation:{region}:aws:transform/Serverless-2016-10-31"

_OBJECT, _BUCKET, _ANY = "object", "bucket", "any"
S3: dict[str, tuple[str, str]] = {
    "GetObject": ("s3:GetObject", _OBJECT),
    "HeadObject": ("s3:GetObject", _OBJECT),
    "PutObject": ("s3:PutObject", _OBJECT),
    "CreateMultipartUpload": ("s3:PutObject", _OBJECT),
    "UploadPart": ("s3:PutObject", _OBJECT),
    "CompleteMultipartUpload": ("s3:PutObject", _OBJECT),
    "AbortMultipartUpload": ("s3:AbortMultipartUpload", _OBJECT),
    "ListParts": ("s3:ListMultipartUploadParts", _OBJECT),
    "GetObjectTagging": ("s3:GetObjectTagging", _OBJECT),
    "PutObjectTagging": ("s3:PutObjectTagging", _OBJECT),
    "DeleteObjectTagging": ("s3:DeleteObjectTagging", _OBJECT),
    "DeleteObject": ("s3:DeleteObject", _OBJECT),
    "ListObjectsV2": ("s3:ListBucket", _BUCKET),
    "ListObjects": ("s3:ListBucket", _BUCKET),
    "HeadBucket": ("s3:ListBucket", _BUCKET),
    "ListObjectVersions": ("s3:ListBucketVersions", _BUCKET),
    "ListMultipartUploads": ("s3:ListBucketMultipartUploads", _BUCKET),
    "CreateBucket": ("s3:CreateBucket", _BUCKET),
    "DeleteBucket": ("s3:DeleteBucket", _BUCKET),
    "GetBucketLocation": ("s3:GetBucketLocation", _BUCKET),
    "PutPublicAccessBlock": ("s3:PutBucketPublicAccessBlock", _BUCKET),
    "GetPublicAccessBlock": ("s3:GetBucketPublicAccessBlock", _BUCKET),
    "PutBucketEncryption": ("s3:PutEncryptionConfiguration", _BUCKET),
    "GetBucketEncryption": ("s3:GetEncryptionConfiguration", _BUCKET),
    "PutBucketLifecycleConfiguration": ("s3:PutLifecycleConfiguration", _BUCKET),
    "GetBucketLifecycleConfiguration": ("s3:GetLifecycleConfiguration", _BUCKET),
    "PutBucketTagging": ("s3:PutBucketTagging", _BUCKET),
    "GetBucketTagging": ("s3:GetBucketTagging", _BUCKET),
    "ListBuckets": ("s3:ListAllMyBuckets", _ANY),
}
# Step Functions: the action is the operation; the resource is the ARN the call names.
_STATES_RESOURCE = ("executionArn", "mapRunArn", "stateMachineArn")
_LAMBDA_ACTION = {"Invoke": "InvokeFunction", "InvokeAsync": "InvokeFunction"}
_LAMBDA_ACCOUNT_LEVEL = {"GetAccountSettings", "ListFunctions"}
_CFN_ACCOUNT_LEVEL = {"ValidateTemplate", "ListStacks", "DescribeStacks"}
# Operations AWS authorises without any permission.
FREE = {("sts", "GetCallerIdentity")}


@dataclass(frozen=True)
class Need:
    """One (action, resource) a recorded call needs, and the call it came from."""

    action: str
    resource: str
    call: str


def _s3(op: str, p: dict[str, Any]) -> list[tuple[str, str]]:
    bucket = str(p.get("Bucket", ""))
    if op == "DeleteObjects":
        keys = [o["Key"] for o in p.get("Delete", {}).get("Objects", [])]
        return [("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{k}") for k in keys]
    if op == "CopyObject":
        source = p["CopySource"]
        source = source if isinstance(source, str) else f"{source['Bucket']}/{source['Key']}"
        return [("s3:GetObject", f"arn:aws:s3:::{source.lstrip('/')}"),
                ("s3:PutObject", f"arn:aws:s3:::{bucket}/{p['Key']}")]  # fmt: skip
    if op not in S3:
        raise KeyError(f"no IAM mapping for s3.{op}: add it to {__name__}.S3")
    action, level = S3[op]
    if op in ("GetObject", "HeadObject") and p.get("VersionId"):
        action = "s3:GetObjectVersion"
    resource = {
        _OBJECT: f"arn:aws:s3:::{bucket}/{p.get('Key')}",
        _BUCKET: f"arn:aws:s3:::{bucket}",
        _ANY: "*",
    }[level]
    needs = [(action, resource)]
    if op in ("PutObject", "CreateMultipartUpload") and p.get("Tagging"):
        needs.append(("s3:PutObjectTagging", resource))  # tags on write need both
    return needs


def needs(call: dict[str, Any], account: str) -> list[Need]:
    """The (action, resource) pairs IAM checks for one recorded call."""
    service, op, p = call["service"], call["operation"], call["params"]
    region = call.get("region") or "us-east-1"
    label = f"{service}.{op} ({call['who']}, {call['phase']})"
    if (service, op) in FREE:
        return []
    pairs: list[tuple[str, str]]
    if service == "s3":
        pairs = _s3(op, p)
    elif service == "states":
        arn = next((str(p[k]) for k in _STATES_RESOURCE if p.get(k)), "*")
        pairs = [(f"states:{op}", arn)]
    elif service == "lambda":
        name = str(p.get("FunctionName") or p.get("Resource") or "")
        arn = name if name.startswith("arn:") else (
            f"arn:aws:lambda:{region}:{account}:function:{name}")  # fmt: skip
        if op in _LAMBDA_ACCOUNT_LEVEL:
            arn = "*"
        pairs = [(f"lambda:{_LAMBDA_ACTION.get(op, op)}", arn)]
    elif service == "cloudformation":
        stack = str(p.get("StackName") or "")
        if op in _CFN_ACCOUNT_LEVEL and not stack:
            arn = "*"
        elif stack.startswith("arn:"):
            arn = stack
        else:  # by name: IAM matches stack/NAME/<id>; the id is not known here
            arn = f"arn:aws:cloudformation:{region}:{account}:stack/{stack}/unknown-id"
        pairs = [(f"cloudformation:{op}", arn)]
        body = str(p.get("TemplateBody") or "")
        if op == "CreateChangeSet" and "AWS::Serverless-2016-10-31" in body:
            pairs.append(("cloudformation:CreateChangeSet",
                          SERVERLESS_TRANSFORM.format(region=region)))  # fmt: skip
        if p.get("TemplateURL"):  # CloudFormation reads it as the caller
            path = str(p["TemplateURL"]).split("://", 1)[1]
            host, _, key = path.partition("/")
            pairs.append(("s3:GetObject", f"arn:aws:s3:::{host.split('.s3')[0]}/{key}"))
    elif service == "secretsmanager":
        secret = str(p["SecretId"])
        arn = secret if secret.startswith("arn:") else (
            f"arn:aws:secretsmanager:{region}:{account}:secret:{secret}-AbCdEf")  # fmt: skip
        pairs = [(f"secretsmanager:{op}", arn)]
    else:
        raise KeyError(f"no IAM mapping for {label}: add the service to {__name__}")
    return [Need(action, resource, label) for action, resource in pairs]


def moto_dialect(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as moto's IAM enforcement reads it: moto names S3's actions after the
    API operation (``s3:HeadObject``, not ``s3:GetObject``) and Lambda's Invoke
    ``lambda:Invoke``, and it authorises every service but S3 against the resource ``*``.
    So each S3 action becomes the operations that need it (resources kept: moto checks
    them; DeleteObjects against the bucket), and every other statement keeps its actions
    on ``*``."""
    statements = []
    for statement in document["Statement"]:
        actions: list[str] = []
        for action in statement["Action"]:
            if action.startswith("s3:"):
                actions += [f"s3:{op}" for op, (needed, _) in S3.items() if needed == action]
            else:
                actions.append({"lambda:InvokeFunction": "lambda:Invoke"}.get(action, action))
        only_s3 = all(a.startswith("s3:") for a in statement["Action"])
        statements.append({
            "Sid": f"{statement['Sid']}InMotosDialect", "Effect": statement["Effect"],
            "Action": sorted(set(actions)),
            "Resource": statement["Resource"] if only_s3 else "*",
        })  # fmt: skip
        if "s3:DeleteObject" in statement["Action"]:
            # moto authorises a DeleteObjects request once, against the bucket's ARN (AWS:
            # s3:DeleteObject against each object's).
            objects = statement["Resource"]
            objects = objects if isinstance(objects, list) else [objects]
            statements.append({
                "Sid": f"{statement['Sid']}DeleteObjectsInMotosDialect", "Effect": "Allow",
                "Action": ["s3:DeleteObjects"],
                "Resource": [r.removesuffix("/*") for r in objects if r.endswith("/*")],
            })  # fmt: skip
    return {"Version": "2012-10-17", "Statement": statements}
