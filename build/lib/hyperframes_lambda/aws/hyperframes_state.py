"""HyperFrames' own client on our stack: the state file its CLI reads.

``hyperframes lambda render|progress`` (npm ``hyperframes``) find a stack through
``<cwd>/.hyperframes/lambda-stack-<stackName>.json``, written by its own ``lambda
deploy``. Writing the same file for our stack (``lambda deploy --write-hyperframes-state``)
lets that client start renders on it: it sends the same PascalCase execution input as
ours (its Config keys we do not implement are accepted with a plan warning, see
:data:`hyperframes_lambda.config.HYPERFRAMES_ONLY_KEYS`).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from .stack import Stack

STATE_DIR = ".hyperframes"


def state_path(stack_name: str, cwd: Path) -> Path:
    return cwd / STATE_DIR / f"lambda-stack-{stack_name}.json"


def write_hyperframes_state(
    stack: Stack, cwd: Path, *, memory_mb: int, reserved_concurrency: int | None = None
) -> Path:
    """Write the state file for ``stack`` under ``cwd`` (atomically); returns its path."""
    path = state_path(stack.name, cwd)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "stackName": stack.name,
        "region": stack.region,
        "bucketName": stack.bucket,
        "stateMachineArn": stack.state_machine_arn,
        "functionName": stack.function_arn.rsplit(":", 1)[-1],
        "lambdaMemoryMb": memory_mb,
        "reservedConcurrency": reserved_concurrency,
        "deployedAt": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(partial, path)
    return path
