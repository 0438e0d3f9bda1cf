"""Issue 21 item 2: what CloudFormation does *as the deployer*, which no recording sees.

``lambda deploy`` passes no service role, so CloudFormation creates, updates and deletes
the stack's resources with the deployer's permissions; moto creates them without asking
IAM. What each resource's handler calls is declared by CloudFormation's own resource
schemas (``handlers.create/update/delete.permissions``; cfn-lint, a dev dependency, ships
them). This takes the template's resource types after the Serverless transform (the SAM
translator in ``.venv-sam``, offline) and checks that the printed ``user`` policy grants
every permission those handlers declare, except the ones a handler calls only for a
property our template does not set (each listed below with that property). A schema that
gains a permission fails this test until the policy grants it or it is listed with a
reason. Whether AWS really calls them in that order is what only a real deploy shows.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
from pathlib import Path

import pytest

from hyperframes_lambda.aws.policies import Names, user_policy

from ..conftest import ROOT

SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
HANDLERS = ("create", "update", "delete")

# Declared by a handler, called only for a property sam/template.yaml does not set.
FOR_PROPERTIES_NOT_SET = {
    "kms:*": "a customer-managed KMS key (KmsKeyArn, EncryptionConfiguration): none",
    "ec2:*": "VpcConfig: the function is not in a VPC",
    "elasticfilesystem:*": "FileSystemConfigs: none",
    "s3files:*": "FileSystemConfigs: none",
    "s3:GetObjectVersion": "CodeUri/DefinitionUri: no S3 object version",
    "lambda:*CodeSigningConfig": "CodeSigningConfigArn: not set",
    "lambda:GetCodeSigningConfig": "CodeSigningConfigArn: not set",
    "lambda:PutRuntimeManagementConfig": "RuntimeManagementConfig: not set",
    "lambda:PutFunctionRecursionConfig": "RecursiveLoop: not set",
    "lambda:PutFunctionScalingConfig": "capacity providers: not used",
    "lambda:PassCapacityProvider": "capacity providers: not used",
    "lambda:AssociateRuntimeAlias": "runtime aliases: not used",
    "lambda:GetLayerVersion": "Layers: none",
    "lambda:PublishVersion": "AutoPublishAlias: not set (no versions)",
    "logs:*DataProtectionPolicy": "DataProtectionPolicy: not set",
    "logs:*IndexPolicy": "FieldIndexPolicies: not set",
    "logs:DescribeIndexPolicies": "FieldIndexPolicies: not set",
    "logs:PutBearerTokenAuthentication": "BearerTokenAuthenticationEnabled: not set",
    "logs:*KmsKey": "KmsKeyId: not set",
    "logs:PutLogGroupDeletionProtection": "DeletionProtectionEnabled: not set",
    "logs:DeleteRetentionPolicy": "RetentionInDays: always set",
    "logs:DeleteResourcePolicy": "ResourcePolicyDocument: not set",
    "firehose:*": "log delivery to Firehose: not configured",
    "s3:REST.PUT.OBJECT": "log delivery to S3: not configured",
    "iam:*PermissionsBoundary": "PermissionsBoundary: not set",
    "iam:UpdateRole": "MaxSessionDuration/Description: not set",
    "iam:UpdateRoleDescription": "Description: not set",
    "iam:UpdateAssumeRolePolicy": "the trust policies SAM writes do not change",
    "s3tables:*": "S3 metadata tables: not configured",
    "s3:*BucketMetadata*": "MetadataConfiguration: not set",
    "s3:PutAccelerateConfiguration": "AccelerateConfiguration: not set",
    "s3:*AnalyticsConfiguration": "AnalyticsConfigurations: not set",
    "s3:PutBucketAbac": "AbacStatus: not set",
    "s3:*BucketCORS": "CorsConfiguration: not set",
    "s3:DeleteBucketCors": "CorsConfiguration: not set",
    "s3:PutBucketLogging": "LoggingConfiguration: not set",
    "s3:PutBucketNotification": "NotificationConfiguration: not set",
    "s3:Put*ObjectLockConfiguration": "ObjectLockConfiguration: not set",
    "s3:*Replication*": "ReplicationConfiguration: not set",
    "s3:PutBucketVersioning": "VersioningConfiguration: not set",
    "s3:*BucketWebsite": "WebsiteConfiguration: not set",
    "s3:PutIntelligentTieringConfiguration": "IntelligentTieringConfigurations: not set",
    "s3:PutInventoryConfiguration": "InventoryConfigurations: not set",
    "s3:*MetricsConfiguration": "MetricsConfigurations: not set",
    "s3:PutObjectAcl": "AccessControl: not set (BucketOwnerEnforced: no ACLs)",
    "s3:PutBucketAcl": "AccessControl: not set (BucketOwnerEnforced: no ACLs)",
    "s3:GetBucketAcl": "AccessControl: not set (BucketOwnerEnforced: no ACLs)",
    "s3:DeleteBucketEncryption": "BucketEncryption: always set",
    "s3:DeleteBucketLifecycle": "LifecycleConfiguration: always set",
}


def resource_types() -> list[str]:
    if not SAM_PYTHON.is_file():
        pytest.skip(f"no {SAM_PYTHON} (make sam-cli): the SAM translator lives there")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    done = subprocess.run(
        [str(SAM_PYTHON), str(Path(__file__).with_name("sam_resource_types.py"))],
        capture_output=True, text=True, timeout=300, check=True, env=env, cwd=ROOT,
    )  # fmt: skip
    return list(json.loads(done.stdout))


def handler_permissions(resource_type: str) -> dict[str, list[str]]:
    import cfnlint

    schemas = Path(cfnlint.__file__).parent / "data" / "schemas"
    index = json.loads((schemas / "providers" / "us-east-1.json").read_text())
    schema = json.loads((schemas / "resources" / f"{index[resource_type]}.json").read_text())
    handlers = schema.get("handlers", {})
    return {h: list(handlers.get(h, {}).get("permissions", [])) for h in HANDLERS}


def test_the_deploy_policy_grants_what_cloudformations_handlers_declare() -> None:
    types = resource_types()
    assert {"AWS::Lambda::Function", "AWS::StepFunctions::StateMachine", "AWS::IAM::Role",
            "AWS::S3::Bucket", "AWS::Logs::LogGroup", "AWS::CloudWatch::Alarm"} <= set(types)  # fmt: skip
    granted = {a for s in user_policy(Names())["Statement"] for a in s["Action"]}
    missing, excused = [], set()
    for resource_type in types:
        for handler, permissions in handler_permissions(resource_type).items():
            for permission in permissions:
                if permission in granted:
                    continue
                reason = [p for p in FOR_PROPERTIES_NOT_SET if fnmatch.fnmatchcase(permission, p)]
                if reason:
                    excused.update(reason)
                else:
                    missing.append(f"{resource_type} {handler}: {permission}")
    assert missing == [], "the user policy lacks:\n" + "\n".join(sorted(set(missing)))
    stale = sorted(set(FOR_PROPERTIES_NOT_SET) - excused)
    assert stale == [], f"excused, but no schema declares them any more: {stale}"
