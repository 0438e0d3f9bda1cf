"""Fake ``aws`` and ``sam`` executables for the script tests (tests/test_scripts.py).

Installed on ``PATH`` as two small launchers that call :func:`main` with the tool name.
Every call is appended to ``$FAKE_AWS_DIR/calls.jsonl``; the state of the fake account
(does the stack exist, which buckets) lives in ``state.json`` beside it, so the teardown's
verification sees what the earlier calls did. ``scenario.json`` steers it:

- ``output_file``: what ``aws s3 cp s3://… LOCAL`` downloads (a render's output);
- ``execution_status``: what every execution ends as (default SUCCEEDED);
- ``fail_on``: a substring of the joined arguments; matching calls exit 1;
- ``hang_on``: a substring; matching calls sleep (until a signal ends them);
- ``delete_fails``: ``sam delete`` leaves the stack in place.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
T0 = "2026-11-28T12:00:00.000000+00:00"
OPTIONS_WITH_VALUES = {"--region", "--profile", "--output", "--query"}


def _dir() -> Path:
    return Path(os.environ["FAKE_AWS_DIR"])


def _load(name: str, default: Any) -> Any:
    path = _dir() / name
    return json.loads(path.read_text()) if path.is_file() else default


def _save_state(state: dict[str, Any]) -> None:
    (_dir() / "state.json").write_text(json.dumps(state))


def _opt(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv and argv.index(name) + 1 < len(argv) else None


def _positional(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg.startswith("--"):
            skip = arg in OPTIONS_WITH_VALUES or arg in {
                "--stack-name", "--execution-arn", "--map-run-arn", "--bucket", "--name",
                "--state-machine-arn", "--input", "--error", "--log-group-name-prefix",
                "--template-file", "--s3-bucket", "--s3-prefix", "--capabilities",
                "--tags", "--status-filter",
            }  # fmt: skip
            continue
        out.append(arg)
    return out


def _fail(message: str, code: int = 254) -> int:
    print(message, file=sys.stderr)
    return code


def _event(eid: int, prev: int, kind: str, seconds: float, **details: Any) -> dict[str, Any]:
    stamp = f"2026-11-28T12:00:{seconds:09.6f}+00:00"
    event: dict[str, Any] = {"id": eid, "previousEventId": prev, "type": kind, "timestamp": stamp}
    if details:
        key = kind[0].lower() + kind[1:] + "EventDetails"
        event[key] = details
    return event


def _lambda_task(eid: int, start: float, seconds: float, duration_ms: int) -> list[dict[str, Any]]:
    payload = json.dumps({"Payload": {"DurationMs": duration_ms}})
    return [
        _event(eid, eid - 1, "TaskStateEntered", start),
        _event(eid + 1, eid, "TaskScheduled", start, resourceType="lambda"),
        _event(eid + 2, eid + 1, "TaskStarted", start + 0.01, resourceType="lambda"),
        _event(eid + 3, eid + 2, "TaskSucceeded", start + 0.01 + seconds,
               resourceType="lambda", output=payload),
    ]  # fmt: skip


def _execution_arn(argv: list[str]) -> str:
    return f"arn:aws:states:us-east-1:{ACCOUNT}:execution:sm:{_opt(argv, '--name')}"


def history(arn: str) -> dict[str, Any]:
    """Parent: Plan (2 s) and Assemble (1 s) plus two Pass states; a child: one 3 s chunk."""
    if ":map-child-" in arn:
        return {"events": _lambda_task(2, 0.0, 3.0, 2900)}
    events = [_event(1, 0, "PassStateEntered", 0.0), *_lambda_task(2, 0.0, 2.0, 1900)]
    events += [_event(6, 5, "MapStateEntered", 2.1), *_lambda_task(7, 10.0, 1.0, 900)]
    return {"events": events}


def aws(argv: list[str], scenario: dict[str, Any], state: dict[str, Any]) -> int:
    args = _positional(argv)
    service, command = [*args, "", ""][:2]
    query = _opt(argv, "--query") or ""
    if service == "sts":
        print(ACCOUNT if "Account" in query else json.dumps({"Account": ACCOUNT}))
        return 0
    if service == "s3":
        target = args[2] if len(args) > 2 else ""
        bucket = target.removeprefix("s3://").split("/")[0]
        if command == "mb":
            state["buckets"].append(bucket)
        elif command == "rb":
            if bucket not in state["buckets"]:
                return _fail(f"remove_bucket failed: s3://{bucket} NoSuchBucket")
            state["buckets"].remove(bucket)
        elif command == "cp" and target.startswith("s3://"):
            download = args[3]
            source = scenario.get("output_file")
            if not source:
                return _fail("fatal error: An error occurred (404) when calling HeadObject", 1)
            shutil.copyfile(source, download)
        return 0
    if service == "s3api" and command == "head-bucket":
        if _opt(argv, "--bucket") in state["buckets"]:
            return 0
        return _fail("An error occurred (404) when calling the HeadBucket operation: Not Found")
    if service == "cloudformation" and command == "describe-stacks":
        name = _opt(argv, "--stack-name")
        if not state.get("stack") or state["stack"] != name:
            return _fail(
                f"An error occurred (ValidationError): Stack with id {name} does not exist"
            )
        if "RenderBucketName" in query:
            print(state["render_bucket"])
        elif "RenderStateMachineArn" in query:
            print(f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{name}-render")
        else:
            print(json.dumps({"Stacks": [{"StackName": name}]}))
        return 0
    if service == "logs":
        if state.get("stack"):
            print(f"/aws/lambda/{state['stack']}-render")
        return 0
    if service == "stepfunctions":
        arn = _opt(argv, "--execution-arn") or ""
        status = scenario.get("execution_status", "SUCCEEDED")
        if command == "start-execution":
            print(_execution_arn(argv))
        elif command == "list-executions" and _opt(argv, "--status-filter") == "RUNNING":
            print("\t".join(state.get("running", [])))
        elif command == "stop-execution":
            state["running"] = [a for a in state.get("running", []) if a != arn]
        elif command == "describe-execution":
            if query == "status":
                print(status)
            else:
                doc = {"executionArn": arn, "status": status, "startDate": T0,
                       "stopDate": "2026-11-28T12:00:12.500000+00:00"}  # fmt: skip
                if status != "SUCCEEDED":
                    doc.update(error="RENDER_TIMEOUT", cause="chunk 1 ran out of time")
                print(json.dumps(doc))
        elif command == "get-execution-history":
            print(json.dumps(history(arn)))
        elif command == "list-map-runs":
            print(f"{arn}:maprun-1")
        elif command == "list-executions":
            print(f"{arn}:map-child-1\t{arn}:map-child-2")
        return 0
    return 0


def sam(argv: list[str], scenario: dict[str, Any], state: dict[str, Any]) -> int:
    command = argv[0] if argv else ""
    name = _opt(argv, "--stack-name")
    if command == "deploy":
        state["stack"] = name
        state["render_bucket"] = f"{name}-renderbucket-abc123"
        state["buckets"].append(state["render_bucket"])
    elif command == "delete" and not scenario.get("delete_fails") and state.get("stack") == name:
        state["stack"] = None
    return 0


def main(tool: str, argv: list[str]) -> int:
    with (_dir() / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps({"tool": tool, "argv": argv}) + "\n")
    scenario = _load("scenario.json", {})
    joined = " ".join([tool, *argv])
    if scenario.get("hang_on") and scenario["hang_on"] in joined:
        if "start-execution" in argv:  # it reached AWS; the caller never hears back
            state = _load("state.json", {"stack": None, "buckets": []})
            state.setdefault("running", []).append(_execution_arn(argv))
            _save_state(state)
        time.sleep(120)
    if scenario.get("fail_on") and scenario["fail_on"] in joined:
        return _fail(f"fake {tool}: failing on purpose ({scenario['fail_on']})", 1)
    state = _load("state.json", {"stack": None, "buckets": []})
    code = (aws if tool == "aws" else sam)(argv, scenario, state)
    _save_state(state)
    return code
