"""``hyperframes-lambda lambda emulate``: the AWS path on 127.0.0.1, as a user runs it.

The slow test starts the command as a subprocess, reads the ``export`` lines it prints, runs
the README's "Try the AWS path without AWS" commands in bash with that environment (render
with ``--wait -o``, progress, cost, estimate) and checks the video it downloaded: decoded
frame count and size, and the very bytes of a local render with the same config. Then
Ctrl-C: exit 130, the port closed, no process or temporary file left. Nothing here reaches
AWS: the only endpoint is the emulator's, on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hyperframes_lambda import cli
from hyperframes_lambda.aws import asl
from hyperframes_lambda.aws.stack import REQUIRED_OUTPUTS
from hyperframes_lambda.local import emulate
from hyperframes_lambda.media.probe import probe
from hyperframes_lambda.runner.local_render import RenderOptions, render_local

from ..conftest import EXAMPLES, ROOT
from ..pipeline_helpers import decoded

COMMAND = [str(Path(sys.executable).parent / "hyperframes-lambda"), "lambda", "emulate"]
SECTION = "Try the AWS path without AWS"


# ---- the emulator as a process ----------------------------------------------------------


@dataclass
class Running:
    proc: subprocess.Popen[str]
    env: dict[str, str]  # parsed from its export lines
    stdout: list[str]
    data_dir: Path

    def stop(self, sig: signal.Signals) -> tuple[int, str]:
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err


def user_env() -> dict[str, str]:
    """This environment without any AWS setting a developer's shell may carry."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HYPERFRAMES_STACK"))}


def start_emulator(tmp_path: Path, *extra: str) -> Running:
    data_dir = tmp_path / "emulator-data"
    proc = subprocess.Popen(
        [*COMMAND, "--port", "0", "--data-dir", str(data_dir), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**user_env(), "AWS_PROFILE": "someone-elses-profile"},  # must not matter
    )
    assert proc.stdout is not None
    lines: list[str] = []
    env: dict[str, str] = {}
    while "HYPERFRAMES_STACK" not in env:
        line = proc.stdout.readline()
        if not line:  # exited before it was ready
            _, err = proc.communicate(timeout=60)
            raise AssertionError(f"emulate exited {proc.returncode}: {err}")
        lines.append(line.rstrip("\n"))
        if match := re.fullmatch(r"export (\w+)=(\S+)", lines[-1]):
            env[match.group(1)] = match.group(2)
    return Running(proc, env, lines, data_dir)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    emulator = start_emulator(tmp_path)
    try:
        yield emulator
    finally:
        if emulator.proc.poll() is None:
            emulator.stop(signal.SIGTERM)


