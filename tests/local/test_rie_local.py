"""Issue 10, item 14: ``python -m hyperframes_lambda.rie`` on a plain install says how to
get awslambdaric, and docs/aws.md's sample-event example (plan, both chunks, assembly, the
plan's hash carried over by the script) works as written (``--local-storage``: no S3, no
credentials), on 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hyperframes_lambda.media.probe import probe

ROOT = Path(__file__).resolve().parents[2]

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


def documented_local_block() -> str:
    """docs/aws.md's --local-storage example: plan, both chunks and assembly of the sample events."""
    text = (ROOT / "docs" / "aws.md").read_text()
    block = re.search(r"```sh\n(mkdir -p local-s3.*?)```", text, re.DOTALL)
    assert block is not None, "docs/aws.md's local RIE example"
    return block[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_the_documented_sample_events_run_as_written(tmp_path: Path) -> None:
    """The block as a reader pastes it, on another port (9000 may be taken here)."""
    block = documented_local_block()
    assert "--port 9000" in block and "PLAN_HASH" in block
    script = block.replace("9000", str(free_port()))
    for name in ("examples", "sam", ".venv"):  # run from a scratch copy of the repo layout
        (tmp_path / name).symlink_to(ROOT / name)
    env = {**os.environ}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3",
                 "HYPERFRAMES_S3_ENDPOINT_URL", "HYPERFRAMES_RENDER_BUCKET"):  # fmt: skip
        env.pop(name, None)  # no credentials, no S3: the point of --local-storage
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # were S3 called anyway, it stays local
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    replies = [r for r in lines if "level" not in r and "_aws" not in r]  # not the handler's logs
    assert [r.get("errorType") for r in replies] == [None] * 4, replies
    plan, chunk0, chunk1, assembled = replies
    assert plan["PlanS3Uri"] == "s3://hyperframes-render-bucket/renders/sample/plan.tar.gz"
    assert (plan["ChunkCount"], plan["TotalFrames"]) == (2, 120)
    # The emulated function renders with the pinned build, as Lambda does (not Debian's).
    assert plan["BrowserBuild"].startswith("@sparticuz/chromium@"), plan["BrowserBuild"]
    assert (chunk0["ChunkIndex"], chunk1["ChunkIndex"]) == (0, 1)
    assert assembled["FramesEncoded"] == 120
    output = tmp_path / "local-s3" / "hyperframes-render-bucket" / "outputs" / "sample.mp4"
    assert probe(output).frame_count == 120
