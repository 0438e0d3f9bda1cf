"""Signed completion webhooks: the state machine's Notify step, and how receivers verify it.

An execution input with ``WebhookUrl`` (and ``WebhookSecretArn``, a Secrets Manager secret
whose SecretString is the signing key — or, visible in the execution history, a plain
``WebhookSecret``) gets one JSON POST when the render succeeds and one when it fails.
The body is signed with HMAC-SHA256 over ``"<t>.<body>"``, sent as::

    X-Hyperframes-Signature: t=<unix seconds>,v1=<hex digest>

Receivers check it with :func:`verify_webhook` (or the README's ten lines). The request is
retried inside the invocation on network errors, 408, 429 and 5xx (3 attempts, 1 s then
2 s apart), and then by the state machine's retry policy (``WEBHOOK_DELIVERY_FAILED`` is
retryable). ``X-Hyperframes-Event-Id`` is the same on every attempt, so receivers can
deduplicate. A webhook that cannot be delivered never changes the render's outcome.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from ..errors import InvalidConfigError, InvalidWebhookError, WebhookDeliveryError
from .execution_input import check_custom_data

SIGNATURE_HEADER = "X-Hyperframes-Signature"
EVENT_ID_HEADER = "X-Hyperframes-Event-Id"
DEFAULT_TOLERANCE_S = 300
ATTEMPTS = 3
BACKOFF_S = 1.0
TIMEOUT_S = 10.0
ENV_EPHEMERAL_MB = "HYPERFRAMES_EPHEMERAL_STORAGE_MB"


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_webhook(
    body: bytes | str,
    header: str,
    secret: str,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True when ``header`` (``X-Hyperframes-Signature``) signs exactly ``body`` with
    ``secret`` and its timestamp is within ``tolerance_s`` of ``now`` (replays fail)."""
    raw = body.encode() if isinstance(body, str) else body
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(raw, secret, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))


def webhook_body(
    event: dict[str, Any], cost: dict[str, Any] | None, output_url: str | None = None
) -> dict[str, Any]:
    """The JSON a receiver gets, from the Notify step's event. ``customData`` is the
    execution input's CustomData as given (null when absent or over 1 KiB: the client
    refuses that, a direct StartExecution may not); ``outputUrl`` a signed GET URL of the
    output when the input asked for one (PresignSeconds)."""
    status = str(event.get("Status", "FAILED"))
    execution_input = event.get("ExecutionInput") or {}
    result = event.get("Result") or {}
    succeeded = status == "SUCCEEDED"
    custom = execution_input.get("CustomData")
    try:
        custom = check_custom_data(custom) if custom is not None else None
    except InvalidConfigError:
        custom = None
    return {
        "type": "render.succeeded" if succeeded else "render.failed",
        "status": status,
        "executionArn": event.get("ExecutionArn"),
        "outputS3Uri": result.get("OutputS3Uri") if succeeded else None,
        "requestedOutputS3Uri": execution_input.get("OutputS3Uri"),
        "frames": result.get("FramesEncoded"),
        "sha256": result.get("Sha256"),
        "fileSize": result.get("FileSize"),
        "chunkCount": result.get("ChunkCount"),
        "width": result.get("Width"),
        "height": result.get("Height"),
        "fps": result.get("Fps"),
        "format": result.get("Format"),
        "cost": cost,
        "error": None if succeeded else event.get("Error"),
        "cause": None if succeeded else event.get("Cause"),
        "createdAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "outputUrl": output_url if succeeded else None,
        "customData": custom,
    }


def deliver(
    url: str,
    body: bytes,
    secret: str,
    event_id: str,
    *,
    attempts: int = ATTEMPTS,
    backoff_s: float = BACKOFF_S,
) -> int:
    """POST ``body`` signed; returns the 2xx status, or raises after ``attempts``."""
    last = ""
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(
            url, data=body, method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "hyperframes-lambda-webhook",
                SIGNATURE_HEADER: sign(body, secret, int(time.time())),
                EVENT_ID_HEADER: event_id,
            },
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code not in {408, 429}:
                raise InvalidWebhookError(f"{url} refused the webhook: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        if attempt < attempts:
            time.sleep(backoff_s * 2 ** (attempt - 1))
    raise WebhookDeliveryError(
        f"{url} did not accept the webhook after {attempts} attempts: {last}"
    )


def _secret(execution_input: dict[str, Any]) -> str:
    arn = execution_input.get("WebhookSecretArn")
    if arn:
        import boto3

        value = boto3.client("secretsmanager").get_secret_value(SecretId=str(arn))
        secret = value.get("SecretString")
        if not secret:
            raise InvalidWebhookError(f"WebhookSecretArn {arn} has no SecretString")
        return str(secret)
    secret = execution_input.get("WebhookSecret")
    if not secret:
        raise InvalidWebhookError(
            "WebhookUrl needs WebhookSecretArn (a Secrets Manager secret) or WebhookSecret"
        )
    return str(secret)


def _cost(execution_arn: str, context: Any) -> dict[str, Any] | None:
    """The execution's cost so far (everything before this step); None when unreadable."""
    try:
        import boto3

        from .cost import cost_from_records
        from .executions import load_records

        parent, children = load_records(boto3.client("stepfunctions"), execution_arn)
        report = cost_from_records(
            parent, children, region=os.environ.get("AWS_REGION"),
            memory_mb=int(getattr(context, "memory_limit_in_mb", 0) or 10240),
            ephemeral_mb=int(os.environ.get(ENV_EPHEMERAL_MB, "512")),
        )  # fmt: skip
        return report.as_dict()
    except Exception:  # noqa: BLE001 - a cost we cannot read must not block the webhook
        return None


def _output_url(event: dict[str, Any]) -> str | None:
    """A signed GET URL of a succeeded render's output, valid the input's PresignSeconds
    (signed with the function's role: it also ends when the role's session does)."""
    seconds = (event.get("ExecutionInput") or {}).get("PresignSeconds")
    uri = str((event.get("Result") or {}).get("OutputS3Uri") or "")
    if event.get("Status") != "SUCCEEDED" or not isinstance(seconds, int) or seconds <= 0:
        return None
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not key:
        return None
    import boto3

    return str(
        boto3.client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds
        )
    )


def notify(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The handler's ``notify`` action: build, sign and POST the completion webhook."""
    execution_input = event.get("ExecutionInput") or {}
    url = str(execution_input.get("WebhookUrl") or "")
    if not url.startswith(("https://", "http://")):
        raise InvalidWebhookError(f"WebhookUrl must be an http(s) URL, got {url!r}")
    secret = _secret(execution_input)
    arn = str(event.get("ExecutionArn") or "")
    body = json.dumps(
        webhook_body(event, _cost(arn, context), _output_url(event)), sort_keys=True
    ).encode()
    status = deliver(url, body, secret, f"{arn}:{event.get('Status')}")
    return {"Delivered": True, "HttpStatus": status, "Bytes": len(body)}
