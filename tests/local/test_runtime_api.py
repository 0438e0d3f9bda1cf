"""The local Runtime API + RIE endpoint, driven through real awslambdaric processes over HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hyperframes_lambda.local.rie import LocalLambda
from hyperframes_lambda.local.runtime_api import FUNCTION_ERROR_HEADER

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = "tests.lambda_test_handlers"
# awslambdaric imports the handler module by name, so the repo root must be importable.
CLIENT_ENV = {
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
}


def local_lambda(function: str, concurrency: int = 1, timeout_s: float = 60.0) -> LocalLambda:
    return LocalLambda(
        f"{HANDLERS}.{function}",
        concurrency,
        timeout_s=timeout_s,
        env=CLIENT_ENV,
        cwd=ROOT,
    )


def post(url: str, event: Any) -> tuple[int, dict[str, str], Any]:
    """POST an event the way an RIE client does; returns status, headers, decoded body."""
    request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, dict(response.headers), json.loads(response.read())


@pytest.fixture(scope="module")
def echo_lambda() -> Iterator[LocalLambda]:
    with local_lambda("echo", timeout_s=30.0) as rie:
        yield rie


def test_echo_round_trip_over_http(echo_lambda: LocalLambda) -> None:
    event = {"Action": "plan", "Nested": {"List": [1, 2, 3]}, "Text": "héllo"}
    before = echo_lambda.server.invocation_count
    status, headers, body = post(echo_lambda.invoke_url, event)
    assert status == 200
    assert FUNCTION_ERROR_HEADER not in headers
    assert body["echo"] == event
    assert re.fullmatch(r"[0-9a-f-]{36}", body["requestId"])
    assert 0 < body["remainingMs"] <= 30_000
    assert body["invokedFunctionArn"].startswith("arn:aws:lambda:")
    assert echo_lambda.server.invocation_count == before + 1


def test_in_process_invoke_helper(echo_lambda: LocalLambda) -> None:
    outcome = echo_lambda.invoke(["a", 1], timeout=5.0)
    assert outcome.ok
    assert outcome.payload["echo"] == ["a", 1]
    assert outcome.payload["requestId"] == outcome.request_id
    assert 0 < outcome.payload["remainingMs"] <= 5_000
    assert outcome.duration_s >= 0


def test_function_error_type_is_the_exception_class_name() -> None:
    with local_lambda("fail") as rie:
        status, headers, body = post(rie.invoke_url, {"PlanHash": "abc"})
    assert status == 200
    assert headers[FUNCTION_ERROR_HEADER] == "Unhandled"
    assert body["errorType"] == "PLAN_HASH_MISMATCH"
    assert "plan hash" in body["errorMessage"]
    assert isinstance(body["stackTrace"], list)


def test_init_error_fails_invocations_with_its_type() -> None:
    with local_lambda("no_such_handler") as rie:
        outcome = rie.invoke({})
    assert outcome.error_type == "Runtime.HandlerNotFound"
    assert "no_such_handler" in (outcome.error_message or "")


def test_two_clients_run_invocations_concurrently() -> None:
    results: list[dict[str, Any]] = []
    with local_lambda("slow", concurrency=2) as rie:

        def call() -> None:
            results.append(post(rie.invoke_url, {"seconds": 1})[2])

        threads = [threading.Thread(target=call) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert len(results) == 2
    first, second = results
    assert first["pid"] != second["pid"], "both ran in the same runtime process"
    assert max(first["start"], second["start"]) < min(first["end"], second["end"]), (
        "the two invocations' [start, end] intervals do not overlap"
    )


def test_crash_fails_invocation_and_client_restarts() -> None:
    with local_lambda("crash") as rie:
        first_pid = rie.pids[0]
        status, headers, body = post(rie.invoke_url, {})
        assert status == 200
        assert headers[FUNCTION_ERROR_HEADER] == "Unhandled"
        assert body["errorType"] == "Runtime.ExitError"
        assert "exit status 3" in body["errorMessage"]

        after = rie.invoke({"crash": False}, timeout=30.0)
        assert after.ok, after.payload
        assert after.payload["pid"] != first_pid
        assert rie.restarts == 1


def test_timeout_fails_invocation_and_recycles_client() -> None:
    with local_lambda("slow", timeout_s=0.5) as rie:
        first_pid = rie.pids[0]
        timed_out = rie.invoke({"seconds": 5})
        assert timed_out.error_type == "Sandbox.Timedout"
        after = rie.invoke({"seconds": 0})
        assert after.ok, after.payload
        assert after.payload["pid"] != first_pid


def _read_line(stream: Any, timeout: float) -> str:
    """readline() with a deadline, so a broken CLI fails the test instead of hanging it."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


CLI_ARGS = ["--handler", f"{HANDLERS}.echo", "--port", "0", "--concurrency", "2"]


def test_cli_prints_invoke_url_and_serves() -> None:
    env = {**os.environ, **CLIENT_ENV}
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hyperframes_lambda.rie", *CLI_ARGS],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            line = _read_line(proc.stdout, timeout=60)
            match = re.search(
                r"(http://127\.0\.0\.1:\d+/2015-03-31/functions/function/invocations)", line
            )
            assert match, f"no invoke URL in {line!r}"
            status, _, body = post(match.group(1), {"hello": "cli"})
            assert status == 200
            assert body["echo"] == {"hello": "cli"}
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
            assert time.monotonic() - started < 15
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            stderr.seek(0)
            print(stderr.read().decode(errors="replace"))
