"""botocore's failures as this package's errors, so every ``lambda`` command fails with a
stable UPPER_SNAKE code from :mod:`hyperframes_lambda.errors` (botocore's class names and
the services' own codes — ``ExecutionDoesNotExist``, ``NoSuchBucket`` — are neither stable
across services nor in one spelling). The service's code stays in the message.
"""

from __future__ import annotations

from ..errors import (
    AwsAccessDeniedError,
    AwsConfigMissingError,
    AwsCredentialsMissingError,
    AwsRequestFailedError,
    AwsUnreachableError,
    ExecutionNotFoundError,
    RenderError,
    StorageBucketNotFoundError,
    StorageObjectNotFoundError,
)

EXECUTION_MISSING = {"ExecutionDoesNotExist", "InvalidArn", "ResourceNotFound"}
ACCESS_DENIED = {
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
    "UnrecognizedClientException", "InvalidClientTokenId", "SignatureDoesNotMatch",
    "ExpiredToken", "ExpiredTokenException",
}  # fmt: skip
OBJECT_MISSING = {"NoSuchKey", "404", "NotFound"}


def from_botocore(exc: Exception) -> RenderError:
    """The error to report for a botocore ``ClientError`` or ``BotoCoreError``."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
    )

    if isinstance(exc, NoRegionError | ProfileNotFound):
        return AwsConfigMissingError(f"{exc} (pass --region/--profile or set AWS_REGION)")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AwsCredentialsMissingError(
            f"{exc} (configure credentials, e.g. `aws configure`, or set AWS_PROFILE)"
        )
    if isinstance(exc, EndpointConnectionError):
        return AwsUnreachableError(str(exc))
    if not isinstance(exc, ClientError):
        return AwsRequestFailedError(f"{type(exc).__name__}: {exc}")
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    detail = f"{exc.operation_name}: {code}: {error.get('Message', '') or exc}"
    if code in EXECUTION_MISSING:
        return ExecutionNotFoundError(f"no such execution ({detail})")
    if code == "NoSuchBucket":
        return StorageBucketNotFoundError(f"the bucket does not exist ({detail})")
    if code in OBJECT_MISSING:
        return StorageObjectNotFoundError(f"the object does not exist ({detail})")
    if code in ACCESS_DENIED:
        return AwsAccessDeniedError(detail)
    return AwsRequestFailedError(detail)
