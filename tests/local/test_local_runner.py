"""``python -m hyperframes_lambda.local``: the whole state-machine flow, three ways —
the handler in worker processes with file:// storage, the same against S3 (moto), and the
real runtime interface client (awslambdaric) behind a Runtime-API server on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hyperframes_lambda.local.rie import LocalLambda
from hyperframes_lambda.runner.local_render import RenderOptions, render_local

from ..conftest import COMPOSITIONS
from ..pipeline_helpers import decoded

pytestmark = pytest.mark.slow

PROJECT = COMPOSITIONS / "known-pixels"
LOSSLESS = '{"crf": 0}'


@pytest.fixture(scope="module")
def reference_frames(tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    """A local one-chunk render (crf 0, so decoded frames compare exactly)."""
    out = tmp_path_factory.mktemp("reference") / "ref.mp4"
    render_local(PROJECT, out, RenderOptions(crf=0, chunks=1))
    return decoded(out, 320, 180)


def run_local(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hyperframes_lambda.local", *map(str, args)],
        capture_output=True, text=True, timeout=600, check=False, env={**os.environ, **(env or {})},
    )  # fmt: skip


def assert_same_frames(path: Path, reference: list[np.ndarray]) -> None:
    frames = decoded(path, 320, 180)
    assert len(frames) == len(reference) == 60
    for index, (a, b) in enumerate(zip(frames, reference, strict=True)):
        assert np.array_equal(a, b), f"frame {index} differs from the local one-chunk render"


def test_file_storage_in_worker_processes(
    tmp_path: Path, reference_frames: list[np.ndarray]
) -> None:
    out = tmp_path / "out.mp4"
    result = run_local(PROJECT, "-o", out, "--parallel", "2", "--config", LOSSLESS)
    assert result.returncode == 0, result.stderr
    assert "renderChunk" in result.stdout and "frames/s effective" in result.stdout
    assert "[renderChunk] 2/2 chunks done" in result.stderr
    assert_same_frames(out, reference_frames)


def test_s3_endpoint(
    tmp_path: Path, bucket: str, s3_endpoint: str, reference_frames: list[np.ndarray]
) -> None:
    out = tmp_path / "out.mp4"
    result = run_local(
        PROJECT, "-o", out, "--parallel", "2", "--chunk-size", "20", "--config", LOSSLESS,
        "--s3-endpoint-url", s3_endpoint, "--bucket", bucket,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"s3://{bucket}/projects/" in result.stderr
    assert "in 3 chunks" in result.stdout
    assert_same_frames(out, reference_frames)
    import boto3

    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"]]
    assert sum(k.endswith(".mp4") and "/chunks/" in k for k in keys) == 3
    assert any(k.endswith("/plan.tar.gz") for k in keys)


def test_through_awslambdaric(
    tmp_path: Path, bucket: str, s3_endpoint: str, reference_frames: list[np.ndarray]
) -> None:
    env = {
        "HYPERFRAMES_S3_ENDPOINT_URL": s3_endpoint,
        "POWERTOOLS_METRICS_NAMESPACE": "HyperFramesTest",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    }  # fmt: skip
    logs = tmp_path / "lambda.log"
    with (
        logs.open("w") as sink,
        LocalLambda(concurrency=2, env=env, stdout=sink, stderr=sink) as emulator,
    ):
        out = tmp_path / "out.mp4"
        result = run_local(
            PROJECT, "-o", out, "--parallel", "2", "--config", LOSSLESS,
            "--s3-endpoint-url", s3_endpoint, "--bucket", bucket, "--invoke-url", emulator.invoke_url,
        )  # fmt: skip
        invocations = emulator.server.invocation_count
    assert result.returncode == 0, result.stderr + logs.read_text()[-3000:]
    assert invocations == 4  # plan, 2 chunks, assemble
    assert_same_frames(out, reference_frames)
    text = logs.read_text()
    assert '"message":"start"' in text and '"action":"renderChunk"' in text  # powertools JSON logs
    assert '"FramesRendered"' in text  # EMF metrics


def test_failure_names_the_action_and_error(tmp_path: Path) -> None:
    result = run_local(COMPOSITIONS / "bad" / "throws", "-o", tmp_path / "out.mp4")
    assert result.returncode == 1
    assert "failed: plan failed [PAGE_SCRIPT_ERROR]" in result.stderr
    assert "boom: scene config missing" in result.stderr
    assert not (tmp_path / "out.mp4").exists()
