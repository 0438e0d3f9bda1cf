"""Tiny Lambda handlers served by the real awslambdaric in tests/local/test_runtime_api.py.

They live in an importable module (``tests.lambda_test_handlers``) because each runtime
client is a separate ``python -m awslambdaric <module.function>`` process.
"""

from __future__ import annotations

import os
import time
from typing import Any

# The exception class *name* is what Lambda reports as errorType (and Step Functions matches).
PlanHashMismatch = type("PLAN_HASH_MISMATCH", (Exception,), {})


def echo(event: Any, context: Any) -> dict[str, Any]:
    return {
        "echo": event,
        "requestId": context.aws_request_id,
        "remainingMs": context.get_remaining_time_in_millis(),
        "functionName": context.function_name,
        "invokedFunctionArn": context.invoked_function_arn,
    }


def fail(event: Any, context: Any) -> None:
    raise PlanHashMismatch("plan hash does not match the chunk's expectation")


def slow(event: Any, context: Any) -> dict[str, Any]:
    started = time.time()
    time.sleep(float(event["seconds"]))
    return {"pid": os.getpid(), "start": started, "end": time.time()}


def crash(event: Any, context: Any) -> dict[str, Any]:
    """Exit the runtime process abruptly, unless the event says ``{"crash": false}``."""
    if event.get("crash", True):
        os._exit(3)
    return {"pid": os.getpid()}
