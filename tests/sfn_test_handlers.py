"""Lambda handlers for tests/local/test_state_machine.py that wrap the real one to inject faults.

Each runs in an awslambdaric process (``python -m awslambdaric tests.sfn_test_handlers.X``)
and delegates to :func:`hyperframes_lambda.handler.handler`; only what the name says is
changed. Counters live in files under ``$HF_TEST_STATE_DIR`` because every runtime client
is its own process.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from hyperframes_lambda.handler.dispatch import handler as real_handler
from hyperframes_lambda.handler.dispatch import storage

# The class *name* is the errorType Lambda reports; BROWSER_CRASHED is retryable.
BrowserCrashed = type("BROWSER_CRASHED", (Exception,), {})


def _attempt(name: str) -> int:
    """1 for the first call with this name across all processes, then 2, 3, …"""
    state = Path(os.environ["HF_TEST_STATE_DIR"])
    count = 1
    while True:
        try:
            (state / f"{name}.{count}").touch(exist_ok=False)
            return count
        except FileExistsError:
            count += 1


def crash_first_chunks(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """renderChunk fails BROWSER_CRASHED on its first ``$HF_TEST_FAILURES`` attempts."""
    if event.get("Action") == "renderChunk":
        attempt = _attempt(f"chunk{event['ChunkIndex']}")
        if attempt <= int(os.environ["HF_TEST_FAILURES"]):
            raise BrowserCrashed(f"injected crash, attempt {attempt}")
    return real_handler(event, context)


def zero_chunks(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A plan result that claims no chunks (a broken planner, as the state machine sees it)."""
    result = real_handler(event, context)
    if event.get("Action") == "plan":
        result["ChunkCount"] = 0
    return result


def tamper_after_plan(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Plan for real, then swap a file inside the uploaded plan (as a corrupted or
    hand-edited plan would be): renderChunk must refuse it with PLAN_HASH_MISMATCH."""
    result = real_handler(event, context)
    if event.get("Action") == "plan":
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch)
            archive = storage().download(result["PlanS3Uri"], work / "plan.tar.gz")
            unpacked = work / "unpacked"
            with tarfile.open(archive) as tar:
                tar.extractall(unpacked, filter="data")
            (unpacked / "compiled").mkdir(exist_ok=True)  # the page is an artifact
            (unpacked / "compiled" / "index.html").write_text("<!-- swapped -->", "utf-8")
            with tarfile.open(archive, "w:gz") as tar:
                for path in sorted(unpacked.iterdir()):
                    tar.add(path, arcname=path.name)
            storage().upload(archive, result["PlanS3Uri"])
    return result


# A terminal error name: the state machine does not retry it.
InvalidComposition = type("INVALID_COMPOSITION", (Exception,), {})


def fail_chunk_while_flagged(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """renderChunk 1 fails (terminal) while ``$HF_TEST_STATE_DIR/fail-chunk-1`` exists; the
    other chunks render. Removing the file lets a resumed execution render it."""
    flagged = (Path(os.environ["HF_TEST_STATE_DIR"]) / "fail-chunk-1").exists()
    if event.get("Action") == "renderChunk" and event.get("ChunkIndex") == 1 and flagged:
        raise InvalidComposition("injected failure of chunk 1")
    return real_handler(event, context)
