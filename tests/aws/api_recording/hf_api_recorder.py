"""Records every AWS API call a process makes, as JSON lines, for the IAM test.

Why: moto authorises only S3 against resource ARNs (every other service's calls against
``*``), so it cannot say whether a resource-scoped policy allows what our code does. This
records what the code *does*: each call's service, operation and parameters (one line
each, appended to a file several processes share), and ``tests/aws/iam_actions.py`` turns
them into the IAM actions and resource ARNs that AWS authorises.

It hooks botocore's ``before-parameter-build`` event, which every API call (and every
presigned URL) emits with the caller's parameters, through ``botocore.handlers.
BUILTIN_HANDLERS``: the list every new botocore session registers, so every client made
afterwards in this process is recorded. In the emulator's processes ``sitecustomize.py``
beside this file installs it at start-up when ``HYPERFRAMES_TEST_API_LOG`` names the file.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

ENV_LOG = "HYPERFRAMES_TEST_API_LOG"
_lock = threading.Lock()
_state: dict[str, str | None] = {"path": None, "who": None, "phase": None}


def _safe(value: Any) -> Any:
    """The parameters as JSON: bodies and file objects become their type's name."""
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_safe(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return f"<{type(value).__name__}>"


def _record(params: Any, model: Any, context: Any = None, **_: Any) -> None:
    path, phase = _state["path"], _state["phase"]
    if path is None or phase is None:
        return
    context = context or {}
    line = {
        "who": _state["who"], "phase": phase, "pid": os.getpid(),
        "service": model.service_model.signing_name or model.service_model.endpoint_prefix,
        "operation": model.name, "region": context.get("client_region"),
        "presign": bool(context.get("is_presign_request")), "params": _safe(params),
    }  # fmt: skip
    text = json.dumps(line, sort_keys=True) + "\n"
    with _lock, open(path, "a", encoding="utf-8") as out:  # O_APPEND: whole lines
        out.write(text)


def install(path: str, who: str, phase: str | None = "run") -> None:
    """Record this process's calls from now on (clients made from now on)."""
    import boto3
    import botocore.handlers

    _state.update(path=path, who=who, phase=phase)
    entry = ("before-parameter-build", _record)
    if entry not in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append(entry)
    boto3.DEFAULT_SESSION = None  # boto3.client() makes a new session, with the hook


def uninstall() -> None:
    """Stop recording; clients made from now on carry no hook."""
    import botocore.handlers

    _state.update(path=None, who=None, phase=None)
    entry = ("before-parameter-build", _record)
    while entry in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.remove(entry)


def set_phase(phase: str | None) -> None:
    """Label the calls that follow (None: stop recording)."""
    _state["phase"] = phase


def install_from_env() -> None:
    """In a subprocess: the function's processes (AWS_LAMBDA_FUNCTION_NAME is set) record
    as ``function``, the emulator itself (moto's ASL interpreter) as ``emulator``."""
    path = os.environ.get(ENV_LOG)
    if path:
        who = "function" if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else "emulator"
        install(path, who)
