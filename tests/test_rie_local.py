"""Issue 10, item 14: ``python -m hyperframes_lambda.rie`` on a plain install says how to
get awslambdaric, and the README's ``curl -d @sam/events/plan.json`` example works as
written (``--local-storage``: no S3, no credentials), on 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

BLOCK_AWSLAMBDARIC = """
import importlib.abc, sys
class _Plain(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "awslambdaric" or name.startswith("awslambdaric."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Plain())
"""


def test_missing_awslambdaric_names_the_install_command(tmp_path: Path) -> None:
    """A plain install (no awslambdaric: hidden here by a sitecustomize import hook)."""
    (tmp_path / "sitecustomize.py").write_text(BLOCK_AWSLAMBDARIC)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "src")])}
    result = subprocess.run(
        [sys.executable, "-m", "hyperframes_lambda.rie", "--port", "0"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "pip install 'hyperframes-lambda[lambda-local]'" in result.stderr
    assert "Traceback" not in result.stderr
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^lambda-local = \["awslambdaric', pyproject, re.MULTILINE)


def readme_local_block() -> list[str]:
    """The shell commands of the README's --local-storage example, in order."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(mkdir -p local-s3.*?)```", text, re.DOTALL)
    assert block is not None, "the README's local RIE example"
    return [line for line in block[1].splitlines() if line and not line.startswith("#")]


@pytest.mark.slow
def test_the_readme_curl_example_runs_as_written(tmp_path: Path) -> None:
    mkdir, tar, rie, curl = readme_local_block()
    for name in ("examples", "sam", ".venv"):  # run from a scratch copy of the repo layout
        (tmp_path / name).symlink_to(ROOT / name)
    for command in (mkdir, tar):
        subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True, timeout=60)
    assert rie.endswith(" &") and "--port 9000" in rie
    argv = rie.removesuffix(" &").replace("--port 9000", "--port 0").split()
    env = {**os.environ}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3",
                 "HYPERFRAMES_S3_ENDPOINT_URL", "HYPERFRAMES_RENDER_BUCKET"):  # fmt: skip
        env.pop(name, None)  # no credentials, no S3: the point of --local-storage
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # were S3 called anyway, it stays local
    server = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert server.stdout is not None
        ready = server.stdout.readline()
        match = re.search(r"invoke URL (http://127\.0\.0\.1:\d+\S*)", ready)
        assert match is not None, ready
        command = curl.replace(
            "http://127.0.0.1:9000/2015-03-31/functions/function/invocations", match[1]
        )
        assert command != curl and command.startswith("curl -d @sam/events/plan.json ")
        reply = subprocess.run(
            ["bash", "-c", command + " --silent --max-time 600"],
            cwd=tmp_path, capture_output=True, text=True, timeout=660, check=True,
        )  # fmt: skip
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    result = json.loads(reply.stdout)
    assert "errorType" not in result, result
    assert result["PlanS3Uri"] == "s3://hyperframes-render-bucket/renders/sample/plan.tar.gz"
    assert (result["ChunkCount"], result["TotalFrames"]) == (2, 120)
    stored = tmp_path / "local-s3" / "hyperframes-render-bucket" / "renders" / "sample"
    assert (stored / "plan.tar.gz").is_file()
