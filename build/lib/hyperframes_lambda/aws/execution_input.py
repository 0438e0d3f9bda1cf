"""What an execution input may hold beyond the render itself, and how a big one still fits.

Step Functions refuses an execution input (and any state's data) above 256 KiB; a
personalised render's ``Config.variables`` can be bigger (a 300 KiB product list). The
client then writes the whole Config to ``renders/<run>/config.json`` in the stack's bucket
(tagged as an intermediate: it expires with the render's plan and chunks) and the input
carries a pointer, ``Config: {"configS3Uri": …, "configSha256": …}``; the handler's plan
(and still) action reads it back and checks its SHA-256 before anything else, so the plan
— and its hash — is made from the real variables. What still does not fit after that is
``INPUT_TOO_LARGE`` naming the field, before anything starts.

Also here: the caller's ``CustomData`` (echoed in the webhook, at most 1 KiB of JSON) and
``PresignSeconds`` (a signed GET URL of the output: in the webhook, the result, progress).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from ..errors import InputTooLargeError, InvalidConfigError, StoredObjectCorruptError

# Step Functions' limit on an execution input, in bytes of UTF-8 JSON.
INPUT_LIMIT_BYTES = 256 * 1024
# Room left for what the state machine adds to the state data (plan result, chunk
# prefix, …) before it reaches the limit itself.
INPUT_MARGIN_BYTES = 16 * 1024
CUSTOM_DATA_LIMIT_BYTES = 1024
PRESIGN_MAX_SECONDS = 7 * 24 * 3600  # SigV4's longest validity
OFFLOAD_URI = "configS3Uri"
OFFLOAD_SHA256 = "configSha256"
OFFLOAD_NAME = "config.json"


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def check_custom_data(value: Any, field: str = "CustomData") -> Any:
    """``value`` when it is JSON of at most 1 KiB; else ``INVALID_CONFIG`` naming ``field``."""
    try:
        size = _size(value)
    except (TypeError, ValueError) as exc:
        raise InvalidConfigError(f"{field}: not JSON-serialisable ({exc})") from None
    if size > CUSTOM_DATA_LIMIT_BYTES:
        raise InvalidConfigError(
            f"{field}: {size} bytes of JSON, at most {CUSTOM_DATA_LIMIT_BYTES} (it rides in the "
            "execution input and every webhook; put bigger data in S3 and pass its key)"
        )
    return value


def check_presign_seconds(value: int, field: str = "PresignSeconds") -> int:
    if not 1 <= value <= PRESIGN_MAX_SECONDS:
        raise InvalidConfigError(
            f"{field}: {value} must be 1…{PRESIGN_MAX_SECONDS} seconds (7 days, SigV4's limit)"
        )
    return value


def is_offloaded(config: Any) -> bool:
    return isinstance(config, dict) and OFFLOAD_URI in config


def offload_if_large(
    execution_input: dict[str, Any], prefix_uri: str, put: Callable[[str, bytes], None]
) -> dict[str, Any]:
    """``execution_input`` as it is when it fits; else with its Config written through
    ``put(uri, bytes)`` to ``<prefix_uri>config.json`` and a pointer in its place. Raises
    ``INPUT_TOO_LARGE`` naming the biggest field when even that does not fit."""
    limit = INPUT_LIMIT_BYTES - INPUT_MARGIN_BYTES
    if _size(execution_input) <= limit:
        return execution_input
    result = dict(execution_input)
    config = result.get("Config")
    if isinstance(config, dict) and not is_offloaded(config):
        body = json.dumps(config, separators=(",", ":"), sort_keys=True).encode()
        uri = prefix_uri.rstrip("/") + "/" + OFFLOAD_NAME
        put(uri, body)
        result["Config"] = {OFFLOAD_URI: uri, OFFLOAD_SHA256: hashlib.sha256(body).hexdigest()}
    size = _size(result)
    if size > limit:
        field, biggest = max(((k, _size(v)) for k, v in result.items()), key=lambda kv: kv[1])
        raise InputTooLargeError(
            f"the execution input is {size} bytes even with its Config in S3, over Step "
            f"Functions' {INPUT_LIMIT_BYTES} less {INPUT_MARGIN_BYTES} for the state data: "
            f"{field} alone is {biggest} bytes"
        )
    return result


def resolve_offloaded(config: dict[str, Any], fetch: Callable[[str], bytes]) -> dict[str, Any]:
    """The Config a pointer names, read with ``fetch(uri)`` and checked against its
    SHA-256 (an object replaced since the client wrote it is ``CORRUPT_STORED_OBJECT``)."""
    uri = str(config[OFFLOAD_URI])
    body = fetch(uri)
    digest = hashlib.sha256(body).hexdigest()
    if config.get(OFFLOAD_SHA256) not in (None, digest):
        raise StoredObjectCorruptError(
            f"{uri}: SHA-256 {digest} is not the execution input's {OFFLOAD_SHA256} "
            f"{config.get(OFFLOAD_SHA256)}"
        )
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        raise StoredObjectCorruptError(f"{uri}: not JSON ({exc})") from None
    if not isinstance(value, dict) or is_offloaded(value):
        raise StoredObjectCorruptError(f"{uri}: not a Config object")
    return value
