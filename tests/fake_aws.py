"""Fake ``aws`` and ``sam`` executables for the script tests (tests/test_scripts.py).

Installed on ``PATH`` as two small launchers that call :func:`main` with the tool name.
Every call is appended to ``$FAKE_AWS_DIR/calls.jsonl``; the fake account (stacks, also
deleted ones, buckets with their tags and objects, running executions) lives in
``state.json`` beside it. They behave like the real CLIs where the scripts depend on it:

- every ``aws`` answer is the API's JSON, filtered by ``--query`` (JMESPath, as the CLI
  does) and printed as ``--output text`` or JSON;
- ``s3 rb`` refuses a bucket with objects (``BucketNotEmpty``); ``s3 mb`` of a bucket you
  already own succeeds, as in us-east-1; a deleted stack is found by its id only;
- CloudFormation gives a stack's tags to the bucket it creates, and a rollback or a
  delete keeps the ``DeletionPolicy: Retain`` bucket (``DELETE_SKIPPED``);
- ``sam`` reads ``samconfig.toml`` from the template's directory (or ``--config-file``,
  relative to that directory), merges ``[env.global.parameters]`` and
  ``[env.<command>.parameters]`` under the command line, refuses ``--resolve-s3`` with
  ``--s3-bucket``, and fails on a named config file that does not exist.

``scenario.json`` steers it:

- ``output_file``: what ``aws s3 cp s3://… LOCAL`` downloads (a render's output);
- ``execution_status``: what every execution ends as (default SUCCEEDED; ABORTED leaves
  each chunk's Lambda invocation unfinished in the history);
- ``total_frames``: the composition's frames, for the plan's chunk count (default 60);
- ``fail_on``: a substring of the joined arguments; matching calls exit 1;
- ``hang_on``: a substring; matching calls sleep (until a signal ends them);
- ``block_on``: a substring; a matching call writes ``blocked`` and waits for ``release``;
- ``delete_fails``: ``sam delete`` fails and leaves the stack in place;
- ``deploy_rolls_back``: ``sam deploy`` creates the stack (and its bucket), then rolls back;
- ``refill_bucket``: objects reappear in the render bucket after ``s3 rm`` (a Lambda still
  writing), so ``s3 rb`` fails with BucketNotEmpty;
- ``stacks`` / ``buckets``: ``{name: {tag: value}}`` that exist before the run;
- ``aws_version`` / ``sam_version``: what ``--version`` prints.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import jmespath

ACCOUNT = "123456789012"
REGION = "us-east-1"
T0 = 1_795_000_000.0  # epoch seconds; histories carry ISO strings like aws cli v2
AWS_FLAGS = {"--recursive", "--only-show-errors", "--version", "--no-cli-pager", "--debug"}
SAM_FLAGS = {
    "--no-prompts", "--no-confirm-changeset", "--no-fail-on-empty-changeset", "--resolve-s3",
    "--guided", "--no-execute-changeset", "--version", "--debug",
}  # fmt: skip
SAM_MULTI = {"--tags", "--parameter-overrides", "--capabilities"}


class Failure(Exception):
    def __init__(self, message: str, code: int = 254) -> None:
        super().__init__(message)
        self.code = code


def _dir() -> Path:
    return Path(os.environ["FAKE_AWS_DIR"])


def _load(name: str, default: Any) -> Any:
    path = _dir() / name
    return json.loads(path.read_text()) if path.is_file() else default


def _initial_state(scenario: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = {"stacks": [], "buckets": {}, "running": [], "executions": {}}
    for name, tags in scenario.get("stacks", {}).items():
        _new_stack(state, name, tags)
    for name, tags in scenario.get("buckets", {}).items():
        state["buckets"][name] = {"tags": tags, "objects": ["existing/object"]}
    return state


def parse(argv: list[str], flags: set[str], multi: set[str] = frozenset()) -> tuple:  # type: ignore[assignment]
    """(positional, options): an option takes one value (several for ``multi``)."""
    positional: list[str] = []
    options: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--"):
            if arg in flags:
                options[arg] = True
            elif arg in multi:
                values = []
                while i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                    values.append(argv[i + 1])
                    i += 1
                options[arg] = values
            else:
                options[arg] = argv[i + 1] if i + 1 < len(argv) else None
                i += 1
        else:
            positional.append(arg)
        i += 1
    return positional, options


def _text(value: Any) -> str:
    """``--output text``: scalars as they are (None as "None"), lists tab- or
    line-separated, like the aws cli."""
    if value is None:
        return "None"
    if isinstance(value, list):
        if value and all(isinstance(v, list | dict) for v in value):
            return "\n".join(_text(v) for v in value)
        return "\t".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "\t".join(_text(v) for v in value.values())
    return str(value)


def _iso(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(T0 + seconds, UTC).isoformat()


# ---- the account ------------------------------------------------------------------------


def _live_stack(state: dict[str, Any], name: str | None) -> dict[str, Any] | None:
    """By name: the stack that is not deleted; by id: any, deleted ones too."""
    for stack in state["stacks"]:
        if stack["id"] == name:
            return stack
        if stack["name"] == name and stack["status"] != "DELETE_COMPLETE":
            return stack
    return None


def _new_stack(state: dict[str, Any], name: str, tags: dict[str, str]) -> dict[str, Any]:
    stack = {
        "id": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/{len(state['stacks'])}",
        "name": name, "status": "CREATE_COMPLETE", "tags": tags, "outputs": {},
        "resources": [],
    }  # fmt: skip
    state["stacks"].append(stack)
    return stack


def _bucket(state: dict[str, Any], name: str) -> dict[str, Any]:
    if name not in state["buckets"]:
        raise Failure(
            "An error occurred (NoSuchBucket) when calling the operation: "
            "The specified bucket does not exist"
        )
    bucket: dict[str, Any] = state["buckets"][name]
    return bucket


def _s3(args: list[str], opts: dict[str, Any], scenario: dict[str, Any], state: dict) -> Any:
    command = args[1] if len(args) > 1 else ""
    target = args[2] if len(args) > 2 else ""
    name, _, key = target.removeprefix("s3://").partition("/")
    if command == "mb":
        state["buckets"].setdefault(name, {"tags": {}, "objects": []})  # us-east-1: no error
        print(f"make_bucket: {name}")
    elif command == "rb":
        bucket = state["buckets"].get(name)
        if bucket is None:
            raise Failure(f"remove_bucket failed: s3://{name} An error occurred (NoSuchBucket)", 1)
        if bucket["objects"]:
            raise Failure(
                f"remove_bucket failed: s3://{name} An error occurred (BucketNotEmpty) when "
                "calling the DeleteBucket operation: The bucket you tried to delete is not empty",
                1,
            )
        del state["buckets"][name]
        print(f"remove_bucket: {name}")
    elif command == "rm":
        bucket = _bucket(state, name)
        bucket["objects"] = [o for o in bucket["objects"] if not o.startswith(key)]
        if scenario.get("refill_bucket") and "renderbucket" in name:
            bucket["objects"].append("renders/late/chunks/0001.mp4")
    elif command == "cp" and target.startswith("s3://"):  # a download
        source = scenario.get("output_file")
        if not source or key not in _bucket(state, name)["objects"]:
            raise Failure("fatal error: An error occurred (404) when calling HeadObject", 1)
        shutil.copyfile(source, args[3])
    elif command == "cp":  # an upload
        name, _, key = args[3].removeprefix("s3://").partition("/")
        _bucket(state, name)["objects"].append(key)
    return None


def _s3api(args: list[str], opts: dict[str, Any], state: dict) -> Any:
    command = args[1]
    name = opts.get("--bucket") or ""
    if command == "head-bucket":
        if name not in state["buckets"]:
            raise Failure(
                "An error occurred (404) when calling the HeadBucket operation: Not Found"
            )
        return {"BucketRegion": REGION}
    bucket = _bucket(state, name)
    if command == "get-bucket-tagging":
        if not bucket["tags"]:
            raise Failure(
                "An error occurred (NoSuchTagSet) when calling the GetBucketTagging operation: "
                "The TagSet does not exist"
            )
        return {"TagSet": [{"Key": k, "Value": v} for k, v in bucket["tags"].items()]}
    if command == "put-bucket-tagging":
        tagging = json.loads(opts["--tagging"])
        bucket["tags"] = {t["Key"]: t["Value"] for t in tagging["TagSet"]}
        return None
    raise Failure(f"fake aws: s3api {command} is not faked")


def _cloudformation(args: list[str], opts: dict[str, Any], state: dict) -> Any:
    command = args[1]
    name = opts.get("--stack-name")
    stack = _live_stack(state, name)
    if stack is None:
        raise Failure(f"An error occurred (ValidationError) when calling the operation: "
                      f"Stack with id {name} does not exist")  # fmt: skip
    if command == "describe-stacks":
        return {"Stacks": [{
            "StackId": stack["id"], "StackName": stack["name"], "StackStatus": stack["status"],
            "Tags": [{"Key": k, "Value": v} for k, v in stack["tags"].items()],
            "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in stack["outputs"].items()],
        }]}  # fmt: skip
    if command == "list-stack-resources":
        return {"StackResourceSummaries": stack["resources"]}
    raise Failure(f"fake aws: cloudformation {command} is not faked")


def _execution_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:sm:{name}"


def _stepfunctions(
    args: list[str], opts: dict[str, Any], scenario: dict[str, Any], state: dict
) -> Any:
    command = args[1]
    status = scenario.get("execution_status", "SUCCEEDED")
    arn = opts.get("--execution-arn") or ""
    if command == "start-execution":
        arn = _execution_arn(opts["--name"])
        document = json.loads(opts["--input"])
        state["executions"][arn] = document
        if status == "SUCCEEDED":
            name, _, key = document["OutputS3Uri"].removeprefix("s3://").partition("/")
            _bucket(state, name)["objects"].append(key)
        return {"executionArn": arn, "startDate": _iso(0)}
    if command == "describe-execution":
        doc = {"executionArn": arn, "status": status, "startDate": _iso(0),
               "stopDate": _iso(12.5)}  # fmt: skip
        if status != "SUCCEEDED":
            doc.update(error="RENDER_TIMEOUT", cause="chunk 1 ran out of time")
        return doc
    if command == "get-execution-history":
        parent = arn.split(":map-child-")[0]
        return history(arn, state["executions"].get(parent, {}), scenario)
    if command == "list-map-runs":
        return {"mapRuns": [{"mapRunArn": f"{arn}:maprun-1"}]}
    if command == "list-executions" and opts.get("--map-run-arn"):
        parent = opts["--map-run-arn"].removesuffix(":maprun-1")
        count = _planned(state["executions"].get(parent, {}), scenario)
        return {"executions": [{"executionArn": f"{parent}:map-child-{i}"}
                               for i in range(1, count + 1)]}  # fmt: skip
    if command == "list-executions":
        return {"executions": [{"executionArn": a} for a in state.get("running", [])]}
    if command == "stop-execution":
        state["running"] = [a for a in state.get("running", []) if a != arn]
        return {"stopDate": _iso(13)}
    raise Failure(f"fake aws: stepfunctions {command} is not faked")


def _planned(document: dict[str, Any], scenario: dict[str, Any]) -> int:
    chunk_size = int((document.get("Config") or {}).get("chunkSize") or 1)
    return math.ceil(int(scenario.get("total_frames", 60)) / chunk_size)


# ---- execution histories -----------------------------------------------------------------


class _History:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, kind: str, seconds: float, **details: Any) -> None:
        event: dict[str, Any] = {"id": len(self.events) + 1, "previousEventId": len(self.events),
                                 "type": kind, "timestamp": _iso(seconds)}  # fmt: skip
        if details:  # the API names the details after the event, but one for all states
            key = kind[0].lower() + kind[1:]
            if kind.endswith(("StateEntered", "StateExited")):
                key = "stateEntered" if kind.endswith("Entered") else "stateExited"
            event[key + "EventDetails"] = details
        self.events.append(event)

    def state(self, kind: str, name: str, seconds: float) -> None:
        self.add(f"{kind}StateEntered", seconds, name=name)

    def task(self, name: str, action: str, start: float, ms: int, result: dict | None) -> None:
        """A lambda:invoke task; ``result`` None: still running when the execution ended."""
        self.state("Task", name, start)
        parameters = {"FunctionName": "fn", "Payload": {"Action": action}}
        self.add("TaskScheduled", start, resourceType="lambda", resource="invoke",
                 parameters=json.dumps(parameters))  # fmt: skip
        self.add("TaskStarted", start + 0.01, resourceType="lambda", resource="invoke")
        if result is None:
            return
        payload = {**result, "DurationMs": ms, "MemoryMb": 10240}
        self.add("TaskSucceeded", start + 0.01 + ms / 1000 + 0.05, resourceType="lambda",
                 resource="invoke", output=json.dumps({"Payload": payload}))  # fmt: skip
        self.add("TaskStateExited", start + 0.1 + ms / 1000, name=name)


def history(arn: str, document: dict[str, Any], scenario: dict[str, Any]) -> dict[str, Any]:
    """Parent: the state machine's states, Plan (1.9 s) and Assemble (0.9 s); a child: one
    2.9 s chunk (unfinished when the execution was stopped)."""
    status = scenario.get("execution_status", "SUCCEEDED")
    h = _History()
    h.add("ExecutionStarted", 0, input=json.dumps(document))
    if ":map-child-" in arn:
        h.task("RenderChunk", "renderChunk", 2.5, 2900,
               None if status == "ABORTED" else {"ChunkIndex": 0})  # fmt: skip
        h.add("ExecutionAborted" if status == "ABORTED" else "ExecutionSucceeded", 12.4)
        return {"events": h.events}
    chunks = _planned(document, scenario)
    for kind, name in (("Choice", "CheckInput"), ("Choice", "ChunkPrefix"),
                       ("Pass", "ChunkPrefixAfterSlash")):  # fmt: skip
        h.state(kind, name, 0.01)
    h.task("Plan", "plan", 0.1, 1900, {"ChunkCount": chunks, "TotalFrames": 60})
    h.state("Choice", "CheckChunkCount", 2.1)
    h.state("Pass", "ChunkIndexes", 2.1)
    h.state("Map", "RenderChunks", 2.2)
    h.add("MapStateStarted", 2.2, length=chunks)
    if status != "SUCCEEDED":
        h.add("ExecutionAborted" if status == "ABORTED" else "ExecutionFailed", 12.5,
              error="RENDER_TIMEOUT", cause="chunk 1 ran out of time")  # fmt: skip
        return {"events": h.events}
    h.add("MapStateExited", 6.0, name="RenderChunks")
    h.state("Pass", "CheckChunks", 6.0)
    h.state("Choice", "AllChunksRendered", 6.0)
    h.task("Assemble", "assemble", 6.1, 900, {"OutputS3Uri": document.get("OutputS3Uri")})
    for kind, name in (("Pass", "Rendered"), ("Choice", "ShouldNotifySuccess"),
                       ("Pass", "Succeeded")):  # fmt: skip
        h.state(kind, name, 12.4)
    h.add("ExecutionSucceeded", 12.5, output="{}")
    return {"events": h.events}


def aws(argv: list[str], scenario: dict[str, Any], state: dict[str, Any]) -> int:
    args, opts = parse(argv, AWS_FLAGS)
    if opts.get("--version"):
        print(scenario.get("aws_version", "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64"))
        return 0
    service = args[0] if args else ""
    answer: Any
    if service == "sts":
        answer = {"UserId": "AIDA", "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/t"}
    elif service == "s3":
        answer = _s3(args, opts, scenario, state)
    elif service == "s3api":
        answer = _s3api(args, opts, state)
    elif service == "cloudformation":
        answer = _cloudformation(args, opts, state)
    elif service == "stepfunctions":
        answer = _stepfunctions(args, opts, scenario, state)
    elif service == "logs":
        prefix = opts.get("--log-group-name-prefix") or ""
        live = [s["name"] for s in state["stacks"] if s["status"] != "DELETE_COMPLETE"]
        groups = [f"/aws/lambda/{n}-render" for n in live]
        answer = {"logGroups": [{"logGroupName": g} for g in groups if g.startswith(prefix)]}
    else:
        raise Failure(f"fake aws: {service} is not faked")
    if answer is None:
        return 0
    if opts.get("--query"):
        answer = jmespath.search(opts["--query"], answer)
    print(_text(answer) if opts.get("--output") == "text" else json.dumps(answer, indent=2))
    return 0


# ---- sam --------------------------------------------------------------------------------


def sam_config(command: str, opts: dict[str, Any]) -> dict[str, Any]:
    """What real sam merges under the command line: ``samconfig.toml`` beside the template
    (``--config-file`` relative to the template's directory, or absolute)."""
    template = opts.get("--template-file") or opts.get("--template") or opts.get("-t")
    config_dir = Path(template).parent if template else Path.cwd()
    given = opts.get("--config-file")
    path = config_dir / (given or "samconfig.toml")
    if given and given != "samconfig.toml" and not path.is_file():
        raise Failure(f"Error: Config file {given} does not exist or could not be read!", 1)
    if not path.is_file():
        return {}
    env = opts.get("--config-env") or "default"
    document = tomllib.loads(path.read_text()).get(env, {})
    merged: dict[str, Any] = {}
    for section in ("global", command):
        merged.update(document.get(section, {}).get("parameters", {}))
    return merged


def sam(argv: list[str], scenario: dict[str, Any], state: dict[str, Any]) -> int:
    args, opts = parse(argv, SAM_FLAGS, SAM_MULTI)
    if opts.get("--version"):
        print(scenario.get("sam_version", "SAM CLI, version 1.120.0"))
        return 0
    command = args[0] if args else ""
    config = sam_config(command, opts)
    name = opts.get("--stack-name") or config.get("stack_name")
    if command == "deploy":
        resolve_s3 = opts.get("--resolve-s3") or config.get("resolve_s3")
        s3_bucket = opts.get("--s3-bucket") or config.get("s3_bucket")
        if resolve_s3 and s3_bucket and not opts.get("--guided"):
            raise Failure(
                "Error: Cannot use both --resolve-s3 and --s3-bucket parameters in non-guided "
                "deployments. Please use only one or use the --guided option for a guided "
                "deployment.",
                1,
            )
        if not name:
            raise Failure("Error: Missing option '--stack-name'", 2)
        if s3_bucket:
            _bucket(state, s3_bucket)["objects"].append(f"{opts.get('--s3-prefix')}/code.zip")
        tags = dict(t.split("=", 1) for t in opts.get("--tags") or [])
        stack = _live_stack(state, name) or _new_stack(state, name, tags)
        stack["tags"] = tags  # an update replaces the stack's tags
        render_bucket = f"{name}-renderbucket-abc123"
        state["buckets"].setdefault(render_bucket, {"tags": dict(tags), "objects": []})
        stack["resources"] = [
            {"LogicalResourceId": "RenderBucket", "PhysicalResourceId": render_bucket,
             "ResourceType": "AWS::S3::Bucket", "ResourceStatus": "CREATE_COMPLETE"},
            {"LogicalResourceId": "RenderFunction", "PhysicalResourceId": f"{name}-render",
             "ResourceType": "AWS::Lambda::Function", "ResourceStatus": "CREATE_COMPLETE"},
        ]  # fmt: skip
        if scenario.get("deploy_rolls_back"):
            stack["status"] = "ROLLBACK_COMPLETE"
            for resource in stack["resources"]:
                retained = resource["LogicalResourceId"] == "RenderBucket"
                resource["ResourceStatus"] = "DELETE_SKIPPED" if retained else "DELETE_COMPLETE"
            raise Failure(f"Error: Failed to create/update the stack: {name}, Waiter "
                          "StackCreateComplete failed: ROLLBACK_COMPLETE", 1)  # fmt: skip
        stack["outputs"] = {
            "RenderBucketName": render_bucket,
            "RenderStateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}-render",
        }
        return 0
    if command == "delete":
        stack = _live_stack(state, name)
        if scenario.get("delete_fails"):
            raise Failure(f"Error: Failed to delete the stack {name}", 1)
        if stack is not None:
            stack["status"] = "DELETE_COMPLETE"
            for resource in stack["resources"]:
                retained = resource["LogicalResourceId"] == "RenderBucket"
                resource["ResourceStatus"] = "DELETE_SKIPPED" if retained else "DELETE_COMPLETE"
        return 0
    raise Failure(f"fake sam: {command} is not faked", 2)


def main(tool: str, argv: list[str]) -> int:
    with (_dir() / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps({"tool": tool, "argv": argv, "env": {
            k: v for k, v in os.environ.items() if k.startswith("SAM_CLI")}}) + "\n")  # fmt: skip
    scenario = _load("scenario.json", {})
    joined = " ".join([tool, *argv])
    if scenario.get("hang_on") and scenario["hang_on"] in joined:
        if "start-execution" in argv:  # it reached AWS; the caller never hears back
            state = _load("state.json", None) or _initial_state(scenario)
            _, opts = parse(argv, AWS_FLAGS)
            state["running"].append(_execution_arn(opts["--name"]))
            (_dir() / "state.json").write_text(json.dumps(state))
        time.sleep(600)
    if scenario.get("block_on") and scenario["block_on"] in joined:
        (_dir() / "blocked").write_text(joined)
        while not (_dir() / "release").exists():
            time.sleep(0.05)
    if scenario.get("fail_on") and scenario["fail_on"] in joined:
        print(f"fake {tool}: failing on purpose ({scenario['fail_on']})", file=sys.stderr)
        return 1
    state = _load("state.json", None) or _initial_state(scenario)
    try:
        code = (aws if tool == "aws" else sam)(argv, scenario, state)
    except Failure as failure:
        print(str(failure), file=sys.stderr)
        code = failure.code
    (_dir() / "state.json").write_text(json.dumps(state))
    return code