def processes_mentioning(text: str) -> list[str]:
    """Live processes whose command line or environment contains ``text``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or proc.name == str(os.getpid()):
            continue
        try:
            blob = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        except OSError:
            continue
        if text.encode() in blob:
            found.append(f"{proc.name}: {(proc / 'cmdline').read_bytes()[:120]!r}")
    return found


def port_open(endpoint: str) -> bool:
    host, port = endpoint.removeprefix("http://").split(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) == 0


def assert_nothing_left(emulator: Running) -> None:
    assert not port_open(emulator.env["AWS_ENDPOINT_URL"])
    assert not list(emulator.data_dir.glob("function-tmp-*")), "the function's /tmp is removed"
    assert (emulator.data_dir / "function.log").is_file(), "--data-dir keeps the log"
    assert processes_mentioning(str(emulator.data_dir)) == []


# ---- the README section -------------------------------------------------------------------


def readme_section_blocks() -> list[str]:
    """The sh blocks of the section, from README.md or wherever docs/ took it."""
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        if not page.is_file():
            continue
        text = page.read_text("utf-8")
        heading = re.search(rf"^(#+) {re.escape(SECTION)}\s*$", text, re.M)
        if heading is None:
            continue
        level = len(heading.group(1))
        rest = text[heading.end() :]
        end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
        body = rest[: end.start()] if end else rest
        return re.findall(r"```sh[^\n]*\n(.*?)```", body, re.S)
    raise AssertionError(f"no section {SECTION!r} in README.md or docs/")


def test_readme_section_starts_the_emulator_and_pastes_its_exports() -> None:
    blocks = readme_section_blocks()
    assert any("make emulate" in block for block in blocks)
    commands = next(block for block in blocks if "lambda render" in block)
    assert "lambda progress" in commands and "lambda cost" in commands


# ---- fast: the stack's shape and the failures ---------------------------------------------


def cfn_template() -> dict[str, Any]:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        return {suffix: getattr(loader, f"construct_{node.id}")(node)}

    Loader.add_multi_constructor("!", tag)
    return dict(yaml.load(asl.TEMPLATE_PATH.read_text(), Loader=Loader))


def test_the_emulated_stack_is_the_sam_templates() -> None:
    sam = cfn_template()
    params = {k: v.get("Default") for k, v in sam["Parameters"].items()}
    function = sam["Resources"]["RenderFunction"]["Properties"]
    machine = sam["Resources"]["RenderStateMachine"]["Properties"]
    ours = emulate.stack_template("demo", "bkt", "demo-render", "arn:sm", {"A": "1"})
    fn = ours["Resources"]["RenderFunction"]["Properties"]
    assert function["FunctionName"] == {"Sub": "${ProjectName}-render"}
    assert machine["Name"] == {"Sub": "${ProjectName}-render"}
    assert (fn["Handler"], fn["Runtime"]) == (function["Handler"], function["Runtime"])
    assert (fn["MemorySize"], fn["Timeout"]) == (
        params["LambdaMemoryMb"],
        params["LambdaTimeoutSec"],
    )
    assert params["MapMaxConcurrency"] == emulate.MAP_MAX_CONCURRENCY
    bucket = ours["Resources"]["RenderBucket"]
    assert bucket["DeletionPolicy"] == sam["Resources"]["RenderBucket"]["DeletionPolicy"]
    assert function["EphemeralStorage"]["Size"] == emulate.EPHEMERAL_MB
    # The template's outputs but two: AllowedOutputBuckets exists only when that parameter is
    # set (the emulator allows no other bucket), and batches are not emulated (moto's
    # startExecution.sync:2 integration needs the patches tests/aws/test_batch.py applies), so
    # `lambda render-batch` says the stack has no BatchStateMachineArn.
    assert set(ours["Outputs"]) == set(REQUIRED_OUTPUTS)
    assert set(sam["Outputs"]) == set(REQUIRED_OUTPUTS) | {
        "AllowedOutputBuckets", "BatchStateMachineArn",
    }  # fmt: skip
    assert sam["Outputs"]["AllowedOutputBuckets"]["Condition"] == "HasAllowedOutputBuckets"
    assert set(machine["DefinitionSubstitutions"]) == {
        "RenderFunctionArn", "RenderBucketName", "MapMaxConcurrency", "AllowedOutputBuckets",
    }  # fmt: skip
    # The function's environment: the template's, but the cache and /tmp are this machine's.
    template_env = set(function["Environment"]["Variables"])
    emulated = emulate.Emulator(emulate.EmulatorOptions())._function_env()
    assert template_env - set(emulated) == {
        "HYPERFRAMES_RENDER_BUCKET", "HYPERFRAMES_CACHE_DIR", "TMPDIR",
    }  # fmt: skip


def test_a_taken_port_is_one_error_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*COMMAND, "--port", str(port), "--data-dir", str(tmp_path / "d")],
            check=False, capture_output=True, text=True, env=user_env(), timeout=120,
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error [EMULATOR_UNAVAILABLE]: --port {port}: cannot listen")
    assert not list((tmp_path / "d").glob("function-tmp-*"))


def test_a_missing_package_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "awslambdaric" else real(name, *a),
    )
    assert cli.main(["lambda", "emulate", "--port", "0"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        "error [EMULATOR_UNAVAILABLE]: awslambdaric not installed; "
        "install with: pip install 'hyperframes-lambda[emulate]'"
    )


def test_outside_a_clone_it_says_where_the_definition_should_be(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(asl, "ASL_PATH", tmp_path / "sam" / "statemachine" / "render.asl.json")
    problem = emulate.missing_dependencies()
    assert problem is not None
    assert problem.startswith(f"no state machine definition at {tmp_path}/sam/statemachine/")
    assert "clone of the repository" in problem


def test_a_bad_stack_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as usage:
        cli.main(["lambda", "emulate", "--stack", "My_Stack"])
    assert usage.value.code == 2
    assert "'My_Stack': lowercase letters, digits and dashes" in capsys.readouterr().err


def test_sigterm_stops_it_cleanly(tmp_path: Path) -> None:
    emulator = start_emulator(tmp_path, "--stack", "sigterm-test")
    assert emulator.stdout[0] == "unset AWS_PROFILE AWS_SESSION_TOKEN"
    assert emulator.env["HYPERFRAMES_STACK"] == "sigterm-test"
    assert emulator.env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert port_open(emulator.env["AWS_ENDPOINT_URL"])
    workers = [p for p in processes_mentioning(str(emulator.data_dir)) if "awslambdaric" in p]
    assert len(workers) == emulate.DEFAULT_CONCURRENCY, workers
    code, err = emulator.stop(signal.SIGTERM)
    assert code == 143, err
    assert err.splitlines()[-1] == "terminated"
    assert_nothing_left(emulator)


# ---- slow: the README's commands against it ----------------------------------------------


@pytest.mark.slow
def test_the_readme_commands_render_what_a_local_render_does(
    running: Running, tmp_path: Path
) -> None:
    work = tmp_path / "user"
    work.mkdir()
    for name in ("examples", ".venv"):  # a user's clone, minus its out/
        (work / name).symlink_to(ROOT / name)
    env = {**user_env(), **running.env}
    block = next(b for b in readme_section_blocks() if "lambda render" in b)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        check=False, cwd=work, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout

    # render --wait -o: the ARN, the console URL, the summary; the estimate's range
    arn = out.splitlines()[0]
    assert arn.startswith("arn:aws:states:us-east-1:") and ":execution:hyperframes-render:" in arn
    assert "out/emulated.mp4: 120 frames in 3 chunk(s)" in out
    assert "SUCCEEDED Succeeded: 3/3 chunks" in out  # progress
    requests = re.search(r"^Lambda requests\s+(\d+)\.000 req", out, re.M)
    assert requests and requests.group(1) == "5", out  # cost: plan, 3 chunks, assemble
    assert re.search(r"^\$\d+\.\d+ - \$\d+\.\d+ for 120 frames at 320x180 in 3 chunks", out, re.M)

    video = work / "out" / "emulated.mp4"
    info = probe(video)
    assert (info.frame_count, info.width, info.height) == (120, 320, 180)
    local = tmp_path / "local.mp4"
    render_local(
        EXAMPLES / "title-card", local, RenderOptions(width=320, height=180, chunk_size=40)
    )
    frames, reference = decoded(video, 320, 180), decoded(local, 320, 180)
    assert len(frames) == len(reference) == 120
    assert all((a == b).all() for a, b in zip(frames, reference, strict=True))
    digest = hashlib.sha256(video.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(local.read_bytes()).hexdigest(), "same bytes as locally"

    # The handler really ran in the emulator's processes: their log has the invocations.
    ended = []
    for line in (running.data_dir / "function.log").read_text().splitlines():
        record = json.loads(line) if line.startswith("{") else {}
        if record.get("message") == "end":
            ended.append(record["action"])
    assert sorted(ended) == ["assemble", "plan", "renderChunk", "renderChunk", "renderChunk"]

    # cancel and resume too: an execution aborted at once, resumed to the same video.
    def lambda_cli(*args: str) -> str:
        done = subprocess.run(
            [str(work / ".venv" / "bin" / "hyperframes-lambda"), "lambda", *args],
            check=False, cwd=work, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    config = json.dumps({"width": 320, "height": 180, "chunkSize": 40})
    started = lambda_cli("render", "examples/title-card", "--config", config).splitlines()[0]
    assert lambda_cli("cancel", started).strip() == f"{started}: ABORTED"
    resumed = lambda_cli("resume", started, "--wait", "-o", "out/resumed.mp4")
    assert "out/resumed.mp4: 120 frames in 3 chunk(s)" in resumed
    assert (work / "out" / "resumed.mp4").read_bytes() == video.read_bytes()

    code, err = running.stop(signal.SIGINT)
    assert code == 130, err
    assert err.splitlines()[-1] == "interrupted"
    assert_nothing_left(running)
